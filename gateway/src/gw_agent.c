/* gw_agent.c -- /v1/agent on the gateway's lws context (PROTOCOL.md section 7): the
 * `kyso.agent.v1` protocol's callback, frame assembly and the bounded send queue of each agent
 * session, a tick timer, and the hooks that connect the pure registry (gw_agents.c) to lws,
 * the clock and node events. Authentication happens at the upgrade (gw_server.c
 * confirm_upgrade: an `agent` role key or mTLS); here the session keeps who it is.
 *
 * lws gives each session a pointer-sized slot; the session struct is ours, freed at CLOSED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/card_msg.h>

#include "gw_agents.h"
#include "gw_int.h"

#define AGENT_TICK_MS   250
#define AGENT_OUT_MAX   64 /* frames queued to one agent before it is closed as stuck */
#define AGENT_FRAME_MAX CARD_MSG_TEXT_MAX

struct gw_agent_sess {
	struct gw_agent_sess *next, *prev;
	struct gw *gw;
	struct lws *wsi;
	struct gw_agent_peer *peer;
	struct gw_principal who;
	char addr[64];
	uint8_t *rx;
	size_t rx_len, rx_total;
	bool rx_binary;
	struct gw_outmsg *out_head, *out_tail;
	int out_count;
	bool closing;
	int close_code;
};

struct gw_agentsrv {
	struct gw *gw;
	struct gw_agents *reg;
	struct gw_agent_sess *sessions;
	uv_timer_t tick;
	bool tick_on;
};

static void
sess_close_soon(struct gw_agent_sess *s, int code)
{
	s->closing = true;
	s->close_code = code;
	lws_callback_on_writable(s->wsi);
}

static bool
hook_send(void *conn, const char *txt, size_t len)
{
	struct gw_agent_sess *s = conn;
	struct gw_outmsg *m;

	if (s->closing)
		return false;
	if (s->out_count >= AGENT_OUT_MAX) { /* an agent that does not read is dead to us */
		sess_close_soon(s, LWS_CLOSE_STATUS_POLICY_VIOLATION);
		return false;
	}
	if ((m = malloc(sizeof(*m) + LWS_PRE + len)) == NULL)
		return false;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, txt, len);
	if (s->out_tail != NULL)
		s->out_tail->next = m;
	else
		s->out_head = m;
	s->out_tail = m;
	s->out_count++;
	lws_callback_on_writable(s->wsi);
	return true;
}

static void
hook_close(void *conn, const char *why)
{
	struct gw_agent_sess *s = conn;

	gw_log(GW_LOG_INFO, "msg=\"closing agent session\" peer=%s why=\"%s\"", s->addr, why);
	sess_close_soon(s, LWS_CLOSE_STATUS_POLICY_VIOLATION);
}

static void
hook_event(void *arg, const char *kind, const char *agent_id, const char *client_id, json_t *detail)
{
	struct gw *gw = arg;

	if (detail == NULL)
		detail = json_object();
	if (agent_id == NULL || agent_id[0] == '\0') { /* before hello: a node event */
		gw_event_node(gw, kind, "agent", NULL, client_id, detail);
		return;
	}
	if (detail != NULL)
		json_object_set_new(detail, "agent_id", json_string(agent_id));
	gw_event_agent(gw, kind, agent_id, client_id, detail);
}

static uint64_t
hook_now(void *arg)
{
	(void)arg;
	return gw_mono_ms();
}

static void
hook_time(void *arg, char *out, size_t cap)
{
	(void)arg;
	gw_proto_time(out, cap, gw_now_us());
}

static void
tick_cb(uv_timer_t *t)
{
	struct gw_agentsrv *srv = t->data;

	gw_agents_tick(srv->reg);
}

int
gw_agent_start(struct gw *gw)
{
	struct gw_agents_hooks h = { hook_send, hook_close, hook_event, hook_now, hook_time, gw };
	struct gw_agentsrv *srv = calloc(1, sizeof(*srv));

	if (srv == NULL || (srv->reg = gw_agents_new(&h)) == NULL) {
		free(srv);
		return -1;
	}
	srv->gw = gw;
	uv_timer_init(gw->loop, &srv->tick);
	srv->tick.data = srv;
	uv_timer_start(&srv->tick, tick_cb, AGENT_TICK_MS, AGENT_TICK_MS);
	srv->tick_on = true;
	gw->agents = srv;
	return 0;
}

void
gw_agent_stop(struct gw *gw)
{
	struct gw_agentsrv *srv = gw->agents;

	if (srv == NULL || !srv->tick_on)
		return;
	srv->tick_on = false;
	uv_close((uv_handle_t *)&srv->tick, NULL); /* srv lives until gw_agent_free */
}

void
gw_agent_free(struct gw *gw)
{
	struct gw_agentsrv *srv = gw->agents;

	if (srv == NULL)
		return;
	gw_agents_free(srv->reg);
	free(srv);
	gw->agents = NULL;
}

struct gw_channel *
gw_agent_channel(struct gw *gw)
{
	return gw->agents != NULL ? gw_agents_channel(gw->agents->reg) : NULL;
}

