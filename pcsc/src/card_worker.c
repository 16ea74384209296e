/* One reader's worker thread: its own SCARDCONTEXT, serial jobs from a ring of depth 4, and
 * the PC/SC connection rules of PCSC.md §3 (P6-P11). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "card_pcsc_int.h"

static bool
ensure_ctx(struct card_worker *w)
{
	if (!w->have_ctx &&
	    SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &w->ctx) == SCARD_S_SUCCESS)
		w->have_ctx = true;
	return w->have_ctx;
}

static void
drop_ctx(struct card_worker *w)
{
	if (w->have_ctx)
		SCardReleaseContext(w->ctx);
	w->have_ctx = false;
}

/* Connect SHARED asking T=0 or T=1; the PCI follows dwActiveProtocol (P11). A context that
 * pcscd no longer knows answers NO_SERVICE: establish a new one once (P9). */
enum card_err
card__link_open(struct card_link *l)
{
	LONG rv = SCARD_E_NO_SERVICE;
	int attempt;

	l->connected = l->in_txn = false;
	for (attempt = 0; attempt < 2; attempt++) {
		if (!ensure_ctx(l->w))
			return CARD_E_NO_SERVICE;
		rv = SCardConnect(l->w->ctx, l->w->reader, SCARD_SHARE_SHARED,
		                  SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &l->h, &l->proto);
		if (rv != SCARD_E_NO_SERVICE && rv != SCARD_E_INVALID_HANDLE)
			break;
		drop_ctx(l->w);
	}
	if (rv != SCARD_S_SUCCESS)
		return card__map_rv(rv);
	l->connected = true;
	return CARD_OK;
}

/* BeginTransaction. After another handle reset the card (W_RESET_CARD): Reconnect(LEAVE) so
 * the handle is usable again and return CARD_E_RESET; the caller restarts from SELECT with
 * the PIN state gone (PCSC.md §3, at most CARD__RESETS times in all). */
enum card_err
card__link_begin(struct card_link *l)
{
	LONG rv = SCardBeginTransaction(l->h);

	if (rv == SCARD_W_RESET_CARD) {
		SCardReconnect(l->h, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
		               SCARD_LEAVE_CARD, &l->proto);
		return CARD_E_RESET;
	}
	if (rv != SCARD_S_SUCCESS)
		return card__map_rv(rv);
	l->in_txn = true;
	return CARD_OK;
}

/* Ends the transaction with `end` (SCARD_RESET_CARD after a job: the verified PIN state is
 * shared by all handles, P13) and disconnects leaving the card. */
void
card__link_close(struct card_link *l, DWORD end)
{
	if (l->in_txn)
		SCardEndTransaction(l->h, end);
	if (l->connected)
		SCardDisconnect(l->h, SCARD_LEAVE_CARD);
	l->connected = l->in_txn = false;
}

enum card_err
card__link_xfer(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen, uint32_t *raw)
{
	struct card_link *l = ctx;
	const SCARD_IO_REQUEST *pci = l->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	DWORD n = (DWORD)*rlen;
	LONG rv;

	rv = SCardTransmit(l->h, pci, c, (DWORD)clen, NULL, r, &n);
	if (rv != SCARD_S_SUCCESS) {
		*raw = (uint32_t)rv;
		return card__link_presence(l, card__map_rv(rv));
	}
	if (n < 2) {
		/* vpcd answers an empty frame when the card's socket closed mid-command: treat it
		 * like a communication error and let the presence check decide (P7). */
		*raw = 0;
		return card__link_presence(l, CARD_E_TRANSPORT);
	}
	*rlen = n;
	return CARD_OK;
}

/* F_COMM_ERROR / E_NOT_TRANSACTED may be a pulled card that pcscd has not polled yet (P6,
 * P7): wait for the next presence poll (400 ms) and call it removed if the slot is empty. */
enum card_err
card__link_presence(struct card_link *l, enum card_err e)
{
	SCARD_READERSTATE rs;

	if (e != CARD_E_TRANSPORT || !l->w->have_ctx)
		return e;
	memset(&rs, 0, sizeof(rs));
	rs.szReader = l->w->reader;
	rs.dwCurrentState = SCARD_STATE_UNAWARE;
	if (SCardGetStatusChange(l->w->ctx, 0, &rs, 1) != SCARD_S_SUCCESS)
		return e;
	if (rs.dwEventState & SCARD_STATE_EMPTY)
		return CARD_E_REMOVED;
	rs.dwCurrentState = rs.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	if (SCardGetStatusChange(l->w->ctx, 900, &rs, 1) == SCARD_S_SUCCESS &&
	    (rs.dwEventState & (SCARD_STATE_EMPTY | SCARD_STATE_MUTE)))
		return CARD_E_REMOVED;
	return e;
}

static void
fail_queued(struct card_worker *w, enum card_err err)
{
	struct card_job job;
	struct card_event *ev = calloc(1, sizeof(*ev));

	while (card_ring_pop(w->jobs, &job)) {
		if (ev == NULL)
			continue;
		memset(ev, 0, sizeof(*ev));
		ev->kind = CARD_EV_JOB_DONE;
		ev->job = job.id;
		memcpy(ev->reader, w->reader, sizeof(ev->reader));
		ev->err = err;
		ev->status.reason = card_err_reason(err);
		ev->status.retries_left = -1;
		card__emit(w->eng, ev);
	}
	OPENSSL_cleanse(&job, sizeof(job));
	free(ev);
}

static void *
worker_main(void *arg)
{
	struct card_worker *w = arg;
	struct card_job job;
	bool probe, stop, have_job;
	unsigned counter;

	for (;;) {
		pthread_mutex_lock(&w->mu);
		while (!w->stop && !w->probe_req && card_ring_count(w->jobs) == 0)
			pthread_cond_wait(&w->cv, &w->mu);
		stop = w->stop;
		probe = w->probe_req;
		counter = w->probe_counter;
		w->probe_req = false;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		if (probe)
			card__probe_run(w, counter);
		have_job = card_ring_pop(w->jobs, &job);
		if (have_job)
			card__job_run(w, &job);
		OPENSSL_cleanse(&job, sizeof(job));
	}
	drop_ctx(w);
	return NULL;
}

struct card_worker *
card__worker_start(struct card_engine *e, const char *reader)
{
	struct card_worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->eng = e;
	snprintf(w->reader, sizeof(w->reader), "%s", reader);
	w->cur_state = SCARD_STATE_UNAWARE;
	if ((w->jobs = card_ring_new(CARD__JOB_DEPTH, sizeof(struct card_job))) == NULL)
		goto fail;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		goto fail;
	}
	return w;
fail:
	card_ring_free(w->jobs);
	free(w);
	return NULL;
}

void
card__worker_stop(struct card_worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	fail_queued(w, CARD_E_NO_READER);
	card_ring_free(w->jobs);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void
card__worker_probe(struct card_worker *w, unsigned counter)
{
	pthread_mutex_lock(&w->mu);
	w->probe_req = true;
	w->probe_counter = counter;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}
