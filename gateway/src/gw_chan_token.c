/* gw_chan_token.c -- the "pcsc" device channel (gw_channel.h): a credential on a token is
 * signed by the agent session that announced the token. Job lifecycle (PCSC.md 5.3, PROTOCOL.md
 * section 7):
 *   start -> WAITING -(an idle session holds the token)-> SENT -taken-> TAKEN -prompt-> PROMPTED
 *   any -signed-> SIGNED event | -failed-> FAILED event with the agent's code | own end below.
 * The channel ends a job itself at engine deadline - 1 s, one second after the agent's own
 * deadline: 209/2092 when no agent took it because none held the token or the agent left
 * before `taken`, 208/2082 after a prompt, else 208/2081. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_agents_int.h"

static void
emit(struct gw_agents *a, const struct gw_chan_event *ev)
{
	if (a->chan.on_event != NULL)
		a->chan.on_event(a->chan.engine, ev);
}

static void
emit_kind(struct gw_agents *a, const struct gw_tjob *j, enum gw_chan_event_kind kind,
          const char *detail)
{
	struct gw_chan_event ev = {
		.kind = kind, .ref = j->ref, .retries_left = -1, .detail = detail
	};

	emit(a, &ev);
}

static void
emit_failed(struct gw_agents *a, const struct gw_tjob *j, int status, int sub, int retries,
            const char *detail)
{
	struct gw_chan_event ev = {
		.kind = GW_CHAN_FAILED,
		.ref = j->ref,
		.status = status,
		.sub = sub,
		.retries_left = retries,
		/* PIN blocked: the engine locks the credential and opens the recovery case for the
		 * province (REGULATION.md B15); the gateway never unblocks (B14). */
		.device_blocked = status == 402 && sub == 4021,
		.detail = detail,
	};

	emit(a, &ev);
}

static struct gw_tjob **
job_slot(struct gw_agents *a, const char *job)
{
	struct gw_tjob **pp = &a->jobs;

	while (*pp != NULL && strcmp((*pp)->job, job) != 0)
		pp = &(*pp)->next;
	return pp;
}

static struct gw_tjob **
ref_slot(struct gw_agents *a, int64_t ref)
{
	struct gw_tjob **pp = &a->jobs;

	while (*pp != NULL && (*pp)->ref != ref)
		pp = &(*pp)->next;
	return pp;
}

/* Unlinks and frees; remembers job -> ref so a late answer is reported as LATE. */
static void
job_end(struct gw_agents *a, struct gw_tjob **pp)
{
	struct gw_tjob *j = *pp;
	unsigned slot = a->recent_next++ % GW_AGENT_RECENT;

	snprintf(a->recent[slot].job, sizeof(a->recent[slot].job), "%s", j->job);
	a->recent[slot].ref = j->ref;
	*pp = j->next;
	a->njobs--;
	explicit_bzero(j, sizeof(*j)); /* digest and display: no reason to linger */
	free(j);
}

/* One job per token at a time (PCSC.md 2.3: BUSY never reaches the AP). A taken job whose
 * session left still occupies its token: the agent may come back with it still running. */
static bool
token_busy(struct gw_agents *a, const char *token_id)
{
	for (struct gw_tjob *j = a->jobs; j != NULL; j = j->next)
		if (j->state != TJ_WAITING && strcmp(j->token_id, token_id) == 0)
			return true;
	return false;
}

/* The token's key for this digest: the first one whose algorithm signs hash_alg. */
static const struct card_msg_key *
pick_key(const struct card_msg_token *t, const char *hash_alg)
{
	char suffix[16];

	snprintf(suffix, sizeof(suffix), "-%s", hash_alg);
	for (int i = 0; i < t->nkeys; i++) {
		size_t n = strlen(t->keys[i].alg), s = strlen(suffix);

		if (n > s && strcmp(t->keys[i].alg + n - s, suffix) == 0 &&
		    strncmp(t->keys[i].alg, "rsa-pss", 7) != 0) /* PKCS#1 v1.5 or ECDSA for CMS */
			return &t->keys[i];
	}
	return NULL;
}

