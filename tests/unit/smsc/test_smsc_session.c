/* ESME session driven by a fake clock (TELECOM.md 1.4, 1.5): bind, window full, response
 * timeout, reconnect storm bounded, throttling, DLR before resp, duplicate deliver_sm,
 * keepalive both ways, graceful and SMSC-initiated unbind, garbage from the SMSC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/smsc.h>

#include "smsc_test_util.h"

#define MAX_EV 512

struct rec {
	struct smsc_event ev[MAX_EV];
	char msgid[MAX_EV][72];
	struct smsc_dlr dlr[MAX_EV];
	size_t n;
	struct smsc_session *s;
	uint64_t now;
	bool auto_connect_fail; /* answer EV_CONNECT with a failed connect */
	uint64_t connects[256];
	size_t nconnects;
};

static void
on_event(void *arg, const struct smsc_event *ev)
{
	struct rec *r = arg;

	if (ev->kind == SMSC_EV_CONNECT && r->nconnects < 256)
		r->connects[r->nconnects++] = r->now;
	if (r->n == MAX_EV)
		return;
	r->ev[r->n] = *ev;
	if (ev->message_id != NULL)
		snprintf(r->msgid[r->n], sizeof(r->msgid[0]), "%s", ev->message_id);
	if (ev->dlr != NULL)
		r->dlr[r->n] = *ev->dlr;
	r->ev[r->n].pdu = NULL;
	r->n++;
}

static size_t
count(const struct rec *r, enum smsc_ev_kind k)
{
	size_t c = 0;

	for (size_t i = 0; i < r->n; i++)
		c += r->ev[i].kind == k;
	return c;
}

static const struct smsc_event *
last(const struct rec *r, enum smsc_ev_kind k, size_t *idx)
{
	for (size_t i = r->n; i > 0; i--)
		if (r->ev[i - 1].kind == k) {
			if (idx)
				*idx = i - 1;
			return &r->ev[i - 1];
		}
	return NULL;
}

/* Takes the next PDU the session wants to send; false when none. */
static bool
take(struct rec *r, struct smsc_pdu *p, uint8_t *buf)
{
	size_t n;
	enum smsc_err rc = smsc_session_take(r->s, buf, 4096, &n, r->now);

	if (rc == SMSC_E_SHORT)
		return false;
	assert_int_equal(rc, SMSC_OK);
	assert_int_equal(smsc_pdu_decode(buf, n, p), SMSC_OK);
	return true;
}

static void
feed_pdu(struct rec *r, const struct smsc_pdu *p)
{
	uint8_t b[1024];
	size_t n;

	assert_int_equal(smsc_pdu_encode(p, b, sizeof(b), &n), SMSC_OK);
	smsc_session_feed(r->s, b, n, r->now);
}

static void
feed_hdr(struct rec *r, uint32_t id, uint32_t status, uint32_t seq)
{
	struct smsc_pdu p;

	memset(&p, 0, sizeof(p));
	p.command_id = id;
	p.command_status = status;
	p.sequence = seq;
	feed_pdu(r, &p);
}

static void
feed_submit_resp(struct rec *r, uint32_t seq, uint32_t status, const char *id)
{
	struct smsc_pdu p;

	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_SUBMIT_SM_RESP;
	p.command_status = status;
	p.sequence = seq;
	p.message_id = id;
	p.message_id_len = id ? strlen(id) : 0;
	feed_pdu(r, &p);
}

static void
setup_cfg(struct smsc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->system_id = "gw";
	c->password = "pw";
	c->window = 3;
	c->tps = UINT32_MAX;
	c->seed = 42;
}

static void
new_session(struct rec *r, const struct smsc_config *c)
{
	memset(r, 0, sizeof(*r));
	r->now = 1000;
	assert_int_equal(smsc_session_new(c, on_event, r, &r->s), SMSC_OK);
}

