/* kyso/card.h -- PC/SC card engine: APDU transport, card profiles, token operations and the
 * worker threads that alone call PC/SC (PCSC.md §0, §2, §3, §5).
 *
 * Layers, lowest first:
 *  1. Transport: a card_xfer_fn moves one command APDU and its answer (a PC/SC handle, the
 *     in-process vcard core, or a scripted table in unit tests).
 *  2. APDU engine (card_transmit): 61xx GET RESPONSE loop, 6Cxx resend once, extended or
 *     chained framing (PCSC.md §2.1). Pure; any thread; one session per thread at a time.
 *  3. Profiles (capability flags) and operations: select, serial, certificate, PIN status,
 *     VERIFY, sign, change PIN, unblock with PUK (PCSC.md §2.2, §4).
 *  4. The engine (card_new): a monitor thread and one worker per reader, each with its own
 *     SCARDCONTEXT; jobs in, events out through bounded rings, full = CARD_E_BUSY.
 *
 * PINs: struct card_pin buffers are wiped (OPENSSL_cleanse) by every function that takes one,
 * on every path; traces never show the data of INS 20, 24 or 2C. */
#ifndef KYSO_CARD_H
#define KYSO_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CARD_MUSTCHECK __attribute__((warn_unused_result))

enum card_err { /* append only */
	CARD_OK = 0,
	CARD_E_NOMEM = 1,
	CARD_E_INVAL = 2,       /* caller's arguments (bad hash length: 900/9007) */
	CARD_E_BUSY = 3,        /* a bounded ring is full: rejected at once */
	CARD_E_TRANSPORT = 4,   /* the transport failed; raw code in the result's pcsc field */
	CARD_E_PROTO = 5,       /* the card broke the APDU rules (no SW, 61xx loop, 2nd 6Cxx) */
	CARD_E_SW = 6,          /* the card answered a status word other than 9000: see reason */
	CARD_E_REMOVED = 7,     /* card absent or pulled (209/2092) */
	CARD_E_NO_SERVICE = 8,  /* pcscd down (209/2092) */
	CARD_E_NO_READER = 9,   /* reader unknown or gone (209/2092) */
	CARD_E_RESET = 10,      /* card reset by another handle more than 5 times in a row */
	CARD_E_TOOBIG = 11,     /* answer larger than the caller's buffer or a cap */
	CARD_E_CRYPTO = 12,     /* OpenSSL failed or a signature encoding is malformed */
	CARD_E_CANCELLED = 13,  /* the PIN dialog was cancelled (401/4011) */
	CARD_E_DEADLINE = 14,   /* the job's deadline passed before the card was used */
	CARD_E_STOPPED = 15,    /* the engine is shutting down */
	CARD_E_NO_PROFILE = 16, /* no known applet on the card */
	CARD_E_ABORTED = 17     /* the job was cancelled by card_job_cancel (401/4014) */
};
const char *card_strerror(enum card_err e);

/* Why an operation failed, from the status word and the command (PCSC.md §2.3). */
enum card_reason { /* append only */
	CARD_R_NONE = 0,
	CARD_R_PIN_INCORRECT = 1, /* 63Cx x>=1 (or 6300) on VERIFY/CHANGE */
	CARD_R_PIN_BLOCKED = 2,   /* 6983 or 63C0 on VERIFY/CHANGE */
	CARD_R_PUK_INCORRECT = 3, /* 63Cx on RESET RETRY COUNTER */
	CARD_R_PUK_BLOCKED = 4,   /* 6983 or 63C0 on RESET RETRY COUNTER */
	CARD_R_SECURITY = 5,      /* 6982: re-VERIFY once, then CARD_ERROR */
	CARD_R_KEY_NOT_FOUND = 6, /* 6A88 */
	CARD_R_UNSUPPORTED_ALG = 7,
	CARD_R_WRONG_PROFILE = 8,
	CARD_R_CARD_ERROR = 9,
	CARD_R_CARD_REMOVED = 10, /* also reader gone, pcscd down */
	CARD_R_CANCELLED = 11,
	CARD_R_DEADLINE = 12,
	CARD_R_BAD_INPUT = 13,
	CARD_R_ABORTED = 14 /* gateway cancel */
};
const char *card_reason_name(enum card_reason r);

