/* Unit tests of gw_recovery_case.c: routing of a recovery case (REGULATION.md B15, B18 and
 * section 4 "Recovery cases"), its SLA due date (B16, section 5), the section 9 webhook body and
 * signature, the retry back-off, the case id, and the resolve callback's parsers. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_recovery.h"

/* Unix microseconds of a local (UTC+07:00) date and time. */
static uint64_t
local_us(int y, int mo, int d, int h, int mi)
{
	int32_t day;

	assert_int_equal(pol_day_from_date(y, mo, d, &day), POL_OK);
	return ((uint64_t)day * 86400u + (uint64_t)(h * 3600 + mi * 60) - 7u * 3600u) * 1000000u;
}

static struct pol_config *
config(const char *json)
{
	struct pol_config *c = calloc(1, sizeof(*c));
	struct pol_cfg_error e;

	assert_non_null(c);
	if (json == NULL)
		pol_config_defaults(c);
	else
		assert_int_equal(pol_config_parse(json, strlen(json), c, &e), POL_OK);
	return c;
}

static struct db_recovery_target
target(const char *device, const char *province)
{
	struct db_recovery_target t = {
		.credential = 7,
		.org = "ubnd-dong-nai",
		.province = province,
		.type = "personal",
		.device = device,
		.state = "active",
		.serial_hex = "54034f",
		.subject = "CN=Nguyễn Văn A",
		.msisdn = "84901234567",
		.token_serial = "TK-1",
	};
	return t;
}

struct route_row {
	const char *policy; /* NULL: shipped profiles */
	const char *device, *province;
	const char *dest;
	int sla_wd;
};

/* B15/B18: SIM → Cục unless sim_recovery_override; token → the Sở where the province lists
 * recover_token, else the Cục; hsm and soft → Cục. B16: Sở 1 WD; Cục 3 WD (assumed, O2). */
static const struct route_row route_rows[] = {
	{ NULL, "sim", "dong-nai", "central", 3 },
	{ NULL, "token", "dong-nai", "dong-nai", 1 },
	{ NULL, "token", "hai-phong", "hai-phong", 1 },
	{ NULL, "token", "ninh-binh", "ninh-binh", 1 },
	{ NULL, "token", "quang-nam", "central", 3 }, /* legacy regime, nothing authorised */
	{ NULL, "token", "default", "central", 3 },
	{ NULL, "token", NULL, "central", 3 },      /* a central body: national rules */
	{ NULL, "token", "lao-cai", "central", 3 }, /* no profile: `default` */
	{ NULL, "hsm", "dong-nai", "central", 3 },
	{ NULL, "soft", "dong-nai", "central", 3 },
	{ "{\"provinces\":{\"dong-nai\":{\"sim_recovery_override\":\"dost\"}}}", "sim", "dong-nai",
	  "dong-nai", 1 },
	{ "{\"provinces\":{\"lao-cai\":{\"dost_authorised_for\":[\"recover_token\"]}}}", "token",
	  "lao-cai", "lao-cai", 1 },
	{ "{\"provinces\":{\"dong-nai\":{\"dost_authorised_for\":[\"renew\"]}}}", "token",
	  "dong-nai", "central", 3 },
	{ "{\"central\":{\"sla_working_days\":{\"recover\":5}}}", "sim", "dong-nai", "central", 5 },
};

static void
test_routing_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(route_rows) / sizeof(route_rows[0]); i++) {
		const struct route_row *r = &route_rows[i];
		struct pol_config *c = config(r->policy);
		struct db_recovery_target t = target(r->device, r->province);
		struct gw_recovery_plan p;
		char err[256] = "";

		if (gw_recovery_plan_make(c, &t, local_us(2026, 12, 3, 9, 0), &p, err,
		                          sizeof(err)) != 0)
			fail_msg("row %zu: %s", i, err);
		if (strcmp(p.destination, r->dest) != 0 || p.sla_wd != r->sla_wd)
			fail_msg("row %zu (%s in %s): got %s/%d, want %s/%d", i, r->device,
			         r->province ? r->province : "(none)", p.destination, p.sla_wd,
			         r->dest, r->sla_wd);
		assert_string_equal(p.form, "Mẫu 06");
		gw_recovery_plan_free(&p);
		gw_policy_free(c);
	}
}

