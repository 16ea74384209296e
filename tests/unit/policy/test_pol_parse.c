/* The `policy` configuration parser (REGULATION.md §4, §5, §9): the documented example
 * loads, operators edit and add profiles, and every kind of bad input is refused with a
 * clear error and a wiped struct. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/pol.h>

static struct pol_config cfg;
static struct pol_cfg_error err;

static enum pol_err
parse(const char *s)
{
	return pol_config_parse(s, strlen(s), &cfg, &err);
}

/* REGULATION.md §4 and §9 as written there. */
static const char documented[] =
        "{\"regime\": \"nd68\","
        " \"cert\": {\"new_max_years\": 5, \"renewal_max_years\": 3, \"renewal_max_count\": 1,"
        "  \"renewal_min_days_left\": 30, \"change_min_days_left\": 30,"
        "  \"reminders_days\": [90, 60, 45]},"
        " \"sla_working_days\": {\"issue\": 3, \"revoke\": 3, \"recover_token_dost\": 1,"
        "  \"device_return\": 5, \"escalate_at\": [3, 5], \"renew_change\": null},"
        " \"signing\": {\"block_on_status_unknown\": {\"approve\": false, \"org_seal\": true},"
        "  \"stale_on_transfer\": \"warn\"},"
        " \"public_ca_cutoff\": \"2025-12-31\","
        " \"official_email_domains\": [\"gov.vn\"],"
        " \"crypto_min\": {\"rsa_bits\": 2048, \"ecdsa_bits\": 256, \"tls_min\": \"1.2\","
        "  \"verify_padding\": [\"PKCS1v15\", \"PSS\"],"
        "  \"hashes\": [\"SHA-256\", \"SHA-384\", \"SHA-512\", \"SHA-512/224\", \"SHA-512/256\","
        "   \"SHA3-224\", \"SHA3-256\", \"SHA3-384\", \"SHA3-512\", \"SHAKE128\", \"SHAKE256\"]},"
        " \"legacy_algorithm_cutoff\": null,"
        " \"central\": {\"name\": \"Cục Chứng thực số và Bảo mật thông tin\","
        "  \"portal\": \"https://dichvucong.ca.gov.vn\", \"truc_code\": \"G11.07.05\","
        "  \"sla_working_days\": {\"recover\": 3}},"
        " \"provinces\": {"
        "  \"default\": {\"dost_authorised_for\": [], \"truc_code\": null,"
        "   \"sim_recovery_override\": null},"
        "  \"dong-nai\": {\"dost_authorised_for\": [\"renew\", \"change\", \"recover_token\"],"
        "   \"truc_code\": \"H19.5\"},"
        "  \"ninh-binh\": {\"dost_authorised_for\": [\"renew\", \"change\", \"recover_token\"],"
        "   \"truc_code\": null},"
        "  \"hai-phong\": {\"dost_authorised_for\": [\"recover_token\"],"
        "   \"channel_to_dost\": \"qlvb\"},"
        "  \"quang-nam\": {\"regime\": \"legacy-tt185\", \"dost_authorised_for\": []}}}";

static void
test_documented_example(void **state)
{
	static struct pol_config def;
	const struct pol_province *dn;

	(void)state;
	assert_int_equal(parse(documented), POL_OK);
	pol_config_defaults(&def);
	/* The documented values are the shipped defaults. */
	assert_int_equal(cfg.public_ca_cutoff, def.public_ca_cutoff);
	assert_int_equal(cfg.hashes_allowed, def.hashes_allowed);
	assert_int_equal(cfg.sla_renew_change, -1);
	assert_int_equal(cfg.nprovinces, 5);
	assert_non_null(dn = pol_province_find(&cfg, "dong-nai"));
	assert_string_equal(dn->truc_code, "H19.5");
	assert_int_equal(dn->authorised, POL_AUTH_RENEW | POL_AUTH_CHANGE | POL_AUTH_RECOVER_TOKEN);
	assert_int_equal(pol_province_find(&cfg, "quang-nam")->regime, POL_REGIME_LEGACY_TT185);
	assert_int_equal(pol_province_find(&cfg, "hai-phong")->channel_to_dost, POL_CH_QLVB);
	assert_string_equal(cfg.central.truc_code, "G11.07.05");
	assert_string_equal(cfg.central.email, "ca@bcy.gov.vn");
	assert_int_equal(memcmp(&cfg.provinces, &def.provinces, sizeof(def.provinces)), 0);
}

