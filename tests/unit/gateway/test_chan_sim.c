/* The SIM channel core (gw_chan_sim.c) against a scripted carrier: a real sans-I/O ESME
 * session whose bytes this test answers as the SMSC, and a card that opens the secured command
 * with its keyset and answers with PoRs built by the adapter's codecs (TELECOM.md 1-4). The
 * key store is a counter in memory that records what was made durable before each submit. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ecdsa.h>

#include <kyso/smsc.h>

#include "gw_sim.h"

#define MSISDN  "84900000001"
#define MO_ADDR "8490999"
#define MAX_EV  32

static const uint8_t KIC[16] = { 0x4b, 0x49, 0x43, 0x31, 0x02, 0x04, 0x08, 0x10,
	                         0x20, 0x40, 0x80, 0x13, 0x57, 0x9b, 0xdf, 0x7e };
static const uint8_t KID[16] = { 0x4b, 0x49, 0x44, 0x31, 0x03, 0x05, 0x09, 0x11,
	                         0x21, 0x41, 0x81, 0x15, 0x59, 0x9d, 0xe1, 0x7f };
static const uint8_t TAR[3] = { 0x4b, 0x59, 0x53 };

/* ---- free() that checks no key material is left in a block (the keys-wiped test) ---- */
void __real_free(void *p);
void __wrap_free(void *p);
static int key_leaks;
static bool scan_frees;

static bool
holds(const uint8_t *b, size_t n, const uint8_t *pat, size_t plen)
{
	for (size_t i = 0; i + plen <= n; i++)
		if (memcmp(b + i, pat, plen) == 0)
			return true;
	return false;
}

void
__wrap_free(void *p)
{
	if (p != NULL && scan_frees) {
		size_t n = malloc_usable_size(p);

		if (holds(p, n, KIC, sizeof(KIC)) || holds(p, n, KID, sizeof(KID)))
			key_leaks++;
	}
	__real_free(p);
}

/* ---- the world ------------------------------------------------------------------------- */

struct ev_copy {
	enum gw_chan_event_kind kind;
	int64_t ref;
	int status, sub, retries_left;
	bool blocked;
	uint8_t sig[600];
	size_t sig_len;
	char detail[64];
	char msisdn[24];
};

struct world {
	uint64_t now;
	struct smsc_route_table *routes;
	struct smsc_session *ss;
	struct gw_sim *sim;
	struct gw_channel chan;
	/* store */
	uint64_t durable_cntr; /* sim_keyset.counter as committed */
	uint64_t pending_op;
	uint32_t pending_step;
	int reserves;
	bool store_down;
	bool store_busy;   /* the reservation refused for now: its queue full */
	char lock_txn[40]; /* the txn the last reservation took the card for ("" none) */
	/* engine */
	struct ev_copy ev[MAX_EV];
	size_t nev;
	/* SMSC side */
	uint32_t next_msgid;
	uint32_t mo_seq;
	/* card side */
	uint64_t card_cntr;
	struct smsc_reasm *card_reasm;
	uint8_t last_cmd[1200]; /* the command packet the card last assembled */
	size_t last_cmd_len;
	uint64_t last_cntr;
	uint64_t last_ref;
	uint8_t last_hash[64];
	size_t segs_seen;
	char msgid[8][16];
	size_t nmsgid;
	char validity[17]; /* the last submit_sm's validity_period */
};

/* dev.time_scale the next setup_world gives the core (0: the default, 1) */
static uint32_t world_time_scale;

static void
on_link(void *arg, const struct smsc_event *ev)
{
	struct world *w = arg;

	gw_sim_on_link_event(w->sim, "sim", w->ss, ev);
}

static int
op_reserve(void *ctx, uint64_t op, const char *msisdn, uint32_t step, const char *lock_txn)
{
	struct world *w = ctx;

	assert_string_equal(msisdn, MSISDN);
	snprintf(w->lock_txn, sizeof(w->lock_txn), "%s", lock_txn != NULL ? lock_txn : "");
	if (w->store_down)
		return -1;
	if (w->store_busy)
		return -2;
	w->pending_op = op;
	w->pending_step = step;
	w->reserves++;
	return 0;
}

static int
op_submit(void *ctx, const char *carrier, uint64_t tag, const struct smsc_submit *m)
{
	struct world *w = ctx;

	assert_string_equal(carrier, "sim");
	return smsc_session_submit(w->ss, tag, m, w->now) == SMSC_OK ? 0 : -1;
}

static void
op_cancel(void *ctx, const char *carrier, uint64_t tag)
{
	struct world *w = ctx;

	(void)carrier;
	if (smsc_session_cancel(w->ss, tag) != SMSC_OK)
		return; /* in flight or answered already: nothing to drop */
}

static uint64_t
op_now(void *ctx)
{
	return ((struct world *)ctx)->now;
}

