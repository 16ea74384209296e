/* gw_httpc against real sockets: a small HTTP server on the test's own libuv loop (plain) and
 * `openssl s_server` (TLS). Asserts every way a request ends: answer, refused connection,
 * timeout, oversized and malformed answers, bad URLs, cancellation, TLS verification. */
#include <sys/wait.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "gw_httpc.h"

struct result {
	bool called;
	int calls;
	int status;
	char body[4096];
	size_t len;
};

static void
on_done(void *arg, int status, const unsigned char *body, size_t len)
{
	struct result *r = arg;
	r->called = true;
	r->calls++;
	r->status = status;
	r->len = len < sizeof(r->body) ? len : sizeof(r->body) - 1;
	if (body)
		memcpy(r->body, body, r->len);
	r->body[r->len] = '\0';
}

/* --- the scripted plain server ------------------------------------------------------------ */

struct conn {
	uv_tcp_t tcp;
	char buf[8192];
	size_t len;
	bool answered;
};

static uv_tcp_t server;
static int server_port;

static void
conn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void
send_text(struct conn *c, const char *text, size_t n)
{
	uv_write_t *w = malloc(sizeof(*w) + n);
	char *copy = (char *)(w + 1);
	memcpy(copy, text, n);
	uv_buf_t b = uv_buf_init(copy, (unsigned)n);
	uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_done);
}

static void
answer(struct conn *c)
{
	char *path = strchr(c->buf, ' ') + 1;
	if (strncmp(path, "/ok ", 4) == 0) {
		const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
		send_text(c, t, strlen(t));
	} else if (strncmp(path, "/chunked ", 9) == 0) {
		const char *t1 =
		        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
		const char *t2 = "4\r\ndefg\r\n0\r\n\r\n";
		send_text(c, t1, strlen(t1));
		send_text(c, t2, strlen(t2));
	} else if (strncmp(path, "/eof ", 5) == 0) {
		const char *t = "HTTP/1.0 404 Not Found\r\n\r\ngone";
		send_text(c, t, strlen(t));
		uv_close((uv_handle_t *)&c->tcp, conn_closed);
	} else if (strncmp(path, "/big ", 5) == 0) {
		const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n";
		send_text(c, t, strlen(t));
	} else if (strncmp(path, "/garbage ", 9) == 0) {
		const char *t = "SSH-2.0-OpenSSH\r\n\r\n";
		send_text(c, t, strlen(t));
	} else if (strncmp(path, "/echo ", 6) == 0) {
		char *body = strstr(c->buf, "\r\n\r\n") + 4;
		size_t blen = c->len - (size_t)(body - c->buf);
		char head[128];
		int n = snprintf(head, sizeof(head),
		                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", blen);
		send_text(c, head, (size_t)n);
		send_text(c, body, blen);
	} /* "/slow": never answers */
}

static void
conn_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	(void)sz;
	struct conn *c = h->data;
	*b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - 1 - c->len));
}

static void
conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	(void)b;
	struct conn *c = s->data;
	if (n < 0) {
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, conn_closed);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	char *end = strstr(c->buf, "\r\n\r\n");
	if (!end || c->answered)
		return;
	char *cl = strstr(c->buf, "Content-Length: ");
	size_t want = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
	if (c->len - (size_t)(end + 4 - c->buf) < want)
		return;
	c->answered = true;
	answer(c);
}

static void
on_conn(uv_stream_t *srv, int status)
{
	assert_int_equal(status, 0);
	struct conn *c = calloc(1, sizeof(*c));
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
	uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
}

static void
walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h == (uv_handle_t *)&server ? NULL : conn_closed);
}

static int
setup(void **state)
{
	(void)state;
	uv_tcp_init(uv_default_loop(), &server);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_bind(&server, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&server, 16, on_conn), 0);
	struct sockaddr_in got;
	int len = sizeof(got);
	uv_tcp_getsockname(&server, (struct sockaddr *)&got, &len);
	server_port = ntohs(got.sin_port);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	uv_walk(uv_default_loop(), walk_close, NULL);
	uv_run(uv_default_loop(), UV_RUN_DEFAULT);
	return 0;
}

