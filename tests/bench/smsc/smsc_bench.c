/* smsc-adapter benchmark (not a timed test). Prints, in one run:
 *  - submit_sm encode+decode per second on one core,
 *  - OTA command packet build+open per second on one core (3DES and AES, kyso-v1 sized),
 *  - with a PORT argument: session throughput against npm smpp (run-bench.sh starts it with a
 *    20 ms response delay) at window 1, 10 and 50; expected to follow window / RTT.
 * Usage: smsc_bench [PORT [SECONDS]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

#include "smsc_net.h"

static volatile size_t sink;

static double
bench_pdu(void)
{
	uint8_t sm[140], buf[512];
	struct smsc_pdu p, q;
	uint64_t t0 = smsc_net_now_ms(), n = 0;

	memset(sm, 0xA5, sizeof(sm));
	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_SUBMIT_SM;
	p.sequence = 1;
	p.source_addr_ton = p.source_addr_npi = p.dest_addr_ton = p.dest_addr_npi = 1;
	p.source_addr = "8490999";
	p.source_addr_len = 7;
	p.dest_addr = "84900000001";
	p.dest_addr_len = 11;
	p.esm_class = 0x40;
	p.protocol_id = 0x7F;
	p.validity_period = "000000000200000R";
	p.validity_period_len = 16;
	p.registered_delivery = 1;
	p.data_coding = 0xF6;
	p.short_message = sm;
	p.sm_length = sizeof(sm);
	while (smsc_net_now_ms() - t0 < 1000) {
		for (int i = 0; i < 1000; i++) {
			size_t len;

			p.sequence++;
			if (smsc_pdu_encode(&p, buf, sizeof(buf), &len) != SMSC_OK ||
			    smsc_pdu_decode(buf, len, &q) != SMSC_OK)
				abort();
			sink += q.sm_length;
		}
		n += 1000;
	}
	return (double)n * 1000.0 / (double)(smsc_net_now_ms() - t0);
}

static double
bench_ota(uint8_t kk)
{
	struct smsc_ota_keys k;
	uint8_t data[70], pkt[256], work[256];
	struct smsc_ota_cmd c = { .spi1 = 0x16,
		                  .spi2 = 0x39,
		                  .kic = kk,
		                  .kid = kk,
		                  .tar = { 'K', 'Y', 'S' },
		                  .data = data,
		                  .data_len = sizeof(data) };
	struct smsc_ota_cmd o;
	uint64_t t0 = smsc_net_now_ms(), n = 0;

	memset(&k, 0, sizeof(k));
	memset(k.kic, 0x11, 16);
	memset(k.kid, 0x22, 16);
	k.kic_len = k.kid_len = 16;
	memset(data, 0x5A, sizeof(data));
	while (smsc_net_now_ms() - t0 < 1000) {
		for (int i = 0; i < 100; i++) {
			size_t len;

			c.cntr++;
			if (smsc_ota_cmd_build(&c, &k, pkt, sizeof(pkt), &len) != SMSC_OK ||
			    smsc_ota_cmd_open(pkt, len, &k, work, sizeof(work), &o) != SMSC_OK)
				abort();
			sink += o.data_len;
		}
		n += 100;
	}
	smsc_ota_keys_wipe(&k);
	return (double)n * 1000.0 / (double)(smsc_net_now_ms() - t0);
}

struct run {
	struct smsc_net net;
	uint64_t ok, fail, bound, stopped, queued_tag;
	uint64_t until_ms;
};

static void
on_event(void *arg, const struct smsc_event *ev)
{
	struct run *r = arg;

	if (ev->kind == SMSC_EV_BOUND)
		r->bound++;
	else if (ev->kind == SMSC_EV_SUBMIT_OK)
		r->ok++;
	else if (ev->kind == SMSC_EV_SUBMIT_FAIL)
		r->fail++;
	else if (ev->kind == SMSC_EV_STOPPED)
		r->stopped++;
}

static bool
bound(void *arg)
{
	return ((struct run *)arg)->bound > 0;
}

/* Keeps the queue topped up until the time is over. */
static bool
refill(void *arg)
{
	struct run *r = arg;
	static const uint8_t sm[40] = { 0x02, 0x70, 0x00 };
	struct smsc_submit m = { .dest_addr = "84900000001",
		                 .source_addr = "8490999",
		                 .source_ton = 1,
		                 .source_npi = 1,
		                 .esm_class = 0x40,
		                 .protocol_id = 0x7F,
		                 .data_coding = 0xF6,
		                 .sm = sm,
		                 .sm_len = sizeof(sm) };

	while (smsc_session_queued(r->net.s) < 100)
		if (smsc_session_submit(r->net.s, ++r->queued_tag, &m, smsc_net_now_ms()) !=
		    SMSC_OK)
			abort();
	return smsc_net_now_ms() >= r->until_ms;
}

