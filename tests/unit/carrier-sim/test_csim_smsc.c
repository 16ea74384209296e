/* The SMSC half with a fake clock (TELECOM.md 5.1, 5.6): binds and accounts, submit_sm_resp
 * delay and message ids, throttling and the window, unknown numbers, DLRs (hex resp id,
 * decimal text id, before the resp), store-and-forward retries, forward mode, MO delivery with
 * its window, redelivery on 64 and on timeout, and garbage from the ESME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "csim_test_util.h"

#define MAXOUT 256

static uint8_t out[MAXOUT][SMSC_PDU_MAX_DEF];
static size_t out_len[MAXOUT], n_out, closes;
static uint32_t out_conn[MAXOUT];
static uint32_t esme_seq;

static void
on_send(void *arg, uint32_t conn, const uint8_t *pdu, size_t len)
{
	(void)arg;
	assert_true(n_out < MAXOUT);
	out_conn[n_out] = conn;
	memcpy(out[n_out], pdu, len);
	out_len[n_out++] = len;
}

static void
on_close(void *arg, uint32_t conn)
{
	(void)arg;
	(void)conn;
	closes++;
}

static struct csim *
sim_new(enum csim_mode mode, void (*tune)(struct csim_cfg *))
{
	struct csim_cfg cfg;
	struct csim *c = NULL;

	csim_cfg_default(&cfg);
	cfg.farm.mode = mode;
	cfg.n_accounts = 1;
	snprintf(cfg.accounts[0].system_id, 16, "gw");
	snprintf(cfg.accounts[0].password, 9, "pw");
	cfg.accounts[0].max_binds = 2;
	csim_knobs_default(&cfg.accounts[0].knobs);
	if (tune)
		tune(&cfg);
	n_out = closes = 0;
	esme_seq = 0;
	assert_int_equal(csim_new(&cfg, on_send, on_close, NULL, &c), CSIM_OK);
	return c;
}

static void
feed(struct csim *c, uint32_t conn, const struct smsc_pdu *p, uint64_t now)
{
	uint8_t buf[SMSC_PDU_MAX_DEF];
	size_t n;

	assert_int_equal(smsc_pdu_encode(p, buf, sizeof(buf), &n), SMSC_OK);
	csim_conn_feed(c, conn, buf, n, now);
}

/* The i-th PDU the simulator wrote, decoded (pointers into out[i]). */
static struct smsc_pdu
got(size_t i)
{
	struct smsc_pdu p;

	assert_true(i < n_out);
	assert_int_equal(smsc_pdu_decode(out[i], out_len[i], &p), SMSC_OK);
	return p;
}

static uint32_t
bind_typed(struct csim *c, const char *sid, const char *pw, const char *type, uint32_t want)
{
	struct smsc_pdu p = { .command_id = SMSC_CMD_BIND_TRX,
		              .sequence = ++esme_seq,
		              .system_id = sid,
		              .system_id_len = strlen(sid),
		              .password = pw,
		              .password_len = strlen(pw),
		              .system_type = type,
		              .system_type_len = strlen(type),
		              .interface_version = 0x34 };
	uint32_t conn;
	struct smsc_pdu r;

	assert_int_equal(csim_conn_open(c, 0, &conn), CSIM_OK);
	feed(c, conn, &p, 0);
	r = got(n_out - 1);
	assert_int_equal(r.command_id, SMSC_CMD_BIND_TRX_RESP);
	assert_int_equal(r.command_status, want);
	return conn;
}

static uint32_t
bind(struct csim *c, const char *sid, const char *pw, uint32_t want)
{
	return bind_typed(c, sid, pw, "", want);
}