static void
on_engine(void *engine, const struct gw_chan_event *ev)
{
	struct world *w = engine;
	struct ev_copy *c;

	assert_true(w->nev < MAX_EV);
	c = &w->ev[w->nev++];
	c->kind = ev->kind;
	c->ref = ev->ref;
	c->status = ev->status;
	c->sub = ev->sub;
	c->retries_left = ev->retries_left;
	c->blocked = ev->device_blocked;
	c->sig_len = ev->sig_len;
	snprintf(c->detail, sizeof(c->detail), "%s", ev->detail ? ev->detail : "");
	snprintf(c->msisdn, sizeof(c->msisdn), "%s", ev->msisdn ? ev->msisdn : "");
	if (ev->sig_len > 0) {
		assert_true(ev->sig_len <= sizeof(c->sig));
		memcpy(c->sig, ev->sig, ev->sig_len);
	}
}

/* The store commits counter + step, then answers with the keyset (TELECOM.md 2.3); a step of
 * 0 (an answer to a request another node sent) only reads it. */
static void
store_reply(struct world *w, bool peek)
{
	struct gw_sim_keyset ks = { .kvn = 3,
		                    .kic_alg = SMSC_ALG_3DES2,
		                    .kid_alg = SMSC_ALG_3DES2 };

	if (peek)
		assert_int_equal(w->pending_step, 0);
	else
		assert_int_not_equal(w->pending_step, 0);
	w->durable_cntr += w->pending_step;
	w->pending_step = 0;
	snprintf(ks.iccid, sizeof(ks.iccid), "89840000000000000001");
	memcpy(ks.keys.kic, KIC, 16);
	ks.keys.kic_len = 16;
	memcpy(ks.keys.kid, KID, 16);
	ks.keys.kid_len = 16;
	memcpy(ks.tar, TAR, 3);
	ks.counter = w->durable_cntr;
	gw_sim_on_reserved(w->sim, w->pending_op, GW_SIM_STORE_OK, &ks);
	smsc_ota_keys_wipe(&ks.keys);
}

static void
store_answer(struct world *w)
{
	store_reply(w, false);
}

static bool
take(struct world *w, struct smsc_pdu *p, uint8_t *buf)
{
	size_t n;
	enum smsc_err rc = smsc_session_take(w->ss, buf, 4096, &n, w->now);

	if (rc == SMSC_E_SHORT)
		return false;
	assert_int_equal(rc, SMSC_OK);
	assert_int_equal(smsc_pdu_decode(buf, n, p), SMSC_OK);
	return true;
}

static void
feed(struct world *w, const struct smsc_pdu *p)
{
	uint8_t b[1024];
	size_t n;

	assert_int_equal(smsc_pdu_encode(p, b, sizeof(b), &n), SMSC_OK);
	smsc_session_feed(w->ss, b, n, w->now);
}

static void
setup_world(struct world *w)
{
	static const char table[] = "carrier sim host=127.0.0.1 port=2775 system_id=gw password=pw "
	                            "mo_addr=" MO_ADDR "\nroute 849 sim\n";
	struct smsc_config sc = {
		.system_id = "gw", .password = "pw", .tps = UINT32_MAX, .seed = 7
	};
	struct gw_sim_config cfg = { .time_scale = world_time_scale };
	struct gw_sim_ops ops = {
		.reserve = op_reserve, .submit = op_submit, .cancel = op_cancel, .now_ms = op_now
	};
	struct smsc_pdu p, r;
	uint8_t buf[4096];
	size_t line;

	memset(w, 0, sizeof(*w));
	w->now = 1000;
	w->durable_cntr = 10;
	w->card_cntr = 10;
	w->next_msgid = 0x1A2B3C;
	w->mo_seq = 100;
	ops.ctx = w;
	assert_int_equal(smsc_route_new(&w->routes), SMSC_OK);
	assert_int_equal(smsc_route_load(w->routes, table, strlen(table), &line), SMSC_OK);
	assert_int_equal(smsc_session_new(&sc, on_link, w, &w->ss), SMSC_OK);
	assert_non_null(w->sim = gw_sim_new(&cfg, w->routes, &ops));
	gw_sim_channel(w->sim, &w->chan);
	w->chan.on_event = on_engine;
	w->chan.engine = w;
	assert_int_equal(smsc_reasm_new(16, 16 * 8 * 140, 60000, &w->card_reasm), SMSC_OK);
	/* bind */
	assert_int_equal(smsc_session_start(w->ss, w->now), SMSC_OK);
	smsc_session_connected(w->ss, w->now);
	assert_true(take(w, &p, buf));
	assert_int_equal(p.command_id, SMSC_CMD_BIND_TRX);
	memset(&r, 0, sizeof(r));
	r.command_id = SMSC_CMD_BIND_TRX_RESP;
	r.sequence = p.sequence;
	r.system_id = "SIMSMSC";
	r.system_id_len = 7;
	r.has_body = true;
	feed(w, &r);
	assert_int_equal(smsc_session_state(w->ss), SMSC_S_BOUND);
}

static void
teardown_world(struct world *w)
{
	gw_sim_free(w->sim);
	smsc_session_free(w->ss);
	smsc_route_free(w->routes);
	smsc_reasm_free(w->card_reasm);
}

