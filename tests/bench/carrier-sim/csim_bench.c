/* kyso-carrier-sim benchmark (TELECOM.md 6, PERFORMANCE.md anchor A_sim): the simulator alone,
 * on one core, in `instant` mode. Pre-built submit_sm PDUs carrying kyso-v1 SIGN requests go
 * through the whole server path (SMPP decode, OTA decipher and CC, counter, applet, signing,
 * PoR build, segmentation, deliver_sm encode); the bench acks every deliver_sm like an ESME.
 * Prints signed answers per second for profile 00 (P-256) and profile 27 (RSA-2048), per core
 * (from the process's CPU time, so other load on the machine does not count) and wall.
 * usage: csim_bench [EC_REQUESTS] [RSA_REQUESTS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kyso/smsc.h>

#include "csim.h"

struct bench {
	struct csim *c;
	uint32_t conn;
	uint32_t acks[4096];
	size_t n_acks;
	uint64_t mo_segments;
};

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_send(void *arg, uint32_t conn, const uint8_t *pdu, size_t len)
{
	struct bench *b = arg;

	(void)conn;
	if (len >= 16 && pdu[4] == 0 && pdu[5] == 0 && pdu[6] == 0 && pdu[7] == 5 &&
	    b->n_acks < sizeof(b->acks) / sizeof(b->acks[0])) {
		b->acks[b->n_acks++] = (uint32_t)pdu[12] << 24 | (uint32_t)pdu[13] << 16 |
		                       (uint32_t)pdu[14] << 8 | pdu[15];
		if (len > 16 + 3 && pdu[len - 1] != 0) /* not a DLR text: an MO segment */
			b->mo_segments++;
	}
}

static void
on_close(void *arg, uint32_t conn)
{
	(void)arg;
	(void)conn;
}

static void
feed(struct bench *b, const struct smsc_pdu *p)
{
	uint8_t buf[SMSC_PDU_MAX_DEF];
	size_t n;

	if (smsc_pdu_encode(p, buf, sizeof(buf), &n) != SMSC_OK)
		abort();
	csim_conn_feed(b->c, b->conn, buf, n, 0);
}

