/* libFuzzer: the SIM channel core (gw_chan_sim.c) on whatever the SMSC and the card may send.
 * A bound ESME session and the channel with waiting transactions receive a script of steps
 * read from the input: raw bytes for the session, MO user data from the card's number, PoRs
 * built with the card's real keys around fuzzed status, CNTR and applet payload (so the
 * deciphered path is reached), DLRs for the submits, new starts and abandons. Invariants: no
 * crash or leak, every transaction ends at most once, nothing is left after gw_sim_free. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

#include "gw_sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSISDN "84900000001"

static const uint8_t KIC[16] = "kyso-fuzz-kic-01";
static const uint8_t KID[16] = "kyso-fuzz-kid-01";
static const uint8_t TAR[3] = { 0x4b, 0x59, 0x53 };

struct fz {
	uint64_t now;
	struct smsc_session *ss;
	struct gw_sim *sim;
	struct gw_channel chan;
	uint64_t cntr;
	uint64_t pending_op;
	uint32_t pending_step;
	bool pending;
	int finals[64]; /* terminal events per ref (refs 1..63) */
	uint32_t seq;
	char msgids[8][16];
	size_t nmsgid;
};

static void
on_link(void *arg, const struct smsc_event *ev)
{
	struct fz *f = arg;

	gw_sim_on_link_event(f->sim, "sim", f->ss, ev);
}

static int
op_reserve(void *ctx, uint64_t op, const char *msisdn, uint32_t step)
{
	struct fz *f = ctx;

	(void)msisdn;
	f->pending_op = op;
	f->pending_step = step;
	f->pending = true;
	return 0;
}

static int
op_submit(void *ctx, const char *carrier, uint64_t tag, const struct smsc_submit *m)
{
	struct fz *f = ctx;

	(void)carrier;
	return smsc_session_submit(f->ss, tag, m, f->now) == SMSC_OK ? 0 : -1;
}

static void
op_cancel(void *ctx, const char *carrier, uint64_t tag)
{
	struct fz *f = ctx;

	(void)carrier;
	if (smsc_session_cancel(f->ss, tag) != SMSC_OK)
		return;
}

static uint64_t
op_now(void *ctx)
{
	return ((struct fz *)ctx)->now;
}

static void
on_engine(void *engine, const struct gw_chan_event *ev)
{
	struct fz *f = engine;

	if (ev->msisdn != NULL) {
		/* an answer to a request another node sent (the counter written last, no waiting
		 * transaction here): any ref, which the engine looks up */
		if (ev->kind == GW_CHAN_SIGNED && (ev->sig == NULL || ev->sig_len == 0))
			abort();
		return;
	}
	if (ev->ref < 1 || ev->ref >= 64)
		abort();
	if (ev->kind == GW_CHAN_SIGNED || ev->kind == GW_CHAN_FAILED) {
		if (++f->finals[ev->ref] > 1)
			abort(); /* a transaction ends once */
		if (ev->kind == GW_CHAN_SIGNED && (ev->sig == NULL || ev->sig_len == 0))
			abort();
	}
}

static void
answer_store(struct fz *f)
{
	struct gw_sim_keyset ks = { .kvn = 3,
		                    .kic_alg = SMSC_ALG_3DES2,
		                    .kid_alg = SMSC_ALG_3DES2 };

	if (!f->pending)
		return;
	f->pending = false;
	f->cntr += f->pending_step;
	memcpy(ks.keys.kic, KIC, 16);
	memcpy(ks.keys.kid, KID, 16);
	ks.keys.kic_len = ks.keys.kid_len = 16;
	memcpy(ks.tar, TAR, 3);
	ks.counter = f->cntr;
	gw_sim_on_reserved(f->sim, f->pending_op, GW_SIM_STORE_OK, &ks);
}

/* Answers every PDU the session wants to send: submit_sm gets an OK resp with an id. */
static void
drain(struct fz *f)
{
	uint8_t buf[4096], out[256];
	size_t n, on;
	struct smsc_pdu p, r;

	while (smsc_session_take(f->ss, buf, sizeof(buf), &n, f->now) == SMSC_OK) {
		if (smsc_pdu_decode(buf, n, &p) != SMSC_OK || p.command_id != SMSC_CMD_SUBMIT_SM)
			continue;
		memset(&r, 0, sizeof(r));
		r.command_id = SMSC_CMD_SUBMIT_SM_RESP;
		r.sequence = p.sequence;
		r.has_body = true;
		n = (size_t)snprintf(f->msgids[f->nmsgid % 8], 16, "%zX", 0x100 + f->nmsgid);
		r.message_id = f->msgids[f->nmsgid++ % 8];
		r.message_id_len = n;
		if (smsc_pdu_encode(&r, out, sizeof(out), &on) == SMSC_OK)
			smsc_session_feed(f->ss, out, on, f->now);
	}
}

static void
feed_deliver(struct fz *f, uint8_t esm, const uint8_t *sm, size_t len)
{
	struct smsc_pdu d;
	uint8_t buf[512];
	size_t n;

	memset(&d, 0, sizeof(d));
	d.command_id = SMSC_CMD_DELIVER_SM;
	d.sequence = ++f->seq;
	d.source_addr = MSISDN;
	d.source_addr_len = strlen(MSISDN);
	d.source_addr_ton = d.source_addr_npi = 1;
	d.dest_addr = "8499900";
	d.dest_addr_len = 7;
	d.esm_class = esm;
	d.short_message = sm;
	d.sm_length = len > 254 ? 254 : len;
	if (smsc_pdu_encode(&d, buf, sizeof(buf), &n) == SMSC_OK)
		smsc_session_feed(f->ss, buf, n, f->now);
}

