/* gw_rest.c -- the REST binding (PROTOCOL.md section 6) for APs that cannot keep a socket:
 * POST /v1/sign, GET /v1/sign/{txn}, DELETE /v1/sign/{txn}, same bodies and codes as /v1/ws.
 *
 * Each request gets a stand-in session (struct gw_session with `rest` set) that the engine
 * answers through exactly as it answers a WebSocket; the first frame it sends becomes the HTTP
 * response, with the status of the section 6 table. Later frames (the events of an accepted
 * transaction) are not the request's: the AP polls with GET.
 *
 * Long poll (GET /v1/sign/{txn}?wait=N[&since=S]): the engine's `status` answer is held when
 * the transaction has not changed since S (absent: since that answer) and is not final; the
 * request then waits in gw->rest_polls with a timer on the loop, and answers with the first
 * newer event (a commit here, gw_rest_txn_event; or one another node committed, read after its
 * NOTIFY and sent to the stand-in session like any subscription) or, after N seconds, with the
 * latest event it has. Nothing blocks: the connection just has no response yet. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_engine_int.h"
#include "gw_hash.h"

#define REST_ID "rest" /* the request id the engine echoes; removed from the response */
/* lws closes a waiting request this long after its wait, should our timer not answer it. */
#define POLL_GRACE_S 10

struct gw_rest_poll {
	struct gw_rest_poll *next, *prev; /* its bucket of gw->rest_polls while parked */
	struct gw *gw;
	struct gw_http *h; /* NULL once the request is gone */
	char txn[GW_TXN_ID_MAX + 1];
	int since;        /* an event with a higher seq answers; -1: the first frame's seq */
	int wait_s;       /* 1..GW_POLL_WAIT_MAX */
	bool parked;      /* in its bucket, the timer running */
	char *latest;     /* the latest frame seen: the answer when the wait ends */
	uv_timer_t timer; /* embedded: the poll is freed in its close callback */
};

/* PROTOCOL.md section 6: an error's code to its HTTP status. */
static unsigned int
http_status_of(int code, int sub)
{
	switch (code) {
	case 101:
		return sub == 1013 ? 404 : sub == 1019 ? 409 : 400;
	case 102:
	case 103:
		return 400;
	case 104:
		return sub == 1046 ? 429 : 403;
	case 105:
		return 404;
	case 107:
	case 425:
	case 501:
	case 505:
		return 422;
	case 406:
	case 402:
		return 409;
	case 900:
		return sub == 9002 || sub == 9005 ? 503 : 500;
	default:
		return 500;
	}
}

static struct gw_http *
http_of(struct gw_session *s)
{
	return (struct gw_http *)(void *)((char *)s - offsetof(struct gw_http, sess));
}

static void
unlink_sess(struct gw *gw, struct gw_http *h)
{
	struct gw_session *s = &h->sess;

	if (!h->linked)
		return;
	gw_session_unlink(gw, s);
	h->linked = false;
}

static void
link_sess(struct gw *gw, struct gw_http *h, struct lws *wsi)
{
	struct gw_session *s = &h->sess;

	s->wsi = wsi;
	s->rest = true;
	gw_session_link(gw, s);
	lws_get_peer_simple(wsi, s->peer, sizeof(s->peer));
	h->linked = true;
}

static int
answer_json(struct lws *wsi, struct gw_http *h, unsigned int status, const char *txt)
{
	char *body = strdup(txt);

	h->answered = true;
	if (body == NULL)
		return 1;
	if (status == 503)
		return gw_http_begin(wsi, h, status, "application/json", body, strlen(body),
		                     "retry-after:", "5");
	return gw_http_begin(wsi, h, status, "application/json", body, strlen(body), NULL, NULL);
}

