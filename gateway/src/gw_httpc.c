/* gw_httpc.c -- see gw_httpc.h. One request = getaddrinfo (thread pool) -> uv_tcp connect ->
 * optional TLS through a memory-BIO pair -> write the request -> read until gw_http_parse says
 * done -> close. Each request owns a timer for its whole life; whichever of answer, error,
 * timeout or cancel comes first calls done, the rest find the request finished. */
#include "gw_httpc.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "gw_http_parse.h"

#define URL_MAX              1023
#define HOST_MAX             255
#define DEFAULT_TIMEOUT_MS   10000u
#define DEFAULT_MAX_RESPONSE (1024u * 1024u)

struct hreq {
	struct hreq *next, *prev;
	struct gw_httpc *owner;
	gw_httpc_done_fn *done;
	void *arg;
	bool finished; /* done has been called */
	int open_handles;

	char host[HOST_MAX + 1];
	char port[8];
	bool tls;
	char *ca_file;
	size_t max_response;

	unsigned char *out; /* the request bytes, sent once connected (through TLS when tls) */
	size_t out_len;

	unsigned char *in; /* the answer received so far (decrypted) */
	size_t in_len, in_cap;

	uv_getaddrinfo_t gai;
	bool gai_running;
	uv_tcp_t tcp;
	bool tcp_open;
	uv_connect_t conn;
	uv_timer_t timer;

	SSL_CTX *ctx;
	SSL *ssl;
	BIO *net; /* our end of the BIO pair: ciphertext to send / received */
	bool request_written;
	int deferred_status; /* a failure found inside start, reported from the timer */
	bool tls_closed;     /* close_notify received: the answer ends here, as at EOF */
};

struct gw_httpc {
	uv_loop_t *loop;
	int max_inflight;
	int inflight;
	struct hreq *head;
	bool freeing;
};

struct write_req {
	uv_write_t w;
	struct hreq *r;
	unsigned char data[];
};

static void
maybe_free_client(struct gw_httpc *c)
{
	if (c->freeing && c->inflight == 0)
		free(c);
}

static void
unlink_req(struct hreq *r)
{
	struct gw_httpc *c = r->owner;
	if (r->prev)
		r->prev->next = r->next;
	else
		c->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	c->inflight--;
}

static void
release(struct hreq *r)
{
	struct gw_httpc *c = r->owner;
	unlink_req(r);
	if (r->ssl)
		SSL_free(r->ssl);
	BIO_free(r->net);
	SSL_CTX_free(r->ctx);
	free(r->ca_file);
	free(r->out);
	free(r->in);
	free(r);
	maybe_free_client(c);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct hreq *r = h->data;
	if (--r->open_handles == 0 && !r->gai_running)
		release(r);
}

/* Calls done once, then closes what is open; the request is freed after the last close. */
static void
finish(struct hreq *r, int status, const unsigned char *body, size_t len)
{
	if (r->finished)
		return;
	r->finished = true;
	r->done(r->arg, status, body, len);
	if (r->gai_running)
		uv_cancel((uv_req_t *)&r->gai); /* its callback sees finished and releases */
	uv_close((uv_handle_t *)&r->timer, on_handle_closed);
	if (r->tcp_open)
		uv_close((uv_handle_t *)&r->tcp, on_handle_closed);
}

static void
fail(struct hreq *r, int status)
{
	finish(r, status, NULL, 0);
}

static void
on_timeout(uv_timer_t *t)
{
	struct hreq *r = t->data;
	fail(r, r->deferred_status ? r->deferred_status : GW_HTTPC_ETIMEOUT);
}

/* --- sending --------------------------------------------------------------------------- */

static void
on_written(uv_write_t *w, int status)
{
	struct write_req *wr = (struct write_req *)w;
	struct hreq *r = wr->r;
	free(wr);
	if (status < 0 && status != UV_ECANCELED)
		fail(r, GW_HTTPC_ECONNECT);
}