static void
run_until(struct result *r)
{
	while (!r->called)
		uv_run(uv_default_loop(), UV_RUN_ONCE);
}

static struct result
fetch(struct gw_httpc *c, const char *method, const char *path, const char *body,
      unsigned timeout_ms, size_t cap)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", server_port, path);
	struct gw_httpc_request req = { .method = method,
		                        .url = url,
		                        .timeout_ms = timeout_ms,
		                        .max_response = cap,
		                        .body = body,
		                        .body_len = body ? strlen(body) : 0,
		                        .content_type = body ? "application/ocsp-request" : NULL };
	struct result r = { 0 };
	assert_int_equal(gw_httpc_start(c, &req, on_done, &r), 0);
	run_until(&r);
	return r;
}

static void
plain_answers(void **state)
{
	(void)state;
	struct gw_httpc *c = gw_httpc_new(uv_default_loop(), 4);
	struct result r = fetch(c, "GET", "/ok", NULL, 2000, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello");
	r = fetch(c, "GET", "/chunked", NULL, 2000, 0);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "abcdefg");
	r = fetch(c, "GET", "/eof", NULL, 2000, 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "gone");
	r = fetch(c, "POST", "/echo", "\x30\x03request", 2000, 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "\x30\x03request");
	assert_int_equal(r.calls, 1);
	gw_httpc_free(c);
}

static void
failures(void **state)
{
	(void)state;
	struct gw_httpc *c = gw_httpc_new(uv_default_loop(), 4);
	struct result r = fetch(c, "GET", "/slow", NULL, 150, 0);
	assert_int_equal(r.status, GW_HTTPC_ETIMEOUT);
	r = fetch(c, "GET", "/big", NULL, 2000, 1000);
	assert_int_equal(r.status, GW_HTTPC_ETOOBIG);
	r = fetch(c, "GET", "/garbage", NULL, 2000, 0);
	assert_int_equal(r.status, GW_HTTPC_EPROTO);

	/* A port nobody listens on: bind one, note it, close it. */
	uv_tcp_t probe;
	uv_tcp_init(uv_default_loop(), &probe);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_bind(&probe, (struct sockaddr *)&a, 0);
	struct sockaddr_in got;
	int len = sizeof(got);
	uv_tcp_getsockname(&probe, (struct sockaddr *)&got, &len);
	uv_close((uv_handle_t *)&probe, NULL);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(got.sin_port));
	struct gw_httpc_request req = { .method = "GET", .url = url, .timeout_ms = 2000 };
	struct result rr = { 0 };
	assert_int_equal(gw_httpc_start(c, &req, on_done, &rr), 0);
	run_until(&rr);
	assert_int_equal(rr.status, GW_HTTPC_ECONNECT);
	gw_httpc_free(c);
}

static void
refused_requests(void **state)
{
	(void)state;
	struct gw_httpc *c = gw_httpc_new(uv_default_loop(), 1);
	struct result r = { 0 };
	const char *urls[] = { "ftp://x/",       "http://",     "http://host:99999/",
		               "http://host:x/", "http://a b/", "http://[::1/" };
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		struct gw_httpc_request req = { .method = "GET", .url = urls[i] };
		assert_int_equal(gw_httpc_start(c, &req, on_done, &r), GW_HTTPC_EURL);
	}
	struct gw_httpc_request inject = { .method = "GET",
		                           .url = "http://127.0.0.1:1/",
		                           .header = "X: a\nEvil: b" };
	assert_int_equal(gw_httpc_start(c, &inject, on_done, &r), GW_HTTPC_EURL);
	struct gw_httpc_request put = { .method = "PUT", .url = "http://127.0.0.1:1/" };
	assert_int_equal(gw_httpc_start(c, &put, on_done, &r), GW_HTTPC_EURL);
	assert_false(r.called);

	/* The bound on requests in flight, then cancellation by free: done exactly once. */
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", server_port);
	struct gw_httpc_request slow = { .method = "GET", .url = url, .timeout_ms = 5000 };
	assert_int_equal(gw_httpc_start(c, &slow, on_done, &r), 0);
	struct result r2 = { 0 };
	assert_int_equal(gw_httpc_start(c, &slow, on_done, &r2), GW_HTTPC_EBUSY);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	gw_httpc_free(c);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, GW_HTTPC_ECANCELLED);
	assert_false(r2.called);
}

