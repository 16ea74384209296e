/* kyso/card_msg.h -- the agent message codec: every message of /v1/agent (PROTOCOL.md section 7,
 * PCSC.md section 5.6), parsed and built by the same strict, bounded rules on both ends.
 *
 * Why a second header beside kyso/card.h: the gateway links this codec but must never link the
 * PC/SC engine (no struct in the gateway may hold a PIN, ARCHITECTURE.md 2.8). A separate
 * library (kyso_cardmsg: jansson only) with its own narrow header keeps that boundary in the
 * link line instead of in a comment.
 *
 * Strict means: one JSON object, duplicate keys refused, every field of the message's table row
 * present with its type and range, no field outside the row, messages only in their direction.
 * Bounded means: the text length is checked before parsing, every string and array has a cap,
 * decoded base64 is checked against its cap before decoding.
 *
 * card_msg_build() validates with the same rules before encoding, so a peer never receives what
 * it would refuse. Pure functions, any thread. */
#ifndef KYSO_CARD_MSG_H
#define KYSO_CARD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CARD_MSG_TEXT_MAX      (256u * 1024u) /* hard cap on one message's JSON text */
#define CARD_MSG_ID_MAX        64             /* job, id, agent_id, token_id: printable ASCII */
#define CARD_MSG_TOKENS_MAX    16
#define CARD_MSG_CERTS_MAX     4
#define CARD_MSG_KEYS_MAX      8
#define CARD_MSG_CERT_MAX      16384 /* DER bytes (PCSC.md 2.2 READ BINARY cap) */
#define CARD_MSG_SIG_MAX       1024  /* RSA-8192 or a DER ECDSA signature */
#define CARD_MSG_HASH_MAX      64
#define CARD_MSG_DISPLAY_CHARS 240 /* 200 of the AP (PROTOCOL.md 3) + the verification code */
#define CARD_MSG_DISPLAY_MAX   (CARD_MSG_DISPLAY_CHARS * 4)
#define CARD_MSG_NAME_MAX      64 /* version, os, pcsc, reader label, profile, reason */
#define CARD_MSG_READER_MAX    128
#define CARD_MSG_LIST_MAX      4       /* backends, pin_sources */
#define CARD_MSG_DEADLINE_MAX  600000u /* ms; the longest transaction is 300 s */
#define CARD_MSG_RETRIES_MAX   15

enum card_msg_err { /* append only */
	CARD_MSG_OK = 0,
	CARD_MSG_E_TOOBIG = 1,    /* text over CARD_MSG_TEXT_MAX */
	CARD_MSG_E_JSON = 2,      /* not JSON, not an object, duplicate keys */
	CARD_MSG_E_TYPE = 3,      /* "type" missing or unknown */
	CARD_MSG_E_DIRECTION = 4, /* a known message that never travels this way */
	CARD_MSG_E_MISSING = 5,   /* a required field is absent */
	CARD_MSG_E_FIELD = 6,     /* a field has the wrong JSON type or an out-of-range value */
	CARD_MSG_E_UNKNOWN = 7,   /* a field outside the message's table row */
	CARD_MSG_E_LIMIT = 8,     /* too many tokens, certificates, keys or list entries */
	CARD_MSG_E_NOMEM = 9
};
const char *card_msg_strerror(enum card_msg_err e);

enum card_msg_type {
	CARD_MSG_NONE = 0,
	CARD_MSG_HELLO,  /* A->G */
	CARD_MSG_TOKENS, /* A->G */
	CARD_MSG_SIGN,   /* G->A */
	CARD_MSG_TAKEN,  /* A->G */
	CARD_MSG_PROMPT, /* A->G */
	CARD_MSG_SIGNED, /* A->G */
	CARD_MSG_FAILED, /* A->G */
	CARD_MSG_CANCEL, /* G->A */
	CARD_MSG_PING,   /* both */
	CARD_MSG_PONG    /* both */
};
const char *card_msg_type_name(enum card_msg_type t);

/* Who sent the text being parsed. */
enum card_msg_from {
	CARD_MSG_FROM_AGENT = 1,   /* the gateway parses */
	CARD_MSG_FROM_GATEWAY = 2, /* the agent parses */
};

/* The closed algorithm list of PCSC.md 5.5, in `tokens` and `sign` alike. */
bool card_msg_alg_known(const char *alg);
/* Digest length the algorithm signs (32, 48, 64), 0 for an unknown name. */
size_t card_msg_alg_hash_len(const char *alg);