static void
submit(struct csim *c, uint32_t conn, const char *dest, const uint8_t *ud, size_t len, uint8_t esm,
       uint64_t now)
{
	struct smsc_pdu p = { .command_id = SMSC_CMD_SUBMIT_SM,
		              .sequence = ++esme_seq,
		              .source_addr_ton = 1,
		              .source_addr_npi = 1,
		              .source_addr = "8490999",
		              .source_addr_len = 7,
		              .dest_addr_ton = 1,
		              .dest_addr_npi = 1,
		              .dest_addr = dest,
		              .dest_addr_len = strlen(dest),
		              .esm_class = esm,
		              .protocol_id = 0x7F,
		              .data_coding = 0xF6,
		              .registered_delivery = 1,
		              .validity_period = "000000000200000R",
		              .validity_period_len = 16,
		              .short_message = ud,
		              .sm_length = len };

	feed(c, conn, &p, now);
}

/* A signing request to a farm SIM (created on first use), one segment. */
static void
submit_sign(struct csim *c, uint32_t conn, const char *dest, uint8_t esm, uint64_t now)
{
	struct csim_sim *s = csim_farm_lookup(csim_get_farm(c), dest);
	struct smsc_seg segs[SMSC_SEG_MAX];
	struct t_req r = { .cntr = 1 };

	if (s == NULL) { /* an unknown number still gets a well-formed packet */
		static const uint8_t junk[] = { 0x02, 0x70, 0x00, 0x00, 0x01, 0x00 };

		submit(c, conn, dest, junk, sizeof(junk), esm, now);
		return;
	}
	assert_int_equal(t_command(s, &r, segs), 1);
	submit(c, conn, dest, segs[0].ud, segs[0].len, esm, now);
}

static size_t
find(size_t from, uint32_t id, uint8_t esm)
{
	size_t i;

	for (i = from; i < n_out; i++) {
		struct smsc_pdu p = got(i);

		if (p.command_id == id && (id != SMSC_CMD_DELIVER_SM || p.esm_class == esm))
			return i;
	}
	return SIZE_MAX;
}

static void
ack(struct csim *c, uint32_t conn, uint32_t seq, uint32_t status, uint64_t now)
{
	struct smsc_pdu p = { .command_id = SMSC_CMD_DELIVER_SM_RESP,
		              .command_status = status,
		              .sequence = seq,
		              .message_id = "",
		              .message_id_len = 0 };

	feed(c, conn, &p, now);
}

static char *
ctl(struct csim *c, const char *line)
{
	char *r = csim_ctl(c, line, strlen(line), 0, 0);

	assert_non_null(r);
	return r;
}

static void
binds_and_accounts(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, NULL);
	uint32_t a;

	(void)state;
	a = bind(c, "gw", "pw", 0);
	bind(c, "gw", "wrong", SMSC_ST_RINVPASWD);
	bind(c, "other", "x", 0);               /* unknown system_id: the default account */
	bind(c, "gw", "pw", SMSC_ST_RBINDFAIL); /* max_binds 2 */
	{
		struct smsc_pdu p = { .command_id = SMSC_CMD_BIND_TRX,
			              .sequence = 9,
			              .system_id = "gw",
			              .system_id_len = 2,
			              .password = "pw",
			              .password_len = 2,
			              .interface_version = 0x34 };

		feed(c, a, &p, 0); /* a second bind on a bound link: 05 */
		assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RALYBND);
	}
	csim_free(c);
}

static void
strict(struct csim_cfg *cfg)
{
	cfg->strict_accounts = true;
}

static void
strict_accounts(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, strict);

	(void)state;
	bind(c, "other", "x", SMSC_ST_RINVSYSID);
	csim_free(c);
}

