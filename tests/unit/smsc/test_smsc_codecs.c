/* OTA algorithms and bounds, concatenation both ways with bounded reassembly, the kyso-v1
 * payload, display-text fitting (TELECOM.md 2.4, 3.3) and the carrier routing table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/smsc.h>

#include "smsc_test_util.h"

static void
fill_keys(struct smsc_ota_keys *k, size_t kic_len, size_t kid_len)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < 32; i++) {
		k->kic[i] = (uint8_t)(0x11 * i + 3);
		k->kid[i] = (uint8_t)(0x07 * i + 5);
	}
	k->kic_len = kic_len;
	k->kid_len = kid_len;
}

/* Every algorithm round-trips command and PoR; a wrong KID fails the CC. */
static void
test_ota_algorithms(void **state)
{
	static const struct {
		uint8_t alg;
		size_t klen;
		size_t blk;
	} algs[] = { { 0x1, 8, 8 },   { 0x5, 16, 8 },  { 0x9, 24, 8 },
		     { 0x2, 16, 16 }, { 0x2, 24, 16 }, { 0x2, 32, 16 } };
	uint8_t data[200], pkt[512], work[512];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		for (size_t dl = 0; dl < 40; dl += 7) {
			struct smsc_ota_keys k;
			uint8_t kk = (uint8_t)(0x30 | algs[a].alg);
			struct smsc_ota_cmd c = { .spi1 = 0x16,
				                  .spi2 = 0x39,
				                  .kic = kk,
				                  .kid = kk,
				                  .tar = { 1, 2, 3 },
				                  .cntr = 0x0102030405ull,
				                  .data = data,
				                  .data_len = dl };
			struct smsc_ota_cmd o;
			struct smsc_ota_rsp r = { .tar = { 1, 2, 3 },
				                  .cntr = 7,
				                  .sts = 0x0B,
				                  .data = data,
				                  .data_len = dl };
			struct smsc_ota_rsp ro;
			size_t n;

			fill_keys(&k, algs[a].klen, algs[a].klen);
			assert_int_equal(smsc_ota_cmd_build(&c, &k, pkt, sizeof(pkt), &n), SMSC_OK);
			assert_int_equal((n - 10) % algs[a].blk, 0);
			assert_int_equal(smsc_ota_cmd_open(pkt, n, &k, work, sizeof(work), &o),
			                 SMSC_OK);
			assert_int_equal(o.cntr, 0x0102030405ull);
			assert_int_equal(o.data_len, dl);
			assert_memory_equal(o.data, data, dl);
			assert_int_equal(
			        smsc_ota_rsp_build(0x39, kk, kk, &r, &k, pkt, sizeof(pkt), &n),
			        SMSC_OK);
			assert_int_equal(smsc_ota_rsp_open(pkt, n, 0x39, kk, kk, &k, work,
			                                   sizeof(work), &ro),
			                 SMSC_OK);
			assert_int_equal(ro.sts, 0x0B);
			assert_int_equal(ro.cntr, 7);
			assert_memory_equal(ro.data, data, dl);
			k.kid[0] ^= 0x80; /* not a DES parity bit */
			assert_int_equal(smsc_ota_rsp_open(pkt, n, 0x39, kk, kk, &k, work,
			                                   sizeof(work), &ro),
			                 SMSC_E_CC);
			smsc_ota_keys_wipe(&k);
			assert_int_equal(k.kic_len, 0);
		}
	}
}

