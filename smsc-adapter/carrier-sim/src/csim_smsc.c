/* csim_smsc.c -- the SMSC half of kyso-carrier-sim (TELECOM.md 5.1), sans-I/O: server-side
 * SMPP 3.4 sessions on the shared PDU codec, store-and-forward or forward delivery of MT OTA
 * to the farm's handsets, DLRs, and MO delivery with its own window, timeout and redelivery.
 * One timer heap drives everything in simulated milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csim_int.h"

#define CONN_IN_MAX     (2u * SMSC_PDU_MAX_DEF)
#define MO_WINDOW_MAX   64u
#define DEF_VALIDITY_MS 120000u
#define MT_DELAY_MIN    1000u /* TELECOM.md 3.5: MT delivery uniform 1-5 s */
#define MT_DELAY_MAX    5000u
#define SMSC_NAME       "KYSOSIM"

enum tkind {
	T_RESP = 1,       /* submit_sm_resp due */
	T_ATTEMPT = 2,    /* MT delivery attempt to the handset */
	T_DV_READY = 3,   /* deliver_sm may go out */
	T_DV_TIMEOUT = 4, /* deliver_sm_resp not received in time */
};

struct timer {
	uint64_t at, seq;
	uint32_t idx, gen, aux;
	uint8_t kind;
};

struct pool {
	void **item;
	uint32_t *gen;
	uint32_t *free_idx;
	size_t nfree, n, cap, max;
};

struct mt {
	uint32_t idx, gen;
	uint32_t conn, seq;
	int acct;
	uint64_t msgid;
	char msgid_s[24];
	char dest[CSIM_MSISDN_MAX + 1], src[CSIM_MSISDN_MAX + 1];
	uint8_t ud[SMSC_SM_MAX];
	size_t len;
	bool forward, want_dlr, hold_resp, resp_sent, finished;
	unsigned attempt;
	uint64_t submit_at, validity_end;
};

struct dv { /* one deliver_sm: MO or DLR */
	uint32_t idx, gen;
	int acct;
	uint8_t esm;
	char src[CSIM_MSISDN_MAX + 1], dst[CSIM_MSISDN_MAX + 1];
	uint8_t sm[SMSC_SM_MAX];
	size_t sm_len;
	char rid[SMSC_MSGID_MAX + 2]; /* receipted_message_id, NUL included on the wire */
	uint8_t mstate;
	bool inflight;
	uint32_t conn, seq, tries;
	uint32_t qnext; /* ready-queue link, UINT32_MAX = end */
};

enum cstate {
	C_FREE = 0,
	C_OPEN = 1,
	C_BOUND = 2,
};

struct conn {
	enum cstate st;
	uint32_t gen;
	bool tx, rx;
	int acct;
	char system_type[13]; /* from its bind */
	uint8_t in[CONN_IN_MAX];
	size_t in_len;
	uint32_t seq;
	uint32_t outstanding; /* submit_sm not yet answered */
	uint32_t inflight_n;
	uint32_t inflight[MO_WINDOW_MAX]; /* dv indexes */
};

struct account {
	struct csim_account_cfg cfg;
	uint32_t binds;
	uint64_t submits;
	uint32_t qhead, qtail; /* ready deliver_sm */
	size_t qlen;
	unsigned rr;
};

struct csim {
	struct csim_cfg cfg;
	struct csim_farm *farm;
	csim_send_fn *send;
	csim_close_fn *close_fn;
	void *arg;
	struct account acct[CSIM_MAX_ACCOUNTS];
	size_t n_acct;
	struct conn conns[CSIM_MAX_CONNS];
	struct pool mts, dvs;
	struct timer *heap;
	size_t heap_n, heap_cap;
	uint64_t tseq, now, next_msgid, rng;
	int cur_acct; /* account of the MT being delivered (routes the card's MO) */
	char *state_file;
	struct csim_stats st;
};

void
csim_knobs_default(struct csim_knobs *k)
{
	memset(k, 0, sizeof(*k));
	k->window = 10;
	k->resp_delay_ms = 5;
	k->dlr = true;
	k->dlr_text_decimal = true;
	k->retry_ms[0] = 3000;
	k->retry_ms[1] = 3000;
	k->n_retry = 2;
	k->mo_window = 10;
	k->mo_resp_timeout_ms = 30000;
	k->mo_retry_ms = 1000;
}

void
csim_cfg_default(struct csim_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->farm.prefix = "8490";
	cfg->farm.seed = 1;
	cfg->farm.auto_create = true;
	cfg->epoch_s = 1704110400; /* 2024-01-01 12:00 UTC */
}

/* ---- pools of MT and deliver_sm records: index + generation handles ---- */

static void *
pool_alloc(struct pool *p, size_t size, uint32_t *idx)
{
	void *it;
	uint32_t i;

	if (p->nfree == 0 && p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 256;
		void **ni;
		uint32_t *ng, *nf;

		if (p->cap >= p->max)
			return NULL;
		if (nc > p->max)
			nc = p->max;
		ni = realloc(p->item, nc * sizeof(*ni));
		if (ni == NULL)
			return NULL;
		p->item = ni;
		ng = realloc(p->gen, nc * sizeof(*ng));
		if (ng == NULL)
			return NULL;
		p->gen = ng;
		nf = realloc(p->free_idx, nc * sizeof(*nf));
		if (nf == NULL)
			return NULL;
		p->free_idx = nf;
		p->cap = nc;
	}
	if ((it = calloc(1, size)) == NULL)
		return NULL;
	if (p->nfree > 0) {
		i = p->free_idx[--p->nfree];
	} else {
		i = (uint32_t)p->n++;
		p->gen[i] = 0;
	}
	p->item[i] = it;
	*idx = i;
	return it;
}

