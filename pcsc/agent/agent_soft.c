/* agent_soft.c -- a software token for tests without PC/SC (never for real keys): key and
 * certificate from PEM files, the KYSO-PKI v1 PIN rules (PCSC.md 4: 3 tries, blocked after the
 * last, a correct PIN resets the counter) and the job rules of PCSC.md 5.3 (taken, prompt,
 * deadline checked before and after the prompt). One worker thread does the PIN dialogue and
 * the signing, so the loop thread never blocks; jobs and events travel by copy through
 * bounded queues (full = rejected at once).
 *
 * Spec: key=FILE,cert=FILE[,serial=HEX][,pin=DIGITS][,tries=N][,delay_ms=N] */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "agent.h"

#define JOBS_DEPTH   4
#define EVENTS_DEPTH 16

struct soft {
	pthread_t thread;
	bool running, stopping;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct agent_job jobs[JOBS_DEPTH];
	int njobs;
	struct agent_bev *events; /* EVENTS_DEPTH slots, heap (each holds a certificate) */
	int nev, ev_head;
	agent_wake_fn *wake;
	void *wake_arg;
	struct agent_pin_cfg pin_cfg;

	EVP_PKEY *key;
	struct agent_token tok;
	struct agent_pin pin; /* the token's own PIN (what a card stores) */
	int tries, tries_max;
	unsigned delay_ms;
};

static void
push_event(struct soft *s, const struct agent_bev *ev)
{
	pthread_mutex_lock(&s->mu);
	if (s->nev < EVENTS_DEPTH) {
		s->events[(s->ev_head + s->nev) % EVENTS_DEPTH] = *ev;
		s->nev++;
	}
	/* Full: the loop is far behind; the job's deadline answers for it. */
	pthread_mutex_unlock(&s->mu);
	s->wake(s->wake_arg);
}

static void
job_event(struct soft *s, const struct agent_job *j, enum agent_bev_kind kind)
{
	struct agent_bev *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return;
	ev->kind = kind;
	ev->job = j->id;
	ev->retries_left = -1;
	push_event(s, ev);
	free(ev);
}

static void
job_fail(struct soft *s, const struct agent_job *j, int code, int sub, const char *reason,
         const char *sw, int retries)
{
	struct agent_bev *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return;
	ev->kind = AGENT_BEV_JOB_DONE;
	ev->job = j->id;
	ev->code = code;
	ev->sub = sub;
	snprintf(ev->reason, sizeof(ev->reason), "%s", reason);
	snprintf(ev->sw, sizeof(ev->sw), "%s", sw != NULL ? sw : "");
	ev->retries_left = retries;
	push_event(s, ev);
	free(ev);
}

static const EVP_MD *
alg_md(const char *alg)
{
	size_t n = card_msg_alg_hash_len(alg);

	return n == 32 ? EVP_sha256() : n == 48 ? EVP_sha384() : n == 64 ? EVP_sha512() : NULL;
}