/* Operators edit a shipped profile (other fields kept) and add new ones. */
static void
test_edit_and_add(void **state)
{
	const struct pol_province *p;

	(void)state;
	assert_int_equal(parse("{\"provinces\": {\"dong-nai\": {\"truc_code\": \"H19.6\"},"
	                       " \"ha-noi\": {\"name\": \"Sở KH&CN Hà Nội\","
	                       "  \"dost_authorised_for\": [\"recover_token\"],"
	                       "  \"sim_recovery_override\": \"dost\","
	                       "  \"connector\": {\"url\": \"https://so.hanoi.gov.vn/hook\","
	                       "   \"secret\": \"0123456789abcdef0123\"}}}}"),
	                 POL_OK);
	p = pol_province_find(&cfg, "dong-nai");
	assert_string_equal(p->truc_code, "H19.6");
	assert_int_equal(p->authorised, POL_AUTH_RENEW | POL_AUTH_CHANGE | POL_AUTH_RECOVER_TOKEN);
	p = pol_province_find(&cfg, "ha-noi");
	assert_non_null(p);
	assert_int_equal(p->regime, POL_REGIME_ND68);
	assert_true(p->sim_recovery_override);
	assert_string_equal(p->connector.url, "https://so.hanoi.gov.vn/hook");
	assert_int_equal(cfg.nprovinces, 6);
}

static void
test_calendar_sorted(void **state)
{
	(void)state;
	assert_int_equal(parse("{\"calendar\": {\"years\": {\"2027\": {\"holidays\": []},"
	                       " \"2025\": {}, \"2026\": {\"holidays\": [\"2026-01-01\"]}}}}"),
	                 POL_OK);
	assert_int_equal(cfg.calendar.nyears, 3);
	assert_int_equal(cfg.calendar.years[0].year, 2025);
	assert_int_equal(cfg.calendar.years[2].year, 2027);
	assert_int_equal(cfg.calendar.office_end_min, 17 * 60);
}

struct bad {
	const char *json;
	enum pol_err rc;
	const char *path; /* NULL: syntax error with a position */
};

static const struct bad bads[] = {
	{ "{\"regime\": \"nd68\", \"regime\": \"nd68\"}", POL_E_JSON, NULL }, /* duplicate */
	{ "{\"regime\": ", POL_E_JSON, NULL },
	{ "[]", POL_E_SCHEMA, "" },
	{ "{\"colour\": 1}", POL_E_SCHEMA, "colour" },
	{ "{\"regime\": \"nd69\"}", POL_E_SCHEMA, "regime" },
	{ "{\"cert\": {\"new_max_years\": 50}}", POL_E_SCHEMA, "cert.new_max_years" },
	{ "{\"cert\": {\"new_max_years\": \"5\"}}", POL_E_SCHEMA, "cert.new_max_years" },
	{ "{\"cert\": {\"new_max_years\": 2}}", POL_E_SCHEMA, "" }, /* renewal 3 > new 2 */
	{ "{\"cert\": {\"reminders_days\": [1,2,3,4,5]}}", POL_E_SCHEMA, "cert.reminders_days" },
	{ "{\"sla_working_days\": {\"escalate_at\": [5, 3]}}", POL_E_SCHEMA,
	  "sla_working_days.escalate_at" },
	{ "{\"signing\": {\"block_on_status_unknown\": {\"approve\": 1}}}", POL_E_SCHEMA,
	  "signing.block_on_status_unknown.approve" },
	{ "{\"public_ca_cutoff\": \"2025-02-30\"}", POL_E_SCHEMA, "public_ca_cutoff" },
	{ "{\"public_ca_cutoff\": \"31/12/2025\"}", POL_E_SCHEMA, "public_ca_cutoff" },
	{ "{\"official_email_domains\": []}", POL_E_SCHEMA, "official_email_domains" },
	{ "{\"official_email_domains\": [\"gov vn\"]}", POL_E_SCHEMA, "official_email_domains" },
	{ "{\"crypto_min\": {\"rsa_bits\": 1024}}", POL_E_SCHEMA, "crypto_min.rsa_bits" },
	{ "{\"crypto_min\": {\"hashes\": [\"SHA-1\"]}}", POL_E_SCHEMA, "crypto_min.hashes" },
	{ "{\"crypto_min\": {\"tls_min\": \"1.0\"}}", POL_E_SCHEMA, "crypto_min.tls_min" },
	{ "{\"central\": {\"portal\": \"http://dichvucong.ca.gov.vn\"}}", POL_E_SCHEMA,
	  "central.portal" },
	{ "{\"central\": {\"email\": \"ca.bcy.gov.vn\"}}", POL_E_SCHEMA, "central.email" },
	{ "{\"provinces\": {\"Dong Nai\": {}}}", POL_E_SCHEMA, "provinces.Dong Nai" },
	{ "{\"provinces\": {\"dong-nai\": {\"truc_code\": \"H19 5\"}}}", POL_E_SCHEMA,
	  "provinces.dong-nai.truc_code" },
	{ "{\"provinces\": {\"dong-nai\": {\"dost_authorised_for\": [\"issue\"]}}}", POL_E_SCHEMA,
	  "provinces.dong-nai.dost_authorised_for" },
	{ "{\"provinces\": {\"dong-nai\": {\"connector\": {\"url\": \"https://x.vn\"}}}}",
	  POL_E_SCHEMA, "provinces.dong-nai.connector" },
	{ "{\"provinces\": {\"dong-nai\": {\"connector\": {\"url\": \"https://x.vn\","
	  " \"secret\": \"short\"}}}}",
	  POL_E_SCHEMA, "provinces.dong-nai.connector.secret" },
	{ "{\"provinces\": {\"dong-nai\": {\"fax\": \"1\"}}}", POL_E_SCHEMA,
	  "provinces.dong-nai.fax" },
	{ "{\"provinces\": {\"dong-nai\": {\"name\": \"a\\u0000b\"}}}", POL_E_JSON, NULL },
	{ "{\"provinces\": {\"dong-nai\": {\"name\": \"a\\nb\"}}}", POL_E_SCHEMA,
	  "provinces.dong-nai.name" },
	{ "{\"calendar\": {\"years\": {\"26\": {}}}}", POL_E_SCHEMA, "calendar.years.26" },
	{ "{\"calendar\": {\"years\": {\"2026\": {\"holidays\": [\"2027-01-01\"]}}}}", POL_E_SCHEMA,
	  "calendar.years.2026.holidays" },
	{ "{\"calendar\": {\"years\": {\"2026\": {\"makeup_saturdays\": [\"2026-02-06\"]}}}}",
	  POL_E_SCHEMA, "calendar.years.2026.makeup_saturdays" },
	{ "{\"calendar\": {\"office_end\": \"25:00\"}}", POL_E_SCHEMA, "calendar.office_end" },
};