/* f (its "id" removed) as the response, with the status of its kind. Consumes f. */
static void
answer_frame(struct gw *gw, struct gw_http *h, json_t *f)
{
	struct gw_session *s = &h->sess;
	const char *type = json_string_value(json_object_get(f, "type"));
	unsigned int status = 200;
	json_t *st;
	char *out;

	json_object_del(f, "id");
	if (strcmp(type, "accepted") == 0 && h->method == LWSHUMETH_POST) {
		status = 202; /* GET of a fresh transaction shows its `accepted` with 200 */
	} else if (strcmp(type, "error") == 0) {
		st = json_object_get(f, "status");
		status = http_status_of((int)json_integer_value(json_object_get(st, "code")),
		                        (int)json_integer_value(json_object_get(st, "sub")));
	}
	out = json_dumps(f, JSON_COMPACT);
	json_decref(f);
	unlink_sess(gw, h); /* answered: later frames are not this request's */
	if (out == NULL || answer_json(s->wsi, h, status, out) != 0)
		lws_callback_on_writable(
		        s->wsi); /* WRITEABLE finds no buffer and the request ends */
	free(out);
}

/* ---- long poll ---- */

static size_t
poll_bucket(const char *txn)
{
	return gw_hash_str(txn) % GW_REST_POLL_BUCKETS;
}

static void
poll_freed(uv_handle_t *t)
{
	struct gw_rest_poll *p = t->data;

	free(p->latest);
	free(p);
}

/* Leaves the waiting list and stops the timer (answered, or the request is gone). */
static void
poll_unpark(struct gw_rest_poll *p)
{
	struct gw *gw = p->gw;

	if (!p->parked)
		return;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		gw->rest_polls[poll_bucket(p->txn)] = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	p->parked = false;
	gw->rest_nparked--;
	uv_timer_stop(&p->timer);
}

/* The poll ends: answers with frame (text), or with the latest one it kept. */
static void
poll_answer(struct gw_rest_poll *p, const char *frame)
{
	struct gw_http *h = p->h;
	json_t *f;

	poll_unpark(p);
	if (h == NULL || h->answered)
		return;
	f = json_loads(frame != NULL ? frame : p->latest != NULL ? p->latest : "", 0, NULL);
	if (f == NULL || json_string_value(json_object_get(f, "type")) == NULL) {
		json_decref(f);
		f = json_pack("{s:s, s:{s:i, s:s, s:i, s:s}}", "type", "error", "status", "code",
		              900, "name", "INTERNAL_ERROR", "sub", 9001, "detail",
		              "no event to answer with");
	}
	answer_frame(p->gw, h, f); /* gw_rest_closed frees p once the response is written */
}

static void
poll_timer(uv_timer_t *t)
{
	poll_answer(t->data, NULL); /* the wait is over: the latest event */
}

static void
keep_latest(struct gw_rest_poll *p, const char *txt, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return; /* the older frame stays the answer */
	memcpy(copy, txt, len);
	copy[len] = '\0';
	free(p->latest);
	p->latest = copy;
}

/* A frame for a long poll: true when it is held (the poll waits for a newer event), false
 * when it is the response (an error, a final result, or a change the client has not seen). */
static bool
poll_hold(struct gw_rest_poll *p, json_t *f, const char *txt, size_t len)
{
	struct gw *gw = p->gw;
	const char *type = json_string_value(json_object_get(f, "type"));
	int seq = (int)json_integer_value(json_object_get(f, "seq"));

	if (strcmp(type, "error") == 0 || strcmp(type, "result") == 0)
		return false; /* a final result is 200 whatever its code (PROTOCOL.md 6) */
	if (gw->draining)
		return false; /* the node stops: what there is, now */
	if (p->since < 0)
		p->since = seq; /* the client's view is this answer: wait for the next */
	if (seq > p->since)
		return false;
	keep_latest(p, txt, len);
	if (p->parked)
		return true;
	p->parked = true;
	p->next = gw->rest_polls[poll_bucket(p->txn)];
	if (p->next != NULL)
		p->next->prev = p;
	gw->rest_polls[poll_bucket(p->txn)] = p;
	gw->rest_nparked++;
	uv_timer_start(&p->timer, poll_timer, (uint64_t)p->wait_s * 1000u, 0);
	lws_set_timeout(p->h->sess.wsi, PENDING_TIMEOUT_HTTP_CONTENT, p->wait_s + POLL_GRACE_S);
	/* Events committed by another node reach the stand-in session after their NOTIFY; one
	 * committed since the answer above is sent at once. May answer p right away. */
	gw_engine_watch(gw->engine, p->txn, p->h->sess.id, p->since);
	return true;
}