static void
test_central_code_and_unknown_device(void **state)
{
	struct pol_config *c = config(NULL);
	struct db_recovery_target t = target("floppy", "dong-nai");
	struct gw_recovery_plan p;
	char err[256] = "";

	(void)state;
	assert_string_equal(c->central.truc_code, "G11.07.05"); /* the Cục's code */
	assert_int_equal(
	        gw_recovery_plan_make(c, &t, local_us(2026, 12, 3, 9, 0), &p, err, sizeof(err)),
	        -1);
	assert_non_null(strstr(err, "unknown device"));
	gw_recovery_plan_free(&p);
	gw_policy_free(c);
}

struct due_row {
	const char *device;
	int y, mo, d, h, mi;
	const char *due;
};

static void
check_due(const struct pol_config *c, const struct due_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct due_row *r = &rows[i];
		struct db_recovery_target t = target(r->device, "dong-nai");
		struct gw_recovery_plan p;
		char err[256] = "";

		assert_int_equal(gw_recovery_plan_make(c, &t,
		                                       local_us(r->y, r->mo, r->d, r->h, r->mi), &p,
		                                       err, sizeof(err)),
		                 0);
		if (strcmp(p.due_date, r->due) != 0)
			fail_msg("row %zu: due %s, want %s", i, p.due_date, r->due);
		gw_recovery_plan_free(&p);
	}
}

/* Receipt is day 0 (the next working day after 17:00 or on a weekend); the due date is the
 * end of working day N (REGULATION.md section 5). 2026-12-04 is a Friday. */
static void
test_due_dates_weekend_and_holiday(void **state)
{
	static const struct due_row plain[] = {
		{ "token", 2026, 12, 4, 10, 0, "2026-12-07" }, /* Fri + 1 WD = Mon */
		{ "sim", 2026, 12, 4, 10, 0, "2026-12-09" },   /* Fri + 3 WD = Wed */
		{ "token", 2026, 12, 4, 18, 0, "2026-12-08" }, /* after hours: day 0 is Mon */
		{ "token", 2026, 12, 5, 10, 0, "2026-12-08" }, /* Saturday: day 0 is Mon */
		{ "token", 2026, 12, 3, 9, 0, "2026-12-04" },  /* Thu + 1 = Fri */
	};
	static const struct due_row holiday[] = {
		{ "token", 2026, 12, 4, 10, 0, "2026-12-08" }, /* Mon 7 is a holiday */
		{ "sim", 2026, 12, 4, 10, 0, "2026-12-10" },
		{ "token", 2026, 12, 4, 18, 0, "2026-12-09" },
	};
	struct pol_config *c = config(NULL);
	struct pol_config *h = config("{\"calendar\":{\"office_end\":\"17:00\",\"years\":{\"2026\":"
	                              "{\"holidays\":[\"2026-12-07\"]}}}}");
	struct db_recovery_target t = target("token", "dong-nai");
	struct gw_recovery_plan p;
	char err[64];

	(void)state;
	check_due(c, plain, sizeof(plain) / sizeof(plain[0]));
	check_due(h, holiday, sizeof(holiday) / sizeof(holiday[0]));
	/* Without a calendar for the year: weekends only, flagged (CALENDAR_MISSING). */
	assert_int_equal(
	        gw_recovery_plan_make(c, &t, local_us(2026, 12, 4, 10, 0), &p, err, sizeof(err)),
	        0);
	assert_true(p.calendar_missing);
	gw_recovery_plan_free(&p);
	assert_int_equal(
	        gw_recovery_plan_make(h, &t, local_us(2026, 12, 4, 10, 0), &p, err, sizeof(err)),
	        0);
	assert_false(p.calendar_missing);
	gw_recovery_plan_free(&p);
	gw_policy_free(c);
	gw_policy_free(h);
}