static void
test_bad_inputs(void **state)
{
	static const struct pol_config zero;

	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		enum pol_err rc = parse(bads[i].json);

		if (rc != bads[i].rc)
			fail_msg("%s: got %s (%s: %s)", bads[i].json, pol_strerror(rc), err.path,
			         err.text);
		assert_true(err.text[0] != '\0');
		if (bads[i].path != NULL)
			assert_string_equal(err.path, bads[i].path);
		else if (rc == POL_E_JSON && strstr(bads[i].json, "\\u0000") == NULL)
			assert_true(err.line >= 1 && err.column >= 1);
		/* never half-loaded */
		assert_int_equal(memcmp(&cfg, &zero, sizeof(cfg)), 0);
	}
}

static void
test_limits(void **state)
{
	size_t cap = POL_CONFIG_MAX_BYTES + 16, n = 0;
	char *big = malloc(cap);

	(void)state;
	assert_non_null(big);
	/* Over the byte cap: refused before any parsing. */
	memset(big, ' ', cap);
	big[0] = '{';
	big[cap - 1] = '}';
	assert_int_equal(pol_config_parse(big, cap, &cfg, &err), POL_E_TOO_BIG);
	/* More provinces than the table holds: POL_E_FULL. */
	n += (size_t)snprintf(big + n, cap - n, "{\"provinces\": {");
	for (int i = 0; i < POL_PROVINCES_MAX; i++)
		n += (size_t)snprintf(big + n, cap - n, "%s\"p%d\": {}", i ? "," : "", i);
	n += (size_t)snprintf(big + n, cap - n, "}}");
	assert_int_equal(pol_config_parse(big, n, &cfg, &err), POL_E_FULL);
	free(big);
	assert_int_equal(pol_config_parse(NULL, 0, &cfg, &err), POL_E_INVAL);
	/* not NUL-terminated input is fine: only len bytes are read */
	assert_int_equal(pol_config_parse("{}xxxx", 2, &cfg, NULL), POL_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documented_example),
		cmocka_unit_test(test_edit_and_add),
		cmocka_unit_test(test_calendar_sorted),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
