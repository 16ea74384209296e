/* The engine's PC/SC state machine (PCSC.md §3) against a fake pcsc-lite (-Wl,--wrap seams)
 * whose card is the kyso-vcard core: reset by another handle, a pulled card during Transmit,
 * a communication error with the card still present, a card swapped between two polls (event
 * counter), and the service going down and coming back; and that every PIN a job was given is
 * wiped when its dialogue is cancelled, runs past the deadline, or its VERIFY fails in the
 * transport (PCSC.md §4, §5.3). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <kyso/card.h>

#include "vcard.h"

/* ---- fake pcsc-lite --------------------------------------------------------------------- */

static pthread_mutex_t fk_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool service, present, second_reader;
	unsigned counter;
	int reset_on_begin;   /* W_RESET_CARD answers left for BeginTransaction */
	int comm_error_ins;   /* fail this INS once with F_COMM_ERROR; -1 none */
	bool pull_on_error;   /* ... and the card is gone at that moment */
	bool error_with_data; /* ... only a command with data (VERIFY, not the status query) */
	int reconnects, establishes;
	SCARDCONTEXT next_ctx;
	struct vcard *card;
} fk; /* guarded by fk_mu */

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

LONG __wrap_SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx);
LONG __wrap_SCardReleaseContext(SCARDCONTEXT ctx);
LONG __wrap_SCardListReaders(SCARDCONTEXT ctx, LPCSTR groups, LPSTR readers, LPDWORD len);
LONG __wrap_SCardGetStatusChange(SCARDCONTEXT ctx, DWORD timeout, SCARD_READERSTATE *rs, DWORD n);
LONG __wrap_SCardCancel(SCARDCONTEXT ctx);
LONG __wrap_SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protos,
                         LPSCARDHANDLE h, LPDWORD proto);
LONG __wrap_SCardReconnect(SCARDHANDLE h, DWORD share, DWORD protos, DWORD init, LPDWORD proto);
LONG __wrap_SCardDisconnect(SCARDHANDLE h, DWORD disp);
LONG __wrap_SCardBeginTransaction(SCARDHANDLE h);
LONG __wrap_SCardEndTransaction(SCARDHANDLE h, DWORD disp);
LONG __wrap_SCardTransmit(SCARDHANDLE h, const SCARD_IO_REQUEST *pci, LPCBYTE c, DWORD clen,
                          SCARD_IO_REQUEST *rpci, LPBYTE r, LPDWORD rlen);
LONG __wrap_SCardStatus(SCARDHANDLE h, LPSTR name, LPDWORD name_len, LPDWORD state, LPDWORD proto,
                        LPBYTE atr, LPDWORD atr_len);

LONG
__wrap_SCardEstablishContext(DWORD scope, LPCVOID r1, LPCVOID r2, LPSCARDCONTEXT ctx)
{
	LONG rv = SCARD_E_NO_SERVICE;

	(void)scope, (void)r1, (void)r2;
	pthread_mutex_lock(&fk_mu);
	fk.establishes++;
	if (fk.service) {
		*ctx = ++fk.next_ctx;
		rv = SCARD_S_SUCCESS;
	}
	pthread_mutex_unlock(&fk_mu);
	return rv;
}

LONG
__wrap_SCardReleaseContext(SCARDCONTEXT ctx)
{
	(void)ctx;
	return SCARD_S_SUCCESS;
}

LONG
__wrap_SCardListReaders(SCARDCONTEXT ctx, LPCSTR groups, LPSTR readers, LPDWORD len)
{
	LONG rv = SCARD_E_NO_SERVICE;

	(void)ctx, (void)groups;
	pthread_mutex_lock(&fk_mu);
	if (fk.service) {
		/* A second, empty reader "S" comes and goes with second_reader (hotplug). */
		memcpy(readers, fk.second_reader ? "R\0S\0" : "R\0", fk.second_reader ? 5 : 3);
		*len = fk.second_reader ? 5 : 3;
		rv = SCARD_S_SUCCESS;
	}
	pthread_mutex_unlock(&fk_mu);
	return rv;
}

