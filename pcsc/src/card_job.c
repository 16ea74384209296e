/* Jobs on a worker thread (PCSC.md §3 state machine, §5.3): the PIN is asked with no
 * transaction held; SELECT..PSO run in one short transaction ended with a card reset. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "card_pcsc_int.h"

/* What one transaction does; the PINs are copies the runner wipes. */
struct txn_ctx {
	const struct card_job *job;
	struct card_pin pin, pin2;
	struct card_event *ev;
	bool pin_verified;
};

typedef enum card_err txn_body_fn(struct card_session *s, struct txn_ctx *t,
                                  struct card_status *st);

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool
expired(const struct card_job *job)
{
	return job->deadline_ms != 0 && card_now_ms() >= job->deadline_ms;
}

/* Deadline or cancel: checked before and after each PIN dialog and before the transaction
 * that sends the PSO (PCSC.md §5.3); after that the job runs to its end. */
static enum card_err
still_wanted(struct card_worker *w, const struct card_job *job)
{
	if (card__job_cancelled(w->eng, job->id, false))
		return CARD_E_ABORTED;
	return expired(job) ? CARD_E_DEADLINE : CARD_OK;
}

/* SELECT of the worker's profile, or detection of the card's profile when none is known yet
 * (the probe of a new card); a detected profile is kept for the card's later transactions. */
static enum card_err
select_profile(struct card_worker *w, struct card_session *s, struct card_status *st)
{
	enum card_err e;

	if (w->prof != NULL)
		return card_select(s, st);
	e = card_profile_detect(s, w->atr_len > 0 ? w->atr : NULL, w->atr_len, st);
	if (e == CARD_OK)
		w->prof = card_session_profile(s);
	return e;
}

/* Connect, begin, SELECT, body; restarted from SELECT after a reset by another handle
 * (at most CARD__RESETS times). `end` is how the transaction ends. */
static enum card_err
run_txn(struct card_worker *w, txn_body_fn *body, struct txn_ctx *t, DWORD end,
        struct card_status *st)
{
	struct card_link l = { .w = w };
	struct card_session *s = NULL;
	enum card_err e = CARD_E_RESET;
	struct card_pin pin = t->pin, pin2 = t->pin2;
	int i;

	memset(st, 0, sizeof(*st));
	st->retries_left = -1;
	if ((s = card_session_new(card__link_xfer, &l, w->prof)) == NULL)
		return CARD_E_NOMEM;
	card_session_set_trace(s, w->eng->o.trace, w->eng->o.trace_arg);
	for (i = 0; i < CARD__RESETS && e == CARD_E_RESET; i++) {
		t->pin = pin; /* the body wipes its copies; a restart needs them again */
		t->pin2 = pin2;
		if ((e = card__link_open(&l)) == CARD_OK && (e = card__link_begin(&l)) == CARD_OK &&
		    (e = select_profile(w, s, st)) == CARD_OK)
			e = body(s, t, st);
		if (e == CARD_E_RESET || e == CARD_E_NO_SERVICE || e == CARD_E_REMOVED)
			end = SCARD_LEAVE_CARD;
		card__link_close(&l, end);
	}
	if (e == CARD_E_NO_SERVICE || e == CARD_E_REMOVED || e == CARD_E_NO_READER ||
	    e == CARD_E_TRANSPORT || e == CARD_E_RESET) {
		st->reason = card_err_reason(e);
		if (st->pcsc == 0)
			st->pcsc = card_session_last_raw(s);
	}
	card_pin_wipe(&pin);
	card_pin_wipe(&pin2);
	card_pin_wipe(&t->pin);
	card_pin_wipe(&t->pin2);
	card_session_free(s);
	return e;
}

/* ---- probe ----------------------------------------------------------------------------- */

static enum card_key_type
cert_key_type(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	EVP_PKEY *k;
	enum card_key_type t = CARD_KEY_UNKNOWN;

	if (x == NULL)
		return t;
	if ((k = X509_get0_pubkey(x)) != NULL) {
		if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
			t = CARD_KEY_RSA;
		else if (EVP_PKEY_get_base_id(k) == EVP_PKEY_EC)
			t = CARD_KEY_EC_P256;
	}
	X509_free(x);
	return t;
}

