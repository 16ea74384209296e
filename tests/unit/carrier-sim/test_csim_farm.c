/* The SIM farm as a card would behave (TELECOM.md 2.3, 3.3, 3.4, 5.3): counter rules, CC
 * failure, PIN blocking, concatenation, and the decision of every profile. Sans-I/O: the test
 * gives now_ms and collects the MO answers with their departure times. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "csim_test_util.h"

#define MAXMO 64

struct mo {
	char msisdn[24];
	uint8_t ud[140];
	size_t len;
	uint64_t at;
};
static struct mo mos[MAXMO];
static size_t n_mo;

static void
collect(void *arg, const struct csim_sim *sim, const char *reply_to, const uint8_t *ud, size_t len,
        uint64_t at)
{
	(void)arg;
	assert_string_equal(reply_to, "8490999");
	assert_true(n_mo < MAXMO);
	snprintf(mos[n_mo].msisdn, sizeof(mos[n_mo].msisdn), "%s", sim->msisdn);
	memcpy(mos[n_mo].ud, ud, len);
	mos[n_mo].len = len;
	mos[n_mo].at = at;
	n_mo++;
}

static struct csim_farm *
farm(enum csim_mode mode)
{
	struct csim_farm_cfg cfg = {
		.prefix = "8490", .seed = 42, .mode = mode, .auto_create = true, .mo = collect
	};
	struct csim_farm *f = NULL;

	n_mo = 0;
	assert_int_equal(csim_farm_new(&cfg, &f), CSIM_OK);
	return f;
}

static struct csim_sim *
sim(struct csim_farm *f, int profile, unsigned serial)
{
	char num[16];
	struct csim_sim *s;

	snprintf(num, sizeof(num), "8490%02d%05u", profile, serial);
	s = csim_farm_lookup(f, num);
	assert_non_null(s);
	return s;
}

struct answer {
	int dl;
	int por;    /* -1: none */
	int applet; /* -1: none */
	int pin_tries;
	size_t segs;
	uint64_t at;
	size_t sig_len;
	uint8_t tr;
};

/* One request: deliver every segment at now, then reassemble what the card sent back. */
static struct answer
ask(struct csim_farm *f, struct csim_sim *s, const struct t_req *r, unsigned attempt, uint64_t now)
{
	struct smsc_seg segs[SMSC_SEG_MAX];
	size_t n = t_command(s, r, segs), i, first = n_mo;
	struct answer a = { .dl = 0, .por = -1, .applet = -1, .pin_tries = -1 };
	struct smsc_reasm *ra = NULL;

	assert_true(n > 0);
	for (i = 0; i < n; i++)
		a.dl = csim_farm_deliver(f, s, segs[i].ud, segs[i].len, "8490999", attempt,
		                         now + 120000, now);
	assert_int_equal(smsc_reasm_new(4, 8192, 1000000, &ra), SMSC_OK);
	for (i = first; i < n_mo; i++) {
		uint8_t pkt[1200], work[1200], iei;
		size_t len;
		bool done = false;
		struct smsc_ota_rsp rsp;
		struct smsc_kv1_rsp app;

		a.segs++;
		if (a.at == 0)
			a.at = mos[i].at;
		if (smsc_reasm_add(ra, mos[i].msisdn, mos[i].ud, mos[i].len, 0, pkt, sizeof(pkt),
		                   &len, &iei, &done) != SMSC_OK ||
		    !done)
			continue;
		assert_int_equal(iei, 0x71);
		assert_int_equal(t_open_por(s, pkt, len, &rsp, &app, work, sizeof(work)), 0);
		a.por = rsp.sts;
		assert_int_equal(rsp.cntr, a.por == 0x01 ? rsp.cntr : r->cntr);
		if (rsp.sts == 0 && rsp.data_len > 0) {
			a.applet = app.status;
			a.pin_tries = app.has_pin_tries ? app.pin_tries : -1;
			a.sig_len = app.sig_len;
			a.tr = app.has_terminal_result ? app.terminal_result : 0;
			assert_int_equal(app.txn_ref, 0x0011223344556677ull);
		}
	}
	smsc_reasm_free(ra);
	return a;
}

