/* gw_rest.c -- the REST binding (PROTOCOL.md section 6) for APs that cannot keep a socket:
 * POST /v1/sign, GET /v1/sign/{txn}, DELETE /v1/sign/{txn}, same bodies and codes as /v1/ws.
 *
 * Each request gets a stand-in session (struct gw_session with `rest` set) that the engine
 * answers through exactly as it answers a WebSocket; the first frame it sends becomes the HTTP
 * response, with the status of the section 6 table. Later frames (the events of an accepted
 * transaction) are not the request's: the AP polls with GET. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_engine_int.h"

#define REST_ID "rest" /* the request id the engine echoes; removed from the response */

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
	if (s->prev != NULL)
		s->prev->next = s->next;
	else if (gw->sessions == s)
		gw->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	h->linked = false;
}

static void
link_sess(struct gw *gw, struct gw_http *h, struct lws *wsi)
{
	struct gw_session *s = &h->sess;

	s->wsi = wsi;
	s->rest = true;
	s->id = ++gw->next_session_id;
	lws_get_peer_simple(wsi, s->peer, sizeof(s->peer));
	s->next = gw->sessions;
	s->prev = NULL;
	if (gw->sessions != NULL)
		gw->sessions->prev = s;
	gw->sessions = s;
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

/* The engine's first frame for this request: the response. */
void
gw_rest_answer(struct gw_session *s, const char *txt, size_t len)
{
	struct gw_http *h = http_of(s);
	struct gw *gw = lws_context_user(lws_get_context(s->wsi));
	json_t *f, *st;
	const char *type;
	unsigned int status = 200;
	char *out;

	if (h->answered)
		return;
	f = json_loadb(txt, len, 0, NULL);
	type = json_string_value(json_object_get(f, "type"));
	if (type == NULL) {
		json_decref(f);
		return;
	}
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

static int
refuse(struct lws *wsi, struct gw_http *h, unsigned int status, const char *body)
{
	return answer_json(wsi, h, status, body);
}

int
gw_rest_request(struct lws *wsi, struct gw_http *h, const char *uri)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));
	char *muri = NULL;
	int mlen = 0;
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
	free(h->body);
	h->body = NULL;
	h->rest = false;
}
