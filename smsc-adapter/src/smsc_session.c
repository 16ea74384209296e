/* smsc_session.c -- SMPP 3.4 ESME transceiver session, sans-I/O (TELECOM.md 1.4, 1.5).
 *
 * The gateway owns the socket: it feeds received bytes, writes what smsc_session_take() returns
 * (one write per PDU, TCP_NODELAY on its side), calls tick at next_deadline(), and acts on
 * EV_CONNECT / EV_CLOSE. Send priority: responses and enquire_link (never windowed nor
 * rate-limited), then submits within the window and the token bucket.
 * Owner: the gateway's loop thread; nothing here blocks.
 */
#include <stdlib.h>
#include <string.h>

#include "smsc_int.h"

#define CTL_SLOTS      256u /* queued control PDUs (answers, enquire_link, bind, unbind) */
#define CTL_SLOT_LEN   128u
#define MO_PENDING_MAX 256u
#define DUP_RING       64u
#define DUP_KEEP_MS    60000u
#define SEQ_MAX        0x7FFFFFFFu
#define FLUSH_CLOSE_MS 1000u

struct sub {
	uint64_t tag;
	uint64_t deadline_ms;
	uint64_t resp_deadline_ms;
	uint32_t seq;
	uint32_t attempts;
	struct sub *next, *prev;
	size_t len;
	uint8_t pdu[]; /* encoded submit_sm, sequence patched at each send */
};

struct msgid_ent {
	char id[SMSC_MSGID_MAX + 1];
	uint64_t hex, dec;
	bool hex_ok, dec_ok;
	uint64_t tag;
	uint64_t t_ms;
};

struct orphan {
	struct smsc_dlr dlr;
	uint64_t t_ms;
};

struct mo_pending {
	uint32_t seq;
	uint64_t deadline_ms;
};

struct smsc_session {
	struct smsc_config cfg;
	char system_id[16], password[9], system_type[13];
	smsc_event_fn *cb;
	void *arg;
	enum smsc_state state;
	bool stopping, close_when_flushed;
	uint64_t state_deadline_ms; /* connect, bind, unbind_resp, drain, flush-close */
	uint64_t reconnect_at_ms;
	uint32_t backoff_ms;
	uint64_t rng;
	uint32_t next_seq, bind_seq, unbind_seq, enq_seq;
	uint64_t enq_deadline_ms, last_rx_ms;
	uint64_t now_ms; /* latest time any call brought: deadlines before it are not "next" */
	/* rx framing */
	uint8_t *rx;
	size_t rx_len;
	/* control PDUs, a ring of fixed slots */
	uint8_t ctl[CTL_SLOTS][CTL_SLOT_LEN];
	uint8_t ctl_len[CTL_SLOTS];
	size_t ctl_head, ctl_n;
	/* submits: queue (list) and window (array) */
	struct sub *q_head, *q_tail;
	size_t q_n;
	struct sub **win;
	size_t win_n;
	/* flow control */
	uint64_t pause_until_ms;
	uint32_t temp_pause_ms;
	uint64_t rate_mtps, base_mtps, tokens_m, tokens_at_ms, regain_at_ms;
	/* DLR matching */
	struct msgid_ent *ids;
	size_t ids_n, ids_next;
	struct orphan *orph;
	size_t orph_n;
	/* MO acks and duplicate detection */
	struct mo_pending mo[MO_PENDING_MAX];
	size_t mo_n;
	uint64_t dup_hash[DUP_RING], dup_t[DUP_RING];
	size_t dup_next;
	struct smsc_counters cnt;
};

static uint32_t
dflt(uint32_t v, uint32_t d)
{
	return v ? v : d;
}

static void
emit(struct smsc_session *s, struct smsc_event *ev)
{
	if (s->cb != NULL)
		s->cb(s->arg, ev);
}

static void
emit_simple(struct smsc_session *s, enum smsc_ev_kind k, uint32_t status, const char *detail)
{
	struct smsc_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = k;
	ev.status = status;
	ev.detail = detail;
	emit(s, &ev);
}

static uint64_t
rng_next(struct smsc_session *s)
{
	/* splitmix64: jitter only, no security use */
	uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void
copy_cfg_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = 0;
}

static void
apply_defaults(struct smsc_config *c)
{
	c->window = dflt(c->window, 10);
	c->tps = dflt(c->tps, 10);
	c->queue_max = dflt(c->queue_max, 1024);
	c->connect_timeout_ms = dflt(c->connect_timeout_ms, 10000);
	c->bind_timeout_ms = dflt(c->bind_timeout_ms, 10000);
	c->resp_timeout_ms = dflt(c->resp_timeout_ms, 30000);
	c->enquire_ms = dflt(c->enquire_ms, 30000);
	c->enquire_resp_ms = dflt(c->enquire_resp_ms, 10000);
	c->inactivity_ms = dflt(c->inactivity_ms, 90000);
	c->backoff_min_ms = dflt(c->backoff_min_ms, 2000);
	c->backoff_max_ms = dflt(c->backoff_max_ms, 60000);
	c->mo_ack_ms = dflt(c->mo_ack_ms, 5000);
	c->orphan_dlr_ms = dflt(c->orphan_dlr_ms, 10000);
	c->orphan_dlr_max = dflt(c->orphan_dlr_max, 1024);
	c->msgid_max = dflt(c->msgid_max, 4096);
	c->msgid_keep_ms = dflt(c->msgid_keep_ms, 600000);
	c->drain_ms = dflt(c->drain_ms, 5000);
	c->unbind_resp_ms = dflt(c->unbind_resp_ms, 10000);
	c->max_pdu = dflt(c->max_pdu, SMSC_PDU_MAX_DEF);
	if (c->vendor_class == SMSC_CLASS_OK)
		c->vendor_class = SMSC_CLASS_PERMANENT;
}

enum smsc_err
smsc_session_new(const struct smsc_config *cfg, smsc_event_fn *cb, void *arg,
                 struct smsc_session **out)
{
	struct smsc_session *s = NULL;
	enum smsc_err rc = SMSC_E_INVAL;

