/* agent_core.c -- what the agent does on its loop thread (PCSC.md 5.1-5.3, 5.6): announce,
 * re-announce on every token change, accept `sign` jobs for present tokens with the asked
 * algorithm, arm each job's deadline on receipt, relay the backend's taken/prompt/done as
 * taken/prompt/signed/failed, and keep a running job's answer while the link is down. */
#include <sys/utsname.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "agent_core.h"

struct agent_ajob {
	struct agent_ajob *next;
	struct agent *a;
	uint64_t id;
	char job[CARD_MSG_ID_MAX + 1];
	char key_id[65];
	char token_id[CARD_MSG_ID_MAX + 1];
	bool taken, prompted, dropped;
	uv_timer_t *deadline; /* heap: freed in its close callback */
};

struct agent_kept {
	struct agent_kept *next;
	uint64_t until_ms;
	char *txt; /* a signed/failed frame */
};

static void
log_line(const char *fmt, const char *a1, const char *a2)
{
	fprintf(stderr, "kyso-pcsc-agent: ");
	fprintf(stderr, "msg=\"%s\" %s%s\n", fmt, a1 != NULL ? a1 : "", a2 != NULL ? a2 : "");
}

static bool
send_msg(struct agent *a, const struct card_msg *m)
{
	char *txt = NULL;
	size_t len = 0;
	const char *field = "";
	enum card_msg_err e = card_msg_build(m, CARD_MSG_FROM_AGENT, &txt, &len, &field);
	bool ok;

	if (e != CARD_MSG_OK) {
		log_line("cannot build a message", card_msg_strerror(e), field);
		return false;
	}
	ok = a->link != NULL && agent_link_send(a->link, txt, len);
	free(txt);
	return ok;
}

/* ---- tokens ------------------------------------------------------------------------------- */

static void
token_to_msg(const struct agent_held *h, struct card_msg_token *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->token_id, sizeof(t->token_id), "%s", h->t.token_id);
	snprintf(t->reader, sizeof(t->reader), "%s", h->t.reader);
	snprintf(t->serial, sizeof(t->serial), "%s", h->t.serial);
	snprintf(t->profile, sizeof(t->profile), "%s", h->t.profile);
	snprintf(t->atr, sizeof(t->atr), "%s", h->t.atr);
	snprintf(t->label, sizeof(t->label), "%s", h->t.label);
	t->certs[0].der = (uint8_t *)(uintptr_t)h->t.cert; /* borrowed: add_token copies */
	t->certs[0].len = h->t.cert_len;
	t->ncerts = 1;
	for (int i = 0; i < h->t.nalgs && i < CARD_MSG_KEYS_MAX; i++) {
		snprintf(t->keys[i].key_id, sizeof(t->keys[i].key_id), "%s", h->key_id);
		snprintf(t->keys[i].alg, sizeof(t->keys[i].alg), "%s", h->t.algs[i]);
		t->nkeys++;
	}
	t->has_pin = true;
	snprintf(t->pin_state, sizeof(t->pin_state), "%s",
	         h->t.pin_blocked        ? "blocked"
	         : h->t.pin_retries >= 0 ? "ok"
	                                 : "unknown");
	t->pin_retries_left = h->t.pin_retries;
}

/* A full snapshot (PCSC.md 5.2: every change sends all tokens). */
static void
send_tokens(struct agent *a)
{
	struct card_msg m;
	struct card_msg_token t;

	card_msg_init(&m, CARD_MSG_TOKENS);
	m.seq = ++a->tokens_seq;
	for (int i = 0; i < a->nheld; i++) {
		token_to_msg(a->held[i], &t);
		if (card_msg_add_token(&m, &t) != CARD_MSG_OK)
			log_line("token left out of the snapshot", a->held[i]->t.token_id, NULL);
	}
	send_msg(a, &m);
	card_msg_clear(&m);
}

static int
held_index(struct agent *a, const char *token_id)
{
	for (int i = 0; i < a->nheld; i++)
		if (strcmp(a->held[i]->t.token_id, token_id) == 0)
			return i;
	return -1;
}

static void
token_present(struct agent *a, const struct agent_token *t)
{
	int i = held_index(a, t->token_id);

	if (i < 0) {
		if (a->nheld == AGENT_TOKENS_MAX) {
			log_line("too many tokens, ignoring", t->token_id, NULL);
			return;
		}
		if ((a->held[a->nheld] = calloc(1, sizeof(struct agent_held))) == NULL)
			return;
		i = a->nheld++;
	}
	a->held[i]->t = *t;
	card_msg_key_id(t->cert, t->cert_len, a->held[i]->key_id);
	log_line("token present", "token=", t->token_id);
	send_tokens(a);
}

