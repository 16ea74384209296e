/* card_msg_int.h -- helpers shared by the agent message codec's files: strict field getters
 * over jansson objects and a strict base64. Pure, any thread. */
#ifndef CARD_MSG_INT_H
#define CARD_MSG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <kyso/card_msg.h>

/* Character classes a string field may hold. */
enum msg_chars {
	MSG_CH_ID,    /* printable ASCII 0x20..0x7e */
	MSG_CH_HEX,   /* lowercase hex */
	MSG_CH_HEXUP, /* uppercase hex */
	MSG_CH_WORD,  /* [a-z0-9_-] */
	MSG_CH_CODE,  /* [A-Z0-9_] */
	MSG_CH_TEXT,  /* UTF-8 without control characters */
};

/* The parse cursor: the error and the field it names. */
struct msg_ctx {
	enum card_msg_err err;
	const char *field;
};

bool msg_fail(struct msg_ctx *c, enum card_msg_err e, const char *field);

/* Copies string field `key` into out (cap bytes incl. NUL). min/max in bytes, max_chars in
 * code points (0: no extra limit). Absent: fails with MISSING when required, else out = "". */
bool msg_get_str(struct msg_ctx *c, json_t *o, const char *key, bool required, enum msg_chars ch,
                 size_t min, size_t max, size_t max_chars, char *out, size_t cap);
/* Integer field in [min, max]; absent and optional leaves *out unchanged. */
bool msg_get_int(struct msg_ctx *c, json_t *o, const char *key, bool required, int64_t min,
                 int64_t max, int64_t *out);
/* Base64 field decoding to 1..max bytes into out (cap >= max), or into a malloc'd buffer when
 * out is NULL (*heap set). */
bool msg_get_b64(struct msg_ctx *c, json_t *o, const char *key, size_t max, uint8_t *out,
                 uint8_t **heap, size_t *len);
/* Every key of o must be in the NULL-terminated list. */
bool msg_only_keys(struct msg_ctx *c, json_t *o, const char *const *keys);

/* Strict base64 (RFC 4648 section 4, padded, no whitespace). Returns the decoded length, or -1
 * when the text is malformed or would not fit cap. */
long msg_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Encodes into a malloc'd NUL-terminated string, NULL on allocation failure. */
char *msg_b64_encode(const uint8_t *in, size_t len);

/* The tokens message: parse one `tokens` array and build it back. */
bool msg_parse_tokens(struct msg_ctx *c, json_t *o, struct card_msg *m);
json_t *msg_build_tokens(const struct card_msg *m);

#endif