/* --- TLS through openssl s_server ---------------------------------------------------------- */

/* Runs a program with its arguments (no shell) and returns its exit status. */
static int
run(char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int
self_signed(const char *dir, const char *name, const char *cn, bool san)
{
	char key[300], crt[300], subj[64];
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	snprintf(crt, sizeof(crt), "%s/%s.pem", dir, name);
	snprintf(subj, sizeof(subj), "/CN=%s", cn);
	char *argv[] = { "openssl",
		         "req",
		         "-x509",
		         "-newkey",
		         "ec",
		         "-pkeyopt",
		         "ec_paramgen_curve:P-256",
		         "-nodes",
		         "-keyout",
		         key,
		         "-out",
		         crt,
		         "-days",
		         "1",
		         "-subj",
		         subj,
		         san ? "-addext" : NULL,
		         "subjectAltName=IP:127.0.0.1",
		         NULL };
	return run(argv);
}

static int
free_port(void)
{
	uv_tcp_t probe;
	uv_tcp_init(uv_default_loop(), &probe);
	struct sockaddr_in a;
	uv_ip4_addr("127.0.0.1", 0, &a);
	uv_tcp_bind(&probe, (struct sockaddr *)&a, 0);
	struct sockaddr_in got;
	int len = sizeof(got);
	uv_tcp_getsockname(&probe, (struct sockaddr *)&got, &len);
	uv_close((uv_handle_t *)&probe, NULL);
	uv_run(uv_default_loop(), UV_RUN_NOWAIT);
	return ntohs(got.sin_port);
}

static void
tls_verified_and_refused(void **state)
{
	(void)state;
	char dir[] = "/tmp/kyso-httpc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(self_signed(dir, "c", "127.0.0.1", true), 0);
	assert_int_equal(self_signed(dir, "other", "other", false), 0);
	int port = free_port();
	pid_t pid = fork();
	if (pid == 0) {
		char accept[16], cert[300], key[300];
		snprintf(accept, sizeof(accept), "%d", port);
		snprintf(cert, sizeof(cert), "%s/c.pem", dir);
		snprintf(key, sizeof(key), "%s/c.key", dir);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key",
		       key, "-www", "-quiet", (char *)NULL);
		_exit(127);
	}
	struct gw_httpc *c = gw_httpc_new(uv_default_loop(), 4);
	char url[64], ca[300], other[300];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
	snprintf(ca, sizeof(ca), "%s/c.pem", dir);
	snprintf(other, sizeof(other), "%s/other.pem", dir);
	struct result r = { 0 };
	for (int i = 0; i < 50; i++) { /* s_server needs a moment to listen */
		memset(&r, 0, sizeof(r));
		struct gw_httpc_request req = {
			.method = "GET", .url = url, .ca_file = ca, .timeout_ms = 2000
		};
		assert_int_equal(gw_httpc_start(c, &req, on_done, &r), 0);
		run_until(&r);
		if (r.status != GW_HTTPC_ECONNECT)
			break;
		usleep(100000);
	}
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "s_server"));

	memset(&r, 0, sizeof(r));
	struct gw_httpc_request wrong = {
		.method = "GET", .url = url, .ca_file = other, .timeout_ms = 2000
	};
	assert_int_equal(gw_httpc_start(c, &wrong, on_done, &r), 0);
	run_until(&r);
	assert_int_equal(r.status, GW_HTTPC_ETLS);
	gw_httpc_free(c);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	const char *files[] = { "c.pem", "c.key", "other.pem", "other.key" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char f[300];
		snprintf(f, sizeof(f), "%s/%s", dir, files[i]);
		unlink(f);
	}
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_answers),
		cmocka_unit_test(failures),
		cmocka_unit_test(refused_requests),
		cmocka_unit_test(tls_verified_and_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