static void
token_gone(struct agent *a, const char *token_id)
{
	int i = held_index(a, token_id);

	if (i < 0)
		return;
	free(a->held[i]);
	a->held[i] = a->held[--a->nheld];
	log_line("token gone", "token=", token_id);
	send_tokens(a);
}

/* ---- jobs --------------------------------------------------------------------------------- */

static struct agent_ajob *
job_by_id(struct agent *a, uint64_t id)
{
	for (struct agent_ajob *j = a->jobs; j != NULL; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

static struct agent_ajob *
job_by_name(struct agent *a, const char *job)
{
	for (struct agent_ajob *j = a->jobs; j != NULL; j = j->next)
		if (strcmp(j->job, job) == 0)
			return j;
	return NULL;
}

static void
timer_free_cb(uv_handle_t *h)
{
	free(h);
}

static void
job_end(struct agent *a, struct agent_ajob *j)
{
	struct agent_ajob **pp = &a->jobs;

	while (*pp != NULL && *pp != j)
		pp = &(*pp)->next;
	if (*pp != NULL)
		*pp = j->next;
	uv_close((uv_handle_t *)j->deadline, timer_free_cb);
	free(j);
}

static void
send_failed(struct agent *a, const char *job, int code, int sub, const char *reason)
{
	struct card_msg m;

	card_msg_init(&m, CARD_MSG_FAILED);
	snprintf(m.job, sizeof(m.job), "%s", job);
	m.code = code;
	m.sub = sub;
	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	send_msg(a, &m);
}

/* PCSC.md 5.3: at the deadline the loop answers; a late card result is dropped. */
static void
deadline_cb(uv_timer_t *t)
{
	struct agent_ajob *j = t->data;
	struct agent *a = j->a;

	if (!j->dropped)
		send_failed(a, j->job, 208, j->prompted ? 2082 : 2081, "DEADLINE");
	job_end(a, j);
}

static const struct agent_held *
held_for_key(struct agent *a, const char *key_id)
{
	for (int i = 0; i < a->nheld; i++)
		if (strcmp(a->held[i]->key_id, key_id) == 0)
			return a->held[i];
	return NULL;
}

static bool
token_busy(struct agent *a, const char *token_id)
{
	for (struct agent_ajob *j = a->jobs; j != NULL; j = j->next)
		if (strcmp(j->token_id, token_id) == 0)
			return true;
	return false;
}

static bool
alg_offered(const struct agent_token *t, const char *alg)
{
	for (int i = 0; i < t->nalgs; i++)
		if (strcmp(t->algs[i], alg) == 0)
			return true;
	return false;
}

static void
send_progress(struct agent *a, const struct agent_ajob *j, enum card_msg_type type)
{
	struct card_msg m;

	card_msg_init(&m, type);
	snprintf(m.job, sizeof(m.job), "%s", j->job);
	send_msg(a, &m);
}

static void
job_resume(struct agent *a, struct agent_ajob *j)
{
	j->dropped = false;
	if (j->taken)
		send_progress(a, j, CARD_MSG_TAKEN);
	if (j->prompted)
		send_progress(a, j, CARD_MSG_PROMPT);
}

static void
on_sign(struct agent *a, const struct card_msg *m)
{
	const struct agent_held *h = held_for_key(a, m->key_id);
	struct agent_ajob *j;
	struct agent_job bj;

	if ((j = job_by_name(a, m->job)) != NULL) {
		/* A job id is used once (PROTOCOL.md 7); but one dropped with a lost link and sent
		 * again after the reconnect is the same job: its progress flows again. */
		if (j->dropped)
			job_resume(a, j);
		return;
	}
	if (h == NULL)
		return send_failed(a, m->job, 209, 2092, "CARD_REMOVED"); /* no longer present */
	if (!alg_offered(&h->t, m->alg))
		return send_failed(a, m->job, 900, 9008, "UNSUPPORTED_ALG");
	if (token_busy(a, h->t.token_id))
		return send_failed(a, m->job, 900, 9005, "BUSY");
	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->deadline = malloc(sizeof(uv_timer_t))) == NULL) {
		free(j);
		return send_failed(a, m->job, 900, 9005, "BUSY");
	}
	j->a = a;
	j->id = ++a->next_job_id;
	snprintf(j->job, sizeof(j->job), "%s", m->job);
	snprintf(j->key_id, sizeof(j->key_id), "%s", m->key_id);
	snprintf(j->token_id, sizeof(j->token_id), "%s", h->t.token_id);
	uv_timer_init(a->loop, j->deadline);
	j->deadline->data = j;
	/* Relative deadline armed on receipt (PCSC.md 5.3). */
	uv_timer_start(j->deadline, deadline_cb, m->deadline_ms, 0);
	j->next = a->jobs;
	a->jobs = j;

	memset(&bj, 0, sizeof(bj));
	bj.id = j->id;
	snprintf(bj.token_id, sizeof(bj.token_id), "%s", h->t.token_id);
	snprintf(bj.alg, sizeof(bj.alg), "%s", m->alg);
	memcpy(bj.hash, m->hash, m->hash_len);
	bj.hash_len = m->hash_len;
	snprintf(bj.display, sizeof(bj.display), "%s", m->display);
	bj.deadline_ms = agent_now_ms() + m->deadline_ms;
	if (a->be.submit(a->be.self, &bj) != 0) {
		send_failed(a, m->job, 900, 9005, "BUSY");
		job_end(a, j);
	}
	OPENSSL_cleanse(&bj, sizeof(bj));
}