/* Tries to send one waiting job. Returns false when the job ended here (failure emitted). */
static bool
try_send(struct gw_agents *a, struct gw_tjob **pp)
{
	struct gw_tjob *j = *pp;
	const struct card_msg_token *t = NULL;
	struct gw_agent_peer *p = gwa_find_token(a, j->serial, &t);
	const struct card_msg_key *k;
	struct card_msg m;
	uint64_t now = gwa_now(a);

	if (p == NULL || token_busy(a, t->token_id))
		return true; /* wait for a session or for the token to be free */
	if ((k = pick_key(t, j->hash_alg)) == NULL) {
		emit_failed(a, j, 900, 9008, -1, "token offers no key for this digest");
		job_end(a, pp);
		return false;
	}
	if (j->engine_deadline_ms <= now + GW_AGENT_AGENT_SLACK_MS + 1)
		return true; /* too late for the agent: the end below answers */
	card_msg_init(&m, CARD_MSG_SIGN);
	snprintf(m.job, sizeof(m.job), "%s", j->job);
	snprintf(m.key_id, sizeof(m.key_id), "%s", k->key_id);
	snprintf(m.alg, sizeof(m.alg), "%s", k->alg);
	memcpy(m.hash, j->hash, j->hash_len);
	m.hash_len = j->hash_len;
	snprintf(m.display, sizeof(m.display), "%s", j->display);
	/* PCSC.md 5.3: relative, the gateway's remaining time minus 2 s. */
	uint64_t rel = j->engine_deadline_ms - now - GW_AGENT_AGENT_SLACK_MS;
	m.deadline_ms = rel > CARD_MSG_DEADLINE_MAX ? CARD_MSG_DEADLINE_MAX : (uint32_t)rel;
	if (!gwa_send(a, p, &m))
		return true; /* the session is closing: it will be detached, the job waits */
	j->peer = p;
	j->state = TJ_SENT;
	snprintf(j->token_id, sizeof(j->token_id), "%s", t->token_id);
	snprintf(j->key_id, sizeof(j->key_id), "%s", k->key_id);
	snprintf(j->alg, sizeof(j->alg), "%s", k->alg);
	return true;
}

void
gwa_dispatch(struct gw_agents *a)
{
	struct gw_tjob **pp = &a->jobs;

	while (*pp != NULL) {
		if ((*pp)->state == TJ_WAITING && !try_send(a, pp))
			continue; /* *pp is the next job already */
		pp = &(*pp)->next;
	}
}

static bool
hash_alg_ok(const char *h, size_t len)
{
	return (strcmp(h, "sha256") == 0 && len == 32) || (strcmp(h, "sha384") == 0 && len == 48) ||
	       (strcmp(h, "sha512") == 0 && len == 64);
}

/* "<code> <display>" within the codec's limits: whole UTF-8 characters only, at most
 * CARD_MSG_DISPLAY_CHARS of them, control characters shown as spaces. */
static void
fit_display(char out[CARD_MSG_DISPLAY_MAX + 1], const char *code, const char *display)
{
	char tmp[CARD_MSG_DISPLAY_MAX * 2];
	size_t o = 0, chars = 0;

	snprintf(tmp, sizeof(tmp), "%s%s%s", code != NULL ? code : "",
	         code != NULL && code[0] != '\0' ? " " : "", display != NULL ? display : "");
	for (size_t i = 0; tmp[i] != '\0';) {
		unsigned char b = (unsigned char)tmp[i];
		size_t n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;

		if (chars == CARD_MSG_DISPLAY_CHARS || o + n > CARD_MSG_DISPLAY_MAX ||
		    strnlen(tmp + i, n) < n)
			break;
		if (n == 1)
			out[o++] = b < 0x20 || b == 0x7f ? ' ' : (char)b;
		else
			memcpy(out + o, tmp + i, n), o += n;
		i += n;
		chars++;
	}
	out[o] = '\0';
}

