/* Working-day calendar (REGULATION.md §5): SLA due dates across weekends, Tết and other
 * configured holidays, make-up Saturdays, office hours and a missing year. The fixture year
 * 2026 is test data shaped like a real one, not the official decree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/pol.h>

static struct pol_config cfg;

static const char fixture[] =
        "{\"calendar\": {\"office_end\": \"17:00\", \"years\": {\"2026\": {"
        "\"holidays\": [\"2026-01-01\", \"2026-02-16\", \"2026-02-17\", \"2026-02-18\","
        " \"2026-02-19\", \"2026-02-20\", \"2026-04-30\", \"2026-05-01\", \"2026-09-02\"],"
        "\"days_off\": [\"2026-04-27\", \"2026-09-01\"],"
        "\"makeup_saturdays\": [\"2026-02-07\"]}}}}";

static int32_t
day(int y, int m, int d)
{
	int32_t n = -1;

	assert_int_equal(pol_day_from_date(y, m, d, &n), POL_OK);
	return n;
}

static void
expect_due(int32_t day0, int n, int32_t want, bool want_missing)
{
	int32_t due = -1;
	bool missing = false;
	int y, m, d;

	assert_int_equal(pol_wd_add(&cfg.calendar, day0, n, &due, &missing), POL_OK);
	pol_day_to_date(due, &y, &m, &d);
	if (due != want)
		fail_msg("due %04d-%02d-%02d", y, m, d);
	assert_int_equal(missing, want_missing);
}

static void
test_weekends(void **state)
{
	(void)state;
	expect_due(day(2026, 3, 6), 1, day(2026, 3, 9), false);  /* Fri + 1 → Mon */
	expect_due(day(2026, 3, 6), 0, day(2026, 3, 6), false);  /* same day */
	expect_due(day(2026, 3, 7), 0, day(2026, 3, 9), false);  /* Sat: day 0 is Mon */
	expect_due(day(2026, 3, 8), 1, day(2026, 3, 10), false); /* Sun + 1 → Tue */
	expect_due(day(2026, 3, 2), 5, day(2026, 3, 9), false);  /* B12: 5 WD, Mon → Mon */
}

static void
test_holidays(void **state)
{
	(void)state;
	/* Tết: Fri 13/2 + 1 → Mon 23/2 (16-20/2 off, weekends around). */
	expect_due(day(2026, 2, 13), 1, day(2026, 2, 23), false);
	expect_due(day(2026, 2, 13), 3, day(2026, 2, 25), false);
	/* Received during Tết: day 0 is the first working day after. */
	expect_due(day(2026, 2, 18), 0, day(2026, 2, 23), false);
	/* 30/4 and 1/5 then a weekend: Wed 29/4 + 1 → Mon 4/5. */
	expect_due(day(2026, 4, 29), 1, day(2026, 5, 4), false);
	/* A compensatory day off (Mon 27/4). */
	expect_due(day(2026, 4, 24), 1, day(2026, 4, 28), false);
	/* 1/9 day off and 2/9 holiday: Mon 31/8 + 1 → Thu 3/9. */
	expect_due(day(2026, 8, 31), 1, day(2026, 9, 3), false);
	/* A make-up Saturday counts: Fri 6/2 + 1 → Sat 7/2. */
	expect_due(day(2026, 2, 6), 1, day(2026, 2, 7), false);
	assert_true(pol_wd_is_working(&cfg.calendar, day(2026, 2, 7), NULL));
	assert_false(pol_wd_is_working(&cfg.calendar, day(2026, 2, 14), NULL));
}

static void
test_missing_year(void **state)
{
	(void)state;
	/* 2027 has no entry: weekends only, and CALENDAR_MISSING is raised. */
	expect_due(day(2027, 1, 1), 1, day(2027, 1, 4), true);
	/* A span that reaches into 2027 raises it too. */
	expect_due(day(2026, 12, 31), 1, day(2027, 1, 1), true);
	assert_string_equal(pol_reason_info(POL_R_CALENDAR_MISSING)->name, "CALENDAR_MISSING");
}