LONG
__wrap_SCardGetStatusChange(SCARDCONTEXT ctx, DWORD timeout, SCARD_READERSTATE *rs, DWORD n)
{
	bool changed = false;
	DWORD i, st;

	(void)ctx;
	pthread_mutex_lock(&fk_mu);
	if (!fk.service) {
		pthread_mutex_unlock(&fk_mu);
		return SCARD_E_NO_SERVICE;
	}
	for (i = 0; i < n; i++) {
		if (strcmp(rs[i].szReader, "S") == 0) {
			st = SCARD_STATE_EMPTY;
			rs[i].dwEventState = st;
			if (st != (rs[i].dwCurrentState & ~(DWORD)SCARD_STATE_CHANGED)) {
				rs[i].dwEventState |= SCARD_STATE_CHANGED;
				changed = true;
			}
			continue;
		}
		if (strcmp(rs[i].szReader, "R") != 0) {
			rs[i].dwEventState = 0; /* PnP: nothing */
			continue;
		}
		st = (fk.present ? SCARD_STATE_PRESENT : SCARD_STATE_EMPTY) |
		     ((DWORD)fk.counter << 16);
		if (st != (rs[i].dwCurrentState & ~(DWORD)SCARD_STATE_CHANGED)) {
			st |= SCARD_STATE_CHANGED;
			changed = true;
		}
		rs[i].dwEventState = st;
	}
	pthread_mutex_unlock(&fk_mu);
	if (changed || timeout == 0)
		return changed ? SCARD_S_SUCCESS : SCARD_E_TIMEOUT;
	sleep_ms(timeout < 20 ? (unsigned)timeout : 20);
	return SCARD_E_TIMEOUT;
}

LONG
__wrap_SCardCancel(SCARDCONTEXT ctx)
{
	(void)ctx;
	return SCARD_S_SUCCESS;
}

LONG
__wrap_SCardConnect(SCARDCONTEXT ctx, LPCSTR reader, DWORD share, DWORD protos, LPSCARDHANDLE h,
                    LPDWORD proto)
{
	LONG rv = SCARD_S_SUCCESS;

	(void)ctx, (void)share;
	assert_true(protos & SCARD_PROTOCOL_T1); /* T0|T1 requested (P11) */
	pthread_mutex_lock(&fk_mu);
	if (!fk.service)
		rv = SCARD_E_NO_SERVICE;
	else if (strcmp(reader, "R") != 0)
		rv = SCARD_E_UNKNOWN_READER;
	else if (!fk.present)
		rv = SCARD_E_NO_SMARTCARD;
	pthread_mutex_unlock(&fk_mu);
	*h = 1;
	*proto = SCARD_PROTOCOL_T1;
	return rv;
}

LONG
__wrap_SCardReconnect(SCARDHANDLE h, DWORD share, DWORD protos, DWORD init, LPDWORD proto)
{
	(void)h, (void)share, (void)protos;
	assert_int_equal(init, SCARD_LEAVE_CARD);
	pthread_mutex_lock(&fk_mu);
	fk.reconnects++;
	pthread_mutex_unlock(&fk_mu);
	*proto = SCARD_PROTOCOL_T1;
	return SCARD_S_SUCCESS;
}

LONG
__wrap_SCardDisconnect(SCARDHANDLE h, DWORD disp)
{
	(void)h;
	assert_int_equal(disp, SCARD_LEAVE_CARD);
	return SCARD_S_SUCCESS;
}

LONG
__wrap_SCardBeginTransaction(SCARDHANDLE h)
{
	LONG rv = SCARD_S_SUCCESS;

	(void)h;
	pthread_mutex_lock(&fk_mu);
	if (!fk.present) {
		rv = SCARD_W_REMOVED_CARD;
	} else if (fk.reset_on_begin > 0) {
		fk.reset_on_begin--;
		vcard_reset(fk.card); /* another handle reset the card: PIN state gone */
		rv = SCARD_W_RESET_CARD;
	}
	pthread_mutex_unlock(&fk_mu);
	return rv;
}

