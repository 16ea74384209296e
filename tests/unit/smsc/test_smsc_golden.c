/* Golden vectors of TELECOM.md 1.7 and 2.5: pySim OTA commands and PoRs byte for byte, the
 * corrected pySim vectors, the derived kyso-v1 packets, and the SMPP captures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include <kyso/smsc.h>

#include "smsc_test_util.h"

static const uint8_t apdu_sja5[] = { 0x00, 0xa4, 0x00, 0x04, 0x02, 0x3f, 0x00 };
static const uint8_t apdu_b0[] = { 0x00, 0xa4, 0x00, 0x00, 0x02, 0x3f, 0x00 };
static const uint8_t por_data[] = { 0x01, 0x61, 0x32 };
static const uint8_t tar_b00011[] = { 0xb0, 0x00, 0x11 };

static void
keys_from(struct smsc_ota_keys *k, const char *kic, const char *kid)
{
	memset(k, 0, sizeof(*k));
	k->kic_len = hex2bin(kic, k->kic, sizeof(k->kic));
	k->kid_len = hex2bin(kid, k->kid, sizeof(k->kid));
}

static void
keys_3des(struct smsc_ota_keys *k)
{
	keys_from(k, "300102030405060708090a0b0c0d0e0f", "301102030405060708090a0b0c0d0e0f");
}

static void
keys_aes(struct smsc_ota_keys *k)
{
	keys_from(k, "200102030405060708090a0b0c0d0e0f", "201102030405060708090a0b0c0d0e0f");
}

static void
expect_hex(const uint8_t *b, size_t n, const char *hex)
{
	char got[4096];

	assert_true(n * 2 < sizeof(got));
	bin2hex(b, n, got);
	assert_string_equal(got, hex);
}

struct cmd_case {
	uint8_t spi2;
	uint8_t kic_kid;
	bool aes;
	const char *cmd;
	const char *por; /* with its 02 71 00 UDH, as published */
};

static const struct cmd_case sja5[] = {
	{ 0x19, 0x35, false, "00201506193535b00011ae733256918d050b87c94fbfe12e4dc402f262c41cf67f2f",
	  "027100001c12b000118bb989492c632529326a2f4681feb37c825bc9021c9f6d0b" },
	{ 0x09, 0x35, false, "00201506093535b00011c49ac91ab8159ba5b83a54fb6385e0a5e31694f8b215fafc",
	  "027100001612b0001100000000000000b5bcd6353a421fae016132" },
	{ 0x01, 0x35, false, "00201506013535b000113190be334900f52b025f3f7eddfe868e96ebf310023b7769",
	  "027100000e0ab0001100000000000000016132" },
	{ 0x19, 0x22, true,
	  "00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058",
	  "027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f" },
};

/* pySim SJA5 commands reproduced byte for byte (3DES and AES). */
static void
test_pysim_commands(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sja5) / sizeof(sja5[0]); i++) {
		struct smsc_ota_keys k;
		struct smsc_ota_cmd c = { .spi1 = 0x06,
			                  .spi2 = sja5[i].spi2,
			                  .kic = sja5[i].kic_kid,
			                  .kid = sja5[i].kic_kid,
			                  .cntr = 0,
			                  .data = apdu_sja5,
			                  .data_len = sizeof(apdu_sja5) };
		uint8_t out[256];
		size_t n;

		sja5[i].aes ? keys_aes(&k) : keys_3des(&k);
		memcpy(c.tar, tar_b00011, 3);
		assert_int_equal(smsc_ota_cmd_build(&c, &k, out, sizeof(out), &n), SMSC_OK);
		expect_hex(out, n, sja5[i].cmd);
		smsc_ota_keys_wipe(&k);
	}
}

/* The same commands opened on the card side: deciphered, CC verified, APDU recovered. */
static void
test_pysim_commands_open(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sja5) / sizeof(sja5[0]); i++) {
		struct smsc_ota_keys k;
		struct smsc_ota_cmd c;
		uint8_t pkt[256], work[256];
		size_t n = hex2bin(sja5[i].cmd, pkt, sizeof(pkt));

		sja5[i].aes ? keys_aes(&k) : keys_3des(&k);
		assert_int_equal(smsc_ota_cmd_open(pkt, n, &k, work, sizeof(work), &c), SMSC_OK);
		assert_int_equal(c.data_len, sizeof(apdu_sja5));
		assert_memory_equal(c.data, apdu_sja5, sizeof(apdu_sja5));
		assert_int_equal(c.cntr, 0);
		assert_memory_equal(c.tar, tar_b00011, 3);
		pkt[n - 1] ^= 0x01; /* one flipped bit in the last cipher block */
		assert_int_equal(smsc_ota_cmd_open(pkt, n, &k, work, sizeof(work), &c), SMSC_E_CC);
	}
}