	if (cfg->system_id == NULL || strlen(cfg->system_id) > 15 ||
	    (cfg->password != NULL && strlen(cfg->password) > 8) ||
	    (cfg->system_type != NULL && strlen(cfg->system_type) > 12) || cfg->window > 10000 ||
	    cfg->queue_max > 1000000 ||
	    (cfg->max_pdu != 0 && (cfg->max_pdu < 64 || cfg->max_pdu > 65536)))
		goto out;
	rc = SMSC_E_NOMEM;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		goto out;
	s->cfg = *cfg;
	apply_defaults(&s->cfg);
	copy_cfg_str(s->system_id, sizeof(s->system_id), cfg->system_id);
	copy_cfg_str(s->password, sizeof(s->password), cfg->password);
	copy_cfg_str(s->system_type, sizeof(s->system_type), cfg->system_type);
	s->cfg.system_id = s->cfg.password = s->cfg.system_type = NULL;
	s->cb = cb;
	s->arg = arg;
	s->rng = cfg->seed ^ 0x6B79736F736D7363ull;
	s->next_seq = 1;
	s->backoff_ms = s->cfg.backoff_min_ms;
	s->base_mtps = s->cfg.tps == UINT32_MAX ? UINT64_MAX : (uint64_t)s->cfg.tps * 1000;
	s->rate_mtps = s->base_mtps;
	if ((s->rx = malloc(s->cfg.max_pdu)) == NULL ||
	    (s->win = calloc(s->cfg.window, sizeof(*s->win))) == NULL ||
	    (s->ids = calloc(s->cfg.msgid_max, sizeof(*s->ids))) == NULL ||
	    (s->orph = calloc(s->cfg.orphan_dlr_max, sizeof(*s->orph))) == NULL)
		goto out;
	*out = s;
	s = NULL;
	rc = SMSC_OK;
out:
	smsc_session_free(s);
	return rc;
}

void
smsc_session_free(struct smsc_session *s)
{
	struct sub *q, *n;

	if (s == NULL)
		return;
	for (q = s->q_head; q != NULL; q = n) {
		n = q->next;
		free(q);
	}
	for (size_t i = 0; i < s->win_n; i++)
		free(s->win[i]);
	explicit_bzero(s->password, sizeof(s->password));
	explicit_bzero(s->ctl, sizeof(s->ctl)); /* a queued bind holds the password */
	free(s->rx);
	free(s->win);
	free(s->ids);
	free(s->orph);
	free(s);
}

/* ---- small helpers ----------------------------------------------------------------------- */

static bool
seq_in_use(const struct smsc_session *s, uint32_t seq)
{
	if (seq == s->bind_seq || seq == s->enq_seq || seq == s->unbind_seq)
		return true;
	for (size_t i = 0; i < s->win_n; i++)
		if (s->win[i]->seq == seq)
			return true;
	return false;
}

/* SMPP 3.4 5.1.4: 1..7FFFFFFF, wrapping to 1, skipping values still outstanding. */
static uint32_t
seq_alloc(struct smsc_session *s)
{
	uint32_t seq;

	do {
		seq = s->next_seq;
		s->next_seq = seq >= SEQ_MAX ? 1 : seq + 1;
	} while (seq_in_use(s, seq));
	return seq;
}

static bool
ctl_push(struct smsc_session *s, const struct smsc_pdu *p)
{
	size_t slot, len;

	if (s->ctl_n == CTL_SLOTS)
		return false;
	slot = (s->ctl_head + s->ctl_n) % CTL_SLOTS;
	if (smsc_pdu_encode(p, s->ctl[slot], CTL_SLOT_LEN, &len) != SMSC_OK)
		return false;
	s->ctl_len[slot] = (uint8_t)len;
	s->ctl_n++;
	return true;
}

static void link_down(struct smsc_session *s, uint64_t now_ms, uint32_t status, const char *why);

static void
send_hdr(struct smsc_session *s, uint32_t id, uint32_t status, uint32_t seq, uint64_t now_ms)
{
	struct smsc_pdu p;

	memset(&p, 0, sizeof(p));
	p.command_id = id;
	p.command_status = status;
	p.sequence = seq;
	if (!ctl_push(s, &p))
		link_down(s, now_ms, 0, "control queue overflow: peer not reading");
}

static void
q_unlink(struct smsc_session *s, struct sub *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		s->q_head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		s->q_tail = q->prev;
	q->next = q->prev = NULL;
	s->q_n--;
}

static void
q_push_head(struct smsc_session *s, struct sub *q)
{
	q->prev = NULL;
	q->next = s->q_head;
	if (s->q_head)
		s->q_head->prev = q;
	else
		s->q_tail = q;
	s->q_head = q;
	s->q_n++;
}

static void
q_push_tail(struct smsc_session *s, struct sub *q)
{
	q->next = NULL;
	q->prev = s->q_tail;
	if (s->q_tail)
		s->q_tail->next = q;
	else
		s->q_head = q;
	s->q_tail = q;
	s->q_n++;
}

static void
fail_sub(struct smsc_session *s, struct sub *q, uint32_t status, enum smsc_class cls,
         const char *why)
{
	struct smsc_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = SMSC_EV_SUBMIT_FAIL;
	ev.tag = q->tag;
	ev.status = status;
	ev.cls = cls;
	ev.detail = why;
	free(q);
	emit(s, &ev);
}

/* Removes window slot i and returns its submit. */
static struct sub *
win_take(struct smsc_session *s, size_t i)
{
	struct sub *q = s->win[i];

	memmove(&s->win[i], &s->win[i + 1], (s->win_n - i - 1) * sizeof(*s->win));
	s->win_n--;
	return q;
}

/* Back to the head of the queue, same bytes (TELECOM.md 1.4 "requeue"). */
static void
requeue(struct smsc_session *s, struct sub *q, uint64_t now_ms)
{
	s->cnt.requeued++;
	if (q->deadline_ms != 0 && now_ms >= q->deadline_ms) {
		fail_sub(s, q, 0, SMSC_CLASS_TEMP, "deadline passed before a resend");
		return;
	}
	q_push_head(s, q);
}