LONG
__wrap_SCardEndTransaction(SCARDHANDLE h, DWORD disp)
{
	(void)h;
	pthread_mutex_lock(&fk_mu);
	if (disp == SCARD_RESET_CARD)
		vcard_reset(fk.card);
	pthread_mutex_unlock(&fk_mu);
	return SCARD_S_SUCCESS;
}

LONG
__wrap_SCardTransmit(SCARDHANDLE h, const SCARD_IO_REQUEST *pci, LPCBYTE c, DWORD clen,
                     SCARD_IO_REQUEST *rpci, LPBYTE r, LPDWORD rlen)
{
	LONG rv = SCARD_S_SUCCESS;
	size_t out_len = 0;

	(void)h, (void)rpci;
	assert_ptr_equal(pci, SCARD_PCI_T1);
	assert_true(*rlen >= CARD_SHORT_RAPDU);
	pthread_mutex_lock(&fk_mu);
	if (!fk.present) {
		rv = SCARD_W_REMOVED_CARD;
	} else if (clen >= 2 && c[1] == fk.comm_error_ins && (!fk.error_with_data || clen > 5)) {
		fk.comm_error_ins = -1;
		if (fk.pull_on_error) {
			fk.present = false;
			fk.counter++;
		}
		rv = SCARD_F_COMM_ERROR;
	} else if (vcard_frame(fk.card, c, clen, r, *rlen, &out_len) != VCARD_ANSWER) {
		rv = SCARD_F_COMM_ERROR;
	} else {
		*rlen = (DWORD)out_len;
	}
	pthread_mutex_unlock(&fk_mu);
	return rv;
}

LONG
__wrap_SCardStatus(SCARDHANDLE h, LPSTR name, LPDWORD name_len, LPDWORD state, LPDWORD proto,
                   LPBYTE atr, LPDWORD atr_len)
{
	size_t n = 0;

	(void)h, (void)name, (void)name_len;
	*state = SCARD_SPECIFIC;
	*proto = SCARD_PROTOCOL_T1;
	pthread_mutex_lock(&fk_mu);
	vcard_frame(fk.card, (const uint8_t *)"\x04", 1, atr, 600, &n);
	pthread_mutex_unlock(&fk_mu);
	*atr_len = (DWORD)n;
	return SCARD_S_SUCCESS;
}

/* ---- test rig ------------------------------------------------------------------------------ */

static char dir[64], key_path[96], cert_path[96];
static struct card_event ev; /* large: static */

static void
wake(void *arg)
{
	(void)arg; /* the test polls card_event_pop */
}

static enum card_err
give_pin(void *arg, const struct card_job *job, enum card_ask what, int retries,
         struct card_pin *pin)
{
	(void)arg, (void)job, (void)what, (void)retries;
	return card_pin_set(pin, "123456");
}

/* Pops events until one of `kind` (for `job` when non-zero) arrives; bounded. */
static bool
wait_event(struct card_engine *e, enum card_event_kind kind, uint64_t job)
{
	int i;

	for (i = 0; i < 1000; i++) {
		while (card_event_pop(e, &ev))
			if (ev.kind == kind && (job == 0 || ev.job == job))
				return true;
		sleep_ms(10);
	}
	return false;
}