/* The engine's request: a SHA-256 digest and a short display. */
static int
start(struct world *w, int64_t ref, const char *msisdn, int *status, int *sub)
{
	static uint8_t digest[32];
	struct gw_chan_request req = {
		.txn_id = "01J0TEST",
		.ref = ref,
		.msisdn = msisdn,
		.hash_alg = "sha256",
		.to_sign = digest,
		.to_sign_len = sizeof(digest),
		.display = "BoTC: ky van ban 12/QD",
		.verification_code = "4821",
		.deadline_ms = w->now + 120000,
	};

	for (size_t i = 0; i < sizeof(digest); i++)
		digest[i] = (uint8_t)(ref + (int64_t)i);
	return w->chan.start(w->chan.self, &req, status, sub);
}

/* The SMSC side: every submit_sm is answered (status), the card assembles the segments. Returns
 * how many submit_sm were taken. */
static size_t
smsc_round(struct world *w, uint32_t status)
{
	struct smsc_pdu p, r;
	uint8_t buf[4096], work[1200];
	size_t n = 0;

	while (take(w, &p, buf)) {
		char id[16];
		size_t plen = 0;
		uint8_t iei = 0;
		bool done = false;

		if (p.command_id != SMSC_CMD_SUBMIT_SM)
			continue;
		n++;
		/* TELECOM.md 1.2: what an OTA submit_sm looks like */
		assert_int_equal(p.esm_class, 0x40);
		assert_int_equal(p.protocol_id, 0x7F);
		assert_int_equal(p.data_coding, 0xF6);
		assert_int_equal(p.registered_delivery, 1);
		assert_int_equal(p.dest_addr_len, strlen(MSISDN));
		assert_memory_equal(p.dest_addr, MSISDN, strlen(MSISDN));
		assert_memory_equal(p.source_addr, MO_ADDR, strlen(MO_ADDR));
		assert_true(p.sm_length <= 140);
		assert_true(p.validity_period_len < sizeof(w->validity));
		memcpy(w->validity, p.validity_period, p.validity_period_len);
		w->validity[p.validity_period_len] = '\0';
		memset(&r, 0, sizeof(r));
		r.command_id = SMSC_CMD_SUBMIT_SM_RESP;
		r.command_status = status;
		r.sequence = p.sequence;
		if (status == 0) {
			snprintf(id, sizeof(id), "%X", w->next_msgid++);
			r.message_id = id;
			r.message_id_len = strlen(id);
			r.has_body = true;
			snprintf(w->msgid[w->nmsgid++ % 8], sizeof(w->msgid[0]), "%s", id);
		}
		/* the card sees the segments (before the resp: order does not matter here) */
		w->segs_seen++;
		assert_int_equal(smsc_reasm_add(w->card_reasm, MSISDN, p.short_message, p.sm_length,
		                                w->now, w->last_cmd, sizeof(w->last_cmd), &plen,
		                                &iei, &done),
		                 SMSC_OK);
		feed(w, &r);
		if (done) {
			struct smsc_ota_keys k = { .kic_len = 16, .kid_len = 16 };
			struct smsc_ota_cmd c;
			struct smsc_kv1_req q;

			assert_int_equal(iei, 0x70);
			w->last_cmd_len = plen;
			memcpy(k.kic, KIC, 16);
			memcpy(k.kid, KID, 16);
			assert_int_equal(
			        smsc_ota_cmd_open(w->last_cmd, plen, &k, work, sizeof(work), &c),
			        SMSC_OK);
			assert_int_equal(c.spi1, 0x16);
			assert_int_equal(c.spi2, 0x39);
			assert_int_equal(c.kic, 0x35);
			assert_memory_equal(c.tar, TAR, 3);
			/* write-ahead: the counter on the air is already durable in the store */
			assert_true(c.cntr <= w->durable_cntr);
			w->last_cntr = c.cntr;
			assert_int_equal(smsc_kv1_req_decode(c.data, c.data_len, &q), SMSC_OK);
			w->last_ref = q.txn_ref;
			assert_int_equal(q.key_ref, 1);
			assert_int_equal(q.hash_alg, 1);
			assert_int_equal(q.hash_len, 32);
			memcpy(w->last_hash, q.hash, 32);
			assert_int_equal(q.dcs, SMSC_DCS_GSM7_PACKED);
			smsc_ota_keys_wipe(&k);
		}
	}
	return n;
}

/* Feeds one deliver_sm: an MO with a UDH from the card, or a DLR. */
static void
feed_deliver(struct world *w, uint8_t esm_class, const uint8_t *sm, size_t len,
             const char *receipted, uint8_t state)
{
	struct smsc_pdu d;
	uint8_t st = state;

	memset(&d, 0, sizeof(d));
	d.command_id = SMSC_CMD_DELIVER_SM;
	d.sequence = w->mo_seq++;
	d.source_addr_ton = 1;
	d.source_addr_npi = 1;
	d.source_addr = MSISDN;
	d.source_addr_len = strlen(MSISDN);
	d.dest_addr = MO_ADDR;
	d.dest_addr_len = strlen(MO_ADDR);
	d.esm_class = esm_class;
	d.protocol_id = 0x7F;
	d.data_coding = 0xF6;
	d.short_message = sm;
	d.sm_length = len;
	if (receipted != NULL) {
		d.tlv[0] = (struct smsc_tlv){ SMSC_TLV_RECEIPTED_MESSAGE_ID,
			                      (uint16_t)(strlen(receipted) + 1),
			                      (const uint8_t *)receipted };
		d.tlv[1] = (struct smsc_tlv){ SMSC_TLV_MESSAGE_STATE, 1, &st };
		d.tlv_count = 2;
	}
	feed(w, &d);
	/* drain the deliver_sm_resp the session owes */
	{
		struct smsc_pdu p;
		uint8_t buf[4096];

		while (take(w, &p, buf))
			;
	}
}

