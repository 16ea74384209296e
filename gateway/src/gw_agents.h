/* gw_agents.h -- the agent registry and the token channel "pcsc" (PROTOCOL.md section 7,
 * PCSC.md 5.3 and 5.6): which connected agent holds which token, and the sign jobs sent to
 * them. Pure: no lws, no libuv. The connection glue (gw_agent.c) feeds it frames and a tick,
 * and gives it hooks to send, close and record node events, so unit tests drive it with a
 * fake connection and a fake clock. Loop thread only.
 *
 * Agent sessions: `hello` first (anything else before it closes the connection), then `tokens`
 * snapshots; only tokens a session announced can be signed with on it (REGULATION.md C6), one
 * job per token at a time (PCSC.md 2.3: BUSY never reaches the AP). */
#ifndef GW_AGENTS_H
#define GW_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gw_channel.h"

#define GW_AGENT_PING_MS     20000u /* PROTOCOL.md 7: every 20 s; 3 missed = dead */
#define GW_AGENT_PING_MISSES 3
#define GW_AGENT_JOBS_MAX    4096 /* open sign jobs per node; over it: 900/9005 */
/* The channel's own end of a job: after the agent's deadline (engine deadline - 2 s) and
 * before the engine's, so the agent's late answer can still arrive and the engine hears the
 * right code (PCSC.md 5.3) before its generic expiry. */
#define GW_AGENT_END_BEFORE_MS  1000u
#define GW_AGENT_AGENT_SLACK_MS 2000u

struct gw_agents;
struct gw_agent_peer;

struct gw_agents_hooks {
	/* Queues one text frame on conn; false when it cannot (the connection is closing). */
	bool (*send)(void *conn, const char *txt, size_t len);
	/* Closes conn (protocol violation, dead peer); the glue calls gw_agents_detach later. */
	void (*close)(void *conn, const char *why);
	/* A node event about agents: kind "agent.hello", "agent.tokens", "agent.gone",
	 * "agent.refused", "agent.late". detail is consumed. */
	void (*event)(void *arg, const char *kind, const char *agent_id, const char *client_id,
	              json_t *detail);
	uint64_t (*now_ms)(void *arg);                       /* monotonic */
	void (*wall_time)(void *arg, char *out, size_t cap); /* RFC 3339 for ping/pong */
	void *arg;
};

struct gw_agents *gw_agents_new(const struct gw_agents_hooks *h);
/* Frees every peer and job; no events are emitted. */
void gw_agents_free(struct gw_agents *a);
/* The "pcsc" channel (gw_channel.h). Its on_event/engine are set by the engine. */
struct gw_channel *gw_agents_channel(struct gw_agents *a);

/* A connection authenticated with an `agent` role key (or mTLS) was established. */
struct gw_agent_peer *gw_agents_attach(struct gw_agents *a, void *conn, const char *client_id,
                                       const char *addr);
/* The connection is gone: its tokens vanish; jobs not yet taken wait for another agent,
 * taken ones for this agent to come back with the answer (PROTOCOL.md 7). */
void gw_agents_detach(struct gw_agents *a, struct gw_agent_peer *p);

enum gw_agent_rx {
	GW_AGENT_RX_OK = 0,
	GW_AGENT_RX_IGNORED = 1, /* refused or late: recorded as a node event, nothing else */
	GW_AGENT_RX_CLOSE = 2,   /* the session broke the protocol: the glue closes it (1008) */
};
/* One complete text frame from the peer. */
enum gw_agent_rx gw_agents_receive(struct gw_agents *a, struct gw_agent_peer *p, const char *txt,
                                   size_t len);

/* Deadlines and pings; call every few hundred ms. */
void gw_agents_tick(struct gw_agents *a);

/* Introspection for the glue, metrics and tests. */
int gw_agents_peer_count(const struct gw_agents *a);
int gw_agents_job_count(const struct gw_agents *a);
/* The agent_id of the session that announced this token serial, NULL when none. */
const char *gw_agents_holder(const struct gw_agents *a, const char *token_serial);

#endif