static int
setup(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	struct vcard_cfg c = { .pin_tries = -1, .puk_tries = -1, .drop_ins = -1, .label = "eng" };
	char err[128];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kyso-engine-test-XXXXXX");
	if (k == NULL || x == NULL || mkdtemp(dir) == NULL)
		return -1;
	snprintf(key_path, sizeof(key_path), "%s/k.pem", dir);
	snprintf(cert_path, sizeof(cert_path), "%s/c.pem", dir);
	X509_set_pubkey(x, k);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_sign(x, k, EVP_sha256());
	f = fopen(key_path, "w");
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	f = fopen(cert_path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	c.key_file = key_path;
	c.cert_file = cert_path;
	fk.card = vcard_new(&c, err, sizeof(err));
	return fk.card == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	vcard_free(fk.card);
	unlink(key_path);
	unlink(cert_path);
	rmdir(dir);
	return 0;
}

static struct card_engine *
start_with(card_wake_fn *wk, card_pin_fn *pin)
{
	struct card_engine_opts o = { .wake = wk, .pin = pin, .poll_ms = 50 };
	struct card_engine *e;

	pthread_mutex_lock(&fk_mu);
	fk.service = fk.present = true;
	fk.reset_on_begin = 0;
	fk.comm_error_ins = -1;
	fk.pull_on_error = fk.error_with_data = false;
	fk.reconnects = fk.establishes = 0;
	pthread_mutex_unlock(&fk_mu);
	assert_non_null(e = card_new(&o));
	assert_true(wait_event(e, CARD_EV_TOKEN_PRESENT, 0));
	assert_string_equal(ev.reader, "R");
	assert_string_equal(ev.label, "eng");
	assert_int_equal(ev.key_type, CARD_KEY_EC_P256);
	return e;
}

static struct card_engine *
start(void)
{
	return start_with(wake, give_pin);
}

static uint64_t
submit_sign(struct card_engine *e, uint64_t id)
{
	struct card_job job = {
		.id = id, .kind = CARD_JOB_SIGN, .alg = CARD_ALG_ECDSA_P256_SHA256, .hash_len = 32
	};

	snprintf(job.reader, sizeof(job.reader), "R");
	memset(job.hash, 0x21, 32);
	assert_int_equal(card_job_submit(e, &job), CARD_OK);
	return id;
}

static void
reset_by_other_handle_restarts_from_select(void **state)
{
	struct card_engine *e = start();

	(void)state;
	pthread_mutex_lock(&fk_mu);
	fk.reset_on_begin = 2;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 1)));
	assert_int_equal(ev.err, CARD_OK);
	assert_true(ev.sig_len > 8);
	pthread_mutex_lock(&fk_mu);
	assert_int_equal(fk.reconnects, 2); /* Reconnect(LEAVE) after each W_RESET_CARD */
	fk.reset_on_begin = 10;             /* more than 5 resets in a row: give up */
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 2)));
	assert_int_equal(ev.err, CARD_E_RESET);
	card_free(e);
}

static void
pulled_during_transmit_is_removed(void **state)
{
	struct card_engine *e = start();
	int code, sub;

	(void)state;
	pthread_mutex_lock(&fk_mu);
	fk.comm_error_ins = 0x2A; /* PSO */
	fk.pull_on_error = true;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 3)));
	assert_int_equal(ev.err, CARD_E_REMOVED);
	assert_int_equal(ev.status.pcsc, (uint32_t)SCARD_F_COMM_ERROR);
	card_reason_north(ev.status.reason, &code, &sub);
	assert_int_equal(code, 209);
	assert_int_equal(sub, 2092);
	assert_true(wait_event(e, CARD_EV_TOKEN_GONE, 0));
	/* Put back: probed again, and the next job asks for the PIN again and signs. */
	pthread_mutex_lock(&fk_mu);
	fk.present = true;
	fk.counter++;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_TOKEN_PRESENT, 0));
	assert_true(wait_event(e, CARD_EV_JOB_PROMPT, submit_sign(e, 4)));
	assert_true(wait_event(e, CARD_EV_JOB_DONE, 4));
	assert_int_equal(ev.err, CARD_OK);
	card_free(e);
}

