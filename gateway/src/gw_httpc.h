/* gw_httpc.h -- a small asynchronous HTTP/1.1 client on the gateway's loop, for OCSP and CRL
 * fetches and the recovery webhooks. No DNS on the loop thread: host names are resolved with
 * uv_getaddrinfo (thread pool). TLS through OpenSSL memory BIOs on a uv_tcp stream; the peer is
 * verified against the request's CA file and host name. One request per connection
 * ("Connection: close"): these peers are called rarely and a pool would only add state.
 *
 * Every started request ends in exactly one call of its done function, on the loop thread,
 * also when the client is freed first (status GW_HTTPC_ECANCELLED). */
#ifndef GW_HTTPC_H
#define GW_HTTPC_H

#include <stddef.h>

#include <uv.h>

/* Negative statuses: the request failed before a complete HTTP answer arrived. */
enum {
	GW_HTTPC_EURL = -1,       /* not http:// or https://, or too long */
	GW_HTTPC_ERESOLVE = -2,   /* the host name did not resolve */
	GW_HTTPC_ECONNECT = -3,   /* connection refused or reset */
	GW_HTTPC_ETLS = -4,       /* handshake or certificate verification failed */
	GW_HTTPC_ETIMEOUT = -5,   /* timeout_ms passed */
	GW_HTTPC_ETOOBIG = -6,    /* the body is larger than max_response */
	GW_HTTPC_EPROTO = -7,     /* not a well-formed HTTP/1.x answer */
	GW_HTTPC_ECANCELLED = -8, /* the client was freed */
	GW_HTTPC_ENOMEM = -9,
	GW_HTTPC_EBUSY = -10, /* max_inflight requests already running */
};

struct gw_httpc_request {
	const char *method;       /* "GET" or "POST" */
	const char *url;          /* http[s]://host[:port]/path?query, at most 1023 bytes */
	const char *content_type; /* POST: e.g. "application/ocsp-request"; NULL for GET */
	const void *body;         /* POST body, copied by gw_httpc_start */
	size_t body_len;
	const char *header;  /* optional extra header line(s) without the final CRLF, e.g.
	                        "Authorization: Bearer x"; must not contain a bare CR or LF */
	const char *ca_file; /* https: PEM bundle the server must chain to; NULL: system store */
	unsigned timeout_ms; /* whole request; 0 means 10 000 */
	size_t max_response; /* body cap; 0 means 1 MiB */
};

/* status: the HTTP status (100..599) or a negative GW_HTTPC_E*. body is the de-chunked body,
 * valid only during the call (NULL when status < 0). */
typedef void gw_httpc_done_fn(void *arg, int status, const unsigned char *body, size_t len);

struct gw_httpc;

/* max_inflight bounds the requests running at once (further starts fail with GW_HTTPC_EBUSY). */
struct gw_httpc *gw_httpc_new(uv_loop_t *loop, int max_inflight);

/* Ends every running request with GW_HTTPC_ECANCELLED, then frees the client once its handles
 * are closed (the loop must run on). */
void gw_httpc_free(struct gw_httpc *c);

/* 0 when started (done will be called later), or a negative GW_HTTPC_E* (done is not called). */
int gw_httpc_start(struct gw_httpc *c, const struct gw_httpc_request *req, gw_httpc_done_fn *done,
                   void *arg);

int gw_httpc_inflight(const struct gw_httpc *c);
const char *gw_httpc_strerror(int status);

#endif