static void
requeue_window(struct smsc_session *s, uint64_t now_ms)
{
	/* Last in flight goes in first, so the queue keeps the original order. */
	while (s->win_n > 0)
		requeue(s, win_take(s, s->win_n - 1), now_ms);
}

static uint32_t
jitter(struct smsc_session *s, uint32_t ms)
{
	/* +-25 % (TELECOM.md 1.5) */
	uint64_t span = (uint64_t)ms / 2;
	uint64_t off = span ? rng_next(s) % (span + 1) : 0;

	return (uint32_t)((uint64_t)ms - ms / 4 + off);
}

static void
link_down(struct smsc_session *s, uint64_t now_ms, uint32_t status, const char *why)
{
	bool was_bound = s->state == SMSC_S_BOUND || s->state == SMSC_S_UNBINDING;
	uint32_t wait;

	if (s->state == SMSC_S_IDLE || s->state == SMSC_S_CLOSED)
		return;
	s->state = SMSC_S_IDLE;
	s->ctl_n = 0;
	s->rx_len = 0;
	s->mo_n = 0; /* unacked MOs are redelivered by the SMSC */
	s->bind_seq = s->enq_seq = s->unbind_seq = 0;
	s->close_when_flushed = false;
	emit_simple(s, SMSC_EV_CLOSE, status, why);
	if (was_bound)
		emit_simple(s, SMSC_EV_UNBOUND, status, why);
	requeue_window(s, now_ms);
	if (s->stopping) {
		s->state = SMSC_S_CLOSED;
		while (s->q_head != NULL) {
			struct sub *q = s->q_head;

			q_unlink(s, q);
			fail_sub(s, q, 0, SMSC_CLASS_TEMP, "session stopped");
		}
		emit_simple(s, SMSC_EV_STOPPED, 0, "stopped");
		return;
	}
	wait = jitter(s, s->backoff_ms);
	s->reconnect_at_ms = now_ms + wait;
	s->backoff_ms = s->backoff_ms >= s->cfg.backoff_max_ms / 2 ? s->cfg.backoff_max_ms
	                                                           : s->backoff_ms * 2;
	s->cnt.reconnects++;
}

/* ---- public control ---------------------------------------------------------------------- */

static void
begin_connect(struct smsc_session *s, uint64_t now_ms)
{
	s->state = SMSC_S_CONNECTING;
	s->state_deadline_ms = now_ms + s->cfg.connect_timeout_ms;
	emit_simple(s, SMSC_EV_CONNECT, 0, "connect");
}

enum smsc_err
smsc_session_start(struct smsc_session *s, uint64_t now_ms)
{
	if (s->state != SMSC_S_IDLE || s->stopping)
		return SMSC_E_STATE;
	s->reconnect_at_ms = 0;
	begin_connect(s, now_ms);
	return SMSC_OK;
}

void
smsc_session_connected(struct smsc_session *s, uint64_t now_ms)
{
	struct smsc_pdu p;

	if (s->state != SMSC_S_CONNECTING)
		return;
	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_BIND_TRX;
	p.sequence = s->bind_seq = seq_alloc(s);
	p.system_id = s->system_id;
	p.system_id_len = strlen(s->system_id);
	p.password = s->password;
	p.password_len = strlen(s->password);
	p.system_type = s->system_type;
	p.system_type_len = strlen(s->system_type);
	p.interface_version = 0x34;
	s->state = SMSC_S_BINDING;
	s->state_deadline_ms = now_ms + s->cfg.bind_timeout_ms;
	s->last_rx_ms = now_ms;
	s->rx_len = 0;
	if (!ctl_push(s, &p))
		link_down(s, now_ms, 0, "bind does not encode");
}

void
smsc_session_disconnected(struct smsc_session *s, uint64_t now_ms)
{
	link_down(s, now_ms, 0, "transport closed");
}

enum smsc_err
smsc_session_submit(struct smsc_session *s, uint64_t tag, const struct smsc_submit *m,
                    uint64_t now_ms)
{
	struct smsc_pdu p;
	struct sub *q;
	char vp[17];
	uint8_t tmp[512];
	size_t len;

	(void)now_ms;
	if (s->stopping || s->state == SMSC_S_CLOSED)
		return SMSC_E_STATE;
	if (s->q_n >= s->cfg.queue_max)
		return SMSC_E_FULL;
	if (m->dest_addr == NULL || m->sm_len > SMSC_SM_MAX || (m->sm_len && m->sm == NULL))
		return SMSC_E_INVAL;
	for (struct sub *o = s->q_head; o != NULL; o = o->next)
		if (o->tag == tag)
			return SMSC_E_INVAL; /* tags identify submits in events: one at a time */
	for (size_t i = 0; i < s->win_n; i++)
		if (s->win[i]->tag == tag)
			return SMSC_E_INVAL;
	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_SUBMIT_SM;
	p.source_addr_ton = m->source_ton;
	p.source_addr_npi = m->source_npi;
	p.source_addr = m->source_addr;
	p.source_addr_len = m->source_addr ? strlen(m->source_addr) : 0;
	p.dest_addr_ton = 1; /* international, ISDN (TELECOM.md 1.2) */
	p.dest_addr_npi = 1;
	p.dest_addr = m->dest_addr;
	p.dest_addr_len = strlen(m->dest_addr);
	p.esm_class = m->esm_class;
	p.protocol_id = m->protocol_id;
	if (m->validity_s > 0) {
		smsc__validity_rel(m->validity_s, vp);
		p.validity_period = vp;
		p.validity_period_len = 16;
	}
	p.registered_delivery = m->registered_delivery;
	p.data_coding = m->data_coding;
	p.short_message = m->sm;
	p.sm_length = m->sm_len;
	if (smsc_pdu_encode(&p, tmp, sizeof(tmp), &len) != SMSC_OK)
		return SMSC_E_INVAL;
	if ((q = calloc(1, sizeof(*q) + len)) == NULL)
		return SMSC_E_NOMEM;
	memcpy(q->pdu, tmp, len);
	q->len = len;
	q->tag = tag;
	q->deadline_ms = m->deadline_ms;
	q_push_tail(s, q);
	return SMSC_OK;
}

