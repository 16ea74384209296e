/* The PC/SC engine's shared structures (card_monitor.c, card_worker.c, card_job.c). */
#ifndef KYSO_CARD_PCSC_INT_H
#define KYSO_CARD_PCSC_INT_H

#include <pthread.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "card_int.h"

#define CARD__JOB_DEPTH 4 /* per reader (PCSC.md §5.1) */
#define CARD__RESETS    5 /* W_RESET_CARD restarts of one transaction (PCSC.md §3) */

struct card_engine;

/* One reader's worker. Created and joined by the monitor thread. */
struct card_worker {
	struct card_engine *eng;
	char reader[CARD_READER_MAX];
	pthread_t th;
	struct card_ring *jobs;
	/* guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, probe_req;
	unsigned probe_counter;
	/* worker thread only */
	SCARDCONTEXT ctx;
	bool have_ctx;
	/* The card's profile, detected by the probe of the card now in the reader (NULL: not yet,
	 * or none); jobs select it directly. The ATR the probe read first, for detection. */
	const struct card_profile *prof;
	uint8_t atr[CARD_ATR_MAX];
	size_t atr_len;
	/* monitor thread only */
	DWORD cur_state;
	bool was_present, seen;
	struct card_worker *next;
};

/* An open connection inside a worker (worker thread only). */
struct card_link {
	struct card_worker *w;
	SCARDHANDLE h;
	DWORD proto;
	bool connected, in_txn;
};

struct card_engine {
	struct card_engine_opts o;
	pthread_t monitor;
	struct card_ring *events;
	pthread_mutex_t pin_mu; /* one PIN dialog at a time */
	/* guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct card_worker *workers;
	SCARDCONTEXT mctx; /* the monitor's; read here only for SCardCancel */
	bool have_mctx;
	uint64_t cancelled[CARD_CANCEL_MAX];    /* job ids; 0 = free slot */
	uint64_t cancelled_ms[CARD_CANCEL_MAX]; /* when marked: marks of ended jobs age out */
};

void card__emit(struct card_engine *e, struct card_event *ev);
enum card_err card__map_rv(LONG rv);
bool card__stopping(struct card_engine *e);
/* True (and the mark cleared when `clear`) if card_job_cancel marked this job. Any thread. */
bool card__job_cancelled(struct card_engine *e, uint64_t job_id, bool clear);

/* card_worker.c */
struct card_worker *card__worker_start(struct card_engine *e, const char *reader);
void card__worker_stop(struct card_worker *w); /* joins, fails queued jobs, frees */
void card__worker_probe(struct card_worker *w, unsigned counter);
enum card_err card__link_open(struct card_link *l);
enum card_err card__link_begin(struct card_link *l);
void card__link_close(struct card_link *l, DWORD end_disposition);
card_xfer_fn card__link_xfer;
enum card_err card__link_presence(struct card_link *l, enum card_err e);

/* card_job.c */
void card__job_run(struct card_worker *w, const struct card_job *job);
void card__probe_run(struct card_worker *w, unsigned counter);

#endif