static bool
soft_sign(struct soft *s, const struct agent_job *j, uint8_t *sig, size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(s->key, NULL);
	bool ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1;

	if (ok && strncmp(j->alg, "rsa-pkcs1-", 10) == 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, alg_md(j->alg)) == 1;
	*sig_len = CARD_MSG_SIG_MAX;
	ok = ok && EVP_PKEY_sign(ctx, sig, sig_len, j->hash, j->hash_len) == 1; /* EC: DER */
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static void
hash_prefix(const struct agent_job *j, char out[17])
{
	for (size_t i = 0; i < 8 && i < j->hash_len; i++)
		snprintf(out + 2 * i, 3, "%02x", j->hash[i]);
}

/* The PIN dialogue until a correct PIN, a block, a cancel or the deadline. */
static bool
soft_verify(struct soft *s, const struct agent_job *j)
{
	struct agent_pin pin;
	char prefix[17] = "";
	bool prompted = false;

	hash_prefix(j, prefix);
	for (;;) {
		struct agent_pin_ask ask = { j->display, s->tok.subject, prefix, s->tries,
			                     j->deadline_ms };
		enum agent_pin_rc rc;
		bool match;

		if (s->tries == 0) {
			job_fail(s, j, 402, 4021, "PIN_BLOCKED", "6983", 0);
			return false;
		}
		if (agent_now_ms() >= j->deadline_ms) /* before the prompt: nothing shown yet */
			return job_fail(s, j, 208, prompted ? 2082 : 2081, "DEADLINE", NULL, -1),
			       false;
		if (!prompted)
			job_event(s, j, AGENT_BEV_JOB_PROMPT);
		prompted = true;
		rc = agent_pin_get(&s->pin_cfg, &ask, &pin);
		if (agent_now_ms() >= j->deadline_ms) { /* after the prompt (PCSC.md 5.3) */
			agent_pin_wipe(&pin);
			job_fail(s, j, 208, 2082, "DEADLINE", NULL, -1);
			return false;
		}
		if (rc != AGENT_PIN_OK) {
			job_fail(s, j, 401, 4011, "CANCELLED", NULL, -1);
			return false;
		}
		match = pin.len == s->pin.len &&
		        CRYPTO_memcmp(pin.digits, s->pin.digits, pin.len) == 0;
		agent_pin_wipe(&pin);
		if (match) {
			s->tries = s->tries_max;
			return true;
		}
		s->tries--;
		if (s->tries == 0) {
			job_fail(s, j, 402, 4021, "PIN_BLOCKED", "63C0", 0);
			return false;
		}
		/* A PIN file cannot be asked again: the job ends with the tries left. */
		if (s->pin_cfg.source == AGENT_PIN_FILE) {
			char sw[5];

			snprintf(sw, sizeof(sw), "63C%X", (unsigned)s->tries & 0xfu);
			job_fail(s, j, 401, 4015, "PIN_INCORRECT", sw, s->tries);
			return false;
		}
	}
}

static void
soft_run(struct soft *s, const struct agent_job *j)
{
	uint64_t t0 = agent_now_ms();
	struct agent_bev *ev;

	job_event(s, j, AGENT_BEV_JOB_TAKEN);
	if (strcmp(j->token_id, s->tok.token_id) != 0) {
		job_fail(s, j, 209, 2092, "CARD_REMOVED", NULL, -1);
		return;
	}
	if (!soft_verify(s, j))
		return;
	if (s->delay_ms > 0) {
		struct timespec ts = { s->delay_ms / 1000, (long)(s->delay_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		return;
	ev->kind = AGENT_BEV_JOB_DONE;
	ev->job = j->id;
	ev->retries_left = -1;
	if (soft_sign(s, j, ev->sig, &ev->sig_len)) {
		ev->ok = true;
		ev->elapsed_ms = agent_now_ms() - t0;
		push_event(s, ev);
	} else {
		job_fail(s, j, 900, 9003, "CARD_ERROR", NULL, -1);
	}
	free(ev);
}

static void *
soft_main(void *arg)
{
	struct soft *s = arg;
	struct agent_bev *ev = calloc(1, sizeof(*ev));

	if (ev != NULL) { /* the token is "inserted" at start */
		ev->kind = AGENT_BEV_TOKEN_PRESENT;
		ev->token = s->tok;
		ev->retries_left = -1;
		push_event(s, ev);
		free(ev);
	}
	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct agent_job j;

		while (s->njobs == 0 && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping)
			break;
		j = s->jobs[0];
		memmove(&s->jobs[0], &s->jobs[1], sizeof(s->jobs[0]) * (size_t)(s->njobs - 1));
		s->njobs--;
		OPENSSL_cleanse(&s->jobs[s->njobs], sizeof(s->jobs[0]));
		pthread_mutex_unlock(&s->mu);
		soft_run(s, &j);
		OPENSSL_cleanse(&j, sizeof(j));
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static int
soft_start(void *self, agent_wake_fn *wake, void *wake_arg, const struct agent_pin_cfg *pin)
{
	struct soft *s = self;

	s->wake = wake;
	s->wake_arg = wake_arg;
	s->pin_cfg = *pin;
	if (pthread_create(&s->thread, NULL, soft_main, s) != 0)
		return -1;
	s->running = true;
	return 0;
}

static int
soft_submit(void *self, const struct agent_job *job)
{
	struct soft *s = self;
	int rc = -1;

	pthread_mutex_lock(&s->mu);
	if (s->njobs < JOBS_DEPTH) {
		s->jobs[s->njobs++] = *job;
		pthread_cond_signal(&s->cv);
		rc = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static bool
soft_pop(void *self, struct agent_bev *ev)
{
	struct soft *s = self;
	bool got = false;

	pthread_mutex_lock(&s->mu);
	if (s->nev > 0) {
		*ev = s->events[s->ev_head];
		OPENSSL_cleanse(&s->events[s->ev_head], sizeof(*ev));
		s->ev_head = (s->ev_head + 1) % EVENTS_DEPTH;
		s->nev--;
		got = true;
	}
	pthread_mutex_unlock(&s->mu);
	return got;
}

static void
soft_stop(void *self)
{
	struct soft *s = self;

	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* A job in its PIN dialogue ends at its deadline at the latest. */
	if (s->running)
		pthread_join(s->thread, NULL);
	EVP_PKEY_free(s->key);
	agent_pin_wipe(&s->pin);
	OPENSSL_cleanse(s->jobs, sizeof(s->jobs));
	free(s->events);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

/* key=..,cert=..: copies the value of name into out. */
static bool
spec_get(const char *spec, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *p = spec; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);

		if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			if (len - nl - 1 >= cap)
				return false;
			memcpy(out, p + nl + 1, len - nl - 1);
			out[len - nl - 1] = '\0';
			return true;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	out[0] = '\0';
	return false;
}

static int
soft_load(struct soft *s, const char *spec, char *err, size_t errlen)
{
	char kf[256], cf[256];
	FILE *f;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int n;

	if (!spec_get(spec, "key", kf, sizeof(kf)) || !spec_get(spec, "cert", cf, sizeof(cf)))
		return snprintf(err, errlen, "--soft-token needs key=FILE,cert=FILE"), -1;
	if ((f = fopen(kf, "r")) == NULL ||
	    (s->key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		return f != NULL ? fclose(f) : 0, snprintf(err, errlen, "cannot read key %s", kf),
		       -1;
	fclose(f);
	if ((f = fopen(cf, "r")) == NULL || (x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		return f != NULL ? fclose(f) : 0, snprintf(err, errlen, "cannot read cert %s", cf),
		       -1;
	fclose(f);
	n = i2d_X509(x, &der);
	if (n <= 0 || (size_t)n > sizeof(s->tok.cert)) {
		X509_free(x);
		OPENSSL_free(der);
		return snprintf(err, errlen, "certificate too large"), -1;
	}
	memcpy(s->tok.cert, der, (size_t)n);
	s->tok.cert_len = (size_t)n;
	OPENSSL_free(der);
	BIO *b = BIO_new(BIO_s_mem());
	if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
		int got = BIO_read(b, s->tok.subject, (int)sizeof(s->tok.subject) - 1);
		s->tok.subject[got > 0 ? got : 0] = '\0';
	}
	BIO_free(b);
	X509_free(x);
	return 0;
}

static void
soft_algs(struct soft *s)
{
	if (EVP_PKEY_base_id(s->key) == EVP_PKEY_RSA) {
		snprintf(s->tok.algs[0], 24, "rsa-pkcs1-sha256");
		snprintf(s->tok.algs[1], 24, "rsa-pkcs1-sha384");
		snprintf(s->tok.algs[2], 24, "rsa-pkcs1-sha512");
		s->tok.nalgs = 3;
	} else if (EVP_PKEY_base_id(s->key) == EVP_PKEY_EC && EVP_PKEY_get_bits(s->key) == 256) {
		snprintf(s->tok.algs[0], 24, "ecdsa-p256-sha256");
		s->tok.nalgs = 1;
	}
}

int
agent_soft_new(struct agent_backend *be, const char *spec, char *err, size_t errlen)
{
	struct soft *s = calloc(1, sizeof(*s));
	char v[64];

	if (s == NULL || (s->events = calloc(EVENTS_DEPTH, sizeof(*s->events))) == NULL) {
		free(s);
		return snprintf(err, errlen, "out of memory"), -1;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	be->self = s; /* soft_stop frees it on any failure below */
	if (soft_load(s, spec, err, errlen) != 0)
		return soft_stop(s), -1;
	soft_algs(s);
	if (s->tok.nalgs == 0)
		return soft_stop(s), snprintf(err, errlen, "key must be RSA or EC P-256"), -1;
	if (!spec_get(spec, "serial", v, sizeof(v)))
		snprintf(v, sizeof(v), "50F7000000000001");
	snprintf(s->tok.serial, sizeof(s->tok.serial), "%s", v);
	snprintf(s->tok.token_id, sizeof(s->tok.token_id), "soft-%.58s", v);
	snprintf(s->tok.reader, sizeof(s->tok.reader), "software token (test only)");
	snprintf(s->tok.profile, sizeof(s->tok.profile), "SOFT-TEST");
	if (!spec_get(spec, "pin", v, sizeof(v)))
		snprintf(v, sizeof(v), "123456");
	s->pin.len = (uint8_t)strnlen(v, AGENT_PIN_MAX);
	memcpy(s->pin.digits, v, s->pin.len);
	OPENSSL_cleanse(v, sizeof(v));
	/* tries=N: tries left now (0 = blocked, as kyso-vcard --pin-tries); the maximum is 3. */
	s->tries_max = 3;
	s->tries = spec_get(spec, "tries", v, sizeof(v)) ? (int)strtol(v, NULL, 10) : 3;
	if (s->tries < 0 || s->tries > s->tries_max)
		s->tries = s->tries_max;
	s->tok.pin_retries = s->tries;
	s->delay_ms = spec_get(spec, "delay_ms", v, sizeof(v)) ? (unsigned)strtoul(v, NULL, 10) : 0;
	be->name = "soft";
	be->start = soft_start;
	be->submit = soft_submit;
	be->pop = soft_pop;
	be->stop = soft_stop;
	return 0;
}
