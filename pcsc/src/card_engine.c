/* The engine: the monitor thread (reader list diff, presence and event counters, service
 * down/up) and the loop-facing API (PCSC.md §3, §5.1, §5.2). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "card_pcsc_int.h"

#define PNP_READER     "\\\\?PnP?\\Notification"
#define READERS_BUF    8192
#define MAX_READERS    32
#define BACKOFF_MAX_S  30
#define CANCEL_KEEP_MS (10u * 60u * 1000u)

uint64_t
card_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool
card__stopping(struct card_engine *e)
{
	bool s;

	pthread_mutex_lock(&e->mu);
	s = e->stop;
	pthread_mutex_unlock(&e->mu);
	return s;
}

enum card_err
card__map_rv(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS:
		return CARD_OK;
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
		return CARD_E_REMOVED;
	case SCARD_E_NO_SERVICE:
	case SCARD_E_SERVICE_STOPPED:
		return CARD_E_NO_SERVICE;
	case SCARD_E_UNKNOWN_READER:
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_INVALID_HANDLE:
	case SCARD_E_NO_READERS_AVAILABLE:
		return CARD_E_NO_READER;
	case SCARD_W_RESET_CARD:
		return CARD_E_RESET;
	case SCARD_E_CANCELLED:
		return CARD_E_STOPPED;
	case SCARD_E_NO_MEMORY:
		return CARD_E_NOMEM;
	default: /* F_COMM_ERROR, E_NOT_TRANSACTED: the caller checks presence (P7) */
		return CARD_E_TRANSPORT;
	}
}

/* Queues an event for the loop thread. The events ring is deep; if the loop thread stalls
 * long enough to fill it, wait up to a second before dropping (worker threads only wait). */
void
card__emit(struct card_engine *e, struct card_event *ev)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i;

	for (i = 0; i < 100; i++) {
		if (card_ring_push(e->events, ev) == CARD_OK) {
			e->o.wake(e->o.wake_arg);
			break;
		}
		nanosleep(&ts, NULL);
	}
	OPENSSL_cleanse(ev, sizeof(*ev));
}

static void
emit_simple(struct card_engine *e, enum card_event_kind kind, const char *reader)
{
	struct card_event *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return;
	ev->kind = kind;
	if (reader != NULL)
		snprintf(ev->reader, sizeof(ev->reader), "%s", reader);
	card__emit(e, ev);
	free(ev);
}

/* ---- monitor thread ------------------------------------------------------------------- */

static struct card_worker *
find_worker(struct card_engine *e, const char *reader)
{
	struct card_worker *w;

	for (w = e->workers; w != NULL; w = w->next)
		if (strcmp(w->reader, reader) == 0)
			return w;
	return NULL;
}

static void
drop_worker(struct card_engine *e, struct card_worker *w)
{
	struct card_worker **pp;
	char reader[CARD_READER_MAX];

	pthread_mutex_lock(&e->mu);
	for (pp = &e->workers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&e->mu);
	memcpy(reader, w->reader, sizeof(reader));
	card__worker_stop(w);
	emit_simple(e, CARD_EV_READER_REMOVED, reader);
}

static void
drop_all_workers(struct card_engine *e)
{
	while (e->workers != NULL)
		drop_worker(e, e->workers);
}

/* Interruptible back-off sleep; false when the engine stops. */
static bool
backoff_wait(struct card_engine *e, unsigned secs)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&e->mu);
	while (!e->stop && pthread_cond_timedwait(&e->cv, &e->mu, &ts) != ETIMEDOUT)
		;
	stop = e->stop;
	pthread_mutex_unlock(&e->mu);
	return !stop;
}

static void
release_mctx(struct card_engine *e)
{
	pthread_mutex_lock(&e->mu);
	if (e->have_mctx)
		SCardReleaseContext(e->mctx);
	e->have_mctx = false;
	pthread_mutex_unlock(&e->mu);
}