static bool
stopped(void *arg)
{
	return ((struct run *)arg)->stopped > 0;
}

static int
bench_session(uint16_t port, uint32_t window, unsigned secs, double *rate)
{
	static struct run r;
	struct smsc_config cfg = { .system_id = "gw",
		                   .password = "pw",
		                   .window = window,
		                   .tps = UINT32_MAX,
		                   .queue_max = 1000,
		                   .seed = window };
	uint64_t t0, ok0, fail;

	memset(&r, 0, sizeof(r));
	r.net.port = port;
	r.net.fd = -1;
	r.net.user_cb = on_event;
	r.net.user_arg = &r;
	if (smsc_session_new(&cfg, smsc_net_event, &r.net, &r.net.s) != SMSC_OK ||
	    smsc_session_start(r.net.s, smsc_net_now_ms()) != SMSC_OK)
		return -1;
	if (!smsc_net_run(&r.net, bound, &r, 5000)) {
		fprintf(stderr, "no bind within 5 s (state %s)\n",
		        smsc_state_name(smsc_session_state(r.net.s)));
		smsc_session_free(r.net.s);
		return -1;
	}
	r.until_ms = smsc_net_now_ms() + 500; /* warm-up */
	smsc_net_run(&r.net, refill, &r, 10000);
	t0 = smsc_net_now_ms();
	ok0 = r.ok;
	r.until_ms = t0 + secs * 1000u;
	smsc_net_run(&r.net, refill, &r, secs * 1000u + 5000);
	*rate = (double)(r.ok - ok0) * 1000.0 / (double)(smsc_net_now_ms() - t0);
	fail = r.fail; /* stopping fails what is still queued: not counted */
	smsc_session_stop(r.net.s, smsc_net_now_ms());
	smsc_net_run(&r.net, stopped, &r, 10000);
	smsc_session_free(r.net.s);
	if (fail != 0)
		fprintf(stderr, "%llu submits failed\n", (unsigned long long)fail);
	return fail == 0 && r.stopped == 1 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const uint32_t windows[] = { 1, 10, 50 };
	unsigned secs = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 5;

	printf("submit_sm encode+decode: %.0f /s/core\n", bench_pdu());
	printf("OTA command build+open 3DES-2key (70-octet payload): %.0f /s/core\n",
	       bench_ota(0x35));
	printf("OTA command build+open AES-128 (70-octet payload): %.0f /s/core\n",
	       bench_ota(0x32));
	if (argc < 2)
		return 0;
	for (size_t i = 0; i < sizeof(windows) / sizeof(windows[0]); i++) {
		double rate = 0;

		if (bench_session((uint16_t)strtoul(argv[1], NULL, 10), windows[i], secs, &rate) !=
		    0) {
			printf("session window %u: FAILED\n", windows[i]);
			return 1;
		}
		printf("session vs npm smpp, 20 ms resp delay, window %2u: %.0f submit/s (W/RTT "
		       "%.0f)\n",
		       windows[i], rate, windows[i] / 0.020);
	}
	return 0;
}
