/* gw_smsc_link.c against a real socket: a small SMSC on the test's own libuv loop. The link
 * connects and binds (TCP_NODELAY on), answers the SMSC's enquire_link, reassembles a PDU the
 * SMSC writes in pieces and acks the MO, reconnects with the session's back-off after the SMSC
 * drops the connection, and unbinds gracefully on drain (TELECOM.md 1.5). No database: the
 * link's node events are counted as refused, which is what the gateway does without one. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <kyso/smsc.h>

#include "gw_int.h"

struct smsc_conn {
	uv_tcp_t tcp;
	uint8_t buf[8192];
	size_t len;
	bool closed;
};

static uv_tcp_t server;
static int server_port;
static struct smsc_conn *cur;
static int accepts, binds, enquire_resps, deliver_resps, unbinds;
static uint32_t last_deliver_status = 0xffffffffu;
static uv_timer_t guard;
static bool (*until)(void);
static struct gw gw;
static int link_nodelay = -1;

static void
closed_cb(uv_handle_t *h)
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
send_bytes(const uint8_t *p, size_t n)
{
	uv_write_t *w = malloc(sizeof(*w) + n);
	uv_buf_t b;

	assert_non_null(w);
	memcpy(w + 1, p, n);
	b = uv_buf_init((char *)(w + 1), (unsigned)n);
	assert_int_equal(uv_write(w, (uv_stream_t *)&cur->tcp, &b, 1, write_done), 0);
}

static void
send_pdu(const struct smsc_pdu *p)
{
	uint8_t b[512];
	size_t n;

	assert_int_equal(smsc_pdu_encode(p, b, sizeof(b), &n), SMSC_OK);
	send_bytes(b, n);
}

static void
on_pdu(const struct smsc_pdu *p)
{
	struct smsc_pdu r;

	memset(&r, 0, sizeof(r));
	r.sequence = p->sequence;
	switch (p->command_id) {
	case SMSC_CMD_BIND_TRX:
		binds++;
		r.command_id = SMSC_CMD_BIND_TRX_RESP;
		r.system_id = "TSMSC";
		r.system_id_len = 5;
		r.has_body = true;
		send_pdu(&r);
		break;
	case SMSC_CMD_ENQUIRE_LINK_RESP:
		enquire_resps++;
		break;
	case SMSC_CMD_DELIVER_SM_RESP:
		deliver_resps++;
		last_deliver_status = p->command_status;
		break;
	case SMSC_CMD_UNBIND:
		unbinds++;
		r.command_id = SMSC_CMD_UNBIND_RESP;
		send_pdu(&r);
		break;
	default:
		break;
	}
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct smsc_conn *c = h->data;

	(void)hint;
	*b = uv_buf_init((char *)c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct smsc_conn *c = s->data;
	size_t plen;

	(void)b;
	if (n < 0) {
		c->closed = true;
		uv_close((uv_handle_t *)s, closed_cb);
		if (cur == c)
			cur = NULL;
		return;
	}
	c->len += (size_t)n;
	while (smsc_pdu_frame(c->buf, c->len, 4096, &plen) == SMSC_OK) {
		struct smsc_pdu p;

		if (smsc_pdu_decode(c->buf, plen, &p) == SMSC_OK)
			on_pdu(&p);
		memmove(c->buf, c->buf + plen, c->len - plen);
		c->len -= plen;
	}
}

static void
on_connection(uv_stream_t *srv, int status)
{
	struct smsc_conn *c = calloc(1, sizeof(*c));

	assert_int_equal(status, 0);
	assert_non_null(c);
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
	accepts++;
	cur = c;
	uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void
on_guard(uv_timer_t *t)
{
	if (until == NULL || until())
		uv_stop(t->loop);
}

/* Runs the loop until cond() holds; fails after 10 s. */
static void
run_until(bool (*cond)(void))
{
	uint64_t start = uv_now(gw.loop);

	until = cond;
	while (!cond()) {
		uv_timer_start(&guard, on_guard, 10, 10);
		uv_run(gw.loop, UV_RUN_DEFAULT);
		uv_timer_stop(&guard);
		assert_true(uv_now(gw.loop) - start < 10000);
		uv_update_time(gw.loop);
	}
}