static void
on_cancel(struct agent *a, const struct card_msg *m)
{
	struct agent_ajob *j = job_by_name(a, m->job);

	/* One answer per job (PROTOCOL.md 7): the gateway has given the job up, so it is answered
	 * 401/4014 now and whatever the card does later is dropped. A PSO already sent cannot be
	 * aborted, and a PIN dialogue still open ends at the job's deadline. */
	if (j == NULL)
		return;
	send_failed(a, j->job, 401, 4014, "CANCELLED");
	job_end(a, j);
}

/* ---- answers kept across a lost link ------------------------------------------------------ */

static void
keep_answer(struct agent *a, const struct card_msg *m)
{
	struct agent_kept *k = calloc(1, sizeof(*k));
	size_t len;

	if (k == NULL ||
	    card_msg_build(m, CARD_MSG_FROM_AGENT, &k->txt, &len, NULL) != CARD_MSG_OK) {
		free(k);
		return;
	}
	k->until_ms = agent_now_ms() + AGENT_KEEP_MS;
	k->next = a->kept;
	a->kept = k;
}

static void
flush_kept(struct agent *a, bool send)
{
	uint64_t now = agent_now_ms();

	while (a->kept != NULL) {
		struct agent_kept *k = a->kept;

		a->kept = k->next;
		if (send && now < k->until_ms)
			agent_link_send(a->link, k->txt, strlen(k->txt));
		free(k->txt);
		free(k);
	}
}

/* A job that learnt the PIN's tries left (wrong PIN, blocked) changes the token's snapshot;
 * a success after that resets the counter to the card's maximum, which only the next probe
 * knows: "unknown" until then. Each change is announced. */
static void
note_pin_state(struct agent *a, const char *token_id, const struct agent_bev *ev)
{
	int i = held_index(a, token_id);
	struct agent_held *h;

	if (i < 0)
		return;
	h = a->held[i];
	if (ev->ok) {
		if (!h->pin_lowered)
			return;
		h->pin_lowered = false;
		h->t.pin_retries = -1;
	} else if (ev->code == 402 && ev->sub == 4021) {
		h->t.pin_retries = 0;
	} else if (ev->retries_left >= 0) {
		h->t.pin_retries = ev->retries_left;
	} else {
		return;
	}
	if (!ev->ok)
		h->pin_lowered = true;
	h->t.pin_blocked = h->t.pin_retries == 0;
	send_tokens(a);
}

static void
job_done(struct agent *a, struct agent_ajob *j, const struct agent_bev *ev)
{
	struct card_msg m;

	if (ev->ok) {
		card_msg_init(&m, CARD_MSG_SIGNED);
		snprintf(m.key_id, sizeof(m.key_id), "%s", j->key_id);
		memcpy(m.sig, ev->sig, ev->sig_len);
		m.sig_len = ev->sig_len;
		m.elapsed_ms = (int64_t)ev->elapsed_ms;
	} else {
		card_msg_init(&m, CARD_MSG_FAILED);
		m.code = ev->code;
		m.sub = ev->sub;
		snprintf(m.reason, sizeof(m.reason), "%s", ev->reason);
		snprintf(m.sw, sizeof(m.sw), "%s", ev->sw);
		snprintf(m.pcsc_code, sizeof(m.pcsc_code), "%s", ev->pcsc);
		m.retries_left = ev->retries_left;
	}
	snprintf(m.job, sizeof(m.job), "%s", j->job);
	note_pin_state(a, j->token_id, ev);
	if (!agent_link_is_up(a->link) || !send_msg(a, &m)) {
		if (j->taken && !j->dropped)
			keep_answer(a, &m); /* PCSC.md 5.3 "link lost" */
	}
	job_end(a, j);
}