struct card_msg_cert {
	uint8_t *der; /* heap, owned by the message */
	size_t len;
};

struct card_msg_key {
	char key_id[65]; /* lowercase hex SHA-256 of the certificate */
	char alg[24];
};

struct card_msg_token {
	char token_id[CARD_MSG_ID_MAX + 1];
	char reader[CARD_MSG_READER_MAX + 1];
	char serial[CARD_MSG_ID_MAX + 1]; /* printable ASCII (hex for KYSO-PKI v1) */
	int ncerts;
	struct card_msg_cert certs[CARD_MSG_CERTS_MAX];
	int nkeys;
	struct card_msg_key keys[CARD_MSG_KEYS_MAX];
	/* Optional: "" / -1 when absent. */
	char profile[CARD_MSG_NAME_MAX + 1];
	char atr[2 * 33 + 1]; /* hex */
	char label[CARD_MSG_NAME_MAX + 1];
	bool has_pin;
	char pin_state[16];   /* "ok", "verified", "blocked", "unknown" */
	int pin_retries_left; /* -1 unknown */
};

/* One message. Only the fields of its type are meaningful; optional fields absent = "" / -1 /
 * has_* false. */
struct card_msg {
	enum card_msg_type type;
	char job[CARD_MSG_ID_MAX + 1]; /* every job message */
	char id[CARD_MSG_ID_MAX + 1];  /* ping, pong */
	char time[40];                 /* ping, pong: RFC 3339 */

	/* hello */
	char agent_id[CARD_MSG_ID_MAX + 1];
	char version[CARD_MSG_NAME_MAX + 1];
	char os[CARD_MSG_NAME_MAX + 1];
	char pcsc[CARD_MSG_NAME_MAX + 1];
	int nbackends;
	char backends[CARD_MSG_LIST_MAX][17];
	int npin_sources;
	char pin_sources[CARD_MSG_LIST_MAX][17];

	/* tokens */
	uint64_t seq;
	int ntokens;
	struct card_msg_token *tokens; /* heap, ntokens entries */

	/* sign, signed */
	char key_id[65];
	char alg[24];
	uint8_t hash[CARD_MSG_HASH_MAX];
	size_t hash_len;
	char display[CARD_MSG_DISPLAY_MAX + 1];
	uint32_t deadline_ms; /* 1 .. CARD_MSG_DEADLINE_MAX, relative to receipt */
	uint8_t sig[CARD_MSG_SIG_MAX];
	size_t sig_len;
	int64_t elapsed_ms; /* -1 absent */

	/* failed */
	int code, sub; /* PROTOCOL.md 5: sub is 0 or code*10+digit */
	char reason[CARD_MSG_NAME_MAX + 1];
	char sw[5];         /* 4 uppercase hex digits, "" absent */
	char pcsc_code[11]; /* "0x" + 8 hex digits, "" absent */
	int retries_left;   /* -1 absent */
};

/* A zeroed message of the given type with every optional field marked absent. */
void card_msg_init(struct card_msg *m, enum card_msg_type type);
/* Frees what the message owns (tokens, certificates) and re-inits it as CARD_MSG_NONE. */
void card_msg_clear(struct card_msg *m);

/* Parses one message of len bytes sent by `from`. On failure *m is cleared and, when field is
 * not NULL, *field names the offending field (a static string, "" when none). */
enum card_msg_err card_msg_parse(const char *text, size_t len, enum card_msg_from from,
                                 struct card_msg *m, const char **field);

/* Validates *m as a message sent by `from` and encodes it as compact JSON: *out is malloc'd,
 * NUL-terminated, *len its length. */
enum card_msg_err card_msg_build(const struct card_msg *m, enum card_msg_from from, char **out,
                                 size_t *len, const char **field);

/* Adds a token to a tokens message (copying the certificates); CARD_MSG_E_LIMIT when full. */
enum card_msg_err card_msg_add_token(struct card_msg *m, const struct card_msg_token *t);
/* Copies one DER certificate into a token. */
enum card_msg_err card_msg_token_add_cert(struct card_msg_token *t, const uint8_t *der, size_t len);
/* Frees the certificates a token owns. */
void card_msg_token_clear(struct card_msg_token *t);

/* Lowercase hex SHA-256 of a DER certificate: the key_id of its key (PCSC.md 5.6). */
void card_msg_key_id(const uint8_t *der, size_t len, char out[65]);

#endif