/* Reason for status word `sw` answering instruction `ins`. *retries is the count of 63Cx
 * (0 when blocked, -1 when the card gave none). */
enum card_reason card_sw_reason(uint8_t ins, uint16_t sw, int *retries);
/* ETSI TS 102 204 code and sub-code for a reason (PCSC.md §2.3): e.g. PIN_BLOCKED 402/4021. */
void card_reason_north(enum card_reason r, int *code, int *sub);
/* Reason for an engine error that carries no status word (removal, service down...). */
enum card_reason card_err_reason(enum card_err e);

/* ---- 1. transport --------------------------------------------------------------------- */

/* Sends capdu, writes the answer (data + SW1 SW2) to rapdu (capacity *rapdu_len on entry,
 * length on return). Returns CARD_OK, or CARD_E_TRANSPORT/REMOVED/NO_SERVICE/NO_READER/RESET
 * with the transport's own code in *raw (a PC/SC LONG as uint32_t). */
typedef enum card_err card_xfer_fn(void *ctx, const uint8_t *capdu, size_t capdu_len,
                                   uint8_t *rapdu, size_t *rapdu_len, uint32_t *raw);
/* One trace line per APDU, without PIN data; line is valid during the call. */
typedef void card_trace_fn(void *arg, const char *line);

/* ---- 2. APDU engine ------------------------------------------------------------------- */

#define CARD_APDU_MAX       65548 /* extended C-APDU or R-APDU with SW */
#define CARD_SHORT_RAPDU    258   /* 256 data + SW (P11: receive buffers >= 258) */
#define CARD_GETRESP_ROUNDS 16    /* bounded 61xx loop (P16) */

struct card_apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data; /* Lc bytes, may be NULL when lc == 0 */
	size_t lc;           /* 0 .. 65535 */
	size_t le;           /* 0: no Le; 1..65536 (256 = short 00, 65536 = extended 0000) */
};

/* Encodes a command APDU: short when lc <= 255 and le <= 256, else extended (only when
 * `extended` is true, else CARD_E_TOOBIG). */
enum card_err card_apdu_encode(const struct card_apdu *a, bool extended, uint8_t *out, size_t cap,
                               size_t *out_len) CARD_MUSTCHECK;
/* Splits an answer into data length and SW; fewer than 2 bytes is CARD_E_PROTO. */
enum card_err card_rapdu_parse(const uint8_t *r, size_t r_len, size_t *data_len,
                               uint16_t *sw) CARD_MUSTCHECK;

struct card_session; /* one card connection's engine state; owned by one thread */

/* Profile capability flags (PCSC.md §2.1, §2.3, P14, P15). */
#define CARD_CAP_PIN_STATUS  0x0001u /* VERIFY without data is a free status query */
#define CARD_CAP_EXTENDED    0x0002u /* extended APDUs allowed, else chaining */
#define CARD_CAP_CHAINING    0x0004u
#define CARD_CAP_DIGESTINFO  0x0008u /* RSA PSO input = DigestInfo built by the host */
#define CARD_CAP_RAW_RSA     0x0010u /* RSA PSO input = full PKCS#1 block */
#define CARD_CAP_ECDSA_RS    0x0020u /* ECDSA output r||s (converted to DER here) */
#define CARD_CAP_SERIAL_DATA 0x0040u /* GET DATA 0101 gives the serial */
#define CARD_CAP_CHANGE_PIN  0x0080u
#define CARD_CAP_UNBLOCK     0x0100u

/* A profile is the seam between the engine and one applet family: its operations (a table
 * of functions) and its capability flags. The registry holds the KYSO-PKI applet only. */
struct card_profile;                                /* static, immutable: any thread */
const struct card_profile *card_profile_kyso(void); /* KYSO-PKI v1 (PCSC.md §4) */
const char *card_profile_name(const struct card_profile *p);
unsigned card_profile_caps(const struct card_profile *p);
size_t card_profile_count(void); /* profiles in the registry, in detection order */
const struct card_profile *card_profile_at(size_t i); /* NULL past the end */

