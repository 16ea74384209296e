/* kyso-bench -- the load client of the benchmarks (PERFORMANCE.md section 4): an lws client on
 * its own libuv loop that opens authenticated /v1/ws sessions and drives `sign` requests.
 *
 *   kyso-bench MODE --url wss://H:P/v1/ws --ca FILE --key KEY [options]
 *   MODE closed: each connection keeps --depth requests outstanding (closed loop)
 *        open:   requests at --rate per second in total, spread over the connections, with
 *                latency measured from the intended send time (no coordinated omission)
 *        idle:   open --conns sessions, print "ready", hold them for --seconds
 *   --conns N (100)  --count N (total requests, 1000)  --seconds S (run deadline, 60)
 *   --hold-ms H (open): once every session is up, print "ready N" and wait H ms before the
 *   first request, so that a caller can tell the sessions' memory from the requests'
 *   --signers FILE (one MSISDN per line) or --msisdn-base B --signers-n N: each connection
 *   gets its own signers so that the per-signer queue does not serialise the load
 *   --org SLUG  --mode approve  --format cms  --class general  --timeout-s 120
 *   --channel sim|pcsc (sim)  --signer-field msisdn|subscriber_id (msisdn): how the signers
 *   are named; with pcsc they are directory ids whose credential is a PC/SC token
 *   --issue-by ID: each request is an approve followed, once it ends 502, by an issue of the
 *   same digest by ID naming the approve txn (REGULATION.md C5/D9; the clerk's seal token):
 *   the request finishes with the issue's result. "signatures" counts every 502 (both steps)
 *
 * Every run is bounded by its count and its deadline. The last line is one JSON object with
 * the counts by final status and the latency quantiles in microseconds. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <uv.h>

#include "bench_hist.h"

#define MAX_SIGNERS 200000
#define MAX_CODES   64
#define FRAME_MAX   65536

enum mode {
	MODE_CLOSED,
	MODE_OPEN,
	MODE_IDLE
};

struct opts {
	enum mode mode;
	const char *url, *ca, *key, *org, *sign_mode, *format, *doc_class;
	const char *channel, *signer_field, *issue_by;
	int conns, depth, timeout_s, hold_ms;
	long count;
	double seconds, rate;
	char **signers;
	int nsigners;
};

struct pending {
	char ap_id[48];
	char txn[64];
	uint64_t t0_us; /* intended (open) or actual (closed) send time */
	long doc;       /* the document's number: its digest, and the issue's digest */
	bool used;
	bool issue_due; /* --issue-by: the approve ended 502, its issue is to be sent */
	bool issuing;   /* --issue-by: the issue was sent; its result finishes the request */
};

struct conn {
	struct lws *wsi;
	int idx;
	bool up;
	int next_signer;
	struct pending *pend; /* depth slots (closed) or a ring of 256 (open) */
	int npend;
	int inflight;
	char *rx;
	size_t rx_len;
	char *tx; /* LWS_PRE + FRAME_MAX */
	bool want_write;
	long queued_sends; /* open loop: sends due but not yet written */
	uint64_t *due_us;  /* open loop: intended send times waiting for the socket */
	int due_head, due_tail;
};

struct code_count {
	int code, sub;
	long n;
};

static struct opts O = { .mode = MODE_CLOSED,
	                 .conns = 100,
	                 .depth = 1,
	                 .timeout_s = 120,
	                 .count = 1000,
	                 .seconds = 60,
	                 .sign_mode = "approve",
	                 .format = "cms",
	                 .doc_class = "general",
	                 .channel = "sim",
	                 .signer_field = "msisdn" };
static uv_loop_t loop;
static struct lws_context *ctx;
static struct conn *conns;
static int conns_up, conns_failed;
static long sent, finished, signatures;
static struct hist hist;
static struct code_count codes[MAX_CODES];
static int ncodes;
static uint64_t t_start_us, t_first_send_us, t_last_result_us;
static uv_timer_t tick, deadline;
static bool stopping;
static char host[256], path[256];
static int port;
static bool tls;
static char auth_header[200];
static unsigned long run_id;

