/* agent_card.c -- the PC/SC token backend: the card engine of kyso/card.h (monitor and
 * worker threads with their own contexts, bounded rings; PCSC.md 3, 5.1-5.3) adapted to the
 * agent's backend interface (agent.h). The engine calls the PIN callback on a worker thread,
 * one dialogue at a time; this file turns it into agent_pin_get() with what the dialogue must
 * show (display text, certificate subject, hash prefix, tries left: PCSC.md 5.4).
 *
 * Tokens are named by their serial (hex) and certificate fingerprint, never by reader
 * (PCSC.md 5.2); a reader's removal, or pcscd going down, makes its token gone. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <kyso/card.h>

#include "agent.h"

#define SHOW_MAX 16 /* jobs whose dialogue text is kept for the worker (ring depth 4/reader) */

struct show { /* what a job's PIN dialogue shows; written on the loop, read on a worker */
	uint64_t job;
	char display[CARD_MSG_DISPLAY_MAX + 1];
	char subject[256];
};

struct reader_tok { /* which token sits in which reader (loop thread) */
	char reader[CARD_READER_MAX];
	char token_id[CARD_MSG_ID_MAX + 1];
	char subject[256];
};

struct cardbe {
	struct card_engine *eng;
	agent_wake_fn *wake;
	void *wake_arg;
	struct agent_pin_cfg pin_cfg;
	pthread_mutex_t mu; /* guards shows and last_asked */
	struct show shows[SHOW_MAX];
	unsigned next_show;
	uint64_t last_asked; /* PIN file: a second ask in one job cannot be answered */
	struct reader_tok readers[AGENT_TOKENS_MAX];
	int nreaders;
	struct card_event *ev;     /* pop buffer (large) */
	struct agent_bev *pending; /* TOKEN_GONE events queued after a service-down */
	int npending;
};

static void
wake(void *arg)
{
	struct cardbe *c = arg;

	c->wake(c->wake_arg);
}

static const struct show *
show_find(struct cardbe *c, uint64_t job)
{
	for (unsigned i = 0; i < SHOW_MAX; i++)
		if (c->shows[i].job == job)
			return &c->shows[i];
	return NULL;
}

/* Worker thread (the engine serialises dialogues). */
static enum card_err
ask_pin(void *arg, const struct card_job *job, enum card_ask what, int retries_left,
        struct card_pin *out)
{
	struct cardbe *c = arg;
	struct agent_pin pin;
	char prefix[17] = "", display[CARD_MSG_DISPLAY_MAX + 1] = "", subject[256] = "";
	enum agent_pin_rc rc;
	enum card_err e;

	if (what != CARD_ASK_PIN) /* change PIN and PUK unblock are local tools, not jobs */
		return CARD_E_CANCELLED;
	pthread_mutex_lock(&c->mu);
	const struct show *s = show_find(c, job->id);
	if (s != NULL) {
		snprintf(display, sizeof(display), "%s", s->display);
		snprintf(subject, sizeof(subject), "%s", s->subject);
	}
	bool again = c->last_asked == job->id;
	c->last_asked = job->id;
	pthread_mutex_unlock(&c->mu);
	/* A PIN file cannot be asked twice: after a wrong PIN the job ends 401/4015. */
	if (again && c->pin_cfg.source == AGENT_PIN_FILE)
		return CARD_E_CANCELLED;
	for (size_t i = 0; i < 8 && i < job->hash_len; i++)
		snprintf(prefix + 2 * i, 3, "%02x", job->hash[i]);
	struct agent_pin_ask ask = { display, subject, prefix, retries_left, job->deadline_ms };
	rc = agent_pin_get(&c->pin_cfg, &ask, &pin);
	if (rc != AGENT_PIN_OK)
		return CARD_E_CANCELLED;
	e = card_pin_set(out, pin.digits);
	agent_pin_wipe(&pin);
	return e == CARD_OK ? CARD_OK : CARD_E_CANCELLED;
}

static int
card_start(void *self, agent_wake_fn *wk, void *wake_arg, const struct agent_pin_cfg *pin)
{
	struct cardbe *c = self;
	struct card_engine_opts o = { 0 };

	c->wake = wk;
	c->wake_arg = wake_arg;
	c->pin_cfg = *pin;
	o.wake = wake;
	o.wake_arg = c;
	o.pin = ask_pin;
	o.pin_arg = c;
	c->eng = card_new(&o);
	return c->eng != NULL ? 0 : -1;
}

