/* Lifecycle rules (REGULATION.md §3 B, A4-A8): the 30-day and once-only boundaries on day
 * 29/30/31, validity limits, revocation triggers, events and refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/pol.h>

#define DAY   86400
#define T_NOW 1780000000

static struct pol_config cfg;

static struct pol_lifecycle_req
base_req(enum pol_request type)
{
	struct pol_lifecycle_req r = { .type = type,
		                       .cred_type = POL_CRED_PERSONAL,
		                       .device = POL_DEV_TOKEN,
		                       .state = POL_CRED_ACTIVE,
		                       .submit = true,
		                       .agency_signed = true,
		                       .subject_in_managed_tree = true,
		                       .filer_is_managing_agency = true,
		                       .applicant_email = "nva@dongnai.gov.vn",
		                       .not_before = T_NOW - 700 * DAY,
		                       .not_after = T_NOW + 100 * DAY };

	if (type == POL_REQ_RENEW)
		r.new_not_after = r.not_after + 3 * 365 * DAY;
	if (type == POL_REQ_ISSUE) {
		r.not_before = T_NOW;
		r.not_after = T_NOW + 5 * 365 * DAY;
	}
	return r;
}

static struct pol_decision
check(const struct pol_lifecycle_req *r, const struct pol_province *p)
{
	struct pol_decision d;

	assert_int_equal(pol_request_check(&cfg, p, r, T_NOW, &d), POL_OK);
	return d;
}

/* B4 (DN 10.1): renewal needs at least 30 days left. Day 29 no, 30 and 31 yes. */
static void
test_b4_renew_days_29_30_31(void **state)
{
	static const struct {
		int days;
		enum pol_verdict v;
	} rows[] = { { 29, POL_DENY }, { 30, POL_ALLOW }, { 31, POL_ALLOW } };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct pol_lifecycle_req r = base_req(POL_REQ_RENEW);
		struct pol_decision d;

		r.not_after = T_NOW + (int64_t)rows[i].days * DAY;
		r.new_not_after = r.not_after + 365 * DAY;
		d = check(&r, NULL);
		assert_int_equal(d.verdict, rows[i].v);
		if (rows[i].v == POL_DENY) {
			assert_int_equal(d.reason, POL_R_TOO_LATE_TO_RENEW);
			assert_string_equal(d.rule, "B4");
			assert_int_equal(d.task[0].kind, POL_TASK_DRAFT_NEW_ISSUANCE);
		}
	}
	/* 29 days and 23 hours is still day 29. */
	struct pol_lifecycle_req r = base_req(POL_REQ_RENEW);
	r.not_after = T_NOW + 30 * DAY - 3600;
	r.new_not_after = r.not_after + DAY;
	assert_int_equal(check(&r, NULL).reason, POL_R_TOO_LATE_TO_RENEW);
}

/* Legacy regime (ND130 63): 60 days. */
static void
test_b4_legacy_60(void **state)
{
	const struct pol_province *qn = pol_province_find(&cfg, "quang-nam");
	struct pol_lifecycle_req r = base_req(POL_REQ_RENEW);

	(void)state;
	assert_non_null(qn);
	r.not_after = T_NOW + 59 * DAY;
	r.new_not_after = r.not_after + DAY;
	assert_int_equal(check(&r, qn).reason, POL_R_TOO_LATE_TO_RENEW);
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.not_after = T_NOW + 60 * DAY;
	r.new_not_after = r.not_after + DAY;
	assert_int_not_equal(check(&r, qn).verdict, POL_DENY);
}

/* B3 (DN 10.1): once only. count 0 yes, 1 no, 2 no. */
static void
test_b3_once(void **state)
{
	(void)state;
	for (unsigned n = 0; n < 3; n++) {
		struct pol_lifecycle_req r = base_req(POL_REQ_RENEW);
		struct pol_decision d;

		r.renewal_count = n;
		d = check(&r, NULL);
		if (n == 0) {
			assert_int_equal(d.verdict, POL_ALLOW);
		} else {
			assert_int_equal(d.reason, POL_R_RENEWAL_LIMIT_REACHED);
			assert_string_equal(d.rule, "B3");
			assert_int_equal(d.task[0].kind, POL_TASK_DRAFT_NEW_ISSUANCE);
		}
	}
}

/* B1, B2 (ND68 9): new ≤ 5 years, renewal adds ≤ 3 years. */
static void
test_b1_b2_validity(void **state)
{
	struct pol_lifecycle_req r = base_req(POL_REQ_ISSUE);
	int32_t d0;

	(void)state;
	assert_int_equal(pol_day_from_date(2026, 3, 1, &d0), POL_OK);
	r.not_before = (int64_t)d0 * DAY;
	r.not_after = r.not_before + (365 * 5 + 1) * (int64_t)DAY; /* 2031-03-01: leap 2028 */
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.not_after += 1;
	assert_int_equal(check(&r, NULL).reason, POL_R_VALIDITY_TOO_LONG);
	assert_string_equal(check(&r, NULL).rule, "B1");

	r = base_req(POL_REQ_RENEW);
	r.new_not_after = r.not_after + (365 * 3 + 1) * (int64_t)DAY; /* spans a 29 Feb */
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.new_not_after += DAY;
	assert_int_equal(check(&r, NULL).reason, POL_R_RENEWAL_TOO_LONG);
	r.new_not_after = r.not_after; /* a renewal must add something */
	assert_int_equal(check(&r, NULL).reason, POL_R_RENEWAL_TOO_LONG);
}

