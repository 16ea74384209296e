/* sim_channel_bench COUNT [INFLIGHT]: the gateway's SIM channel alone (link, counter
 * write-ahead in PostgreSQL, OTA, answer handling) against kyso-carrier-sim in `instant` mode:
 * COUNT requests to COUNT distinct profile-00 numbers (84900010000...), at most INFLIGHT
 * waiting at once (closed loop). Prints signed answers per second, start-to-SIGNED latency
 * p50/p99 (and to DISPATCHED: the counter durable and submit_sm answered) and the process's
 * CPU per signature. No engine, no verification, no CMS: this is the
 * channel's share of the request path (PERFORMANCE.md G1). Run by run-bench.sh. */
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "gw_channel.h"
#include "gw_int.h"

#define FIRST 84900010000ull

struct req {
	uint64_t t0;
	bool done, ok;
};

static struct gw gw;
static struct req *reqs;
static uint64_t *lat, *dlat;
static size_t count, inflight_max, started, finished, failed, nlat, ndlat;
static uv_timer_t tick;
static uint64_t t_start, t_end;
static struct gw_channel *ch;

static void start_more(void);

static void
on_event(void *engine, const struct gw_chan_event *ev)
{
	size_t i = (size_t)(ev->ref - 1);

	(void)engine;
	if (ev->ref < 1 || i >= count || reqs[i].done)
		return;
	if (ev->kind == GW_CHAN_DISPATCHED && ndlat < count)
		dlat[ndlat++] =
		        gw_mono_ms() - reqs[i].t0; /* counter committed, submit_sm answered */
	if (ev->kind != GW_CHAN_SIGNED && ev->kind != GW_CHAN_FAILED)
		return;
	reqs[i].done = true;
	reqs[i].ok = ev->kind == GW_CHAN_SIGNED;
	finished++;
	if (reqs[i].ok)
		lat[nlat++] = gw_mono_ms() - reqs[i].t0;
	else if (failed++ < 5)
		fprintf(stderr, "request %zu failed: %d/%d %s\n", i, ev->status, ev->sub,
		        ev->detail ? ev->detail : "");
}

static void
start_one(size_t i)
{
	uint8_t digest[32];
	char msisdn[16];
	struct gw_chan_request r = {
		.txn_id = "bench",
		.ref = (int64_t)i + 1,
		.msisdn = msisdn,
		.hash_alg = "sha256",
		.to_sign = digest,
		.to_sign_len = sizeof(digest),
		.display = "Ky van ban",
		.verification_code = "1234",
	};
	int st, sub;

	snprintf(msisdn, sizeof(msisdn), "%llu", (unsigned long long)(FIRST + i));
	SHA256((const unsigned char *)msisdn, strlen(msisdn), digest);
	reqs[i].t0 = gw_mono_ms();
	r.deadline_ms = reqs[i].t0 + 120000;
	if (ch->start(ch->self, &r, &st, &sub) != 0) {
		reqs[i].done = true;
		finished++;
		if (failed++ < 5)
			fprintf(stderr, "request %zu refused: %d/%d\n", i, st, sub);
	}
}

static void
start_more(void)
{
	while (started < count && started - finished < inflight_max)
		start_one(started++);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
on_tick(uv_timer_t *t)
{
	if (ch == NULL) {
		if (gw.metrics.smsc_binds_up == 0 || !db_ready(gw.db)) {
			if (gw_mono_ms() - t_start > 20000) {
				fprintf(stderr, "no SMPP bind or no database within 20 s\n");
				goto stop;
			}
			return;
		}
		ch = gw_smsc_channel(&gw);
		ch->on_event = on_event;
		t_start = gw_mono_ms();
	}
	start_more();
	if (finished < count && gw_mono_ms() - t_start < 300000)
		return;
	t_end = gw_mono_ms();
stop:
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, NULL);
	gw_smsc_stop(&gw);
	gw_db_stop(&gw);
}

int
main(int argc, char **argv)
{
	const char *pg = getenv("KYSO_PG_URL"), *routes = getenv("KYSO_BENCH_ROUTES");
	struct rusage ru0, ru1;
	char err[256];
	uv_loop_t loop;
	double secs, cpu_us;

	if (argc < 2 || pg == NULL || routes == NULL) {
		fprintf(stderr, "usage: sim_channel_bench COUNT [INFLIGHT] (KYSO_PG_URL, "
		                "KYSO_BENCH_ROUTES set)\n");
		return 2;
	}
	count = strtoul(argv[1], NULL, 10);
	inflight_max = argc > 2 ? strtoul(argv[2], NULL, 10) : 500;
	if (count == 0 || count > 100000 || inflight_max == 0 ||
	    (reqs = calloc(count, sizeof(*reqs))) == NULL ||
	    (lat = calloc(count, sizeof(*lat))) == NULL ||
	    (dlat = calloc(count, sizeof(*dlat))) == NULL)
		return 2;
	gw_config_defaults(&gw.cfg);
	snprintf(gw.cfg.db_conninfo, sizeof(gw.cfg.db_conninfo), "%s", pg);
	snprintf(gw.cfg.smsc_routes, sizeof(gw.cfg.smsc_routes), "%s", routes);
	gw.cfg.db_lanes = 1;
	gw.cfg.db_spool_dir[0] = '\0'; /* no spool: PostgreSQL stays up here */
	gw_log_set_level(GW_LOG_WARN);
	if ((gw.auth = gw_auth_new(gw.cfg.auth_fail_per_min)) == NULL)
		return 2;
	uv_loop_init(&loop);
	gw.loop = &loop;
	if (gw_db_start(&gw, err, sizeof(err)) != 0 || gw_smsc_start(&gw, err, sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return 2;
	}
	t_start = gw_mono_ms();
	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 1, 1);
	getrusage(RUSAGE_SELF, &ru0);
	uv_run(&loop, UV_RUN_DEFAULT);
	getrusage(RUSAGE_SELF, &ru1);
	(void)uv_loop_close(&loop);
	if (t_end == 0 || nlat == 0) {
		fprintf(stderr, "no signature came back (%zu finished, %zu failed)\n", finished,
		        failed);
		return 1;
	}
	secs = (double)(t_end - t_start) / 1000.0;
	cpu_us = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
	                  ru0.ru_stime.tv_sec) *
	                 1e6 +
	         (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
	                  ru0.ru_stime.tv_usec);
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("sim channel: %zu requests, %zu signed, %zu failed, in-flight cap %zu\n", count,
	       nlat, failed, inflight_max);
	printf("signed answers/s: %.0f (%.2f s)\n", (double)nlat / secs, secs);
	printf("start->SIGNED latency ms: p50 %llu p99 %llu\n", (unsigned long long)lat[nlat / 2],
	       (unsigned long long)lat[(nlat * 99) / 100]);
	if (ndlat > 0) {
		qsort(dlat, ndlat, sizeof(*dlat), cmp_u64);
		printf("start->DISPATCHED latency ms (counter durable, submit_sm_resp): p50 %llu "
		       "p99 "
		       "%llu\n",
		       (unsigned long long)dlat[ndlat / 2],
		       (unsigned long long)dlat[(ndlat * 99) / 100]);
	}
	printf("bench process CPU per signature: %.0f us (channel, link, db client)\n",
	       cpu_us / (double)nlat);
	gw_auth_free(gw.auth);
	free(reqs);
	free(lat);
	free(dlat);
	return failed != 0;
}