static void
dlr(struct world *w, size_t which, uint8_t state)
{
	char text[160];
	static const char *names[] = { "",        "ENROUTE", "DELIVRD", "EXPIRED", "DELETED",
		                       "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD" };
	char id[17];

	snprintf(id, sizeof(id), "%s", w->msgid[which % 8]);
	int n = snprintf(text, sizeof(text),
	                 "id:%s sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
	                 "stat:%s err:000 text:",
	                 id, names[state]);
	feed_deliver(w, 0x04, (const uint8_t *)text, (size_t)n, id, state);
}

/* The card answers with a PoR: sts, optional kyso-v1 response, on the given CNTR; the packet
 * is cut into MO segments (order: the indexes in `order`, may repeat). */
static void
card_por_segments(struct world *w, uint8_t sts, const struct smsc_kv1_rsp *rsp, uint64_t cntr,
                  const uint8_t *keys_kid, const size_t *order, size_t norder)
{
	struct smsc_ota_keys k = { .kic_len = 16, .kid_len = 16 };
	struct smsc_ota_rsp r = { .cntr = cntr, .sts = sts };
	struct smsc_seg segs[SMSC_SEG_MAX];
	uint8_t data[1024], pkt[1200];
	size_t dlen = 0, plen, n;

	memcpy(k.kic, KIC, 16);
	memcpy(k.kid, keys_kid, 16);
	memcpy(r.tar, TAR, 3);
	if (rsp != NULL) {
		assert_int_equal(smsc_kv1_rsp_encode(rsp, data, sizeof(data), &dlen), SMSC_OK);
		r.data = data;
		r.data_len = dlen;
	}
	assert_int_equal(smsc_ota_rsp_build(0x39, 0x35, 0x35, &r, &k, pkt, sizeof(pkt), &plen),
	                 SMSC_OK);
	assert_int_equal(smsc_ota_segment(0x71, pkt, plen, 0x42, segs, SMSC_SEG_MAX, &n), SMSC_OK);
	if (order == NULL) {
		for (size_t i = 0; i < n; i++)
			feed_deliver(w, 0x40, segs[i].ud, segs[i].len, NULL, 0);
	} else {
		for (size_t i = 0; i < norder; i++) {
			assert_true(order[i] < n);
			feed_deliver(w, 0x40, segs[order[i]].ud, segs[order[i]].len, NULL, 0);
		}
	}
	smsc_ota_keys_wipe(&k);
}

static void
card_por(struct world *w, uint8_t sts, const struct smsc_kv1_rsp *rsp)
{
	card_por_segments(w, sts, rsp, w->last_cntr, KID, NULL, 0);
}

static void
card_status(struct world *w, uint8_t applet_status, int pin_tries)
{
	struct smsc_kv1_rsp rsp = { .txn_ref = w->last_ref, .status = applet_status };

	if (pin_tries >= 0) {
		rsp.has_pin_tries = true;
		rsp.pin_tries = (uint8_t)pin_tries;
	}
	card_por(w, 0x00, &rsp);
}

static const struct ev_copy *
last_ev(const struct world *w)
{
	assert_true(w->nev > 0);
	return &w->ev[w->nev - 1];
}

/* start -> store -> submit -> resp OK: DISPATCHED. */
static void
dispatch(struct world *w, int64_t ref)
{
	int st = -1, sub = -1;

	assert_int_equal(start(w, ref, "0900000001", &st, &sub), 0); /* national form */
	assert_int_equal(w->reserves, 1);
	assert_int_equal(smsc_round(w, 0), 0); /* nothing on the air before the store answered */
	store_answer(w);
	assert_int_equal(smsc_round(w, 0), 1);
	assert_int_equal(w->last_ref, (uint64_t)ref);
	assert_int_equal(w->last_cntr, 11);
	assert_int_equal(last_ev(w)->kind, GW_CHAN_DISPATCHED);
	assert_int_equal(last_ev(w)->ref, ref);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void
test_happy_path(void **state)
{
	struct world w;
	uint8_t rs[64];
	struct smsc_kv1_rsp rsp = { .status = SMSC_KV1_SIGNED, .sig = rs, .sig_len = sizeof(rs) };
	const unsigned char *p;
	ECDSA_SIG *sig;

	(void)state;
	setup_world(&w);
	dispatch(&w, 77);
	dlr(&w, 0, SMSC_MS_DELIVERED);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_DELIVERED);
	card_por(&w, 0x00, NULL); /* empty PoR: the dialogue runs */
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_AWAITING_USER);
	for (size_t i = 0; i < sizeof(rs); i++)
		rs[i] = (uint8_t)(0x80 + i); /* high bit set: DER needs a leading 00 */
	rsp.txn_ref = 77;
	card_por(&w, 0x00, &rsp);
	assert_int_equal(w.nev, 4);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_SIGNED);
	assert_int_equal(last_ev(&w)->ref, 77);
	/* r||s converted to DER (gw_channel.h: ECDSA as DER) */
	p = last_ev(&w)->sig;
	assert_non_null(sig = d2i_ECDSA_SIG(NULL, &p, (long)last_ev(&w)->sig_len));
	{
		uint8_t back[64];
		const BIGNUM *r, *s;

		ECDSA_SIG_get0(sig, &r, &s);
		assert_int_equal(BN_bn2binpad(r, back, 32), 32);
		assert_int_equal(BN_bn2binpad(s, back + 32, 32), 32);
		assert_memory_equal(back, rs, 64);
	}
	ECDSA_SIG_free(sig);
	assert_int_equal(gw_sim_waiting(w.sim), 0);
	teardown_world(&w);
}