/* xfer and ctx are borrowed for the session's life. NULL on allocation failure. */
struct card_session *card_session_new(card_xfer_fn *xfer, void *ctx, const struct card_profile *p);
void card_session_free(struct card_session *s);
void card_session_set_trace(struct card_session *s, card_trace_fn *fn, void *arg);
/* The last status word seen (0 when none) and the last transport code (0 when none). */
uint16_t card_session_last_sw(const struct card_session *s);
uint32_t card_session_last_raw(const struct card_session *s);

/* Sends one command with the transport rules of PCSC.md §2.1 and returns the data (without
 * SW) in out and the final SW in *sw. CARD_OK means a SW was received (any value). */
enum card_err card_transmit(struct card_session *s, const struct card_apdu *a, uint8_t *out,
                            size_t cap, size_t *out_len, uint16_t *sw) CARD_MUSTCHECK;

/* ---- 3. operations -------------------------------------------------------------------- */

#define CARD_PIN_MAX    16
#define CARD_SERIAL_LEN 16
#define CARD_CERT_MAX   16384 /* READ BINARY cap (PCSC.md §2.2) */
#define CARD_SIG_MAX    512
#define CARD_HASH_MAX   64
#define CARD_READER_MAX 128
#define CARD_LABEL_MAX  64
#define CARD_ATR_MAX    33

/* A PIN or PUK: digits only. Wiped by every function it is passed to. */
struct card_pin {
	uint8_t len;
	char digits[CARD_PIN_MAX];
};
void card_pin_wipe(struct card_pin *pin);
/* Copies a NUL-terminated digit string (4..CARD_PIN_MAX digits); CARD_E_INVAL otherwise. */
enum card_err card_pin_set(struct card_pin *pin, const char *digits) CARD_MUSTCHECK;

enum card_alg { /* signature algorithms of PCSC.md §5.5 that the engine builds input for */
	CARD_ALG_NONE = 0,
	CARD_ALG_RSA_PKCS1_SHA256 = 1,
	CARD_ALG_RSA_PKCS1_SHA384 = 2,
	CARD_ALG_RSA_PKCS1_SHA512 = 3,
	CARD_ALG_ECDSA_P256_SHA256 = 4
};
/* Wire names (`rsa-pkcs1-sha256` ...) both ways; CARD_ALG_NONE for an unknown name. */
const char *card_alg_name(enum card_alg a);
enum card_alg card_alg_from_name(const char *name);
size_t card_alg_hash_len(enum card_alg a); /* 32, 48, 64; 0 for NONE */

enum card_key_type {
	CARD_KEY_UNKNOWN = 0,
	CARD_KEY_RSA = 1,
	CARD_KEY_EC_P256 = 2
};

/* DigestInfo for an RSA PKCS#1 v1.5 algorithm (PCSC.md §2.4); out needs 83 bytes. */
enum card_err card_digestinfo_build(enum card_alg a, const uint8_t *hash, size_t hash_len,
                                    uint8_t *out, size_t cap, size_t *out_len) CARD_MUSTCHECK;
/* ECDSA r||s (2*n bytes) to DER SEQUENCE{INTEGER r, INTEGER s} and back (n = field size). */
enum card_err card_ecdsa_rs_to_der(const uint8_t *rs, size_t rs_len, uint8_t *out, size_t cap,
                                   size_t *out_len) CARD_MUSTCHECK;
enum card_err card_ecdsa_der_to_rs(const uint8_t *der, size_t der_len, size_t n, uint8_t *out,
                                   size_t cap) CARD_MUSTCHECK;

/* Outcome details of an operation; valid after any return. */
struct card_status {
	enum card_reason reason;
	uint16_t sw;      /* 0 when there is none */
	uint32_t pcsc;    /* transport code, 0 when none */
	int retries_left; /* -1 unknown */
};

/* The operations below write *st on every return. */
/* Chooses the session's profile for the card in front of it: first the registry's profiles
 * whose ATR rule names this ATR (atr may be NULL), then the others in registry order, each
 * by SELECT of its applet; the first that answers 9000 stays selected and set on the session.
 * A failure other than a refused SELECT (transport, card gone) ends the search at once. None:
 * the session has no profile and the last SELECT's error and status are returned (CARD_E_SW,
 * reason CARD_R_WRONG_PROFILE for a card without any known applet). */