static bool
is_bound(void)
{
	return gw.metrics.smsc_binds_up == 1;
}
static bool
is_unbound(void)
{
	return gw.metrics.smsc_binds_up == 0;
}
static bool
got_enquire_resp(void)
{
	return enquire_resps == 1;
}
static bool
got_deliver_resp(void)
{
	return deliver_resps == 1;
}
static bool
two_binds(void)
{
	return binds == 2 && gw.metrics.smsc_binds_up == 1;
}
static bool
got_unbind(void)
{
	return unbinds == 1 && cur == NULL;
}

static bool
nodelay_seen(void)
{
	/* the link's socket is the peer of ours: find it through the loop's handles */
	return link_nodelay >= 0;
}

static void
walk_cb(uv_handle_t *h, void *arg)
{
	int fd, v = 0;
	socklen_t l = sizeof(v);

	(void)arg;
	if (h->type != UV_TCP || h == (uv_handle_t *)&server ||
	    (cur && h == (uv_handle_t *)&cur->tcp))
		return;
	if (uv_fileno(h, &fd) == 0 && getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l) == 0)
		link_nodelay = v;
}

static void
test_link(void **state)
{
	static uv_loop_t loop;
	struct sockaddr_in sa;
	struct sockaddr_storage got;
	int len = sizeof(got);
	char routes[] = "/tmp/kyso-link-XXXXXX", err[256], line[256];
	int fd;

	(void)state;
	uv_loop_init(&loop);
	gw.loop = &loop;
	gw_config_defaults(&gw.cfg);
	uv_timer_init(&loop, &guard);
	uv_tcp_init(&loop, &server);
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&server, 8, on_connection), 0);
	uv_tcp_getsockname(&server, (struct sockaddr *)&got, &len);
	server_port = ntohs(((struct sockaddr_in *)&got)->sin_port);
	assert_true((fd = mkstemp(routes)) >= 0);
	snprintf(line, sizeof(line),
	         "carrier t host=127.0.0.1 port=%d system_id=gw password=pw mo_addr=8499900\n"
	         "route 84 t\n",
	         server_port);
	assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
	snprintf(gw.cfg.smsc_routes, sizeof(gw.cfg.smsc_routes), "%s", routes);
	assert_int_equal(gw_smsc_check(&gw.cfg, err, sizeof(err)), 0);
	assert_int_equal(gw_smsc_start(&gw, err, sizeof(err)), 0);
	assert_non_null(gw_smsc_channel(&gw));

	/* connect and bind */
	run_until(is_bound);
	assert_int_equal(accepts, 1);
	assert_int_equal(binds, 1);
	uv_walk(&loop, walk_cb, NULL);
	assert_true(nodelay_seen());
	assert_int_equal(link_nodelay, 1);

	/* the SMSC's enquire_link is answered */
	{
		struct smsc_pdu p = { .command_id = SMSC_CMD_ENQUIRE_LINK, .sequence = 7 };

		send_pdu(&p);
		run_until(got_enquire_resp);
	}

	/* an MO written in two pieces is reassembled and acked (unusable content: 00) */
	{
		static const uint8_t ud[] = { 0x02, 0x71, 0x00, 0x00, 0x01, 0xAA };
		struct smsc_pdu p = { .command_id = SMSC_CMD_DELIVER_SM, .sequence = 8 };
		uint8_t b[256];
		size_t n;

		p.source_addr = "84900000001";
		p.source_addr_len = 11;
		p.dest_addr = "8499900";
		p.dest_addr_len = 7;
		p.esm_class = 0x40;
		p.short_message = ud;
		p.sm_length = sizeof(ud);
		assert_int_equal(smsc_pdu_encode(&p, b, sizeof(b), &n), SMSC_OK);
		send_bytes(b, 10);
		send_bytes(b + 10, n - 10);
		run_until(got_deliver_resp);
		assert_int_equal(last_deliver_status, 0);
		assert_int_equal(gw.metrics.smsc_mos, 1);
	}

	/* the SMSC drops the connection: the link reconnects and binds again */
	uv_close((uv_handle_t *)&cur->tcp, closed_cb);
	cur = NULL;
	run_until(is_unbound);
	run_until(two_binds);
	assert_int_equal(accepts, 2);
	assert_int_equal(gw.metrics.smsc_bind_events, 2);

	/* drain: unbind, answered, closed */
	gw_smsc_drain(&gw);
	run_until(got_unbind);

	gw_smsc_stop(&gw);
	uv_close((uv_handle_t *)&server, NULL);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	unlink(routes);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