/* B5 (DN 11.1): change of information, 30 days, validity unchanged. */
static void
test_b5_change(void **state)
{
	static const struct {
		int days;
		enum pol_verdict v;
	} rows[] = { { 29, POL_DENY }, { 30, POL_ALLOW }, { 31, POL_ALLOW } };

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct pol_lifecycle_req r = base_req(POL_REQ_CHANGE);

		r.not_after = T_NOW + (int64_t)rows[i].days * DAY;
		r.new_not_after = r.not_after;
		assert_int_equal(check(&r, NULL).verdict, rows[i].v);
	}
	struct pol_lifecycle_req r = base_req(POL_REQ_CHANGE);
	r.new_not_after = r.not_after + DAY;
	struct pol_decision d = check(&r, NULL);
	assert_int_equal(d.verdict, POL_WARN);
	assert_int_equal(d.hit[0].reason, POL_R_CHANGE_ALTERED_VALIDITY);
	assert_string_equal(d.hit[0].rule, "B5");
}

/* A4-A8: issuance preconditions. */
static void
test_issue_preconditions(void **state)
{
	struct pol_lifecycle_req r;

	(void)state;
	r = base_req(POL_REQ_ISSUE);
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.subject_in_managed_tree = false;
	assert_int_equal(check(&r, NULL).reason, POL_R_NOT_IN_MANAGED_TREE); /* A4 */

	r = base_req(POL_REQ_ISSUE);
	r.cred_type = POL_CRED_ORG;
	r.org_legal_personality = r.org_has_seal = r.org_establishment_decision = true;
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.org_has_seal = false;
	assert_int_equal(check(&r, NULL).reason, POL_R_ORG_PRECONDITION_MISSING); /* A5 */

	r = base_req(POL_REQ_ISSUE);
	r.cred_type = POL_CRED_DEVICE;
	r.applicant_email = NULL;
	r.asset_registered = true;
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.asset_registered = false;
	assert_int_equal(check(&r, NULL).reason, POL_R_ASSET_NOT_REGISTERED); /* A6 */

	r = base_req(POL_REQ_ISSUE);
	r.applicant_email = "nva@gov.vn";
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.applicant_email = "nva@gmail.com";
	assert_int_equal(check(&r, NULL).reason, POL_R_OFFICIAL_EMAIL_REQUIRED); /* A7 */
	r.applicant_email = "nva@evilgov.vn";
	assert_int_equal(check(&r, NULL).reason, POL_R_OFFICIAL_EMAIL_REQUIRED);

	r = base_req(POL_REQ_ISSUE);
	r.filer_is_managing_agency = false;
	assert_int_equal(check(&r, NULL).reason, POL_R_NOT_MANAGING_AGENCY); /* A8 */
}

/* B11, B13, B12: revocation and loss. */
static void
test_revoke_and_lost(void **state)
{
	struct pol_lifecycle_req r = base_req(POL_REQ_REVOKE);
	struct pol_decision d;

	(void)state;
	r.basis = POL_REVOKE_AUTHORITY_REQUEST;
	r.legal_basis_present = true;
	d = check(&r, NULL);
	assert_int_equal(d.verdict, POL_ALLOW);
	assert_int_equal(d.task[0].kind, POL_TASK_DEVICE_RETURN); /* B12 */
	r.legal_basis_present = false;
	assert_int_equal(check(&r, NULL).reason, POL_R_LEGAL_BASIS_MISSING);
	assert_string_equal(check(&r, NULL).rule, "B11");

	r = base_req(POL_REQ_LOST);
	r.loss_minutes_present = true;
	d = check(&r, NULL);
	assert_int_equal(d.verdict, POL_ALLOW);
	assert_int_equal(d.ntask, 3); /* Mẫu 05, Mẫu 09, notify head and IT */
	r.loss_minutes_present = false;
	assert_int_equal(check(&r, NULL).reason, POL_R_LOSS_MINUTES_MISSING);
	assert_string_equal(check(&r, NULL).rule, "B13");
}

/* B19: filed requests are agency-signed; prepared ones wait for the clerk. B14: only a
 * locked device is recovered. B20: legacy copies the Sở. */