static int
send_raw(struct hreq *r, const unsigned char *p, size_t n)
{
	struct write_req *wr = malloc(sizeof(*wr) + n);
	if (!wr)
		return GW_HTTPC_ENOMEM;
	wr->r = r;
	memcpy(wr->data, p, n);
	uv_buf_t b = uv_buf_init((char *)wr->data, (unsigned)n);
	if (uv_write(&wr->w, (uv_stream_t *)&r->tcp, &b, 1, on_written) != 0) {
		free(wr);
		return GW_HTTPC_ECONNECT;
	}
	return 0;
}

/* Moves what TLS wants to send from the BIO pair to the socket. */
static int
flush_tls(struct hreq *r)
{
	unsigned char buf[16384];
	int n;
	while ((n = BIO_read(r->net, buf, sizeof(buf))) > 0) {
		int rc = send_raw(r, buf, (size_t)n);
		if (rc)
			return rc;
	}
	return 0;
}

/* --- receiving ------------------------------------------------------------------------- */

static int
keep_bytes(struct hreq *r, const unsigned char *p, size_t n)
{
	size_t cap_max = r->max_response + GW_HTTP_HEAD_MAX + 64 * 1024; /* chunk framing slack */
	if (r->in_len + n > cap_max)
		return GW_HTTPC_ETOOBIG;
	if (r->in_len + n > r->in_cap) {
		size_t cap = r->in_cap ? r->in_cap : 4096;
		while (cap < r->in_len + n)
			cap *= 2;
		if (cap > cap_max)
			cap = cap_max;
		unsigned char *grown = realloc(r->in, cap);
		if (!grown)
			return GW_HTTPC_ENOMEM;
		r->in = grown;
		r->in_cap = cap;
	}
	memcpy(r->in + r->in_len, p, n);
	r->in_len += n;
	return 0;
}

/* Looks at what has arrived; ends the request when the answer is complete or broken. */
static void
check_answer(struct hreq *r, bool eof)
{
	struct gw_http_answer a;
	switch (gw_http_parse(r->in, r->in_len, eof, r->max_response, &a)) {
	case GW_HTTP_MORE:
		if (eof)
			fail(r, GW_HTTPC_EPROTO);
		return;
	case GW_HTTP_DONE:
		finish(r, a.status, r->in + a.head_len, a.body_len);
		return;
	case GW_HTTP_TOO_BIG:
		fail(r, GW_HTTPC_ETOOBIG);
		return;
	case GW_HTTP_BAD:
	default:
		fail(r, GW_HTTPC_EPROTO);
		return;
	}
}

static int
tls_pump(struct hreq *r)
{
	if (!SSL_is_init_finished(r->ssl)) {
		int rc = SSL_do_handshake(r->ssl);
		if (rc != 1) {
			int e = SSL_get_error(r->ssl, rc);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return GW_HTTPC_ETLS;
			return flush_tls(r);
		}
	}
	if (!r->request_written) {
		if (SSL_write(r->ssl, r->out, (int)r->out_len) != (int)r->out_len)
			return GW_HTTPC_ETLS;
		r->request_written = true;
	}
	unsigned char buf[16384];
	for (;;) {
		int n = SSL_read(r->ssl, buf, sizeof(buf));
		if (n > 0) {
			int rc = keep_bytes(r, buf, (size_t)n);
			if (rc)
				return rc;
			continue;
		}
		int e = SSL_get_error(r->ssl, n);
		if (e == SSL_ERROR_ZERO_RETURN) {
			r->tls_closed = true;
			break;
		}
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			return GW_HTTPC_ETLS;
		break;
	}
	return flush_tls(r);
}

