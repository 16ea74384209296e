/* gw_engine.c -- the transaction engine: requests, events, queue, deadlines, dispatch.
 *
 * A `sign` goes: field checks (gw_sign.c) -> the AP's organisation -> the display fit ->
 * the signer's credentials from the directory (reader) -> policy (gw_engine_policy.c) -> the
 * signer's queue -> the accepted commit (lane) -> `accepted` -> dispatch or `queued`. Every
 * later state change is one db_txn_event_append(); its frame is pushed to the subscribed
 * sessions only from the commit's callback, so the AP never sees an event that is not durable
 * (ARCHITECTURE.md section 4, "Commits"). Each event's detail is the frame itself (without the
 * request id), so subscribe replays from txn_event exactly what was pushed live. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

#include "gw_cms.h"
#include "gw_engine_int.h"
#include "gw_hash.h"

/* The configuration's hard caps are the sizes the engine was built with (PROTOCOL.md 3). */
_Static_assert(GW_CFG_DISPLAY_HARD == GW_DISPLAY_HARD, "limits.display_chars cap");
_Static_assert(GW_CFG_SIGNER_QUEUE_HARD == GW_QUEUE_CAP_HARD, "limits.signer_queue cap");
_Static_assert(GW_CFG_SMS_HARD == SMSC_SEG_MAX, "sim.max_sms cap");

/* ---- registry ---- */

