/* gw_agents_int.h -- the registry's structures, shared by gw_agents.c (sessions, tokens,
 * messages) and gw_chan_token.c (jobs and the "pcsc" channel). Loop thread only. */
#ifndef GW_AGENTS_INT_H
#define GW_AGENTS_INT_H

#include <kyso/card_msg.h>

#include "gw_agents.h"

struct gw_agent_peer {
	struct gw_agent_peer *next, *prev;
	void *conn;
	char client_id[33];
	char addr[64];
	char agent_id[CARD_MSG_ID_MAX + 1]; /* "" until hello */
	bool hello;
	bool have_tokens;
	uint64_t tokens_seq;
	int ntokens;
	struct card_msg_token *tokens; /* the last snapshot, owned */
	uint64_t last_seen_ms;         /* any frame */
	uint64_t next_ping_ms;
	unsigned ping_seq;
};

enum gw_tjob_state {
	TJ_WAITING = 0, /* no agent holds the token yet, or the token is busy */
	TJ_SENT,        /* `sign` sent, no `taken` yet */
	TJ_TAKEN,
	TJ_PROMPTED,
};

/* A sign job: copies only (ids, digest, display), never key or PIN material. */
struct gw_tjob {
	struct gw_tjob *next;
	int64_t ref;
	char job[CARD_MSG_ID_MAX + 1];
	char serial[CARD_MSG_ID_MAX + 1];
	char hash_alg[8];
	uint8_t hash[CARD_MSG_HASH_MAX];
	size_t hash_len;
	char display[CARD_MSG_DISPLAY_MAX + 1];
	uint64_t engine_deadline_ms;
	uint64_t end_ms;
	enum gw_tjob_state state;
	struct gw_agent_peer *peer; /* the agent it was sent to; NULL while waiting or orphaned */
	char token_id[CARD_MSG_ID_MAX + 1];
	char key_id[65];
	char alg[24];
	bool agent_lost; /* an agent went away before `taken` (209/2092 at the end) */
};

#define GW_AGENT_RECENT 64 /* finished jobs remembered to report late answers by ref */

struct gw_agents {
	struct gw_agents_hooks h;
	struct gw_channel chan;
	struct gw_agent_peer *peers;
	int npeers;
	struct gw_tjob *jobs;
	int njobs;
	struct {
		char job[CARD_MSG_ID_MAX + 1];
		int64_t ref;
	} recent[GW_AGENT_RECENT];
	unsigned recent_next;
};

/* gw_agents.c */
uint64_t gwa_now(struct gw_agents *a);
bool gwa_send(struct gw_agents *a, struct gw_agent_peer *p, const struct card_msg *m);
void gwa_event(struct gw_agents *a, const char *kind, const struct gw_agent_peer *p,
               json_t *detail);
/* The token with this serial (case-insensitive) on a session that said hello. */
struct gw_agent_peer *gwa_find_token(const struct gw_agents *a, const char *serial,
                                     const struct card_msg_token **tok);

/* gw_agent_verify.c: the signature against the announced certificate (RSA PKCS#1 v1.5 with
 * the digest's hash, or a DER ECDSA signature over it). */
bool gwa_sig_verifies(const uint8_t *cert, size_t cert_len, const char *alg, const uint8_t *hash,
                      size_t hash_len, const uint8_t *sig, size_t sig_len);
const struct card_msg_cert *gwa_cert_for_key(const struct gw_agent_peer *p, const char *key_id);

/* gw_chan_token.c */
void gwa_chan_init(struct gw_agents *a);
void gwa_jobs_free(struct gw_agents *a);
/* Sends waiting jobs whose token is now held by an idle session. */
void gwa_dispatch(struct gw_agents *a);
void gwa_jobs_peer_gone(struct gw_agents *a, struct gw_agent_peer *p);
void gwa_jobs_tick(struct gw_agents *a);
/* A job answer from a session: taken, prompt, signed, failed. */
enum gw_agent_rx gwa_job_answer(struct gw_agents *a, struct gw_agent_peer *p,
                                const struct card_msg *m);

#endif
