/* gw_json_pos.c -- bounded JSON pull tokenizer with line/column positions (RFC 8259).
 *
 * The input is hostile: configuration files come from operators, and the same code is fuzzed.
 * Every read goes through the cursor (p, left), every container is counted against
 * GW__JPOS_DEPTH_MAX before it opens, and nothing recurses.
 */
#include <stdio.h>
#include <string.h>

#include "gw_json_pos.h"

enum jstate {
	ST_VALUE,        /* a value: the top level, after ':' or after ',' in an array */
	ST_VALUE_OR_END, /* after '[' */
	ST_KEY,          /* after ',' in an object */
	ST_KEY_OR_END,   /* after '{' */
	ST_COMMA_OR_END, /* after a value inside a container */
	ST_DONE,         /* the top-level value is complete */
	ST_FAIL,         /* sticky */
};

static void
adv(struct gw__jpos *j, size_t n)
{
	while (n > 0 && j->left > 0) {
		unsigned char c = *j->p;

		if (c == '\n') {
			j->line++;
			j->col = 1;
		} else if ((c & 0xC0) != 0x80) {
			j->col++; /* UTF-8 continuation bytes do not start a character */
		}
		j->p++;
		j->left--;
		n--;
	}
}

static int
peek(const struct gw__jpos *j)
{
	return j->left > 0 ? *j->p : -1;
}

static enum gw__jtok
fail_at(struct gw__jpos *j, unsigned line, unsigned col, const char *msg)
{
	j->tok_line = line;
	j->tok_col = col;
	snprintf(j->err, sizeof(j->err), "%s", msg);
	j->state = ST_FAIL;
	return GW__J_ERR;
}

static enum gw__jtok
fail(struct gw__jpos *j, const char *msg)
{
	return fail_at(j, j->line, j->col, msg);
}

/* "unexpected 'x'" naming what was found, so that a message never carries raw control bytes. */
static enum gw__jtok
fail_found(struct gw__jpos *j, const char *expected)
{
	char msg[GW__JPOS_ERR_MAX];
	int c = peek(j);

	if (c < 0)
		snprintf(msg, sizeof(msg), "unexpected end of input: expected %s", expected);
	else if (c > 0x20 && c < 0x7F)
		snprintf(msg, sizeof(msg), "unexpected '%c': expected %s", c, expected);
	else
		snprintf(msg, sizeof(msg), "unexpected byte 0x%02X: expected %s", (unsigned)c,
		         expected);
	return fail(j, msg);
}

static void
skip_ws(struct gw__jpos *j)
{
	while (j->left > 0 && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		adv(j, 1);
}

void
gw__jpos_init(struct gw__jpos *j, const char *text, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->p = (const unsigned char *)text;
	j->left = text != NULL ? len : 0;
	j->line = 1;
	j->col = 1;
	j->state = ST_VALUE;
	if (len > GW__JPOS_IN_MAX)
		fail(j, "input larger than 1 MiB");
}

static void
str_put(struct gw__jpos *j, const void *b, size_t n)
{
	if (j->str_long || j->str_len + n >= sizeof(j->str)) {
		j->str_long = true; /* drop the rest: no partial character is ever kept */
		return;
	}
	memcpy(j->str + j->str_len, b, n);
	j->str_len += n;
	j->str[j->str_len] = '\0';
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 section 4), 0 if ill-formed:
 * overlong forms, surrogates and code points above U+10FFFF are refused. */
static size_t
utf8_len(const unsigned char *p, size_t left)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n, i;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static void
utf8_put(struct gw__jpos *j, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	str_put(j, b, n);
}

/* Reads "\uXXXX" at the cursor (the backslash included) into *cp. */
static bool
read_u4(struct gw__jpos *j, uint32_t *cp)
{
	uint32_t v = 0;
	size_t i;

	if (j->left < 6 || j->p[0] != '\\' || j->p[1] != 'u')
		return false;
	for (i = 2; i < 6; i++) {
		unsigned char c = j->p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return false;
	}
	adv(j, 6);
	*cp = v;
	return true;
}

/* \uXXXX, possibly a UTF-16 surrogate pair (RFC 8259 section 7), at the backslash. */
static bool
read_uescape(struct gw__jpos *j)
{
	unsigned line = j->line, col = j->col;
	uint32_t hi, lo;

	if (!read_u4(j, &hi)) {
		fail(j, "\\u needs four hex digits");
		return false;
	}
	if (hi >= 0xDC00 && hi <= 0xDFFF) {
		fail_at(j, line, col, "unpaired UTF-16 surrogate in \\u escape");
		return false;
	}
	if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (!read_u4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
			fail_at(j, line, col, "unpaired UTF-16 surrogate in \\u escape");
			return false;
		}
		hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (hi == 0) {
		fail_at(j, line, col, "\\u0000 is not allowed");
		return false;
	}
	utf8_put(j, hi);
	return true;
}

static bool
read_escape(struct gw__jpos *j)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;

	if (j->left < 2) {
		fail(j, "unterminated escape");
		return false;
	}
	if (j->p[1] == 'u')
		return read_uescape(j);
	if (j->p[1] == '\0' || (hit = strchr(from, j->p[1])) == NULL) {
		fail(j, "invalid escape");
		return false;
	}
	str_put(j, &to[hit - from], 1);
	adv(j, 2);
	return true;
}