static enum card_err
probe_body(struct card_session *s, struct txn_ctx *t, struct card_status *st)
{
	struct card_event *ev = t->ev;
	struct card_status pst;
	enum card_err e;

	if ((e = card_read_serial(s, ev->serial, st)) != CARD_OK)
		return e;
	if ((e = card_read_label(s, ev->label, sizeof(ev->label), st)) != CARD_OK)
		return e;
	if ((e = card_read_cert(s, ev->cert, sizeof(ev->cert), &ev->cert_len, st)) != CARD_OK)
		return e;
	ev->pin_retries = -1;
	if (card_pin_status(s, false, &ev->pin_verified, &pst) == CARD_OK)
		ev->pin_retries = pst.retries_left;
	return CARD_OK;
}

/* The card's ATR into w->atr (empty when it cannot be read). */
static void
read_atr(struct card_worker *w)
{
	struct card_link l = { .w = w };
	DWORD state = 0, proto = 0, atr_len = CARD_ATR_MAX, rlen = 0;

	w->atr_len = 0;
	if (card__link_open(&l) != CARD_OK)
		return;
	if (SCardStatus(l.h, NULL, &rlen, &state, &proto, w->atr, &atr_len) == SCARD_S_SUCCESS)
		w->atr_len = atr_len;
	card__link_close(&l, SCARD_LEAVE_CARD);
}

void
card__probe_run(struct card_worker *w, unsigned counter)
{
	struct card_event *ev = calloc(1, sizeof(*ev));
	struct txn_ctx t = { 0 };
	enum card_err e;

	if (ev == NULL)
		return;
	t.ev = ev;
	/* A new card, or the same one after a change: its profile is detected again, with the
	 * ATR read first for the profiles that recognise their cards by it. */
	w->prof = NULL;
	read_atr(w);
	e = run_txn(w, probe_body, &t, SCARD_LEAVE_CARD, &ev->status);
	memcpy(ev->reader, w->reader, sizeof(ev->reader));
	ev->event_counter = counter;
	ev->err = e;
	if (e == CARD_OK) {
		ev->kind = CARD_EV_TOKEN_PRESENT;
		ev->profile = card_profile_name(w->prof);
		ev->key_type = cert_key_type(ev->cert, ev->cert_len);
		memcpy(ev->atr, w->atr, w->atr_len);
		ev->atr_len = w->atr_len;
	} else {
		/* No known applet, or the card left during the probe: not a usable token. */
		ev->kind = CARD_EV_TOKEN_GONE;
		if (e == CARD_E_SW && ev->status.reason == CARD_R_WRONG_PROFILE)
			ev->err = CARD_E_NO_PROFILE;
	}
	card__emit(w->eng, ev);
	free(ev);
}

/* ---- jobs ------------------------------------------------------------------------------ */

static void
emit_progress(struct card_worker *w, const struct card_job *job, enum card_event_kind kind)
{
	struct card_event *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return;
	ev->kind = kind;
	ev->job = job->id;
	memcpy(ev->reader, w->reader, sizeof(ev->reader));
	card__emit(w->eng, ev);
	free(ev);
}

/* The PIN dialog, one at a time per engine, never inside a transaction. */
static enum card_err
ask(struct card_worker *w, const struct card_job *job, enum card_ask what, int retries,
    struct card_pin *pin)
{
	enum card_err e;

	if ((e = still_wanted(w, job)) != CARD_OK)
		return e;
	emit_progress(w, job, CARD_EV_JOB_PROMPT);
	pthread_mutex_lock(&w->eng->pin_mu);
	e = w->eng->o.pin(w->eng->o.pin_arg, job, what, retries, pin);
	pthread_mutex_unlock(&w->eng->pin_mu);
	if (e == CARD_OK)
		e = still_wanted(w, job);
	else if (e != CARD_E_DEADLINE && e != CARD_E_ABORTED)
		e = CARD_E_CANCELLED;
	if (e != CARD_OK)
		card_pin_wipe(pin);
	return e;
}

static enum card_err
status_body(struct card_session *s, struct txn_ctx *t, struct card_status *st)
{
	return card_pin_status(s, false, &t->pin_verified, st);
}

static enum card_err
sign_body(struct card_session *s, struct txn_ctx *t, struct card_status *st)
{
	struct card_pin again = t->pin; /* for one re-VERIFY on 6982 (PCSC.md §2.3) */
	enum card_err e;

	if ((e = card_verify(s, &t->pin, st)) != CARD_OK) {
		card_pin_wipe(&again);
		return e;
	}
	return card_sign(s, t->job->alg, t->job->hash, t->job->hash_len, &again, t->ev->sig,
	                 sizeof(t->ev->sig), &t->ev->sig_len, st);
}

static enum card_err
change_body(struct card_session *s, struct txn_ctx *t, struct card_status *st)
{
	return card_change_pin(s, &t->pin, &t->pin2, st);
}