/* RC (CRC32) commands, unsupported algorithm, bad lengths. */
static void
test_ota_rc_and_errors(void **state)
{
	struct smsc_ota_keys k;
	uint8_t pkt[256], work[256];
	struct smsc_ota_cmd c = {
		.spi1 = 0x01, .kic = 0x05, .kid = 0x05, .data = (const uint8_t *)"AB", .data_len = 2
	};
	struct smsc_ota_cmd o;
	size_t n;

	(void)state;
	fill_keys(&k, 16, 16);
	assert_int_equal(smsc_ota_cmd_build(&c, &k, pkt, sizeof(pkt), &n), SMSC_OK);
	assert_int_equal(pkt[2], 0x11); /* CHL with a 4-octet RC */
	assert_int_equal(smsc_ota_cmd_open(pkt, n, &k, work, sizeof(work), &o), SMSC_OK);
	pkt[n - 1] ^= 0xFF;
	assert_int_equal(smsc_ota_cmd_open(pkt, n, &k, work, sizeof(work), &o), SMSC_E_CC);
	c.spi1 = 0x03; /* DS: not supported */
	assert_int_equal(smsc_ota_cmd_build(&c, &k, pkt, sizeof(pkt), &n), SMSC_E_UNSUPPORTED);
	c.spi1 = 0x06;
	c.kic = 0x07; /* reserved algorithm */
	assert_int_equal(smsc_ota_cmd_build(&c, &k, pkt, sizeof(pkt), &n), SMSC_E_UNSUPPORTED);
	c.kic = 0x05;
	assert_int_equal(smsc_ota_cmd_build(&c, &k, pkt, 20, &n), SMSC_E_SPACE);
	assert_int_equal(smsc_ota_cmd_build(&c, &k, pkt, sizeof(pkt), &n), SMSC_OK);
	pkt[1]--; /* CPL no longer matches */
	assert_int_equal(smsc_ota_cmd_open(pkt, n, &k, work, sizeof(work), &o), SMSC_E_STRUCT);
	pkt[1]++;
	pkt[1]--; /* ciphered span not a multiple of the block: cipher error (PoR 05) */
	assert_int_equal(smsc_ota_cmd_open(pkt, n - 1, &k, work, sizeof(work), &o), SMSC_E_CRYPTO);
	pkt[1]++;
	k.kic_len = 15;
	assert_int_equal(smsc_ota_cmd_open(pkt, n, &k, work, sizeof(work), &o), SMSC_E_UNSUPPORTED);
}

static void
test_ota_counter_and_capacity(void **state)
{
	(void)state;
	assert_int_equal(smsc_ota_cntr_check(0x16, 5, 6), 0x00);
	assert_int_equal(smsc_ota_cntr_check(0x16, 5, 5), 0x02);
	assert_int_equal(smsc_ota_cntr_check(0x16, 5, 900), 0x00); /* mode 10 tolerates gaps */
	assert_int_equal(smsc_ota_cntr_check(0x1E, 5, 7), 0x03);
	assert_int_equal(smsc_ota_cntr_check(0x1E, 5, 6), 0x00);
	assert_int_equal(smsc_ota_cntr_check(0x06, 5, 1), 0x00);
	/* TELECOM.md 2.4 budget table. */
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_3DES2, 1), 106);
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_AES, 1), 98);
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_3DES2, 2), 242);
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_AES, 2), 242);
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_3DES2, 3), 370);
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_AES, 3), 370);
	assert_int_equal(smsc_ota_capacity(false, SMSC_ALG_3DES2, 1), 113);
	assert_int_equal(smsc_ota_capacity(false, SMSC_ALG_AES, 1), 113);
	assert_int_equal(smsc_ota_capacity(false, SMSC_ALG_3DES2, 2), 241);
	assert_int_equal(smsc_ota_capacity(false, SMSC_ALG_3DES2, 3), 377);
	assert_int_equal(smsc_ota_capacity(false, SMSC_ALG_AES, 3), 369);
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_AES, 0), 0);
	assert_int_equal(smsc_ota_capacity(true, SMSC_ALG_AES, 9), 0);
}

