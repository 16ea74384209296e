/* Unit tests of the HTTP/1.x answer parser behind gw_httpc: framing by length, chunks and EOF,
 * the bounds, and the shapes it must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_http_parse.h"

static enum gw_http_verdict
parse(const char *text, bool eof, size_t cap, struct gw_http_answer *a)
{
	static unsigned char buf[70000];
	size_t n = strlen(text);
	memcpy(buf, text, n);
	return gw_http_parse(buf, n, eof, cap, a);
}

static void
content_length_complete_and_partial(void **state)
{
	(void)state;
	struct gw_http_answer a;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 100, &a),
	                 GW_HTTP_DONE);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.body_len, 5);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false, 100, &a),
	                 GW_HTTP_MORE);
	/* The peer closed before the announced length: truncated, not a short success. */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", true, 100, &a),
	                 GW_HTTP_BAD);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Len", false, 100, &a), GW_HTTP_MORE);
}

static void
chunked_is_dechunked_in_place(void **state)
{
	(void)state;
	static unsigned char buf[256];
	const char *t = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n";
	size_t n = strlen(t);
	memcpy(buf, t, n);
	struct gw_http_answer a;
	assert_int_equal(gw_http_parse(buf, n, false, 100, &a), GW_HTTP_DONE);
	assert_int_equal(a.body_len, 11);
	assert_memory_equal(buf + a.head_len, "hello world", 11);
	/* Every prefix of a valid chunked answer is "more", never "bad". */
	memcpy(buf, t, n);
	for (size_t cut = 1; cut < n; cut++)
		assert_int_equal(gw_http_parse(buf, cut, false, 100, &a), GW_HTTP_MORE);
}

static void
eof_framing(void **state)
{
	(void)state;
	struct gw_http_answer a;
	assert_int_equal(parse("HTTP/1.0 200 ok\r\n\r\nbody", false, 100, &a), GW_HTTP_MORE);
	assert_int_equal(parse("HTTP/1.0 200 ok\r\n\r\nbody", true, 100, &a), GW_HTTP_DONE);
	assert_int_equal(a.body_len, 4);
	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n\r\n", false, 100, &a), GW_HTTP_DONE);
	assert_int_equal(a.body_len, 0);
}

static void
bounds(void **state)
{
	(void)state;
	struct gw_http_answer a;
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", false, 100, &a),
	                 GW_HTTP_TOO_BIG);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", false,
	                       100, &a),
	                 GW_HTTP_TOO_BIG);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                       "ffffffffffffffffffffff\r\n",
	                       false, 100, &a),
	                 GW_HTTP_TOO_BIG);
	static char head[GW_HTTP_HEAD_MAX + 64];
	memset(head, 'a', sizeof(head) - 1);
	memcpy(head, "HTTP/1.1 200 OK\r\nX: ", 20);
	head[sizeof(head) - 1] = '\0';
	assert_int_equal(parse(head, false, 100, &a), GW_HTTP_TOO_BIG);
}

static void
refused_shapes(void **state)
{
	(void)state;
	struct gw_http_answer a;
	const char *bad[] = {
		"NOT HTTP\r\n\r\n",
		"HTTP/2 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 600 Nope\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("case %zu\n", i);
		assert_int_equal(parse(bad[i], false, 100, &a), GW_HTTP_BAD);
	}
	/* Agreeing duplicate lengths are fine. */
	assert_int_equal(
	        parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab", false,
	              100, &a),
	        GW_HTTP_DONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(content_length_complete_and_partial),
		cmocka_unit_test(chunked_is_dechunked_in_place),
		cmocka_unit_test(eof_framing),
		cmocka_unit_test(bounds),
		cmocka_unit_test(refused_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