enum smsc_err
smsc_session_cancel(struct smsc_session *s, uint64_t tag)
{
	for (struct sub *q = s->q_head; q != NULL; q = q->next) {
		if (q->tag == tag) {
			q_unlink(s, q);
			free(q);
			return SMSC_OK;
		}
	}
	return SMSC_E_NOTFOUND;
}

enum smsc_err
smsc_session_mo_ack(struct smsc_session *s, uint32_t seq, uint32_t status, uint64_t now_ms)
{
	struct smsc_pdu p;

	for (size_t i = 0; i < s->mo_n; i++) {
		if (s->mo[i].seq != seq)
			continue;
		memmove(&s->mo[i], &s->mo[i + 1], (s->mo_n - i - 1) * sizeof(s->mo[0]));
		s->mo_n--;
		memset(&p, 0, sizeof(p));
		p.command_id = SMSC_CMD_DELIVER_SM_RESP;
		p.command_status = status;
		p.sequence = seq;
		if (!ctl_push(s, &p))
			link_down(s, now_ms, 0, "control queue overflow: peer not reading");
		return SMSC_OK;
	}
	return SMSC_E_NOTFOUND; /* already answered 64 after mo_ack_ms, or link gone */
}

void
smsc_session_stop(struct smsc_session *s, uint64_t now_ms)
{
	if (s->stopping || s->state == SMSC_S_CLOSED)
		return;
	s->stopping = true;
	while (s->q_head != NULL) {
		struct sub *q = s->q_head;

		q_unlink(s, q);
		fail_sub(s, q, 0, SMSC_CLASS_TEMP, "session stopping");
	}
	if (s->state == SMSC_S_BOUND) {
		s->state_deadline_ms = now_ms + s->cfg.drain_ms; /* drain, then unbind (tick) */
		return;
	}
	if (s->state == SMSC_S_IDLE) {
		s->state = SMSC_S_CLOSED;
		emit_simple(s, SMSC_EV_STOPPED, 0, "stopped");
		return;
	}
	link_down(s, now_ms, 0, "stopped before bound");
}

enum smsc_state
smsc_session_state(const struct smsc_session *s)
{
	return s->state;
}

size_t
smsc_session_in_flight(const struct smsc_session *s)
{
	return s->win_n;
}

size_t
smsc_session_queued(const struct smsc_session *s)
{
	return s->q_n;
}

void
smsc_session_counters(const struct smsc_session *s, struct smsc_counters *out)
{
	*out = s->cnt;
}

uint64_t
smsc_session_rate_mtps(const struct smsc_session *s)
{
	return s->rate_mtps;
}
/* ---- token bucket (TELECOM.md 1.4 row 58) ------------------------------------------------ */

static void
tokens_refill(struct smsc_session *s, uint64_t now_ms)
{
	uint64_t cap = s->rate_mtps > 1000 ? s->rate_mtps : 1000; /* one second of burst */

	if (s->base_mtps == UINT64_MAX)
		return;
	if (now_ms > s->tokens_at_ms) {
		uint64_t add = (now_ms - s->tokens_at_ms) * s->rate_mtps / 1000;

		s->tokens_m = s->tokens_m + add > cap ? cap : s->tokens_m + add;
	}
	s->tokens_at_ms = now_ms;
	/* Regain +10 % per 10 s after a throttle, up to the contracted rate. */
	while (s->rate_mtps < s->base_mtps && s->regain_at_ms != 0 && now_ms >= s->regain_at_ms) {
		uint64_t r = s->rate_mtps + s->rate_mtps / 10 + 1;

		s->rate_mtps = r > s->base_mtps ? s->base_mtps : r;
		s->regain_at_ms += 10000;
	}
}

static bool
can_send_submit(struct smsc_session *s, uint64_t now_ms)
{
	if (s->state != SMSC_S_BOUND || s->stopping || s->q_head == NULL ||
	    s->win_n >= s->cfg.window || now_ms < s->pause_until_ms)
		return false;
	if (s->base_mtps == UINT64_MAX)
		return true;
	tokens_refill(s, now_ms);
	return s->tokens_m >= 1000;
}

enum smsc_err
smsc_session_take(struct smsc_session *s, uint8_t *buf, size_t cap, size_t *len, uint64_t now_ms)
{
	struct sub *q;

	s->now_ms = now_ms;
	if (s->ctl_n > 0) {
		size_t l = s->ctl_len[s->ctl_head];

		if (l > cap)
			return SMSC_E_SPACE;
		memcpy(buf, s->ctl[s->ctl_head], l);
		explicit_bzero(s->ctl[s->ctl_head], l);
		s->ctl_head = (s->ctl_head + 1) % CTL_SLOTS;
		s->ctl_n--;
		*len = l;
		return SMSC_OK;
	}
	if (s->close_when_flushed) {
		/* The unbind_resp went out on the previous take: now close and reconnect. */
		link_down(s, now_ms, 0, "unbound by the SMSC");
		return SMSC_E_SHORT;
	}
	if (!can_send_submit(s, now_ms))
		return SMSC_E_SHORT;
	q = s->q_head;
	if (q->len > cap)
		return SMSC_E_SPACE;
	q_unlink(s, q);
	q->seq = seq_alloc(s);
	smsc__be32(q->pdu + 12, q->seq);
	q->resp_deadline_ms = now_ms + s->cfg.resp_timeout_ms;
	q->attempts++;
	s->win[s->win_n++] = q;
	if (s->base_mtps != UINT64_MAX)
		s->tokens_m -= 1000;
	s->cnt.submits_sent++;
	memcpy(buf, q->pdu, q->len);
	*len = q->len;
	return SMSC_OK;
}

/* ---- DLR matching (TELECOM.md 1.3) -------------------------------------------------------- */