/* A 3-segment command: UDHs per 2.4, the secured packet still opens after reassembly. */
static void
test_concat_roundtrip(void **state)
{
	struct smsc_ota_keys k;
	uint8_t data[300], pkt[512], out[1200], work[512];
	struct smsc_seg segs[SMSC_SEG_MAX];
	struct smsc_ota_cmd c = { .spi1 = 0x16,
		                  .spi2 = 0x39,
		                  .kic = 0x35,
		                  .kid = 0x35,
		                  .tar = { 'K', 'Y', 'S' },
		                  .cntr = 9,
		                  .data = data,
		                  .data_len = 300 };
	struct smsc_ota_cmd o;
	struct smsc_reasm *r;
	size_t n, ns, on = 0;
	uint8_t iei = 0;
	bool done = false;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	fill_keys(&k, 16, 16);
	assert_int_equal(smsc_ota_cmd_build(&c, &k, pkt, sizeof(pkt), &n), SMSC_OK);
	assert_int_equal(smsc_ota_segment(0x70, pkt, n, 0x42, segs, SMSC_SEG_MAX, &ns), SMSC_OK);
	assert_int_equal(ns, 3);
	assert_memory_equal(segs[0].ud, "\x07\x00\x03\x42\x03\x01\x70\x00", 8);
	assert_int_equal(segs[0].len, 140);
	assert_memory_equal(segs[1].ud, "\x05\x00\x03\x42\x03\x02", 6);
	assert_int_equal(segs[1].len, 140);
	assert_int_equal(smsc_reasm_new(4, 4096, 30000, &r), SMSC_OK);
	/* Out of order, with a duplicate. */
	assert_int_equal(smsc_reasm_add(r, "8490", segs[2].ud, segs[2].len, 1, out, sizeof(out),
	                                &on, &iei, &done),
	                 SMSC_OK);
	assert_false(done);
	assert_int_equal(smsc_reasm_add(r, "8490", segs[0].ud, segs[0].len, 2, out, sizeof(out),
	                                &on, &iei, &done),
	                 SMSC_OK);
	assert_int_equal(smsc_reasm_add(r, "8490", segs[0].ud, segs[0].len, 3, out, sizeof(out),
	                                &on, &iei, &done),
	                 SMSC_E_DUP);
	assert_int_equal(smsc_reasm_pending(r), 1);
	assert_int_equal(smsc_reasm_add(r, "8490", segs[1].ud, segs[1].len, 4, out, sizeof(out),
	                                &on, &iei, &done),
	                 SMSC_OK);
	assert_true(done);
	assert_int_equal(iei, 0x70);
	assert_int_equal(on, n);
	assert_memory_equal(out, pkt, n);
	assert_int_equal(smsc_ota_cmd_open(out, on, &k, work, sizeof(work), &o), SMSC_OK);
	assert_memory_equal(o.data, data, 300);
	assert_int_equal(smsc_reasm_pending(r), 0);
	/* A single-SMS response completes at once. */
	assert_int_equal(smsc_ota_segment(0x71, pkt, 20, 1, segs, SMSC_SEG_MAX, &ns), SMSC_OK);
	assert_int_equal(ns, 1);
	assert_int_equal(smsc_reasm_add(r, "8490", segs[0].ud, segs[0].len, 5, out, sizeof(out),
	                                &on, &iei, &done),
	                 SMSC_OK);
	assert_true(done);
	assert_int_equal(iei, 0x71);
	assert_int_equal(on, 20);
	smsc_reasm_free(r);
}