enum card_err card_profile_detect(struct card_session *s, const uint8_t *atr, size_t atr_len,
                                  struct card_status *st) CARD_MUSTCHECK;
const struct card_profile *card_session_profile(const struct card_session *s); /* or NULL */
/* SELECT of the session's profile's applet. */
enum card_err card_select(struct card_session *s, struct card_status *st) CARD_MUSTCHECK;
enum card_err card_read_serial(struct card_session *s, uint8_t serial[CARD_SERIAL_LEN],
                               struct card_status *st) CARD_MUSTCHECK;
enum card_err card_read_label(struct card_session *s, char *label, size_t cap,
                              struct card_status *st) CARD_MUSTCHECK;
/* The certificate of key 1 (DER). */
enum card_err card_read_cert(struct card_session *s, uint8_t *out, size_t cap, size_t *out_len,
                             struct card_status *st) CARD_MUSTCHECK;
/* PIN (puk=false) or PUK status query; only on profiles with CARD_CAP_PIN_STATUS.
 * *verified is true on 9000; st->retries_left holds the count. */
enum card_err card_pin_status(struct card_session *s, bool puk, bool *verified,
                              struct card_status *st) CARD_MUSTCHECK;
enum card_err card_verify(struct card_session *s, struct card_pin *pin,
                          struct card_status *st) CARD_MUSTCHECK;
/* Signs a hash with key 1: builds DigestInfo (RSA) or passes the hash (ECDSA) and returns
 * the signature (ECDSA as DER). On 6982 calls VERIFY once with *pin if pin != NULL. */
enum card_err card_sign(struct card_session *s, enum card_alg alg, const uint8_t *hash,
                        size_t hash_len, struct card_pin *pin, uint8_t *sig, size_t cap,
                        size_t *sig_len, struct card_status *st) CARD_MUSTCHECK;
enum card_err card_change_pin(struct card_session *s, struct card_pin *old_pin,
                              struct card_pin *new_pin, struct card_status *st) CARD_MUSTCHECK;
enum card_err card_unblock(struct card_session *s, struct card_pin *puk, struct card_pin *new_pin,
                           struct card_status *st) CARD_MUSTCHECK;

/* ---- 4. bounded ring (also used by the engine) ---------------------------------------- */

struct card_ring; /* fixed-size slots, mutex-guarded: any thread */
struct card_ring *card_ring_new(size_t depth, size_t slot_size);
void card_ring_free(struct card_ring *r); /* wipes every slot */
/* Copies slot_size bytes in; CARD_E_BUSY when full (never waits). */
enum card_err card_ring_push(struct card_ring *r, const void *item) CARD_MUSTCHECK;
/* Copies the oldest item out and wipes its slot; false when empty. */
bool card_ring_pop(struct card_ring *r, void *item);
size_t card_ring_count(struct card_ring *r);

/* ---- 5. the engine: monitor + workers (PC/SC) ----------------------------------------- */

struct card_engine;

enum card_job_kind {
	CARD_JOB_SIGN = 1,
	CARD_JOB_PIN_STATUS = 2,
	CARD_JOB_CHANGE_PIN = 3, /* asks CARD_ASK_PIN then CARD_ASK_NEW_PIN */
	CARD_JOB_UNBLOCK = 4,    /* asks CARD_ASK_PUK then CARD_ASK_NEW_PIN */
	CARD_JOB_BENCH = 5       /* `bench_rounds` GET DATA round trips in one transaction */
};

/* A job: plain copy, no pointers. */
struct card_job {
	uint64_t id;
	enum card_job_kind kind;
	char reader[CARD_READER_MAX];
	enum card_alg alg;
	uint8_t hash[CARD_HASH_MAX];
	size_t hash_len;
	uint64_t deadline_ms; /* CLOCK_MONOTONIC ms (card_now_ms); 0 = none */
	unsigned bench_rounds;
};