static struct reader_tok *
reader_find(struct cardbe *c, const char *reader, const char *token_id)
{
	for (int i = 0; i < c->nreaders; i++)
		if ((reader != NULL && strcmp(c->readers[i].reader, reader) == 0) ||
		    (token_id != NULL && strcmp(c->readers[i].token_id, token_id) == 0))
			return &c->readers[i];
	return NULL;
}

static int
card_submit(void *self, const struct agent_job *job)
{
	struct cardbe *c = self;
	struct reader_tok *r = reader_find(c, NULL, job->token_id);
	struct card_job cj;
	struct show *s;
	enum card_err e;

	if (r == NULL)
		return -1;
	memset(&cj, 0, sizeof(cj));
	cj.id = job->id;
	cj.kind = CARD_JOB_SIGN;
	snprintf(cj.reader, sizeof(cj.reader), "%s", r->reader);
	cj.alg = card_alg_from_name(job->alg);
	memcpy(cj.hash, job->hash, job->hash_len);
	cj.hash_len = job->hash_len;
	cj.deadline_ms = job->deadline_ms;
	pthread_mutex_lock(&c->mu);
	s = &c->shows[c->next_show++ % SHOW_MAX];
	s->job = job->id;
	snprintf(s->display, sizeof(s->display), "%s", job->display);
	memcpy(s->subject, r->subject, sizeof(s->subject)); /* same size, NUL-terminated */
	pthread_mutex_unlock(&c->mu);
	e = card_job_submit(c->eng, &cj);
	OPENSSL_cleanse(&cj, sizeof(cj));
	return e == CARD_OK ? 0 : -1;
}

static int
card_bench(void *self, const char *token_id, unsigned rounds, uint64_t job_id)
{
	struct cardbe *c = self;
	struct reader_tok *r = reader_find(c, NULL, token_id);
	struct card_job cj;

	if (r == NULL)
		return -1;
	memset(&cj, 0, sizeof(cj));
	cj.id = job_id;
	cj.kind = CARD_JOB_BENCH;
	snprintf(cj.reader, sizeof(cj.reader), "%s", r->reader);
	cj.bench_rounds = rounds;
	return card_job_submit(c->eng, &cj) == CARD_OK ? 0 : -1;
}