/* start -> CONNECT -> connected -> bind_transceiver -> bind_resp OK -> BOUND. */
static void
bind_ok(struct rec *r)
{
	struct smsc_pdu p;
	uint8_t b[4096];

	if (smsc_session_state(r->s) == SMSC_S_IDLE && r->nconnects == 0)
		assert_int_equal(smsc_session_start(r->s, r->now), SMSC_OK);
	assert_int_equal(smsc_session_state(r->s), SMSC_S_CONNECTING);
	smsc_session_connected(r->s, r->now);
	assert_true(take(r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_BIND_TRX);
	assert_memory_equal(p.system_id, "gw", 2);
	assert_int_equal(p.interface_version, 0x34);
	feed_hdr(r, SMSC_CMD_BIND_TRX_RESP, 0, p.sequence);
	assert_int_equal(smsc_session_state(r->s), SMSC_S_BOUND);
}

static void
submit(struct rec *r, uint64_t tag)
{
	static const uint8_t sm[] = { 0x02, 0x70, 0x00, 0x00, 0x01, 0xAA };
	struct smsc_submit m = { .dest_addr = "84900000001",
		                 .source_addr = "8490999",
		                 .source_ton = 1,
		                 .source_npi = 1,
		                 .esm_class = 0x40,
		                 .protocol_id = 0x7F,
		                 .data_coding = 0xF6,
		                 .registered_delivery = 1,
		                 .validity_s = 120,
		                 .sm = sm,
		                 .sm_len = sizeof(sm) };

	assert_int_equal(smsc_session_submit(r->s, tag, &m, r->now), SMSC_OK);
}

static void
advance(struct rec *r, uint64_t ms)
{
	uint64_t end = r->now + ms;

	for (;;) {
		uint64_t d = smsc_session_next_deadline(r->s);

		if (d > end)
			break;
		if (d > r->now)
			r->now = d;
		smsc_session_tick(r->s, r->now);
		if (r->auto_connect_fail && smsc_session_state(r->s) == SMSC_S_CONNECTING)
			smsc_session_disconnected(r->s, r->now);
	}
	r->now = end;
	smsc_session_tick(r->s, r->now);
}

static void
test_bind_and_submit(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	assert_int_equal(count(&r, SMSC_EV_BOUND), 1);
	submit(&r, 77);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_SUBMIT_SM);
	assert_int_equal(p.esm_class, 0x40);
	assert_int_equal(p.data_coding, 0xF6);
	assert_int_equal(p.dest_addr_ton, 1);
	assert_memory_equal(p.validity_period, "000000000200000R", 16);
	{
		struct smsc_submit dup = { .dest_addr = "84900000001" };

		/* a tag in flight cannot be submitted again */
		assert_int_equal(smsc_session_submit(r.s, 77, &dup, r.now), SMSC_E_INVAL);
	}
	feed_submit_resp(&r, p.sequence, 0, "1A2B3C");
	assert_non_null(last(&r, SMSC_EV_SUBMIT_OK, NULL));
	assert_int_equal(last(&r, SMSC_EV_SUBMIT_OK, NULL)->tag, 77);
	smsc_session_free(r.s);
}

static void
test_window_full(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];
	uint32_t seqs[3];

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	for (uint64_t t = 1; t <= 5; t++)
		submit(&r, t);
	for (int i = 0; i < 3; i++) {
		assert_true(take(&r, &p, b));
		seqs[i] = p.sequence;
	}
	assert_false(take(&r, &p, b)); /* window of 3 is full */
	assert_int_equal(smsc_session_in_flight(r.s), 3);
	assert_int_equal(smsc_session_queued(r.s), 2);
	/* An enquire_link from the SMSC is answered even with the window full. */
	feed_hdr(&r, SMSC_CMD_ENQUIRE_LINK, 0, 900);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_ENQUIRE_LINK_RESP);
	assert_int_equal(p.sequence, 900);
	feed_submit_resp(&r, seqs[1], 0, "2");
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_SUBMIT_SM);
	assert_false(take(&r, &p, b));
	smsc_session_free(r.s);
}

static void
test_resp_timeout_requeues(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t first[4096], again[4096];
	size_t n1, n2;

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	submit(&r, 9);
	assert_int_equal(smsc_session_take(r.s, first, sizeof(first), &n1, r.now), SMSC_OK);
	advance(&r, 29999);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_BOUND);
	feed_hdr(&r, SMSC_CMD_ENQUIRE_LINK_RESP, 0, 12345); /* keeps the link from idling */
	advance(&r, 2);
	/* No submit_sm_resp in 30 s: link suspect, close, requeue. */
	assert_int_equal(smsc_session_state(r.s), SMSC_S_IDLE);
	assert_int_equal(count(&r, SMSC_EV_CLOSE), 1);
	assert_int_equal(smsc_session_queued(r.s), 1);
	assert_int_equal(count(&r, SMSC_EV_SUBMIT_FAIL), 0);
	advance(&r, 3000); /* back-off 2 s +-25 % */
	assert_int_equal(smsc_session_state(r.s), SMSC_S_CONNECTING);
	bind_ok(&r);
	assert_int_equal(smsc_session_take(r.s, again, sizeof(again), &n2, r.now), SMSC_OK);
	/* Identical bytes but for the sequence number. */
	assert_int_equal(n1, n2);
	assert_memory_equal(first, again, 12);
	assert_memory_equal(first + 16, again + 16, n1 - 16);
	assert_int_not_equal(memcmp(first + 12, again + 12, 4), 0);
	(void)p;
	smsc_session_free(r.s);
}