/* Lists readers and starts/stops workers to match (list diff, PCSC.md §5.2). */
static enum card_err
sync_readers(struct card_engine *e)
{
	char buf[READERS_BUF];
	DWORD len = sizeof(buf);
	struct card_worker *w, *next;
	LONG rv;
	char *p;

	rv = SCardListReaders(e->mctx, NULL, buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		len = 0;
	} else if (rv != SCARD_S_SUCCESS) {
		return card__map_rv(rv);
	}
	for (w = e->workers; w != NULL; w = w->next)
		w->seen = false;
	for (p = buf; len > 0 && p < buf + len && *p != '\0'; p += strlen(p) + 1) {
		if ((w = find_worker(e, p)) != NULL) {
			w->seen = true;
			continue;
		}
		if (strlen(p) >= CARD_READER_MAX || (w = card__worker_start(e, p)) == NULL)
			continue;
		w->seen = true;
		pthread_mutex_lock(&e->mu);
		w->next = e->workers;
		e->workers = w;
		pthread_mutex_unlock(&e->mu);
		emit_simple(e, CARD_EV_READER_ADDED, p);
	}
	for (w = e->workers; w != NULL; w = next) {
		next = w->next;
		if (!w->seen)
			drop_worker(e, w);
	}
	return CARD_OK;
}

/* One reader's new state from SCardGetStatusChange. A changed insert/remove counter while
 * PRESENT means the card was swapped between two polls: probe again (PCSC.md §5.2). */
static void
reader_changed(struct card_engine *e, struct card_worker *w, DWORD st)
{
	bool present = (st & SCARD_STATE_PRESENT) && !(st & SCARD_STATE_MUTE);
	unsigned counter = (unsigned)(st >> 16) & 0xFFFF;

	if (present && (!w->was_present || counter != ((w->cur_state >> 16) & 0xFFFF)))
		card__worker_probe(w, counter);
	if (!present && w->was_present)
		emit_simple(e, CARD_EV_TOKEN_GONE, w->reader);
	w->was_present = present;
	w->cur_state = st;
}

static enum card_err
wait_changes(struct card_engine *e)
{
	SCARD_READERSTATE rs[MAX_READERS + 1];
	struct card_worker *ws[MAX_READERS];
	struct card_worker *w;
	DWORD n = 0, i;
	LONG rv;

	memset(rs, 0, sizeof(rs));
	for (w = e->workers; w != NULL && n < MAX_READERS; w = w->next) {
		ws[n] = w;
		rs[n].szReader = w->reader;
		rs[n].dwCurrentState = w->cur_state; /* UNAWARE at first */
		n++;
	}
	rs[n].szReader = PNP_READER;
	rs[n].dwCurrentState = SCARD_STATE_UNAWARE;
	rv = SCardGetStatusChange(e->mctx, e->o.poll_ms, rs, n + 1);
	if (rv == SCARD_E_TIMEOUT || rv == SCARD_E_CANCELLED)
		return CARD_OK;
	if (rv != SCARD_S_SUCCESS)
		return card__map_rv(rv);
	for (i = 0; i < n; i++)
		if (rs[i].dwEventState & SCARD_STATE_CHANGED)
			/* Feed back the state without CHANGED or the loop spins (P10). */
			reader_changed(e, ws[i], rs[i].dwEventState & ~(DWORD)SCARD_STATE_CHANGED);
	return CARD_OK;
}

static void
service_down(struct card_engine *e, bool *down)
{
	release_mctx(e);
	drop_all_workers(e);
	if (!*down)
		emit_simple(e, CARD_EV_SERVICE_DOWN, NULL);
	*down = true;
}

static void *
monitor_main(void *arg)
{
	struct card_engine *e = arg;
	unsigned backoff = 1;
	bool down = false;
	SCARDCONTEXT ctx;
	enum card_err rc;

	while (!card__stopping(e)) {
		if (!e->have_mctx) {
			if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) !=
			    SCARD_S_SUCCESS) {
				service_down(e, &down);
				if (!backoff_wait(e, backoff))
					break;
				backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
				continue;
			}
			pthread_mutex_lock(&e->mu);
			e->mctx = ctx;
			e->have_mctx = true;
			pthread_mutex_unlock(&e->mu);
			if (down)
				emit_simple(e, CARD_EV_SERVICE_UP, NULL);
			down = false;
			backoff = 1;
		}
		rc = sync_readers(e);
		if (rc == CARD_OK)
			rc = wait_changes(e);
		/* After a pcscd restart the old context answers NO_SERVICE forever, although
		 * SCardIsValidContext succeeds (P9): release it and establish a new one. */
		if (rc == CARD_E_NO_SERVICE || rc == CARD_E_TRANSPORT)
			service_down(e, &down);
	}
	drop_all_workers(e);
	release_mctx(e);
	return NULL;
}

