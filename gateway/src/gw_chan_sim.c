/* gw_chan_sim.c -- the "sim" device channel: one OTA dialogue per transaction (TELECOM.md).
 *
 * start(): route by MSISDN prefix, build the kyso-v1 request, ask the store for the next OTA
 * counter (written ahead to PostgreSQL, 2.3), then wrap the request as a secured command
 * packet and submit it (one or more segments) on the carrier's link. Answers come back as
 * session events: submit_sm_resp (DISPATCHED), DLRs (DELIVERED, or FAILED when no PoR came),
 * MOs (reassembled, PoR opened with the card's keyset, applet response decoded). Correlation is
 * (MSISDN, TAR, CNTR), then txn.ref from the payload (1.3, 3.3), never the message_id.
 *
 * A transaction's keyset lives in its struct while it waits (the PoR's CC is checked with it)
 * and is wiped when it ends. Terminal events unlink the transaction before the engine hears
 * them, so the engine may call abandon() or start() from its callback. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "gw_hash.h"
#include "gw_sim.h"
#include "gw_sim_map.h"

#define REF_BUCKETS 4096u
#define ENDED_RING  512u
#define TAG_SLOTS   16u /* tag = ref * 16 + attempt * 8 + segment */
#define PKT_MAX     (SMSC_SEG_MAX * SMSC_UD_MAX)
#define TEXT_MAX    512u
#define SIG_DER_MAX 600u
#define CARRIER_MAX 32u
#define MSISDN_MAX  21u
#define TXN_ID_MAX  65u
#define FOREIGN_MAX 64u          /* answers waiting for their card's keyset */
#define FOREIGN_OP  (1ull << 63) /* reserve ops of those (a txn's op is ref << 1 | attempt) */

struct sim_txn {
	struct sim_txn *next_ref;          /* chain of its ref bucket */
	struct sim_txn *ms_prev, *ms_next; /* chain of its MSISDN bucket (MO correlation) */
	int64_t ref;
	char txn_id[TXN_ID_MAX]; /* the card is taken for it across nodes (ops.reserve) */
	char carrier[CARRIER_MAX];
	char msisdn[MSISDN_MAX]; /* E.164 digits */
	char mo_addr[MSISDN_MAX];
	uint64_t deadline_ms;
	uint8_t *kv1; /* the encoded request, exact size (a pending txn stays small, G5) */
	size_t kv1_len;
	struct gw_sim_keyset ks; /* secret: wiped at release */
	bool has_ks;
	bool reserving;
	uint64_t prev_cntr; /* the counter before a resync (its PoR 02 may still come) */
	unsigned attempt;   /* 0, then 1 after the counter resync */
	unsigned nseg;
	uint32_t acked; /* segments of the current attempt answered OK */
	bool dispatched, delivered, por_seen, awaiting_reported;
	bool partial_reported; /* GW_CHAN_PARTIAL told for this request */
};

/* Transactions that ended, kept without keys so that a late answer can be named (4). */
struct sim_ended {
	char msisdn[MSISDN_MAX];
	int64_t ref;
	uint64_t cntr;
	bool answered; /* the device's result arrived: a repeat of it is a duplicate */
};

/* A PoR from a card this node sent nothing to, while the store reads the card's keyset. */
struct sim_foreign {
	bool used;
	uint32_t id;
	char msisdn[MSISDN_MAX];
	uint8_t pkt[PKT_MAX];
	size_t len;
};