static void
dlr_ids_and_mo(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, NULL);
	uint32_t conn = bind(c, "gw", "pw", 0);
	struct smsc_pdu r, d;
	struct smsc_dlr dlr;
	size_t i, mo;

	(void)state;
	submit_sign(c, conn, "84900000001", 0x40, 10);
	r = got(n_out - 1);
	assert_int_equal(r.command_id, SMSC_CMD_SUBMIT_SM_RESP);
	assert_int_equal(r.command_status, 0);
	assert_int_equal(r.message_id_len, 6);
	assert_memory_equal(r.message_id, "1A2B3C", 6); /* TELECOM.md 1.7 */
	csim_tick(c, 10);
	i = find(0, SMSC_CMD_DELIVER_SM, 0x04);
	assert_true(i != SIZE_MAX);
	d = got(i);
	assert_int_equal(smsc_dlr_parse(&d, &dlr), SMSC_OK);
	assert_string_equal(dlr.id, "1A2B3C"); /* TLV 001E: the resp id */
	assert_int_equal(dlr.state, SMSC_MS_DELIVERED);
	assert_non_null(strstr((const char *)d.short_message, "id:1715004 ")); /* decimal text */
	ack(c, conn, d.sequence, 0, 10);                                       /* the DLR */
	mo = find(0, SMSC_CMD_DELIVER_SM, 0x40);
	assert_true(mo != SIZE_MAX);
	d = got(mo);
	assert_int_equal(d.protocol_id, 0x7F);
	assert_int_equal(d.data_coding, 0xF6);
	assert_memory_equal(d.short_message, "\x02\x71\x00", 3);
	assert_memory_equal(d.dest_addr, "8490999", 7);
	/* 64: redelivered after mo_retry_ms; no answer: redelivered after 30 s. */
	ack(c, conn, d.sequence, SMSC_ST_RX_T_APPN, 20);
	i = n_out;
	csim_tick(c, 20 + 999);
	assert_int_equal(find(i, SMSC_CMD_DELIVER_SM, 0x40), SIZE_MAX);
	csim_tick(c, 20 + 1000);
	mo = find(i, SMSC_CMD_DELIVER_SM, 0x40);
	assert_true(mo != SIZE_MAX);
	i = n_out;
	csim_tick(c, 20 + 1000 + 30000);
	mo = find(i, SMSC_CMD_DELIVER_SM, 0x40);
	assert_true(mo != SIZE_MAX);
	ack(c, conn, got(mo).sequence, 0, 40000);
	{
		struct csim_stats st;

		csim_stats(c, &st);
		assert_int_equal(st.mos_acked, 1);
		assert_int_equal(st.mos_retried, 2);
		assert_int_equal(st.signed_answers, 1);
	}
	csim_free(c);
}

static void
throttle_tune(struct csim_cfg *cfg)
{
	cfg->accounts[0].knobs.throttle_every_n = 2;
	cfg->accounts[0].knobs.msgid_dec = true;
}

static void
throttle_window_unknown(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_ERROR, throttle_tune);
	uint32_t conn = bind(c, "gw", "pw", 0);

	(void)state;
	submit_sign(c, conn, "84900000001", 0x40, 0);
	assert_int_equal(n_out, 1); /* resp after 5 ms */
	csim_tick(c, 5);
	assert_int_equal(got(1).command_status, 0);
	assert_memory_equal(got(1).message_id, "1715004", 7); /* decimal ids */
	submit_sign(c, conn, "84900000002", 0x40, 6);
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RTHROTTLED);
	assert_false(got(n_out - 1).has_body);
	submit_sign(c, conn, "84999000000", 0x40, 7); /* unknown number: 0B */
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RINVDSTADR);
	csim_free(c);
}

static void
window_and_queue(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_ERROR, NULL);
	uint32_t conn = bind(c, "gw", "pw", 0);
	char num[16];
	int i;

	(void)state;
	/* window 10: the 11th unanswered submit gets 58 */
	for (i = 0; i < 10; i++) {
		snprintf(num, sizeof(num), "849001%05d", i);
		submit_sign(c, conn, num, 0x40, 0);
	}
	assert_int_equal(n_out, 1);
	submit_sign(c, conn, "84900200001", 0x40, 0);
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RTHROTTLED);
	csim_tick(c, 5);
	assert_int_equal(n_out, 12); /* ten resps */
	/* 8 queued MT per MSISDN (TELECOM.md 5.6): the 9th gets 14 */
	for (i = 0; i < 8; i++) {
		submit_sign(c, conn, "84900500001", 0x40, 6);
		csim_tick(c, 6 + 5);
	}
	submit_sign(c, conn, "84900500001", 0x40, 20);
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RMSGQFUL);
	csim_free(c);
}

