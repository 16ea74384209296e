/* SMPP codec: the golden captures of TELECOM.md 1.7 decoded and re-encoded byte for byte, the
 * robustness rules of 1.6, status classes of 1.4, and DLR parsing of 1.3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/smsc.h>

#include "smsc_test_util.h"

#define DLR_TEXT                                                                                   \
	"id:1715004 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD "   \
	"err:000 text:"

static const char *const captures[] = {
	"0000001b 00000009 00000000 00000001 677700 707700 00 34 00 00 00",
	"00000018 80000009 00000000 00000001 53494d534d534300",
	("00000056 00000004 00000000 00000002 00 0500504b49475700 0101383439303030303030303100"
	 "40 7f 00 00 00 01 00 f6 00 25"
	 "027000 00201506013535b000113190be334900f52b025f3f7eddfe868e96ebf310023b7769"),
	"00000017 80000004 00000000 00000002 31413242334300",
	"00000010 80000004 00000058 00000003",
	("00000044 00000005 00000000 00000008 00 0101383439303030303030303100 0500504b49475700"
	 "40 7f 00 00 00 00 00 f6 00 13 027100000e0ab0001100000000000000016132"),
	"00000011 80000005 00000000 00000007 00",
};

/* The DLR capture, with its text spelled out. */
static size_t
dlr_capture(uint8_t *b, size_t cap)
{
	uint8_t *p = b;
	size_t n = hex2bin("000000a4 00000005 00000000 00000007 00 0101383439303030303030303100 "
	                   "0500504b49475700 04 00 00 00 00 00 00 00 00 63",
	                   b, cap);

	p += n;
	memcpy(p, DLR_TEXT, strlen(DLR_TEXT));
	p += strlen(DLR_TEXT);
	p += hex2bin("001e0007314132423343 00 0427000102", p, cap - (size_t)(p - b));
	return (size_t)(p - b);
}

static void
roundtrip(const uint8_t *b, size_t n, struct smsc_pdu *p)
{
	uint8_t out[512];
	size_t on, fl;

	assert_int_equal(smsc_pdu_frame(b, n, SMSC_PDU_MAX_DEF, &fl), SMSC_OK);
	assert_int_equal(fl, n);
	assert_int_equal(smsc_pdu_decode(b, n, p), SMSC_OK);
	assert_int_equal(smsc_pdu_encode(p, out, sizeof(out), &on), SMSC_OK);
	assert_int_equal(on, n);
	assert_memory_equal(out, b, n);
}

static void
test_captures_roundtrip(void **state)
{
	uint8_t b[512];
	struct smsc_pdu p;
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(captures) / sizeof(captures[0]); i++) {
		n = hex2bin(captures[i], b, sizeof(b));
		assert_true(n != (size_t)-1);
		roundtrip(b, n, &p);
	}
	n = dlr_capture(b, sizeof(b));
	assert_int_equal(n, 0xa4);
	roundtrip(b, n, &p);
}

static void
test_captures_fields(void **state)
{
	uint8_t b[512];
	struct smsc_pdu p;
	struct smsc_dlr d;
	size_t n;

	(void)state;
	n = hex2bin(captures[0], b, sizeof(b));
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.command_id, SMSC_CMD_BIND_TRX);
	assert_int_equal(p.system_id_len, 2);
	assert_memory_equal(p.system_id, "gw", 2);
	assert_memory_equal(p.password, "pw", 2);
	assert_int_equal(p.interface_version, 0x34);
	n = hex2bin(captures[2], b, sizeof(b));
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.esm_class, 0x40);
	assert_int_equal(p.protocol_id, 0x7f);
	assert_int_equal(p.data_coding, 0xf6);
	assert_int_equal(p.sm_length, 0x25);
	assert_memory_equal(p.short_message, "\x02\x70\x00", 3);
	n = hex2bin(captures[3], b, sizeof(b));
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.message_id_len, 6);
	assert_memory_equal(p.message_id, "1A2B3C", 6);
	n = hex2bin(captures[4], b, sizeof(b));
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.command_status, SMSC_ST_RTHROTTLED);
	assert_false(p.has_body);
	n = dlr_capture(b, sizeof(b));
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.tlv_count, 2);
	assert_int_equal(smsc_dlr_parse(&p, &d), SMSC_OK);
	assert_string_equal(d.id, "1A2B3C"); /* TLV 001E wins over the decimal text id */
	assert_int_equal(d.state, SMSC_MS_DELIVERED);
	assert_string_equal(d.err, "000");
}

