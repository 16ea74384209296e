/* agent_core.h -- the agent's loop-thread logic: tokens snapshots, sign jobs with their
 * deadlines, answers kept across a lost link (PCSC.md 5.3, 5.6). Loop thread only. */
#ifndef KYSO_AGENT_CORE_H
#define KYSO_AGENT_CORE_H

#include <uv.h>

#include "agent.h"
#include "agent_link.h"

#define AGENT_KEEP_MS     30000u /* a running job's answer waits this long for the link */
#define AGENT_PING_MS     20000u
#define AGENT_PING_MISSES 3

struct agent_held { /* a present token and its key id */
	struct agent_token t;
	char key_id[65];
	bool pin_lowered; /* a failed job lowered pin_retries since the last probe */
};

struct agent_ajob;
struct agent_kept;

struct agent {
	uv_loop_t *loop;
	struct agent_backend be;
	uv_async_t wake;
	uv_timer_t ping;
	uv_signal_t sig_term, sig_int;
	struct agent_link *link;
	char agent_id[CARD_MSG_ID_MAX + 1];
	struct agent_pin_cfg pin;
	struct agent_held *held[AGENT_TOKENS_MAX];
	int nheld;
	uint64_t tokens_seq;
	struct agent_ajob *jobs;
	uint64_t next_job_id;
	struct agent_kept *kept;
	uint64_t last_rx_ms;
	unsigned ping_seq;
	bool stopping;
	/* --bench-apdu N: time N APDU round trips on the first token, print, stop (no link). */
	unsigned bench_rounds;
	uint64_t bench_job;
	int exit_code;
};

/* Sets up the handles and starts the backend; the link is created by the caller afterwards
 * with agent_link_cbs pointing at agent_on_up/down/frame. */
int agent_core_start(struct agent *a, char *err, size_t errlen);
void agent_core_stop(struct agent *a); /* after uv_run returned: closes handles, stops backend */
void agent_on_up(void *arg);
void agent_on_down(void *arg);
void agent_on_frame(void *arg, const char *txt, size_t len);

#endif