static void
test_body(void **state)
{
	struct db_recovery_target tok = target("token", "dong-nai");
	struct db_recovery_target sim = target("sim", "dong-nai");
	struct db_recovery_target hsm = target("hsm", NULL);
	size_t len = 0;
	char *b;

	(void)state;
	b = gw_recovery_body(&tok, "rc-01JABCDEFGHJKMNPQRSTVWXYZ0", "dong-nai", "Mẫu 06",
	                     "2026-12-07", "2026-12-04T03:00:00.000Z", &len);
	assert_non_null(b);
	assert_string_equal(
	        b, "{\"case_id\":\"rc-01JABCDEFGHJKMNPQRSTVWXYZ0\",\"type\":\"recover\","
	           "\"device\":\"token\",\"credential\":{\"serial\":\"54034f\",\"subject\":"
	           "\"CN=Nguyễn Văn A\"},\"token_serial\":\"TK-1\",\"org\":\"ubnd-dong-nai\","
	           "\"province\":\"dong-nai\",\"destination\":\"dong-nai\",\"form\":\"Mẫu 06\","
	           "\"due_date\":\"2026-12-07\",\"created_at\":\"2026-12-04T03:00:00.000Z\"}");
	assert_int_equal(len, strlen(b));
	free(b);
	/* A SIM carries msisdn instead of token_serial (PROTOCOL.md section 9). */
	b = gw_recovery_body(&sim, "rc-X", "central", "Mẫu 06", "2026-12-09", "t", NULL);
	assert_non_null(strstr(b, "\"device\":\"sim\",\"credential\":{\"serial\":\"54034f\","
	                          "\"subject\":\"CN=Nguyễn Văn A\"},\"msisdn\":\"84901234567\","
	                          "\"org\""));
	assert_null(strstr(b, "token_serial"));
	free(b);
	/* Neither for an hsm key; no province and no due date are JSON null. */
	hsm.serial_hex = NULL;
	b = gw_recovery_body(&hsm, "rc-X", "central", "Mẫu 06", NULL, "t", NULL);
	assert_null(strstr(b, "msisdn"));
	assert_null(strstr(b, "token_serial"));
	assert_non_null(strstr(b, "\"serial\":null"));
	assert_non_null(strstr(b, "\"province\":null"));
	assert_non_null(strstr(b, "\"due_date\":null"));
	free(b);
}

static void
test_plan_request_and_body_agree(void **state)
{
	struct pol_config *c = config(NULL);
	struct db_recovery_target t = target("token", "dong-nai");
	struct gw_recovery_plan p;
	struct db_recovery_open_req q;
	char err[64], want[128];

	(void)state;
	assert_int_equal(
	        gw_recovery_plan_make(c, &t, local_us(2026, 12, 4, 10, 0), &p, err, sizeof(err)),
	        0);
	gw_recovery_plan_request(&p, &t, "node-1", "txn-9", &q);
	assert_int_equal(q.credential, 7);
	assert_string_equal(q.destination, "dong-nai");
	assert_string_equal(q.due_date, "2026-12-07");
	assert_string_equal(q.opened_by, "node-1");
	assert_string_equal(q.txn, "txn-9");
	assert_ptr_equal(q.payload, p.body);
	assert_string_equal(p.created_at, "2026-12-04T03:00:00.000Z");
	snprintf(want, sizeof(want), "{\"case_id\":\"%s\",", p.case_id);
	assert_memory_equal(p.body, want, strlen(want));
	gw_recovery_plan_free(&p);
	gw_policy_free(c);
}

