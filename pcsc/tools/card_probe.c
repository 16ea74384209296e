/* kyso-card-probe: drives the card engine from stdin commands and prints its events as JSON
 * lines on stdout. Integration tests and the APDU benchmark use it inside pcscd's mount
 * namespace; it is also a field tool to see what the engine sees. PINs come on stdin (a test
 * tool: the agent asks for them on the PC). Commands, one a line:
 *   sign ID READER ALG HASHHEX PINS [DEADLINE_MS]   PINS: comma list, or - for none
 *   status ID READER | bench ID READER ROUNDS | change ID READER OLD NEW
 *   unblock ID READER PUK NEWPIN | cancel ID | quit
 * READER may be given as slot0 / slot1: the first / second reader listed, in name order. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <kyso/card.h>

#define MAX_PENDING 16
#define MAX_PINS    4
#define MAX_READERS 8

struct pending {
	uint64_t job;
	unsigned n, next;
	struct card_pin pins[MAX_PINS];
};

static pthread_mutex_t pin_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pending pend[MAX_PENDING]; /* guarded by pin_mu */
static int wake_pipe[2];
static char readers[MAX_READERS][CARD_READER_MAX]; /* main thread only */

static void
wake(void *arg)
{
	char c = 1;

	(void)arg;
	if (write(wake_pipe[1], &c, 1) < 0) {
		/* pipe full: the main thread is already due to drain */
	}
}

static enum card_err
pin_cb(void *arg, const struct card_job *job, enum card_ask what, int retries, struct card_pin *pin)
{
	enum card_err e = CARD_E_CANCELLED;
	int i;

	(void)arg;
	(void)what;
	(void)retries;
	pthread_mutex_lock(&pin_mu);
	for (i = 0; i < MAX_PENDING; i++) {
		if (pend[i].job != job->id || pend[i].next >= pend[i].n)
			continue;
		*pin = pend[i].pins[pend[i].next];
		card_pin_wipe(&pend[i].pins[pend[i].next]);
		pend[i].next++;
		e = CARD_OK;
		break;
	}
	pthread_mutex_unlock(&pin_mu);
	return e;
}

static void
hex_out(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void
reader_track(const char *r, bool add)
{
	int i, free_i = -1;

	for (i = 0; i < MAX_READERS; i++) {
		if (strcmp(readers[i], r) == 0) {
			if (!add)
				readers[i][0] = '\0';
			return;
		}
		if (readers[i][0] == '\0' && free_i < 0)
			free_i = i;
	}
	if (add && free_i >= 0)
		snprintf(readers[free_i], CARD_READER_MAX, "%s", r);
}

/* slotN: the N-th known reader in name order. */
static const char *
reader_resolve(const char *name)
{
	const char *sorted[MAX_READERS];
	int n = 0, i, j;
	const char *t;

	if (strncmp(name, "slot", 4) != 0 || name[4] < '0' || name[4] > '9' || name[5] != '\0')
		return name;
	for (i = 0; i < MAX_READERS; i++)
		if (readers[i][0] != '\0')
			sorted[n++] = readers[i];
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (strcmp(sorted[j], sorted[i]) < 0)
				t = sorted[i], sorted[i] = sorted[j], sorted[j] = t;
	i = name[4] - '0';
	return i < n ? sorted[i] : name;
}

static void
print_done(const struct card_event *ev)
{
	int code, sub;

	card_reason_north(ev->status.reason, &code, &sub);
	printf("{\"ev\":\"done\",\"job\":%llu,\"reader\":\"%s\",\"err\":\"%s\",\"reason\":\"%s\","
	       "\"code\":%d,\"sub\":%d,\"sw\":\"%04x\",\"pcsc\":\"0x%08x\",\"retries_left\":%d,"
	       "\"pin_verified\":%s,\"elapsed_us\":%llu,\"sig\":\"",
	       (unsigned long long)ev->job, ev->reader, card_strerror(ev->err),
	       card_reason_name(ev->status.reason), code, sub, ev->status.sw, ev->status.pcsc,
	       ev->status.retries_left, ev->pin_verified ? "true" : "false",
	       (unsigned long long)ev->elapsed_us);
	hex_out(ev->sig, ev->sig_len);
	printf("\"}\n");
}

static void
print_event(const struct card_event *ev)
{
	static const char *const kinds[] = {
		"",           "reader_added", "reader_removed", "token_present",
		"token_gone", "service_down", "service_up",     "taken",
		"prompt",     "done"
	};

	if (ev->kind == CARD_EV_READER_ADDED)
		reader_track(ev->reader, true);
	if (ev->kind == CARD_EV_READER_REMOVED)
		reader_track(ev->reader, false);
	if (ev->kind == CARD_EV_JOB_DONE) {
		print_done(ev);
		return;
	}
	printf("{\"ev\":\"%s\",\"reader\":\"%s\",\"job\":%llu", kinds[ev->kind], ev->reader,
	       (unsigned long long)ev->job);
	if (ev->kind == CARD_EV_TOKEN_PRESENT) {
		printf(",\"label\":\"%s\",\"profile\":\"%s\",\"key\":\"%s\",\"pin_retries\":%d,"
		       "\"counter\":%u,\"serial\":\"",
		       ev->label, ev->profile, ev->key_type == CARD_KEY_RSA ? "rsa" : "ec",
		       ev->pin_retries, ev->event_counter);
		hex_out(ev->serial, sizeof(ev->serial));
		printf("\",\"atr\":\"");
		hex_out(ev->atr, ev->atr_len);
		printf("\",\"cert\":\"");
		hex_out(ev->cert, ev->cert_len);
		printf("\"");
	}
	if (ev->kind == CARD_EV_TOKEN_GONE)
		printf(",\"err\":\"%s\"", card_strerror(ev->err));
	printf("}\n");
}

static bool
parse_hex(const char *s, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(s), i;
	unsigned v;

	if (n % 2 != 0 || n / 2 > cap)
		return false;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return true;
}

static bool
stash_pins(uint64_t job, char *list)
{
	struct pending *p = NULL;
	char *save = NULL, *tok;
	int i;

	pthread_mutex_lock(&pin_mu);
	for (i = 0; i < MAX_PENDING && p == NULL; i++)
		if (pend[i].job == 0 || pend[i].next >= pend[i].n)
			p = &pend[i];
	if (p != NULL) {
		OPENSSL_cleanse(p, sizeof(*p));
		p->job = job;
		for (tok = strtok_r(list, ",", &save); tok != NULL && p->n < MAX_PINS;
		     tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, "-") != 0 && card_pin_set(&p->pins[p->n], tok) == CARD_OK)
				p->n++;
	}
	pthread_mutex_unlock(&pin_mu);
	return p != NULL;
}

