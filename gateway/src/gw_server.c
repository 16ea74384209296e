/* gw_server.c -- libwebsockets on the gateway's libuv loop: the HTTP endpoints (/healthz,
 * /readyz, /metrics) and the /v1/ws session framing of PROTOCOL.md sections 2-3.
 *
 * lws owns the connections and their per-session structs; we send only from WRITEABLE, one
 * lws_write() per callback, from the session's own bounded queue (STYLE.md 2.5).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "gw_engine_int.h"
#include "gw_int.h"
#include "gw_recovery.h"
#include "gw_recovery_http.h"

#define WS_PROTOCOL "kyso.v1"
#define ANSWER_MAX  2048 /* error and pong answers are small */

static struct gw *
gw_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* ---- answers on /v1/ws ---- */

static void
session_queue(struct gw_session *s, const char *txt, size_t len)
{
	struct gw *gw = gw_of(s->wsi);
	struct gw_outmsg *m;

	if (s->rest) {
		gw_rest_answer(s, txt, len);
		return;
	}
	if ((m = malloc(sizeof(*m) + LWS_PRE + len)) == NULL) {
		s->closing = true; /* cannot answer: the peer must not wait for nothing */
		s->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
		lws_callback_on_writable(s->wsi);
		return;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, txt, len);
	if (s->out_tail != NULL)
		s->out_tail->next = m;
	else
		s->out_head = m;
	s->out_tail = m;
	s->out_count++;
	/* A peer that does not read its answers stops being read (section 3 in-flight cap). */
	if (!s->rx_paused && s->out_count >= gw->cfg.inflight_per_conn) {
		lws_rx_flow_control(s->wsi, 0);
		s->rx_paused = true;
	}
	lws_callback_on_writable(s->wsi);
}

static void
session_error(struct gw_session *s, const char *id, const struct gw_status *st)
{
	struct gw *gw = gw_of(s->wsi);
	char txt[ANSWER_MAX];
	int n = gw_proto_error(txt, sizeof(txt), id, st);
	json_t *detail;

	if (n < 0)
		return;
	session_queue(s, txt, (size_t)n);
	gw_metrics_error(&gw->metrics, st->code, st->sub);
	detail = json_pack("{s:i, s:i, s:s, s:I}", "code", st->code, "sub", st->sub, "detail",
	                   st->detail, "session", (json_int_t)s->id);
	if (detail != NULL && id != NULL && id[0] != '\0')
		json_object_set_new(detail, "id", json_string(id));
	gw_event_node(gw, "error", "error", s->peer, s->who.client_id, detail);
}

uint64_t
gw_session_id(const struct gw_session *s)
{
	return s->id;
}

const struct gw_principal *
gw_session_who(const struct gw_session *s)
{
	return &s->who;
}

void
gw_session_send(struct gw_session *s, const char *txt, size_t len)
{
	session_queue(s, txt, len);
}

void
gw_session_error(struct gw_session *s, const char *id, const struct gw_status *st)
{
	session_error(s, id, st);
}

static void
handle_request(struct gw_session *s, struct gw_req *req)
{
	struct gw *gw = gw_of(s->wsi);
	char txt[ANSWER_MAX];
	int n;

	switch (req->type) {
	case GW_REQ_PING:
		n = gw_proto_pong(txt, sizeof(txt), req->id, gw_now_us());
		if (n > 0)
			session_queue(s, txt, (size_t)n);
		break;
	case GW_REQ_SIGN:
		gw_engine_sign(gw->engine, s, req->id, req->root);
		break;
	case GW_REQ_STATUS:
		gw_engine_status(gw->engine, s, req->id, req->root);
		break;
	case GW_REQ_CANCEL:
		gw_engine_cancel(gw->engine, s, req->id, req->root);
		break;
	case GW_REQ_SUBSCRIBE:
		gw_engine_subscribe(gw->engine, s, req->id, req->root);
		break;
	}
}

