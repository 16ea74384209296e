/* gw_json_pos.h -- a bounded pull tokenizer for JSON that knows where each token starts.
 *
 * jansson gives no positions for object keys, and the configuration must name the line and
 * column of an unknown or duplicate key (ARCHITECTURE.md section 8), so the config parser
 * reads tokens from this cursor instead. It follows RFC 8259: objects, arrays, strings with
 * every escape (\u with surrogate pairs decoded to UTF-8), numbers, true, false and null.
 * Bounds: GW__JPOS_IN_MAX bytes of input, GW__JPOS_DEPTH_MAX open containers, strings kept
 * up to GW__JPOS_STR_CAP - 1 bytes (longer ones are read to their end and flagged). It never
 * recurses and never allocates. Any thread; one struct per parse.
 */
#ifndef GW_JSON_POS_H
#define GW_JSON_POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW__JPOS_IN_MAX    (1024u * 1024u) /* the configuration file's size limit, 1 MiB */
#define GW__JPOS_DEPTH_MAX 8
#define GW__JPOS_STR_CAP   512 /* decoded bytes kept per string, NUL included */
#define GW__JPOS_ERR_MAX   96

enum gw__jtok {
	GW__J_ERR = 0, /* j->err says why, at j->tok_line:j->tok_col; every later call fails too */
	GW__J_EOF,     /* the top-level value was complete and only whitespace followed */
	GW__J_OBJ,     /* '{' */
	GW__J_OBJ_END, /* '}' */
	GW__J_ARR,     /* '[' */
	GW__J_ARR_END, /* ']' */
	GW__J_KEY,     /* a member name, already followed by its ':'; text in j->str */
	GW__J_STR,     /* text in j->str, j->str_len bytes (no NUL inside: \u0000 is refused) */
	GW__J_NUM,     /* j->num_int, j->num_range, j->num */
	GW__J_TRUE,
	GW__J_FALSE,
	GW__J_NULL,
};

struct gw__jpos {
	const unsigned char *p; /* next byte */
	size_t left;
	unsigned line, col; /* of *p, from 1; columns count characters, not bytes */
	unsigned char stack[GW__JPOS_DEPTH_MAX]; /* 'o' or 'a' per open container */
	int depth;
	int state;
	unsigned tok_line, tok_col; /* start of the last token, or where the error is */
	char str[GW__JPOS_STR_CAP];
	size_t str_len; /* bytes kept in str */
	bool str_long;  /* the string had more bytes than str holds: they were dropped */
	bool num_int;   /* no fraction and no exponent */
	bool num_range; /* num_int, but outside int64_t */
	int64_t num;    /* valid when num_int && !num_range */
	char err[GW__JPOS_ERR_MAX];
};

/* text need not be NUL-terminated; it must outlive the tokenizer. A len over GW__JPOS_IN_MAX
 * makes the first call fail. */
void gw__jpos_init(struct gw__jpos *j, const char *text, size_t len);

/* The next token. Grammar errors (a missing ',' or ':', a mismatched bracket, data after the
 * top-level value) come back as GW__J_ERR at the offending byte. */
enum gw__jtok gw__jpos_next(struct gw__jpos *j);

/* "an object", "a string", ...: for messages like "X takes an integer, not a string". */
const char *gw__jtok_name(enum gw__jtok t);

#endif