static void
store_and_forward(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_ERROR, NULL);
	uint32_t conn = bind(c, "gw", "pw", 0);
	struct smsc_dlr dlr;
	struct smsc_pdu d;
	size_t i;

	(void)state;
	submit_sign(c, conn, "84900900000", 0x40, 0); /* profile 09: absent */
	csim_tick(c, 5000);                           /* first attempt (1-5 s) */
	assert_int_equal(find(0, SMSC_CMD_DELIVER_SM, 0x04), SIZE_MAX);
	csim_tick(c, 5000 + 3000); /* first retry */
	assert_int_equal(find(0, SMSC_CMD_DELIVER_SM, 0x04), SIZE_MAX);
	csim_tick(c, 5000 + 6000); /* second retry, then the SMSC gives up */
	i = find(0, SMSC_CMD_DELIVER_SM, 0x04);
	assert_true(i != SIZE_MAX);
	d = got(i);
	assert_int_equal(smsc_dlr_parse(&d, &dlr), SMSC_OK);
	assert_int_equal(dlr.state, SMSC_MS_UNDELIVERABLE);
	csim_free(c);
}

static void
forward_mode(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_ERROR, NULL);
	uint32_t conn = bind(c, "gw", "pw", 0);

	(void)state;
	submit_sign(c, conn, "84902000000", 0x42, 0); /* profile 20: 6Fxx */
	csim_tick(c, 100);
	assert_int_equal(n_out, 1); /* resp held until the handset outcome */
	csim_tick(c, 5000);
	assert_int_equal(got(1).command_id, SMSC_CMD_SUBMIT_SM_RESP);
	assert_int_equal(got(1).command_status, SMSC_ST_RDELIVERYFAILURE);
	assert_int_equal(find(0, SMSC_CMD_DELIVER_SM, 0x04), SIZE_MAX); /* no DLR */
	submit_sign(c, conn, "84900000000", 0x42, 6000);
	csim_tick(c, 11000);
	assert_int_equal(got(2).command_status, 0);
	csim_free(c);
}

static void
before_resp(struct csim_cfg *cfg)
{
	cfg->accounts[0].knobs.dlr_before_resp = true;
}

static void
dlr_before_resp(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_ERROR, before_resp);
	uint32_t conn = bind(c, "gw", "pw", 0);

	(void)state;
	submit_sign(c, conn, "84900000000", 0x40, 0);
	csim_tick(c, 5000);
	assert_int_equal(got(1).command_id, SMSC_CMD_DELIVER_SM);
	assert_int_equal(got(1).esm_class, 0x04);
	assert_int_equal(got(2).command_id, SMSC_CMD_SUBMIT_SM_RESP);
	csim_free(c);
}

static void
garbage(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, NULL);
	uint32_t conn = bind(c, "gw", "pw", 0), other;
	static const uint8_t unknown_id[16] = {
		0, 0, 0, 16, 0, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 5
	};
	static const uint8_t bad_body[20] = { 0, 0, 0, 20, 0, 0, 0,   4,   0,   0,
		                              0, 0, 0, 0,  0, 6, 'a', 'b', 'c', 'd' };
	struct smsc_pdu p = { .command_id = SMSC_CMD_ENQUIRE_LINK, .sequence = 7 };

	(void)state;
	csim_conn_feed(c, conn, unknown_id, sizeof(unknown_id), 0);
	assert_int_equal(got(n_out - 1).command_id, SMSC_CMD_GENERIC_NACK);
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RINVCMDID);
	csim_conn_feed(c, conn, bad_body, sizeof(bad_body), 0);
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RINVCMDLEN);
	feed(c, conn, &p, 0); /* the link stays up */
	assert_int_equal(got(n_out - 1).command_id, SMSC_CMD_ENQUIRE_LINK_RESP);
	/* submit before bind: 04 */
	assert_int_equal(csim_conn_open(c, 0, &other), CSIM_OK);
	submit_sign(c, other, "84900000000", 0x40, 0);
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RINVBNDSTS);
	/* an HTTP request reads as a ~1.2 GB PDU: close */
	csim_conn_feed(c, other, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 0);
	assert_int_equal(closes, 1);
	/* unbind: answered, then closed */
	p.command_id = SMSC_CMD_UNBIND;
	feed(c, conn, &p, 0);
	assert_int_equal(got(n_out - 1).command_id, SMSC_CMD_UNBIND_RESP);
	assert_int_equal(closes, 2);
	csim_free(c);
}