static void
comm_error_with_card_present_is_a_card_error(void **state)
{
	struct card_engine *e = start();
	int code, sub;

	(void)state;
	pthread_mutex_lock(&fk_mu);
	fk.comm_error_ins = 0x2A;
	fk.pull_on_error = false;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 5)));
	assert_int_equal(ev.err, CARD_E_TRANSPORT);
	card_reason_north(ev.status.reason, &code, &sub);
	assert_int_equal(sub, 9003); /* never retried blindly */
	card_free(e);
}

static void
card_swapped_between_polls_is_probed_again(void **state)
{
	struct card_engine *e = start();

	(void)state;
	/* Still PRESENT, but the insert/remove counter moved: a different card (PCSC.md §5.2). */
	pthread_mutex_lock(&fk_mu);
	fk.counter += 2;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_TOKEN_PRESENT, 0));
	assert_int_equal(ev.event_counter, fk.counter);
	card_free(e);
}

static void
service_down_and_back(void **state)
{
	struct card_engine *e = start();
	int before;

	(void)state;
	pthread_mutex_lock(&fk_mu);
	fk.service = false;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_SERVICE_DOWN, 0));
	{
		struct card_job job = { .id = 9, .kind = CARD_JOB_PIN_STATUS };

		snprintf(job.reader, sizeof(job.reader), "R");
		assert_int_equal(card_job_submit(e, &job), CARD_E_NO_READER);
	}
	pthread_mutex_lock(&fk_mu);
	before = fk.establishes;
	pthread_mutex_unlock(&fk_mu);
	sleep_ms(300); /* back-off: 1 s first, so no new attempt yet */
	pthread_mutex_lock(&fk_mu);
	assert_true(fk.establishes - before <= 1);
	fk.service = true;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_SERVICE_UP, 0));
	assert_true(wait_event(e, CARD_EV_TOKEN_PRESENT, 0));
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 10)));
	assert_int_equal(ev.err, CARD_OK);
	card_free(e);
}

static void
reader_list_diff(void **state)
{
	struct card_engine *e = start();

	(void)state;
	pthread_mutex_lock(&fk_mu);
	fk.second_reader = true;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_READER_ADDED, 0));
	assert_string_equal(ev.reader, "S");
	pthread_mutex_lock(&fk_mu);
	fk.second_reader = false;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_READER_REMOVED, 0));
	assert_string_equal(ev.reader, "S");
	/* The reader with the token stayed: it still signs. */
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 11)));
	assert_int_equal(ev.err, CARD_OK);
	card_free(e);
}

static void
busy_ring_rejects_and_unknown_reader(void **state)
{
	struct card_engine *e = start();
	struct card_job job = { .kind = CARD_JOB_BENCH, .bench_rounds = 20000 };
	int i, busy = 0;

	(void)state;
	snprintf(job.reader, sizeof(job.reader), "R");
	for (i = 0; i < 8; i++) {
		job.id = 100 + (uint64_t)i;
		if (card_job_submit(e, &job) == CARD_E_BUSY)
			busy++;
	}
	assert_true(busy >= 3); /* 1 running + 4 queued at most */
	snprintf(job.reader, sizeof(job.reader), "no such reader");
	assert_int_equal(card_job_submit(e, &job), CARD_E_NO_READER);
	card_free(e); /* joins with jobs still queued */
}

/* ---- PIN buffers of a job ------------------------------------------------------------------
 * The PIN callback remembers where the engine asked it to put the PIN; the next wake on the
 * same worker thread (the job's next event: the second prompt, or JOB_DONE, emitted while the
 * job's frame still holds its PIN buffers) copies what is there at that moment. */

enum dialogue {
	GIVE,
	USER_CANCELS,
	PAST_DEADLINE,
	JOB_CANCELLED
};

static pthread_mutex_t dl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dl_cv = PTHREAD_COND_INITIALIZER;
static struct {
	enum dialogue mode[2]; /* first and second dialogue of a job */
	int asked;
	bool armed, go;
	pthread_t worker;
	struct card_pin *where[2];
	struct card_pin seen[2];  /* the buffers at the wake after the last dialogue */
	struct card_pin first[2]; /* ... and at the first such wake of the job */
	int wakes_seen;
} dl; /* guarded by dl_mu */