static uint64_t
now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
count_code(int code, int sub)
{
	for (int i = 0; i < ncodes; i++) {
		if (codes[i].code == code && codes[i].sub == sub) {
			codes[i].n++;
			return;
		}
	}
	if (ncodes < MAX_CODES)
		codes[ncodes++] = (struct code_count){ code, sub, 1 };
}

static void destroy_all(uv_timer_t *t);

/* Never destroys the lws context from inside one of its callbacks: defers to the loop. */
static void
stop_run(void)
{
	if (stopping)
		return;
	stopping = true;
	uv_timer_stop(&tick);
	uv_timer_start(&deadline, destroy_all, 0, 0);
}

static void
destroy_all(uv_timer_t *t)
{
	(void)t;
	lws_context_destroy(ctx); /* with a foreign loop, lws closes its handles and returns */
	ctx = NULL;
	uv_close((uv_handle_t *)&tick, NULL);
	uv_close((uv_handle_t *)&deadline, NULL);
}

static bool
all_done(void)
{
	return O.mode != MODE_IDLE && finished >= O.count;
}

/* --- requests ------------------------------------------------------------------------------ */

static struct pending *
free_slot(struct conn *c)
{
	for (int i = 0; i < c->npend; i++)
		if (!c->pend[i].used)
			return &c->pend[i];
	return NULL;
}

static struct pending *
find_by_ap(struct conn *c, const char *ap_id)
{
	for (int i = 0; i < c->npend; i++)
		if (c->pend[i].used && strcmp(c->pend[i].ap_id, ap_id) == 0)
			return &c->pend[i];
	return NULL;
}

static struct pending *
find_by_txn(struct conn *c, const char *txn)
{
	for (int i = 0; i < c->npend; i++)
		if (c->pend[i].used && strcmp(c->pend[i].txn, txn) == 0)
			return &c->pend[i];
	return NULL;
}

static const char *
signer_for(struct conn *c)
{
	/* Connection i owns signers i, i+conns, i+2*conns...: no two connections share one. */
	int per = O.nsigners / O.conns;
	if (per < 1)
		return O.signers[c->idx % O.nsigners];
	int k = c->next_signer++ % per;
	return O.signers[c->idx + k * O.conns];
}

/* Writes the sign frame of p into c->tx: an approve (or --mode) of p's document by signer, or
 * with approval_txn its issue by --issue-by. Returns its length. */
static size_t
write_sign(struct conn *c, struct pending *p, const char *signer, const char *approval_txn)
{
	unsigned char digest[32];
	for (size_t i = 0; i < sizeof(digest); i++)
		digest[i] = (unsigned char)(p->doc >> (8 * (i % 8))) ^ (unsigned char)i;
	char b64[64];
	lws_b64_encode_string((const char *)digest, sizeof(digest), b64, sizeof(b64));
	char *out = c->tx + LWS_PRE;
	int n = snprintf(out, FRAME_MAX,
	                 "{\"type\":\"sign\",\"id\":\"%s\",\"ap_trans_id\":\"%s\","
	                 "\"signer\":{\"%s\":\"%s\"},\"channel\":\"%s\",\"mode\":\"%s\","
	                 "\"document\":{\"digest\":\"%s\",\"digest_alg\":\"SHA-256\","
	                 "%s%s%s%s%s%s\"class\":\"%s\",\"secrecy\":\"none\"},"
	                 "\"display\":\"Bench %ld\",\"format\":\"%s\",\"timeout_s\":%d}",
	                 p->ap_id, p->ap_id, O.signer_field, signer, O.channel,
	                 approval_txn ? "issue" : O.sign_mode, b64, O.org ? "\"org\":\"" : "",
	                 O.org ? O.org : "", O.org ? "\"," : "",
	                 approval_txn ? "\"approval_txn\":\"" : "",
	                 approval_txn ? approval_txn : "", approval_txn ? "\"," : "", O.doc_class,
	                 p->doc, O.format, O.timeout_s);
	return n > 0 && n < FRAME_MAX ? (size_t)n : 0;
}

