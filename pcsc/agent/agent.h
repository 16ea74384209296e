/* agent.h -- kyso-pcsc-agent internals (PCSC.md section 5). Threads:
 *  - the loop thread: libuv + lws client, the codec, timers, tokens and jobs (agent_core.c,
 *    agent_link.c). It never calls PC/SC and never holds a PIN.
 *  - backend threads (a token backend's workers): card I/O and the PIN dialogue, which runs on
 *    the worker through agent_pin_get() (agent_pin.c) and never crosses to the loop.
 * Jobs go to the backend by copy; results come back by copy through the backend's bounded
 * queue and a uv_async wake-up. */
#ifndef KYSO_AGENT_H
#define KYSO_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/card_msg.h>

#define AGENT_VERSION    "0.1.0"
#define AGENT_PIN_MAX    16
#define AGENT_TOKENS_MAX CARD_MSG_TOKENS_MAX

/* ---- PIN sources (PCSC.md 5.4): PINs never leave this process ---------------------------- */

enum agent_pin_source {
	AGENT_PIN_TTY = 1,      /* interactive, /dev/tty without echo */
	AGENT_PIN_PINENTRY = 2, /* an Assuan pinentry program: SETDESC/SETPROMPT/GETPIN */
	AGENT_PIN_FILE = 3,     /* tests only: first line of a 0600 file owned by us */
};
const char *agent_pin_source_name(enum agent_pin_source s);

/* A PIN in a fixed buffer; wiped (OPENSSL_cleanse) by whoever used it, on every path. */
struct agent_pin {
	uint8_t len;
	char digits[AGENT_PIN_MAX + 1];
};
void agent_pin_wipe(struct agent_pin *pin);

struct agent_pin_cfg {
	enum agent_pin_source source;
	char program[256]; /* pinentry */
	char file[256];    /* pin file */
	char tty[256];     /* tty: the terminal to open; empty = /dev/tty (a test names a pty) */
};

/* What the dialogue shows (PCSC.md 5.4): display text, certificate subject, hash prefix, tries
 * left and a last-try warning. */
struct agent_pin_ask {
	const char *display;
	const char *subject;
	const char *hash_hex_prefix;
	int retries_left;     /* -1 unknown */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC ms: the dialogue ends there; 0 = none */
};

enum agent_pin_rc {
	AGENT_PIN_OK = 0,
	AGENT_PIN_CANCELLED = 1, /* the user closed the dialogue: 401/4011 */
	AGENT_PIN_ERROR = 2,     /* no tty, pinentry failed, bad PIN file: 401/4011 as well */
};

/* Worker thread. Fills *pin on AGENT_PIN_OK; *pin is wiped on every other return. */
enum agent_pin_rc agent_pin_get(const struct agent_pin_cfg *cfg, const struct agent_pin_ask *ask,
                                struct agent_pin *pin);
/* The PIN file check alone (mode exactly 0600, owned by the effective user, regular file, no
 * symlink): 0 when acceptable, else -1 with a reason in why. */
int agent_pin_file_check(const char *path, char *why, size_t whylen);
/* Percent-escapes Assuan data (%, CR, LF and controls); returns false when out is too small. */
bool agent_assuan_escape(const char *in, char *out, size_t cap);

/* ---- token backends ---------------------------------------------------------------------- */

/* One token as the backend sees it. Plain copy, no pointers. */
struct agent_token {
	char token_id[CARD_MSG_ID_MAX + 1];
	char reader[CARD_MSG_READER_MAX + 1];
	char serial[CARD_MSG_ID_MAX + 1];
	char label[CARD_MSG_NAME_MAX + 1];
	char profile[CARD_MSG_NAME_MAX + 1];
	char atr[2 * 33 + 1];
	char subject[256]; /* certificate subject, for the PIN dialogue */
	uint8_t cert[CARD_MSG_CERT_MAX];
	size_t cert_len;
	char algs[4][24]; /* wire names the key offers */
	int nalgs;
	int pin_retries; /* -1 unknown */
	bool pin_blocked;
};

struct agent_job {
	uint64_t id; /* the loop's own number; the gateway's job string stays on the loop */
	char token_id[CARD_MSG_ID_MAX + 1];
	char alg[24];
	uint8_t hash[CARD_MSG_HASH_MAX];
	size_t hash_len;
	char display[CARD_MSG_DISPLAY_MAX + 1];
	uint64_t deadline_ms; /* CLOCK_MONOTONIC ms */
};

enum agent_bev_kind {
	AGENT_BEV_TOKEN_PRESENT = 1,
	AGENT_BEV_TOKEN_GONE = 2, /* token_id; also every token when the service went down */
	AGENT_BEV_JOB_TAKEN = 3,
	AGENT_BEV_JOB_PROMPT = 4,
	AGENT_BEV_JOB_DONE = 5, /* ok + sig, or code/sub and details */
};

struct agent_bev {
	enum agent_bev_kind kind;
	uint64_t job;
	struct agent_token token; /* TOKEN_PRESENT; token.token_id for GONE */
	bool ok;
	uint8_t sig[CARD_MSG_SIG_MAX]; /* ECDSA as DER */
	size_t sig_len;
	int code, sub;
	char reason[CARD_MSG_NAME_MAX + 1];
	char sw[5];
	char pcsc[11];
	int retries_left; /* -1 unknown */
	uint64_t elapsed_ms;
	uint64_t elapsed_us; /* APDU benchmark jobs */
};

typedef void agent_wake_fn(void *arg); /* any thread: uv_async_send */

/* A token backend: the card engine (PC/SC) or the test-only software token. Loop thread calls
 * submit/pop/stop; everything slow happens on the backend's own threads. */
struct agent_backend {
	const char *name;
	void *self;
	/* Starts the backend's threads. Tokens appear as TOKEN_PRESENT events. */
	int (*start)(void *self, agent_wake_fn *wake, void *wake_arg,
	             const struct agent_pin_cfg *pin);
	/* Queues a job by copy; never blocks. 0, or -1 when the queue is full (900/9005). */
	int (*submit)(void *self, const struct agent_job *job);
	bool (*pop)(void *self, struct agent_bev *ev);
	void (*stop)(void *self); /* joins the threads; wipes the queues */
	/* Optional (NULL when the backend has no card): `rounds` APDU round trips on the token's
	 * reader in one transaction, timed on the worker (PERFORMANCE.md G9); the answer is a
	 * JOB_DONE for job_id with elapsed_us. */
	int (*bench)(void *self, const char *token_id, unsigned rounds, uint64_t job_id);
};

/* agent_soft.c: a software token (key and certificate from PEM files) for tests without PC/SC:
 * PIN with 3 tries, blocked after the last, a worker thread per token. */
int agent_soft_new(struct agent_backend *be, const char *spec, char *err, size_t errlen);
#ifdef KYSO_AGENT_HAVE_CARD
/* agent_card.c: the PC/SC card engine of kyso/card.h. */
int agent_card_new(struct agent_backend *be, char *err, size_t errlen);
#endif

/* Worker helper shared by backends: sign hash with an OpenSSL key after the PIN dialogue rules
 * of PCSC.md 5.3/5.4 (deadline checked before and after the prompt). */
uint64_t agent_now_ms(void);

#endif