/* PoRs: built byte for byte, then decrypted and CC-verified on the gateway side. */
static void
test_pysim_pors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sja5) / sizeof(sja5[0]); i++) {
		struct smsc_ota_keys k;
		struct smsc_ota_rsp r = { .cntr = 0, .sts = 0, .data = por_data, .data_len = 3 };
		struct smsc_ota_rsp got;
		uint8_t out[256], pub[256], work[256];
		size_t n, pn = hex2bin(sja5[i].por, pub, sizeof(pub));
		uint8_t kk = sja5[i].kic_kid;

		sja5[i].aes ? keys_aes(&k) : keys_3des(&k);
		memcpy(r.tar, tar_b00011, 3);
		assert_int_equal(
		        smsc_ota_rsp_build(sja5[i].spi2, kk, kk, &r, &k, out, sizeof(out), &n),
		        SMSC_OK);
		assert_int_equal(n + 3, pn);
		assert_memory_equal(pub, "\x02\x71\x00", 3);
		assert_memory_equal(out, pub + 3, n);
		assert_int_equal(smsc_ota_rsp_open(pub + 3, pn - 3, sja5[i].spi2, kk, kk, &k, work,
		                                   sizeof(work), &got),
		                 SMSC_OK);
		assert_int_equal(got.sts, 0);
		assert_int_equal(got.data_len, 3);
		assert_memory_equal(got.data, por_data, 3);
		assert_memory_equal(got.tar, tar_b00011, 3);
		if (sja5[i].spi2 & SMSC_SPI2_POR_CC) {
			pub[pn - 1] ^= 0x80;
			assert_int_equal(smsc_ota_rsp_open(pub + 3, pn - 3, sja5[i].spi2, kk, kk,
			                                   &k, work, sizeof(work), &got),
			                 SMSC_E_CC);
		}
	}
}

/* Second set: SPI 04 19 (cipher, no CC) and a clear+CC PoR that must fail with 02 612f. */
static void
test_second_set(void **state)
{
	struct smsc_ota_keys k;
	struct smsc_ota_cmd c = { .spi1 = 0x04,
		                  .spi2 = 0x19,
		                  .kic = 0x35,
		                  .kid = 0x35,
		                  .cntr = 0,
		                  .data = apdu_b0,
		                  .data_len = sizeof(apdu_b0) };
	struct smsc_ota_rsp got;
	uint8_t out[256], por[128], work[128];
	size_t n, pn;

	(void)state;
	keys_from(&k, "c21dd66acac13cb3bc8b331b24afb57b", "12110c78e678c25408233076aa033615");
	memcpy(c.tar, "\xb0\x00\x00", 3);
	assert_int_equal(smsc_ota_cmd_build(&c, &k, out, sizeof(out), &n), SMSC_OK);
	expect_hex(out, n, "00180d04193535b00000e3ec80a849b554421276af3883927c20");
	pn = hex2bin("027100001612b000110000000000000055f47118381175fb01612f", por, sizeof(por));
	assert_int_equal(
	        smsc_ota_rsp_open(por + 3, pn - 3, 0x09, 0x35, 0x35, &k, work, sizeof(work), &got),
	        SMSC_OK);
	assert_int_equal(got.data_len, 3);
	assert_memory_equal(got.data, "\x01\x61\x2f", 3);
	por[pn - 3] = 0x02; /* data 02 612f: the CC no longer matches */
	assert_int_equal(
	        smsc_ota_rsp_open(por + 3, pn - 3, 0x09, 0x35, 0x35, &k, work, sizeof(work), &got),
	        SMSC_E_CC);
}

/* pySim's test_cmd_3des_signed / _none lack the CPL; these are the corrected packets. */
static void
test_pysim_corrected(void **state)
{
	struct smsc_ota_keys k;
	struct smsc_ota_cmd c = { .spi2 = 0x19,
		                  .kic = 0x35,
		                  .kid = 0x35,
		                  .cntr = 0,
		                  .data = apdu_b0,
		                  .data_len = sizeof(apdu_b0) };
	uint8_t out[256];
	size_t n;

	(void)state;
	keys_from(&k, "c21dd66acac13cb3bc8b331b24afb57b", "12110c78e678c25408233076aa033615");
	memcpy(c.tar, "\xb0\x00\x00", 3);
	c.spi1 = 0x02;
	assert_int_equal(smsc_ota_cmd_build(&c, &k, out, sizeof(out), &n), SMSC_OK);
	expect_hex(out, n, "001d1502193535b00000000000000000072ea17bdb72060e00a40000023f00");
	c.spi1 = 0x00;
	assert_int_equal(smsc_ota_cmd_build(&c, &k, out, sizeof(out), &n), SMSC_OK);
	expect_hex(out, n, "00150d00193535b0000000000000000000a40000023f00");
}

static const char kv1_req_hex[] =
        "010100112233445566771001011101011220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb41"
        "0ff61f20015ad1412044b79204844203432206769612031307472";

