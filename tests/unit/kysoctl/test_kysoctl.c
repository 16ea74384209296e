/* kysoctl's pure parts: options, times (Asia/Ho_Chi_Minh), report periods (REGULATION.md F3:
 * half-years, years, ranges), the usage report table in CSV and HTML with its total row, and
 * the SIM provisioning-file reader (TELECOM.md section 5.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_kysoctl_int.h"

static int32_t
day(int y, int m, int d)
{
	int32_t n = -1;

	assert_int_equal(pol_day_from_date(y, m, d, &n), POL_OK);
	return n;
}

/* ---- options ---- */

static void
test_parse_forms(void **state)
{
	const char *org = NULL, *name = NULL, *pos[1] = { NULL };
	bool flag = false, json = false;
	json_t *list = json_array();
	struct kc_opt o[] = {
		{ "org", KC_STR, &org, NULL, NULL, true, false },
		{ "name", KC_STR, &name, NULL, NULL, false, false },
		{ "managing-agency", KC_FLAG, NULL, &flag, NULL, false, false },
		{ "classes", KC_LIST, NULL, NULL, list, false, false },
	};
	char *argv[] = { "add",    "--org=a",   "--name", "Tên có dấu",        "--classes", "x,y",
		         "--json", "--classes", "z",      "--managing-agency", "POSITIONAL" };
	char err[128] = "";

	(void)state;
	assert_true(kc_parse(11, argv, 1, o, 4, pos, 1, &json, err, sizeof(err)));
	assert_string_equal(org, "a");
	assert_string_equal(name, "Tên có dấu");
	assert_true(flag);
	assert_true(json);
	assert_string_equal(pos[0], "POSITIONAL");
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(json_string_value(json_array_get(list, 2)), "z");
	json_decref(list);
}

static void
expect_parse_error(int argc, char **argv, const char *want)
{
	const char *org = NULL;
	bool flag = false;
	struct kc_opt o[] = {
		{ "org", KC_STR, &org, NULL, NULL, true, false },
		{ "draft", KC_FLAG, NULL, &flag, NULL, false, false },
	};
	char err[128] = "";

	assert_false(kc_parse(argc, argv, 0, o, 2, NULL, 0, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, want));
}

static void
test_parse_errors(void **state)
{
	char *unknown[] = { "--org", "a", "--colour", "red" };
	char *missing_value[] = { "--org" };
	char *missing_required[] = { "--draft" };
	char *flag_value[] = { "--org", "a", "--draft=yes" };
	char *stray[] = { "--org", "a", "stray" };
	char *json_not_taken[] = { "--org", "a", "--json" }; /* json == NULL: not accepted */

	(void)state;
	expect_parse_error(4, unknown, "unknown option '--colour'");
	expect_parse_error(1, missing_value, "--org needs a value");
	expect_parse_error(1, missing_required, "--org is required");
	expect_parse_error(3, flag_value, "--draft takes no value");
	expect_parse_error(3, stray, "unexpected argument 'stray'");
	expect_parse_error(3, json_not_taken, "unknown option '--json'");
}

static void
test_i64(void **state)
{
	int64_t v = 0;

	(void)state;
	assert_true(kc_parse_i64("42", 1, 100, &v));
	assert_int_equal(v, 42);
	assert_false(kc_parse_i64("0", 1, 100, &v));
	assert_false(kc_parse_i64("101", 1, 100, &v));
	assert_false(kc_parse_i64("4x", 1, 100, &v));
	assert_false(kc_parse_i64(" 4", 1, 100, &v));
	assert_false(kc_parse_i64("", 1, 100, &v));
	assert_false(kc_parse_i64(NULL, 1, 100, &v));
	assert_false(kc_parse_i64("99999999999999999999", 1, INT64_MAX, &v));
}

/* ---- times ---- */

