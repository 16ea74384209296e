/* gw_http_parse.h -- the bounded HTTP/1.x response parser behind gw_httpc. Pure: bytes in, a
 * verdict out, so that unit tests and the fuzz target reach every path without a socket. */
#ifndef GW_HTTP_PARSE_H
#define GW_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

enum gw_http_verdict {
	GW_HTTP_MORE,    /* well-formed so far, the answer is not complete */
	GW_HTTP_DONE,    /* complete: status, body offsets filled in */
	GW_HTTP_BAD,     /* not a well-formed HTTP/1.x answer */
	GW_HTTP_TOO_BIG, /* head over GW_HTTP_HEAD_MAX or body over the caller's cap */
};

#define GW_HTTP_HEAD_MAX 16384

struct gw_http_answer {
	int status;      /* 100..599 */
	size_t head_len; /* bytes up to and including the blank line */
	size_t body_len; /* the body's length once de-chunked */
};

/* Parses the bytes received so far. eof: the peer closed the connection (an answer without
 * Content-Length or chunking ends there). When the verdict is GW_HTTP_DONE and the answer is
 * chunked, the body is de-chunked in place: it then starts at buf + head_len and is body_len
 * bytes long. */
enum gw_http_verdict gw_http_parse(unsigned char *buf, size_t len, bool eof, size_t body_max,
                                   struct gw_http_answer *out);

#endif