static void
ids_add(struct smsc_session *s, const char *id, size_t n, uint64_t tag, uint64_t now_ms)
{
	struct msgid_ent *e = &s->ids[s->ids_next];

	memcpy(e->id, id, n);
	e->id[n] = 0;
	smsc_msgid_values(id, n, &e->hex, &e->hex_ok, &e->dec, &e->dec_ok);
	e->tag = tag;
	e->t_ms = now_ms;
	s->ids_next = (s->ids_next + 1) % s->cfg.msgid_max;
	if (s->ids_n < s->cfg.msgid_max)
		s->ids_n++;
}

static bool
cross_match(const struct smsc_session *s, const struct msgid_ent *e, uint64_t h, bool hok,
            uint64_t d, bool dok)
{
	if (s->cfg.id_style == SMSC_ID_SAME)
		return false;
	if (s->cfg.id_style == SMSC_ID_HEX_RESP_DEC_DLR)
		return e->hex_ok && dok && e->hex == d;
	return (e->hex_ok && hok && e->hex == h) || (e->hex_ok && dok && e->hex == d) ||
	       (e->dec_ok && hok && e->dec == h) || (e->dec_ok && dok && e->dec == d);
}

/* Exact string first, then cross-base; *ambiguous when several ids match cross-base. */
static bool
ids_lookup(struct smsc_session *s, const char *id, uint64_t now_ms, uint64_t *tag, bool *ambiguous)
{
	const struct msgid_ent *best = NULL;
	uint64_t h, d;
	bool hok, dok;
	size_t hits = 0;

	*ambiguous = false;
	for (size_t i = 0; i < s->ids_n; i++) {
		if (now_ms - s->ids[i].t_ms <= s->cfg.msgid_keep_ms &&
		    strcmp(s->ids[i].id, id) == 0) {
			*tag = s->ids[i].tag;
			return true;
		}
	}
	smsc_msgid_values(id, strlen(id), &h, &hok, &d, &dok);
	for (size_t i = 0; i < s->ids_n; i++) {
		const struct msgid_ent *e = &s->ids[i];

		if (now_ms - e->t_ms > s->cfg.msgid_keep_ms || !cross_match(s, e, h, hok, d, dok))
			continue;
		if (best == NULL || e->t_ms >= best->t_ms)
			best = e;
		hits++;
	}
	if (best == NULL)
		return false;
	*ambiguous = hits > 1;
	*tag = best->tag;
	return true;
}

static void
emit_dlr(struct smsc_session *s, const struct smsc_dlr *d, uint64_t tag, bool ambiguous)
{
	struct smsc_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = SMSC_EV_DLR;
	ev.tag = tag;
	ev.dlr = d;
	ev.message_id = d->id;
	ev.ambiguous = ambiguous;
	if (ambiguous)
		s->cnt.dlrs_ambiguous++;
	emit(s, &ev);
}

static void
handle_dlr(struct smsc_session *s, const struct smsc_dlr *d, uint64_t now_ms)
{
	uint64_t tag;
	bool amb;

	s->cnt.dlrs++;
	if (ids_lookup(s, d->id, now_ms, &tag, &amb)) {
		emit_dlr(s, d, tag, amb);
		return;
	}
	/* DLR before submit_sm_resp: hold it briefly (10 s, bounded). */
	if (s->orph_n == s->cfg.orphan_dlr_max) {
		struct smsc_dlr old = s->orph[0].dlr;

		memmove(&s->orph[0], &s->orph[1], (s->orph_n - 1) * sizeof(s->orph[0]));
		s->orph_n--;
		s->cnt.dlrs_orphan_dropped++;
		emit_dlr(s, &old, 0, false);
	}
	s->orph[s->orph_n].dlr = *d;
	s->orph[s->orph_n].t_ms = now_ms;
	s->orph_n++;
}

/* A new message id: any orphan DLR waiting for it is delivered now. */
static void
orphans_check(struct smsc_session *s, uint64_t now_ms)
{
	for (size_t i = 0; i < s->orph_n;) {
		uint64_t tag;
		bool amb;

		if (ids_lookup(s, s->orph[i].dlr.id, now_ms, &tag, &amb)) {
			struct smsc_dlr d = s->orph[i].dlr;

			memmove(&s->orph[i], &s->orph[i + 1],
			        (s->orph_n - i - 1) * sizeof(s->orph[0]));
			s->orph_n--;
			emit_dlr(s, &d, tag, amb);
			continue;
		}
		i++;
	}
}

/* ---- inbound PDUs ------------------------------------------------------------------------ */

static void
on_bind_resp(struct smsc_session *s, const struct smsc_pdu *p, uint64_t now_ms)
{
	enum smsc_class cls = smsc_status_class(p->command_status, s->cfg.vendor_class);

	if (s->state != SMSC_S_BINDING || p->sequence != s->bind_seq)
		return;
	s->bind_seq = 0;
	if (p->command_status == 0) {
		s->state = SMSC_S_BOUND;
		s->backoff_ms = s->cfg.backoff_min_ms;
		s->cnt.binds++;
		s->tokens_at_ms = now_ms;
		s->tokens_m = 1000;
		emit_simple(s, SMSC_EV_BOUND, 0, "bound");
		return;
	}
	if (cls == SMSC_CLASS_CONFIG) {
		emit_simple(s, SMSC_EV_ALARM, p->command_status, "bind refused: credentials");
		if (s->backoff_ms < 10000)
			s->backoff_ms = 10000;
		s->cfg.backoff_max_ms =
		        s->cfg.backoff_max_ms < 300000 ? 300000 : s->cfg.backoff_max_ms;
	} else if (cls == SMSC_CLASS_ALREADY && s->backoff_ms < 10000) {
		s->backoff_ms = 10000; /* the old session is still alive at the SMSC */
	}
	link_down(s, now_ms, p->command_status, "bind refused");
}