void
gw_rest_txn_event(struct gw *gw, const char *txn, int seq, const char *frame)
{
	struct gw_rest_poll *p, *next;

	if (gw->rest_nparked == 0)
		return;
	for (p = gw->rest_polls[poll_bucket(txn)]; p != NULL; p = next) {
		next = p->next;
		if (strcmp(p->txn, txn) != 0)
			continue;
		if (seq > p->since)
			poll_answer(p, frame);
		else
			keep_latest(p, frame, strlen(frame));
	}
}

void
gw_rest_drain(struct gw *gw)
{
	for (size_t b = 0; b < GW_REST_POLL_BUCKETS; b++)
		while (gw->rest_polls[b] != NULL)
			poll_answer(gw->rest_polls[b], NULL);
}

/* A GET with ?wait= becomes a long poll; false: *st holds the refusal (400, 503). */
static bool
poll_open(struct gw *gw, struct lws *wsi, struct gw_http *h, const char *txn, struct gw_status *st)
{
	char frag[GW_POLL_ARGS_MAX][80];
	const char *args[GW_POLL_ARGS_MAX];
	struct gw_poll_args pa;
	struct gw_rest_poll *p;
	int n = 0;

	while (n < GW_POLL_ARGS_MAX && lws_hdr_copy_fragment(wsi, frag[n], sizeof(frag[n]),
	                                                     WSI_TOKEN_HTTP_URI_ARGS, n) >= 0) {
		args[n] = frag[n];
		n++;
	}
	if (!gw_poll_args_parse(args, n, &pa, st))
		return false;
	if (pa.wait_s == 0)
		return true; /* answer at once */
	if (gw->rest_npolls >= gw->cfg.rest_polls) {
		gw_status_set(st, 900, 9005, "too many waiting polls, retry later");
		return false;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		gw_status_set(st, 900, 9005, "overloaded, retry later");
		return false;
	}
	p->gw = gw;
	p->h = h;
	p->since = pa.since;
	p->wait_s = pa.wait_s;
	snprintf(p->txn, sizeof(p->txn), "%s", txn);
	uv_timer_init(gw->loop, &p->timer);
	p->timer.data = p;
	h->poll = p;
	gw->rest_npolls++;
	return true;
}

/* The request is gone or written: its poll leaves and is freed. */
static void
poll_close(struct gw *gw, struct gw_http *h)
{
	struct gw_rest_poll *p = h->poll;

	if (p == NULL)
		return;
	h->poll = NULL;
	poll_unpark(p);
	p->h = NULL;
	gw->rest_npolls--;
	uv_close((uv_handle_t *)&p->timer, poll_freed);
}

/* The engine's frame for this request: the response, unless a long poll holds it. */
void
gw_rest_answer(struct gw_session *s, const char *txt, size_t len)
{
	struct gw_http *h = http_of(s);
	struct gw *gw = lws_context_user(lws_get_context(s->wsi));
	json_t *f;

	if (h->answered)
		return;
	f = json_loadb(txt, len, 0, NULL);
	if (json_string_value(json_object_get(f, "type")) == NULL) {
		json_decref(f);
		return;
	}
	if (h->poll != NULL && poll_hold(h->poll, f, txt, len)) {
		json_decref(f);
		return;
	}
	if (h->poll != NULL)
		poll_unpark(h->poll);
	answer_frame(gw, h, f);
}

static int
refuse(struct lws *wsi, struct gw_http *h, unsigned int status, const char *body)
{
	return answer_json(wsi, h, status, body);
}