static void
handle_frame(struct gw_session *s)
{
	struct gw *gw = gw_of(s->wsi);
	struct gw_status st;
	struct gw_req req;

	gw->metrics.frames_in++;
	if (s->rx_binary) {
		gw_status_set(&st, 101, 1018, "binary frames are not accepted");
		session_error(s, NULL, &st);
		return;
	}
	if (s->rx_total > (size_t)gw->cfg.frame_max) {
		gw_status_set(&st, 103, 0, "frame of %zu bytes over the limit of %d", s->rx_total,
		              gw->cfg.frame_max);
		session_error(s, NULL, &st);
		return;
	}
	if (!gw_proto_parse(s->rx, s->rx_len, &req, &st)) {
		session_error(s, req.id, &st);
		return;
	}
	handle_request(s, &req);
	gw_req_clear(&req);
}

/* Assembles a message from its fragments. Bytes beyond the frame limit are counted, not kept;
 * beyond the hard cap the connection is abuse and closes with 1009. */
static int
session_receive(struct gw_session *s, const void *in, size_t len)
{
	struct gw *gw = gw_of(s->wsi);

	if (lws_is_first_fragment(s->wsi)) {
		s->rx_len = s->rx_total = 0;
		s->rx_binary = lws_frame_is_binary(s->wsi) != 0;
	}
	s->rx_total += len;
	if (s->rx_total > (size_t)gw->cfg.frame_hard_cap) {
		lws_close_reason(s->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		                 (unsigned char *)"frame over the hard cap", 23);
		return -1;
	}
	if (s->rx_total <= (size_t)gw->cfg.frame_max && !s->rx_binary) {
		if (s->rx == NULL && (s->rx = malloc((size_t)gw->cfg.frame_max)) == NULL)
			return -1;
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += len;
	}
	if (lws_is_final_fragment(s->wsi) && lws_remaining_packet_payload(s->wsi) == 0) {
		handle_frame(s);
		/* Keep at most a small buffer between messages. */
		if (s->rx_total > 4096) {
			free(s->rx);
			s->rx = NULL;
		}
		s->rx_len = s->rx_total = 0;
	}
	return 0;
}

static int
session_writeable(struct gw_session *s)
{
	struct gw *gw = gw_of(s->wsi);
	struct gw_outmsg *m = s->out_head;

	if (m != NULL) {
		s->out_head = m->next;
		if (s->out_head == NULL)
			s->out_tail = NULL;
		s->out_count--;
		int n = lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);

		free(m);
		if (n < 0)
			return -1;
		gw->metrics.frames_out++;
		if (s->rx_paused && s->out_count <= gw->cfg.inflight_per_conn / 2) {
			lws_rx_flow_control(s->wsi, 1);
			s->rx_paused = false;
		}
		if (s->out_head != NULL) {
			lws_callback_on_writable(s->wsi);
			return 0;
		}
	}
	if (s->closing) {
		lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, NULL, 0);
		return -1;
	}
	return 0;
}

static void
session_open(struct gw_session *s, struct lws *wsi)
{
	struct gw *gw = gw_of(wsi);

	s->wsi = wsi;
	gw_session_link(gw, s);
	lws_get_peer_simple(wsi, s->peer, sizeof(s->peer));
	gw->metrics.conns_open++;
	gw->metrics.conns_total++;
	gw_event_node(gw, "conn.open", "conn", s->peer, s->who.client_id,
	              json_pack("{s:I, s:s, s:s}", "session", (json_int_t)s->id, "role",
	                        db_role_name(s->who.role), "endpoint", "/v1/ws"));
}

static void
session_close(struct gw_session *s)
{
	struct gw *gw = gw_of(s->wsi);

	gw_session_unlink(gw, s);
	while (s->out_head != NULL) {
		struct gw_outmsg *m = s->out_head;

		s->out_head = m->next;
		free(m);
	}
	free(s->rx);
	s->rx = NULL;
	gw->metrics.conns_open--;
	gw_event_node(gw, "conn.close", "conn", s->peer, s->who.client_id,
	              json_pack("{s:I}", "session", (json_int_t)s->id));
}