static void
counter_rules(void **state)
{
	struct csim_farm *f = farm(CSIM_MODE_INSTANT);
	struct csim_sim *s = sim(f, 0, 1);
	struct t_req r = { .cntr = 1 };
	struct answer a;

	(void)state;
	a = ask(f, s, &r, 0, 1000);
	assert_int_equal(a.por, 0x00);
	assert_int_equal(a.applet, SMSC_KV1_SIGNED);
	assert_int_equal(a.sig_len, 64);
	assert_int_equal(s->ks.counter, 1);
	a = ask(f, s, &r, 0, 2000); /* the same counter again: "must be higher" -> 02 */
	assert_int_equal(a.por, 0x02);
	assert_int_equal(a.applet, -1);
	r.cntr = 500; /* mode 10 tolerates gaps (TELECOM.md 2.3) */
	a = ask(f, s, &r, 0, 3000);
	assert_int_equal(a.por, 0x00);
	assert_int_equal(s->ks.counter, 500);
	/* Profile 13: the card is 500 ahead; the gateway's resync (+1000) goes through. */
	s = sim(f, 13, 0);
	r.cntr = 1;
	assert_int_equal(ask(f, s, &r, 0, 4000).por, 0x02);
	r.cntr = 1001;
	assert_int_equal(ask(f, s, &r, 0, 5000).applet, SMSC_KV1_SIGNED);
	/* Profile 14: counter exhausted -> 04, whatever is sent. */
	s = sim(f, 14, 0);
	r.cntr = 1;
	assert_int_equal(ask(f, s, &r, 0, 6000).por, 0x04);
	csim_farm_free(f);
}

static void
cc_failure(void **state)
{
	struct csim_farm *f = farm(CSIM_MODE_INSTANT);
	struct csim_sim *s = sim(f, 0, 2);
	struct smsc_ota_keys other = s->ks.keys;
	struct t_req r = { .cntr = 1, .keys = &other };

	(void)state;
	other.kid[3] ^= 0x40;
	assert_int_equal(ask(f, s, &r, 0, 1000).por, 0x01);
	assert_int_equal(s->ks.counter, 0); /* refused before the counter is taken */
	/* Profile 12: the card holds another KID than provisioned. */
	s = sim(f, 12, 0);
	r.keys = NULL;
	assert_int_equal(ask(f, s, &r, 0, 2000).por, 0x01);
	/* Below the applet's minimum security level (no CC): 0A. */
	s = sim(f, 0, 3);
	r.spi1 = 0x10; /* counter-higher only */
	assert_int_equal(ask(f, s, &r, 0, 3000).por, 0x0A);
	csim_farm_free(f);
}

static void
pin_blocking(void **state)
{
	struct csim_farm *f = farm(CSIM_MODE_ERROR);
	struct csim_sim *s = sim(f, 6, 0);
	struct t_req r = { .cntr = 1 };
	struct answer a;

	(void)state;
	a = ask(f, s, &r, 0, 1000);
	assert_int_equal(a.applet, SMSC_KV1_PIN_BLOCKED);
	assert_int_equal(a.pin_tries, 0);
	assert_int_equal(s->state, CSIM_PIN_BLOCKED);
	assert_true(a.at >= 1000 + 3 * 1000); /* three wrong entries, 1 s each */
	r.cntr = 2; /* later requests: PIN_BLOCKED at once, no prompt (TELECOM.md 3.4) */
	a = ask(f, s, &r, 0, 100000);
	assert_int_equal(a.applet, SMSC_KV1_PIN_BLOCKED);
	assert_true(a.at <= 100000 + 5000);
	csim_sim_unblock(s); /* the central CA's recovery */
	assert_int_equal(s->state, CSIM_ACTIVE);
	assert_int_equal(s->pin_tries, 3);
	/* Profile 22: one wrong PIN, then OK. */
	s = sim(f, 22, 0);
	r.cntr = 1;
	a = ask(f, s, &r, 0, 1000);
	assert_int_equal(a.applet, SMSC_KV1_SIGNED);
	assert_true(a.at >= 1000 + 2000);
	/* PUK: ten wrong entries block the card for good (profile 08's state). */
	s = sim(f, 0, 9);
	for (int i = 0; i < 10; i++)
		assert_int_equal(csim_sim_puk(s, false), CSIM_OK);
	assert_int_equal(s->state, CSIM_CARD_BLOCKED);
	r.cntr = 1;
	assert_int_equal(ask(f, s, &r, 0, 2000).applet, SMSC_KV1_CARD_BLOCKED);
	csim_farm_free(f);
}