/* ---- loop-thread API ------------------------------------------------------------------- */

struct card_engine *
card_new(const struct card_engine_opts *opts)
{
	struct card_engine *e;

	if (opts == NULL || opts->wake == NULL || opts->pin == NULL)
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->o = *opts;
	if (e->o.poll_ms == 0)
		e->o.poll_ms = 1000;
	if (e->o.events_depth == 0)
		e->o.events_depth = 64;
	if ((e->events = card_ring_new(e->o.events_depth, sizeof(struct card_event))) == NULL)
		goto fail;
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->pin_mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	if (pthread_create(&e->monitor, NULL, monitor_main, e) != 0) {
		pthread_cond_destroy(&e->cv);
		pthread_mutex_destroy(&e->pin_mu);
		pthread_mutex_destroy(&e->mu);
		goto fail;
	}
	return e;
fail:
	card_ring_free(e->events);
	free(e);
	return NULL;
}

void
card_free(struct card_engine *e)
{
	if (e == NULL)
		return;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	if (e->have_mctx)
		SCardCancel(e->mctx); /* ends the monitor's SCardGetStatusChange */
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	pthread_join(e->monitor, NULL);
	card_ring_free(e->events);
	pthread_cond_destroy(&e->cv);
	pthread_mutex_destroy(&e->pin_mu);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

enum card_err
card_job_submit(struct card_engine *e, const struct card_job *job)
{
	struct card_worker *w;
	enum card_err rc = CARD_E_NO_READER;

	if (job->hash_len > CARD_HASH_MAX || memchr(job->reader, '\0', CARD_READER_MAX) == NULL)
		return CARD_E_INVAL;
	pthread_mutex_lock(&e->mu);
	if (e->stop) {
		rc = CARD_E_STOPPED;
	} else if ((w = find_worker(e, job->reader)) != NULL) {
		rc = card_ring_push(w->jobs, job);
		if (rc == CARD_OK) {
			pthread_mutex_lock(&w->mu);
			pthread_cond_signal(&w->cv);
			pthread_mutex_unlock(&w->mu);
		}
	}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

enum card_err
card_job_cancel(struct card_engine *e, uint64_t job_id)
{
	enum card_err rc = CARD_E_BUSY;
	size_t i;

	uint64_t now = card_now_ms();

	if (job_id == 0)
		return CARD_E_INVAL;
	pthread_mutex_lock(&e->mu);
	for (i = 0; i < CARD_CANCEL_MAX; i++) {
		if (e->cancelled[i] == job_id)
			rc = CARD_OK;
		/* A cancel that arrived after its job ended is never cleared by that job. */
		if (e->cancelled[i] != 0 && now - e->cancelled_ms[i] > CANCEL_KEEP_MS)
			e->cancelled[i] = 0;
	}
	for (i = 0; i < CARD_CANCEL_MAX && rc != CARD_OK; i++)
		if (e->cancelled[i] == 0) {
			e->cancelled[i] = job_id;
			e->cancelled_ms[i] = now;
			rc = CARD_OK;
		}
	pthread_mutex_unlock(&e->mu);
	return rc;
}

bool
card__job_cancelled(struct card_engine *e, uint64_t job_id, bool clear)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&e->mu);
	for (i = 0; i < CARD_CANCEL_MAX && !found; i++)
		if (e->cancelled[i] == job_id) {
			found = true;
			if (clear)
				e->cancelled[i] = 0;
		}
	pthread_mutex_unlock(&e->mu);
	return found;
}

bool
card_event_pop(struct card_engine *e, struct card_event *ev)
{
	return card_ring_pop(e->events, ev);
}