/* The BIO pair holds about 17 KiB: feed the ciphertext in what fits, letting TLS consume. */
static int
feed_tls(struct hreq *r, const unsigned char *p, size_t n)
{
	while (n > 0) {
		int w = BIO_write(r->net, p, (int)n);
		if (w <= 0)
			return GW_HTTPC_ETLS;
		p += w;
		n -= (size_t)w;
		int rc = tls_pump(r);
		if (rc)
			return rc;
	}
	return 0;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	static char slab[65536]; /* loop thread only; consumed before the next read */
	*buf = uv_buf_init(slab, sizeof(slab));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct hreq *r = s->data;
	if (r->finished)
		return;
	bool eof = false;
	if (n < 0) {
		if (n != UV_EOF) {
			fail(r, r->ssl && !SSL_is_init_finished(r->ssl) ? GW_HTTPC_ETLS
			                                                : GW_HTTPC_ECONNECT);
			return;
		}
		eof = true;
	} else if (n > 0) {
		int rc;
		if (r->ssl) {
			rc = feed_tls(r, (const unsigned char *)buf->base, (size_t)n);
		} else {
			rc = keep_bytes(r, (const unsigned char *)buf->base, (size_t)n);
		}
		if (rc) {
			fail(r, rc);
			return;
		}
	}
	if (r->ssl && !SSL_is_init_finished(r->ssl)) {
		if (eof)
			fail(r, GW_HTTPC_ETLS);
		return;
	}
	check_answer(r, eof || r->tls_closed);
}

/* --- connecting ------------------------------------------------------------------------ */

static bool
is_ip_literal(const char *host)
{
	unsigned char tmp[16];
	return uv_inet_pton(AF_INET, host, tmp) == 0 || uv_inet_pton(AF_INET6, host, tmp) == 0;
}

static int
tls_setup(struct hreq *r)
{
	r->ctx = SSL_CTX_new(TLS_client_method());
	if (!r->ctx)
		return GW_HTTPC_ENOMEM;
	SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
	int ok = r->ca_file ? SSL_CTX_load_verify_locations(r->ctx, r->ca_file, NULL)
	                    : SSL_CTX_set_default_verify_paths(r->ctx);
	if (ok != 1)
		return GW_HTTPC_ETLS;
	r->ssl = SSL_new(r->ctx);
	BIO *inner = NULL;
	if (!r->ssl || BIO_new_bio_pair(&inner, 0, &r->net, 0) != 1)
		return GW_HTTPC_ENOMEM;
	SSL_set_bio(r->ssl, inner, inner);
	SSL_set_connect_state(r->ssl);
	X509_VERIFY_PARAM *vp = SSL_get0_param(r->ssl);
	if (is_ip_literal(r->host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, r->host) != 1)
			return GW_HTTPC_ETLS;
	} else {
		if (SSL_set_tlsext_host_name(r->ssl, r->host) != 1 ||
		    SSL_set1_host(r->ssl, r->host) != 1)
			return GW_HTTPC_ETLS;
	}
	return 0;
}

static void
on_connected(uv_connect_t *cr, int status)
{
	struct hreq *r = cr->data;
	if (r->finished)
		return;
	if (status < 0) {
		fail(r, GW_HTTPC_ECONNECT);
		return;
	}
	uv_tcp_nodelay(&r->tcp, 1);
	int rc = uv_read_start((uv_stream_t *)&r->tcp, on_alloc, on_read) ? GW_HTTPC_ECONNECT : 0;
	if (!rc)
		rc = r->tls ? tls_setup(r) : 0;
	if (!rc)
		rc = r->tls ? tls_pump(r) : send_raw(r, r->out, r->out_len);
	if (rc)
		fail(r, rc);
}

static void
on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
	struct hreq *r = g->data;
	r->gai_running = false;
	if (r->finished) {
		uv_freeaddrinfo(res);
		if (r->open_handles == 0)
			release(r);
		return;
	}
	if (status < 0 || !res) {
		uv_freeaddrinfo(res);
		fail(r, GW_HTTPC_ERESOLVE);
		return;
	}
	uv_tcp_init(r->owner->loop, &r->tcp);
	r->tcp.data = r;
	r->tcp_open = true;
	r->open_handles++;
	r->conn.data = r;
	int rc = uv_tcp_connect(&r->conn, &r->tcp, res->ai_addr, on_connected);
	uv_freeaddrinfo(res);
	if (rc < 0)
		fail(r, GW_HTTPC_ECONNECT);
}