int
gw_rest_request(struct lws *wsi, struct gw_http *h, const char *uri)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));
	char *muri = NULL, txt[512];
	int mlen = 0, n;
	struct gw_status st;
	json_t *root;

	memset(&h->sess, 0, sizeof(h->sess));
	h->rest = true;
	h->answered = h->body_over = h->linked = false;
	h->body_len = 0;
	if (gw_server_auth(wsi, &h->sess.who) != GW_AUTH_OK) {
		gw_http_auth_refused(wsi, "rest: bad or missing credentials", "/v1/sign");
		return refuse(wsi, h, 401, "{\"error\":\"unauthorized\"}");
	}
	if (h->sess.who.role != DB_ROLE_AP)
		return refuse(wsi, h, 403, "{\"error\":\"forbidden\"}");
	h->method = lws_http_get_uri_and_method(wsi, &muri, &mlen);
	if (strcmp(uri, "/v1/sign") == 0) {
		if (h->method != LWSHUMETH_POST)
			return refuse(wsi, h, 405, "{\"error\":\"POST a sign request here\"}");
		return 0; /* the body follows: LWS_CALLBACK_HTTP_BODY */
	}
	if (h->method != LWSHUMETH_GET && h->method != LWSHUMETH_DELETE)
		return refuse(wsi, h, 405, "{\"error\":\"GET or DELETE a transaction here\"}");
	h->poll = NULL;
	if (h->method == LWSHUMETH_GET && !poll_open(gw, wsi, h, uri + 9, &st)) {
		n = gw_proto_error(txt, sizeof(txt), NULL, &st);
		return n < 0 ? 1 : answer_json(wsi, h, http_status_of(st.code, st.sub), txt);
	}
	root = json_pack("{s:s}", "txn", uri + 9);
	if (root == NULL)
		return 1;
	link_sess(gw, h, wsi);
	if (h->method == LWSHUMETH_GET)
		gw_engine_status(gw->engine, &h->sess, REST_ID, root);
	else
		gw_engine_cancel(gw->engine, &h->sess, REST_ID, root);
	json_decref(root);
	return 0;
}

int
gw_rest_body(struct lws *wsi, struct gw_http *h, const void *in, size_t len)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));

	if (h->answered)
		return 0;
	if (h->body_len + len > (size_t)gw->cfg.frame_hard_cap)
		return 1; /* abuse: close */
	if (h->body_len + len > (size_t)gw->cfg.frame_max) {
		h->body_over = true;
		h->body_len += len;
		return 0;
	}
	if (h->body == NULL && (h->body = malloc((size_t)gw->cfg.frame_max)) == NULL)
		return 1;
	memcpy(h->body + h->body_len, in, len);
	h->body_len += len;
	return 0;
}

int
gw_rest_body_done(struct lws *wsi, struct gw_http *h)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));
	struct gw_status st;
	json_error_t jerr;
	json_t *root;
	char txt[512];
	int n;

	if (h->answered)
		return 0;
	if (h->body_over) {
		gw_status_set(&st, 103, 0, "body over the limit of %d bytes", gw->cfg.frame_max);
		goto error;
	}
	root = json_loadb((const char *)h->body, h->body_len, JSON_REJECT_DUPLICATES, &jerr);
	free(h->body);
	h->body = NULL;
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		gw_status_set(&st, 101, 1018, "the body must be one JSON object");
		goto error;
	}
	json_object_set_new(root, "type", json_string("sign"));
	link_sess(gw, h, wsi);
	gw_engine_sign(gw->engine, &h->sess, REST_ID, root);
	json_decref(root);
	return 0;
error:
	n = gw_proto_error(txt, sizeof(txt), NULL, &st);
	return n < 0 ? 1 : answer_json(wsi, h, http_status_of(st.code, st.sub), txt);
}

void
gw_rest_closed(struct lws *wsi, struct gw_http *h)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));

	unlink_sess(gw, h);
	poll_close(gw, h);
	free(h->body);
	h->body = NULL;
	h->rest = false;
}