/* Keys and the kv1 payload (with the digest) are wiped before they are freed. */
static void
txn_wipe_free(struct sim_txn *t)
{
	if (t->kv1 != NULL)
		OPENSSL_cleanse(t->kv1, t->kv1_len);
	free(t->kv1);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

struct gw_sim {
	struct gw_sim_config cfg;
	const struct smsc_route_table *routes;
	struct gw_sim_ops ops;
	struct gw_channel *chan; /* the engine's view: on_event, engine */
	struct gw_channel chan_self;
	struct sim_txn *bucket[REF_BUCKETS];
	struct sim_txn *by_msisdn[REF_BUCKETS];
	size_t n;
	struct smsc_reasm *reasm;
	struct sim_ended ended[ENDED_RING];
	size_t ended_next;
	struct sim_foreign foreign[FOREIGN_MAX];
	uint32_t foreign_seq;
	uint8_t concat_ref;
	char detail[64]; /* the last event's raw signal (TELECOM.md 4 "raw"), valid during it */
	struct gw_sim_stats st;
};

/* ---- table ----------------------------------------------------------------------------- */

static size_t
ref_bucket(int64_t ref)
{
	return gw_hash_u64((uint64_t)ref) % REF_BUCKETS;
}

static size_t
msisdn_bucket(const char *m)
{
	return gw_hash_str(m) % REF_BUCKETS;
}

static struct sim_txn *
txn_find(const struct gw_sim *sim, int64_t ref)
{
	struct sim_txn *t;

	for (t = sim->bucket[ref_bucket(ref)]; t != NULL; t = t->next_ref)
		if (t->ref == ref)
			return t;
	return NULL;
}

static void
txn_link(struct gw_sim *sim, struct sim_txn *t)
{
	size_t b = ref_bucket(t->ref);
	struct sim_txn **head = &sim->by_msisdn[msisdn_bucket(t->msisdn)];

	t->next_ref = sim->bucket[b];
	sim->bucket[b] = t;
	t->ms_next = *head;
	t->ms_prev = NULL;
	if (*head != NULL)
		(*head)->ms_prev = t;
	*head = t;
	sim->n++;
}

static void
txn_unlink(struct gw_sim *sim, struct sim_txn *t)
{
	struct sim_txn **pp = &sim->bucket[ref_bucket(t->ref)];

	while (*pp != NULL && *pp != t)
		pp = &(*pp)->next_ref;
	if (*pp == t)
		*pp = t->next_ref;
	if (t->ms_prev != NULL)
		t->ms_prev->ms_next = t->ms_next;
	else
		sim->by_msisdn[msisdn_bucket(t->msisdn)] = t->ms_next;
	if (t->ms_next != NULL)
		t->ms_next->ms_prev = t->ms_prev;
	sim->n--;
}

/* Forgets t: remembered without keys for late answers, then wiped and freed. */
static void
txn_release(struct gw_sim *sim, struct sim_txn *t, bool answered)
{
	struct sim_ended *e = &sim->ended[sim->ended_next++ % ENDED_RING];
	unsigned i;

	memcpy(e->msisdn, t->msisdn, sizeof(e->msisdn));
	e->ref = t->ref;
	e->cntr = t->has_ks ? t->ks.counter : 0;
	e->answered = answered;
	for (i = 0; i < t->nseg && t->has_ks; i++)
		sim->ops.cancel(sim->ops.ctx, t->carrier,
		                (uint64_t)t->ref * TAG_SLOTS + t->attempt * 8u + i);
	txn_unlink(sim, t);
	txn_wipe_free(t);
}

static const struct sim_ended *
ended_find(const struct gw_sim *sim, const char *msisdn, bool by_cntr, uint64_t cntr)
{
	size_t i;

	/* newest first */
	for (i = 0; i < ENDED_RING; i++) {
		const struct sim_ended *e =
		        &sim->ended[(sim->ended_next + ENDED_RING - 1 - i) % ENDED_RING];

		if (e->ref != 0 && strcmp(e->msisdn, msisdn) == 0 && (!by_cntr || e->cntr == cntr))
			return e;
	}
	return NULL;
}

/* ---- events to the engine ----------------------------------------------------------------- */

static const char *raw(struct gw_sim *sim, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* The raw signal of an event in TELECOM.md 4's form: "smpp:0x0b", "dlr:UNDELIV", "por:01",
 * "applet:03 tr:12". */
static const char *
raw(struct gw_sim *sim, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sim->detail, sizeof(sim->detail), fmt, ap);
	va_end(ap);
	return sim->detail;
}

static void
emit(struct gw_sim *sim, enum gw_chan_event_kind kind, int64_t ref, const char *detail)
{
	struct gw_chan_event ev = {
		.kind = kind, .ref = ref, .retries_left = -1, .detail = detail
	};

	if (sim->chan->on_event != NULL)
		sim->chan->on_event(sim->chan->engine, &ev);
}

static void
fail(struct gw_sim *sim, struct sim_txn *t, int status, int sub, const char *detail)
{
	struct gw_chan_event ev = { .kind = GW_CHAN_FAILED,
		                    .ref = t->ref,
		                    .status = status,
		                    .sub = sub,
		                    .retries_left = -1,
		                    .detail = detail };

	sim->st.failed++;
	txn_release(sim, t, false);
	if (sim->chan->on_event != NULL)
		sim->chan->on_event(sim->chan->engine, &ev);
}

/* The card is on another node's request: nothing was sent, the engine starts this one again
 * later (ARCHITECTURE.md section 6, one request on a device at a time). */
static void
busy(struct gw_sim *sim, struct sim_txn *t)
{
	int64_t ref = t->ref;

	sim->st.busy++;
	txn_release(sim, t, false);
	emit(sim, GW_CHAN_BUSY, ref, "the card is on another node's request");
}

static void
late(struct gw_sim *sim, int64_t ref, const char *detail)
{
	sim->st.late++;
	emit(sim, GW_CHAN_LATE, ref, detail);
}

/* ---- start ------------------------------------------------------------------------------ */

/* What the phone shows: the engine's display (the AP prefix applied) with the verification code
 * in front unless the display carries it already (PROTOCOL.md section 4 `display`). */
static bool
compose_text(const struct gw_chan_request *req, char *out, size_t cap)
{
	const char *code = req->verification_code;
	int n;

	if (code == NULL || code[0] == '\0' || strstr(req->display, code) != NULL)
		n = snprintf(out, cap, "%s", req->display);
	else
		n = snprintf(out, cap, "%s %s", code, req->display);
	return n >= 0 && (size_t)n < cap;
}

static int
build_request(const struct gw_sim *sim, const struct gw_chan_request *req, struct sim_txn *t,
              int *status, int *sub)
{
	struct smsc_kv1_req k = { 0 };
	struct smsc_text_fit fit;
	char text[TEXT_MAX];
	uint8_t enc[TEXT_MAX * 2], kv1[SMSC_KV1_MAX];
	size_t dlen, elen;
	uint8_t alg;

	*status = 101;
	*sub = 1011;
	if (!gw_sim_hash_alg(req->hash_alg, &alg, &dlen) || req->to_sign == NULL ||
	    req->to_sign_len != dlen || req->display == NULL)
		return -1;
	if (!compose_text(req, text, sizeof(text)))
		goto too_long;
	/* The engine checked the budget; the channel only picks the coding (GSM-7 when possible).
	 */
	if (smsc_text_fit(text, strlen(text), dlen, SMSC_ALG_3DES2, SMSC_SEG_MAX, &fit) != SMSC_OK)
		return -1; /* invalid UTF-8 or outside the BMP: 101 */
	if (!fit.fits ||
	    smsc_text_encode(text, strlen(text), fit.dcs, enc, sizeof(enc), &elen) != SMSC_OK)
		goto too_long;
	k.txn_ref = (uint64_t)req->ref;
	k.key_ref = sim->cfg.key_ref;
	k.hash_alg = alg;
	k.hash = req->to_sign;
	k.hash_len = req->to_sign_len;
	k.dcs = (uint8_t)fit.dcs;
	k.text = enc;
	k.text_len = elen;
	if (smsc_kv1_req_encode(&k, kv1, sizeof(kv1), &t->kv1_len) != SMSC_OK)
		goto too_long;
	if ((t->kv1 = malloc(t->kv1_len)) == NULL) {
		OPENSSL_cleanse(kv1, t->kv1_len);
		*status = 900;
		*sub = 9005;
		return -1;
	}
	memcpy(t->kv1, kv1, t->kv1_len);
	OPENSSL_cleanse(kv1, t->kv1_len);
	return 0;
too_long:
	OPENSSL_cleanse(kv1, sizeof(kv1)); /* a partial encoding may hold the digest */
	*status = 103;
	*sub = 0;
	return -1;
}

static int
sim_start(void *self, const struct gw_chan_request *req, int *status, int *sub)
{
	struct gw_sim *sim = self;
	const struct smsc_carrier *car;
	struct sim_txn *t;
	int rc;

	*status = 209;
	*sub = 2093; /* no route, number unusable: "delivery failed" */
	if (req->ref <= 0 || req->msisdn == NULL ||
	    smsc_route_lookup(sim->routes, req->msisdn, &car) != SMSC_OK)
		return -1;
	if (txn_find(sim, req->ref) != NULL || sim->n >= sim->cfg.max_txns) {
		*status = 900;
		*sub = 9005;
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		*status = 900;
		*sub = 9005;
		return -1;
	}
	t->ref = req->ref;
	snprintf(t->txn_id, sizeof(t->txn_id), "%s", req->txn_id);
	t->deadline_ms = req->deadline_ms;
	snprintf(t->carrier, sizeof(t->carrier), "%s", car->name);
	snprintf(t->mo_addr, sizeof(t->mo_addr), "%s", car->mo_addr);
	if (smsc_msisdn_normalise(req->msisdn, car->country_code, car->national_prefix, t->msisdn,
	                          sizeof(t->msisdn)) != SMSC_OK ||
	    build_request(sim, req, t, status, sub) != 0) {
		txn_wipe_free(t);
		return -1;
	}
	txn_link(sim, t);
	t->reserving = true;
	if ((rc = sim->ops.reserve(sim->ops.ctx, (uint64_t)t->ref << 1, t->msisdn, 1, t->txn_id)) !=
	    0) {
		txn_release(sim, t, false);
		*status = 900;
		/* the counter cannot be written ahead: never submit without it */
		*sub = rc == -2 ? 9005 : 9002;
		return -1;
	}
	sim->st.started++;
	return 0;
}

static void
sim_abandon(void *self, int64_t ref)
{
	struct gw_sim *sim = self;
	struct sim_txn *t = txn_find(sim, ref);

	if (t != NULL)
		txn_release(sim, t, false);
}

void
gw_sim_channel(struct gw_sim *sim, struct gw_channel *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "sim";
	out->self = sim;
	out->start = sim_start;
	out->abandon = sim_abandon;
	sim->chan = out;
}

/* ---- submit ----------------------------------------------------------------------------- */

static uint32_t
validity_s(const struct gw_sim *sim, const struct sim_txn *t)
{
	uint64_t now = sim->ops.now_ms(sim->ops.ctx);
	/* The deadline runs on the scaled clock; the validity on the wire stays unscaled and a
	 * simulator on the same scale divides it again (ARCHITECTURE.md 8, TELECOM.md 5.4). */
	uint64_t left_ms = t->deadline_ms > now ? (t->deadline_ms - now) * sim->cfg.time_scale : 0;
	uint64_t left = (left_ms + 999) / 1000;

	return left > sim->cfg.validity_min_s ? (uint32_t)left : sim->cfg.validity_min_s;
}

/* Secures the request with the reserved counter and queues its segments (TELECOM.md 1.2, 2.1,
 * 2.4). -1: nothing usable was queued. */
static int
submit_packet(struct gw_sim *sim, struct sim_txn *t)
{
	struct smsc_ota_cmd cmd = { 0 };
	struct smsc_seg segs[SMSC_SEG_MAX];
	uint8_t pkt[PKT_MAX];
	size_t len, n, i;
	int rc = -1;

	cmd.spi1 = sim->cfg.spi1;
	cmd.spi2 = sim->cfg.spi2;
	cmd.kic = (uint8_t)(t->ks.kvn << 4 | t->ks.kic_alg);
	cmd.kid = (uint8_t)(t->ks.kvn << 4 | t->ks.kid_alg);
	memcpy(cmd.tar, t->ks.tar, 3);
	cmd.cntr = t->ks.counter;
	cmd.data = t->kv1;
	cmd.data_len = t->kv1_len;
	if (smsc_ota_cmd_build(&cmd, &t->ks.keys, pkt, sizeof(pkt), &len) != SMSC_OK ||
	    smsc_ota_segment(0x70, pkt, len, sim->concat_ref++, segs, SMSC_SEG_MAX, &n) != SMSC_OK)
		goto out;
	t->nseg = (unsigned)n;
	t->acked = 0;
	for (i = 0; i < n; i++) {
		struct smsc_submit m = {
			.dest_addr = t->msisdn,
			.source_addr = t->mo_addr,
			.source_ton = 1,
			.source_npi = 1,
			.esm_class = 0x40,
			.protocol_id = 0x7F,
			.data_coding = 0xF6,
			.registered_delivery = 0x01,
			.validity_s = validity_s(sim, t),
			.sm = segs[i].ud,
			.sm_len = segs[i].len,
			.deadline_ms = t->deadline_ms,
		};
		uint64_t tag = (uint64_t)t->ref * TAG_SLOTS + t->attempt * 8u + i;

		if (sim->ops.submit(sim->ops.ctx, t->carrier, tag, &m) != 0)
			goto out;
		sim->st.submits++;
	}
	rc = 0;
out:
	OPENSSL_cleanse(pkt, sizeof(pkt));
	OPENSSL_cleanse(segs, sizeof(segs));
	return rc;
}

static void foreign_done(struct gw_sim *sim, uint64_t op, enum gw_sim_store_rc rc,
                         const struct gw_sim_keyset *ks);

void
gw_sim_on_reserved(struct gw_sim *sim, uint64_t op, enum gw_sim_store_rc rc,
                   const struct gw_sim_keyset *ks)
{
	struct sim_txn *t;

	if ((op & FOREIGN_OP) != 0) {
		foreign_done(sim, op, rc, ks);
		return;
	}
	t = txn_find(sim, (int64_t)(op >> 1));
	if (t == NULL || !t->reserving || (op & 1u) != t->attempt)
		return; /* abandoned meanwhile: the reserved value is simply skipped (mode 10) */
	t->reserving = false;
	if (rc == GW_SIM_STORE_LOCKED) {
		busy(sim, t);
		return;
	}
	if (rc == GW_SIM_STORE_UNKNOWN) {
		fail(sim, t, 209, 2093, "no OTA keyset for this number");
		return;
	}
	if (rc != GW_SIM_STORE_OK || ks == NULL) {
		fail(sim, t, 900, 9002, "OTA counter not persisted");
		return;
	}
	OPENSSL_cleanse(&t->ks, sizeof(t->ks));
	t->ks = *ks;
	t->has_ks = true;
	if (submit_packet(sim, t) != 0)
		fail(sim, t, 209, 2093, "no link to the carrier");
}

/* PoR 02 on a packet the card saw once: jump the counter, persist, send the same request once
 * more under a new CNTR (TELECOM.md 2.3). */
static void
resync(struct gw_sim *sim, struct sim_txn *t)
{
	unsigned i;

	for (i = 0; i < t->nseg; i++)
		sim->ops.cancel(sim->ops.ctx, t->carrier,
		                (uint64_t)t->ref * TAG_SLOTS + t->attempt * 8u + i);
	t->prev_cntr = t->ks.counter; /* answers to it are stale from now on */
	t->attempt = 1;
	t->reserving = true;
	t->dispatched = false;
	sim->st.resyncs++;
	if (sim->ops.reserve(sim->ops.ctx, (uint64_t)t->ref << 1 | 1u, t->msisdn,
	                     sim->cfg.resync_step, t->txn_id) != 0)
		fail(sim, t, 900, 9002, "OTA counter not persisted");
}

/* ---- answers ------------------------------------------------------------------------------ */

/* The kyso-v1 response of an opened PoR as a SIGNED or FAILED event for its txn.ref (der holds
 * the signature). false: no usable answer, *why says what was wrong. */
static bool
applet_event(struct gw_sim *sim, const uint8_t *data, size_t len, struct gw_chan_event *ev,
             uint8_t *der, size_t der_cap, const char **why)
{
	struct smsc_kv1_rsp rsp;
	size_t der_len = 0;
	bool blocked;

	if (smsc_kv1_rsp_decode(data, len, &rsp) != SMSC_OK) {
		*why = "applet response malformed";
		return false;
	}
	ev->ref = (int64_t)rsp.txn_ref;
	if (rsp.has_pin_tries)
		ev->retries_left = rsp.pin_tries;
	if (gw_sim_applet_failure(&rsp, &ev->status, &ev->sub, &blocked)) {
		ev->kind = GW_CHAN_FAILED;
		ev->device_blocked = blocked;
		ev->detail = rsp.has_terminal_result ? raw(sim, "applet:%02x tr:%02x", rsp.status,
		                                           rsp.terminal_result)
		                                     : raw(sim, "applet:%02x", rsp.status);
		return true;
	}
	if (rsp.sig == NULL || rsp.sig_len == 0 ||
	    !gw_sim_sig_to_der(rsp.sig, rsp.sig_len, der, der_cap, &der_len)) {
		*why = "applet signature missing or malformed";
		return false;
	}
	ev->kind = GW_CHAN_SIGNED;
	ev->sig = der;
	ev->sig_len = der_len;
	ev->detail = "signed";
	return true;
}

static void
on_applet(struct gw_sim *sim, struct sim_txn *t, const uint8_t *data, size_t len)
{
	struct gw_chan_event ev = { .retries_left = -1 };
	uint8_t der[SIG_DER_MAX];
	const char *why = NULL;

	if (!applet_event(sim, data, len, &ev, der, sizeof(der), &why)) {
		fail(sim, t, 900, 9003, why);
		return;
	}
	if (ev.ref != t->ref) {
		fail(sim, t, 900, 9003, "txn.ref mismatch in the applet response");
		return;
	}
	if (ev.kind == GW_CHAN_FAILED)
		sim->st.failed++;
	else
		sim->st.signed_++;
	txn_release(sim, t, true);
	if (sim->chan->on_event != NULL)
		sim->chan->on_event(sim->chan->engine, &ev);
}

static void
on_por(struct gw_sim *sim, struct sim_txn *t, const struct smsc_ota_rsp *r, bool stale)
{
	int status, sub;

	switch (gw_sim_por_action(r->sts, &status, &sub)) {
	case GW_POR_USE:
		if (stale)
			return;
		if (r->data_len == 0) {
			t->por_seen = true;
			if (!t->awaiting_reported) {
				t->awaiting_reported = true;
				emit(sim, GW_CHAN_AWAITING_USER, t->ref, "por:00");
			}
			return;
		}
		on_applet(sim, t, r->data, r->data_len);
		return;
	case GW_POR_WAIT:
		if (!stale)
			t->por_seen = true;
		return;
	case GW_POR_RESYNC:
		/* The card refused a duplicate of a packet it ran (a PoR for this CNTR came
		 * before), or the pre-resync packet: keep waiting. */
		if (stale || t->por_seen)
			return;
		if (t->attempt > 0) {
			fail(sim, t, 900, 9004, "por:02 after the counter resync");
			return;
		}
		resync(sim, t);
		return;
	case GW_POR_FAIL:
		fail(sim, t, status, sub, raw(sim, "por:%02x", r->sts));
		return;
	}
}

/* No keyset to open it with: a late or repeated answer to a request of this node that ended,
 * else an unknown sender (acked and dropped, TELECOM.md 1.5). */
static void
answer_unknown(struct gw_sim *sim, const char *msisdn)
{
	const struct sim_ended *e = ended_find(sim, msisdn, false, 0);

	if (e == NULL)
		sim->st.mos_dropped++;
	else if (e->answered)
		sim->st.mos_dup++;
	else
		late(sim, e->ref, "late answer");
}

static bool foreign_start(struct gw_sim *sim, const char *msisdn, const uint8_t *pkt, size_t len);

/* A complete response packet from msisdn: find the transaction whose keyset opens it and
 * whose CNTR it echoes (TELECOM.md 1.3). */
static void
on_response_packet(struct gw_sim *sim, const char *msisdn, const uint8_t *pkt, size_t len)
{
	uint8_t work[PKT_MAX];
	struct smsc_ota_rsp r;
	struct sim_txn *t, *cc_bad = NULL, *live = NULL;
	const struct sim_ended *e;
	enum smsc_err orc;

	for (t = sim->by_msisdn[msisdn_bucket(msisdn)]; t != NULL; t = t->ms_next) {
		if (!t->has_ks || strcmp(t->msisdn, msisdn) != 0)
			continue;
		live = t;
		orc = smsc_ota_rsp_open(pkt, len, sim->cfg.spi2,
		                        (uint8_t)(t->ks.kvn << 4 | t->ks.kic_alg),
		                        (uint8_t)(t->ks.kvn << 4 | t->ks.kid_alg), &t->ks.keys,
		                        work, sizeof(work), &r);
		if (orc != SMSC_OK) {
			if (orc == SMSC_E_CC)
				cc_bad = t; /* garbage (STRUCT) is dropped, a wrong CC is an answer
				             */
			continue;
		}
		if (memcmp(r.tar, t->ks.tar, 3) != 0)
			continue;
		if ((t->attempt > 0 && r.cntr == t->prev_cntr) || r.cntr == t->ks.counter) {
			/* the replaced packet's answers are stale, also while the new counter is
			 * being reserved (ks still holds the old one then) */
			on_por(sim, t, &r, t->attempt > 0 && r.cntr == t->prev_cntr);
			OPENSSL_cleanse(work, sizeof(work));
			return;
		}
		/* Opened but another CNTR: a transaction of this card that ended? */
		if ((e = ended_find(sim, msisdn, true, r.cntr)) != NULL) {
			if (e->answered)
				sim->st.mos_dup++;
			else
				late(sim, e->ref, "late answer");
			OPENSSL_cleanse(work, sizeof(work));
			return;
		}
		OPENSSL_cleanse(work, sizeof(work));
		fail(sim, t, 900, 9003, "CNTR mismatch in the PoR");
		return;
	}
	OPENSSL_cleanse(work, sizeof(work));
	if (cc_bad != NULL) {
		sim->st.pors_bad++;
		fail(sim, cc_bad, 900, 9004, "PoR CC check failed");
		return;
	}
	/* Nothing waits here for this card: the request may have left from another node (its
	 * answer can come to any bind, ARCHITECTURE.md section 6). The card's keyset opens it. */
	if (live == NULL && foreign_start(sim, msisdn, pkt, len))
		return;
	if (live == NULL)
		answer_unknown(sim, msisdn);
	else
		sim->st.mos_dropped++; /* opens under no live keyset: acked and dropped (1.5) */
}

/* ---- answers to requests another node sent (ARCHITECTURE.md section 6) ------------------
 *
 * A PoR from a card nothing waits for here is kept while the store reads the card's keyset and
 * the counter value last written ahead (a reservation of 0 steps). It counts as the answer to
 * the latest request only when it opens under that keyset, names the keyset's TAR and echoes
 * that counter; its kyso-v1 response then names the txn.ref, and the engine finds the
 * transaction by it. Anything else is late or dropped as before. */

static bool
foreign_start(struct gw_sim *sim, const char *msisdn, const uint8_t *pkt, size_t len)
{
	struct sim_foreign *f = NULL;

	for (size_t i = 0; i < FOREIGN_MAX && f == NULL; i++)
		if (!sim->foreign[i].used)
			f = &sim->foreign[i];
	if (f == NULL || len > sizeof(f->pkt))
		return false; /* bounded: classified without the store */
	f->used = true;
	f->id = ++sim->foreign_seq;
	snprintf(f->msisdn, sizeof(f->msisdn), "%s", msisdn);
	memcpy(f->pkt, pkt, len);
	f->len = len;
	if (sim->ops.reserve(sim->ops.ctx, FOREIGN_OP | f->id, msisdn, 0, NULL) != 0) {
		OPENSSL_cleanse(f, sizeof(*f));
		return false;
	}
	return true;
}

/* The PoR opened under the card's keyset and echoing the counter written last: its answer. */
static void
foreign_answer(struct gw_sim *sim, const char *msisdn, const struct smsc_ota_rsp *r)
{
	struct gw_chan_event ev = { .retries_left = -1, .msisdn = msisdn };
	uint8_t der[SIG_DER_MAX];
	const char *why = NULL;
	int status, sub;

	if (gw_sim_por_action(r->sts, &status, &sub) != GW_POR_USE || r->data_len == 0) {
		/* an early PoR, a resync request or a PoR failure carries no txn.ref: the node
		 * that sent the request reads it on its own binds, or its deadline ends it */
		sim->st.mos_dropped++;
		return;
	}
	if (!applet_event(sim, r->data, r->data_len, &ev, der, sizeof(der), &why) || ev.ref <= 0) {
		sim->st.mos_dropped++;
		return;
	}
	sim->st.foreign++;
	if (sim->chan->on_event != NULL)
		sim->chan->on_event(sim->chan->engine, &ev);
}

static void
foreign_done(struct gw_sim *sim, uint64_t op, enum gw_sim_store_rc rc,
             const struct gw_sim_keyset *ks)
{
	uint8_t work[PKT_MAX];
	struct smsc_ota_rsp r;
	struct sim_foreign *f = NULL;
	const struct sim_ended *e;

	for (size_t i = 0; i < FOREIGN_MAX && f == NULL; i++)
		if (sim->foreign[i].used && sim->foreign[i].id == (uint32_t)(op & 0xFFFFFFFFu))
			f = &sim->foreign[i];
	if (f == NULL)
		return;
	if (rc != GW_SIM_STORE_OK || ks == NULL ||
	    smsc_ota_rsp_open(f->pkt, f->len, sim->cfg.spi2, (uint8_t)(ks->kvn << 4 | ks->kic_alg),
	                      (uint8_t)(ks->kvn << 4 | ks->kid_alg), &ks->keys, work, sizeof(work),
	                      &r) != SMSC_OK ||
	    memcmp(r.tar, ks->tar, 3) != 0) {
		answer_unknown(sim, f->msisdn);
	} else if ((e = ended_find(sim, f->msisdn, true, r.cntr)) != NULL) {
		if (e->answered)
			sim->st.mos_dup++; /* a repeat of an answer this node took */
		else
			late(sim, e->ref, "late answer");
	} else if (r.cntr != ks->counter) {
		sim->st.mos_dropped++; /* an older request's answer: its txn ended long ago */
	} else {
		foreign_answer(sim, f->msisdn, &r);
	}
	OPENSSL_cleanse(work, sizeof(work));
	OPENSSL_cleanse(f, sizeof(*f));
}

/* A segment of a concatenated answer from this card, the set still incomplete: its request
 * (one per card at a time) learns that the device answered. Should the rest never come, the
 * deadline ends it 209/2093 instead of 208 (TELECOM.md 4, "answer incomplete"). */
static void
on_partial_answer(struct gw_sim *sim, const char *msisdn)
{
	struct sim_txn *t;

	for (t = sim->by_msisdn[msisdn_bucket(msisdn)]; t != NULL; t = t->ms_next) {
		if (strcmp(t->msisdn, msisdn) != 0 || t->partial_reported)
			continue;
		t->partial_reported = true;
		emit(sim, GW_CHAN_PARTIAL, t->ref, "MO segment of an incomplete answer");
		return;
	}
}

static void
on_mo(struct gw_sim *sim, const char *carrier_name, struct smsc_session *ss,
      const struct smsc_event *ev)
{
	const struct smsc_pdu *p = ev->pdu;
	const struct smsc_carrier *car = NULL;
	const struct smsc_tlv *tlv;
	const uint8_t *ud;
	char src[SMSC_MSGID_MAX], msisdn[MSISDN_MAX];
	uint8_t pkt[PKT_MAX], iei = 0;
	size_t ud_len, len = 0;
	bool done = false;

	(void)carrier_name;
	sim->st.mos++;
	/* Acked at once: the answer is handled below before the loop moves on, and unusable
	 * content must not be redelivered forever (TELECOM.md 1.5). */
	if (smsc_session_mo_ack(ss, ev->seq, 0, sim->ops.now_ms(sim->ops.ctx)) != SMSC_OK)
		sim->st.mos_dropped++; /* the session answered it already (its ack timer) */
	if (ev->duplicate) {
		sim->st.mos_dup++;
		return;
	}
	ud = p->short_message;
	ud_len = p->sm_length;
	if (ud_len == 0 && (tlv = smsc_pdu_tlv(p, SMSC_TLV_MESSAGE_PAYLOAD)) != NULL) {
		ud = tlv->val;
		ud_len = tlv->len;
	}
	if ((p->esm_class & 0x40) == 0 || ud_len == 0 || p->source_addr_len == 0 ||
	    p->source_addr_len >= sizeof(src)) {
		sim->st.mos_dropped++;
		return;
	}
	memcpy(src, p->source_addr, p->source_addr_len);
	src[p->source_addr_len] = '\0';
	if (smsc_route_lookup(sim->routes, src, &car) != SMSC_OK ||
	    smsc_msisdn_normalise(src, car->country_code, car->national_prefix, msisdn,
	                          sizeof(msisdn)) != SMSC_OK) {
		sim->st.mos_dropped++;
		return;
	}
	switch (smsc_reasm_add(sim->reasm, msisdn, ud, ud_len, sim->ops.now_ms(sim->ops.ctx), pkt,
	                       sizeof(pkt), &len, &iei, &done)) {
	case SMSC_OK:
		break;
	case SMSC_E_DUP:
		sim->st.mos_dup++;
		return;
	default:
		sim->st.mos_dropped++;
		return;
	}
	if (done && iei == 0x71)
		on_response_packet(sim, msisdn, pkt, len);
	else if (done)
		sim->st.mos_dropped++;
	else
		on_partial_answer(sim, msisdn);
}

static struct sim_txn *
txn_by_tag(const struct gw_sim *sim, uint64_t tag, unsigned *seg)
{
	struct sim_txn *t;

	if (tag == 0 || (t = txn_find(sim, (int64_t)(tag / TAG_SLOTS))) == NULL)
		return NULL;
	if ((tag % TAG_SLOTS) / 8u != t->attempt || t->reserving)
		return NULL; /* an answer for the packet the resync replaced */
	*seg = (unsigned)(tag % 8u);
	return t;
}

static void
on_submit_ok(struct gw_sim *sim, const struct smsc_event *ev)
{
	unsigned seg;
	struct sim_txn *t = txn_by_tag(sim, ev->tag, &seg);

	if (t == NULL || seg >= t->nseg)
		return;
	t->acked |= 1u << seg;
	if (t->dispatched || t->acked != (1u << t->nseg) - 1u)
		return;
	t->dispatched = true;
	sim->st.dispatched++;
	emit(sim, t->attempt == 0 ? GW_CHAN_DISPATCHED : GW_CHAN_RESENT, t->ref,
	     t->attempt == 0 ? "submit_sm_resp" : "counter resync");
}

static void
on_submit_fail(struct gw_sim *sim, const struct smsc_event *ev)
{
	unsigned seg;
	struct sim_txn *t = txn_by_tag(sim, ev->tag, &seg);

	if (t == NULL || t->por_seen)
		return;
	switch (ev->cls) {
	case SMSC_CLASS_PERMANENT:
	case SMSC_CLASS_OUR_BUG:
	case SMSC_CLASS_CONFIG:
		fail(sim, t, 209, 2093, raw(sim, "smpp:0x%02x", ev->status));
		return;
	default:
		/* Temporary classes are requeued by the session; a failure here means the deadline
		 * passed while queued: the engine's deadline answers 208/2081 (TELECOM.md 4). */
		return;
	}
}

static void
on_dlr(struct gw_sim *sim, const struct smsc_event *ev)
{
	unsigned seg;
	struct sim_txn *t;

	sim->st.dlrs++;
	if ((t = txn_by_tag(sim, ev->tag, &seg)) == NULL || ev->dlr == NULL)
		return; /* unknown id after the orphan wait: recorded by the counters, ignored */
	switch (ev->dlr->state) {
	case SMSC_MS_DELIVERED:
		if (t->delivered)
			return;
		t->delivered = true;
		sim->st.delivered++;
		emit(sim, GW_CHAN_DELIVERED, t->ref, "dlr:DELIVRD");
		return;
	case SMSC_MS_UNDELIVERABLE:
	case SMSC_MS_EXPIRED:
	case SMSC_MS_REJECTED:
	case SMSC_MS_DELETED:
		/* advisory: it ends the transaction only when no PoR has arrived (TELECOM.md 4) */
		if (!t->por_seen)
			fail(sim, t, 209, 2093,
			     raw(sim, "dlr:%s", smsc_msg_state_name(ev->dlr->state)));
		return;
	default:
		return;
	}
}

void
gw_sim_on_link_event(struct gw_sim *sim, const char *carrier, struct smsc_session *session,
                     const struct smsc_event *ev)
{
	switch (ev->kind) {
	case SMSC_EV_SUBMIT_OK:
		on_submit_ok(sim, ev);
		break;
	case SMSC_EV_SUBMIT_FAIL:
		on_submit_fail(sim, ev);
		break;
	case SMSC_EV_DLR:
		on_dlr(sim, ev);
		break;
	case SMSC_EV_MO:
		on_mo(sim, carrier, session, ev);
		break;
	default:
		break;
	}
}

/* ---- life ------------------------------------------------------------------------------- */

struct gw_sim *
gw_sim_new(const struct gw_sim_config *cfg, const struct smsc_route_table *routes,
           const struct gw_sim_ops *ops)
{
	struct gw_sim *sim;

	if (routes == NULL || ops == NULL || ops->reserve == NULL || ops->submit == NULL ||
	    ops->cancel == NULL || ops->now_ms == NULL)
		return NULL;
	if ((sim = calloc(1, sizeof(*sim))) == NULL)
		return NULL;
	sim->cfg = *cfg;
	if (sim->cfg.key_ref == 0)
		sim->cfg.key_ref = 1;
	if (sim->cfg.resync_step == 0)
		sim->cfg.resync_step = 1000;
	if (sim->cfg.spi1 == 0 && sim->cfg.spi2 == 0) {
		sim->cfg.spi1 = 0x16;
		sim->cfg.spi2 = 0x39;
	}
	if (sim->cfg.max_txns == 0)
		sim->cfg.max_txns = 100000;
	if (sim->cfg.reasm_sets == 0)
		sim->cfg.reasm_sets = 1024;
	if (sim->cfg.reasm_ttl_ms == 0)
		sim->cfg.reasm_ttl_ms = 120000;
	if (sim->cfg.validity_min_s == 0)
		sim->cfg.validity_min_s = 60;
	if (sim->cfg.time_scale == 0)
		sim->cfg.time_scale = 1;
	sim->routes = routes;
	sim->ops = *ops;
	sim->chan = &sim->chan_self;
	if (smsc_reasm_new(sim->cfg.reasm_sets, sim->cfg.reasm_sets * SMSC_SEG_MAX * SMSC_UD_MAX,
	                   sim->cfg.reasm_ttl_ms, &sim->reasm) != SMSC_OK) {
		free(sim);
		return NULL;
	}
	return sim;
}

void
gw_sim_free(struct gw_sim *sim)
{
	if (sim == NULL)
		return;
	for (size_t b = 0; b < REF_BUCKETS; b++)
		while (sim->bucket[b] != NULL) {
			struct sim_txn *t = sim->bucket[b];

			txn_unlink(sim, t);
			txn_wipe_free(t);
		}
	smsc_reasm_free(sim->reasm);
	free(sim);
}

void
gw_sim_tick(struct gw_sim *sim)
{
	(void)smsc_reasm_expire(sim->reasm, sim->ops.now_ms(sim->ops.ctx));
}

void
gw_sim_stats_get(const struct gw_sim *sim, struct gw_sim_stats *out)
{
	*out = sim->st;
}

size_t
gw_sim_waiting(const struct gw_sim *sim)
{
	return sim->n;
}