/* ---- authentication at the upgrade ---- */

/* SHA-256 of a verified client certificate, hex, or "" when none was presented. */
static void
peer_cert_fp(struct lws *wsi, char out[65])
{
	SSL *ssl = lws_get_ssl(wsi);
	X509 *cert = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (cert == NULL)
		return;
	if (SSL_get_verify_result(ssl) == X509_V_OK &&
	    X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
		for (int i = 0; i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	X509_free(cert);
}

enum gw_auth_result
gw_server_auth(struct lws *wsi, struct gw_principal *who)
{
	struct gw *gw = gw_of(wsi);
	char header[256], fp[65];
	int n = lws_hdr_copy(wsi, header, sizeof(header), WSI_TOKEN_HTTP_AUTHORIZATION);
	enum gw_auth_result r;

	if (n < 0) /* longer than any valid key: a bad key, not a missing one */
		return GW_AUTH_BAD;
	peer_cert_fp(wsi, fp);
	r = gw_auth_check(gw->auth, n > 0 ? header : NULL, fp, who);
	explicit_bzero(header, sizeof(header));
	return r;
}

/* Writes a complete response (headers and a small body) at once; only for refusals before
 * a session exists, where lws expects us to answer inside the callback. */
static int
http_answer_now(struct lws *wsi, unsigned int status, const char *ctype, const char *body,
                const char *extra_name, const char *extra_value)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
	                                   *end = buf + sizeof(buf) - 1;
	size_t blen = strlen(body);

	if (lws_add_http_common_headers(wsi, status, ctype, blen, &p, end) ||
	    (extra_name != NULL &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)extra_name,
	                                 (const unsigned char *)extra_value,
	                                 (int)strlen(extra_value), &p, end)) ||
	    lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < blen)
		return -1;
	memcpy(p, body, blen);
	p += blen;
	if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	return 1;
}

static void
auth_refused(struct lws *wsi, const char *why, const char *path)
{
	struct gw *gw = gw_of(wsi);
	char peer[64];

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	gw->metrics.auth_failures++;
	gw_auth_note_failure(gw->auth, peer, gw_mono_ms());
	/* The node event says why; the peer is told nothing more than "unauthorized". */
	gw_event_node(gw, "auth.fail", "auth", peer, NULL,
	              json_pack("{s:s, s:s}", "reason", why, "path", path));
}

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: the last moment to refuse with an HTTP status. */
static int
confirm_upgrade(struct lws *wsi)
{
	static const char *const why[] = { "ok", "missing", "bad", "mismatch" };
	struct gw *gw = gw_of(wsi);
	char path[64], proto[128], peer[64];
	struct gw_principal who;
	enum gw_auth_result r;
	bool agent;

	if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
	    (strcmp(path, "/v1/ws") != 0 && strcmp(path, "/v1/agent") != 0))
		return http_answer_now(wsi, 404, "application/json", "{\"error\":\"not found\"}",
		                       NULL, NULL);
	agent = strcmp(path, "/v1/agent") == 0; /* PROTOCOL.md 7: agents, their own role */
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (gw_auth_limited(gw->auth, peer, gw_mono_ms())) {
		gw->metrics.auth_limited++;
		return http_answer_now(wsi, 429, "application/json",
		                       "{\"error\":\"too many failed attempts\"}",
		                       "retry-after:", "60");
	}
	if ((r = gw_server_auth(wsi, &who)) != GW_AUTH_OK) {
		auth_refused(wsi, why[r], path);
		return http_answer_now(wsi, 401, "application/json", "{\"error\":\"unauthorized\"}",
		                       NULL, NULL);
	}
	if (who.role != (agent ? DB_ROLE_AGENT : DB_ROLE_AP))
		return http_answer_now(wsi, 403, "application/json",
		                       agent ? "{\"error\":\"this endpoint is for agents\"}"
		                             : "{\"error\":\"this endpoint is for application "
		                               "providers\"}",
		                       NULL, NULL);
	if (gw->draining || gw->metrics.conns_open >= (uint64_t)gw->cfg.max_sessions)
		return http_answer_now(wsi, 503, "application/json",
		                       "{\"error\":\"overloaded, retry later\"}",
		                       "retry-after:", "5");
	if (lws_hdr_copy(wsi, proto, sizeof(proto), WSI_TOKEN_PROTOCOL) <= 0 ||
	    strstr(proto, agent ? GW_AGENT_PROTOCOL : WS_PROTOCOL) == NULL)
		return http_answer_now(wsi, 400, "application/json",
		                       agent ? "{\"error\":\"subprotocol kyso.agent.v1 required\"}"
		                             : "{\"error\":\"subprotocol kyso.v1 required\"}",
		                       NULL, NULL);
	return 0;
}