static int
chan_start(void *self, const struct gw_chan_request *req, int *status, int *sub)
{
	struct gw_agents *a = self;
	const struct card_msg_token *t = NULL;
	struct gw_tjob *j;

	if (req->hash_alg == NULL || !hash_alg_ok(req->hash_alg, req->to_sign_len)) {
		*status = 101, *sub = 1011; /* the engine checked this: a caller bug */
		return -1;
	}
	if (gwa_find_token(a, req->token_serial, &t) == NULL) {
		*status = 209, *sub = 2092; /* no agent holds the token */
		return -1;
	}
	if (pick_key(t, req->hash_alg) == NULL) {
		*status = 900, *sub = 9008; /* the token's key cannot sign this digest */
		return -1;
	}
	if (a->njobs >= GW_AGENT_JOBS_MAX || *job_slot(a, req->txn_id) != NULL ||
	    (j = calloc(1, sizeof(*j))) == NULL) {
		*status = 900, *sub = 9005;
		return -1;
	}
	j->ref = req->ref;
	snprintf(j->job, sizeof(j->job), "%s", req->txn_id);
	snprintf(j->serial, sizeof(j->serial), "%s", req->token_serial);
	snprintf(j->hash_alg, sizeof(j->hash_alg), "%s", req->hash_alg);
	memcpy(j->hash, req->to_sign, req->to_sign_len);
	j->hash_len = req->to_sign_len;
	/* The agent shows the verification code first, as the AP shows it (PROTOCOL.md 4.2). */
	fit_display(j->display, req->verification_code, req->display);
	j->engine_deadline_ms = req->deadline_ms;
	j->end_ms = req->deadline_ms > GW_AGENT_END_BEFORE_MS
	                    ? req->deadline_ms - GW_AGENT_END_BEFORE_MS
	                    : 0;
	j->next = a->jobs;
	a->jobs = j;
	a->njobs++;
	/* The key was checked above, so this cannot end the job; a busy token makes it wait. */
	(void)try_send(a, &a->jobs);
	return 0;
}

static void
chan_abandon(void *self, int64_t ref)
{
	struct gw_agents *a = self;
	struct gw_tjob **pp = ref_slot(a, ref);
	struct card_msg m;

	if (*pp == NULL)
		return;
	if ((*pp)->peer != NULL && (*pp)->state != TJ_WAITING) {
		/* One answer per job still comes back (signed, or failed 401/4014): late. */
		card_msg_init(&m, CARD_MSG_CANCEL);
		snprintf(m.job, sizeof(m.job), "%s", (*pp)->job);
		gwa_send(a, (*pp)->peer, &m);
	}
	job_end(a, pp);
	gwa_dispatch(a);
}

void
gwa_chan_init(struct gw_agents *a)
{
	a->chan.name = "pcsc";
	a->chan.self = a;
	a->chan.start = chan_start;
	a->chan.abandon = chan_abandon;
}

void
gwa_jobs_free(struct gw_agents *a)
{
	while (a->jobs != NULL)
		job_end(a, &a->jobs);
}

int
gw_agents_job_count(const struct gw_agents *a)
{
	return a->njobs;
}

void
gwa_jobs_peer_gone(struct gw_agents *a, struct gw_agent_peer *p)
{
	for (struct gw_tjob *j = a->jobs; j != NULL; j = j->next) {
		if (j->peer != p)
			continue;
		j->peer = NULL;
		if (j->state == TJ_SENT) {
			/* Not taken: another session holding the token may take it. */
			j->state = TJ_WAITING;
			j->agent_lost = true;
		}
		/* Taken: stays open for this agent to come back with its answer. */
	}
	gwa_dispatch(a);
}

static void
end_at_deadline(struct gw_agents *a, struct gw_tjob **pp)
{
	struct gw_tjob *j = *pp;

	switch (j->state) {
	case TJ_WAITING:
		if (j->agent_lost || gwa_find_token(a, j->serial, NULL) == NULL)
			emit_failed(a, j, 209, 2092, -1, "no agent took the job");
		else
			emit_failed(a, j, 208, 2081, -1, "token busy until the deadline");
		break;
	case TJ_SENT:
	case TJ_TAKEN:
		emit_failed(a, j, 208, 2081, -1, "agent did not answer before its deadline");
		break;
	case TJ_PROMPTED:
		emit_failed(a, j, 208, 2082, -1, "PIN not entered before the deadline");
		break;
	}
	job_end(a, pp);
}

void
gwa_jobs_tick(struct gw_agents *a)
{
	uint64_t now = gwa_now(a);
	struct gw_tjob **pp = &a->jobs;
	bool ended = false;

	while (*pp != NULL) {
		if (now >= (*pp)->end_ms) {
			end_at_deadline(a, pp);
			ended = true;
			continue;
		}
		pp = &(*pp)->next;
	}
	if (ended)
		gwa_dispatch(a);
}

static enum gw_agent_rx
late(struct gw_agents *a, struct gw_agent_peer *p, const struct card_msg *m)
{
	for (unsigned i = 0; i < GW_AGENT_RECENT; i++) {
		if (strcmp(a->recent[i].job, m->job) == 0) {
			struct gw_chan_event ev = { .kind = GW_CHAN_LATE,
				                    .ref = a->recent[i].ref,
				                    .retries_left = -1,
				                    .detail = card_msg_type_name(m->type) };

			emit(a, &ev);
			break;
		}
	}
	gwa_event(a, "agent.late", p,
	          json_pack("{s:s, s:s}", "job", m->job, "msg", card_msg_type_name(m->type)));
	return GW_AGENT_RX_IGNORED;
}