/* Writes one new sign request into c->tx; returns its length or 0 when no slot is free. */
static size_t
build_sign(struct conn *c, uint64_t t0_us)
{
	struct pending *p = free_slot(c);
	if (!p)
		return 0;
	p->used = true;
	p->issue_due = p->issuing = false;
	p->txn[0] = '\0';
	p->t0_us = t0_us;
	p->doc = sent;
	snprintf(p->ap_id, sizeof(p->ap_id), "b%lx-%d-%ld", run_id, c->idx, sent);
	sent++;
	c->inflight++;
	if (!t_first_send_us)
		t_first_send_us = now_us();
	return write_sign(c, p, signer_for(c), NULL);
}

/* --issue-by: writes the issue of a request whose approve ended 502, if one is due. */
static size_t
build_issue(struct conn *c)
{
	for (int i = 0; i < c->npend; i++) {
		struct pending *p = &c->pend[i];
		if (!p->used || !p->issue_due)
			continue;
		char approve_txn[sizeof(p->txn)];
		snprintf(approve_txn, sizeof(approve_txn), "%s", p->txn);
		p->issue_due = false;
		p->issuing = true;
		p->txn[0] = '\0';
		snprintf(p->ap_id, sizeof(p->ap_id), "b%lx-%d-%ld-i", run_id, c->idx, p->doc);
		return write_sign(c, p, O.issue_by, approve_txn);
	}
	return 0;
}

static void
request_write(struct conn *c)
{
	if (c->wsi && !c->want_write) {
		c->want_write = true;
		lws_callback_on_writable(c->wsi);
	}
}

static void
finish_request(struct conn *c, struct pending *p, int code, int sub)
{
	uint64_t t = now_us();
	hist_add(&hist, t > p->t0_us ? t - p->t0_us : 0);
	count_code(code, sub);
	p->used = false;
	c->inflight--;
	finished++;
	t_last_result_us = t;
	if (all_done()) {
		stop_run();
		return;
	}
	if (O.mode == MODE_CLOSED && sent < O.count)
		request_write(c);
}

static void
on_frame(struct conn *c, const char *text, size_t len)
{
	json_error_t err;
	json_t *m = json_loadb(text, len, 0, &err);
	if (!m)
		return;
	const char *type = json_string_value(json_object_get(m, "type"));
	const char *id = json_string_value(json_object_get(m, "id"));
	const char *txn = json_string_value(json_object_get(m, "txn"));
	json_t *st = json_object_get(m, "status");
	int code = (int)json_integer_value(json_object_get(st, "code"));
	int sub = (int)json_integer_value(json_object_get(st, "sub"));
	if (type && strcmp(type, "accepted") == 0 && id && txn) {
		struct pending *p = find_by_ap(c, id);
		if (p)
			snprintf(p->txn, sizeof(p->txn), "%s", txn);
	} else if (type && strcmp(type, "error") == 0 && id) {
		struct pending *p = find_by_ap(c, id);
		if (p)
			finish_request(c, p, code, sub);
	} else if (type && strcmp(type, "result") == 0 && txn) {
		struct pending *p = find_by_txn(c, txn);
		if (code == 502)
			signatures++;
		if (p && O.issue_by && !p->issuing && code == 502) {
			p->issue_due = true; /* the approve is done: its issue goes next */
			request_write(c);
		} else if (p) {
			finish_request(c, p, code, sub);
		}
	}
	json_decref(m);
}

/* --- open loop schedule -------------------------------------------------------------------- */

static void
on_tick(uv_timer_t *t)
{
	(void)t;
	if (O.mode != MODE_OPEN || conns_up + conns_failed < O.conns || stopping)
		return;
	/* Request k is due at t_start + k / rate; each goes to connection k mod conns. */
	uint64_t now = now_us();
	static long scheduled;
	while (scheduled < O.count) {
		uint64_t due = t_start_us + (uint64_t)((double)scheduled * 1e6 / O.rate);
		if (due > now)
			break;
		struct conn *c = &conns[scheduled % O.conns];
		int next = (c->due_tail + 1) % 4096;
		if (next == c->due_head) {
			count_code(
			        -1,
			        0); /* the client itself could not keep up: counted, not hidden */
			finished++;
		} else {
			c->due_us[c->due_tail] = due;
			c->due_tail = next;
			request_write(c);
		}
		scheduled++;
	}
}