static void
command(struct card_engine *e, char *line)
{
	char verb[16], reader[CARD_READER_MAX], a1[64], a2[160], a3[96];
	unsigned long long id = 0, dl = 0;
	struct card_job job;
	char pins[256];
	size_t hl = 0;
	enum card_err rc;
	int n;

	memset(&job, 0, sizeof(job));
	a1[0] = a2[0] = a3[0] = '\0';
	n = sscanf(line, "%15s %llu %127s %63s %159s %95s %llu", verb, &id, reader, a1, a2, a3,
	           &dl);
	if (n < 1 || strcmp(verb, "quit") == 0) {
		printf("{\"ev\":\"bye\"}\n");
		fflush(stdout);
		card_free(e);
		exit(0);
	}
	if (strcmp(verb, "cancel") == 0 && n >= 2) {
		rc = card_job_cancel(e, id);
		printf("{\"ev\":\"cancel\",\"job\":%llu,\"err\":\"%s\"}\n", id, card_strerror(rc));
		return;
	}
	job.id = id;
	snprintf(job.reader, sizeof(job.reader), "%s", reader_resolve(reader));
	if (strcmp(verb, "sign") == 0 && n >= 6) {
		job.kind = CARD_JOB_SIGN;
		job.alg = card_alg_from_name(a1);
		if (!parse_hex(a2, job.hash, sizeof(job.hash), &hl))
			hl = 0;
		job.hash_len = hl;
		snprintf(pins, sizeof(pins), "%s", a3);
		if (n == 7)
			job.deadline_ms = card_now_ms() + dl;
	} else if (strcmp(verb, "status") == 0 && n >= 3) {
		job.kind = CARD_JOB_PIN_STATUS;
		pins[0] = '\0';
	} else if (strcmp(verb, "bench") == 0 && n >= 4) {
		job.kind = CARD_JOB_BENCH;
		job.bench_rounds = (unsigned)strtoul(a1, NULL, 10);
		pins[0] = '\0';
	} else if ((strcmp(verb, "change") == 0 || strcmp(verb, "unblock") == 0) && n >= 5) {
		job.kind = verb[0] == 'c' ? CARD_JOB_CHANGE_PIN : CARD_JOB_UNBLOCK;
		snprintf(pins, sizeof(pins), "%s,%s", a1, a2);
	} else {
		printf("{\"ev\":\"error\",\"what\":\"bad command\"}\n");
		return;
	}
	if (pins[0] != '\0' && !stash_pins(id, pins))
		printf("{\"ev\":\"error\",\"what\":\"too many pending jobs\"}\n");
	OPENSSL_cleanse(pins, sizeof(pins));
	OPENSSL_cleanse(line, strlen(line));
	if ((rc = card_job_submit(e, &job)) != CARD_OK)
		printf("{\"ev\":\"rejected\",\"job\":%llu,\"err\":\"%s\"}\n", id,
		       card_strerror(rc));
}

int
main(void)
{
	struct card_engine_opts o = { .wake = wake, .pin = pin_cb, .poll_ms = 500 };
	struct card_event *ev = calloc(1, sizeof(*ev));
	struct pollfd pf[2];
	struct card_engine *e;
	char line[4096], buf[64];
	size_t used = 0;

	if (ev == NULL || pipe(wake_pipe) != 0 || (e = card_new(&o)) == NULL) {
		fprintf(stderr, "kyso-card-probe: cannot start the engine\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pf[0].fd = STDIN_FILENO;
	pf[0].events = POLLIN;
	pf[1].fd = wake_pipe[0];
	pf[1].events = POLLIN;
	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents & POLLIN) {
			if (read(wake_pipe[0], buf, sizeof(buf)) < 0)
				break;
			while (card_event_pop(e, ev))
				print_event(ev);
		}
		if (pf[0].revents & (POLLIN | POLLHUP)) {
			/* read(), not stdio: poll() must see every line that is not handled yet. */
			ssize_t r = read(STDIN_FILENO, line + used, sizeof(line) - 1 - used);
			char *nl;

			if (r <= 0)
				break;
			used += (size_t)r;
			line[used] = '\0';
			while ((nl = memchr(line, '\n', used)) != NULL) {
				size_t n = (size_t)(nl - line) + 1;

				*nl = '\0';
				command(e, line);
				memmove(line, line + n, used - n);
				used -= n;
				line[used] = '\0';
			}
			if (used == sizeof(line) - 1)
				used = 0; /* an overlong line is dropped */
		}
	}
	card_free(e);
	free(ev);
	return 0;
}