/* --- starting -------------------------------------------------------------------------- */

/* Splits http[s]://host[:port]/path into r->host, r->port, r->tls and *path. IPv6 literals
 * come in brackets. */
static int
split_url(struct hreq *r, const char *url, const char **path)
{
	const char *p;
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		r->tls = false;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		r->tls = true;
	} else {
		return GW_HTTPC_EURL;
	}
	const char *host = p, *host_end;
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return GW_HTTPC_EURL;
		p = host_end + 1;
	} else {
		p += strcspn(p, ":/?#");
		host_end = p;
	}
	size_t hlen = (size_t)(host_end - host);
	if (hlen == 0 || hlen > HOST_MAX)
		return GW_HTTPC_EURL;
	memcpy(r->host, host, hlen);
	r->host[hlen] = '\0';
	for (size_t i = 0; i < hlen; i++)
		if ((unsigned char)r->host[i] <= ' ' || r->host[i] == '@')
			return GW_HTTPC_EURL;
	const char *port = r->tls ? "443" : "80";
	size_t plen = 0;
	if (*p == ':') {
		port = ++p;
		plen = strspn(p, "0123456789");
		long num = plen ? strtol(p, NULL, 10) : 0;
		if (plen == 0 || plen > 5 || num == 0 || num > 65535)
			return GW_HTTPC_EURL;
		p += plen;
	} else {
		plen = strlen(port);
	}
	memcpy(r->port, port, plen);
	r->port[plen] = '\0';
	if (*p && *p != '/' && *p != '?')
		return GW_HTTPC_EURL;
	*path = *p ? p : "/";
	return 0;
}

static bool
clean_line(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < ' ' && *s != '\t' && !(s[0] == '\r' && s[1] == '\n'))
			return false;
	return true;
}

static int
build_request(struct hreq *r, const struct gw_httpc_request *req, const char *path)
{
	bool post = strcmp(req->method, "POST") == 0;
	if (!post && strcmp(req->method, "GET") != 0)
		return GW_HTTPC_EURL;
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= ' ')
			return GW_HTTPC_EURL;
	if (!clean_line(req->header) || (req->content_type && !clean_line(req->content_type)) ||
	    (req->content_type && strpbrk(req->content_type, "\r\n")))
		return GW_HTTPC_EURL;
	bool v6 = strchr(r->host, ':') != NULL;
	char head[URL_MAX + 2048];
	int n = snprintf(head, sizeof(head),
	                 "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nConnection: close\r\n"
	                 "User-Agent: kyso-gateway\r\nAccept-Encoding: identity\r\n",
	                 req->method, path, v6 ? "[" : "", r->host, v6 ? "]" : "", r->port);
	if (n < 0 || (size_t)n >= sizeof(head))
		return GW_HTTPC_EURL;
	int m = 0;
	if (post)
		m = snprintf(head + n, sizeof(head) - (size_t)n,
		             "Content-Type: %s\r\nContent-Length: %zu\r\n",
		             req->content_type ? req->content_type : "application/octet-stream",
		             req->body_len);
	if (m < 0 || (size_t)(n + m) >= sizeof(head))
		return GW_HTTPC_EURL;
	n += m;
	if (req->header && *req->header) {
		m = snprintf(head + n, sizeof(head) - (size_t)n, "%s\r\n", req->header);
		if (m < 0 || (size_t)(n + m) >= sizeof(head))
			return GW_HTTPC_EURL;
		n += m;
	}
	if ((size_t)n + 2 >= sizeof(head))
		return GW_HTTPC_EURL;
	memcpy(head + n, "\r\n", 2);
	n += 2;
	size_t body = post ? req->body_len : 0;
	r->out = malloc((size_t)n + body);
	if (!r->out)
		return GW_HTTPC_ENOMEM;
	memcpy(r->out, head, (size_t)n);
	if (body)
		memcpy(r->out + n, req->body, body);
	r->out_len = (size_t)n + body;
	return 0;
}