/* The validity on the wire stays unscaled under dev.time_scale, and a simulator on the same
 * scale divides it again (ARCHITECTURE.md 8, TELECOM.md 5.4). The request's deadline is
 * 120000 ms away on the gateway's clock: 120 s unscaled, 120000 s (1 d 9 h 20 min) at 1000. */
static void
test_validity_unscaled(void **state)
{
	struct world w;

	(void)state;
	setup_world(&w);
	dispatch(&w, 31);
	assert_string_equal(w.validity, "000000000200000R");
	teardown_world(&w);
	world_time_scale = 1000;
	setup_world(&w);
	world_time_scale = 0;
	dispatch(&w, 32);
	assert_string_equal(w.validity, "000001092000000R");
	teardown_world(&w);
}

static void
test_start_refusals(void **state)
{
	struct world w;
	int st, sub;

	(void)state;
	setup_world(&w);
	/* no route for the number */
	assert_int_equal(start(&w, 5, "84100000001", &st, &sub), -1);
	assert_int_equal(st, 209);
	assert_int_equal(sub, 2093);
	/* the counter cannot be written ahead: never submit without it (TELECOM.md 4) */
	w.store_down = true;
	assert_int_equal(start(&w, 6, MSISDN, &st, &sub), -1);
	assert_int_equal(st, 900);
	assert_int_equal(sub, 9002);
	/* its queue full: overloaded, retry later (PERFORMANCE.md section 3), nothing sent */
	w.store_down = false;
	w.store_busy = true;
	assert_int_equal(start(&w, 7, MSISDN, &st, &sub), -1);
	assert_int_equal(st, 900);
	assert_int_equal(sub, 9005);
	assert_int_equal(smsc_round(&w, 0), 0);
	assert_int_equal(gw_sim_waiting(w.sim), 0);
	teardown_world(&w);
}

static void
test_store_failure_after_start(void **state)
{
	struct world w;
	int st, sub;

	(void)state;
	setup_world(&w);
	assert_int_equal(start(&w, 8, MSISDN, &st, &sub), 0);
	gw_sim_on_reserved(w.sim, w.pending_op, GW_SIM_STORE_DOWN, NULL);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_FAILED);
	assert_int_equal(last_ev(&w)->status, 900);
	assert_int_equal(last_ev(&w)->sub, 9002);
	assert_int_equal(smsc_round(&w, 0), 0);
	teardown_world(&w);
}

/* ARCHITECTURE.md section 6: the reservation takes the card for the txn; a card another node's
 * request holds answers LOCKED, and the channel sends nothing and tells the engine BUSY (it
 * starts the request again later), without a FAILED. */
static void
test_card_on_another_node(void **state)
{
	struct world w;
	int st, sub;

	(void)state;
	setup_world(&w);
	assert_int_equal(start(&w, 9, MSISDN, &st, &sub), 0);
	assert_string_equal(w.lock_txn, "01J0TEST");
	gw_sim_on_reserved(w.sim, w.pending_op, GW_SIM_STORE_LOCKED, NULL);
	assert_int_equal(w.nev, 1);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_BUSY);
	assert_int_equal(last_ev(&w)->ref, 9);
	assert_int_equal(smsc_round(&w, 0), 0);
	assert_int_equal(gw_sim_waiting(w.sim), 0);
	/* started again once the card is free: sent as any request */
	assert_int_equal(start(&w, 9, MSISDN, &st, &sub), 0);
	assert_string_equal(w.lock_txn, "01J0TEST");
	store_answer(&w);
	assert_int_equal(smsc_round(&w, 0), 1);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_DISPATCHED);
	teardown_world(&w);
}

static void
expect_fail(const struct world *w, int status, int sub)
{
	assert_int_equal(last_ev(w)->kind, GW_CHAN_FAILED);
	assert_int_equal(last_ev(w)->status, status);
	assert_int_equal(last_ev(w)->sub, sub);
}