enum card_event_kind {
	CARD_EV_READER_ADDED = 1,
	CARD_EV_READER_REMOVED = 2,
	CARD_EV_TOKEN_PRESENT = 3, /* probed: serial, label, cert, key type, pin status */
	CARD_EV_TOKEN_GONE = 4,    /* card removed, or present but no known profile */
	CARD_EV_SERVICE_DOWN = 5,  /* pcscd unreachable: every token is gone */
	CARD_EV_SERVICE_UP = 6,
	CARD_EV_JOB_TAKEN = 7,  /* the reader's worker started the job */
	CARD_EV_JOB_PROMPT = 8, /* the PIN is being asked for */
	CARD_EV_JOB_DONE = 9    /* err, status, and for SIGN the signature */
};

/* An event: plain copy, no pointers. */
struct card_event {
	enum card_event_kind kind;
	uint64_t job;
	char reader[CARD_READER_MAX];
	enum card_err err;
	struct card_status status;
	uint8_t sig[CARD_SIG_MAX];
	size_t sig_len;
	uint64_t elapsed_us;
	unsigned event_counter; /* dwEventState >> 16 at the probe (PCSC.md §5.2) */
	uint8_t serial[CARD_SERIAL_LEN];
	char label[CARD_LABEL_MAX];
	uint8_t atr[CARD_ATR_MAX];
	size_t atr_len;
	const char *profile; /* static string */
	enum card_key_type key_type;
	bool pin_verified;
	int pin_retries; /* -1 unknown */
	uint8_t cert[CARD_CERT_MAX];
	size_t cert_len;
};

enum card_ask {
	CARD_ASK_PIN = 1,
	CARD_ASK_NEW_PIN = 2,
	CARD_ASK_PUK = 3
};
/* Worker thread, one dialog at a time (the engine serialises them). Fills *pin and returns
 * CARD_OK, or CARD_E_CANCELLED. retries_left is -1 when unknown; job is a copy. */
typedef enum card_err card_pin_fn(void *arg, const struct card_job *job, enum card_ask what,
                                  int retries_left, struct card_pin *pin);
/* Worker or monitor thread, after an event was queued: must be thread-safe (uv_async_send). */
typedef void card_wake_fn(void *arg);

struct card_engine_opts {
	card_wake_fn *wake;
	void *wake_arg;
	card_pin_fn *pin;
	void *pin_arg;
	card_trace_fn *trace; /* optional, called on worker threads */
	void *trace_arg;
	unsigned poll_ms;    /* SCardGetStatusChange timeout; 0 = 1000 */
	size_t events_depth; /* 0 = 64 */
};

/* Starts the monitor thread. Readers appear as CARD_EV_READER_ADDED, tokens after their probe
 * as CARD_EV_TOKEN_PRESENT. *opts is copied. NULL on failure. Loop thread. */
struct card_engine *card_new(const struct card_engine_opts *opts);
/* Stops and joins every thread (SCardCancel), wipes the rings. Loop thread. */
void card_free(struct card_engine *e);
/* Queues a job on its reader's worker (depth 4). CARD_E_BUSY when full, CARD_E_NO_READER when
 * the reader is unknown. Never blocks on PC/SC. Loop thread. */
enum card_err card_job_submit(struct card_engine *e, const struct card_job *job) CARD_MUSTCHECK;
/* Marks a job cancelled (the gateway's `cancel`). A job not yet at its PSO ends with
 * CARD_E_ABORTED (reason ABORTED, 401/4014) at its next check: before the prompt, after it, or
 * before the transaction; a job already in its transaction ends normally (a sent PSO cannot
 * be aborted). A PIN dialog in progress is the pin callback's to end. CARD_E_BUSY when
 * CARD_CANCEL_MAX cancellations are pending. Loop thread. */
#define CARD_CANCEL_MAX 32
enum card_err card_job_cancel(struct card_engine *e, uint64_t job_id) CARD_MUSTCHECK;
/* Pops the oldest event; false when none. Loop thread (after the wake callback). */
bool card_event_pop(struct card_engine *e, struct card_event *ev);
uint64_t card_now_ms(void);

#endif