static void
wake_watch(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&dl_mu);
	if (dl.armed && pthread_equal(dl.worker, pthread_self())) {
		for (int i = 0; i < 2; i++)
			if (dl.where[i] != NULL)
				dl.seen[i] = *dl.where[i];
		if (dl.wakes_seen == 0)
			memcpy(dl.first, dl.seen, sizeof(dl.first));
		dl.armed = false;
		dl.wakes_seen++;
	}
	pthread_mutex_unlock(&dl_mu);
}

/* Types a PIN (all of it, or some digits before the cancel), then ends as dl.mode says. */
static enum card_err
watched_pin(void *arg, const struct card_job *job, enum card_ask what, int retries,
            struct card_pin *pin)
{
	enum dialogue mode;
	enum card_err e = CARD_OK;

	(void)arg, (void)what, (void)retries;
	pthread_mutex_lock(&dl_mu);
	mode = dl.mode[dl.asked < 2 ? dl.asked : 1];
	dl.where[dl.asked < 2 ? dl.asked : 1] = pin;
	dl.asked++;
	dl.worker = pthread_self();
	dl.armed = true;
	pthread_mutex_unlock(&dl_mu);
	switch (mode) {
	case GIVE:
		return card_pin_set(pin, "123456");
	case USER_CANCELS: /* three digits typed, then the dialogue closed */
		memcpy(pin->digits, "123", 3);
		pin->len = 3;
		return CARD_E_CANCELLED;
	case PAST_DEADLINE: /* the whole PIN typed, but only after the job's deadline */
		e = card_pin_set(pin, "123456");
		while (card_now_ms() <= job->deadline_ms)
			sleep_ms(10);
		return e;
	case JOB_CANCELLED: /* the PIN typed while the gateway cancels the job */
		e = card_pin_set(pin, "123456");
		pthread_mutex_lock(&dl_mu);
		while (!dl.go)
			pthread_cond_wait(&dl_cv, &dl_mu);
		pthread_mutex_unlock(&dl_mu);
		return e;
	}
	return CARD_E_CANCELLED;
}

static void
watch(enum dialogue first, enum dialogue second)
{
	pthread_mutex_lock(&dl_mu);
	memset(&dl, 0, sizeof(dl));
	dl.mode[0] = first;
	dl.mode[1] = second;
	pthread_mutex_unlock(&dl_mu);
}

static void
assert_seen_wiped(int n)
{
	pthread_mutex_lock(&dl_mu);
	assert_int_equal(dl.asked, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(dl.seen[i].len, 0);
		for (size_t j = 0; j < sizeof(dl.seen[i].digits); j++)
			assert_int_equal(dl.seen[i].digits[j], 0);
	}
	pthread_mutex_unlock(&dl_mu);
}

static uint64_t
submit_sign_by(struct card_engine *e, uint64_t id, uint64_t deadline_ms)
{
	struct card_job job = { .id = id,
		                .kind = CARD_JOB_SIGN,
		                .alg = CARD_ALG_ECDSA_P256_SHA256,
		                .hash_len = 32,
		                .deadline_ms = deadline_ms };

	snprintf(job.reader, sizeof(job.reader), "R");
	memset(job.hash, 0x21, 32);
	assert_int_equal(card_job_submit(e, &job), CARD_OK);
	return id;
}