static void
expect_decode(const char *hex, enum smsc_err want)
{
	uint8_t b[600];
	struct smsc_pdu p;
	size_t n = hex2bin(hex, b, sizeof(b));

	assert_true(n != (size_t)-1 && n >= 16);
	b[0] = 0; /* command_length patched to the octets given */
	b[1] = 0;
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	assert_int_equal(smsc_pdu_decode(b, n, &p), want);
}

/* TELECOM.md 1.6: strict where safety needs it. */
static void
test_strict(void **state)
{
	uint8_t b[600];
	struct smsc_pdu p;
	size_t n, fl;

	(void)state;
	/* sm_length 255 (the OpenSIPS overflow), and sm_length beyond what is left. */
	memset(b, 0, sizeof(b));
	n = hex2bin(
	        "00000000 00000004 00000000 00000002 00 0101 3100 0101 3200 00 00 00 00 00 00 00"
	        " f6 00 ff",
	        b, sizeof(b));
	memset(b + n, 0x41, 255);
	b[2] = (uint8_t)((n + 255) >> 8);
	b[3] = (uint8_t)(n + 255);
	assert_int_equal(smsc_pdu_decode(b, n + 255, &p), SMSC_E_STRUCT);
	b[n - 1] = 0x05; /* says 5, but 255 octets follow: trailing bytes read as a bad TLV */
	assert_int_equal(smsc_pdu_decode(b, n + 255, &p), SMSC_E_STRUCT);
	b[n - 1] = 0x10; /* 16 claimed, 4 present */
	b[2] = 0;
	b[3] = (uint8_t)(n + 4);
	assert_int_equal(smsc_pdu_decode(b, n + 4, &p), SMSC_E_STRUCT);
	/* system_id with no NUL inside its 16 octets */
	expect_decode("00000027 00000009 00000000 00000001 4141414141414141414141414141414141 00 00"
	              " 34 00 00 00",
	              SMSC_E_STRUCT);
	/* enquire_link with a body; TLV header cut short; TLV longer than what is left */
	expect_decode("00000011 00000015 00000000 00000001 00", SMSC_E_STRUCT);
	expect_decode("0000001b 80000009 00000000 00000001 4100 0210 00", SMSC_E_STRUCT);
	expect_decode("0000001e 80000009 00000000 00000001 4100 0210 0005 3434", SMSC_E_STRUCT);
	/* command_id outside our subset: data_sm */
	expect_decode("00000010 00000103 00000000 00000001", SMSC_E_CMDID);
	/* command_length bounds: < 16, > max, and an HTTP peer */
	n = hex2bin("0000000f 00000015 00000000 00000001", b, sizeof(b));
	assert_int_equal(smsc_pdu_frame(b, n, SMSC_PDU_MAX_DEF, &fl), SMSC_E_LENGTH);
	n = hex2bin("00001001 00000015 00000000 00000001", b, sizeof(b));
	assert_int_equal(smsc_pdu_frame(b, n, SMSC_PDU_MAX_DEF, &fl), SMSC_E_LENGTH);
	assert_int_equal(smsc_pdu_frame((const uint8_t *)"GET / HTTP/1.1\r\n", 16, 4096, &fl),
	                 SMSC_E_LENGTH);
	assert_int_equal(fl, 0x47455420);
	n = hex2bin("00000010 000000", b, sizeof(b));
	assert_int_equal(smsc_pdu_frame(b, n, SMSC_PDU_MAX_DEF, &fl), SMSC_E_SHORT);
}

