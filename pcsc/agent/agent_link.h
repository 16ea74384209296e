/* agent_link.h -- the agent's wss client to the gateway's /v1/agent (PROTOCOL.md 2 and 7): lws
 * on the agent's libuv loop as a foreign loop, an API key header or a client certificate,
 * reconnect with jittered back-off (1 s doubling to 30 s, PCSC.md 5.1). Loop thread only. */
#ifndef KYSO_AGENT_LINK_H
#define KYSO_AGENT_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct agent_link_cfg {
	char url[512];       /* wss://host:port/v1/agent (ws:// only to a loopback gateway) */
	char ca_file[256];   /* CA of the gateway's certificate */
	char api_key[160];   /* "kyso_<id>_<secret>", "" with mTLS only; wiped after use */
	char cert_file[256]; /* mTLS client certificate and key, optional */
	char cert_key[256];
};

struct agent_link_cbs {
	void (*up)(void *arg);   /* connected: send hello first */
	void (*down)(void *arg); /* lost; a reconnect is scheduled */
	void (*frame)(void *arg, const char *txt, size_t len);
	void *arg;
};

struct agent_link;

/* Parses the URL, creates the lws context and starts the first connect. cfg->api_key is
 * copied and wiped in *cfg. NULL with a reason in err. */
struct agent_link *agent_link_new(uv_loop_t *loop, struct agent_link_cfg *cfg,
                                  const struct agent_link_cbs *cbs, char *err, size_t errlen);
/* Queues one text frame; false when the link is down or its queue is full. */
bool agent_link_send(struct agent_link *l, const char *txt, size_t len);
bool agent_link_is_up(const struct agent_link *l);
/* Closes the connection (dead peer); the reconnect follows with back-off. */
void agent_link_drop(struct agent_link *l);
/* A successful session: the next loss starts the back-off at 1 s again. */
void agent_link_reset_backoff(struct agent_link *l);
/* Destroys lws (no reconnect), closes the timer; call after uv_run returned, then run the
 * loop once more for the close callbacks. */
void agent_link_free(struct agent_link *l);
/* Next back-off delay in ms for attempt n (0-based): min(30 s, 2^n s) +-25 % jitter. */
unsigned agent_backoff_ms(unsigned attempt, unsigned rnd);

#endif