static void
submit_failed(struct smsc_session *s, struct sub *q, uint32_t status, uint64_t now_ms)
{
	enum smsc_class cls = smsc_status_class(status, s->cfg.vendor_class);

	s->cnt.resps_fail++;
	switch (cls) {
	case SMSC_CLASS_THROTTLED:
		/* 58: pause >= 1 s, requeue at head, halve the rate, regain later. */
		s->cnt.throttled++;
		if (s->pause_until_ms < now_ms + 1000)
			s->pause_until_ms = now_ms + 1000;
		if (s->base_mtps != UINT64_MAX) {
			s->rate_mtps = s->rate_mtps / 2 > 100 ? s->rate_mtps / 2 : 100;
			s->tokens_m = 0;
			s->tokens_at_ms = now_ms;
		}
		s->regain_at_ms = now_ms + 10000;
		requeue(s, q, now_ms);
		return;
	case SMSC_CLASS_TEMP:
		s->temp_pause_ms = s->temp_pause_ms ? s->temp_pause_ms * 2 : 1000;
		if (s->temp_pause_ms > 30000)
			s->temp_pause_ms = 30000;
		if (s->pause_until_ms < now_ms + s->temp_pause_ms)
			s->pause_until_ms = now_ms + s->temp_pause_ms;
		requeue(s, q, now_ms);
		return;
	case SMSC_CLASS_REBIND:
		requeue(s, q, now_ms);
		link_down(s, now_ms, status, "SMSC says we are not bound");
		return;
	case SMSC_CLASS_OUR_BUG:
	case SMSC_CLASS_CONFIG:
		emit_simple(s, SMSC_EV_ALARM, status, "submit refused: our bug or configuration");
		fail_sub(s, q, status, cls, "refused");
		return;
	default:
		fail_sub(s, q, status, cls, "refused");
		return;
	}
}

static bool
on_submit_resp(struct smsc_session *s, uint32_t seq, uint32_t status, const struct smsc_pdu *p,
               uint64_t now_ms)
{
	struct smsc_event ev;
	struct sub *q = NULL;
	char id[SMSC_MSGID_MAX + 2];
	size_t n;

	for (size_t i = 0; i < s->win_n; i++)
		if (s->win[i]->seq == seq) {
			q = win_take(s, i);
			break;
		}
	if (q == NULL)
		return false; /* late answer to a submit already requeued */
	if (status != 0) {
		submit_failed(s, q, status, now_ms);
		return true;
	}
	s->cnt.resps_ok++;
	s->temp_pause_ms = 0;
	n = p != NULL && p->message_id_len <= SMSC_MSGID_MAX ? p->message_id_len : 0;
	if (n > 0)
		memcpy(id, p->message_id, n);
	id[n] = 0;
	memset(&ev, 0, sizeof(ev));
	ev.kind = SMSC_EV_SUBMIT_OK;
	ev.tag = q->tag;
	ev.message_id = id;
	if (n > 0)
		ids_add(s, id, n, q->tag, now_ms);
	free(q);
	emit(s, &ev);
	if (n > 0)
		orphans_check(s, now_ms);
	return true;
}

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* A deliver_sm identical (apart from its sequence) to one seen in the last minute. */
static bool
dup_seen(struct smsc_session *s, const uint8_t *raw, size_t len, uint64_t now_ms)
{
	uint64_t h = fnv1a(raw + SMSC_PDU_HDR_LEN, len - SMSC_PDU_HDR_LEN);

	for (size_t i = 0; i < DUP_RING; i++)
		if (s->dup_t[i] != 0 && s->dup_hash[i] == h && now_ms - s->dup_t[i] < DUP_KEEP_MS)
			return true;
	s->dup_hash[s->dup_next] = h;
	s->dup_t[s->dup_next] = now_ms ? now_ms : 1;
	s->dup_next = (s->dup_next + 1) % DUP_RING;
	return false;
}

static void
on_deliver(struct smsc_session *s, const struct smsc_pdu *p, const uint8_t *raw, size_t len,
           uint64_t now_ms)
{
	struct smsc_event ev;
	struct smsc_dlr d;
	bool dup = dup_seen(s, raw, len, now_ms);
	uint8_t kind = p->esm_class & 0x3C;

	if (kind == 0x04 || kind == 0x08 || kind == 0x20) {
		/* Receipts are advisory and need no storage: acked at once. */
		send_hdr(s, SMSC_CMD_DELIVER_SM_RESP, 0, p->sequence, now_ms);
		if (dup)
			return;
		if (smsc_dlr_parse(p, &d) == SMSC_OK)
			handle_dlr(s, &d, now_ms);
		else
			emit_simple(s, SMSC_EV_ALARM, 0, "unreadable delivery receipt dropped");
		return;
	}
	s->cnt.mos++;
	memset(&ev, 0, sizeof(ev));
	ev.kind = SMSC_EV_MO;
	ev.pdu = p;
	ev.seq = p->sequence;
	if (dup) {
		s->cnt.mos_dup++;
		ev.duplicate = true;
		send_hdr(s, SMSC_CMD_DELIVER_SM_RESP, 0, p->sequence, now_ms);
		emit(s, &ev);
		return;
	}
	if (s->mo_n == MO_PENDING_MAX) {
		send_hdr(s, SMSC_CMD_DELIVER_SM_RESP, SMSC_ST_RX_T_APPN, p->sequence, now_ms);
		return;
	}
	s->mo[s->mo_n].seq = p->sequence;
	s->mo[s->mo_n].deadline_ms = now_ms + s->cfg.mo_ack_ms;
	s->mo_n++;
	emit(s, &ev);
}

static void
on_generic_nack(struct smsc_session *s, const struct smsc_pdu *p, uint64_t now_ms)
{
	if (p->sequence == s->bind_seq && s->state == SMSC_S_BINDING) {
		link_down(s, now_ms, p->command_status, "bind answered by generic_nack");
		return;
	}
	if (p->sequence == s->enq_seq) {
		s->enq_seq = 0; /* the peer is alive, if unhelpful */
		return;
	}
	if (on_submit_resp(s, p->sequence, p->command_status ? p->command_status : SMSC_ST_RSYSERR,
	                   NULL, now_ms))
		return;
	emit_simple(s, SMSC_EV_ALARM, p->command_status, "generic_nack for nothing we sent");
}