/* Lenient where real SMSCs are sloppy. */
static void
test_lenient(void **state)
{
	uint8_t b[600];
	struct smsc_pdu p;
	size_t n;

	(void)state;
	/* vendor status, header only; error resp with a junk body; reserved TON/NPI */
	n = hex2bin("00000010 80000004 00000401 00000009", b, sizeof(b));
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.command_status, 0x401);
	expect_decode("00000013 80000004 00000045 00000009 ffff41", SMSC_OK);
	expect_decode("00000013 80000015 00000008 00000009 ffff41", SMSC_OK);
	n = hex2bin("0000002e 00000005 00000000 00000002 00 0713 3100 1f1f 3200 00 00 00"
	            " 00 303030303030303030303030303030520000 00 00 00 00",
	            b, sizeof(b));
	b[3] = (uint8_t)n;
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.source_addr_ton, 7);
	assert_int_equal(p.validity_period_len, 16);
	/* alert_notification is accepted (and ignored by the session) */
	expect_decode("00000015 00000102 00000000 00000003 0000 0000 00", SMSC_OK);
	/* a submit_sm_resp OK with no body at all */
	expect_decode("00000010 80000004 00000000 00000009", SMSC_OK);
}

static void
test_tlvs_kept(void **state)
{
	uint8_t b[1024], out[1024];
	struct smsc_pdu p;
	size_t n, on;

	(void)state;
	n = hex2bin("00000000 80000009 00000000 00000001 4100", b, sizeof(b));
	for (int i = 0; i < 40; i++) { /* 40 unknown TLVs: 32 kept in order, 8 counted */
		b[n++] = 0x14;
		b[n++] = (uint8_t)i;
		b[n++] = 0;
		b[n++] = 1;
		b[n++] = (uint8_t)i;
	}
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	assert_int_equal(smsc_pdu_decode(b, n, &p), SMSC_OK);
	assert_int_equal(p.tlv_count, SMSC_PDU_MAX_TLVS);
	assert_int_equal(p.tlv_dropped, 8);
	assert_int_equal(p.tlv[5].tag, 0x1405);
	assert_int_equal(p.tlv[5].val[0], 5);
	assert_non_null(smsc_pdu_tlv(&p, 0x141f));
	assert_null(smsc_pdu_tlv(&p, 0x1420));
	assert_int_equal(smsc_pdu_encode(&p, out, sizeof(out), &on), SMSC_OK);
	assert_int_equal(on, 16 + 2 + 32 * 5);
}

static void
test_encode_limits(void **state)
{
	uint8_t out[600], sm[255];
	struct smsc_pdu p;
	size_t n;

	(void)state;
	memset(&p, 0, sizeof(p));
	memset(sm, 0x41, sizeof(sm));
	p.command_id = SMSC_CMD_SUBMIT_SM;
	p.dest_addr = "8490000000012345678901"; /* 22 digits: over 20 */
	p.dest_addr_len = strlen(p.dest_addr);
	assert_int_equal(smsc_pdu_encode(&p, out, sizeof(out), &n), SMSC_E_INVAL);
	p.dest_addr_len = 11;
	p.short_message = sm;
	p.sm_length = 255;
	assert_int_equal(smsc_pdu_encode(&p, out, sizeof(out), &n), SMSC_E_INVAL);
	p.sm_length = 254;
	assert_int_equal(smsc_pdu_encode(&p, out, 100, &n), SMSC_E_SPACE);
	assert_int_equal(smsc_pdu_encode(&p, out, sizeof(out), &n), SMSC_OK);
	p.command_id = 0x103;
	assert_int_equal(smsc_pdu_encode(&p, out, sizeof(out), &n), SMSC_E_INVAL);
	/* submit_sm_resp with an error status: header only */
	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_SUBMIT_SM_RESP;
	p.command_status = 0x58;
	p.message_id = "X";
	p.message_id_len = 1;
	assert_int_equal(smsc_pdu_encode(&p, out, sizeof(out), &n), SMSC_OK);
	assert_int_equal(n, 16);
}