static void
on_deadline(uv_timer_t *t)
{
	(void)t;
	stop_run();
}

static void
start_load(void)
{
	t_start_us = now_us();
	if (O.mode == MODE_IDLE) {
		printf("ready %d\n", conns_up);
		fflush(stdout);
		return;
	}
	if (O.mode == MODE_CLOSED) {
		for (int i = 0; i < O.conns; i++)
			if (conns[i].up)
				request_write(&conns[i]);
		return;
	}
	if (O.hold_ms > 0) {
		printf("ready %d\n", conns_up);
		fflush(stdout);
		t_start_us += (uint64_t)O.hold_ms * 1000u; /* nothing is due before */
	}
	uv_timer_start(&tick, on_tick, 0, 1);
}

/* --- lws ----------------------------------------------------------------------------------- */

static int
cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct conn *c = lws_get_opaque_user_data(wsi);
	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = in, *end = *p + len;
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
		                                 (unsigned char *)auth_header,
		                                 (int)strlen(auth_header), p, end))
			return -1;
		break;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->up = true;
		if (++conns_up + conns_failed == O.conns)
			start_load();
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		fprintf(stderr, "kyso-bench: connection %d failed: %s\n", c ? c->idx : -1,
		        in ? (const char *)in : "?");
		if (c) {
			c->wsi = NULL;
			if (++conns_failed + conns_up == O.conns && conns_up)
				start_load();
			if (conns_failed == O.conns)
				stop_run();
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c->rx_len + len > FRAME_MAX) {
			c->rx_len = 0;
			break;
		}
		memcpy(c->rx + c->rx_len, in, len);
		c->rx_len += len;
		if (lws_is_final_fragment(wsi)) {
			on_frame(c, c->rx, c->rx_len);
			c->rx_len = 0;
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		c->want_write = false;
		if (stopping)
			break;
		/* An issue that is due goes before any new request (--issue-by). */
		size_t n = O.issue_by ? build_issue(c) : 0;
		if (!n && O.mode == MODE_CLOSED && sent < O.count && c->inflight < O.depth)
			n = build_sign(c, now_us());
		else if (!n && O.mode == MODE_OPEN && c->due_head != c->due_tail) {
			n = build_sign(c, c->due_us[c->due_head]);
			if (n)
				c->due_head = (c->due_head + 1) % 4096;
		}
		if (n &&
		    lws_write(wsi, (unsigned char *)c->tx + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
			return -1;
		if (n || (O.mode == MODE_CLOSED && sent < O.count && c->inflight < O.depth) ||
		    (O.mode == MODE_OPEN && c->due_head != c->due_tail))
			request_write(c);
		break;
	}
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c) {
			c->wsi = NULL;
			c->up = false;
			if (!stopping)
				fprintf(stderr, "kyso-bench: connection %d closed by the gateway\n",
				        c->idx);
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ "kyso.v1", cb, 0, FRAME_MAX, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
connect_one(struct conn *c)
{
	struct lws_client_connect_info ci = { 0 };
	ci.context = ctx;
	ci.address = host;
	ci.host = host;
	ci.origin = host;
	ci.port = port;
	ci.path = path;
	ci.protocol = "kyso.v1";
	ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
	ci.opaque_user_data = c;
	c->wsi = lws_client_connect_via_info(&ci);
	if (!c->wsi) {
		conns_failed++;
		fprintf(stderr, "kyso-bench: cannot start connection %d\n", c->idx);
	}
}

/* --- setup --------------------------------------------------------------------------------- */

static int
parse_url(const char *url)
{
	const char *p;
	if (strncmp(url, "wss://", 6) == 0) {
		tls = true;
		p = url + 6;
	} else if (strncmp(url, "ws://", 5) == 0) {
		tls = false;
		p = url + 5;
	} else {
		return -1;
	}
	const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
	if (!colon || !slash || colon > slash || (size_t)(colon - p) >= sizeof(host))
		return -1;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	port = (int)strtol(colon + 1, NULL, 10);
	snprintf(path, sizeof(path), "%s", slash);
	return port > 0 ? 0 : -1;
}

static int
load_signers(const char *file, const char *base, int n)
{
	O.signers = calloc(MAX_SIGNERS, sizeof(char *));
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f)
			return -1;
		char line[64];
		while (O.nsigners < MAX_SIGNERS && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\r\n \t")] = '\0';
			if (line[0])
				O.signers[O.nsigners++] = strdup(line);
		}
		fclose(f);
	} else if (base) {
		long long b = strtoll(base, NULL, 10);
		for (int i = 0; i < n && i < MAX_SIGNERS; i++) {
			char s[32];
			snprintf(s, sizeof(s), "%lld", b + i);
			O.signers[O.nsigners++] = strdup(s);
		}
	}
	return O.nsigners > 0 ? 0 : -1;
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: kyso-bench closed|open|idle --url wss://H:P/v1/ws --ca FILE --key KEY\n"
	        "  [--conns N] [--depth N] [--count N] [--seconds S] [--rate R]\n"
	        "  [--signers FILE | --msisdn-base B --signers-n N] [--org SLUG]\n"
	        "  [--mode approve] [--format cms|pkcs1] [--class C] [--timeout-s S]\n"
	        "  [--channel sim|pcsc] [--signer-field msisdn|subscriber_id] [--issue-by ID]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "closed") == 0)
		O.mode = MODE_CLOSED;
	else if (strcmp(argv[1], "open") == 0)
		O.mode = MODE_OPEN;
	else if (strcmp(argv[1], "idle") == 0)
		O.mode = MODE_IDLE;
	else
		usage();
	static const struct option lo[] = { { "url", 1, 0, 'u' },
		                            { "ca", 1, 0, 'a' },
		                            { "key", 1, 0, 'k' },
		                            { "conns", 1, 0, 'c' },
		                            { "depth", 1, 0, 'd' },
		                            { "count", 1, 0, 'n' },
		                            { "seconds", 1, 0, 's' },
		                            { "rate", 1, 0, 'r' },
		                            { "signers", 1, 0, 'f' },
		                            { "msisdn-base", 1, 0, 'b' },
		                            { "signers-n", 1, 0, 'N' },
		                            { "org", 1, 0, 'o' },
		                            { "mode", 1, 0, 'm' },
		                            { "format", 1, 0, 'F' },
		                            { "class", 1, 0, 'C' },
		                            { "timeout-s", 1, 0, 't' },
		                            { "channel", 1, 0, 'H' },
		                            { "signer-field", 1, 0, 'S' },
		                            { "issue-by", 1, 0, 'I' },
		                            { "hold-ms", 1, 0, 'W' },
		                            { 0, 0, 0, 0 } };
	const char *sfile = NULL, *base = NULL;
	int sn = 0, ch;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			O.url = optarg;
			break;
		case 'a':
			O.ca = optarg;
			break;
		case 'k':
			O.key = optarg;
			break;
		case 'c':
			O.conns = (int)strtol(optarg, NULL, 10);
			break;
		case 'd':
			O.depth = (int)strtol(optarg, NULL, 10);
			break;
		case 'n':
			O.count = strtol(optarg, NULL, 10);
			break;
		case 's':
			O.seconds = atof(optarg);
			break;
		case 'r':
			O.rate = atof(optarg);
			break;
		case 'f':
			sfile = optarg;
			break;
		case 'b':
			base = optarg;
			break;
		case 'N':
			sn = (int)strtol(optarg, NULL, 10);
			break;
		case 'o':
			O.org = optarg;
			break;
		case 'm':
			O.sign_mode = optarg;
			break;
		case 'F':
			O.format = optarg;
			break;
		case 'C':
			O.doc_class = optarg;
			break;
		case 't':
			O.timeout_s = (int)strtol(optarg, NULL, 10);
			break;
		case 'H':
			O.channel = optarg;
			break;
		case 'S':
			O.signer_field = optarg;
			break;
		case 'I':
			O.issue_by = optarg;
			break;
		case 'W':
			O.hold_ms = (int)strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!O.url || !O.key || parse_url(O.url) || O.conns < 1 || O.conns > 20000 || O.depth < 1 ||
	    O.depth > 256 || O.count < 1 || O.seconds <= 0 ||
	    (O.mode == MODE_OPEN && O.rate <= 0) ||
	    (strcmp(O.signer_field, "msisdn") != 0 &&
	     strcmp(O.signer_field, "subscriber_id") != 0) ||
	    (O.issue_by && O.mode != MODE_CLOSED))
		usage();
	if (O.mode != MODE_IDLE && load_signers(sfile, base, sn)) {
		fprintf(stderr,
		        "kyso-bench: no signers (--signers FILE or --msisdn-base/--signers-n)\n");
		exit(2);
	}
}