/* TELECOM.md 2.2: PoR statuses other than 00 and 02. */
static void
test_por_errors(void **state)
{
	static const struct {
		uint8_t sts;
		int status, sub;
	} t[] = {
		{ 0x01, 900, 9004 }, { 0x03, 900, 9004 }, { 0x04, 900, 9004 }, { 0x05, 900, 9004 },
		{ 0x06, 900, 9004 }, { 0x07, 900, 9003 }, { 0x09, 105, 1054 }, { 0x0A, 900, 9004 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct world w;

		setup_world(&w);
		dispatch(&w, 100 + (int64_t)i);
		card_por(&w, t[i].sts, NULL);
		expect_fail(&w, t[i].status, t[i].sub);
		{
			char want[16];

			snprintf(want, sizeof(want), "por:%02x", t[i].sts); /* TELECOM.md 4 "raw" */
			assert_string_equal(last_ev(&w)->detail, want);
		}
		assert_int_equal(last_ev(&w)->ref, 100 + (int64_t)i);
		teardown_world(&w);
	}
}

/* A PoR whose CC does not verify with the card's KID: 900/9004 (TELECOM.md 3.3). */
static void
test_por_bad_cc(void **state)
{
	struct world w;
	uint8_t bad[16];

	(void)state;
	setup_world(&w);
	dispatch(&w, 9);
	memcpy(bad, KID, 16);
	bad[3] ^= 0x40;
	card_por_segments(&w, 0x00, NULL, w.last_cntr, bad, NULL, 0);
	expect_fail(&w, 900, 9004);
	teardown_world(&w);
}

/* More time / data follows: keep waiting. */
static void
test_por_wait(void **state)
{
	struct world w;

	(void)state;
	setup_world(&w);
	dispatch(&w, 10);
	card_por(&w, 0x08, NULL);
	card_por(&w, 0x0B, NULL);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_DISPATCHED);
	assert_int_equal(gw_sim_waiting(w.sim), 1);
	teardown_world(&w);
}

/* TELECOM.md 3.3: applet status -> north code. */
static void
test_applet_statuses(void **state)
{
	static const struct {
		uint8_t st;
		int pin_tries;
		int status, sub;
		bool blocked;
	} t[] = {
		{ SMSC_KV1_USER_CANCEL, -1, 401, 4011, false },
		{ SMSC_KV1_USER_REJECTED, -1, 401, 4011, false },
		{ SMSC_KV1_USER_CANCEL, 2, 401, 4015, false },
		{ SMSC_KV1_USER_TIMEOUT, -1, 208, 2082, false },
		{ SMSC_KV1_PIN_BLOCKED, 0, 402, 4021, true },
		{ SMSC_KV1_CARD_BLOCKED, -1, 403, 4031, false },
		{ SMSC_KV1_KEY_NOT_FOUND, -1, 404, 4041, false },
		{ SMSC_KV1_UNSUPPORTED_HASH, -1, 900, 9007, false },
		{ SMSC_KV1_UNSUPPORTED_KEY_ALG, -1, 900, 9008, false },
		{ SMSC_KV1_BAD_REQUEST, -1, 900, 9003, false },
		{ SMSC_KV1_INTERNAL, -1, 900, 9003, false },
		{ SMSC_KV1_APPLET_BUSY, -1, 900, 9003, false },
		{ SMSC_KV1_ME_UNSUPPORTED, -1, 209, 2094, false },
		{ SMSC_KV1_ME_BUSY, -1, 209, 2093, false },
		{ SMSC_KV1_EXPIRED, -1, 208, 2081, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct world w;

		setup_world(&w);
		dispatch(&w, 200 + (int64_t)i);
		card_status(&w, t[i].st, t[i].pin_tries);
		expect_fail(&w, t[i].status, t[i].sub);
		{
			char want[16];

			snprintf(want, sizeof(want), "applet:%02x", t[i].st);
			assert_string_equal(last_ev(&w)->detail, want);
		}
		assert_int_equal(last_ev(&w)->blocked, t[i].blocked);
		assert_int_equal(last_ev(&w)->retries_left, t[i].pin_tries);
		teardown_world(&w);
	}
}

/* An applet response naming another txn.ref: 900/9003 (TELECOM.md 3.3). */
static void
test_ref_mismatch(void **state)
{
	struct world w;
	uint8_t rs[64] = { 1 };
	struct smsc_kv1_rsp rsp = { .txn_ref = 12345, .status = 0, .sig = rs, .sig_len = 64 };

	(void)state;
	setup_world(&w);
	dispatch(&w, 11);
	card_por(&w, 0x00, &rsp);
	expect_fail(&w, 900, 9003);
	teardown_world(&w);
}

static void
test_dlr_failures(void **state)
{
	struct world w;

	(void)state;
	setup_world(&w);
	dispatch(&w, 12);
	dlr(&w, 0, SMSC_MS_UNDELIVERABLE);
	expect_fail(&w, 209, 2093);
	assert_string_equal(last_ev(&w)->detail, "dlr:UNDELIV");
	teardown_world(&w);

	setup_world(&w);
	dispatch(&w, 13);
	dlr(&w, 0, SMSC_MS_EXPIRED);
	expect_fail(&w, 209, 2093);
	teardown_world(&w);

	/* a terminal DLR after a PoR does not end the transaction (TELECOM.md 4) */
	setup_world(&w);
	dispatch(&w, 14);
	card_por(&w, 0x00, NULL);
	dlr(&w, 0, SMSC_MS_UNDELIVERABLE);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_AWAITING_USER);
	assert_int_equal(gw_sim_waiting(w.sim), 1);
	teardown_world(&w);
}