static void
dispatch(struct smsc_session *s, const struct smsc_pdu *p, const uint8_t *raw, size_t len,
         uint64_t now_ms)
{
	switch (p->command_id) {
	case SMSC_CMD_BIND_TRX_RESP:
		on_bind_resp(s, p, now_ms);
		break;
	case SMSC_CMD_SUBMIT_SM_RESP:
		(void)on_submit_resp(s, p->sequence, p->command_status, p, now_ms);
		break;
	case SMSC_CMD_DELIVER_SM:
		on_deliver(s, p, raw, len, now_ms);
		break;
	case SMSC_CMD_ENQUIRE_LINK:
		s->cnt.enquires_answered++;
		send_hdr(s, SMSC_CMD_ENQUIRE_LINK_RESP, 0, p->sequence, now_ms);
		break;
	case SMSC_CMD_ENQUIRE_LINK_RESP:
		if (p->sequence == s->enq_seq)
			s->enq_seq = 0;
		break;
	case SMSC_CMD_UNBIND:
		/* The SMSC leaves: answer, requeue, reconnect (TELECOM.md 1.5). */
		send_hdr(s, SMSC_CMD_UNBIND_RESP, 0, p->sequence, now_ms);
		requeue_window(s, now_ms);
		s->close_when_flushed = true;
		s->state_deadline_ms = now_ms + FLUSH_CLOSE_MS;
		break;
	case SMSC_CMD_UNBIND_RESP:
		if (s->state == SMSC_S_UNBINDING)
			link_down(s, now_ms, 0, "unbound");
		break;
	case SMSC_CMD_GENERIC_NACK:
		on_generic_nack(s, p, now_ms);
		break;
	case SMSC_CMD_ALERT_NOTIFICATION:
	case SMSC_CMD_DELIVER_SM_RESP:
		break; /* ignored */
	default:
		/* Requests an ESME never gets (submit_sm, bind): refuse. */
		if ((p->command_id & 0x80000000u) == 0) {
			s->cnt.nacks_sent++;
			send_hdr(s, SMSC_CMD_GENERIC_NACK, SMSC_ST_RINVCMDID, p->sequence, now_ms);
		}
		break;
	}
}

static void
on_pdu(struct smsc_session *s, const uint8_t *raw, size_t len, uint64_t now_ms)
{
	struct smsc_pdu p;
	enum smsc_err rc = smsc_pdu_decode(raw, len, &p);
	uint32_t id = smsc__rd32(raw + 4), seq = smsc__rd32(raw + 12);

	s->last_rx_ms = now_ms;
	if (rc == SMSC_OK) {
		dispatch(s, &p, raw, len, now_ms);
		return;
	}
	if (rc == SMSC_E_CMDID && (id & 0x80000000u) != 0)
		return; /* an unknown response: nothing to answer */
	/* Unknown id -> generic_nack 03; body overrunning its length -> 02; link stays up. */
	s->cnt.nacks_sent++;
	send_hdr(s, SMSC_CMD_GENERIC_NACK,
	         rc == SMSC_E_CMDID ? SMSC_ST_RINVCMDID : SMSC_ST_RINVCMDLEN, seq, now_ms);
}

void
smsc_session_feed(struct smsc_session *s, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	s->now_ms = now_ms;
	while (len > 0 && (s->state == SMSC_S_BINDING || s->state == SMSC_S_BOUND ||
	                   s->state == SMSC_S_UNBINDING)) {
		size_t room = s->cfg.max_pdu - s->rx_len, n = len < room ? len : room, pdu_len = 0;
		size_t off = 0;
		enum smsc_err rc = SMSC_OK;

		memcpy(s->rx + s->rx_len, buf, n);
		s->rx_len += n;
		buf += n;
		len -= n;
		while (s->rx_len - off >= 4) {
			rc = smsc_pdu_frame(s->rx + off, s->rx_len - off, s->cfg.max_pdu, &pdu_len);
			if (rc != SMSC_OK)
				break;
			on_pdu(s, s->rx + off, pdu_len, now_ms);
			off += pdu_len;
			if (s->state == SMSC_S_IDLE || s->state == SMSC_S_CLOSED)
				return; /* the link went down inside a handler */
		}
		if (rc == SMSC_E_LENGTH) {
			/* An HTTP or TLS peer reads as ~1.2 G: close and log the header. */
			s->cnt.garbage_closes++;
			emit_simple(s, SMSC_EV_ALARM, (uint32_t)pdu_len,
			            "command_length out of bounds");
			link_down(s, now_ms, 0, "garbage from the SMSC");
			return;
		}
		memmove(s->rx, s->rx + off, s->rx_len - off);
		s->rx_len -= off;
	}
}

/* ---- timers ------------------------------------------------------------------------------- */

static void
tick_submits(struct smsc_session *s, uint64_t now_ms)
{
	bool again = true;

	for (size_t i = 0; i < s->win_n; i++) {
		if (now_ms >= s->win[i]->resp_deadline_ms) {
			/* No submit_sm_resp: the link is suspect; reconnect and requeue. */
			s->cnt.resp_timeouts++;
			link_down(s, now_ms, 0, "submit_sm_resp timeout");
			return;
		}
	}
	while (again) {
		again = false;
		for (struct sub *q = s->q_head; q != NULL; q = q->next) {
			if (q->deadline_ms != 0 && now_ms >= q->deadline_ms) {
				q_unlink(s, q);
				fail_sub(s, q, 0, SMSC_CLASS_TEMP, "deadline passed in the queue");
				again = true; /* the callback may have changed the queue */
				break;
			}
		}
	}
}

static void
tick_dlr_mo(struct smsc_session *s, uint64_t now_ms)
{
	while (s->orph_n > 0 && now_ms - s->orph[0].t_ms >= s->cfg.orphan_dlr_ms) {
		struct smsc_dlr d = s->orph[0].dlr;

		memmove(&s->orph[0], &s->orph[1], (s->orph_n - 1) * sizeof(s->orph[0]));
		s->orph_n--;
		s->cnt.dlrs_orphan_dropped++;
		emit_dlr(s, &d, 0, false); /* unknown id: the gateway records and ignores */
	}
	for (size_t i = 0; i < s->mo_n;) {
		if (now_ms >= s->mo[i].deadline_ms) {
			uint32_t seq = s->mo[i].seq;

			memmove(&s->mo[i], &s->mo[i + 1], (s->mo_n - i - 1) * sizeof(s->mo[0]));
			s->mo_n--;
			send_hdr(s, SMSC_CMD_DELIVER_SM_RESP, SMSC_ST_RX_T_APPN, seq, now_ms);
			if (s->state == SMSC_S_IDLE)
				return;
			continue;
		}
		i++;
	}
}