/* PERFORMANCE.md G9: APDU round trips inside the agent, timed on the card worker; the socket
 * never carries raw APDUs (PCSC.md 5.5). */
static void
bench_event(struct agent *a, const struct agent_bev *ev)
{
	if (ev->kind == AGENT_BEV_TOKEN_PRESENT && a->bench_job == 0) {
		a->bench_job = ++a->next_job_id;
		if (a->be.bench == NULL || a->be.bench(a->be.self, ev->token.token_id,
		                                       a->bench_rounds, a->bench_job) != 0) {
			fprintf(stderr, "kyso-pcsc-agent: msg=\"this backend cannot run the APDU "
			                "benchmark\"\n");
			a->exit_code = 1;
			uv_stop(a->loop);
		}
		return;
	}
	if (ev->kind != AGENT_BEV_JOB_DONE || ev->job != a->bench_job)
		return;
	if (ev->code != 0 || ev->elapsed_us == 0) {
		fprintf(stderr, "kyso-pcsc-agent: msg=\"benchmark failed\" reason=%s\n",
		        ev->reason);
		a->exit_code = 1;
	} else {
		printf("apdu_round_trips=%u elapsed_us=%llu rate_per_s=%.0f us_per_apdu=%.1f\n",
		       a->bench_rounds, (unsigned long long)ev->elapsed_us,
		       a->bench_rounds * 1e6 / (double)ev->elapsed_us,
		       (double)ev->elapsed_us / a->bench_rounds);
		fflush(stdout);
	}
	uv_stop(a->loop);
}

static void
on_backend_event(struct agent *a, const struct agent_bev *ev)
{
	struct agent_ajob *j = ev->job != 0 ? job_by_id(a, ev->job) : NULL;
	struct card_msg m;

	if (a->bench_rounds > 0)
		return bench_event(a, ev);
	switch (ev->kind) {
	case AGENT_BEV_TOKEN_PRESENT:
		token_present(a, &ev->token);
		return;
	case AGENT_BEV_TOKEN_GONE:
		token_gone(a, ev->token.token_id);
		return;
	default:
		break;
	}
	if (j == NULL)
		return; /* its deadline answered already: the late result is dropped */
	switch (ev->kind) {
	case AGENT_BEV_JOB_TAKEN:
	case AGENT_BEV_JOB_PROMPT:
		card_msg_init(&m,
		              ev->kind == AGENT_BEV_JOB_TAKEN ? CARD_MSG_TAKEN : CARD_MSG_PROMPT);
		snprintf(m.job, sizeof(m.job), "%s", j->job);
		if (ev->kind == AGENT_BEV_JOB_TAKEN)
			j->taken = true;
		else
			j->prompted = true;
		if (!j->dropped)
			send_msg(a, &m);
		break;
	case AGENT_BEV_JOB_DONE:
		job_done(a, j, ev);
		break;
	default:
		break;
	}
}

static void
wake_cb(uv_async_t *h)
{
	struct agent *a = h->data;
	struct agent_bev *ev = malloc(sizeof(*ev)); /* large (a certificate): not on the stack */

	if (ev == NULL)
		return;
	while (a->be.pop(a->be.self, ev)) {
		on_backend_event(a, ev);
		OPENSSL_cleanse(ev, sizeof(*ev));
	}
	free(ev);
}

static void
wake_from_backend(void *arg)
{
	uv_async_send(arg);
}

/* ---- link ------------------------------------------------------------------------------------ */