static enum card_err
unblock_body(struct card_session *s, struct txn_ctx *t, struct card_status *st)
{
	return card_unblock(s, &t->pin, &t->pin2, st);
}

static enum card_err
bench_body(struct card_session *s, struct txn_ctx *t, struct card_status *st)
{
	uint8_t serial[CARD_SERIAL_LEN];
	uint64_t t0 = now_us();
	unsigned i;
	enum card_err e = CARD_OK;

	for (i = 0; i < t->job->bench_rounds && e == CARD_OK; i++)
		e = card_read_serial(s, serial, st);
	t->ev->elapsed_us = now_us() - t0;
	return e;
}

/* SIGN: status query (blocked -> fail without a prompt), then PIN and transaction; a wrong
 * PIN re-prompts with the count until the dialog stops (then 401/4015 with retries_left). */
static enum card_err
run_sign(struct card_worker *w, struct txn_ctx *t, struct card_status *st)
{
	int retries;
	enum card_err e;

	if (card_alg_hash_len(t->job->alg) == 0 ||
	    t->job->hash_len != card_alg_hash_len(t->job->alg)) {
		st->reason = CARD_R_BAD_INPUT;
		return CARD_E_INVAL;
	}
	if ((e = run_txn(w, status_body, t, SCARD_LEAVE_CARD, st)) != CARD_OK)
		return e;
	if (st->reason == CARD_R_PIN_BLOCKED)
		return CARD_E_SW;
	retries = st->retries_left;
	for (;;) {
		if ((e = ask(w, t->job, CARD_ASK_PIN, retries, &t->pin)) != CARD_OK) {
			if (e == CARD_E_CANCELLED && st->reason == CARD_R_PIN_INCORRECT)
				return CARD_E_SW; /* the user stopped after a wrong PIN */
			st->reason = card_err_reason(e);
			return e;
		}
		e = run_txn(w, sign_body, t, SCARD_RESET_CARD, st);
		if (!(e == CARD_E_SW && st->reason == CARD_R_PIN_INCORRECT))
			return e;
		retries = st->retries_left;
	}
}

static enum card_err
run_two_pins(struct card_worker *w, struct txn_ctx *t, enum card_ask first, txn_body_fn *body,
             struct card_status *st)
{
	enum card_err e;

	if ((e = ask(w, t->job, first, -1, &t->pin)) != CARD_OK ||
	    (e = ask(w, t->job, CARD_ASK_NEW_PIN, -1, &t->pin2)) != CARD_OK) {
		st->reason = card_err_reason(e);
		return e;
	}
	return run_txn(w, body, t, SCARD_RESET_CARD, st);
}

void
card__job_run(struct card_worker *w, const struct card_job *job)
{
	struct card_event *ev = calloc(1, sizeof(*ev));
	struct txn_ctx t = { .job = job };
	uint64_t t0 = now_us();
	enum card_err e;

	if (ev == NULL)
		return;
	t.ev = ev;
	ev->status.retries_left = -1;
	emit_progress(w, job, CARD_EV_JOB_TAKEN);
	if ((e = still_wanted(w, job)) != CARD_OK) {
		ev->status.reason = card_err_reason(e);
	} else {
		switch (job->kind) {
		case CARD_JOB_SIGN:
			e = run_sign(w, &t, &ev->status);
			break;
		case CARD_JOB_PIN_STATUS:
			e = run_txn(w, status_body, &t, SCARD_LEAVE_CARD, &ev->status);
			ev->pin_verified = t.pin_verified;
			ev->pin_retries = ev->status.retries_left;
			break;
		case CARD_JOB_CHANGE_PIN:
			e = run_two_pins(w, &t, CARD_ASK_PIN, change_body, &ev->status);
			break;
		case CARD_JOB_UNBLOCK:
			e = run_two_pins(w, &t, CARD_ASK_PUK, unblock_body, &ev->status);
			break;
		case CARD_JOB_BENCH:
			e = run_txn(w, bench_body, &t, SCARD_LEAVE_CARD, &ev->status);
			break;
		default:
			e = CARD_E_INVAL;
			break;
		}
	}
	card_pin_wipe(&t.pin);
	card_pin_wipe(&t.pin2);
	card__job_cancelled(w->eng, job->id, true); /* a late cancel mark goes with the job */
	ev->kind = CARD_EV_JOB_DONE;
	ev->job = job->id;
	memcpy(ev->reader, w->reader, sizeof(ev->reader));
	ev->err = e;
	if (job->kind != CARD_JOB_BENCH)
		ev->elapsed_us = now_us() - t0;
	card__emit(w->eng, ev);
	free(ev);
}