/* submit_sm_resp 0B (unknown number at the SMSC): 209/2093 (TELECOM.md 1.4, 5.3). */
static void
test_submit_refused(void **state)
{
	struct world w;
	int st, sub;

	(void)state;
	setup_world(&w);
	assert_int_equal(start(&w, 15, MSISDN, &st, &sub), 0);
	store_answer(&w);
	assert_int_equal(smsc_round(&w, SMSC_ST_RINVDSTADR), 1);
	expect_fail(&w, 209, 2093);
	assert_string_equal(last_ev(&w)->detail, "smpp:0x0b");
	teardown_world(&w);
}

/* PoR 02 on a packet sent once: jump the counter by 1000, persist, resend once (TELECOM.md
 * 2.3); the second packet signs. */
static void
test_counter_resync(void **state)
{
	struct world w;
	uint8_t rs[64] = { 9 };
	struct smsc_kv1_rsp rsp = { .txn_ref = 16, .status = 0, .sig = rs, .sig_len = 64 };
	uint64_t first;

	(void)state;
	setup_world(&w);
	dispatch(&w, 16);
	first = w.last_cntr;
	card_por(&w, 0x02, NULL);
	assert_int_equal(w.reserves, 2);
	assert_int_equal(w.pending_step, 1000);
	assert_string_equal(w.lock_txn, "01J0TEST"); /* the resync keeps the card for its txn */
	card_por(&w, 0x02, NULL); /* the same answer again while the counter is reserved */
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_DISPATCHED);
	assert_int_equal(w.reserves, 2);
	assert_int_equal(smsc_round(&w, 0), 0); /* not before the new counter is durable */
	store_answer(&w);
	assert_int_equal(smsc_round(&w, 0), 1);
	assert_int_equal(w.last_cntr, first + 1000);
	assert_int_equal(w.last_ref, 16); /* same txn.ref */
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_RESENT);
	/* the old packet's 02 arriving again is ignored */
	card_por_segments(&w, 0x02, NULL, first, KID, NULL, 0);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_RESENT);
	card_por(&w, 0x00, &rsp);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_SIGNED);
	teardown_world(&w);

	/* a second 02 after the resync: 900/9004 */
	setup_world(&w);
	dispatch(&w, 17);
	card_por(&w, 0x02, NULL);
	store_answer(&w);
	assert_int_equal(smsc_round(&w, 0), 1);
	card_por(&w, 0x02, NULL);
	expect_fail(&w, 900, 9004);
	assert_int_equal(w.reserves, 2);
	teardown_world(&w);
}

/* RSA-2048: 273 octets in 3 MO segments, out of order with a repeat (TELECOM.md 1.5, 3.3). */
static void
test_concatenated_rsa(void **state)
{
	struct world w;
	uint8_t sig[256];
	struct smsc_kv1_rsp rsp = {
		.txn_ref = 18, .status = 0, .sig = sig, .sig_len = sizeof(sig)
	};
	const size_t order[] = { 2, 0, 2, 1 };

	(void)state;
	for (size_t i = 0; i < sizeof(sig); i++)
		sig[i] = (uint8_t)(i * 7);
	setup_world(&w);
	dispatch(&w, 18);
	card_por_segments(&w, 0x00, &rsp, w.last_cntr, KID, order, 4);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_SIGNED);
	assert_int_equal(last_ev(&w)->sig_len, 256);
	assert_memory_equal(last_ev(&w)->sig, sig, 256);
	/* DISPATCHED, PARTIAL once (the first segment of an incomplete set), SIGNED */
	assert_int_equal(w.nev, 3);
	assert_int_equal(w.ev[1].kind, GW_CHAN_PARTIAL);
	assert_int_equal(w.ev[1].ref, 18);
	teardown_world(&w);
}

/* Profile 17 (TELECOM.md 5.3): the 2nd of 3 MO segments is lost. The card did answer, so the
 * engine hears PARTIAL once for the ref; nothing else comes (the deadline decides, 209/2093). */
static void
test_concatenated_segment_lost(void **state)
{
	struct world w;
	uint8_t sig[256];
	struct smsc_kv1_rsp rsp = {
		.txn_ref = 19, .status = 0, .sig = sig, .sig_len = sizeof(sig)
	};
	const size_t order[] = { 0, 2, 2 };

	(void)state;
	memset(sig, 0x5A, sizeof(sig));
	setup_world(&w);
	dispatch(&w, 19);
	card_por_segments(&w, 0x00, &rsp, w.last_cntr, KID, order, 3);
	assert_int_equal(w.nev, 2);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_PARTIAL);
	assert_int_equal(last_ev(&w)->ref, 19);
	teardown_world(&w);
}

/* The same result MO twice: one SIGNED, the repeat ignored. An answer after the engine gave
 * up: LATE with the ref. */