/* ---- plain HTTP: /healthz, /readyz, /metrics ---- */

static int
http_begin(struct lws *wsi, struct gw_http *h, unsigned int status, const char *ctype, char *body,
           size_t len)
{
	return gw_http_begin(wsi, h, status, ctype, body, len, NULL, NULL);
}

void
gw_http_auth_refused(struct lws *wsi, const char *why, const char *path)
{
	auth_refused(wsi, why, path);
}

int
gw_http_begin(struct lws *wsi, struct gw_http *h, unsigned int status, const char *ctype,
              char *body, size_t len, const char *extra_name, const char *extra_value)
{
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
	                                  *end = buf + sizeof(buf) - 1;

	/* lws may write framing in front of what it is given: keep LWS_PRE bytes free. */
	h->buf = body != NULL ? malloc(LWS_PRE + len) : NULL;
	if (h->buf == NULL) {
		free(body);
		return 1;
	}
	memcpy(h->buf + LWS_PRE, body, len);
	free(body);
	h->len = len;
	if (lws_add_http_common_headers(wsi, status, ctype, len, &p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	                                (const unsigned char *)"no-store", 8, &p, end) ||
	    (extra_name != NULL &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)extra_name,
	                                 (const unsigned char *)extra_value,
	                                 (int)strlen(extra_value), &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return 1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
http_metrics(struct lws *wsi, struct gw_http *h)
{
	struct gw *gw = gw_of(wsi);
	struct gw_principal who;
	struct db_stats dbs;
	size_t len = 0;
	char *body;

	if (gw_server_auth(wsi, &who) != GW_AUTH_OK || who.role != DB_ROLE_OPERATOR) {
		auth_refused(wsi, "metrics needs an operator key", "/metrics");
		return http_begin(wsi, h, 401, "application/json",
		                  strdup("{\"error\":\"unauthorized\"}"), 24);
	}
	db_stats_get(gw->db, &dbs);
	body = gw_metrics_render(&gw->metrics, &dbs, db_outbox_depth(gw->db), &len);
	if (body == NULL)
		return 1;
	return http_begin(wsi, h, 200, "text/plain; version=0.0.4", body, len);
}

static int
json_answer(struct lws *wsi, struct gw_http *h, unsigned int status, const char *text)
{
	char *body = strdup(text);

	return body == NULL ? 1
	                    : http_begin(wsi, h, status, "application/json", body, strlen(text));
}

/* PROTOCOL.md section 9: POST /v1/recovery/{case_id}/resolve by a `connector` client. The body
 * (optional) follows in LWS_CALLBACK_HTTP_BODY; the answer after the database's. lws writes
 * nothing while a POST body is arriving, so a refusal too waits for the body's end. */
static int
http_recovery(struct lws *wsi, struct gw_http *h, const char *uri)
{
	struct gw *gw = gw_of(wsi);
	char id[GW_RECOVERY_ID_CAP] = "", clen[24];
	struct gw_principal who = { .client_id = "" };
	bool is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
	enum gw_auth_result ar = GW_AUTH_MISSING;
	bool known = gw_recovery_path_case(uri, id), limited;
	char peer[64];

	if (!is_post)
		return json_answer(wsi, h, known ? 405 : 404,
		                   known ? "{\"error\":\"POST required\"}"
		                         : "{\"error\":\"not found\"}");
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	limited = gw_auth_limited(gw->auth, peer, gw_mono_ms()); /* PROTOCOL.md section 2 */
	if (known && !limited && (ar = gw_server_auth(wsi, &who)) != GW_AUTH_OK)
		auth_refused(wsi, "recovery resolve", "/v1/recovery");
	if ((h->rec = gw_rec_http_new(wsi, who.client_id, who.destination, id)) == NULL)
		return 1;
	if (!known)
		gw_rec_http_refuse(h->rec, 404, "{\"error\":\"not found\"}");
	else if (limited)
		gw_rec_http_refuse(h->rec, 429, "{\"error\":\"too many failed attempts\"}");
	else if (ar != GW_AUTH_OK)
		gw_rec_http_refuse(h->rec, 401, "{\"error\":\"unauthorized\"}");
	else if (who.role != DB_ROLE_CONNECTOR || who.destination[0] == '\0')
		gw_rec_http_refuse(h->rec, 403, "{\"error\":\"this endpoint is for connectors\"}");
	/* Without a body lws calls no BODY callbacks: answer now. */
	if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
	    strcmp(clen, "0") == 0)
		gw_rec_http_complete(gw, h->rec);
	return 0;
}

static int
http_request(struct lws *wsi, struct gw_http *h, const char *uri)
{
	struct gw *gw = gw_of(wsi);
	char *body = NULL;
	int n;

	if (strcmp(uri, "/healthz") == 0) {
		body = strdup("{\"status\":\"ok\"}");
		return body == NULL ? 1 : http_begin(wsi, h, 200, "application/json", body, 15);
	}
	if (strcmp(uri, "/readyz") == 0) {
		bool ready = gw_server_ready(gw);
		char txt[160];

		n = snprintf(txt, sizeof(txt), "{\"ready\":%s,\"db\":%s,\"draining\":%s}",
		             ready ? "true" : "false", db_ready(gw->db) ? "true" : "false",
		             gw->draining ? "true" : "false");
		body = strdup(txt);
		return body == NULL ? 1
		                    : http_begin(wsi, h, ready ? 200 : 503, "application/json",
		                                 body, (size_t)n);
	}
	if (strcmp(uri, "/metrics") == 0)
		return http_metrics(wsi, h);
	if (strncmp(uri, "/v1/recovery/", 13) == 0)
		return http_recovery(wsi, h, uri);
	if (strcmp(uri, "/v1/sign") == 0 || strncmp(uri, "/v1/sign/", 9) == 0)
		return gw_rest_request(wsi, h, uri);
	if (strcmp(uri, "/v1/ws") == 0 || strcmp(uri, "/v1/agent") == 0) {
		body = strdup("{\"error\":\"websocket upgrade required\"}");
		return body == NULL ? 1 : http_begin(wsi, h, 426, "application/json", body, 38);
	}
	body = strdup("{\"error\":\"not found\"}");
	return body == NULL ? 1 : http_begin(wsi, h, 404, "application/json", body, 21);
}

static int
http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw_http *h = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi);
	case LWS_CALLBACK_HTTP:
		if (h == NULL)
			return 1;
		return http_request(wsi, h, (const char *)in);
	case LWS_CALLBACK_HTTP_BODY:
		if (h != NULL && h->rec != NULL) {
			gw_rec_http_body(h->rec, in, len);
			return 0;
		}
		return h != NULL && h->rest ? gw_rest_body(wsi, h, in, len) : 1;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (h != NULL && h->rec != NULL) {
			gw_rec_http_complete(gw_of(wsi), h->rec);
			return 0;
		}
		return h != NULL && h->rest ? gw_rest_body_done(wsi, h) : 1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (h != NULL && h->rec != NULL && h->buf == NULL) {
			unsigned int st;
			char *body;
			size_t blen;

			if (!gw_rec_http_take_answer(h->rec, &st, &body, &blen))
				break; /* the database has not answered yet */
			return http_begin(wsi, h, st, "application/json", body, blen);
		}
		if (h == NULL || h->sent || h->buf == NULL)
			break;
		h->sent = true;
		if (lws_write(wsi, h->buf + LWS_PRE, h->len, LWS_WRITE_HTTP_FINAL) != (int)h->len)
			return 1;
		free(h->buf);
		h->buf = NULL;
		h->sent = false;
		gw_rec_http_detach(h->rec);
		h->rec = NULL;
		if (h->rest)
			gw_rest_closed(wsi, h); /* keep-alive: the next request starts clean */
		/* May free h (the per-request data): nothing touches it after this. */
		if (lws_http_transaction_completed(wsi))
			return -1;
		break;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (h != NULL) {
			gw_rest_closed(wsi, h);
			free(h->buf);
			h->buf = NULL;
			gw_rec_http_detach(h->rec);
			h->rec = NULL;
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static int
ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw_session *s = user;
	char path[32];

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(wsi);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Checked at CONFIRM_UPGRADE already; here the session keeps who it is. */
		if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(path, "/v1/ws") != 0)
			return -1; /* kyso.v1 offered on /v1/agent */
		return gw_server_auth(wsi, &s->who) == GW_AUTH_OK && s->who.role == DB_ROLE_AP ? 0
		                                                                               : -1;
	case LWS_CALLBACK_ESTABLISHED:
		session_open(s, wsi);
		break;
	case LWS_CALLBACK_RECEIVE:
		return session_receive(s, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return session_writeable(s);
	case LWS_CALLBACK_CLOSED:
		if (s->wsi != NULL)
			session_close(s);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "http", http_cb, sizeof(struct gw_http), 0, 0, NULL, 0 },
	{ WS_PROTOCOL, ws_cb, sizeof(struct gw_session), 4096, 0, NULL, 0 },
	{ GW_AGENT_PROTOCOL, gw_agent_cb, sizeof(void *), 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	gw_log(level == LLL_ERR ? GW_LOG_ERR : GW_LOG_WARN, "src=lws msg=\"%.*s\"", (int)n, line);
}