/* Derived kyso-v1 request and its packet (SPI 16 39, TAR 4B5953, CNTR 1, PCNTR 4). */
static void
test_kv1_derived_command(void **state)
{
	struct smsc_ota_keys k;
	struct smsc_kv1_req req;
	uint8_t hash[32], payload[256], enc[256], out[256], work[256];
	size_t hl, n, pl;
	struct smsc_ota_cmd c = { .spi1 = 0x16, .spi2 = 0x39, .kic = 0x35, .kid = 0x35, .cntr = 1 };
	struct smsc_ota_cmd opened;
	const char text[] = "Ky HD 42 gia 10tr";

	(void)state;
	keys_3des(&k);
	hl = hex2bin("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hash, 32);
	assert_int_equal(smsc_text_encode(text, strlen(text), SMSC_DCS_GSM7, enc, sizeof(enc), &n),
	                 SMSC_OK);
	memset(&req, 0, sizeof(req));
	req.txn_ref = 0x0011223344556677ull;
	req.key_ref = 1;
	req.hash_alg = 1;
	req.hash = hash;
	req.hash_len = hl;
	req.dcs = SMSC_DCS_GSM7;
	req.text = enc;
	req.text_len = n;
	assert_int_equal(smsc_kv1_req_encode(&req, payload, sizeof(payload), &pl), SMSC_OK);
	expect_hex(payload, pl, kv1_req_hex);
	memcpy(c.tar, "KYS", 3);
	c.data = payload;
	c.data_len = pl;
	assert_int_equal(smsc_ota_cmd_build(&c, &k, out, sizeof(out), &n), SMSC_OK);
	expect_hex(
	        out, n,
	        "006015163935354b595397f294160bd1a069d02cd7886f6f83bfbb30ee15fe50e298b88e15d9d61ca"
	        "568f175eac0efff5004163167d059aa8a2446dc353a9a3526fdabbcb9fd3dbaafff8a10fcac1b2346"
	        "0cf9928e978a3f1afc2ea32d6aaeb44b53");
	assert_int_equal(smsc_ota_cmd_open(out, n, &k, work, sizeof(work), &opened), SMSC_OK);
	assert_int_equal(opened.pcntr, 4);
	assert_int_equal(opened.cntr, 1);
	assert_int_equal(opened.data_len, pl);
	assert_memory_equal(opened.data, payload, pl);
}

/* Derived kyso-v1 response: 105-octet ciphered+CC PoR, PCNTR 2, CC 69414e8a92251b4b. */
static void
test_kv1_derived_response(void **state)
{
	struct smsc_ota_keys k;
	struct smsc_kv1_rsp rsp, back;
	struct smsc_ota_rsp r = { .tar = { 'K', 'Y', 'S' }, .cntr = 1, .sts = 0 };
	struct smsc_ota_rsp got;
	uint8_t sig[64], payload[256], out[256], work[256];
	size_t pl, n;
	char hex[600];

	(void)state;
	keys_3des(&k);
	for (int i = 0; i < 64; i++)
		sig[i] = (uint8_t)(0x40 + i);
	memset(&rsp, 0, sizeof(rsp));
	rsp.txn_ref = 0x0011223344556677ull;
	rsp.status = 0;
	rsp.sig = sig;
	rsp.sig_len = 64;
	assert_int_equal(smsc_kv1_rsp_encode(&rsp, payload, sizeof(payload), &pl), SMSC_OK);
	bin2hex(payload, 16, hex);
	assert_string_equal(hex, "01810011223344556677200100224040");
	r.data = payload;
	r.data_len = pl;
	assert_int_equal(smsc_ota_rsp_build(0x39, 0x35, 0x35, &r, &k, out, sizeof(out), &n),
	                 SMSC_OK);
	assert_int_equal(n + 3, 105);
	assert_int_equal(smsc_ota_rsp_open(out, n, 0x39, 0x35, 0x35, &k, work, sizeof(work), &got),
	                 SMSC_OK);
	assert_int_equal(got.pcntr, 2);
	assert_int_equal(got.cntr, 1);
	assert_int_equal(got.sts, 0);
	/* The CC as sent: decipher CNTR..end (3DES-2key CBC, zero IV) independently. */
	{
		static const uint8_t iv[8];
		uint8_t plain[128];
		int l1 = 0, l2 = 0;
		EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

		assert_non_null(ctx);
		assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_des_ede_cbc(), NULL, k.kic, iv), 1);
		EVP_CIPHER_CTX_set_padding(ctx, 0);
		assert_int_equal(EVP_DecryptUpdate(ctx, plain, &l1, out + 6, (int)(n - 6)), 1);
		assert_int_equal(EVP_DecryptFinal_ex(ctx, plain + l1, &l2), 1);
		EVP_CIPHER_CTX_free(ctx);
		assert_int_equal(l1 + l2, 96);
		bin2hex(plain + 7, 8, hex);
		assert_string_equal(hex, "69414e8a92251b4b");
	}
	assert_int_equal(smsc_kv1_rsp_decode(got.data, got.data_len, &back), SMSC_OK);
	assert_int_equal(back.txn_ref, rsp.txn_ref);
	assert_int_equal(back.sig_len, 64);
	assert_memory_equal(back.sig, sig, 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pysim_commands),
		cmocka_unit_test(test_pysim_commands_open),
		cmocka_unit_test(test_pysim_pors),
		cmocka_unit_test(test_second_set),
		cmocka_unit_test(test_pysim_corrected),
		cmocka_unit_test(test_kv1_derived_command),
		cmocka_unit_test(test_kv1_derived_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
