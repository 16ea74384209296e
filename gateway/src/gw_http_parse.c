/* gw_http_parse.c -- bounded HTTP/1.x response parsing (RFC 9112): status line, the two
 * framing headers, chunked bodies de-chunked in place. Everything else in the head is checked
 * for shape and ignored. */
#include "gw_http_parse.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#define CHUNK_LINE_MAX 1024

enum framing {
	FRAME_EOF,
	FRAME_LENGTH,
	FRAME_CHUNKED
};

struct head {
	int status;
	enum framing framing;
	uint64_t length;
};

static unsigned char *
find_crlf(unsigned char *p, const unsigned char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

static bool
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool
parse_status_line(const unsigned char *p, const unsigned char *eol, int *status)
{
	/* "HTTP/1.x SSS[ reason]" */
	if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ')
		return false;
	int s = 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		s = s * 10 + (p[i] - '0');
	}
	if (eol - p > 12 && p[12] != ' ')
		return false;
	/* 1xx answers would only come after an Expect we never send. */
	if (s < 200 || s > 599)
		return false;
	*status = s;
	return true;
}

static const unsigned char *
trim_ows(const unsigned char *p, const unsigned char **end)
{
	while (p < *end && (*p == ' ' || *p == '\t'))
		p++;
	while (*end > p && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
		(*end)--;
	return p;
}

static bool
parse_length(const unsigned char *v, const unsigned char *ve, uint64_t *out)
{
	if (v == ve || ve - v > 15)
		return false;
	uint64_t n = 0;
	for (; v < ve; v++) {
		if (*v < '0' || *v > '9')
			return false;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return true;
}

/* One header line; returns false when it is malformed or contradicts an earlier one. */
static bool
parse_header(const unsigned char *p, const unsigned char *eol, struct head *h, bool *seen_length)
{
	const unsigned char *colon = memchr(p, ':', (size_t)(eol - p));
	if (!colon || colon == p)
		return false;
	for (const unsigned char *c = p; c < colon; c++)
		if (!is_tchar(*c))
			return false;
	const unsigned char *ve = eol;
	const unsigned char *v = trim_ows(colon + 1, &ve);
	for (const unsigned char *c = v; c < ve; c++)
		if (*c < 0x20 && *c != '\t')
			return false;
	size_t nlen = (size_t)(colon - p);
	if (nlen == 14 && strncasecmp((const char *)p, "Content-Length", 14) == 0) {
		uint64_t n;
		if (!parse_length(v, ve, &n) || (*seen_length && n != h->length))
			return false;
		*seen_length = true;
		h->length = n;
		if (h->framing == FRAME_EOF)
			h->framing = FRAME_LENGTH;
	} else if (nlen == 17 && strncasecmp((const char *)p, "Transfer-Encoding", 17) == 0) {
		/* Only plain "chunked" is accepted: a client has no use for other codings. */
		if (ve - v != 7 || strncasecmp((const char *)v, "chunked", 7) != 0)
			return false;
		h->framing = FRAME_CHUNKED;
	}
	return true;
}

static enum gw_http_verdict
parse_head(unsigned char *buf, size_t head_len, struct head *h)
{
	unsigned char *end = buf + head_len - 2; /* the final CRLF */
	unsigned char *eol = find_crlf(buf, end + 2);
	if (!parse_status_line(buf, eol, &h->status))
		return GW_HTTP_BAD;
	bool seen_length = false;
	for (unsigned char *p = eol + 2; p < end; p = eol + 2) {
		eol = find_crlf(p, end + 2);
		if (!parse_header(p, eol, h, &seen_length))
			return GW_HTTP_BAD;
	}
	/* Both framings at once is how responses get smuggled: refuse. */
	if (seen_length && h->framing == FRAME_CHUNKED)
		return GW_HTTP_BAD;
	if (h->status == 204 || h->status == 304) {
		h->framing = FRAME_LENGTH;
		h->length = 0;
	}
	return GW_HTTP_DONE;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Walks a chunked body in [p, end). With compact, moves the data to dst (never ahead of the
 * read position). *total gets the de-chunked length. */
static enum gw_http_verdict
walk_chunks(unsigned char *p, unsigned char *end, bool eof, size_t body_max, bool compact,
            size_t *total)
{
	unsigned char *dst = p;
	size_t sum = 0;
	for (;;) {
		unsigned char *eol = find_crlf(p, end);
		if (!eol)
			return end - p > CHUNK_LINE_MAX ? GW_HTTP_BAD
			                                : (eof ? GW_HTTP_BAD : GW_HTTP_MORE);
		if (eol - p > CHUNK_LINE_MAX)
			return GW_HTTP_BAD;
		uint64_t size = 0;
		unsigned char *q = p;
		for (; q < eol && hexval(*q) >= 0; q++) {
			if (size > (UINT64_C(1) << 40))
				return GW_HTTP_TOO_BIG;
			size = size * 16 + (uint64_t)hexval(*q);
		}
		if (q == p || (q < eol && *q != ';' && *q != ' ' && *q != '\t'))
			return GW_HTTP_BAD;
		p = eol + 2;
		if (size == 0)
			break;
		if (size > body_max - sum)
			return GW_HTTP_TOO_BIG;
		if ((uint64_t)(end - p) < size + 2)
			return eof ? GW_HTTP_BAD : GW_HTTP_MORE;
		if (p[size] != '\r' || p[size + 1] != '\n')
			return GW_HTTP_BAD;
		if (compact)
			memmove(dst + sum, p, (size_t)size);
		sum += (size_t)size;
		p += size + 2;
	}
	/* Trailer fields, then the blank line. */
	for (;;) {
		unsigned char *eol = find_crlf(p, end);
		if (!eol)
			return end - p > CHUNK_LINE_MAX ? GW_HTTP_BAD
			                                : (eof ? GW_HTTP_BAD : GW_HTTP_MORE);
		if (eol == p)
			break;
		if (eol - p > CHUNK_LINE_MAX || !memchr(p, ':', (size_t)(eol - p)))
			return GW_HTTP_BAD;
		p = eol + 2;
	}
	*total = sum;
	return GW_HTTP_DONE;
}

enum gw_http_verdict
gw_http_parse(unsigned char *buf, size_t len, bool eof, size_t body_max, struct gw_http_answer *out)
{
	size_t scan = len < GW_HTTP_HEAD_MAX ? len : GW_HTTP_HEAD_MAX;
	unsigned char *blank = NULL;
	for (size_t i = 3; i < scan; i++) {
		if (buf[i - 3] == '\r' && buf[i - 2] == '\n' && buf[i - 1] == '\r' &&
		    buf[i] == '\n') {
			blank = buf + i + 1;
			break;
		}
	}
	if (!blank) {
		if (len >= GW_HTTP_HEAD_MAX)
			return GW_HTTP_TOO_BIG;
		return eof ? GW_HTTP_BAD : GW_HTTP_MORE;
	}
	size_t head_len = (size_t)(blank - buf);
	struct head h = { 0 };
	if (parse_head(buf, head_len, &h) != GW_HTTP_DONE)
		return GW_HTTP_BAD;
	out->status = h.status;
	out->head_len = head_len;
	size_t have = len - head_len;
	switch (h.framing) {
	case FRAME_LENGTH:
		if (h.length > body_max)
			return GW_HTTP_TOO_BIG;
		if (have < h.length)
			return eof ? GW_HTTP_BAD : GW_HTTP_MORE;
		out->body_len = (size_t)h.length;
		return GW_HTTP_DONE;
	case FRAME_CHUNKED: {
		size_t total = 0;
		enum gw_http_verdict v =
		        walk_chunks(buf + head_len, buf + len, eof, body_max, false, &total);
		if (v != GW_HTTP_DONE)
			return v;
		walk_chunks(buf + head_len, buf + len, eof, body_max, true, &total);
		out->body_len = total;
		return GW_HTTP_DONE;
	}
	case FRAME_EOF:
	default:
		if (have > body_max)
			return GW_HTTP_TOO_BIG;
		if (!eof)
			return GW_HTTP_MORE;
		out->body_len = have;
		return GW_HTTP_DONE;
	}
}