static void
concatenation(void **state)
{
	struct csim_farm *f = farm(CSIM_MODE_ERROR);
	struct csim_sim *s = sim(f, 27, 0);
	struct t_req r = { .cntr = 1 };
	struct answer a;
	size_t first;

	(void)state;
	assert_int_equal(s->key_alg, CSIM_KEY_RSA2048);
	a = ask(f, s, &r, 0, 1000);
	assert_int_equal(a.applet, SMSC_KV1_SIGNED);
	assert_int_equal(a.sig_len, 256);
	assert_int_equal(a.segs, 3); /* RSA-2048 result: 3 MO (TELECOM.md 3.3) */
	r.cntr = 2;
	r.digest_info = true; /* tag 13 for an RSA key */
	assert_int_equal(ask(f, s, &r, 0, 100000).applet, SMSC_KV1_SIGNED);
	/* Profile 16: 3 segments 5 s apart. */
	s = sim(f, 16, 0);
	r.cntr = 1;
	r.digest_info = false;
	first = n_mo;
	a = ask(f, s, &r, 0, 1000);
	assert_int_equal(a.segs, 3);
	assert_int_equal(mos[first + 1].at - mos[first].at, 5000);
	assert_int_equal(mos[first + 2].at - mos[first + 1].at, 5000);
	/* Profile 17: the 2nd of 3 is lost, the PoR never completes. */
	s = sim(f, 17, 0);
	a = ask(f, s, &r, 0, 1000);
	assert_int_equal(a.segs, 2);
	assert_int_equal(a.por, -1);
	/* Profile 18: every MO twice. */
	s = sim(f, 18, 0);
	first = n_mo;
	a = ask(f, s, &r, 0, 1000);
	assert_int_equal(n_mo - first, 2);
	assert_memory_equal(mos[first].ud, mos[first + 1].ud, mos[first].len);
	/* An EC key asked for a DigestInfo signature: UNSUPPORTED_KEY_ALG. */
	s = sim(f, 0, 4);
	r.digest_info = true;
	assert_int_equal(ask(f, s, &r, 0, 1000).applet, SMSC_KV1_UNSUPPORTED_KEY_ALG);
	csim_farm_free(f);
}

struct expect {
	int profile;
	int dl;
	int por;
	int applet;
	uint8_t tr;
};