int
gw_server_start(struct gw *gw, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	static void *foreign_loops[1];
	const struct gw_config *c = &gw->cfg;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	memset(&info, 0, sizeof(info));
	foreign_loops[0] = gw->loop;
	info.foreign_loops = foreign_loops;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
	               LWS_SERVER_OPTION_DISABLE_IPV6;
	if (strchr(c->listen_address, ':') != NULL)
		info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = c->listen_port;
	info.iface = c->listen_address;
	info.protocols = protocols;
	info.user = gw;
	info.max_http_header_data = 4096; /* small before authentication (STYLE.md 2.10) */
	info.timeout_secs = 10;
	info.fd_limit_per_thread = (unsigned int)c->max_sessions + 256;
	if (c->tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = c->tls_cert;
		info.ssl_private_key_filepath = c->tls_key;
		if (c->tls_client_ca[0] != '\0') {
			/* mTLS is optional per client: verify a certificate when one is sent. */
			info.ssl_ca_filepath = c->tls_client_ca;
			info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
			                LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
		}
	}
	gw->lws = lws_create_context(&info);
	if (gw->lws == NULL) {
		snprintf(err, errlen, "cannot listen on %s:%d (see the lws lines above)",
		         c->listen_address, c->listen_port);
		return -1;
	}
	return 0;
}

bool
gw_server_ready(const struct gw *gw)
{
	return !gw->draining && gw->db != NULL && db_ready(gw->db) && gw_engine_leased(gw->engine);
}

void
gw_server_close_all(struct gw *gw, int close_code)
{
	for (struct gw_session *s = gw->sessions; s != NULL; s = s->next) {
		if (s->rest)
			continue; /* a REST request ends with its response */
		s->closing = true;
		s->close_code = close_code;
		lws_callback_on_writable(s->wsi);
	}
	gw_agent_close_all(gw, close_code);
}