static void
subject_of(const uint8_t *der, size_t len, char *out, size_t cap)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	BIO *b = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (x != NULL && b != NULL &&
	    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(b, out, (int)cap - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	X509_free(x);
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char h[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[b[i] >> 4];
		out[2 * i + 1] = h[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
token_present(struct cardbe *c, const struct card_event *ev, struct agent_bev *out)
{
	struct agent_token *t = &out->token;
	struct reader_tok *r = reader_find(c, ev->reader, NULL);
	char fp[65];

	out->kind = AGENT_BEV_TOKEN_PRESENT;
	hex(ev->serial, CARD_SERIAL_LEN, t->serial);
	card_msg_key_id(ev->cert, ev->cert_len, fp);
	/* Serial + certificate fingerprint: a re-issued card in the same reader is a new token. */
	snprintf(t->token_id, sizeof(t->token_id), "%.32s-%.8s", t->serial, fp);
	snprintf(t->reader, sizeof(t->reader), "%s", ev->reader);
	snprintf(t->label, sizeof(t->label), "%s", ev->label);
	snprintf(t->profile, sizeof(t->profile), "%s", ev->profile != NULL ? ev->profile : "");
	hex(ev->atr, ev->atr_len < 33 ? ev->atr_len : 33, t->atr);
	memcpy(t->cert, ev->cert, ev->cert_len);
	t->cert_len = ev->cert_len;
	subject_of(ev->cert, ev->cert_len, t->subject, sizeof(t->subject));
	t->nalgs = 0;
	if (ev->key_type == CARD_KEY_RSA) { /* KYSO-PKI v1 offers rsa-pkcs1-* (PCSC.md 5.5) */
		snprintf(t->algs[t->nalgs++], 24, "rsa-pkcs1-sha256");
		snprintf(t->algs[t->nalgs++], 24, "rsa-pkcs1-sha384");
		snprintf(t->algs[t->nalgs++], 24, "rsa-pkcs1-sha512");
	} else if (ev->key_type == CARD_KEY_EC_P256) {
		snprintf(t->algs[t->nalgs++], 24, "ecdsa-p256-sha256");
	}
	t->pin_retries = ev->pin_retries;
	t->pin_blocked = ev->pin_retries == 0;
	if (r == NULL && c->nreaders < AGENT_TOKENS_MAX)
		r = &c->readers[c->nreaders++];
	if (r != NULL) {
		snprintf(r->reader, sizeof(r->reader), "%s", ev->reader);
		snprintf(r->token_id, sizeof(r->token_id), "%s", t->token_id);
		memcpy(r->subject, t->subject, sizeof(r->subject));
	}
}

/* The token in this reader is gone; false when none was there. */
static bool
token_gone(struct cardbe *c, const char *reader, struct agent_bev *out)
{
	struct reader_tok *r = reader_find(c, reader, NULL);

	if (r == NULL)
		return false;
	out->kind = AGENT_BEV_TOKEN_GONE;
	snprintf(out->token.token_id, sizeof(out->token.token_id), "%s", r->token_id);
	*r = c->readers[--c->nreaders];
	return true;
}

static void
job_done(const struct card_event *ev, struct agent_bev *out)
{
	out->kind = AGENT_BEV_JOB_DONE;
	out->job = ev->job;
	out->retries_left = ev->status.retries_left;
	out->elapsed_ms = ev->elapsed_us / 1000u;
	out->elapsed_us = ev->elapsed_us;
	if (ev->err == CARD_OK) {
		out->ok = true;
		memcpy(out->sig, ev->sig, ev->sig_len); /* ECDSA already DER */
		out->sig_len = ev->sig_len;
		return;
	}
	enum card_reason reason =
	        ev->status.reason != CARD_R_NONE ? ev->status.reason : card_err_reason(ev->err);
	card_reason_north(reason, &out->code, &out->sub);
	snprintf(out->reason, sizeof(out->reason), "%s", card_reason_name(reason));
	if (ev->status.sw != 0)
		snprintf(out->sw, sizeof(out->sw), "%04X", ev->status.sw);
	if (ev->status.pcsc != 0)
		snprintf(out->pcsc, sizeof(out->pcsc), "0x%08X", ev->status.pcsc);
}

/* Translates one engine event; false when it means nothing to the agent. */
static bool
translate(struct cardbe *c, const struct card_event *ev, struct agent_bev *out)
{
	memset(out, 0, sizeof(*out));
	out->retries_left = -1;
	switch (ev->kind) {
	case CARD_EV_TOKEN_PRESENT:
		token_present(c, ev, out);
		return true;
	case CARD_EV_TOKEN_GONE:
	case CARD_EV_READER_REMOVED:
		return token_gone(c, ev->reader, out);
	case CARD_EV_SERVICE_DOWN: /* every token is gone: queue one event per reader */
		while (c->nreaders > 0 && c->npending < AGENT_TOKENS_MAX &&
		       token_gone(c, c->readers[0].reader, &c->pending[c->npending]))
			c->npending++;
		return false;
	case CARD_EV_JOB_TAKEN:
	case CARD_EV_JOB_PROMPT:
		out->kind =
		        ev->kind == CARD_EV_JOB_TAKEN ? AGENT_BEV_JOB_TAKEN : AGENT_BEV_JOB_PROMPT;
		out->job = ev->job;
		return true;
	case CARD_EV_JOB_DONE:
		job_done(ev, out);
		return true;
	default:
		return false;
	}
}

static bool
card_pop(void *self, struct agent_bev *out)
{
	struct cardbe *c = self;

	for (;;) {
		if (c->npending > 0) {
			*out = c->pending[--c->npending];
			return true;
		}
		if (!card_event_pop(c->eng, c->ev))
			return false;
		bool got = translate(c, c->ev, out);
		OPENSSL_cleanse(c->ev, sizeof(*c->ev));
		if (got)
			return true;
	}
}

static void
card_stop(void *self)
{
	struct cardbe *c = self;

	if (c->eng != NULL)
		card_free(c->eng); /* joins the monitor and the workers, wipes the rings */
	OPENSSL_cleanse(c->shows, sizeof(c->shows));
	pthread_mutex_destroy(&c->mu);
	free(c->ev);
	free(c->pending);
	free(c);
}

int
agent_card_new(struct agent_backend *be, char *err, size_t errlen)
{
	struct cardbe *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->ev = malloc(sizeof(*c->ev))) == NULL ||
	    (c->pending = calloc(AGENT_TOKENS_MAX, sizeof(*c->pending))) == NULL) {
		if (c != NULL)
			free(c->ev);
		free(c);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&c->mu, NULL);
	be->name = "pcsc";
	be->self = c;
	be->start = card_start;
	be->submit = card_submit;
	be->pop = card_pop;
	be->stop = card_stop;
	be->bench = card_bench;
	return 0;
}