static void
report(void)
{
	double secs = t_last_result_us > t_first_send_us
	                      ? (double)(t_last_result_us - t_first_send_us) / 1e6
	                      : 0;
	long ok = 0;
	printf("{\"mode\":\"%s\",\"conns\":%d,\"conns_up\":%d,\"sent\":%ld,\"finished\":%ld,",
	       O.mode == MODE_CLOSED ? "closed"
	       : O.mode == MODE_OPEN ? "open"
	                             : "idle",
	       O.conns, conns_up, sent, finished);
	printf("\"codes\":{");
	for (int i = 0; i < ncodes; i++) {
		printf("%s\"%d/%d\":%ld", i ? "," : "", codes[i].code, codes[i].sub, codes[i].n);
		if (codes[i].code == 502)
			ok += codes[i].n;
	}
	printf("},\"ok\":%ld,\"seconds\":%.3f,\"rate\":%.1f,\"ok_rate\":%.1f,", ok, secs,
	       secs > 0 ? (double)finished / secs : 0, secs > 0 ? (double)ok / secs : 0);
	printf("\"signatures\":%ld,\"signature_rate\":%.1f,", signatures,
	       secs > 0 ? (double)signatures / secs : 0);
	printf("\"p50_us\":%" PRIu64 ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64
	       ",\"max_us\":%" PRIu64 "}\n",
	       hist_quantile(&hist, 0.5), hist_quantile(&hist, 0.99), hist_quantile(&hist, 0.999),
	       hist.max_us);
}

