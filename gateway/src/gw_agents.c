/* gw_agents.c -- agent sessions on /v1/agent: hello, token snapshots, ping/pong and the routing
 * of job answers to the token channel (PROTOCOL.md section 7, PCSC.md 5.6). Pure: frames in,
 * frames and events out through the hooks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_agents_int.h"

uint64_t
gwa_now(struct gw_agents *a)
{
	return a->h.now_ms(a->h.arg);
}

bool
gwa_send(struct gw_agents *a, struct gw_agent_peer *p, const struct card_msg *m)
{
	char *txt = NULL;
	size_t len = 0;
	bool ok;

	if (card_msg_build(m, CARD_MSG_FROM_GATEWAY, &txt, &len, NULL) != CARD_MSG_OK)
		return false;
	ok = a->h.send(p->conn, txt, len);
	free(txt);
	return ok;
}

void
gwa_event(struct gw_agents *a, const char *kind, const struct gw_agent_peer *p, json_t *detail)
{
	if (detail != NULL && p != NULL && p->addr[0] != '\0')
		json_object_set_new(detail, "peer", json_string(p->addr));
	a->h.event(a->h.arg, kind, p != NULL ? p->agent_id : "", p != NULL ? p->client_id : "",
	           detail);
}

struct gw_agents *
gw_agents_new(const struct gw_agents_hooks *h)
{
	struct gw_agents *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->h = *h;
	gwa_chan_init(a);
	return a;
}

static void
peer_drop_tokens(struct gw_agent_peer *p)
{
	for (int i = 0; i < p->ntokens; i++)
		card_msg_token_clear(&p->tokens[i]);
	free(p->tokens);
	p->tokens = NULL;
	p->ntokens = 0;
}

void
gw_agents_free(struct gw_agents *a)
{
	if (a == NULL)
		return;
	gwa_jobs_free(a);
	while (a->peers != NULL) {
		struct gw_agent_peer *p = a->peers;

		a->peers = p->next;
		peer_drop_tokens(p);
		free(p);
	}
	free(a);
}

struct gw_channel *
gw_agents_channel(struct gw_agents *a)
{
	return &a->chan;
}

struct gw_agent_peer *
gw_agents_attach(struct gw_agents *a, void *conn, const char *client_id, const char *addr)
{
	struct gw_agent_peer *p = calloc(1, sizeof(*p));
	uint64_t now = gwa_now(a);

	if (p == NULL)
		return NULL;
	p->conn = conn;
	snprintf(p->client_id, sizeof(p->client_id), "%s", client_id != NULL ? client_id : "");
	snprintf(p->addr, sizeof(p->addr), "%s", addr != NULL ? addr : "");
	p->last_seen_ms = now;
	p->next_ping_ms = now + GW_AGENT_PING_MS;
	p->next = a->peers;
	if (a->peers != NULL)
		a->peers->prev = p;
	a->peers = p;
	a->npeers++;
	return p;
}

void
gw_agents_detach(struct gw_agents *a, struct gw_agent_peer *p)
{
	if (p == NULL)
		return;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		a->peers = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	a->npeers--;
	if (p->hello)
		gwa_event(a, "agent.gone", p, json_pack("{s:i}", "tokens", p->ntokens));
	peer_drop_tokens(p);
	gwa_jobs_peer_gone(a, p);
	free(p);
}

/* A credential names its token by the token's serial (any case) or by its certificate: the
 * key id, the hex SHA-256 of the certificate DER (PCSC.md 5.6). */
static bool
token_matches(const struct card_msg_token *t, const char *serial)
{
	if (strcasecmp(t->serial, serial) == 0)
		return true;
	for (int k = 0; k < t->nkeys; k++)
		if (strcasecmp(t->keys[k].key_id, serial) == 0)
			return true;
	return false;
}

struct gw_agent_peer *
gwa_find_token(const struct gw_agents *a, const char *serial, const struct card_msg_token **tok)
{
	if (serial == NULL || serial[0] == '\0')
		return NULL;
	for (struct gw_agent_peer *p = a->peers; p != NULL; p = p->next) {
		if (!p->hello)
			continue;
		for (int i = 0; i < p->ntokens; i++) {
			if (token_matches(&p->tokens[i], serial)) {
				if (tok != NULL)
					*tok = &p->tokens[i];
				return p;
			}
		}
	}
	return NULL;
}

const char *
gw_agents_holder(const struct gw_agents *a, const char *token_serial)
{
	struct gw_agent_peer *p = gwa_find_token(a, token_serial, NULL);

	return p != NULL ? p->agent_id : NULL;
}

int
gw_agents_peer_count(const struct gw_agents *a)
{
	return a->npeers;
}

static enum gw_agent_rx
on_hello(struct gw_agents *a, struct gw_agent_peer *p, const struct card_msg *m)
{
	json_t *d;

	if (p->hello) /* hello is the first message, once */
		return GW_AGENT_RX_CLOSE;
	p->hello = true;
	snprintf(p->agent_id, sizeof(p->agent_id), "%s", m->agent_id);
	d = json_pack("{s:s, s:s}", "version", m->version, "os", m->os);
	if (d != NULL && m->npin_sources > 0) {
		json_t *src = json_array();

		for (int i = 0; i < m->npin_sources; i++)
			json_array_append_new(src, json_string(m->pin_sources[i]));
		json_object_set_new(d, "pin_sources", src);
	}
	gwa_event(a, "agent.hello", p, d);
	return GW_AGENT_RX_OK;
}