static void
test_times(void **state)
{
	int64_t t = 0;
	char buf[40];

	(void)state;
	/* A date alone is local midnight: 2026-01-01T00:00+07:00 = 2025-12-31T17:00Z. */
	assert_true(kc_parse_time("2026-01-01", &t));
	assert_int_equal(t, 1767200400);
	assert_true(kc_parse_time("2026-01-01T00:00:00Z", &t));
	assert_int_equal(t, 1767225600);
	assert_true(kc_parse_time("2026-01-01T09:30+02:00", &t));
	assert_int_equal(t, 1767225600 + 7 * 3600 + 1800);
	assert_true(kc_parse_time("2026-01-01 07:00", &t)); /* local */
	assert_int_equal(t, 1767225600);
	kc_format_time(1767225600, buf, sizeof(buf));
	assert_string_equal(buf, "2026-01-01T07:00:00+07:00");
	kc_format_time(1767200399, buf, sizeof(buf)); /* one second before local midnight */
	assert_string_equal(buf, "2025-12-31T23:59:59+07:00");
	assert_true(kc_parse_time(buf, &t));
	assert_int_equal(t, 1767200399);
	assert_false(kc_parse_time("2026-02-29", &t)); /* not a leap year */
	assert_false(kc_parse_time("2026-1-01", &t));
	assert_false(kc_parse_time("2026-01-01T24:00", &t));
	assert_false(kc_parse_time("2026-01-01T10:00+7", &t));
	assert_false(kc_parse_time("2026-01-01x", &t));
	assert_false(kc_parse_time("2026-01-01TZ", &t));
	assert_false(kc_parse_time("", &t));
	kc_format_day(day(2024, 2, 29), buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29");
}

/* ---- periods (F3: every six months, yearly, or on request) ---- */

static void
expect_period(const char *s, int32_t from, int32_t to)
{
	struct kc_period p = { 0, 0 };

	assert_true(kc_period_parse(s, &p));
	assert_int_equal(p.from, from);
	assert_int_equal(p.to, to);
}

static void
test_periods(void **state)
{
	struct kc_period p;

	(void)state;
	expect_period("2026H1", day(2026, 1, 1), day(2026, 6, 30));
	expect_period("2026H2", day(2026, 7, 1), day(2026, 12, 31));
	expect_period("2026", day(2026, 1, 1), day(2026, 12, 31));
	expect_period("2024-02-01..2024-02-29", day(2024, 2, 1), day(2024, 2, 29));
	expect_period("2026-05-05..2026-05-05", day(2026, 5, 5), day(2026, 5, 5));
	assert_false(kc_period_parse("2026H3", &p));
	assert_false(kc_period_parse("2026h1", &p));
	assert_false(kc_period_parse("26", &p));
	assert_false(kc_period_parse("20261", &p));
	assert_false(kc_period_parse("2026-03-01..2026-02-01", &p)); /* reversed */
	assert_false(kc_period_parse("2026-01-01..", &p));
	assert_false(kc_period_parse("2026-01-01..2026-13-01", &p));
	assert_false(kc_period_parse("2026-01-01...2026-02-01", &p));
	assert_false(kc_period_parse("", &p));
	assert_false(kc_period_parse(NULL, &p));
}

/* ---- the usage report ---- */

static const char report_json[] =
        "{\"org\": \"ubnd-x\", \"org_name\": \"UBND <X> & Co\", \"province\": \"dong-nai\","
        " \"province_name\": \"Sở Khoa học và Công nghệ tỉnh Đồng Nai\","
        " \"from\": \"2026-01-01\", \"to\": \"2026-06-30\", \"rows\": ["
        "{\"id\": 1, \"display_name\": \"Nguyễn Văn \\\"A\\\", Chủ tịch\", \"org_name\":"
        " \"UBND X\", \"serial_hex\": \"1A2B\", \"device\": \"token\", \"type\": \"personal\","
        " \"state\": \"active\", \"renewal_count\": 1, \"not_before\":"
        " \"2025-01-01T00:00:00+07:00\", \"not_after\": \"2026-03-31T10:00:00+07:00\"},"
        "{\"id\": 2, \"display_name\": \"84900000000\", \"org_name\": \"Sở Y tế\", \"serial_hex\":"
        " \"0100\", \"device\": \"sim\", \"type\": \"personal\", \"state\": \"revoked\","
        " \"renewal_count\": 0, \"not_before\": \"2025-01-01T00:00:00+07:00\", \"not_after\":"
        " \"2027-01-01T00:00:00+07:00\"}]}";

static char *
render(const char *json, enum kc_format fmt)
{
	json_t *rep = json_loads(json, 0, NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(rep);
	assert_non_null(f);
	assert_true(kc_report_render(rep, fmt, f));
	fclose(f);
	json_decref(rep);
	return buf;
}

static void
test_report_csv(void **state)
{
	char *out = render(report_json, KC_CSV);

	(void)state;
	assert_string_equal(out, "TT,Tên chứng thư số,\"Cơ quan, tổ chức\",Số hiệu,"
	                         "Thiết bị lưu khóa bí mật,Ghi chú\r\n"
	                         "1,\"Nguyễn Văn \"\"A\"\", Chủ tịch\",UBND X,1A2B,PKI Token,"
	                         "Đã gia hạn; Hết hạn 31/03/2026\r\n"
	                         "2,84900000000,Sở Y tế,0100,SIM PKI,Đã thu hồi\r\n"
	                         "Cộng,2,,,,\r\n");
	free(out);
}

static void
test_report_html(void **state)
{
	char *out = render(report_json, KC_HTML);

	(void)state;
	assert_non_null(strstr(out, "<h1>BÁO CÁO TÌNH HÌNH SỬ DỤNG CHỮ KÝ SỐ CHUYÊN DÙNG</h1>"));
	assert_non_null(strstr(out, "Kính gửi: Sở Khoa học và Công nghệ tỉnh Đồng Nai"));
	assert_non_null(strstr(out, "Tên cơ quan, đơn vị: UBND &lt;X&gt; &amp; Co"));
	assert_non_null(strstr(out, "Kỳ báo cáo: từ 01/01/2026 đến 30/06/2026"));
	assert_non_null(strstr(out, "<th>TT</th><th>Tên chứng thư số</th><th>Cơ quan, tổ chức</th>"
	                            "<th>Số hiệu</th><th>Thiết bị lưu khóa bí mật</th>"
	                            "<th>Ghi chú</th>"));
	assert_non_null(strstr(out, "<tr><td>1</td><td>Nguyễn Văn &quot;A&quot;, Chủ tịch</td>"
	                            "<td>UBND X</td><td>1A2B</td><td>PKI Token</td>"));
	assert_non_null(strstr(out, "<tr><td>2</td><td>84900000000</td><td>Sở Y tế</td>"
	                            "<td>0100</td><td>SIM PKI</td><td>Đã thu hồi</td></tr>"));
	assert_non_null(
	        strstr(out, "<tr class=\"total\"><td>Cộng</td><td colspan=\"5\">2</td></tr>"));
	assert_null(strstr(out, "<X>"));
	free(out);
}

static void
test_report_empty_and_bad(void **state)
{
	char *out = render("{\"org_name\": \"A\", \"from\": \"2026-01-01\", \"to\": \"2026-12-31\","
	                   " \"rows\": []}",
	                   KC_HTML);
	json_t *bad = json_loads("{\"rows\": 3}", 0, NULL);
	FILE *f = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(strstr(out, "Kính gửi: Sở Khoa học và Công nghệ</p>")); /* no profile */
	assert_non_null(strstr(out, "<td colspan=\"5\">0</td>"));
	free(out);
	assert_false(kc_report_render(bad, KC_CSV, f));
	fclose(f);
	json_decref(bad);
	assert_string_equal(kc_device_label("hsm"), "HSM");
	assert_string_equal(kc_device_label("soft"), "Phần mềm");
}

/* ---- provisioning lines (TELECOM.md section 5.2) ---- */

/* base64 of the 4 bytes 30 03 02 01: not a certificate, but the reader only decodes. */
#define LINE_HEAD                                                                                  \
	"{\"msisdn\":\"84900000000\",\"iccid\":\"89840000000000000000\",\"carrier\":\"sim\","      \
	"\"key_alg\":\"ec-p256\",\"cert\":\"MAMCAQ==\",\"keysets\":["
#define KEYSET(kvn, ctr)                                                                           \
	"{\"kvn\":" #kvn                                                                           \
	",\"kic_alg\":\"3des-2key\",\"kic\":\"000102030405060708090a0b0c0d0e0f\","                 \
	"\"kid_alg\":\"aes-cmac\",\"kid\":\"101112131415161718191A1B1C1D1E1F\",\"tar\":"           \
	"\"4B5953\","                                                                              \
	"\"counter\":" #ctr "}"

static bool
prov(const char *line, struct kc_prov_sim *s, char *err, size_t errlen)
{
	return kc_prov_parse(line, strlen(line), s, err, errlen);
}

static void
test_prov_ok(void **state)
{
	static struct kc_prov_sim s;
	static const uint8_t kid[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
		                         0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
	static const uint8_t cert[4] = { 0x30, 0x03, 0x02, 0x01 };
	char err[128] = "";

	(void)state;
	assert_true(prov(LINE_HEAD KEYSET(3, 7) "," KEYSET(4, 1099511627775) "]}", &s, err,
	                 sizeof(err)));
	assert_string_equal(s.msisdn, "84900000000");
	assert_string_equal(s.iccid, "89840000000000000000");
	assert_string_equal(s.carrier, "sim");
	assert_string_equal(s.key_alg, "ec-p256");
	assert_int_equal(s.cert_len, 4);
	assert_memory_equal(s.cert, cert, 4);
	assert_int_equal(s.nkeysets, 2);
	assert_int_equal(s.keysets[0].kvn, 3);
	assert_int_equal(s.keysets[0].counter, 7);
	assert_int_equal(s.keysets[1].counter, 1099511627775LL);
	assert_string_equal(s.keysets[0].tar, "4b5953"); /* normalised to lower case */
	assert_int_equal(s.keysets[0].kid_len, 16);
	assert_memory_equal(s.keysets[0].kid, kid, 16);
	kc_prov_wipe(&s);
	assert_int_equal(s.keysets[0].kic[0] | s.keysets[0].kid[0] | s.msisdn[0], 0);
}

static void
expect_prov_error(const char *line, const char *want)
{
	static struct kc_prov_sim s;
	char err[128] = "";

	assert_false(prov(line, &s, err, sizeof(err)));
	if (strstr(err, want) == NULL)
		fail_msg("line %s: error '%s', want '%s'", line, err, want);
	assert_int_equal(s.nkeysets | s.keysets[0].kic[0] | s.msisdn[0], 0); /* wiped */
}

static void
test_prov_errors(void **state)
{
	(void)state;
	expect_prov_error("", "empty line");
	expect_prov_error("{", "column");
	expect_prov_error("[]", "not a JSON object");
	expect_prov_error(LINE_HEAD KEYSET(3, 0) "], \"pin\": \"1234\"}", "unknown key");
	expect_prov_error(LINE_HEAD KEYSET(3, 0) "], \"msisdn\": \"849\"}", "column"); /* dup */
	expect_prov_error("{\"msisdn\":\"84-9\"}", "msisdn");
	expect_prov_error("{\"msisdn\":\"84900000000\",\"iccid\":\"8984\"}", "iccid");
	expect_prov_error("{\"msisdn\":\"84900000000\",\"iccid\":\"89840000000000000000\","
	                  "\"key_alg\":\"dsa\"}",
	                  "key_alg");
	expect_prov_error("{\"msisdn\":\"84900000000\",\"iccid\":\"89840000000000000000\","
	                  "\"key_alg\":\"rsa-2048\",\"cert\":\"MAMCA\"}",
	                  "cert");
	expect_prov_error("{\"msisdn\":\"84900000000\",\"iccid\":\"89840000000000000000\","
	                  "\"key_alg\":\"rsa-2048\",\"cert\":\"MA=C\"}",
	                  "cert");
	expect_prov_error(LINE_HEAD "]}", "keysets");
	expect_prov_error(LINE_HEAD KEYSET(3, 0) "," KEYSET(3, 0) "]}", "KVN appears twice");
	expect_prov_error(LINE_HEAD KEYSET(16, 0) "]}", "kvn");
	expect_prov_error(LINE_HEAD KEYSET(3, -1) "]}", "counter");
	expect_prov_error(LINE_HEAD KEYSET(3, 1099511627776) "]}", "counter");
	expect_prov_error(LINE_HEAD "{\"kvn\":1,\"kic_alg\":\"des\"}]}", "algorithm");
	expect_prov_error(LINE_HEAD "{\"kvn\":1,\"kic_alg\":\"aes-cbc\",\"kid_alg\":\"aes-cmac\","
	                            "\"kic\":\"0011\",\"kid\":\"0011\"}]}",
	                  "16 to 32 bytes");
	expect_prov_error(LINE_HEAD
	                  "{\"kvn\":1,\"kic_alg\":\"aes-cbc\",\"kid_alg\":\"aes-cmac\","
	                  "\"kic\":\"000102030405060708090a0b0c0d0e0f\","
	                  "\"kid\":\"000102030405060708090a0b0c0d0e0f\",\"tar\":\"4B59\"}]}",
	                  "tar");
}

static void
test_prov_size_cap(void **state)
{
	static struct kc_prov_sim s;
	size_t n = KC_PROV_LINE_MAX + 1;
	char *big = malloc(n), err[128];

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_false(kc_prov_parse(big, n, &s, err, sizeof(err)));
	assert_non_null(strstr(err, "over 64 KiB"));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),   cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_i64),           cmocka_unit_test(test_times),
		cmocka_unit_test(test_periods),       cmocka_unit_test(test_report_csv),
		cmocka_unit_test(test_report_html),   cmocka_unit_test(test_report_empty_and_bad),
		cmocka_unit_test(test_prov_ok),       cmocka_unit_test(test_prov_errors),
		cmocka_unit_test(test_prov_size_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