static void
test_reconnect_storm_bounded(void **state)
{
	struct smsc_config c;
	struct rec r;

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	r.auto_connect_fail = true;
	assert_int_equal(smsc_session_start(r.s, r.now), SMSC_OK);
	smsc_session_disconnected(r.s, r.now);
	advance(&r, 600000); /* ten minutes of refused connects */
	/* 2,4,8,16,32 s then every 60 s (+-25 %): about 14 attempts, never a storm. */
	assert_in_range(r.nconnects, 10, 18);
	for (size_t i = 1; i < r.nconnects; i++) {
		uint64_t gap = r.connects[i] - r.connects[i - 1];

		assert_true(gap >= 1500);
		assert_true(gap <= 75000);
	}
	smsc_session_free(r.s);
}

static void
test_throttle(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];
	uint32_t s1, s2;

	(void)state;
	setup_cfg(&c);
	c.tps = 10;
	new_session(&r, &c);
	bind_ok(&r);
	submit(&r, 1);
	submit(&r, 2);
	assert_true(take(&r, &p, b));
	s1 = p.sequence;
	assert_false(take(&r, &p, b)); /* one token at bind; the next comes 100 ms later */
	r.now += 100;
	assert_true(take(&r, &p, b));
	s2 = p.sequence;
	assert_int_equal(smsc_session_rate_mtps(r.s), 10000);
	feed_submit_resp(&r, s1, SMSC_ST_RTHROTTLED, NULL); /* header-only 58 */
	assert_int_equal(smsc_session_rate_mtps(r.s), 5000);
	assert_int_equal(smsc_session_queued(r.s), 1);
	assert_int_equal(count(&r, SMSC_EV_SUBMIT_FAIL), 0);
	feed_submit_resp(&r, s2, 0, "B");
	r.now += 999;
	assert_false(take(&r, &p, b)); /* paused >= 1 s */
	advance(&r, 1);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_SUBMIT_SM);
	feed_submit_resp(&r, p.sequence, 0, "A");
	assert_int_equal(last(&r, SMSC_EV_SUBMIT_OK, NULL)->tag, 1);
	/* The rate comes back +10 % per 10 s, up to the contract. */
	for (int i = 0; i < 12; i++) {
		feed_hdr(&r, SMSC_CMD_ENQUIRE_LINK_RESP, 0, 5);
		advance(&r, 10000);
	}
	assert_int_equal(smsc_session_rate_mtps(r.s), 10000);
	smsc_session_free(r.s);
}

static void
test_permanent_and_vendor(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	submit(&r, 1);
	submit(&r, 2);
	assert_true(take(&r, &p, b));
	feed_submit_resp(&r, p.sequence, 0x45, NULL);
	assert_int_equal(last(&r, SMSC_EV_SUBMIT_FAIL, NULL)->cls, SMSC_CLASS_PERMANENT);
	assert_int_equal(last(&r, SMSC_EV_SUBMIT_FAIL, NULL)->status, 0x45);
	assert_true(take(&r, &p, b));
	feed_submit_resp(&r, p.sequence, 0x4A1, NULL); /* vendor: accepted, default permanent */
	assert_int_equal(last(&r, SMSC_EV_SUBMIT_FAIL, NULL)->tag, 2);
	assert_int_equal(last(&r, SMSC_EV_SUBMIT_FAIL, NULL)->status, 0x4A1);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_BOUND);
	smsc_session_free(r.s);
}

static void
feed_dlr(struct rec *r, uint32_t seq, const char *text)
{
	struct smsc_pdu p;

	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_DELIVER_SM;
	p.sequence = seq;
	p.esm_class = 0x04;
	p.source_addr = "84900000001";
	p.source_addr_len = 11;
	p.short_message = (const uint8_t *)text;
	p.sm_length = strlen(text);
	feed_pdu(r, &p);
}