static void
test_office_hours(void **state)
{
	int32_t due;
	bool missing = false;
	/* Fri 6/3/2026 16:59 and 17:00 local (UTC+7). */
	int64_t t1659 = (int64_t)day(2026, 3, 6) * 86400 + (16 * 60 + 59) * 60 - 7 * 3600;
	int64_t t1700 = t1659 + 60;
	int minute;

	(void)state;
	assert_int_equal(pol_day_of_time(t1659, &minute), day(2026, 3, 6));
	assert_int_equal(minute, 16 * 60 + 59);
	assert_int_equal(pol_wd_due(&cfg.calendar, t1659, 1, &due, &missing), POL_OK);
	assert_int_equal(due, day(2026, 3, 9));
	assert_int_equal(pol_wd_due(&cfg.calendar, t1700, 1, &due, &missing), POL_OK);
	assert_int_equal(due, day(2026, 3, 10));
	/* 23:30 UTC on Thu is already Fri 06:30 local. */
	assert_int_equal(
	        pol_day_of_time((int64_t)day(2026, 3, 5) * 86400 + 23 * 3600 + 1800, &minute),
	        day(2026, 3, 6));
	assert_int_equal(minute, 6 * 60 + 30);
}

static void
test_between(void **state)
{
	int n = 0;
	bool missing = false;

	(void)state;
	assert_int_equal(
	        pol_wd_between(&cfg.calendar, day(2026, 3, 6), day(2026, 3, 9), &n, &missing),
	        POL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(
	        pol_wd_between(&cfg.calendar, day(2026, 3, 9), day(2026, 3, 6), &n, &missing),
	        POL_OK);
	assert_int_equal(n, -1);
	assert_int_equal(
	        pol_wd_between(&cfg.calendar, day(2026, 2, 13), day(2026, 2, 23), &n, &missing),
	        POL_OK);
	assert_int_equal(n, 1);
	assert_false(missing);
	/* between and add agree across the whole fixture year */
	for (int32_t d0 = day(2026, 1, 1); d0 < day(2026, 12, 20); d0 += 3) {
		int32_t due;

		assert_int_equal(pol_wd_add(&cfg.calendar, d0, 4, &due, NULL), POL_OK);
		assert_int_equal(pol_wd_between(&cfg.calendar, d0, due, &n, NULL), POL_OK);
		assert_int_equal(n, pol_wd_is_working(&cfg.calendar, d0, NULL) ? 4 : 5);
	}
}

static void
test_dates(void **state)
{
	int32_t n;
	int y, m, d;

	(void)state;
	assert_int_equal(day(1970, 1, 1), 0);
	assert_int_equal(day(2000, 3, 1), 11017);
	assert_int_equal(pol_day_from_date(2026, 2, 29, &n), POL_E_RANGE);
	assert_int_equal(pol_day_from_date(2028, 2, 29, &n), POL_OK);
	assert_int_equal(pol_day_from_date(2026, 13, 1, &n), POL_E_RANGE);
	assert_int_equal(pol_day_from_date(1969, 12, 31, &n), POL_E_RANGE);
	for (int32_t k = 0; k < 60000; k += 7) {
		int32_t back;

		pol_day_to_date(k, &y, &m, &d);
		assert_int_equal(pol_day_from_date(y, m, d, &back), POL_OK);
		assert_int_equal(back, k);
	}
	assert_int_equal(pol_wd_add(&cfg.calendar, 0, 367, &n, NULL), POL_E_RANGE);
	assert_int_equal(pol_wd_add(&cfg.calendar, 0, 1, NULL, NULL), POL_E_INVAL);
}

/* Router + calendar: the Sở's 1-WD token recovery opened on Fri 13/2 is due Mon 23/2. */
static void
test_route_due(void **state)
{
	struct pol_route r;

	(void)state;
	assert_int_equal(
	        pol_route(&cfg, POL_REQ_RECOVER, POL_CRED_PERSONAL, POL_DEV_TOKEN, "dong-nai", &r),
	        POL_OK);
	expect_due(day(2026, 2, 13), r.sla_wd, day(2026, 2, 23), false);
}

static int
setup(void **state)
{
	struct pol_cfg_error err;

	(void)state;
	if (pol_config_parse(fixture, sizeof(fixture) - 1, &cfg, &err) != POL_OK) {
		print_error("fixture: %s: %s\n", err.path, err.text);
		return -1;
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weekends),     cmocka_unit_test(test_holidays),
		cmocka_unit_test(test_missing_year), cmocka_unit_test(test_office_hours),
		cmocka_unit_test(test_between),      cmocka_unit_test(test_dates),
		cmocka_unit_test(test_route_due),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