/* A string at the opening quote; the decoded text goes to j->str. */
static bool
read_string(struct gw__jpos *j)
{
	unsigned line = j->line, col = j->col;
	size_t n;

	j->str[0] = '\0';
	j->str_len = 0;
	j->str_long = false;
	adv(j, 1);
	for (;;) {
		int c = peek(j);

		if (c < 0) {
			fail_at(j, line, col, "unterminated string");
			return false;
		}
		if (c == '"') {
			adv(j, 1);
			return true;
		}
		if (c == '\\') {
			if (!read_escape(j))
				return false;
			continue;
		}
		if (c < 0x20) {
			fail(j, "control character in string (escape it)");
			return false;
		}
		n = c < 0x80 ? 1 : utf8_len(j->p, j->left);
		if (n == 0) {
			fail(j, "invalid UTF-8 in string");
			return false;
		}
		str_put(j, j->p, n);
		adv(j, n);
	}
}

static bool
read_digits(struct gw__jpos *j, uint64_t *mag, bool *range)
{
	if (peek(j) < '0' || peek(j) > '9') {
		fail_found(j, "a digit");
		return false;
	}
	while (peek(j) >= '0' && peek(j) <= '9') {
		uint64_t d = (uint64_t)(peek(j) - '0');

		if (*mag > (UINT64_MAX - d) / 10)
			*range = true;
		else
			*mag = *mag * 10 + d;
		adv(j, 1);
	}
	return true;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
read_number(struct gw__jpos *j)
{
	uint64_t mag = 0, scratch = 0;
	bool neg = false, range = false, ignored = false;

	if (peek(j) == '-') {
		neg = true;
		adv(j, 1);
	}
	if (peek(j) == '0') {
		adv(j, 1);
		if (peek(j) >= '0' && peek(j) <= '9') {
			fail(j, "leading zeros are not allowed in numbers");
			return false;
		}
	} else if (!read_digits(j, &mag, &range)) {
		return false;
	}
	j->num_int = true;
	if (peek(j) == '.') {
		adv(j, 1);
		j->num_int = false;
		if (!read_digits(j, &scratch, &ignored))
			return false;
	}
	if (peek(j) == 'e' || peek(j) == 'E') {
		adv(j, 1);
		j->num_int = false;
		if (peek(j) == '+' || peek(j) == '-')
			adv(j, 1);
		if (!read_digits(j, &scratch, &ignored))
			return false;
	}
	if (!range && mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		range = true;
	j->num_range = range;
	if (!range)
		j->num = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return true;
}

static enum gw__jtok
after_value(struct gw__jpos *j, enum gw__jtok t)
{
	j->state = j->depth == 0 ? ST_DONE : ST_COMMA_OR_END;
	return t;
}

static enum gw__jtok
open_container(struct gw__jpos *j, unsigned char kind)
{
	if (j->depth >= GW__JPOS_DEPTH_MAX)
		return fail(j, "nested deeper than 8 levels");
	j->stack[j->depth++] = kind;
	adv(j, 1);
	j->state = kind == 'o' ? ST_KEY_OR_END : ST_VALUE_OR_END;
	return kind == 'o' ? GW__J_OBJ : GW__J_ARR;
}

static enum gw__jtok
close_container(struct gw__jpos *j)
{
	unsigned char top = j->stack[j->depth - 1];
	int c = peek(j);

	if ((top == 'o' && c != '}') || (top == 'a' && c != ']'))
		return fail_found(j, top == 'o' ? "',' or '}'" : "',' or ']'");
	j->depth--;
	adv(j, 1);
	return after_value(j, top == 'o' ? GW__J_OBJ_END : GW__J_ARR_END);
}

static enum gw__jtok
read_literal(struct gw__jpos *j)
{
	static const struct {
		const char *text;
		enum gw__jtok tok;
	} lits[] = { { "true", GW__J_TRUE }, { "false", GW__J_FALSE }, { "null", GW__J_NULL } };
	size_t i;

	for (i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
		size_t n = strlen(lits[i].text);

		if (j->left >= n && memcmp(j->p, lits[i].text, n) == 0) {
			adv(j, n);
			return after_value(j, lits[i].tok);
		}
	}
	return fail_found(j, "a value");
}

static enum gw__jtok
read_value(struct gw__jpos *j)
{
	int c = peek(j);

	if (c == '{')
		return open_container(j, 'o');
	if (c == '[')
		return open_container(j, 'a');
	if (c == '"')
		return read_string(j) ? after_value(j, GW__J_STR) : GW__J_ERR;
	if (c == '-' || (c >= '0' && c <= '9'))
		return read_number(j) ? after_value(j, GW__J_NUM) : GW__J_ERR;
	return read_literal(j);
}

static enum gw__jtok
read_key(struct gw__jpos *j)
{
	unsigned line = j->line, col = j->col;

	if (peek(j) != '"')
		return fail_found(j, "a string key");
	if (!read_string(j))
		return GW__J_ERR;
	skip_ws(j);
	if (peek(j) != ':')
		return fail_found(j, "':'");
	adv(j, 1);
	j->state = ST_VALUE;
	j->tok_line = line;
	j->tok_col = col;
	return GW__J_KEY;
}

enum gw__jtok
gw__jpos_next(struct gw__jpos *j)
{
	if (j->state == ST_FAIL)
		return GW__J_ERR;
	skip_ws(j);
	j->tok_line = j->line;
	j->tok_col = j->col;
	switch (j->state) {
	case ST_DONE:
		if (j->left == 0)
			return GW__J_EOF;
		return fail(j, "unexpected data after the top-level value");
	case ST_KEY_OR_END:
		return peek(j) == '}' ? close_container(j) : read_key(j);
	case ST_KEY:
		return read_key(j);
	case ST_VALUE_OR_END:
		return peek(j) == ']' ? close_container(j) : read_value(j);
	case ST_VALUE:
		return read_value(j);
	case ST_COMMA_OR_END:
		if (peek(j) != ',')
			return close_container(j);
		adv(j, 1);
		skip_ws(j);
		j->tok_line = j->line;
		j->tok_col = j->col;
		if (j->stack[j->depth - 1] == 'o')
			return read_key(j);
		return read_value(j);
	default:
		return fail(j, "tokenizer used after failure");
	}
}

const char *
gw__jtok_name(enum gw__jtok t)
{
	switch (t) {
	case GW__J_OBJ:
		return "an object";
	case GW__J_ARR:
		return "an array";
	case GW__J_STR:
		return "a string";
	case GW__J_NUM:
		return "a number";
	case GW__J_TRUE:
	case GW__J_FALSE:
		return "a boolean";
	case GW__J_NULL:
		return "null";
	case GW__J_KEY:
		return "a key";
	case GW__J_OBJ_END:
	case GW__J_ARR_END:
		return "the end of a container";
	case GW__J_EOF:
		return "the end of input";
	case GW__J_ERR:
		break;
	}
	return "an error";
}