int
main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	run_id = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	snprintf(auth_header, sizeof(auth_header), "Bearer %s", O.key);
	lws_set_log_level(LLL_ERR, NULL);
	uv_loop_init(&loop);
	void *foreign[1] = { &loop };
	struct lws_context_creation_info info = { 0 };
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.foreign_loops = foreign;
	info.client_ssl_ca_filepath = O.ca;
	info.fd_limit_per_thread = (unsigned)O.conns + 64;
	ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "kyso-bench: lws context failed\n");
		return 1;
	}
	uv_timer_init(&loop, &tick);
	uv_timer_init(&loop, &deadline);
	uv_timer_start(&deadline, on_deadline, (uint64_t)(O.seconds * 1000), 0);
	conns = calloc((size_t)O.conns, sizeof(*conns));
	int slots = O.mode == MODE_OPEN ? 256 : O.depth;
	for (int i = 0; i < O.conns; i++) {
		conns[i].idx = i;
		conns[i].npend = slots;
		conns[i].pend = calloc((size_t)slots, sizeof(struct pending));
		conns[i].rx = malloc(FRAME_MAX);
		conns[i].tx = malloc(LWS_PRE + FRAME_MAX);
		conns[i].due_us = O.mode == MODE_OPEN ? calloc(4096, sizeof(uint64_t)) : NULL;
		connect_one(&conns[i]);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	report();
	uv_loop_close(&loop);
	return (O.mode == MODE_IDLE ? conns_up == O.conns : finished > 0) ? 0 : 1;
}