static void
test_dlr_before_resp(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];
	size_t i_ok = 0, i_dlr = 0;

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	submit(&r, 55);
	assert_true(take(&r, &p, b));
	/* The DLR, decimal id, arrives before the hex id of the resp. */
	feed_dlr(&r, 700,
	         "id:1715004 sub:001 dlvrd:001 submit date:2401011200 "
	         "done date:2401011201 stat:DELIVRD err:000 text:");
	assert_int_equal(count(&r, SMSC_EV_DLR), 0);
	{
		struct smsc_pdu a;

		assert_true(take(&r, &a, b)); /* acked at once */
		assert_int_equal(a.command_id, SMSC_CMD_DELIVER_SM_RESP);
		assert_int_equal(a.sequence, 700);
		assert_int_equal(a.command_status, 0);
	}
	r.now += 3000;
	feed_submit_resp(&r, p.sequence, 0, "1A2B3C");
	assert_non_null(last(&r, SMSC_EV_SUBMIT_OK, &i_ok));
	assert_non_null(last(&r, SMSC_EV_DLR, &i_dlr));
	assert_true(i_dlr > i_ok);
	assert_int_equal(r.ev[i_dlr].tag, 55);
	assert_int_equal(r.dlr[i_dlr].state, SMSC_MS_DELIVERED);
	/* A later DLR matches directly; an unknown id waits 10 s, then goes out untagged. */
	feed_dlr(&r, 701, "id:1715004 stat:DELIVRD");
	assert_int_equal(last(&r, SMSC_EV_DLR, NULL)->tag, 55);
	feed_dlr(&r, 702, "id:999999 stat:UNDELIV");
	assert_int_equal(count(&r, SMSC_EV_DLR), 2);
	advance(&r, 10001);
	assert_int_equal(count(&r, SMSC_EV_DLR), 3);
	assert_int_equal(last(&r, SMSC_EV_DLR, NULL)->tag, 0);
	smsc_session_free(r.s);
}

static void
feed_mo(struct rec *r, uint32_t seq)
{
	struct smsc_pdu p;
	uint8_t ud[22];
	size_t n = hex2bin("027100000e0ab0001100000000000000016132", ud, sizeof(ud));

	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_DELIVER_SM;
	p.sequence = seq;
	p.esm_class = 0x40;
	p.protocol_id = 0x7F;
	p.data_coding = 0xF6;
	p.source_addr = "84900000001";
	p.source_addr_len = 11;
	p.short_message = ud;
	p.sm_length = n;
	feed_pdu(r, &p);
}

static void
test_duplicate_deliver(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];
	const struct smsc_event *e;

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	feed_mo(&r, 31);
	e = last(&r, SMSC_EV_MO, NULL);
	assert_non_null(e);
	assert_false(e->duplicate);
	assert_int_equal(e->seq, 31);
	assert_false(take(&r, &p, b)); /* not acked until the gateway stored it */
	assert_int_equal(smsc_session_mo_ack(r.s, 31, 0, r.now), SMSC_OK);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_DELIVER_SM_RESP);
	assert_int_equal(p.sequence, 31);
	/* The SMSC redelivers (our resp was lost): acked at once, flagged duplicate. */
	feed_mo(&r, 32);
	e = last(&r, SMSC_EV_MO, NULL);
	assert_true(e->duplicate);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.sequence, 32);
	assert_int_equal(p.command_status, 0);
	smsc_session_free(r.s);
}

static void
test_mo_ack_timeout(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	feed_mo(&r, 40);
	advance(&r, 5000);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_DELIVER_SM_RESP);
	assert_int_equal(p.command_status, SMSC_ST_RX_T_APPN);
	assert_int_equal(smsc_session_mo_ack(r.s, 40, 0, r.now), SMSC_E_NOTFOUND);
	smsc_session_free(r.s);
}

static void
test_enquire_link(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	advance(&r, 30000);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_ENQUIRE_LINK);
	feed_hdr(&r, SMSC_CMD_ENQUIRE_LINK_RESP, 0, p.sequence);
	advance(&r, 30000);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_ENQUIRE_LINK);
	advance(&r, 10000); /* no answer in 10 s: reconnect */
	assert_int_equal(smsc_session_state(r.s), SMSC_S_IDLE);
	assert_int_equal(count(&r, SMSC_EV_UNBOUND), 1);
	smsc_session_free(r.s);
}