static void
tick_bound(struct smsc_session *s, uint64_t now_ms)
{
	struct smsc_pdu p;

	if (s->close_when_flushed) {
		if (now_ms >= s->state_deadline_ms)
			link_down(s, now_ms, 0, "unbound by the SMSC");
		return;
	}
	if (now_ms - s->last_rx_ms >= s->cfg.inactivity_ms) {
		link_down(s, now_ms, 0, "inactivity");
		return;
	}
	if (s->enq_seq != 0 && now_ms >= s->enq_deadline_ms) {
		link_down(s, now_ms, 0, "enquire_link_resp timeout");
		return;
	}
	if (s->enq_seq == 0 && now_ms - s->last_rx_ms >= s->cfg.enquire_ms) {
		s->enq_seq = seq_alloc(s);
		s->enq_deadline_ms = now_ms + s->cfg.enquire_resp_ms;
		s->cnt.enquires_sent++;
		send_hdr(s, SMSC_CMD_ENQUIRE_LINK, 0, s->enq_seq, now_ms);
		if (s->state != SMSC_S_BOUND)
			return;
	}
	if (s->stopping && (s->win_n == 0 || now_ms >= s->state_deadline_ms)) {
		memset(&p, 0, sizeof(p));
		p.command_id = SMSC_CMD_UNBIND;
		p.sequence = s->unbind_seq = seq_alloc(s);
		s->state = SMSC_S_UNBINDING;
		s->state_deadline_ms = now_ms + s->cfg.unbind_resp_ms;
		if (!ctl_push(s, &p))
			link_down(s, now_ms, 0, "control queue overflow");
		return;
	}
	tick_submits(s, now_ms);
}

void
smsc_session_tick(struct smsc_session *s, uint64_t now_ms)
{
	s->now_ms = now_ms;
	tokens_refill(s, now_ms);
	switch (s->state) {
	case SMSC_S_IDLE:
		if (!s->stopping && s->reconnect_at_ms != 0 && now_ms >= s->reconnect_at_ms) {
			s->reconnect_at_ms = 0;
			begin_connect(s, now_ms);
		}
		tick_submits(s, now_ms);
		return;
	case SMSC_S_CONNECTING:
		if (now_ms >= s->state_deadline_ms)
			link_down(s, now_ms, 0, "connect timeout");
		else
			tick_submits(s, now_ms);
		return;
	case SMSC_S_BINDING:
		if (now_ms >= s->state_deadline_ms)
			link_down(s, now_ms, 0, "bind_resp timeout");
		else
			tick_submits(s, now_ms);
		return;
	case SMSC_S_BOUND:
		tick_dlr_mo(s, now_ms);
		if (s->state == SMSC_S_BOUND)
			tick_bound(s, now_ms);
		return;
	case SMSC_S_UNBINDING:
		if (now_ms >= s->state_deadline_ms)
			link_down(s, now_ms, 0, "unbind_resp timeout");
		return;
	case SMSC_S_CLOSED:
		return;
	}
}

static void
at_most(uint64_t *d, uint64_t t)
{
	if (t < *d)
		*d = t;
}

static uint64_t
bound_deadline(const struct smsc_session *s)
{
	uint64_t d = UINT64_MAX;

	at_most(&d, s->last_rx_ms + s->cfg.inactivity_ms);
	at_most(&d, s->enq_seq ? s->enq_deadline_ms : s->last_rx_ms + s->cfg.enquire_ms);
	if (s->close_when_flushed || s->stopping)
		at_most(&d, s->state_deadline_ms);
	if (s->stopping && s->win_n == 0)
		at_most(&d, 0);
	for (size_t i = 0; i < s->win_n; i++)
		at_most(&d, s->win[i]->resp_deadline_ms);
	if (s->orph_n > 0)
		at_most(&d, s->orph[0].t_ms + s->cfg.orphan_dlr_ms);
	for (size_t i = 0; i < s->mo_n; i++)
		at_most(&d, s->mo[i].deadline_ms);
	/* Send opportunities: tick() at that time, then take() (the caller's loop does both). */
	if (s->q_head != NULL && s->win_n < s->cfg.window) {
		if (s->pause_until_ms > s->now_ms)
			at_most(&d, s->pause_until_ms);
		if (s->base_mtps != UINT64_MAX && s->tokens_m < 1000 && s->rate_mtps > 0) {
			uint64_t t = s->tokens_at_ms + ((1000 - s->tokens_m) * 1000 + s->rate_mtps -
			                                1) / s->rate_mtps;

			at_most(&d, t > s->now_ms ? t : s->now_ms + 1);
		}
	}
	if (s->rate_mtps < s->base_mtps && s->regain_at_ms > s->now_ms)
		at_most(&d, s->regain_at_ms);
	return d;
}

uint64_t
smsc_session_next_deadline(const struct smsc_session *s)
{
	uint64_t d = UINT64_MAX;

	switch (s->state) {
	case SMSC_S_IDLE:
		if (s->reconnect_at_ms != 0 && !s->stopping)
			d = s->reconnect_at_ms;
		break;
	case SMSC_S_CONNECTING:
	case SMSC_S_BINDING:
	case SMSC_S_UNBINDING:
		d = s->state_deadline_ms;
		break;
	case SMSC_S_BOUND:
		d = bound_deadline(s);
		break;
	case SMSC_S_CLOSED:
		return UINT64_MAX;
	}
	for (const struct sub *q = s->q_head; q != NULL; q = q->next)
		if (q->deadline_ms != 0)
			at_most(&d, q->deadline_ms);
	return d;
}