static void
connection_bound(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, NULL);
	uint32_t conn;
	int i;

	(void)state;
	for (i = 0; i < (int)CSIM_MAX_CONNS; i++)
		assert_int_equal(csim_conn_open(c, 0, &conn), CSIM_OK);
	assert_int_equal(csim_conn_open(c, 0, &conn), CSIM_E_FULL);
	csim_conn_gone(c, conn, 0);
	assert_int_equal(csim_conn_open(c, 0, &conn), CSIM_OK);
	csim_free(c);
}

static void
control(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, NULL);
	char *r;

	(void)state;
	r = ctl(c, "{\"cmd\":\"sim.add_range\",\"first\":\"84900100000\",\"count\":5,"
	           "\"delay_ms\":30000}");
	assert_non_null(strstr(r, "\"added\":5"));
	free(r);
	r = ctl(c, "{\"cmd\":\"sim.get\",\"msisdn\":\"84900100003\"}");
	assert_non_null(strstr(r, "\"delay_ms\":30000"));
	assert_non_null(strstr(r, "\"kic_alg\":\"3des-2key\""));
	free(r);
	r = ctl(c, "{\"cmd\":\"sim.set\",\"msisdn\":\"84900100003\",\"pin_tries\":0}");
	assert_non_null(strstr(r, "\"state\":\"pin_blocked\""));
	free(r);
	r = ctl(c, "{\"cmd\":\"sim.unblock\",\"msisdn\":\"84900100003\"}");
	assert_non_null(strstr(r, "\"state\":\"active\""));
	free(r);
	r = ctl(c, "{\"cmd\":\"smsc.set\",\"throttle_every_n\":3,\"mode\":\"silent\"}");
	assert_string_equal(r, "{\"ok\":true}");
	free(r);
	assert_int_equal(csim_farm_mode(csim_get_farm(c)), CSIM_MODE_SILENT);
	{ /* smsc.inject: an MO from anywhere, queued for the bound receivers */
		uint32_t conn = bind(c, "gw", "pw", 0);
		size_t before = n_out;

		r = ctl(c, "{\"cmd\":\"smsc.inject\",\"from\":\"84911111111\",\"to\":\"8490999\","
		           "\"ud\":\"027100000e0ab0001100000000000000016132\"}");
		assert_string_equal(r, "{\"ok\":true}");
		free(r);
		assert_int_equal(n_out, before + 1);
		assert_int_equal(got(n_out - 1).command_id, SMSC_CMD_DELIVER_SM);
		assert_int_equal(got(n_out - 1).sm_length, 19);
		assert_memory_equal(got(n_out - 1).source_addr, "84911111111", 11);
		(void)conn;
	}
	r = ctl(c, "{\"cmd\":\"nope\"}");
	assert_non_null(strstr(r, "\"ok\":false"));
	free(r);
	r = ctl(c, "not json");
	assert_non_null(strstr(r, "\"ok\":false"));
	free(r);
	csim_free(c);
}

/* smsc.set mo_system_type: MOs go to the binds of that system_type while one is bound, to
 * every bind otherwise (two gateway nodes on one account). */