static void
test_garbage(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096], raw[64];
	size_t n;
	const char *http = "HTTP/1.1 400 Bad Request\r\n\r\n";

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	/* Unknown command id -> generic_nack 03, link up. */
	n = hex2bin("00000010 00000103 00000000 00000044", raw, sizeof(raw));
	smsc_session_feed(r.s, raw, n, r.now);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_GENERIC_NACK);
	assert_int_equal(p.command_status, SMSC_ST_RINVCMDID);
	assert_int_equal(p.sequence, 0x44);
	/* Body overrunning its length -> generic_nack 02, link up. Fed one octet at a time. */
	n = hex2bin("00000014 00000005 00000000 00000045 00 01 41 00", raw, sizeof(raw));
	for (size_t i = 0; i < n; i++)
		smsc_session_feed(r.s, raw + i, 1, r.now);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_status, SMSC_ST_RINVCMDLEN);
	assert_int_equal(p.sequence, 0x45);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_BOUND);
	/* An HTTP peer: length reads ~1.2 G -> close, never a crash. */
	smsc_session_feed(r.s, (const uint8_t *)http, strlen(http), r.now);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_IDLE);
	assert_int_equal(count(&r, SMSC_EV_ALARM), 1);
	smsc_session_free(r.s);
}

static void
test_graceful_stop(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];
	uint32_t seq;

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	submit(&r, 1);
	assert_true(take(&r, &p, b));
	seq = p.sequence;
	smsc_session_stop(r.s, r.now);
	assert_int_equal(
	        smsc_session_submit(r.s, 2, &(struct smsc_submit){ .dest_addr = "1" }, r.now),
	        SMSC_E_STATE);
	advance(&r, 10);
	assert_false(take(&r, &p, b)); /* draining: the window is not empty */
	feed_submit_resp(&r, seq, 0, "X");
	advance(&r, 1);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_UNBIND);
	feed_hdr(&r, SMSC_CMD_UNBIND_RESP, 0, p.sequence);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_CLOSED);
	assert_int_equal(count(&r, SMSC_EV_STOPPED), 1);
	assert_int_equal(count(&r, SMSC_EV_CLOSE), 1);
	smsc_session_free(r.s);
}

static void
test_smsc_unbind(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	bind_ok(&r);
	submit(&r, 1);
	assert_true(take(&r, &p, b));
	feed_hdr(&r, SMSC_CMD_UNBIND, 0, 77);
	assert_true(take(&r, &p, b));
	assert_int_equal(p.command_id, SMSC_CMD_UNBIND_RESP);
	assert_int_equal(p.sequence, 77);
	assert_false(take(&r, &p, b)); /* flushed: now it closes */
	assert_int_equal(smsc_session_state(r.s), SMSC_S_IDLE);
	assert_int_equal(smsc_session_queued(r.s), 1); /* requeued */
	advance(&r, 3000);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_CONNECTING);
	smsc_session_free(r.s);
}

static void
test_bind_refused(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_pdu p;
	uint8_t b[4096];

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	assert_int_equal(smsc_session_start(r.s, r.now), SMSC_OK);
	smsc_session_connected(r.s, r.now);
	assert_true(take(&r, &p, b));
	feed_hdr(&r, SMSC_CMD_BIND_TRX_RESP, SMSC_ST_RINVPASWD, p.sequence);
	assert_int_equal(count(&r, SMSC_EV_ALARM), 1);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_IDLE);
	/* Credentials refused: no retry before 10 s (-25 % jitter). */
	advance(&r, 7400);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_IDLE);
	advance(&r, 6000);
	assert_int_equal(smsc_session_state(r.s), SMSC_S_CONNECTING);
	smsc_session_free(r.s);
}

static void
test_queue_deadline(void **state)
{
	struct smsc_config c;
	struct rec r;
	struct smsc_submit m = { .dest_addr = "84900000001",
		                 .sm = (const uint8_t *)"x",
		                 .sm_len = 1 };

	(void)state;
	setup_cfg(&c);
	new_session(&r, &c);
	m.deadline_ms = r.now + 5000;
	assert_int_equal(smsc_session_submit(r.s, 3, &m, r.now), SMSC_OK); /* never bound */
	advance(&r, 5000);
	assert_int_equal(last(&r, SMSC_EV_SUBMIT_FAIL, NULL)->tag, 3);
	assert_int_equal(smsc_session_queued(r.s), 0);
	smsc_session_free(r.s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind_and_submit),
		cmocka_unit_test(test_window_full),
		cmocka_unit_test(test_resp_timeout_requeues),
		cmocka_unit_test(test_reconnect_storm_bounded),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_permanent_and_vendor),
		cmocka_unit_test(test_dlr_before_resp),
		cmocka_unit_test(test_duplicate_deliver),
		cmocka_unit_test(test_mo_ack_timeout),
		cmocka_unit_test(test_enquire_link),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_graceful_stop),
		cmocka_unit_test(test_smsc_unbind),
		cmocka_unit_test(test_bind_refused),
		cmocka_unit_test(test_queue_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