/* Bounds: sets, time, memory; 16-bit references; more than 8 segments refused. */
static void
test_reasm_bounds(void **state)
{
	struct smsc_reasm *r;
	uint8_t ud[140], out[2048], iei;
	size_t on;
	bool done;
	char src[16];

	(void)state;
	assert_int_equal(smsc_reasm_new(2, 400, 10000, &r), SMSC_OK);
	memset(ud, 0xEE, sizeof(ud));
	memcpy(ud, "\x05\x00\x03\x01\x02\x01", 6);
	for (int i = 0; i < 5; i++) {
		snprintf(src, sizeof(src), "849%d", i);
		assert_int_equal(smsc_reasm_add(r, src, ud, 140, (uint64_t)i, out, sizeof(out), &on,
		                                &iei, &done),
		                 SMSC_OK);
		assert_true(smsc_reasm_pending(r) <= 2);
	}
	assert_int_equal(smsc_reasm_expire(r, 10003), 1);
	assert_int_equal(smsc_reasm_expire(r, 10004), 1);
	assert_int_equal(smsc_reasm_pending(r), 0);
	memcpy(ud, "\x05\x00\x03\x01\x09\x01", 6); /* 9 segments */
	assert_int_equal(smsc_reasm_add(r, "1", ud, 140, 1, out, sizeof(out), &on, &iei, &done),
	                 SMSC_E_TOOBIG);
	memcpy(ud, "\x06\x08\x04\x12\x34\x02\x02", 7); /* IEI 08, 16-bit reference */
	assert_int_equal(smsc_reasm_add(r, "1", ud, 20, 1, out, sizeof(out), &on, &iei, &done),
	                 SMSC_OK);
	memcpy(ud, "\x06\x08\x04\x12\x34\x02\x01", 7);
	assert_int_equal(smsc_reasm_add(r, "1", ud, 20, 1, out, sizeof(out), &on, &iei, &done),
	                 SMSC_OK);
	assert_true(done);
	assert_int_equal(on, 26);
	memcpy(ud, "\x05\x00\x03\x01\x02\x03", 6); /* seq beyond total */
	assert_int_equal(smsc_reasm_add(r, "1", ud, 20, 1, out, sizeof(out), &on, &iei, &done),
	                 SMSC_E_STRUCT);
	ud[0] = 0x30; /* UDHL past the end */
	assert_int_equal(smsc_reasm_add(r, "1", ud, 20, 1, out, sizeof(out), &on, &iei, &done),
	                 SMSC_E_STRUCT);
	smsc_reasm_free(r);
}

static void
test_kv1_decode_rules(void **state)
{
	uint8_t b[64];
	struct smsc_kv1_req q;
	struct smsc_kv1_rsp p;
	size_t n;

	(void)state;
	/* minimal valid: 10, 13 (DigestInfo), 14, an unknown tag 7F skipped, 81-form length */
	n = hex2bin("0101 0000000000000009 100102 1381030102 03 1402 0841 7f00", b, sizeof(b));
	assert_int_equal(smsc_kv1_req_decode(b, n, &q), SMSC_OK);
	assert_int_equal(q.txn_ref, 9);
	assert_int_equal(q.key_ref, 2);
	assert_int_equal(q.digest_info_len, 3);
	assert_int_equal(q.dcs, 8);
	assert_int_equal(q.text_len, 1);
	n = hex2bin("0101 0000000000000009 100102 100102 1302010203 1402 0841", b, sizeof(b));
	assert_int_equal(smsc_kv1_req_decode(b, n, &q), SMSC_E_BADREQ); /* duplicate 10 */
	n = hex2bin("0101 0000000000000009 100102 130201", b, sizeof(b));
	assert_int_equal(smsc_kv1_req_decode(b, n, &q), SMSC_E_BADREQ); /* no 14 */
	n = hex2bin("0101 0000000000000009 100102 110101 1402 0841", b, sizeof(b));
	assert_int_equal(smsc_kv1_req_decode(b, n, &q), SMSC_E_BADREQ); /* 11 without 12 */
	n = hex2bin("0201 0000000000000009 100102 1302010203 1402 0841", b, sizeof(b));
	assert_int_equal(smsc_kv1_req_decode(b, n, &q), SMSC_E_BADREQ); /* version 2 */
	n = hex2bin("0101 0000000000000009 100102 13820500 1402 0841", b, sizeof(b));
	assert_int_equal(smsc_kv1_req_decode(b, n, &q), SMSC_E_BADREQ); /* length overruns */
	n = hex2bin("0181 0000000000000009 200103 210100", b, sizeof(b));
	assert_int_equal(smsc_kv1_rsp_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.status, SMSC_KV1_PIN_BLOCKED);
	assert_true(p.has_pin_tries);
	assert_int_equal(p.pin_tries, 0);
	n = hex2bin("0181 0000000000000009 210100", b, sizeof(b));
	assert_int_equal(smsc_kv1_rsp_decode(b, n, &p), SMSC_E_BADREQ); /* no status */
}

