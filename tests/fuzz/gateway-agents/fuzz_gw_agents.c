/* Fuzz target: the gateway's agent registry and "pcsc" channel driven by an agent session's
 * frames (one per input line), with channel starts, abandons and clock ticks between them.
 * Invariants: every frame gets a defined outcome, a closed session is detached and replaced,
 * open jobs stay within the cap, and nothing leaks (ASan/LSan). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_agents.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t clock_ms;
static int conn;

static bool
f_send(void *c, const char *txt, size_t len)
{
	(void)c, (void)txt, (void)len;
	return true;
}

static void
f_close(void *c, const char *why)
{
	(void)c, (void)why;
}

static void
f_event(void *arg, const char *kind, const char *agent_id, const char *client_id, json_t *d)
{
	(void)arg, (void)kind, (void)agent_id, (void)client_id;
	json_decref(d);
}

static uint64_t
f_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

static void
f_time(void *arg, char *out, size_t cap)
{
	(void)arg;
	strncpy(out, "2026-01-01T00:00:00Z", cap - 1);
	out[cap - 1] = '\0';
}

static void
f_chan(void *engine, const struct gw_chan_event *ev)
{
	(void)engine;
	if (ev->kind == GW_CHAN_SIGNED && (ev->sig == NULL || ev->sig_len == 0))
		abort();
}

static void
start_job(struct gw_channel *ch, int64_t ref)
{
	static const uint8_t digest[32];
	char txn[32];
	int st, sub;
	struct gw_chan_request req = { .txn_id = txn,
		                       .ref = ref,
		                       .token_serial = "S1",
		                       .hash_alg = "sha256",
		                       .to_sign = digest,
		                       .to_sign_len = 32,
		                       .display = "fuzz",
		                       .verification_code = "0000",
		                       .deadline_ms = clock_ms + 30000 };

	snprintf(txn, sizeof(txn), "j%lld", (long long)ref);
	if (ch->start(ch->self, &req, &st, &sub) != 0 && st == 0)
		abort(); /* a refusal always carries its code */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_agents_hooks h = { f_send, f_close, f_event, f_now, f_time, NULL };
	struct gw_agents *a;
	struct gw_agent_peer *p;
	struct gw_channel *ch;
	size_t off = 0;
	int64_t ref = 0;

	if (size > 1 << 16)
		return 0;
	clock_ms = 1000000;
	a = gw_agents_new(&h);
	ch = gw_agents_channel(a);
	ch->on_event = f_chan;
	p = gw_agents_attach(a, &conn, "fuzz", "127.0.0.1");
	while (off < size && p != NULL) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t len = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
		enum gw_agent_rx rx = gw_agents_receive(a, p, (const char *)data + off, len);

		if (rx > GW_AGENT_RX_CLOSE)
			abort();
		if (rx == GW_AGENT_RX_CLOSE) {
			gw_agents_detach(a, p);
			p = gw_agents_attach(a, &conn, "fuzz", "127.0.0.1");
		}
		start_job(ch, ++ref);
		if (len % 7 == 3)
			ch->abandon(ch->self, ref - 1);
		clock_ms += (len % 5) * 2000;
		gw_agents_tick(a);
		if (gw_agents_job_count(a) > GW_AGENT_JOBS_MAX)
			abort();
		off += len + 1;
	}
	gw_agents_free(a);
	return 0;
}