void
gw_agent_close_all(struct gw *gw, int close_code)
{
	if (gw->agents == NULL)
		return;
	for (struct gw_agent_sess *s = gw->agents->sessions; s != NULL; s = s->next)
		sess_close_soon(s, close_code);
}

static struct gw_agent_sess *
sess_open(struct gw *gw, struct lws *wsi)
{
	struct gw_agentsrv *srv = gw->agents;
	struct gw_agent_sess *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->gw = gw;
	s->wsi = wsi;
	lws_get_peer_simple(wsi, s->addr, sizeof(s->addr));
	if (gw_server_auth(wsi, &s->who) != GW_AUTH_OK || s->who.role != DB_ROLE_AGENT ||
	    (s->peer = gw_agents_attach(srv->reg, s, s->who.client_id, s->addr)) == NULL) {
		free(s);
		return NULL;
	}
	s->next = srv->sessions;
	if (srv->sessions != NULL)
		srv->sessions->prev = s;
	srv->sessions = s;
	gw->metrics.conns_open++; /* agents share the node's session limit (max_sessions) */
	gw->metrics.conns_total++;
	gw_event_node(gw, "conn.open", "conn", s->addr, s->who.client_id,
	              json_pack("{s:s, s:s}", "role", db_role_name(s->who.role), "endpoint",
	                        "/v1/agent"));
	return s;
}

static void
sess_free(struct gw_agent_sess *s)
{
	struct gw *gw = s->gw;
	struct gw_agentsrv *srv = gw->agents;

	if (s->prev != NULL)
		s->prev->next = s->next;
	else if (srv != NULL && srv->sessions == s)
		srv->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (srv != NULL)
		gw_agents_detach(srv->reg, s->peer);
	while (s->out_head != NULL) {
		struct gw_outmsg *m = s->out_head;

		s->out_head = m->next;
		free(m);
	}
	free(s->rx);
	gw->metrics.conns_open--;
	gw_event_node(gw, "conn.close", "conn", s->addr, s->who.client_id,
	              json_pack("{s:s}", "endpoint", "/v1/agent"));
	free(s);
}

static int
sess_frame(struct gw_agent_sess *s)
{
	enum gw_agent_rx r;

	if (s->rx_binary || s->rx_total > AGENT_FRAME_MAX) {
		r = GW_AGENT_RX_CLOSE; /* PROTOCOL.md 3: text frames only, bounded */
	} else {
		r = gw_agents_receive(s->gw->agents->reg, s->peer, (const char *)s->rx, s->rx_len);
	}
	if (r == GW_AGENT_RX_CLOSE) {
		lws_close_reason(s->wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		                 (unsigned char *)"agent protocol violation", 24);
		return -1;
	}
	return 0;
}

/* Assembles a message; beyond the frame cap the bytes are counted, not kept. */
static int
sess_receive(struct gw_agent_sess *s, const void *in, size_t len)
{
	if (lws_is_first_fragment(s->wsi)) {
		s->rx_len = s->rx_total = 0;
		s->rx_binary = lws_frame_is_binary(s->wsi) != 0;
	}
	s->rx_total += len;
	if (s->rx_total > AGENT_FRAME_MAX) {
		lws_close_reason(s->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		                 (unsigned char *)"frame over the cap", 18);
		return -1;
	}
	if (!s->rx_binary) {
		if (s->rx == NULL && (s->rx = malloc(AGENT_FRAME_MAX)) == NULL)
			return -1;
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += len;
	}
	if (lws_is_final_fragment(s->wsi) && lws_remaining_packet_payload(s->wsi) == 0) {
		int rc = sess_frame(s);

		if (s->rx_total > 4096) { /* keep at most a small buffer between messages */
			free(s->rx);
			s->rx = NULL;
		}
		s->rx_len = s->rx_total = 0;
		return rc;
	}
	return 0;
}

static int
sess_writeable(struct gw_agent_sess *s)
{
	struct gw_outmsg *m = s->out_head;

	if (m != NULL) {
		int n;

		s->out_head = m->next;
		if (s->out_head == NULL)
			s->out_tail = NULL;
		s->out_count--;
		n = lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		free(m);
		if (n < 0)
			return -1;
		s->gw->metrics.frames_out++;
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

/* The kyso.agent.v1 protocol. user is lws's pointer-sized slot holding our session. */
int
gw_agent_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct gw *gw = lws_context_user(lws_get_context(wsi));
	struct gw_agent_sess **slot = user;
	char path[32];

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Only on /v1/agent (a client may offer this subprotocol on /v1/ws). */
		return lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) > 0 &&
		                       strcmp(path, "/v1/agent") == 0 && gw->agents != NULL
		               ? 0
		               : -1;
	case LWS_CALLBACK_ESTABLISHED:
		*slot = sess_open(gw, wsi);
		return *slot != NULL ? 0 : -1;
	case LWS_CALLBACK_RECEIVE:
		if (*slot == NULL)
			return -1;
		gw->metrics.frames_in++;
		return sess_receive(*slot, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return *slot != NULL ? sess_writeable(*slot) : -1;
	case LWS_CALLBACK_CLOSED:
		if (*slot != NULL) {
			sess_free(*slot);
			*slot = NULL;
		}
		break;
	default:
		break;
	}
	return 0;
}