static int
prepare(struct hreq *r, const struct gw_httpc_request *req)
{
	if (!req->url || !req->method || strlen(req->url) > URL_MAX)
		return GW_HTTPC_EURL;
	const char *path;
	int rc = split_url(r, req->url, &path);
	if (!rc)
		rc = build_request(r, req, path);
	if (!rc && req->ca_file && !(r->ca_file = strdup(req->ca_file)))
		rc = GW_HTTPC_ENOMEM;
	r->max_response = req->max_response ? req->max_response : DEFAULT_MAX_RESPONSE;
	return rc;
}

int
gw_httpc_start(struct gw_httpc *c, const struct gw_httpc_request *req, gw_httpc_done_fn *done,
               void *arg)
{
	if (c->freeing)
		return GW_HTTPC_ECANCELLED;
	if (c->inflight >= c->max_inflight)
		return GW_HTTPC_EBUSY;
	struct hreq *r = calloc(1, sizeof(*r));
	if (!r)
		return GW_HTTPC_ENOMEM;
	int rc = prepare(r, req);
	if (rc) {
		free(r->ca_file);
		free(r->out);
		free(r);
		return rc;
	}
	r->owner = c;
	r->done = done;
	r->arg = arg;
	r->next = c->head;
	if (c->head)
		c->head->prev = r;
	c->head = r;
	c->inflight++;

	uv_timer_init(c->loop, &r->timer);
	r->timer.data = r;
	r->open_handles = 1;
	uv_timer_start(&r->timer, on_timeout,
	               req->timeout_ms ? req->timeout_ms : DEFAULT_TIMEOUT_MS, 0);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	if (is_ip_literal(r->host))
		hints.ai_flags = AI_NUMERICHOST;
	r->gai.data = r;
	r->gai_running = true;
	if (uv_getaddrinfo(c->loop, &r->gai, on_resolved, r->host, r->port, &hints) != 0) {
		r->gai_running = false;
		r->deferred_status = GW_HTTPC_ERESOLVE;
		/* done is promised later, never from inside start: defer through the timer. */
		uv_timer_start(&r->timer, on_timeout, 0, 0);
	}
	return 0;
}

struct gw_httpc *
gw_httpc_new(uv_loop_t *loop, int max_inflight)
{
	struct gw_httpc *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->loop = loop;
	c->max_inflight = max_inflight > 0 ? max_inflight : 1;
	return c;
}

void
gw_httpc_free(struct gw_httpc *c)
{
	if (!c)
		return;
	c->freeing = true;
	struct hreq *r = c->head;
	while (r) {
		struct hreq *next = r->next; /* finish() only frees after the loop closes handles */
		fail(r, GW_HTTPC_ECANCELLED);
		r = next;
	}
	maybe_free_client(c);
}

int
gw_httpc_inflight(const struct gw_httpc *c)
{
	return c->inflight;
}

const char *
gw_httpc_strerror(int status)
{
	switch (status) {
	case GW_HTTPC_EURL:
		return "bad or unsupported URL or request";
	case GW_HTTPC_ERESOLVE:
		return "host name did not resolve";
	case GW_HTTPC_ECONNECT:
		return "connection failed";
	case GW_HTTPC_ETLS:
		return "TLS handshake or certificate verification failed";
	case GW_HTTPC_ETIMEOUT:
		return "timed out";
	case GW_HTTPC_ETOOBIG:
		return "answer too large";
	case GW_HTTPC_EPROTO:
		return "malformed HTTP answer";
	case GW_HTTPC_ECANCELLED:
		return "cancelled";
	case GW_HTTPC_ENOMEM:
		return "out of memory";
	case GW_HTTPC_EBUSY:
		return "too many requests in flight";
	default:
		return status >= 100 && status <= 599 ? "HTTP status" : "unknown error";
	}
}