static void
test_status_class(void **state)
{
	(void)state;
	assert_int_equal(smsc_status_class(0x00, 0), SMSC_CLASS_OK);
	assert_int_equal(smsc_status_class(0x02, 0), SMSC_CLASS_OUR_BUG);
	assert_int_equal(smsc_status_class(0x04, 0), SMSC_CLASS_REBIND);
	assert_int_equal(smsc_status_class(0x05, 0), SMSC_CLASS_ALREADY);
	assert_int_equal(smsc_status_class(0x14, 0), SMSC_CLASS_TEMP);
	assert_int_equal(smsc_status_class(0x08, 0), SMSC_CLASS_TEMP);
	assert_int_equal(smsc_status_class(0x64, 0), SMSC_CLASS_TEMP);
	assert_int_equal(smsc_status_class(0x58, 0), SMSC_CLASS_THROTTLED);
	assert_int_equal(smsc_status_class(0x0E, 0), SMSC_CLASS_CONFIG);
	assert_int_equal(smsc_status_class(0x62, 0), SMSC_CLASS_CONFIG);
	assert_int_equal(smsc_status_class(0x45, 0), SMSC_CLASS_PERMANENT);
	assert_int_equal(smsc_status_class(0xFE, 0), SMSC_CLASS_PERMANENT);
	assert_int_equal(smsc_status_class(0x400, 0), SMSC_CLASS_PERMANENT);
	assert_int_equal(smsc_status_class(0x4FF, SMSC_CLASS_TEMP), SMSC_CLASS_TEMP);
	assert_int_equal(smsc_status_class(0x500, SMSC_CLASS_TEMP), SMSC_CLASS_PERMANENT);
	assert_int_equal(smsc_status_class(0x1234, 0), SMSC_CLASS_PERMANENT);
}

static void
test_dlr_text(void **state)
{
	struct smsc_dlr d;
	const char *t1 =
	        "id:0A1B2C sub:001 dlvrd:000 Submit date:240101120000 Done Date:240101120100"
	        " Stat:UNDELIV Err:069 Text:whatever id:x";
	const char *bad_date = "id:1 submit date:24010112 stat:DELIVRD";
	char longid[100] = "id:";

	(void)state;
	assert_int_equal(smsc_dlr_parse_text((const uint8_t *)t1, strlen(t1), &d), SMSC_OK);
	assert_string_equal(d.id, "0A1B2C");
	assert_int_equal(d.state, SMSC_MS_UNDELIVERABLE);
	assert_string_equal(d.err, "069");
	assert_int_equal(smsc_dlr_parse_text((const uint8_t *)bad_date, strlen(bad_date), &d),
	                 SMSC_E_STRUCT);
	memset(longid + 3, '7', 65);
	assert_int_equal(smsc_dlr_parse_text((const uint8_t *)longid, strlen(longid), &d),
	                 SMSC_E_STRUCT);
	assert_int_equal(smsc_dlr_parse_text((const uint8_t *)"stat:DELIVRD", 12, &d),
	                 SMSC_E_NOTFOUND);
	assert_string_equal(smsc_msg_state_name(SMSC_MS_REJECTED), "REJECTD");
}

static void
test_msgid_values(void **state)
{
	uint64_t h, d;
	bool hok, dok;

	(void)state;
	smsc_msgid_values("1A2B3C", 6, &h, &hok, &d, &dok);
	assert_true(hok);
	assert_false(dok);
	assert_int_equal(h, 1715004);
	smsc_msgid_values("1715004", 7, &h, &hok, &d, &dok);
	assert_true(hok && dok);
	assert_int_equal(d, 1715004);
	smsc_msgid_values("99999999999999999999", 20, &h, &hok, &d, &dok); /* > u64 */
	assert_false(hok);
	assert_false(dok);
	smsc_msgid_values("abc-1", 5, &h, &hok, &d, &dok);
	assert_false(hok || dok);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captures_roundtrip),
		cmocka_unit_test(test_captures_fields),
		cmocka_unit_test(test_strict),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_tlvs_kept),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_status_class),
		cmocka_unit_test(test_dlr_text),
		cmocka_unit_test(test_msgid_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