static void
test_signature(void **state)
{
	char sig[80];

	(void)state;
	/* RFC 4231 test case 2. */
	assert_int_equal(gw_recovery_signature("Jefe", "what do ya want for nothing?", 28, sig), 0);
	assert_string_equal(
	        sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	assert_int_equal(gw_recovery_signature(NULL, "x", 1, sig), -1);
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(gw_recovery_backoff_s(1, 5, 900), 5);
	assert_int_equal(gw_recovery_backoff_s(2, 5, 900), 10);
	assert_int_equal(gw_recovery_backoff_s(3, 5, 900), 20);
	assert_int_equal(gw_recovery_backoff_s(8, 5, 900), 640);
	assert_int_equal(gw_recovery_backoff_s(9, 5, 900), 900);
	assert_int_equal(gw_recovery_backoff_s(1000000, 5, 900), 900); /* no overflow */
	assert_int_equal(gw_recovery_backoff_s(0, 5, 900), 5);
	assert_int_equal(gw_recovery_backoff_s(5, 1, 2), 2);
	assert_int_equal(gw_recovery_backoff_s(1, 0, 2), 1); /* never 0: no hot loop */
}

static void
test_case_id(void **state)
{
	char a[GW_RECOVERY_ID_CAP], b[GW_RECOVERY_ID_CAP], c[GW_RECOVERY_ID_CAP];

	(void)state;
	assert_true(gw_recovery_case_id(1764817200000ull, a));
	assert_true(gw_recovery_case_id(1764817200001ull, b));
	assert_true(gw_recovery_case_id(1764817200001ull, c));
	assert_int_equal(strlen(a), 29);
	assert_memory_equal(a, "rc-", 3);
	assert_true(strspn(a + 3, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") == 26);
	assert_true(a[3] <= '7');          /* 128 bits: the first character has 3 */
	assert_true(strcmp(a, b) < 0);     /* sorts by time */
	assert_memory_equal(b, c, 3 + 10); /* same millisecond: same time part */
	assert_string_not_equal(b, c);     /* random part */
	/* 0 ms is all zeros in the time part. */
	assert_true(gw_recovery_case_id(0, a));
	assert_memory_equal(a, "rc-0000000000", 13);
}

static void
test_path(void **state)
{
	char id[GW_RECOVERY_ID_CAP];

	(void)state;
	assert_true(
	        gw_recovery_path_case("/v1/recovery/rc-01JABCDEFGHJKMNPQRSTVWXYZ0/resolve", id));
	assert_string_equal(id, "rc-01JABCDEFGHJKMNPQRSTVWXYZ0");
	assert_false(gw_recovery_path_case("/v1/recovery/rc-01JABCDEFGHJKMNPQRSTVWXYZ0", id));
	assert_false(
	        gw_recovery_path_case("/v1/recovery/rc-01JABCDEFGHJKMNPQRSTVWXYZ0/resolve/", id));
	assert_false(
	        gw_recovery_path_case("/v1/recovery/rc-01jabcdefghjkmnpqrstvwxyz0/resolve", id));
	assert_false(
	        gw_recovery_path_case("/v1/recovery/rc-01JABCDEFGHJKMNPQRSTVWXYZ/resolve", id));
	assert_false(
	        gw_recovery_path_case("/v1/recovery/rc-01JABCDEFGHJKMNPQRSTVWXYZI/resolve", id));
	assert_false(gw_recovery_path_case("/v1/recovery//resolve", id));
	assert_false(
	        gw_recovery_path_case("/v1/recoveryx/rc-01JABCDEFGHJKMNPQRSTVWXYZ0/resolve", id));
	assert_false(gw_recovery_path_case(NULL, id));
}

static void
test_callback_body(void **state)
{
	char note[GW_RECOVERY_NOTE_MAX + 1], err[128], *big;
	static const char *const bad[] = {
		"{\"note\":1}",
		"{\"note\":\"a\",\"note\":\"b\"}",
		"{\"who\":\"x\"}",
		"[]",
		"\"note\"",
		"{",
		"{\"note\":\"a\\u0001\"}",
		"{\"note\":null}",
		"{} x",
	};

	(void)state;
	assert_true(gw_recovery_callback_parse("", 0, note, err, sizeof(err)));
	assert_string_equal(note, "");
	assert_true(gw_recovery_callback_parse("{}", 2, note, err, sizeof(err)));
	assert_string_equal(note, "");
	assert_true(gw_recovery_callback_parse("{\"note\":\"PUK by the Sở\"}", 26, note, err,
	                                       sizeof(err)));
	assert_string_equal(note, "PUK by the Sở");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (gw_recovery_callback_parse(bad[i], strlen(bad[i]), note, err, sizeof(err)))
			fail_msg("accepted %s", bad[i]);
	/* A note over the limit, and a body over the cap. */
	big = malloc(GW_RECOVERY_BODY_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', GW_RECOVERY_BODY_MAX + 1);
	memcpy(big, "{\"note\":\"", 9);
	memcpy(big + GW_RECOVERY_NOTE_MAX + 10, "\"}", 3);
	assert_false(gw_recovery_callback_parse(big, strlen(big), note, err, sizeof(err)));
	big[GW_RECOVERY_BODY_MAX + 1] = '\0';
	memset(big, ' ', GW_RECOVERY_BODY_MAX + 1);
	assert_false(
	        gw_recovery_callback_parse(big, GW_RECOVERY_BODY_MAX + 1, note, err, sizeof(err)));
	assert_non_null(strstr(err, "over"));
	free(big);
}

static void
test_policy_file_and_connectors(void **state)
{
	char path[] = "/tmp/kyso-recovery-policy-XXXXXX", err[256];
	const char *json = "{\"central\":{\"connector\":{\"url\":\"https://ca.example/hook\","
	                   "\"secret\":\"0123456789abcdef\"}},\"provinces\":{\"dong-nai\":"
	                   "{\"connector\":{\"url\":\"https://dn.example/h\",\"secret\":"
	                   "\"fedcba9876543210\",\"ca_file\":\"/etc/dn-ca.pem\"}}}}";
	struct pol_config *c;
	const struct pol_connector *k;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	close(fd);
	assert_non_null(c = gw_policy_load(path, err, sizeof(err)));
	assert_non_null(k = gw_recovery_connector(c, "central"));
	assert_string_equal(k->url, "https://ca.example/hook");
	assert_string_equal(k->ca_file, "");
	assert_non_null(k = gw_recovery_connector(c, "dong-nai"));
	assert_string_equal(k->ca_file, "/etc/dn-ca.pem");
	assert_null(gw_recovery_connector(c, "hai-phong"));
	assert_null(gw_recovery_connector(c, "nowhere"));
	gw_policy_free(c);
	/* The same inside {"policy": ...}, as deploy/policy.example.json has it. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"policy\":", 10), 10);
	assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
	assert_int_equal(write(fd, "}", 1), 1);
	close(fd);
	assert_non_null(c = gw_policy_load(path, err, sizeof(err)));
	assert_non_null(k = gw_recovery_connector(c, "dong-nai"));
	assert_string_equal(k->url, "https://dn.example/h");
	gw_policy_free(c);
	/* A broken file is refused with its reason; "" is the shipped profiles, no connector. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"central\":{\"connector\":{\"url\":\"http://x\"}}}", 44), 44);
	close(fd);
	assert_null(gw_policy_load(path, err, sizeof(err)));
	assert_non_null(strstr(err, "policy.file"));
	unlink(path);
	assert_null(gw_policy_load(path, err, sizeof(err)));
	assert_non_null(c = gw_policy_load("", err, sizeof(err)));
	assert_null(gw_recovery_connector(c, "central"));
	gw_policy_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing_table),
		cmocka_unit_test(test_central_code_and_unknown_device),
		cmocka_unit_test(test_due_dates_weekend_and_holiday),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_plan_request_and_body_agree),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_case_id),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_callback_body),
		cmocka_unit_test(test_policy_file_and_connectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