struct gw_txn *
gw_eng_find(struct gw_engine *e, const char *id)
{
	struct gw_txn *t;

	for (t = e->by_id[gw_hash_str(id) % GW_ENG_BUCKETS]; t != NULL; t = t->hnext)
		if (strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

static uint32_t
int_bucket(uint64_t v)
{
	return gw_hash_u64(v) % GW_ENG_BUCKETS;
}

static struct gw_txn *
find_ref(struct gw_engine *e, int64_t ref)
{
	for (struct gw_txn *t = e->by_ref[int_bucket((uint64_t)ref)]; t != NULL; t = t->rnext)
		if (t->ref == ref)
			return t;
	return NULL;
}

struct gw_txn *
gw_eng_txn_by_key(struct gw_engine *e, uint64_t key)
{
	for (struct gw_txn *t = e->by_key[int_bucket(key)]; t != NULL; t = t->knext)
		if (t->key == key)
			return t;
	return NULL;
}

static void
unlink_ref(struct gw_engine *e, struct gw_txn *t)
{
	struct gw_txn **pp = &e->by_ref[int_bucket((uint64_t)t->ref)];

	while (*pp != NULL && *pp != t)
		pp = &(*pp)->rnext;
	if (*pp == t)
		*pp = t->rnext;
}

void
gw_eng_set_ref(struct gw_txn *t, int64_t ref)
{
	struct gw_engine *e = t->eng;
	uint32_t b = int_bucket((uint64_t)ref);

	if (t->ref != 0)
		unlink_ref(e, t);
	t->ref = ref;
	t->rnext = e->by_ref[b];
	e->by_ref[b] = t;
}

struct gw_signer_slot *
gw_eng_signer_slot(struct gw_engine *e, const char *signer, bool create)
{
	struct gw_signer_slot **head = &e->signers_by[gw_hash_str(signer) % GW_ENG_BUCKETS], *q;

	for (q = *head; q != NULL; q = q->hnext)
		if (strcmp(q->signer, signer) == 0)
			return q;
	if (!create || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	snprintf(q->signer, sizeof(q->signer), "%s", signer);
	q->next = e->signers;
	e->signers = q;
	q->hnext = *head;
	*head = q;
	return q;
}

static void
timer_closed(uv_handle_t *h)
{
	free(h);
}

void
gw_eng_timer_free(uv_timer_t **h)
{
	if (*h == NULL)
		return;
	uv_timer_stop(*h);
	uv_close((uv_handle_t *)*h, timer_closed);
	*h = NULL;
}

static void
txn_unlink(struct gw_engine *e, struct gw_txn *t)
{
	struct gw_txn **pp = &e->by_id[gw_hash_str(t->id) % GW_ENG_BUCKETS];

	while (*pp != NULL && *pp != t)
		pp = &(*pp)->hnext;
	if (*pp == t)
		*pp = t->hnext;
	for (pp = &e->by_key[int_bucket(t->key)]; *pp != NULL && *pp != t;)
		pp = &(*pp)->knext;
	if (*pp == t)
		*pp = t->knext;
	if (t->ref != 0)
		unlink_ref(e, t);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		e->all = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	e->npending--;
}

static void
txn_free(struct gw_engine *e, struct gw_txn *t)
{
	txn_unlink(e, t);
	gw_eng_timer_free(&t->timer);
	free(t->last_frame);
	free(t->shown);
	OPENSSL_free(t->cms_attrs);
	free(t->cert_der);
	gw_eng_held_free(t->held);
	json_decref(t->policy);
	free(t);
}

static void deadline_cb(uv_timer_t *h);

struct gw_txn *
gw_eng_txn_new(struct gw_engine *e, const char *id)
{
	struct gw_txn *t = calloc(1, sizeof(*t));
	uint32_t b;

	if (t == NULL)
		return NULL;
	if ((t->timer = malloc(sizeof(*t->timer))) == NULL) {
		free(t);
		return NULL;
	}
	uv_timer_init(e->gw->loop, t->timer);
	t->timer->data = t;
	t->eng = e;
	t->key = ++e->next_key;
	snprintf(t->id, sizeof(t->id), "%s", id);
	b = gw_hash_str(t->id) % GW_ENG_BUCKETS;
	t->hnext = e->by_id[b];
	e->by_id[b] = t;
	b = int_bucket(t->key);
	t->knext = e->by_key[b];
	e->by_key[b] = t;
	t->next = e->all;
	if (e->all != NULL)
		e->all->prev = t;
	e->all = t;
	e->npending++;
	return t;
}

void
gw_eng_arm(struct gw_txn *t)
{
	uint64_t now = gw_mono_ms();

	uv_timer_start(t->timer, deadline_cb, t->deadline_ms > now ? t->deadline_ms - now : 0, 0);
}

/* ---- frames to sessions ---- */

void
gw_eng_send_json(struct gw_engine *e, uint64_t session, json_t *frame)
{
	struct gw_session *s = gw_session_find(e->gw, session);
	char *txt;

	if (s == NULL || frame == NULL)
		return;
	if ((txt = json_dumps(frame, JSON_COMPACT)) != NULL) {
		gw_session_send(s, txt, strlen(txt));
		free(txt);
	}
}

void
gw_eng_error(struct gw_engine *e, uint64_t session, const char *id, const struct gw_status *st)
{
	struct gw_session *s = gw_session_find(e->gw, session);

	if (s != NULL)
		gw_session_error(s, id, st);
}

void
gw_eng_subscribe(struct gw_txn *t, uint64_t session)
{
	int free_slot = -1;

	for (int i = 0; i < GW_ENG_SUBS; i++) {
		if (t->subs[i] == session)
			return;
		if (t->subs[i] == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
		t->subs[free_slot] = session;
}

/* A committed frame to every subscribed session; a session that is gone is forgotten. */
void
gw_eng_push(struct gw_txn *t, const char *txt)
{
	for (int i = 0; i < GW_ENG_SUBS; i++) {
		struct gw_session *s;

		if (t->subs[i] == 0)
			continue;
		if ((s = gw_session_find(t->eng->gw, t->subs[i])) == NULL) {
			t->subs[i] = 0;
			continue;
		}
		gw_session_send(s, txt, strlen(txt));
	}
	gw_rest_txn_event(t->eng->gw, t->id, t->seq, txt); /* REST long polls on it */
}

/* ---- events ---- */

static json_t *
status_obj(int code, int sub, const char *detail)
{
	json_t *st = json_pack("{s:i, s:s}", "code", code, "name", gw_status_name(code));

	if (st != NULL && sub != 0)
		json_object_set_new(st, "sub", json_integer(sub));
	if (st != NULL && detail != NULL && detail[0] != '\0')
		json_object_set_new(st, "detail", json_string(detail));
	return st;
}

static char *
mqtt_payload(const struct gw_txn *t, const char *state, int seq, int code, int sub)
{
	char at[40];
	json_t *m;
	char *txt;

	gw_proto_time(at, sizeof(at), gw_now_us());
	m = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "txn", t->id, "org", t->org, "state", state,
	              "seq", seq, "at", at, "node", t->eng->gw->cfg.node_id);
	if (m != NULL && code != 0)
		json_object_set_new(m, "status", status_obj(code, sub, NULL));
	txt = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	return txt;
}

uint32_t
gw_eng_lane_key(const struct gw_txn *t)
{
	return (uint32_t)(t->cred_id * 2654435761u) ^ gw_hash_str(t->signer);
}

/* Queues the next event of t. frame: the progress or result object (consumed), its seq is
 * set here. Pushed from gw_engine_txn_done once committed. */
/* A result names its own stored event, `<txn>:<seq>` (txn_event is unique on the pair), as
 * the evidence an AP quotes to an auditor (PROTOCOL.md 4.2). */
static void
set_evidence(json_t *frame, const struct gw_txn *t, int seq)
{
	const char *type = json_string_value(json_object_get(frame, "type"));
	char ev[sizeof(t->id) + 16];

	if (type == NULL || strcmp(type, "result") != 0)
		return;
	snprintf(ev, sizeof(ev), "%s:%d", t->id, seq);
	json_object_set_new(frame, "evidence", json_string(ev));
}

bool
gw_eng_event(struct gw_txn *t, enum gw_txn_state to, int code, int sub, json_t *frame)
{
	return gw_eng_event_more(t, to, code, sub, frame, NULL);
}

/* One serialisation of the frame serves the event row (a final event's detail is the txn's
 * result) and the frames pushed to the sessions. */
bool
gw_eng_event_more(struct gw_txn *t, enum gw_txn_state to, int code, int sub, json_t *frame,
                  const struct gw_jtext *more)
{
	struct gw_engine *e = t->eng;
	struct gw_commit *c = NULL;
	char topic[160];
	char *detail = NULL, *payload = NULL;
	enum db_err rc;
	bool ok = false;

	if (frame == NULL || !gw_txn_transition_ok(t->want, to)) {
		json_decref(frame);
		return false;
	}
	json_object_set_new(frame, "seq", json_integer(t->next_seq + 1));
	set_evidence(frame, t, t->next_seq + 1);
	snprintf(topic, sizeof(topic), "kyso/v1/txn/%s/%s", t->org, gw_txn_state_mqtt(to));
	detail = json_dumps(frame, JSON_COMPACT);
	if (more != NULL)
		detail = gw_jtext_splice(detail, more);
	payload = mqtt_payload(t, gw_txn_state_mqtt(to), t->next_seq + 1, code, sub);
	if (detail == NULL || payload == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		goto out;
	c->kind = GW_COMMIT_EVENT;
	c->txn_key = t->key;
	c->seq = t->next_seq + 1;
	c->state = to;
	c->frame = detail;
	struct db_txn_event ev = {
		.txn = t->id,
		.seq = c->seq,
		.state = gw_txn_state_name(to),
		.status = code,
		.sub = sub,
		.detail_json = detail,
		.mqtt_topic = topic,
		.mqtt_payload = payload,
		.lane_key = gw_eng_lane_key(t),
	};
	rc = db_txn_event_append(e->gw->db, (uint64_t)(uintptr_t)c, &ev);
	gw_db_sync(e->gw);
	if (rc != DB_OK) {
		gw_log(GW_LOG_WARN, "msg=\"txn event refused\" txn=%s state=%s rc=%s", t->id,
		       gw_txn_state_name(to), db_strerror(rc));
		goto out;
	}
	t->next_seq++;
	t->want = to;
	if (gw_txn_state_final(to))
		t->final_queued = true;
	detail = NULL; /* owned by c now */
	c = NULL;
	ok = true;
out:
	json_decref(frame);
	if (c != NULL)
		free(c->frame);
	else
		free(detail);
	free(c);
	free(payload);
	return ok;
}

json_t *
gw_eng_progress(const struct gw_txn *t, enum gw_txn_state s)
{
	return json_pack("{s:s, s:s, s:s}", "type", "progress", "txn", t->id, "state",
	                 gw_txn_state_ap(s));
}

json_t *
gw_eng_result(const struct gw_txn *t, int code, int sub, const char *detail)
{
	json_t *r = json_pack("{s:s, s:s, s:o}", "type", "result", "txn", t->id, "status",
	                      status_obj(code, sub, detail));

	if (r != NULL && t->policy != NULL)
		json_object_set(r, "policy", t->policy);
	return r;
}

/* Ends t with a result (the one way to a terminal state). */
bool
gw_eng_finish(struct gw_txn *t, enum gw_txn_state to, int code, int sub, const char *detail)
{
	if (t->final_queued || !gw_txn_final_code_ok(to, code, sub))
		return false;
	return gw_eng_event(t, to, code, sub, gw_eng_result(t, code, sub, detail));
}

/* The signer's device is free: the next waiting request goes. */
static void
queue_release(struct gw_engine *e, struct gw_txn *t)
{
	struct gw_signer_slot *q = gw_eng_signer_slot(e, t->signer, false);
	uint64_t next;
	struct gw_txn *n;

	if (q == NULL)
		return;
	next = gw_queue_remove(&q->q, t->key);
	if (next != 0 && (n = gw_eng_txn_by_key(e, next)) != NULL)
		gw_eng_dispatch(n);
}

static void
event_committed(struct gw_engine *e, struct gw_commit *c)
{
	struct gw_txn *t = gw_eng_txn_by_key(e, c->txn_key);

	if (t == NULL)
		return;
	t->seq = c->seq;
	t->state = c->state;
	free(t->last_frame);
	t->last_frame = c->frame;
	c->frame = NULL;
	gw_eng_push(t, t->last_frame);
	if (gw_mqtt_kick_ok(e->gw))
		gw_mqtt_kick(e->gw->mqtt);
	if (t->state == GW_TS_SIGNED && t->exit_on_signed) {
		/* dev.exit_after_signed (dev.mode only): a node lost between SIGNED and the final
		 * event, for the test of the resume after a restart or takeover */
		gw_log(GW_LOG_WARN, "msg=\"dev.exit_after_signed: killing this node\" txn=%s",
		       t->id);
		raise(SIGKILL);
	}
	if (gw_txn_state_final(t->state)) {
		e->gw->metrics.txn_final++;
		gw_eng_end_local(e, t);
	}
}

void
gw_eng_end_local(struct gw_engine *e, struct gw_txn *t)
{
	queue_release(e, t);
	if (t->chan != NULL && t->dispatched)
		t->chan->abandon(t->chan->self, t->ref);
	txn_free(e, t);
}

void
gw_engine_txn_done(void *arg, uint64_t tag, enum db_err rc, int64_t ref)
{
	struct gw *gw = arg;
	struct gw_commit *c = (struct gw_commit *)(uintptr_t)tag;
	struct gw_engine *e = gw->engine;

	if (e == NULL) { /* shutting down: nothing waits for it */
		gw_commit_free(c);
		return;
	}
	if (c->kind == GW_COMMIT_ACCEPT)
		gw_eng_accept_done(e, c, rc, ref);
	else if (rc == DB_OK)
		event_committed(e, c);
	else
		gw_eng_event_refused(e, c, rc);
	gw_commit_free(c);
}

void
gw_commit_free(struct gw_commit *c)
{
	if (c == NULL)
		return;
	free(c->frame);
	free(c->row);
	if (c->pending != NULL) {
		json_decref(c->pending->request);
		free(c->pending);
	}
	free(c);
}

/* ---- deadlines ---- */

static void
deadline_cb(uv_timer_t *h)
{
	struct gw_txn *t = h->data;
	struct gw_deadline_facts f = {
		.state = t->want,
		.answer_arrived = t->answer_arrived,
		.token_job = t->chan != NULL && strcmp(t->chan->name, "pcsc") == 0,
		.token_taken = t->want >= GW_TS_DISPATCHED,
		.agent_present =
		        t->chan != NULL && strcmp(t->chan->name, "pcsc") == 0 && t->dispatched,
		.reached_user = t->reached_user,
		.answer_partial = t->answer_partial,
	};
	enum gw_txn_state to;
	int code = 0, sub = 0;

	if (t->adopted) /* the owner node runs its deadline */
		return;
	if (!gw_txn_deadline_outcome(&f, &to, &code, &sub))
		return;
	if (t->chan != NULL && t->dispatched)
		t->chan->abandon(t->chan->self, t->ref);
	t->dispatched = false;
	/* A legal end refused by the database layer (the spool full while PostgreSQL is away,
	 * docs/database.md "Spool"): try again each second until it is recorded. */
	if (!gw_eng_finish(t, to, code, sub, "deadline passed") && !t->final_queued &&
	    gw_txn_transition_ok(t->want, to) && gw_txn_final_code_ok(to, code, sub))
		uv_timer_start(h, deadline_cb, 1000, 0);
}

/* ---- dispatch and channel events ---- */

static struct gw_channel *
channel_for(struct gw_engine *e, const char *device)
{
	const char *want = strcmp(device, "sim") == 0 ? "sim" : "pcsc";

	for (int i = 0; i < e->nchan; i++)
		if (strcmp(e->chan[i]->name, want) == 0)
			return e->chan[i];
	return NULL;
}

void
gw_eng_dispatch(struct gw_txn *t)
{
	struct gw_engine *e = t->eng;
	uint8_t to_sign[64];
	size_t to_sign_len = 0;
	int code = 0, sub = 0;
	char why[96];

	if (t->final_queued || t->dispatched)
		return;
	/* Not persisted yet (its accept commit has not returned, so no ref): the channel's events
	 * are routed by ref, and a job started now would have its answer lost. The signer queue
	 * may release it this early; gw_eng_accept_done dispatches it once it has its ref. */
	if (t->ref == 0)
		return;
	t->chan = channel_for(e, t->device);
	if (t->chan == NULL) {
		/* No channel of this kind on this node yet: the request waits for its deadline
		 * (like a link that is down, ARCHITECTURE.md section 6). */
		gw_log(GW_LOG_WARN, "msg=\"no device channel\" txn=%s device=%s", t->id, t->device);
		return;
	}
	if (!gw_eng_to_sign(t, to_sign, &to_sign_len, why, sizeof(why))) {
		(void)gw_eng_finish(t, GW_TS_FAILED, 900, 9001, why);
		return;
	}
	struct gw_chan_request req = {
		.txn_id = t->id,
		.ref = t->ref,
		.credential_id = t->cred_id,
		.msisdn = t->msisdn[0] != '\0' ? t->msisdn : NULL,
		.token_serial = t->token_serial[0] != '\0' ? t->token_serial : NULL,
		.hash_alg = t->hash_alg,
		.to_sign = to_sign,
		.to_sign_len = to_sign_len,
		.display = t->shown,
		.verification_code = t->code,
		.deadline_ms = t->deadline_ms,
	};
	t->dispatched = true;
	if (t->chan->start(t->chan->self, &req, &code, &sub) != 0) {
		t->dispatched = false;
		(void)gw_eng_finish(t, GW_TS_FAILED, code, sub, "the channel refused the request");
	}
}

/* A device or network end: its code picks the terminal state (208 from the device, e.g. the
 * SIM's own user timeout, is EXPIRED); a code no terminal state takes ends 900/9001, so a
 * transaction never stays open on an answer it could not record. */
static void
channel_failed(struct gw_txn *t, const struct gw_chan_event *ev)
{
	enum gw_txn_state to = ev->status == 208 ? GW_TS_EXPIRED : GW_TS_FAILED;
	int code = ev->status, sub = ev->sub;
	json_t *r, *st;

	if (!gw_txn_final_code_ok(to, code, sub))
		to = GW_TS_FAILED, code = 900, sub = 9001;
	if (t->final_queued || !gw_txn_final_code_ok(to, code, sub))
		return;
	r = gw_eng_result(t, code, sub, ev->detail);
	/* PROTOCOL.md 4.2: after a wrong PIN, status.channel.retries_left counts the tries left. */
	if (r != NULL && ev->retries_left >= 0 && (st = json_object_get(r, "status")) != NULL)
		json_object_set_new(st, "channel",
		                    json_pack("{s:s, s:i}", "kind",
		                              t->chan != NULL ? t->chan->name : t->device,
		                              "retries_left", ev->retries_left));
	(void)gw_eng_event(t, to, code, sub, r);
}

/* A late or duplicate answer: recorded and otherwise ignored (ARCHITECTURE.md 4). */
void
gw_eng_late(struct gw_engine *e, const struct gw_chan_event *ev)
{
	gw_event_node(e->gw, "txn.late", "txn", NULL, NULL,
	              json_pack("{s:I, s:i, s:s}", "ref", (json_int_t)ev->ref, "kind",
	                        (int)ev->kind, "detail", ev->detail != NULL ? ev->detail : ""));
}

void
gw_eng_answer(struct gw_txn *t, const struct gw_chan_event *ev)
{
	t->answer_arrived = true;
	t->dispatched = false;
	if (ev->kind == GW_CHAN_SIGNED) {
		/* SIGNED already recorded: a signature read back from the log (resume) */
		if (t->want != GW_TS_SIGNED) {
			t->exit_on_signed =
			        t->eng->gw->cfg.dev_mode && t->eng->gw->cfg.dev_exit_after_signed;
			if (gw_eng_event(t, GW_TS_SIGNED, 0, 0,
			                 gw_eng_signed_frame(t, ev->sig, ev->sig_len)) &&
			    t->exit_on_signed)
				return; /* the node dies at the commit, before any final event */
		}
		gw_eng_signed(t, ev->sig, ev->sig_len);
		return;
	}
	if (ev->device_blocked)
		gw_eng_device_blocked(t);
	channel_failed(t, ev);
}

static void
channel_event(void *engine, const struct gw_chan_event *ev)
{
	struct gw_engine *e = engine;
	struct gw_txn *t = find_ref(e, ev->ref);
	bool answer = ev->kind == GW_CHAN_SIGNED || ev->kind == GW_CHAN_FAILED;

	if (t == NULL && answer) {
		gw_eng_answer_elsewhere(e, ev); /* another node's request, or one that ended */
		return;
	}
	if (t == NULL || t->final_queued || t->adopted || ev->kind == GW_CHAN_LATE) {
		gw_eng_late(e, ev);
		return;
	}
	switch (ev->kind) {
	case GW_CHAN_DISPATCHED:
	case GW_CHAN_RESENT:
		(void)gw_eng_event(t, GW_TS_DISPATCHED, 0, 0, gw_eng_progress(t, GW_TS_DISPATCHED));
		break;
	case GW_CHAN_PARTIAL:
		t->answer_partial = true; /* not a state: it decides only at the deadline */
		break;
	case GW_CHAN_DELIVERED:
		t->reached_user = true;
		(void)gw_eng_event(t, GW_TS_DELIVERED, 0, 0, gw_eng_progress(t, GW_TS_DELIVERED));
		break;
	case GW_CHAN_AWAITING_USER:
		t->reached_user = true;
		(void)gw_eng_event(t, GW_TS_AWAITING_USER, 0, 0,
		                   gw_eng_progress(t, GW_TS_AWAITING_USER));
		break;
	case GW_CHAN_SIGNED:
		/* reloaded after a restart or taken over: certificate and signed bytes first */
		if (t->cert_der == NULL || t->tbs_len == 0)
			gw_eng_answer_unloaded(t, ev);
		else
			gw_eng_answer(t, ev);
		break;
	case GW_CHAN_FAILED:
		gw_eng_answer(t, ev);
		break;
	case GW_CHAN_BUSY:
		gw_eng_card_busy(t);
		break;
	case GW_CHAN_LATE:
		break;
	}
}

void
gw_engine_add_channel(struct gw_engine *e, struct gw_channel *ch)
{
	if (e->nchan >= GW_ENG_CHANNELS)
		return;
	ch->on_event = channel_event;
	ch->engine = e;
	e->chan[e->nchan++] = ch;
}

/* ---- lifecycle ---- */

struct gw_engine *
gw_engine_new(struct gw *gw)
{
	struct gw_engine *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->gw = gw;
	pol_config_defaults(&e->pol);
	gw_eng_lease_start(e);
	return e;
}

void
gw_engine_free(struct gw_engine *e)
{
	struct gw_signer_slot *q;

	if (e == NULL)
		return;
	gw_eng_lease_stop(e);
	gw_eng_card_stop(e);
	while (e->all != NULL)
		txn_free(e, e->all);
	while ((q = e->signers) != NULL) {
		e->signers = q->next;
		free(q);
	}
	gw_eng_remote_free(e);
	pol_config_wipe(&e->pol);
	free(e);
}

int
gw_engine_pending(const struct gw_engine *e)
{
	return e != NULL ? e->npending : 0;
}

/* Queue bookkeeping for sign (gw_engine_sign.c). */
enum gw_queue_rc
gw_eng_queue_add(struct gw_engine *e, struct gw_txn *t)
{
	struct gw_signer_slot *q = gw_eng_signer_slot(e, t->signer, true);

	if (q == NULL)
		return GW_Q_FULL;
	return gw_queue_add(&q->q, e->gw->cfg.signer_queue, t->key);
}

bool
gw_eng_queue_full(struct gw_engine *e, const char *signer)
{
	struct gw_signer_slot *q = gw_eng_signer_slot(e, signer, false);

	return q != NULL && q->q.n >= e->gw->cfg.signer_queue;
}

void
gw_eng_queue_drop(struct gw_engine *e, struct gw_txn *t)
{
	struct gw_signer_slot *q = gw_eng_signer_slot(e, t->signer, false);

	if (q != NULL)
		(void)gw_queue_remove(&q->q, t->key);
}

void
gw_eng_txn_discard(struct gw_engine *e, struct gw_txn *t)
{
	txn_free(e, t);
}