/* A PoR with the card's keys: sts, CNTR offset and applet payload from the input. */
static void
feed_por(struct fz *f, const uint8_t *in, size_t len)
{
	struct smsc_ota_keys k = { .kic_len = 16, .kid_len = 16 };
	struct smsc_ota_rsp r = { 0 };
	struct smsc_seg segs[SMSC_SEG_MAX];
	uint8_t pkt[1200];
	size_t plen, n;

	if (len < 2)
		return;
	memcpy(k.kic, KIC, 16);
	memcpy(k.kid, KID, 16);
	memcpy(r.tar, TAR, 3);
	r.sts = in[0];
	r.cntr = f->cntr - (in[1] & 3); /* the current packet, or an older one */
	r.data = in + 2;
	r.data_len = len - 2 > 600 ? 600 : len - 2;
	if (smsc_ota_rsp_build(0x39, 0x35, 0x35, &r, &k, pkt, sizeof(pkt), &plen) != SMSC_OK ||
	    smsc_ota_segment(0x71, pkt, plen, in[1], segs, SMSC_SEG_MAX, &n) != SMSC_OK)
		return;
	for (size_t i = 0; i < n; i++)
		if (!((in[1] & 0x80) && i == 1)) /* sometimes a segment is lost */
			feed_deliver(f, 0x40, segs[i].ud, segs[i].len);
}

static void
start(struct fz *f, int64_t ref)
{
	static const uint8_t digest[32] = { 1 };
	struct gw_chan_request req = { .ref = ref,
		                       .msisdn = MSISDN,
		                       .hash_alg = "sha256",
		                       .to_sign = digest,
		                       .to_sign_len = 32,
		                       .display = "Ky",
		                       .verification_code = "1234",
		                       .deadline_ms = f->now + 120000 };
	int st, sub;

	if (f->chan.start(f->chan.self, &req, &st, &sub) == 0)
		answer_store(f);
	drain(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char table[] = "carrier sim host=127.0.0.1 port=1 system_id=a password=b "
	                            "mo_addr=8499900\nroute 849 sim\n";
	struct smsc_config sc = { .system_id = "a", .password = "b", .tps = UINT32_MAX, .seed = 1 };
	struct gw_sim_ops ops = {
		.reserve = op_reserve, .submit = op_submit, .cancel = op_cancel, .now_ms = op_now
	};
	struct gw_sim_config cfg = { 0 };
	struct smsc_route_table *routes = NULL;
	struct fz *f = calloc(1, sizeof(*f));
	uint8_t buf[4096];
	size_t n, line, pos = 0;
	int64_t next_ref = 1;

	if (f == NULL || smsc_route_new(&routes) != SMSC_OK ||
	    smsc_route_load(routes, table, sizeof(table) - 1, &line) != SMSC_OK)
		abort();
	f->now = 1000;
	f->cntr = 100;
	ops.ctx = f;
	if (smsc_session_new(&sc, on_link, f, &f->ss) != SMSC_OK ||
	    (f->sim = gw_sim_new(&cfg, routes, &ops)) == NULL)
		abort();
	gw_sim_channel(f->sim, &f->chan);
	f->chan.on_event = on_engine;
	f->chan.engine = f;
	/* bind */
	if (smsc_session_start(f->ss, f->now) != SMSC_OK)
		abort();
	smsc_session_connected(f->ss, f->now);
	while (smsc_session_take(f->ss, buf, sizeof(buf), &n, f->now) == SMSC_OK) {
		struct smsc_pdu p, r = { .command_id = SMSC_CMD_BIND_TRX_RESP,
			                 .has_body = true,
			                 .system_id = "S",
			                 .system_id_len = 1 };
		uint8_t out[64];
		size_t on;

		if (smsc_pdu_decode(buf, n, &p) == SMSC_OK && p.command_id == SMSC_CMD_BIND_TRX) {
			r.sequence = p.sequence;
			if (smsc_pdu_encode(&r, out, sizeof(out), &on) == SMSC_OK)
				smsc_session_feed(f->ss, out, on, f->now);
		}
	}
	start(f, next_ref++);
	while (pos + 2 <= size) {
		uint8_t op = data[pos], len = data[pos + 1];
		const uint8_t *body = data + pos + 2;
		size_t blen = size - pos - 2 < len ? size - pos - 2 : len;

		pos += 2 + blen;
		f->now += op >> 4; /* time moves a little */
		switch (op & 7) {
		case 0:
			smsc_session_feed(f->ss, body, blen, f->now);
			break;
		case 1:
			feed_deliver(f, 0x40, body, blen);
			break;
		case 2:
			feed_por(f, body, blen);
			break;
		case 3: { /* DLR text for one of our message ids */
			char t[128];
			int tn = snprintf(t, sizeof(t), "id:%s stat:%.*s err:000",
			                  f->msgids[(blen ? body[0] : 0) % 8],
			                  (int)(blen > 1 ? (blen - 1 > 8 ? 8 : blen - 1) : 0),
			                  (const char *)body + (blen > 1 ? 1 : 0));
			feed_deliver(f, 0x04, (const uint8_t *)t, (size_t)tn);
			break;
		}
		case 4:
			if (next_ref < 64)
				start(f, next_ref++);
			break;
		case 5:
			f->chan.abandon(f->chan.self, blen ? (int64_t)(body[0] % 64) : 1);
			break;
		case 6:
			answer_store(f);
			break;
		default:
			smsc_session_tick(f->ss, f->now);
			gw_sim_tick(f->sim);
			break;
		}
		drain(f);
	}
	gw_sim_free(f->sim);
	smsc_session_free(f->ss);
	smsc_route_free(routes);
	free(f);
	return 0;
}