static void *
pool_get(const struct pool *p, uint32_t idx, uint32_t gen)
{
	if (idx >= p->n || p->item[idx] == NULL || p->gen[idx] != gen)
		return NULL;
	return p->item[idx];
}

static void
pool_put(struct pool *p, uint32_t idx)
{
	free(p->item[idx]);
	p->item[idx] = NULL;
	p->gen[idx]++;
	p->free_idx[p->nfree++] = idx;
}

static size_t
pool_used(const struct pool *p)
{
	return p->n - p->nfree;
}

static void
pool_free_all(struct pool *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->item[i]);
	free(p->item);
	free(p->gen);
	free(p->free_idx);
}

/* ---- timer heap ---- */

static bool
t_less(const struct timer *a, const struct timer *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
t_push(struct csim *c, uint8_t kind, uint32_t idx, uint32_t gen, uint32_t aux, uint64_t at)
{
	size_t i;

	if (c->heap_n == c->heap_cap) {
		size_t nc = c->heap_cap ? c->heap_cap * 2 : 1024;
		struct timer *nh = realloc(c->heap, nc * sizeof(*nh));

		if (nh == NULL)
			return; /* the record stays until its owner frees it; counted nowhere */
		c->heap = nh;
		c->heap_cap = nc;
	}
	i = c->heap_n++;
	c->heap[i] = (struct timer){ at, ++c->tseq, idx, gen, aux, kind };
	while (i > 0 && t_less(&c->heap[i], &c->heap[(i - 1) / 2])) {
		struct timer t = c->heap[i];

		c->heap[i] = c->heap[(i - 1) / 2];
		c->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct timer
t_pop(struct csim *c)
{
	struct timer top = c->heap[0];
	size_t i = 0;

	c->heap[0] = c->heap[--c->heap_n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct timer t;

		if (l < c->heap_n && t_less(&c->heap[l], &c->heap[m]))
			m = l;
		if (r < c->heap_n && t_less(&c->heap[r], &c->heap[m]))
			m = r;
		if (m == i)
			break;
		t = c->heap[i];
		c->heap[i] = c->heap[m];
		c->heap[m] = t;
		i = m;
	}
	return top;
}

uint64_t
csim_next_deadline(const struct csim *c)
{
	return c->heap_n ? c->heap[0].at : UINT64_MAX;
}

/* ---- connections ---- */

static uint32_t
conn_handle(const struct csim *c, const struct conn *k)
{
	return (k->gen << 8) | (uint32_t)(k - c->conns);
}

static struct conn *
conn_get(struct csim *c, uint32_t h)
{
	struct conn *k;

	if ((h & 0xFF) >= CSIM_MAX_CONNS)
		return NULL;
	k = &c->conns[h & 0xFF];
	return k->st != C_FREE && k->gen == (h >> 8) ? k : NULL;
}

static uint32_t
next_seq(struct conn *k)
{
	k->seq = k->seq >= 0x7FFFFFFFu ? 1 : k->seq + 1;
	return k->seq;
}

static void
emit(struct csim *c, struct conn *k, const struct smsc_pdu *p)
{
	uint8_t buf[SMSC_PDU_MAX_DEF];
	size_t n;

	if (smsc_pdu_encode(p, buf, sizeof(buf), &n) == SMSC_OK)
		c->send(c->arg, conn_handle(c, k), buf, n);
}

static void
emit_hdr(struct csim *c, struct conn *k, uint32_t id, uint32_t status, uint32_t seq)
{
	struct smsc_pdu p = { .command_id = id, .command_status = status, .sequence = seq };

	if (id == SMSC_CMD_GENERIC_NACK)
		c->st.nacks++;
	emit(c, k, &p);
}

static void pump(struct csim *c, int acct);
static void dv_ready(struct csim *c, struct dv *d);

/* Forget a connection: its in-flight deliver_sm go back to their queue. */
static void
conn_drop(struct csim *c, struct conn *k)
{
	uint32_t i;
	int acct = k->acct;

	for (i = 0; i < k->inflight_n; i++) {
		struct dv *d = c->dvs.item[k->inflight[i]];

		if (d != NULL) {
			d->inflight = false;
			dv_ready(c, d);
		}
	}
	if (k->st == C_BOUND && acct >= 0 && c->acct[acct].binds > 0)
		c->acct[acct].binds--;
	k->st = C_FREE;
	k->gen = (k->gen + 1) & 0xFFFFFF;
	k->in_len = 0;
	k->inflight_n = 0;
	if (c->st.conns > 0)
		c->st.conns--;
	if (acct >= 0)
		pump(c, acct);
}

static void
conn_close(struct csim *c, struct conn *k)
{
	uint32_t h = conn_handle(c, k);

	conn_drop(c, k);
	c->close_fn(c->arg, h);
}

enum csim_err
csim_conn_open(struct csim *c, uint64_t now_ms, uint32_t *out)
{
	size_t i;

	c->now = now_ms > c->now ? now_ms : c->now;
	for (i = 0; i < CSIM_MAX_CONNS; i++) {
		struct conn *k = &c->conns[i];

		if (k->st != C_FREE)
			continue;
		k->st = C_OPEN;
		k->tx = k->rx = false;
		k->acct = -1;
		k->system_type[0] = '\0';
		k->seq = 0;
		k->outstanding = 0;
		c->st.conns++;
		*out = conn_handle(c, k);
		return CSIM_OK;
	}
	return CSIM_E_FULL;
}

void
csim_conn_gone(struct csim *c, uint32_t conn, uint64_t now_ms)
{
	struct conn *k = conn_get(c, conn);

	c->now = now_ms > c->now ? now_ms : c->now;
	if (k != NULL)
		conn_drop(c, k);
}

/* ---- deliver_sm (MO and DLR) ---- */

static struct dv *
dv_new(struct csim *c, int acct)
{
	uint32_t idx;
	struct dv *d = pool_alloc(&c->dvs, sizeof(*d), &idx);

	if (d == NULL)
		return NULL;
	d->idx = idx;
	d->gen = c->dvs.gen[idx];
	d->acct = acct;
	d->qnext = UINT32_MAX;
	return d;
}

static void
dv_ready(struct csim *c, struct dv *d)
{
	struct account *a = &c->acct[d->acct];

	d->qnext = UINT32_MAX;
	if (a->qlen == 0)
		a->qhead = d->idx;
	else
		((struct dv *)c->dvs.item[a->qtail])->qnext = d->idx;
	a->qtail = d->idx;
	a->qlen++;
}

static bool
conn_takes(const struct conn *k, int acct)
{
	return k->st == C_BOUND && k->rx && k->acct == acct;
}

/* mo_system_type: an MO goes only to binds of that system_type while one is bound. */
static bool
mo_routed(const struct csim *c, int acct, const struct dv *d)
{
	const char *want = c->acct[acct].cfg.knobs.mo_system_type;

	if (d->esm == 0x04 || want[0] == '\0')
		return false;
	for (unsigned i = 0; i < CSIM_MAX_CONNS; i++)
		if (conn_takes(&c->conns[i], acct) && strcmp(c->conns[i].system_type, want) == 0)
			return true;
	return false;
}

static struct conn *
pick_receiver(struct csim *c, int acct, const struct dv *d)
{
	struct account *a = &c->acct[acct];
	bool routed = mo_routed(c, acct, d);
	unsigned i;

	for (i = 0; i < CSIM_MAX_CONNS; i++) {
		struct conn *k = &c->conns[(a->rr + i) % CSIM_MAX_CONNS];

		if (conn_takes(k, acct) && k->inflight_n < a->cfg.knobs.mo_window &&
		    k->inflight_n < MO_WINDOW_MAX &&
		    (!routed || strcmp(k->system_type, a->cfg.knobs.mo_system_type) == 0)) {
			a->rr = (a->rr + i + 1) % CSIM_MAX_CONNS;
			return k;
		}
	}
	return NULL;
}

static void
send_deliver(struct csim *c, struct conn *k, struct dv *d)
{
	struct smsc_pdu p = { .command_id = SMSC_CMD_DELIVER_SM };
	uint8_t state = d->mstate;

	p.sequence = next_seq(k);
	p.source_addr_ton = p.source_addr_npi = 1;
	p.source_addr = d->src;
	p.source_addr_len = strlen(d->src);
	p.dest_addr_ton = p.dest_addr_npi = 1;
	p.dest_addr = d->dst;
	p.dest_addr_len = strlen(d->dst);
	p.esm_class = d->esm;
	p.short_message = d->sm;
	p.sm_length = d->sm_len;
	if (d->esm == 0x04) { /* receipt: TLVs 001E and 0427 (TELECOM.md 1.3) */
		p.tlv[0] = (struct smsc_tlv){ SMSC_TLV_RECEIPTED_MESSAGE_ID,
			                      (uint16_t)(strlen(d->rid) + 1),
			                      (const uint8_t *)d->rid };
		p.tlv[1] = (struct smsc_tlv){ SMSC_TLV_MESSAGE_STATE, 1, &state };
		p.tlv_count = 2;
	} else {
		p.protocol_id = 0x7F;
		p.data_coding = 0xF6;
	}
	d->inflight = true;
	d->conn = conn_handle(c, k);
	d->seq = p.sequence;
	d->tries++;
	k->inflight[k->inflight_n++] = d->idx;
	t_push(c, T_DV_TIMEOUT, d->idx, d->gen, d->tries,
	       c->now + c->acct[d->acct].cfg.knobs.mo_resp_timeout_ms);
	if (d->tries > 1)
		c->st.mos_retried++;
	if (d->esm == 0x04)
		c->st.dlrs++;
	else
		c->st.mos_sent++;
	emit(c, k, &p);
}

/* Sends what the account's receivers have room for, in order (TELECOM.md 5.1: window 10). */
static void
pump(struct csim *c, int acct)
{
	struct account *a = &c->acct[acct];

	while (a->qlen > 0) {
		struct dv *d = c->dvs.item[a->qhead];
		struct conn *k = pick_receiver(c, acct, d);

		if (k == NULL)
			return;
		a->qhead = d->qnext;
		a->qlen--;
		send_deliver(c, k, d);
	}
}

static void
inflight_remove(struct conn *k, uint32_t idx)
{
	uint32_t i;

	for (i = 0; i < k->inflight_n; i++)
		if (k->inflight[i] == idx) {
			k->inflight[i] = k->inflight[--k->inflight_n];
			return;
		}
}

static struct dv *
inflight_find(struct csim *c, struct conn *k, uint32_t seq)
{
	uint32_t i;

	for (i = 0; i < k->inflight_n; i++) {
		struct dv *d = c->dvs.item[k->inflight[i]];

		if (d != NULL && d->seq == seq)
			return d;
	}
	return NULL;
}

static void
on_deliver_resp(struct csim *c, struct conn *k, uint32_t seq, uint32_t status)
{
	struct dv *d = inflight_find(c, k, seq);

	if (d == NULL)
		return; /* late answer after a timeout: the redelivery stands */
	inflight_remove(k, d->idx);
	d->inflight = false;
	if (status == 0) {
		if (d->esm != 0x04)
			c->st.mos_acked++;
		pool_put(&c->dvs, d->idx);
	} else { /* 64 or anything else: redeliver later */
		t_push(c, T_DV_READY, d->idx, d->gen, 0,
		       c->now + c->acct[d->acct].cfg.knobs.mo_retry_ms);
	}
	pump(c, k->acct);
}

/* The farm's MO: the card's PoR segment leaves the handset at at_ms. */
static void
farm_mo(void *arg, const struct csim_sim *sim, const char *reply_to, const uint8_t *ud, size_t len,
        uint64_t at_ms)
{
	struct csim *c = arg;
	struct dv *d;

	if (c->cur_acct < 0 || len > SMSC_SM_MAX || (d = dv_new(c, c->cur_acct)) == NULL)
		return;
	d->esm = 0x40;
	snprintf(d->src, sizeof(d->src), "%s", sim->msisdn);
	snprintf(d->dst, sizeof(d->dst), "%s", reply_to);
	memcpy(d->sm, ud, len);
	d->sm_len = len;
	t_push(c, T_DV_READY, d->idx, d->gen, 0, at_ms);
}

/* ---- MT: submit_sm, store-and-forward, DLR ---- */

static void
dlr_date(const struct csim *c, uint64_t ms, bool twelve, char out[16])
{
	time_t t = (time_t)(c->cfg.epoch_s + ms / 1000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (twelve) {
		snprintf(out, 16, "%02u%02u%02u%02u%02u%02u", (unsigned)tm.tm_year % 100u,
		         (unsigned)tm.tm_mon % 12u + 1u, (unsigned)tm.tm_mday % 32u,
		         (unsigned)tm.tm_hour % 24u, (unsigned)tm.tm_min % 60u,
		         (unsigned)tm.tm_sec % 61u);
		return;
	}
	snprintf(out, 16, "%02u%02u%02u%02u%02u", (unsigned)tm.tm_year % 100u,
	         (unsigned)tm.tm_mon % 12u + 1u, (unsigned)tm.tm_mday % 32u,
	         (unsigned)tm.tm_hour % 24u, (unsigned)tm.tm_min % 60u);
}

static void
send_dlr(struct csim *c, struct mt *m, enum smsc_msg_state state)
{
	static const char *const stat[] = { "",        "ENROUTE", "DELIVRD", "EXPIRED", "DELETED",
		                            "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD" };
	const struct csim_knobs *kn = &c->acct[m->acct].cfg.knobs;
	char sub[16], done[16], id[24];
	struct dv *d = dv_new(c, m->acct);
	int n;

	if (d == NULL)
		return;
	if (kn->dlr_text_decimal)
		snprintf(id, sizeof(id), "%llu", (unsigned long long)m->msgid);
	else
		snprintf(id, sizeof(id), "%s", m->msgid_s);
	dlr_date(c, m->submit_at, kn->dlr_date12, sub);
	dlr_date(c, c->now, kn->dlr_date12, done);
	n = snprintf((char *)d->sm, sizeof(d->sm),
	             "id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s %s:", id,
	             state == SMSC_MS_DELIVERED ? "001" : "000", sub, done, stat[state],
	             state == SMSC_MS_DELIVERED ? "000" : "001",
	             kn->dlr_text_caps ? "Text" : "text");
	d->sm_len = n > 0 && (size_t)n < sizeof(d->sm) ? (size_t)n : 0;
	d->esm = 0x04;
	snprintf(d->src, sizeof(d->src), "%s", m->dest);
	snprintf(d->dst, sizeof(d->dst), "%s", m->src);
	snprintf(d->rid, sizeof(d->rid), "%s", m->msgid_s);
	d->mstate = (uint8_t)state;
	dv_ready(c, d);
	if (kn->dlr_duplicate) {
		struct dv *twin = dv_new(c, m->acct);

		if (twin != NULL) {
			uint32_t idx = twin->idx, gen = twin->gen;

			*twin = *d;
			twin->idx = idx;
			twin->gen = gen;
			twin->qnext = UINT32_MAX;
			dv_ready(c, twin);
		}
	}
	pump(c, m->acct);
}

static void
mt_free(struct csim *c, struct mt *m)
{
	struct csim_sim *s = csim_farm_find(c->farm, m->dest);

	if (s != NULL && s->mt_queued > 0)
		s->mt_queued--;
	pool_put(&c->mts, m->idx);
}

static void
send_submit_resp(struct csim *c, struct mt *m, uint32_t status)
{
	struct conn *k = conn_get(c, m->conn);
	struct smsc_pdu p = { .command_id = SMSC_CMD_SUBMIT_SM_RESP, .command_status = status };

	m->resp_sent = true;
	if (k == NULL)
		return;
	if (k->outstanding > 0)
		k->outstanding--;
	p.sequence = m->seq;
	p.message_id = m->msgid_s;
	p.message_id_len = strlen(m->msgid_s);
	if (status == 0)
		c->st.resp_ok++;
	else
		c->st.resp_err++;
	emit(c, k, &p);
}

static void
mt_finish(struct csim *c, struct mt *m, enum smsc_msg_state state)
{
	if (state == SMSC_MS_DELIVERED)
		c->st.delivered++;
	else if (state == SMSC_MS_EXPIRED)
		c->st.expired++;
	else
		c->st.undeliverable++;
	m->finished = true;
	if (m->forward) { /* TELECOM.md 5.1 forward mode: resp held until the handset outcome */
		send_submit_resp(c, m, state == SMSC_MS_DELIVERED ? 0 : SMSC_ST_RDELIVERYFAILURE);
	} else {
		if (m->want_dlr)
			send_dlr(c, m, state);
		if (m->hold_resp)
			send_submit_resp(c, m, 0);
	}
	if (m->resp_sent)
		mt_free(c, m);
}

static void
mt_attempt(struct csim *c, struct mt *m)
{
	const struct csim_knobs *kn = &c->acct[m->acct].cfg.knobs;
	struct csim_sim *s = csim_farm_find(c->farm, m->dest);
	enum csim_dl dl;

	if (c->now >= m->validity_end) {
		mt_finish(c, m, SMSC_MS_EXPIRED);
		return;
	}
	if (s == NULL) {
		mt_finish(c, m, SMSC_MS_UNDELIVERABLE);
		return;
	}
	c->cur_acct = m->acct;
	dl = csim_farm_deliver(c->farm, s, m->ud, m->len, m->src, m->attempt, m->validity_end,
	                       c->now);
	c->cur_acct = -1;
	if (dl == CSIM_DL_OK) {
		mt_finish(c, m, SMSC_MS_DELIVERED);
	} else if ((dl == CSIM_DL_BUSY || dl == CSIM_DL_ABSENT) && m->attempt < kn->n_retry) {
		t_push(c, T_ATTEMPT, m->idx, m->gen, 0, c->now + kn->retry_ms[m->attempt]);
		m->attempt++;
	} else {
		mt_finish(c, m, SMSC_MS_UNDELIVERABLE);
	}
}

static int
two(const char *p)
{
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* SMPP 3.4 7.1.1: relative "YYMMDDhhmmss000R"; absolute times and garbage get the default. */
static uint64_t
validity_ms(const struct smsc_pdu *p)
{
	const char *v = p->validity_period;
	size_t i;
	uint64_t s;

	if (p->validity_period_len != 16 || v[15] != 'R')
		return DEF_VALIDITY_MS;
	for (i = 0; i < 12; i++)
		if (v[i] < '0' || v[i] > '9')
			return DEF_VALIDITY_MS;
	s = (uint64_t)two(v) * 365 * 86400 + (uint64_t)two(v + 2) * 30 * 86400 +
	    (uint64_t)two(v + 4) * 86400 + (uint64_t)two(v + 6) * 3600 + (uint64_t)two(v + 8) * 60 +
	    (uint64_t)two(v + 10);
	return s * 1000u;
}

static void
copy_addr(char *dst, const char *src, size_t len)
{
	if (len > 0 && src[0] == '+') {
		src++;
		len--;
	}
	if (len > CSIM_MSISDN_MAX)
		len = CSIM_MSISDN_MAX;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

static bool
instant(const struct csim *c)
{
	return csim_farm_mode(c->farm) == CSIM_MODE_INSTANT;
}

static void
on_submit(struct csim *c, struct conn *k, const struct smsc_pdu *p)
{
	struct account *a;
	const struct csim_knobs *kn;
	struct csim_sim *s;
	char dest[CSIM_MSISDN_MAX + 1];
	struct mt *m;
	uint32_t idx;
	uint64_t delay;

	if (k->st != C_BOUND || !k->tx) {
		emit_hdr(c, k, SMSC_CMD_SUBMIT_SM_RESP, SMSC_ST_RINVBNDSTS, p->sequence);
		return;
	}
	a = &c->acct[k->acct];
	kn = &a->cfg.knobs;
	c->st.submits++;
	a->submits++;
	copy_addr(dest, p->dest_addr, p->dest_addr_len);
	if (kn->throttle_every_n > 0 && a->submits % kn->throttle_every_n == 0) {
		c->st.throttled++;
		emit_hdr(c, k, SMSC_CMD_SUBMIT_SM_RESP, SMSC_ST_RTHROTTLED, p->sequence);
		return;
	}
	if (kn->reject_every_n > 0 && a->submits % kn->reject_every_n == 0) {
		c->st.resp_err++;
		emit_hdr(c, k, SMSC_CMD_SUBMIT_SM_RESP, kn->reject_status, p->sequence);
		return;
	}
	if (kn->firewall && p->protocol_id == 0x7F && p->data_coding == 0xF6) {
		c->st.resp_err++;
		emit_hdr(c, k, SMSC_CMD_SUBMIT_SM_RESP, SMSC_ST_RSUBMITFAIL, p->sequence);
		return;
	}
	if (k->outstanding >= kn->window) {
		c->st.throttled++;
		emit_hdr(c, k, SMSC_CMD_SUBMIT_SM_RESP, SMSC_ST_RTHROTTLED, p->sequence);
		return;
	}
	if ((s = csim_farm_lookup(c->farm, dest)) == NULL) { /* TELECOM.md 5.3 unknown number */
		c->st.resp_err++;
		emit_hdr(c, k, SMSC_CMD_SUBMIT_SM_RESP, SMSC_ST_RINVDSTADR, p->sequence);
		return;
	}
	if (s->mt_queued >= CSIM_MAX_MT_PER_SIM || pool_used(&c->mts) >= CSIM_MAX_MT ||
	    (m = pool_alloc(&c->mts, sizeof(*m), &idx)) == NULL) {
		c->st.resp_err++;
		emit_hdr(c, k, SMSC_CMD_SUBMIT_SM_RESP, SMSC_ST_RMSGQFUL, p->sequence);
		return;
	}
	s->mt_queued++;
	m->idx = idx;
	m->gen = c->mts.gen[idx];
	m->conn = conn_handle(c, k);
	m->seq = p->sequence;
	m->acct = k->acct;
	m->msgid = ++c->next_msgid;
	snprintf(m->msgid_s, sizeof(m->msgid_s), kn->msgid_dec ? "%llu" : "%llX",
	         (unsigned long long)m->msgid);
	snprintf(m->dest, sizeof(m->dest), "%s", dest);
	copy_addr(m->src, p->source_addr, p->source_addr_len);
	memcpy(m->ud, p->short_message, p->sm_length);
	m->len = p->sm_length;
	m->forward = (p->esm_class & 0x03) == 0x02;
	m->want_dlr = kn->dlr && (p->registered_delivery & 0x03) != 0 && !m->forward;
	m->hold_resp = m->forward || (kn->dlr_before_resp && m->want_dlr);
	m->submit_at = c->now;
	m->validity_end = c->now + validity_ms(p);
	k->outstanding++;
	if (!m->hold_resp) {
		delay = instant(c)
		                ? 0
		                : kn->resp_delay_ms + csim__uniform(&c->rng, 0, kn->resp_jitter_ms);
		if (delay == 0)
			send_submit_resp(c, m, 0);
		else
			t_push(c, T_RESP, m->idx, m->gen, 0, c->now + delay);
	}
	if (csim_farm_mode(c->farm) == CSIM_MODE_SILENT) { /* accept, never deliver */
		m->want_dlr = false;
		if (m->hold_resp) {
			m->hold_resp = false;
			send_submit_resp(c, m, 0);
		}
		m->finished = true;
		if (m->resp_sent)
			mt_free(c, m);
		return;
	}
	delay = instant(c) ? 0 : csim__uniform(&c->rng, MT_DELAY_MIN, MT_DELAY_MAX);
	t_push(c, T_ATTEMPT, m->idx, m->gen, 0, c->now + delay);
}

/* ---- binds ---- */

static int
find_account(const struct csim *c, const char *sid, size_t len)
{
	size_t i;

	for (i = 0; i < c->n_acct; i++)
		if (strlen(c->acct[i].cfg.system_id) == len &&
		    memcmp(c->acct[i].cfg.system_id, sid, len) == 0)
			return (int)i;
	return -1;
}

static void
bind_resp(struct csim *c, struct conn *k, uint32_t req_id, uint32_t status, uint32_t seq)
{
	struct smsc_pdu p = { .command_id = SMSC_CMD_BIND_TRX_RESP,
		              .command_status = status,
		              .sequence = seq,
		              .system_id = SMSC_NAME,
		              .system_id_len = sizeof(SMSC_NAME) - 1 };
	uint8_t buf[64];
	size_t n;

	if (smsc_pdu_encode(&p, buf, sizeof(buf), &n) != SMSC_OK)
		return;
	csim__be32(buf + 4, req_id | 0x80000000u);
	c->send(c->arg, conn_handle(c, k), buf, n);
}

static void
on_bind(struct csim *c, struct conn *k, uint32_t req_id, const struct smsc_pdu *p)
{
	int ai;
	struct account *a;
	uint32_t st = 0;

	if (k->st == C_BOUND) {
		bind_resp(c, k, req_id, SMSC_ST_RALYBND, p->sequence);
		return;
	}
	ai = find_account(c, p->system_id, p->system_id_len);
	if (ai < 0 && c->cfg.strict_accounts)
		st = SMSC_ST_RINVSYSID;
	else if (ai >= 0 && (strlen(c->acct[ai].cfg.password) != p->password_len ||
	                     memcmp(c->acct[ai].cfg.password, p->password, p->password_len) != 0))
		st = SMSC_ST_RINVPASWD;
	if (ai < 0)
		ai = 0;
	a = &c->acct[ai];
	if (st == 0 && a->binds >= a->cfg.max_binds)
		st = SMSC_ST_RBINDFAIL;
	if (st != 0) {
		bind_resp(c, k, req_id, st, p->sequence);
		return;
	}
	k->st = C_BOUND;
	k->acct = ai;
	snprintf(k->system_type, sizeof(k->system_type), "%.*s",
	         (int)(p->system_type_len < 12 ? p->system_type_len : 12),
	         p->system_type != NULL ? p->system_type : "");
	k->tx = req_id != 0x00000001u;
	k->rx = req_id != 0x00000002u;
	a->binds++;
	c->st.binds++;
	bind_resp(c, k, req_id, 0, p->sequence);
	pump(c, ai);
}

/* ---- input ---- */

static void
handle_pdu(struct csim *c, struct conn *k, const uint8_t *buf, size_t len)
{
	uint8_t tmp[SMSC_PDU_MAX_DEF];
	struct smsc_pdu p;
	uint32_t id = csim__rd32(buf + 4), seq = csim__rd32(buf + 12);
	uint32_t req_id = id;
	enum smsc_err e;

	/* bind_receiver/bind_transmitter share bind_transceiver's body (SMPP 3.4 4.1). */
	if (id == 0x00000001u || id == 0x00000002u) {
		memcpy(tmp, buf, len);
		csim__be32(tmp + 4, SMSC_CMD_BIND_TRX);
		buf = tmp;
		id = SMSC_CMD_BIND_TRX;
	}
	e = smsc_pdu_decode(buf, len, &p);
	if (e == SMSC_E_CMDID) {
		emit_hdr(c, k, SMSC_CMD_GENERIC_NACK, SMSC_ST_RINVCMDID, seq);
		return;
	}
	if (e != SMSC_OK) {
		emit_hdr(c, k, SMSC_CMD_GENERIC_NACK, SMSC_ST_RINVCMDLEN, seq);
		return;
	}
	switch (id) {
	case SMSC_CMD_BIND_TRX:
		on_bind(c, k, req_id, &p);
		return;
	case SMSC_CMD_ENQUIRE_LINK:
		emit_hdr(c, k, SMSC_CMD_ENQUIRE_LINK_RESP, 0, seq);
		return;
	case SMSC_CMD_UNBIND:
		emit_hdr(c, k, SMSC_CMD_UNBIND_RESP, 0, seq);
		conn_close(c, k);
		return;
	case SMSC_CMD_SUBMIT_SM:
		on_submit(c, k, &p);
		return;
	case SMSC_CMD_DELIVER_SM_RESP:
	case SMSC_CMD_GENERIC_NACK: /* a nack of our deliver_sm: redeliver */
		if (k->st == C_BOUND)
			on_deliver_resp(c, k, seq,
			                id == SMSC_CMD_GENERIC_NACK && p.command_status == 0
			                        ? SMSC_ST_RX_T_APPN
			                        : p.command_status);
		return;
	case SMSC_CMD_ENQUIRE_LINK_RESP:
	case SMSC_CMD_ALERT_NOTIFICATION:
		return;
	case SMSC_CMD_UNBIND_RESP:
		conn_close(c, k);
		return;
	default: /* an ESME does not send deliver_sm or the resps of our side */
		emit_hdr(c, k, SMSC_CMD_GENERIC_NACK, SMSC_ST_RINVCMDID, seq);
		return;
	}
}

void
csim_conn_feed(struct csim *c, uint32_t conn, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	struct conn *k = conn_get(c, conn);
	size_t off = 0;

	c->now = now_ms > c->now ? now_ms : c->now;
	while (k != NULL && len > 0) {
		size_t take = sizeof(k->in) - k->in_len, pdu_len;
		enum smsc_err e;

		if (take > len)
			take = len;
		memcpy(k->in + k->in_len, buf, take);
		k->in_len += take;
		buf += take;
		len -= take;
		off = 0;
		while ((e = smsc_pdu_frame(k->in + off, k->in_len - off, SMSC_PDU_MAX_DEF,
		                           &pdu_len)) == SMSC_OK) {
			handle_pdu(c, k, k->in + off, pdu_len);
			if (conn_get(c, conn) == NULL)
				return; /* closed by unbind or unbind_resp */
			off += pdu_len;
		}
		if (e == SMSC_E_LENGTH) { /* TELECOM.md 1.6: not SMPP (an HTTP/TLS peer): close */
			c->st.garbage_closes++;
			conn_close(c, k);
			return;
		}
		memmove(k->in, k->in + off, k->in_len - off);
		k->in_len -= off;
	}
}

/* ---- timers ---- */

void
csim_tick(struct csim *c, uint64_t now_ms)
{
	c->now = now_ms > c->now ? now_ms : c->now;
	while (c->heap_n > 0 && c->heap[0].at <= c->now) {
		struct timer t = t_pop(c);
		struct mt *m;
		struct dv *d;

		switch (t.kind) {
		case T_RESP:
			if ((m = pool_get(&c->mts, t.idx, t.gen)) != NULL && !m->resp_sent) {
				send_submit_resp(c, m, 0);
				if (m->finished)
					mt_free(c, m);
			}
			break;
		case T_ATTEMPT:
			if ((m = pool_get(&c->mts, t.idx, t.gen)) != NULL && !m->finished)
				mt_attempt(c, m);
			break;
		case T_DV_READY:
			if ((d = pool_get(&c->dvs, t.idx, t.gen)) != NULL && !d->inflight) {
				dv_ready(c, d);
				pump(c, d->acct);
			}
			break;
		case T_DV_TIMEOUT:
			if ((d = pool_get(&c->dvs, t.idx, t.gen)) != NULL && d->inflight &&
			    d->tries == t.aux) {
				struct conn *k = conn_get(c, d->conn);

				if (k != NULL)
					inflight_remove(k, d->idx);
				d->inflight = false;
				dv_ready(c, d);
				pump(c, d->acct);
			}
			break;
		}
	}
}

/* ---- life cycle ---- */

enum csim_err
csim_new(const struct csim_cfg *cfg, csim_send_fn *send, csim_close_fn *close_fn, void *arg,
         struct csim **out)
{
	struct csim *c = calloc(1, sizeof(*c));
	struct csim_farm_cfg fc;
	enum csim_err rc;
	size_t i;

	if (c == NULL)
		return CSIM_E_NOMEM;
	c->cfg = *cfg;
	c->send = send;
	c->close_fn = close_fn;
	c->arg = arg;
	c->cur_acct = -1;
	c->rng = cfg->farm.seed ^ 0x736d7363ull;
	c->next_msgid = 0x1A2B3B; /* the first id is 1A2B3C, as in TELECOM.md 1.7 */
	c->mts.max = CSIM_MAX_MT;
	c->dvs.max = CSIM_MAX_DELIVER;
	c->n_acct = cfg->n_accounts ? cfg->n_accounts : 1;
	for (i = 0; i < c->n_acct; i++) {
		if (cfg->n_accounts) {
			c->acct[i].cfg = cfg->accounts[i];
		} else {
			snprintf(c->acct[i].cfg.system_id, 16, "kyso");
			snprintf(c->acct[i].cfg.password, 9, "kyso");
			c->acct[i].cfg.max_binds = 8;
			csim_knobs_default(&c->acct[i].cfg.knobs);
		}
		if (c->acct[i].cfg.knobs.mo_window == 0 ||
		    c->acct[i].cfg.knobs.mo_window > MO_WINDOW_MAX)
			c->acct[i].cfg.knobs.mo_window = 10;
		if (c->acct[i].cfg.knobs.n_retry > 4)
			c->acct[i].cfg.knobs.n_retry = 4;
	}
	fc = cfg->farm;
	fc.mo = farm_mo;
	fc.mo_arg = c;
	if ((rc = csim_farm_new(&fc, &c->farm)) != CSIM_OK) {
		free(c);
		return rc;
	}
	*out = c;
	return CSIM_OK;
}

void
csim_free(struct csim *c)
{
	if (c == NULL)
		return;
	csim_farm_free(c->farm);
	pool_free_all(&c->mts);
	pool_free_all(&c->dvs);
	free(c->heap);
	free(c->state_file);
	free(c);
}

struct csim_farm *
csim_get_farm(struct csim *c)
{
	return c->farm;
}

void
csim_stats(const struct csim *c, struct csim_stats *out)
{
	*out = c->st;
	out->signed_answers = csim__farm_signed(c->farm);
	out->mt_pending = pool_used(&c->mts);
	out->deliver_pending = pool_used(&c->dvs);
}

struct csim_knobs *
csim_account_knobs(struct csim *c, const char *system_id)
{
	int i;

	if (system_id == NULL || system_id[0] == '\0')
		return &c->acct[0].cfg.knobs;
	i = find_account(c, system_id, strlen(system_id));
	return i >= 0 ? &c->acct[i].cfg.knobs : NULL;
}

enum csim_err
csim_inject(struct csim *c, const char *system_id, const char *from, const char *to,
            uint8_t esm_class, const uint8_t *sm, size_t len)
{
	int ai = system_id && system_id[0] ? find_account(c, system_id, strlen(system_id)) : 0;
	struct dv *d;

	if (ai < 0)
		return CSIM_E_NOTFOUND;
	if (len > SMSC_SM_MAX || strlen(from) > CSIM_MSISDN_MAX || strlen(to) > CSIM_MSISDN_MAX)
		return CSIM_E_INVAL;
	if ((d = dv_new(c, ai)) == NULL)
		return CSIM_E_FULL;
	d->esm = esm_class;
	snprintf(d->src, sizeof(d->src), "%s", from);
	snprintf(d->dst, sizeof(d->dst), "%s", to);
	memcpy(d->sm, sm, len);
	d->sm_len = len;
	dv_ready(c, d);
	pump(c, ai);
	return CSIM_OK;
}

void
csim_set_state_file(struct csim *c, const char *path)
{
	free(c->state_file);
	c->state_file = path ? strdup(path) : NULL;
}

const char *
csim__state_file(const struct csim *c)
{
	return c->state_file;
}

size_t
csim__binds(const struct csim *c, char (*sid)[16], uint32_t *binds, uint32_t *max, size_t cap)
{
	size_t i;

	for (i = 0; i < c->n_acct && i < cap; i++) {
		memcpy(sid[i], c->acct[i].cfg.system_id, 16);
		binds[i] = c->acct[i].binds;
		max[i] = c->acct[i].cfg.max_binds;
	}
	return i;
}