static void
ack_all(struct bench *b)
{
	size_t i, n = b->n_acks;
	uint8_t buf[17] = { 0, 0, 0, 17, 0x80, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	b->n_acks = 0;
	for (i = 0; i < n; i++) {
		buf[12] = (uint8_t)(b->acks[i] >> 24);
		buf[13] = (uint8_t)(b->acks[i] >> 16);
		buf[14] = (uint8_t)(b->acks[i] >> 8);
		buf[15] = (uint8_t)b->acks[i];
		csim_conn_feed(b->c, b->conn, buf, sizeof(buf), 0);
	}
}

struct req {
	uint8_t pdu[400];
	size_t len;
};

/* One submit_sm per (SIM, counter): SHA-256 hash, GSM-7 text, 3DES SPI 16 39. */
static size_t
build(struct csim_sim *s, uint64_t cntr, struct req *out, size_t cap)
{
	static const uint8_t hash[32] = { 0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		                          0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		                          0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		                          0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad };
	struct smsc_kv1_req q = { .txn_ref = cntr,
		                  .key_ref = 1,
		                  .hash_alg = 1,
		                  .hash = hash,
		                  .hash_len = 32,
		                  .dcs = SMSC_DCS_GSM7,
		                  .text = (const uint8_t *)"Ky HD 42 gia 10tr",
		                  .text_len = 17 };
	struct smsc_ota_cmd c = {
		.spi1 = 0x16, .spi2 = 0x39, .kic = 0x35, .kid = 0x35, .cntr = cntr
	};
	uint8_t payload[300], pkt[400];
	struct smsc_seg segs[SMSC_SEG_MAX];
	size_t plen, n, nseg, i;

	memcpy(c.tar, "KYS", 3);
	if (smsc_kv1_req_encode(&q, payload, sizeof(payload), &plen) != SMSC_OK)
		abort();
	c.data = payload;
	c.data_len = plen;
	if (smsc_ota_cmd_build(&c, &s->ks.keys, pkt, sizeof(pkt), &n) != SMSC_OK ||
	    smsc_ota_segment(0x70, pkt, n, 1, segs, SMSC_SEG_MAX, &nseg) != SMSC_OK || nseg > cap)
		abort();
	for (i = 0; i < nseg; i++) {
		struct smsc_pdu p = { .command_id = SMSC_CMD_SUBMIT_SM,
			              .sequence = 1,
			              .source_addr_ton = 1,
			              .source_addr_npi = 1,
			              .source_addr = "8490999",
			              .source_addr_len = 7,
			              .dest_addr_ton = 1,
			              .dest_addr_npi = 1,
			              .dest_addr = s->msisdn,
			              .dest_addr_len = strlen(s->msisdn),
			              .esm_class = 0x40,
			              .protocol_id = 0x7F,
			              .data_coding = 0xF6,
			              .registered_delivery = 1,
			              .short_message = segs[i].ud,
			              .sm_length = segs[i].len };

		if (smsc_pdu_encode(&p, out[i].pdu, sizeof(out[i].pdu), &out[i].len) != SMSC_OK)
			abort();
	}
	return nseg;
}

static double
run(int profile, size_t n_sims, size_t requests)
{
	struct csim_cfg cfg;
	struct bench b = { 0 };
	struct smsc_pdu bind = { .command_id = SMSC_CMD_BIND_TRX,
		                 .sequence = 1,
		                 .system_id = "kyso",
		                 .system_id_len = 4,
		                 .password = "kyso",
		                 .password_len = 4,
		                 .interface_version = 0x34 };
	struct csim_sim **sims = calloc(n_sims, sizeof(*sims));
	struct req *reqs = calloc(requests * 2, sizeof(*reqs));
	size_t n_reqs = 0, i;
	struct csim_stats st;
	double t0, t1, c0, c1;
	char num[40];

	csim_cfg_default(&cfg);
	cfg.farm.mode = CSIM_MODE_INSTANT;
	if (sims == NULL || reqs == NULL ||
	    csim_new(&cfg, on_send, on_close, &b, &b.c) != CSIM_OK ||
	    csim_conn_open(b.c, 0, &b.conn) != CSIM_OK)
		abort();
	feed(&b, &bind);
	for (i = 0; i < n_sims; i++) { /* provisioning is not timed */
		snprintf(num, sizeof(num), "8490%02d%05zu", profile, i);
		if ((sims[i] = csim_farm_lookup(csim_get_farm(b.c), num)) == NULL)
			abort();
	}
	for (i = 0; i < requests; i++)
		n_reqs += build(sims[i % n_sims], 1 + i / n_sims, reqs + n_reqs, 2);
	t0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (i = 0; i < n_reqs; i++) {
		csim_conn_feed(b.c, b.conn, reqs[i].pdu, reqs[i].len, 0);
		csim_tick(b.c, 0);
		ack_all(&b);
	}
	t1 = clock_s(CLOCK_MONOTONIC);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	csim_stats(b.c, &st);
	if (st.signed_answers != requests || st.mos_acked == 0) {
		fprintf(stderr, "profile %02d: %llu signed answers for %zu requests\n", profile,
		        (unsigned long long)st.signed_answers, requests);
		exit(1);
	}
	/* One thread: CPU seconds are what one core gives, whatever else runs on the machine. */
	printf("profile %02d (%s): %zu signed answers, %llu MO segments, %.3f s wall, %.3f s CPU: "
	       "%.0f signed answers/s per core (%.0f/s wall)\n",
	       profile, profile == 27 ? "RSA-2048" : "P-256", requests,
	       (unsigned long long)st.mos_sent, t1 - t0, c1 - c0, (double)requests / (c1 - c0),
	       (double)requests / (t1 - t0));
	csim_free(b.c);
	free(sims);
	free(reqs);
	return (double)requests / (c1 - c0);
}

int
main(int argc, char **argv)
{
	size_t ec = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000;
	size_t rsa = argc > 2 ? strtoul(argv[2], NULL, 10) : 3000;
	double ec_rate, rsa_rate;

	ec_rate = run(0, 2000, ec);
	rsa_rate = rsa > 0 ? run(27, 30, rsa) : 0; /* 0: P-256 only (profiling) */
	printf("carrier-sim instant mode: P-256 %.0f/s (goal >= 5000), RSA-2048 %.0f/s\n", ec_rate,
	       rsa_rate);
	return ec_rate >= 5000 ? 0 : 3;
}