/* The session may answer a job sent to it, or an orphaned taken job whose token it holds
 * (the agent reconnected with its kept answer, PCSC.md 5.3 "link lost"). */
static bool
answer_allowed(struct gw_agents *a, struct gw_agent_peer *p, const struct gw_tjob *j)
{
	if (j->peer == p)
		return true;
	return j->peer == NULL && j->state >= TJ_TAKEN && gwa_find_token(a, j->serial, NULL) == p;
}

static void
on_signed(struct gw_agents *a, struct gw_agent_peer *p, struct gw_tjob **pp,
          const struct card_msg *m)
{
	struct gw_tjob *j = *pp;
	const struct card_msg_cert *cert = gwa_cert_for_key(p, j->key_id);
	struct gw_chan_event ev = { .kind = GW_CHAN_SIGNED,
		                    .ref = j->ref,
		                    .retries_left = -1,
		                    .sig = m->sig,
		                    .sig_len = m->sig_len,
		                    .detail = j->alg };

	if (j->state == TJ_SENT) /* taken was skipped: the engine still hears DISPATCHED */
		emit_kind(a, j, GW_CHAN_DISPATCHED, "agent took the job");
	if (cert == NULL || !gwa_sig_verifies(cert->der, cert->len, j->alg, j->hash, j->hash_len,
	                                      m->sig, m->sig_len)) {
		gwa_event(
		        a, "agent.refused", p,
		        json_pack("{s:s, s:s}", "why", "signature does not verify", "job", j->job));
		emit_failed(a, j, 503, 0, -1,
		            "signature does not verify against the token's certificate");
	} else {
		emit(a, &ev);
	}
	job_end(a, pp);
}

static void
on_failed(struct gw_agents *a, struct gw_tjob **pp, const struct card_msg *m)
{
	char detail[96];

	snprintf(detail, sizeof(detail), "%s%s%s%s%s", m->reason[0] ? m->reason : "agent failed",
	         m->sw[0] ? " sw:" : "", m->sw, m->pcsc_code[0] ? " pcsc:" : "", m->pcsc_code);
	emit_failed(a, *pp, m->code, m->sub, m->retries_left, detail);
	job_end(a, pp);
}

enum gw_agent_rx
gwa_job_answer(struct gw_agents *a, struct gw_agent_peer *p, const struct card_msg *m)
{
	struct gw_tjob **pp = job_slot(a, m->job);
	struct gw_tjob *j = *pp;

	if (j == NULL || !answer_allowed(a, p, j))
		return late(a, p, m);
	switch (m->type) {
	case CARD_MSG_TAKEN:
		if (j->state == TJ_SENT) {
			j->state = TJ_TAKEN;
			emit_kind(a, j, GW_CHAN_DISPATCHED, "agent took the job");
		}
		return GW_AGENT_RX_OK;
	case CARD_MSG_PROMPT:
		if (j->state == TJ_SENT)
			emit_kind(a, j, GW_CHAN_DISPATCHED, "agent took the job");
		if (j->state != TJ_PROMPTED) /* a re-prompt after a wrong PIN says nothing new */
			emit_kind(a, j, GW_CHAN_AWAITING_USER, "PIN prompt shown");
		j->state = TJ_PROMPTED;
		return GW_AGENT_RX_OK;
	case CARD_MSG_SIGNED:
		if (strcmp(m->key_id, j->key_id) != 0) {
			/* Signed with another key than asked: the engine must not see it as ours.
			 */
			gwa_event(a, "agent.refused", p,
			          json_pack("{s:s, s:s}", "why", "signed with another key", "job",
			                    j->job));
			emit_failed(a, j, 503, 0, -1, "agent signed with another key");
			job_end(a, pp);
			gwa_dispatch(a);
			return GW_AGENT_RX_IGNORED;
		}
		on_signed(a, p, pp, m);
		break;
	case CARD_MSG_FAILED:
		on_failed(a, pp, m);
		break;
	default:
		return GW_AGENT_RX_IGNORED;
	}
	gwa_dispatch(a); /* the token is free for the next job */
	return GW_AGENT_RX_OK;
}