static void
test_b19_b14_b20(void **state)
{
	struct pol_lifecycle_req r = base_req(POL_REQ_RECOVER);
	struct pol_decision d;

	(void)state;
	r.state = POL_CRED_LOCKED;
	assert_int_equal(check(&r, NULL).verdict, POL_ALLOW);
	r.agency_signed = false;
	assert_int_equal(check(&r, NULL).reason, POL_R_REQUEST_NOT_SIGNED);
	r.submit = false;
	d = check(&r, NULL);
	assert_int_equal(d.verdict, POL_COSIGN);
	assert_int_equal(d.cosign, POL_ROLE_CLERK);
	assert_string_equal(d.cosign_rule, "B19");
	r = base_req(POL_REQ_RECOVER);
	assert_int_equal(check(&r, NULL).reason, POL_R_CREDENTIAL_NOT_LOCKED);
	r.state = POL_CRED_LOCKED;
	d = check(&r, pol_province_find(&cfg, "quang-nam"));
	assert_int_equal(d.task[0].kind, POL_TASK_NOTIFY_DOST);
}

/* B6-B14: what events mean. */
static void
test_events(void **state)
{
	static const struct {
		enum pol_event ev;
		enum pol_verdict v;
		enum pol_reason reason;
		const char *rule;
		enum pol_task task0;
		unsigned ntask;
	} rows[] = {
		{ POL_EV_INFO_CHANGED, POL_ALLOW, POL_R_NONE, NULL, POL_TASK_DRAFT_MAU_04, 1 },
		{ POL_EV_TRANSFER_IN_STATE, POL_WARN, POL_R_NONE, NULL, POL_TASK_DRAFT_MAU_04, 1 },
		{ POL_EV_RETIRED, POL_DENY, POL_R_SUBSCRIBER_INACTIVE, "B8", POL_TASK_DRAFT_MAU_05,
		  2 },
		{ POL_EV_DECEASED, POL_DENY, POL_R_SUBSCRIBER_INACTIVE, "B8", POL_TASK_DRAFT_MAU_05,
		  2 },
		{ POL_EV_LEFT_STATE_SECTOR, POL_DENY, POL_R_SUBSCRIBER_INACTIVE, "B8",
		  POL_TASK_DRAFT_MAU_05, 2 },
		{ POL_EV_ORG_DISSOLVED, POL_DENY, POL_R_ORG_DISSOLVED, "B9", POL_TASK_DRAFT_MAU_05,
		  1 },
		{ POL_EV_DEVICE_DECOMMISSIONED, POL_DENY, POL_R_ORG_DISSOLVED, "B10",
		  POL_TASK_DRAFT_MAU_05, 1 },
		{ POL_EV_KEY_EXPOSED, POL_DENY, POL_R_KEY_COMPROMISED, "B11", POL_TASK_DRAFT_MAU_05,
		  2 },
		{ POL_EV_DEVICE_LOST, POL_DENY, POL_R_KEY_COMPROMISED, "B11", POL_TASK_DRAFT_MAU_05,
		  3 },
		{ POL_EV_PIN_BLOCKED, POL_DENY, POL_R_DEVICE_LOCKED, "B14", POL_TASK_DRAFT_MAU_06,
		  1 },
	};
	struct pol_decision d;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(pol_event_classify(rows[i].ev, &d), POL_OK);
		assert_int_equal(d.verdict, rows[i].v);
		assert_int_equal(d.reason, rows[i].reason);
		if (rows[i].rule != NULL)
			assert_string_equal(d.rule, rows[i].rule);
		assert_int_equal(d.ntask, rows[i].ntask);
		assert_int_equal(d.task[0].kind, rows[i].task0);
	}
	/* B7: a move within the state sector keeps the certificate: a warning, not a denial. */
	assert_int_equal(pol_event_classify(POL_EV_TRANSFER_IN_STATE, &d), POL_OK);
	assert_int_equal(d.hit[0].reason, POL_R_CERT_DATA_STALE);
	assert_string_equal(d.task[0].rule, "B7");
	assert_int_equal(pol_event_classify((enum pol_event)99, &d), POL_E_INVAL);
}

/* B16/B24: a Sở refusal needs a written reason and a second operator. */
static void
test_rejection(void **state)
{
	struct pol_decision d;

	(void)state;
	assert_int_equal(pol_rejection_check(NULL, &d), POL_OK);
	assert_int_equal(d.reason, POL_R_REASON_REQUIRED);
	assert_string_equal(d.rule, "B16");
	assert_int_equal(pol_rejection_check("Hồ sơ thiếu Mẫu 06", &d), POL_OK);
	assert_int_equal(d.verdict, POL_COSIGN);
	assert_int_equal(d.cosign, POL_ROLE_DOST_OPERATOR);
}

static int
setup(void **state)
{
	(void)state;
	pol_config_defaults(&cfg);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b4_renew_days_29_30_31),
		cmocka_unit_test(test_b4_legacy_60),
		cmocka_unit_test(test_b3_once),
		cmocka_unit_test(test_b1_b2_validity),
		cmocka_unit_test(test_b5_change),
		cmocka_unit_test(test_issue_preconditions),
		cmocka_unit_test(test_revoke_and_lost),
		cmocka_unit_test(test_b19_b14_b20),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_rejection),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