/* The decision of every row of TELECOM.md 5.3 (first attempt, GSM-7 text). */
static void
every_profile(void **state)
{
	static const struct expect rows[] = {
		{ 0, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 1, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 2, CSIM_DL_OK, 0, SMSC_KV1_USER_CANCEL, 0x10 },
		{ 3, CSIM_DL_OK, 0, SMSC_KV1_USER_REJECTED, 0x22 },
		{ 4, CSIM_DL_OK, 0, SMSC_KV1_USER_TIMEOUT, 0x12 },
		{ 5, CSIM_DL_OK, -1, -1, 0 },
		{ 6, CSIM_DL_OK, 0, SMSC_KV1_PIN_BLOCKED, 0 },
		{ 7, CSIM_DL_OK, 0, SMSC_KV1_PIN_BLOCKED, 0 },
		{ 8, CSIM_DL_OK, 0, SMSC_KV1_CARD_BLOCKED, 0 },
		{ 9, CSIM_DL_ABSENT, -1, -1, 0 },
		{ 10, CSIM_DL_BUSY, -1, -1, 0 },
		{ 11, CSIM_DL_BUSY, -1, -1, 0 },
		{ 12, CSIM_DL_OK, 0x01, -1, 0 },
		{ 13, CSIM_DL_OK, 0x02, -1, 0 },
		{ 14, CSIM_DL_OK, 0x04, -1, 0 },
		{ 15, CSIM_DL_OK, 0x09, -1, 0 },
		{ 16, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 17, CSIM_DL_OK, -1, -1, 0 },
		{ 18, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 19, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 20, CSIM_DL_FAIL, -1, -1, 0 },
		{ 21, CSIM_DL_UNKNOWN, -1, -1, 0 },
		{ 22, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 23, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 24, CSIM_DL_OK, 0, SMSC_KV1_KEY_NOT_FOUND, 0 },
		{ 25, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 26, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
		{ 27, CSIM_DL_OK, 0, SMSC_KV1_SIGNED, 0 },
	};
	struct csim_farm *f = farm(CSIM_MODE_ERROR);
	struct t_req r = { .cntr = 1 };
	size_t i;

	(void)state;
	assert_int_equal(sizeof(rows) / sizeof(rows[0]), CSIM_PROFILES);
	for (i = 0; i < CSIM_PROFILES; i++) {
		struct csim_sim *s = sim(f, rows[i].profile, 0);
		struct answer a = ask(f, s, &r, 0, 1000);

		print_message("profile %02d: dl %d por %d applet %d\n", rows[i].profile, a.dl,
		              a.por, a.applet);
		assert_int_equal(a.dl, rows[i].dl);
		assert_int_equal(a.por, rows[i].por);
		assert_int_equal(a.applet, rows[i].applet);
		if (rows[i].tr)
			assert_int_equal(a.tr, rows[i].tr);
	}
	/* Second looks: 10 is fine on the SMSC's retry; 23 cannot show UCS-2; 04 waits 60 s;
	 * 19 answers 30 s after the validity period; 05 keeps the toolkit busy. */
	assert_int_equal(ask(f, sim(f, 10, 1), &r, 1, 1000).applet, SMSC_KV1_SIGNED);
	r.dcs = SMSC_DCS_UCS2;
	assert_int_equal(ask(f, sim(f, 23, 1), &r, 0, 1000).applet, SMSC_KV1_ME_UNSUPPORTED);
	assert_int_equal(ask(f, sim(f, 0, 7), &r, 0, 1000).applet, SMSC_KV1_SIGNED);
	r.dcs = 0;
	{
		struct answer a = ask(f, sim(f, 4, 1), &r, 0, 1000);

		assert_true(a.at >= 1000 + 60000 + 1000 && a.at <= 1000 + 60000 + 5000);
	}
	assert_true(ask(f, sim(f, 19, 1), &r, 0, 1000).at >= 1000 + 120000 + 30000);
	assert_int_equal(ask(f, sim(f, 5, 1), &r, 0, 1000).dl, CSIM_DL_OK);
	r.cntr = 2;
	assert_int_equal(ask(f, sim(f, 5, 1), &r, 0, 2000).dl, CSIM_DL_BUSY);
	csim_farm_free(f);
}

static void
numbers_and_keys(void **state)
{
	struct csim_farm *f = farm(CSIM_MODE_INSTANT);
	struct smsc_ota_keys k;
	struct csim_sim *s;
	char iccid[21];

	(void)state;
	assert_null(csim_farm_lookup(f, "84999000000")); /* outside the range: unknown */
	assert_null(csim_farm_lookup(f, "84928000000")); /* no profile 28 */
	s = csim_farm_lookup(f, "84900100042");
	assert_non_null(s);
	assert_int_equal(s->profile, 1);
	assert_int_equal(s->serial, 42);
	csim_derive_keys(42, "84900100042", &k);
	assert_memory_equal(k.kic, s->ks.keys.kic, 16);
	assert_memory_equal(k.kid, s->ks.keys.kid, 16);
	csim_derive_iccid("84900100042", iccid);
	assert_string_equal(s->iccid, iccid);
	assert_int_equal(strlen(iccid), 20);
	assert_int_equal(csim_farm_count(f), 1);
	assert_int_equal(csim_farm_del(f, "84900100042"), CSIM_OK);
	assert_int_equal(csim_farm_count(f), 0);
	csim_farm_free(f);
}

static void
state_file(void **state)
{
	struct csim_farm *f = farm(CSIM_MODE_INSTANT), *g;
	char path[] = "/tmp/csim-state-XXXXXX";
	struct t_req r = { .cntr = 77 };
	struct csim_sim *s;
	size_t loaded = 0;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	s = sim(f, 0, 5);
	assert_int_equal(ask(f, s, &r, 0, 1000).applet, SMSC_KV1_SIGNED);
	s = sim(f, 6, 5);
	assert_int_equal(ask(f, s, &r, 0, 1000).applet, SMSC_KV1_PIN_BLOCKED);
	assert_int_equal(csim_farm_save(f, path), CSIM_OK);
	g = farm(CSIM_MODE_INSTANT);
	assert_int_equal(csim_farm_load(g, path, &loaded), CSIM_OK);
	assert_int_equal(loaded, 2);
	s = csim_farm_find(g, "84900000005");
	assert_non_null(s);
	assert_int_equal(s->ks.counter, 77);
	r.cntr = 77; /* replay after a restart is still refused */
	assert_int_equal(ask(g, s, &r, 0, 5000).por, 0x02);
	r.cntr = 78;
	assert_int_equal(ask(g, s, &r, 0, 6000).applet, SMSC_KV1_SIGNED); /* key survived */
	s = csim_farm_find(g, "84900600005");
	assert_int_equal(s->state, CSIM_PIN_BLOCKED);
	unlink(path);
	csim_farm_free(f);
	csim_farm_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter_rules), cmocka_unit_test(cc_failure),
		cmocka_unit_test(pin_blocking),  cmocka_unit_test(concatenation),
		cmocka_unit_test(every_profile), cmocka_unit_test(numbers_and_keys),
		cmocka_unit_test(state_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