/* TELECOM.md 3.3 budget: 53 + text octets for SHA-256; 1 3DES MT holds 53 text octets. */
static void
test_text_fit(void **state)
{
	struct smsc_text_fit f;
	char t[400];
	uint8_t enc[400];
	size_t n;

	(void)state;
	memset(t, 'a', sizeof(t));
	assert_int_equal(smsc_text_fit(t, 60, 32, SMSC_ALG_3DES2, 2, &f), SMSC_OK);
	assert_int_equal(f.dcs, SMSC_DCS_GSM7_PACKED);
	assert_int_equal(f.text_octets, 53);
	assert_int_equal(f.request_octets, 106);
	assert_int_equal(f.n_sms, 1);
	assert_int_equal(smsc_text_fit(t, 61, 32, SMSC_ALG_3DES2, 2, &f), SMSC_OK);
	assert_int_equal(f.n_sms, 2);
	assert_int_equal(smsc_text_fit(t, 214, 32, SMSC_ALG_3DES2, 2, &f), SMSC_OK);
	assert_int_equal(f.request_octets, 242); /* 188 octets, long BER length */
	assert_int_equal(f.n_sms, 2);
	assert_true(f.fits);
	assert_int_equal(smsc_text_fit(t, 215, 32, SMSC_ALG_3DES2, 2, &f), SMSC_OK);
	assert_int_equal(f.n_sms, 3);
	assert_false(f.fits); /* the gateway answers 103 */
	/* Vietnamese needs UCS-2: 26 chars in one MT, 94 in two. */
	n = 0;
	for (int i = 0; i < 26; i++) {
		memcpy(t + n, "\xe1\xba\xa1", 3); /* U+1EA1 */
		n += 3;
	}
	assert_int_equal(smsc_text_fit(t, n, 32, SMSC_ALG_3DES2, 2, &f), SMSC_OK);
	assert_int_equal(f.dcs, SMSC_DCS_UCS2);
	assert_int_equal(f.chars, 26);
	assert_int_equal(f.n_sms, 1);
	memcpy(t + n, "\xe1\xba\xa1", 3);
	assert_int_equal(smsc_text_fit(t, n + 3, 32, SMSC_ALG_3DES2, 2, &f), SMSC_OK);
	assert_int_equal(f.n_sms, 2);
	/* escapes count twice; non-BMP and bad UTF-8 -> TEXT (north 101) */
	assert_int_equal(smsc_text_fit("{}\xe2\x82\xac", 5, 32, SMSC_ALG_AES, 2, &f), SMSC_OK);
	assert_int_equal(f.septets, 6);
	assert_int_equal(smsc_text_fit("\xf0\x9f\x98\x80", 4, 32, SMSC_ALG_AES, 2, &f),
	                 SMSC_E_TEXT);
	assert_int_equal(smsc_text_fit("\xc0\xaf", 2, 32, SMSC_ALG_AES, 2, &f), SMSC_E_TEXT);
	assert_int_equal(smsc_text_fit("\xed\xa0\x80", 3, 32, SMSC_ALG_AES, 2, &f), SMSC_E_TEXT);
	/* encodings: packed GSM-7 (TS 23.038 6.1.2.1.1), unpacked, UCS-2 */
	assert_int_equal(
	        smsc_text_encode("hellohello", 10, SMSC_DCS_GSM7_PACKED, enc, sizeof(enc), &n),
	        SMSC_OK);
	{
		char hex[64];

		bin2hex(enc, n, hex);
		assert_string_equal(hex, "e8329bfd4697d9ec37");
	}
	assert_int_equal(smsc_text_encode("\xc3\xa9", 2, SMSC_DCS_GSM7, enc, sizeof(enc), &n),
	                 SMSC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(enc[0], 0x05);
	assert_int_equal(smsc_text_encode("\xe1\xba\xa1", 3, SMSC_DCS_UCS2, enc, sizeof(enc), &n),
	                 SMSC_OK);
	assert_memory_equal(enc, "\x1e\xa1", 2);
	assert_int_equal(smsc_text_encode("\xe1\xba\xa1", 3, SMSC_DCS_GSM7, enc, sizeof(enc), &n),
	                 SMSC_E_TEXT);
}

static void
test_routes(void **state)
{
	static const char cfg[] =
	        "# carriers\n"
	        "carrier viettel host=127.0.0.1 port=2775 system_id=kyso password=pw tps=30 "
	        "window=10 dlr_id_style=hex_resp_dec_dlr mo_addr=8490999\n"
	        "carrier sim host=127.0.0.1 port=2776 system_id=gw password=pw "
	        "vendor_status=temporary\n"
	        "route 8496 viettel\n"
	        "route 849 sim   # the rest of 849x\n"
	        "route 84966 sim\n";
	struct smsc_route_table *t;
	const struct smsc_carrier *c;
	size_t line = 0;
	char num[20];

	(void)state;
	assert_int_equal(smsc_route_new(&t), SMSC_OK);
	assert_int_equal(smsc_route_load(t, cfg, strlen(cfg), &line), SMSC_OK);
	assert_int_equal(smsc_route_count(t), 3);
	assert_int_equal(smsc_route_lookup(t, "+84961234567", &c), SMSC_OK);
	assert_string_equal(c->name, "viettel");
	assert_int_equal(c->tps, 30);
	assert_int_equal(c->id_style, SMSC_ID_HEX_RESP_DEC_DLR);
	assert_int_equal(smsc_route_lookup(t, "0966123456", &c), SMSC_OK);
	assert_string_equal(c->name, "sim"); /* longest prefix 84966 */
	assert_int_equal(c->vendor_class, SMSC_CLASS_TEMP);
	assert_int_equal(smsc_route_lookup(t, "84912345678", &c), SMSC_OK);
	assert_string_equal(c->name, "sim");
	assert_int_equal(smsc_route_lookup(t, "84812345678", &c), SMSC_E_NOTFOUND);
	assert_int_equal(smsc_route_lookup(t, "84-12", &c), SMSC_E_INVAL);
	assert_int_equal(smsc_msisdn_normalise("0912345678", "84", "0", num, sizeof(num)), SMSC_OK);
	assert_string_equal(num, "84912345678");
	smsc_route_free(t);
	assert_int_equal(smsc_route_new(&t), SMSC_OK);
	assert_int_equal(
	        smsc_route_load(t, "carrier a host=1 port=1 system_id=x\nroute 84 b\n", 47, &line),
	        SMSC_E_CONFIG);
	assert_int_equal(line, 2); /* unknown carrier */
	assert_int_equal(smsc_route_load(t, "carrier z host=1 port=99999 system_id=x\n", 40, &line),
	                 SMSC_E_CONFIG);
	assert_int_equal(
	        smsc_route_load(t, "carrier y host=1 port=9 system_id=x bogus=1\n", 44, &line),
	        SMSC_E_CONFIG);
	smsc_route_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ota_algorithms),
		cmocka_unit_test(test_ota_rc_and_errors),
		cmocka_unit_test(test_ota_counter_and_capacity),
		cmocka_unit_test(test_concat_roundtrip),
		cmocka_unit_test(test_reasm_bounds),
		cmocka_unit_test(test_kv1_decode_rules),
		cmocka_unit_test(test_text_fit),
		cmocka_unit_test(test_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