void
agent_on_up(void *arg)
{
	struct agent *a = arg;
	struct card_msg m;
	struct utsname u;

	card_msg_init(&m, CARD_MSG_HELLO);
	snprintf(m.agent_id, sizeof(m.agent_id), "%s", a->agent_id);
	snprintf(m.version, sizeof(m.version), "%s", AGENT_VERSION);
	if (uname(&u) == 0)
		snprintf(m.os, sizeof(m.os), "%.20s %.40s", u.sysname, u.release);
	snprintf(m.backends[0], sizeof(m.backends[0]), "%s", a->be.name);
	m.nbackends = 1;
	snprintf(m.pin_sources[0], sizeof(m.pin_sources[0]), "%s",
	         agent_pin_source_name(a->pin.source));
	m.npin_sources = 1;
	a->last_rx_ms = agent_now_ms();
	send_msg(a, &m);
	send_tokens(a);
	flush_kept(a, true); /* after hello + tokens (PCSC.md 5.3) */
	agent_link_reset_backoff(a->link);
}

void
agent_on_down(void *arg)
{
	struct agent *a = arg;

	/* Queued jobs are dropped: the gateway ends them at its deadline or sends them again. */
	for (struct agent_ajob *j = a->jobs; j != NULL; j = j->next)
		if (!j->taken)
			j->dropped = true;
}

void
agent_on_frame(void *arg, const char *txt, size_t len)
{
	struct agent *a = arg;
	struct card_msg m;
	const char *field = "";
	enum card_msg_err e = card_msg_parse(txt, len, CARD_MSG_FROM_GATEWAY, &m, &field);

	a->last_rx_ms = agent_now_ms();
	if (e != CARD_MSG_OK) {
		log_line("gateway message refused", card_msg_strerror(e), field);
		return;
	}
	switch (m.type) {
	case CARD_MSG_SIGN:
		on_sign(a, &m);
		break;
	case CARD_MSG_CANCEL:
		on_cancel(a, &m);
		break;
	case CARD_MSG_PING: {
		struct card_msg pong;

		card_msg_init(&pong, CARD_MSG_PONG);
		snprintf(pong.id, sizeof(pong.id), "%s", m.id);
		snprintf(pong.time, sizeof(pong.time), "%s", m.time);
		send_msg(a, &pong);
		break;
	}
	default:
		break; /* pong: last_rx_ms is enough */
	}
	OPENSSL_cleanse(m.hash, sizeof(m.hash));
	card_msg_clear(&m);
}

/* RFC 3339 UTC, seconds precision. */
static void
wall_time(char *out, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
ping_cb(uv_timer_t *t)
{
	struct agent *a = t->data;
	struct card_msg m;

	if (a->link == NULL || !agent_link_is_up(a->link))
		return;
	if (agent_now_ms() - a->last_rx_ms >= (uint64_t)AGENT_PING_MS * AGENT_PING_MISSES) {
		log_line("gateway silent for 3 pings, reconnecting", NULL, NULL);
		agent_link_drop(a->link);
		return;
	}
	card_msg_init(&m, CARD_MSG_PING);
	snprintf(m.id, sizeof(m.id), "a%u", ++a->ping_seq);
	wall_time(m.time, sizeof(m.time));
	send_msg(a, &m);
}

static void
signal_cb(uv_signal_t *h, int signum)
{
	struct agent *a = h->data;

	(void)signum;
	a->stopping = true;
	uv_stop(a->loop);
}

int
agent_core_start(struct agent *a, char *err, size_t errlen)
{
	uv_async_init(a->loop, &a->wake, wake_cb);
	a->wake.data = a;
	uv_timer_init(a->loop, &a->ping);
	a->ping.data = a;
	uv_timer_start(&a->ping, ping_cb, AGENT_PING_MS, AGENT_PING_MS);
	uv_signal_init(a->loop, &a->sig_term);
	uv_signal_init(a->loop, &a->sig_int);
	a->sig_term.data = a->sig_int.data = a;
	uv_signal_start(&a->sig_term, signal_cb, SIGTERM);
	uv_signal_start(&a->sig_int, signal_cb, SIGINT);
	if (a->be.start(a->be.self, wake_from_backend, &a->wake, &a->pin) != 0) {
		snprintf(err, errlen, "the %s backend did not start", a->be.name);
		return -1;
	}
	return 0;
}

void
agent_core_stop(struct agent *a)
{
	a->be.stop(a->be.self); /* joins the workers: no wake-up after this */
	while (a->jobs != NULL)
		job_end(a, a->jobs);
	flush_kept(a, false);
	for (int i = 0; i < a->nheld; i++)
		free(a->held[i]);
	a->nheld = 0;
	uv_close((uv_handle_t *)&a->wake, NULL);
	uv_close((uv_handle_t *)&a->ping, NULL);
	uv_close((uv_handle_t *)&a->sig_term, NULL);
	uv_close((uv_handle_t *)&a->sig_int, NULL);
}