static void
mo_routing(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, NULL);
	static const char inject[] = "{\"cmd\":\"smsc.inject\",\"from\":\"84911111111\","
	                             "\"to\":\"8490999\",\"ud\":\"0271000001\"}";
	uint32_t one, two;
	size_t before;
	char *r;

	(void)state;
	one = bind_typed(c, "gw", "pw", "node-1", 0);
	two = bind_typed(c, "gw", "pw", "node-2", 0);
	r = ctl(c, "{\"cmd\":\"smsc.set\",\"mo_system_type\":\"node-2\"}");
	assert_string_equal(r, "{\"ok\":true}");
	free(r);
	before = n_out;
	for (int i = 0; i < 4; i++) {
		free(ctl(c, inject));
		assert_int_equal(out_conn[n_out - 1], two);
	}
	assert_int_equal(n_out, before + 4);
	r = ctl(c, "{\"cmd\":\"smsc.set\",\"mo_system_type\":\"node-12345678\"}");
	assert_non_null(strstr(r, "\"ok\":false"));
	free(r);
	/* none of that type bound: every bind, round robin */
	free(ctl(c, "{\"cmd\":\"smsc.set\",\"mo_system_type\":\"node-3\"}"));
	free(ctl(c, inject));
	free(ctl(c, inject));
	assert_true(out_conn[n_out - 1] != out_conn[n_out - 2]);
	assert_true(out_conn[n_out - 1] == one || out_conn[n_out - 2] == one);
	csim_free(c);
}

static bool
has(const char *t, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(t + i, needle, k) == 0)
			return true;
	return false;
}

/* Digits after `key` in a DLR text. */
static size_t
date_digits(const char *t, size_t n, const char *key)
{
	size_t k = strlen(key), i, d = 0;

	for (i = 0; i + k <= n; i++)
		if (memcmp(t + i, key, k) == 0) {
			while (i + k + d < n && t[i + k + d] >= '0' && t[i + k + d] <= '9')
				d++;
			return d;
		}
	return 0;
}

static void
fault_knobs(void **state)
{
	struct csim *c = sim_new(CSIM_MODE_INSTANT, NULL);
	uint32_t conn = bind(c, "gw", "pw", 0);
	char *r;
	size_t i, first, dlrs = 0;

	(void)state;
	r = ctl(c, "{\"cmd\":\"smsc.set\",\"firewall\":true}");
	free(r);
	submit_sign(c, conn, "84900000001", 0x40, 0);
	assert_int_equal(got(n_out - 1).command_status, SMSC_ST_RSUBMITFAIL);
	r = ctl(c, "{\"cmd\":\"smsc.set\",\"firewall\":false,\"reject_every_n\":1,"
	           "\"reject_status\":1025}");
	free(r);
	submit_sign(c, conn, "84900000001", 0x40, 0);
	assert_int_equal(got(n_out - 1).command_status, 0x401); /* vendor status */
	r = ctl(c, "{\"cmd\":\"smsc.set\",\"reject_every_n\":0,\"dlr_duplicate\":true,"
	           "\"dlr_text_caps\":true,\"dlr_date12\":true}");
	free(r);
	first = n_out;
	submit_sign(c, conn, "84900000001", 0x40, 0);
	csim_tick(c, 0);
	for (i = first; i < n_out; i++) {
		struct smsc_pdu d = got(i);
		struct smsc_dlr dlr;
		const char *t = (const char *)d.short_message;

		if (d.command_id != SMSC_CMD_DELIVER_SM || d.esm_class != 0x04)
			continue;
		dlrs++;
		assert_int_equal(smsc_dlr_parse(&d, &dlr), SMSC_OK);
		assert_int_equal(dlr.state, SMSC_MS_DELIVERED);
		assert_true(has(t, d.sm_length, " Text:"));
		assert_true(date_digits(t, d.sm_length, "submit date:") == 12);
		assert_true(date_digits(t, d.sm_length, "done date:") == 12);
	}
	assert_int_equal(dlrs, 2);
	csim_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(binds_and_accounts),
		cmocka_unit_test(strict_accounts),
		cmocka_unit_test(dlr_ids_and_mo),
		cmocka_unit_test(throttle_window_unknown),
		cmocka_unit_test(window_and_queue),
		cmocka_unit_test(store_and_forward),
		cmocka_unit_test(forward_mode),
		cmocka_unit_test(dlr_before_resp),
		cmocka_unit_test(garbage),
		cmocka_unit_test(connection_bound),
		cmocka_unit_test(control),
		cmocka_unit_test(mo_routing),
		cmocka_unit_test(fault_knobs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