static void
pin_dialogue_cancelled_in_a_job_is_wiped(void **state)
{
	struct card_engine *e;
	struct card_job change = { .id = 23, .kind = CARD_JOB_CHANGE_PIN };

	(void)state;
	/* The user closes the dialogue after some digits. */
	watch(USER_CANCELS, GIVE);
	e = start_with(wake_watch, watched_pin);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 20)));
	assert_int_equal(ev.err, CARD_E_CANCELLED);
	assert_seen_wiped(1);

	/* The dialogue still open at the deadline: the PIN typed late is not kept. */
	watch(PAST_DEADLINE, GIVE);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign_by(e, 21, card_now_ms() + 100)));
	assert_int_equal(ev.err, CARD_E_DEADLINE);
	assert_seen_wiped(1);

	/* The gateway cancels the job while the dialogue is open. */
	watch(JOB_CANCELLED, GIVE);
	assert_true(wait_event(e, CARD_EV_JOB_PROMPT, submit_sign(e, 22)));
	assert_int_equal(card_job_cancel(e, 22), CARD_OK);
	pthread_mutex_lock(&dl_mu);
	dl.go = true;
	pthread_cond_broadcast(&dl_cv);
	pthread_mutex_unlock(&dl_mu);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, 22));
	assert_int_equal(ev.err, CARD_E_ABORTED);
	assert_seen_wiped(1);

	/* Change PIN: the old PIN given, the new-PIN dialogue cancelled. The old PIN was still
	 * there at the second prompt (the watch sees real buffers) and is gone at the end. */
	watch(GIVE, USER_CANCELS);
	snprintf(change.reader, sizeof(change.reader), "R");
	assert_int_equal(card_job_submit(e, &change), CARD_OK);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, 23));
	assert_int_equal(ev.err, CARD_E_CANCELLED);
	pthread_mutex_lock(&dl_mu);
	assert_int_equal(dl.wakes_seen, 2);
	assert_int_equal(dl.first[0].len, 6);
	assert_memory_equal(dl.first[0].digits, "123456", 6);
	pthread_mutex_unlock(&dl_mu);
	assert_seen_wiped(2);
	card_free(e);
}

static void
verify_transport_failure_in_a_job_is_wiped(void **state)
{
	struct card_engine *e = start_with(wake_watch, watched_pin);

	(void)state;
	/* The card pulled under the VERIFY that carries the PIN (the status query before the
	 * dialogue has no data and goes through). */
	pthread_mutex_lock(&fk_mu);
	fk.comm_error_ins = 0x20;
	fk.error_with_data = true;
	fk.pull_on_error = true;
	pthread_mutex_unlock(&fk_mu);
	watch(GIVE, GIVE);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 24)));
	assert_int_equal(ev.err, CARD_E_REMOVED);
	assert_int_equal(ev.status.pcsc, (uint32_t)SCARD_F_COMM_ERROR);
	pthread_mutex_lock(&fk_mu);
	assert_int_equal(fk.comm_error_ins, -1); /* the failure did hit the VERIFY */
	pthread_mutex_unlock(&fk_mu);
	assert_seen_wiped(1);
	/* The same with the card still present: a transport error, wiped as well. */
	assert_true(wait_event(e, CARD_EV_TOKEN_GONE, 0));
	pthread_mutex_lock(&fk_mu);
	fk.present = true;
	fk.counter++;
	fk.comm_error_ins = 0x20;
	fk.pull_on_error = false;
	pthread_mutex_unlock(&fk_mu);
	assert_true(wait_event(e, CARD_EV_TOKEN_PRESENT, 0));
	watch(GIVE, GIVE);
	assert_true(wait_event(e, CARD_EV_JOB_DONE, submit_sign(e, 25)));
	assert_int_equal(ev.err, CARD_E_TRANSPORT);
	assert_seen_wiped(1);
	card_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reset_by_other_handle_restarts_from_select),
		cmocka_unit_test(pulled_during_transmit_is_removed),
		cmocka_unit_test(comm_error_with_card_present_is_a_card_error),
		cmocka_unit_test(card_swapped_between_polls_is_probed_again),
		cmocka_unit_test(service_down_and_back),
		cmocka_unit_test(reader_list_diff),
		cmocka_unit_test(busy_ring_rejects_and_unknown_reader),
		cmocka_unit_test(pin_dialogue_cancelled_in_a_job_is_wiped),
		cmocka_unit_test(verify_transport_failure_in_a_job_is_wiped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