static json_t *
tokens_detail(const struct gw_agent_peer *p)
{
	json_t *arr = json_array();

	for (int i = 0; arr != NULL && i < p->ntokens; i++) {
		const struct card_msg_token *t = &p->tokens[i];

		/* Serial and reader only: certificates are in the credential directory. */
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "token_id", t->token_id,
		                                     "serial", t->serial, "reader", t->reader));
	}
	return json_pack("{s:I, s:o}", "seq", (json_int_t)p->tokens_seq, "tokens", arr);
}

static enum gw_agent_rx
on_tokens(struct gw_agents *a, struct gw_agent_peer *p, struct card_msg *m)
{
	/* Snapshots are ordered by seq; an old one (resent after a reconnect) is ignored. */
	if (p->have_tokens && m->seq <= p->tokens_seq) {
		gwa_event(a, "agent.refused", p,
		          json_pack("{s:s, s:I}", "why", "stale tokens seq", "seq",
		                    (json_int_t)m->seq));
		return GW_AGENT_RX_IGNORED;
	}
	peer_drop_tokens(p);
	p->tokens = m->tokens; /* the snapshot moves into the session */
	p->ntokens = m->ntokens;
	m->tokens = NULL;
	m->ntokens = 0;
	p->tokens_seq = m->seq;
	p->have_tokens = true;
	gwa_event(a, "agent.tokens", p, tokens_detail(p));
	gwa_dispatch(a);
	return GW_AGENT_RX_OK;
}

static enum gw_agent_rx
on_ping(struct gw_agents *a, struct gw_agent_peer *p, const struct card_msg *m)
{
	struct card_msg pong;

	card_msg_init(&pong, CARD_MSG_PONG);
	snprintf(pong.id, sizeof(pong.id), "%s", m->id);
	a->h.wall_time(a->h.arg, pong.time, sizeof(pong.time));
	gwa_send(a, p, &pong);
	return GW_AGENT_RX_OK;
}

static enum gw_agent_rx
refuse(struct gw_agents *a, struct gw_agent_peer *p, enum card_msg_err e, const char *field)
{
	gwa_event(a, "agent.refused", p,
	          json_pack("{s:s, s:s}", "why", card_msg_strerror(e), "field", field));
	/* Before hello nothing is trusted; after it a bad frame is recorded and ignored. */
	return p->hello ? GW_AGENT_RX_IGNORED : GW_AGENT_RX_CLOSE;
}

enum gw_agent_rx
gw_agents_receive(struct gw_agents *a, struct gw_agent_peer *p, const char *txt, size_t len)
{
	struct card_msg m;
	const char *field = "";
	enum card_msg_err e;
	enum gw_agent_rx rx;

	p->last_seen_ms = gwa_now(a);
	e = card_msg_parse(txt, len, CARD_MSG_FROM_AGENT, &m, &field);
	if (e != CARD_MSG_OK)
		return refuse(a, p, e, field);
	if (!p->hello && m.type != CARD_MSG_HELLO) {
		card_msg_clear(&m);
		return GW_AGENT_RX_CLOSE;
	}
	switch (m.type) {
	case CARD_MSG_HELLO:
		rx = on_hello(a, p, &m);
		break;
	case CARD_MSG_TOKENS:
		rx = on_tokens(a, p, &m);
		break;
	case CARD_MSG_PING:
		rx = on_ping(a, p, &m);
		break;
	case CARD_MSG_PONG:
		rx = GW_AGENT_RX_OK; /* last_seen is updated above */
		break;
	default:
		rx = gwa_job_answer(a, p, &m);
		break;
	}
	card_msg_clear(&m);
	return rx;
}

static void
ping_peers(struct gw_agents *a, uint64_t now)
{
	struct gw_agent_peer *p = a->peers;

	while (p != NULL) {
		struct gw_agent_peer *next = p->next;

		if (now - p->last_seen_ms >= (uint64_t)GW_AGENT_PING_MS * GW_AGENT_PING_MISSES) {
			/* Three pings without a frame back: the glue closes, then detaches. */
			a->h.close(p->conn, "no answer to 3 pings");
		} else if (now >= p->next_ping_ms) {
			struct card_msg ping;

			card_msg_init(&ping, CARD_MSG_PING);
			snprintf(ping.id, sizeof(ping.id), "g%u", ++p->ping_seq);
			a->h.wall_time(a->h.arg, ping.time, sizeof(ping.time));
			gwa_send(a, p, &ping);
			p->next_ping_ms = now + GW_AGENT_PING_MS;
		}
		p = next;
	}
}

void
gw_agents_tick(struct gw_agents *a)
{
	ping_peers(a, gwa_now(a));
	gwa_jobs_tick(a);
}