static void
test_duplicate_and_late(void **state)
{
	struct world w;
	uint8_t rs[64] = { 3 };
	struct smsc_kv1_rsp rsp = { .txn_ref = 19, .status = 0, .sig = rs, .sig_len = 64 };
	struct gw_sim_stats st;

	(void)state;
	setup_world(&w);
	dispatch(&w, 19);
	card_por(&w, 0x00, &rsp);
	card_por(&w, 0x00, &rsp); /* a second deliver_sm with the same content */
	assert_int_equal(w.nev, 2);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_SIGNED);
	gw_sim_stats_get(w.sim, &st);
	assert_int_equal(st.mos_dup, 1);

	{
		int s, sb;

		w.reserves = 0;
		assert_int_equal(start(&w, 20, MSISDN, &s, &sb), 0);
		store_answer(&w);
		assert_int_equal(smsc_round(&w, 0), 1);
		w.chan.abandon(w.chan.self, 20); /* deadline */
		rsp.txn_ref = 20;
		rs[0] = 4;
		w.reserves = 0;
		card_por(&w, 0x00, &rsp);
		/* nothing waits for the card now: its keyset is read to open the answer */
		assert_int_equal(w.reserves, 1);
		store_reply(&w, true);
		assert_int_equal(last_ev(&w)->kind, GW_CHAN_LATE);
		assert_int_equal(last_ev(&w)->ref, 20);
	}
	teardown_world(&w);
}

/* A PoR from a card this node sent nothing to (the request left from another node): opened
 * with the keyset the store reads (step 0), it is the answer when it echoes the counter
 * written last, and the engine hears it with its txn.ref and the card's number. An older
 * counter, or a card without a keyset, is dropped. */
static void
test_answer_for_another_node(void **state)
{
	struct world w;
	uint8_t rs[64] = { 7 };
	struct smsc_kv1_rsp rsp = { .txn_ref = 40, .status = 0, .sig = rs, .sig_len = 64 };
	struct gw_sim_stats st;

	(void)state;
	setup_world(&w);
	w.durable_cntr = 12; /* the other node wrote 12 ahead and sent it */
	card_por_segments(&w, 0x00, &rsp, 12, KID, NULL, 0);
	assert_int_equal(w.reserves, 1);
	assert_string_equal(w.lock_txn, ""); /* reading the keyset takes no card */
	assert_int_equal(w.nev, 0);
	store_reply(&w, true);
	assert_int_equal(w.durable_cntr, 12); /* read, not moved */
	assert_int_equal(w.nev, 1);
	assert_int_equal(last_ev(&w)->kind, GW_CHAN_SIGNED);
	assert_int_equal(last_ev(&w)->ref, 40);
	assert_string_equal(last_ev(&w)->msisdn, MSISDN);
	assert_true(last_ev(&w)->sig_len > 0);

	/* an answer to an older request of the card (counter 11 < 12): dropped */
	rsp.txn_ref = 39;
	card_por_segments(&w, 0x00, &rsp, 11, KID, NULL, 0);
	store_reply(&w, true);
	assert_int_equal(w.nev, 1);

	/* a card without a keyset in the store */
	card_por_segments(&w, 0x00, &rsp, 12, KID, NULL, 0);
	gw_sim_on_reserved(w.sim, w.pending_op, GW_SIM_STORE_UNKNOWN, NULL);
	assert_int_equal(w.nev, 1);
	gw_sim_stats_get(w.sim, &st);
	assert_int_equal(st.foreign, 1);
	assert_int_equal(st.mos_dropped, 2);
	teardown_world(&w);
}

/* Key material never reaches free() unwiped: the channel's copy of a keyset is wiped when its
 * transaction ends, whichever way it ends. */
static void
test_keys_wiped(void **state)
{
	struct world w;
	uint8_t rs[64] = { 5 };
	struct smsc_kv1_rsp rsp = { .txn_ref = 21, .status = 0, .sig = rs, .sig_len = 64 };
	int s, sb;

	(void)state;
	key_leaks = 0;
	scan_frees = true;
	setup_world(&w);
	dispatch(&w, 21);
	card_por(&w, 0x00, &rsp); /* SIGNED */
	w.reserves = 0;
	assert_int_equal(start(&w, 22, MSISDN, &s, &sb), 0);
	store_answer(&w);
	(void)smsc_round(&w, 0);
	w.chan.abandon(w.chan.self, 22); /* abandoned */
	assert_int_equal(start(&w, 23, MSISDN, &s, &sb), 0);
	store_answer(&w);
	(void)smsc_round(&w, 0);
	card_por(&w, 0x01, NULL); /* failed */
	assert_int_equal(start(&w, 24, MSISDN, &s, &sb), 0);
	store_answer(&w);
	teardown_world(&w); /* still waiting at shutdown */
	scan_frees = false;
	assert_int_equal(key_leaks, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_happy_path),
		cmocka_unit_test(test_validity_unscaled),
		cmocka_unit_test(test_start_refusals),
		cmocka_unit_test(test_store_failure_after_start),
		cmocka_unit_test(test_card_on_another_node),
		cmocka_unit_test(test_por_errors),
		cmocka_unit_test(test_por_bad_cc),
		cmocka_unit_test(test_por_wait),
		cmocka_unit_test(test_applet_statuses),
		cmocka_unit_test(test_ref_mismatch),
		cmocka_unit_test(test_dlr_failures),
		cmocka_unit_test(test_submit_refused),
		cmocka_unit_test(test_counter_resync),
		cmocka_unit_test(test_concatenated_rsa),
		cmocka_unit_test(test_concatenated_segment_lost),
		cmocka_unit_test(test_duplicate_and_late),
		cmocka_unit_test(test_answer_for_another_node),
		cmocka_unit_test(test_keys_wiped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
