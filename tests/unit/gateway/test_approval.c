/* Issue mode's approve lookup (PROTOCOL.md 4.1 `document.approval_txn`; REGULATION.md C5, D9):
 * the facts read from the stored approve txn row, and what policy decides on them. Each case
 * starts from an approve that ended 502 on the same org and digest and changes one fact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_approval.h"

#define DAY    86400
#define T_NOW  1780000000
#define ORG    "ubnd-dong-nai"
#define DIGEST "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="

static struct pol_config cfg;

static const char approve_req[] = "{\"type\":\"sign\",\"mode\":\"approve\",\"channel\":\"pcsc\","
                                  "\"document\":{\"org\":\"" ORG "\",\"digest\":\"" DIGEST "\"}}";

/* The stored approve: DONE with 502 (a verified signature). */
static struct db_txn_row
approve_row(void)
{
	return (struct db_txn_row){ .id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		                    .state = "DONE",
		                    .org = ORG,
		                    .status = 502,
		                    .request = approve_req };
}

/* The clerk sealing with the org token assigned to her (C1), the approve's facts as read. */
static void
check_issue(const struct gw_approval *a, enum pol_doc_state doc_state, const char *org,
            const char *digest, struct pol_decision *d)
{
	struct pol_approval pa;
	struct pol_signer signer = { .id = "dn-van-thu" };
	struct pol_cert cert = { .credential_id = "7",
		                 .holder_id = ORG,
		                 .type = POL_CRED_ORG,
		                 .device = POL_DEV_TOKEN,
		                 .state = POL_CRED_ACTIVE,
		                 .not_before = T_NOW - 100 * DAY,
		                 .not_after = T_NOW + 300 * DAY,
		                 .chain = POL_CHAIN_OK,
		                 .usage_ok = true,
		                 .key_alg = POL_KEY_EC,
		                 .key_bits = 256,
		                 .sig_hash = POL_HASH_SHA256,
		                 .trust = POL_TRUST_CONG_VU,
		                 .revocation = POL_REV_GOOD };
	struct pol_document doc = { .org = org,
		                    .doc_class = "quyet-dinh",
		                    .digest = digest,
		                    .secrecy = POL_SECRECY_NONE,
		                    .state = doc_state,
		                    .approval = gw_approval_pol(a, &pa) };
	struct pol_seal_assignment seal = { "7", "dn-van-thu", "QĐ 01/QĐ-UBND", T_NOW - DAY,
		                            0,   false };
	struct pol_sign_ctx c = { .mode = POL_MODE_ISSUE,
		                  .now = T_NOW,
		                  .signer = &signer,
		                  .cert = &cert,
		                  .doc = &doc,
		                  .seals = &seal,
		                  .nseals = 1 };

	assert_int_equal(pol_sign_check(&cfg, &c, d), POL_OK);
}

static bool
denied_by(const struct pol_decision *d, const char *rule)
{
	for (unsigned i = 0; i < d->nhit; i++)
		if (d->hit[i].verdict == POL_DENY && strcmp(d->hit[i].rule, rule) == 0)
			return true;
	return false;
}

static void
facts_from_row(void **state)
{
	struct db_txn_row r = approve_row();
	struct gw_approval a;
	struct pol_approval pa;
	const struct pol_approval *p;

	(void)state;
	gw_approval_from_row(&r, &a);
	assert_true(a.found && a.approve && a.valid);
	assert_string_equal(a.org, ORG);
	assert_string_equal(a.digest, DIGEST);
	p = gw_approval_pol(&a, &pa);
	assert_non_null(p);
	assert_int_equal(p->mode, POL_MODE_APPROVE);
	assert_true(p->valid && p->authorised);
}

/* The document table's states (migration 0005) as policy's; no row is a DRAFT. */
static void
document_states(void **state)
{
	struct db_document_row row = { .org = ORG, .digest = DIGEST };

	(void)state;
	assert_int_equal(gw_document_state(NULL), POL_DOC_DRAFT);
	row.state = "DRAFT";
	assert_int_equal(gw_document_state(&row), POL_DOC_DRAFT);
	row.state = "APPROVED";
	assert_int_equal(gw_document_state(&row), POL_DOC_APPROVED);
	row.state = "ISSUED";
	assert_int_equal(gw_document_state(&row), POL_DOC_ISSUED);
	row.state = "something else";
	assert_int_equal(gw_document_state(&row), POL_DOC_DRAFT);
}

static void
not_found_is_no_approval(void **state)
{
	struct gw_approval a;
	struct pol_approval pa;

	(void)state;
	gw_approval_from_row(NULL, &a);
	assert_false(a.found);
	assert_null(gw_approval_pol(&a, &pa));
}

/* C5 + D9 allow: approve (502) then issue on the same org and digest. */
static void
issue_after_valid_approve_allowed(void **state)
{
	struct db_txn_row r = approve_row();
	struct gw_approval a;
	struct pol_decision d;

	(void)state;
	gw_approval_from_row(&r, &a);
	check_issue(&a, POL_DOC_APPROVED, ORG, DIGEST, &d);
	assert_int_equal(d.verdict == POL_DENY, false);
	assert_false(denied_by(&d, "C5") || denied_by(&d, "D9"));
}

/* The document is APPROVED in the table, but the approve the issue names is not valid for
 * it: C5 alone refuses. A DRAFT document with a valid approve named: D9 alone. */
static void
issue_document_and_approval_judged_apart(void **state)
{
	struct db_txn_row r = approve_row();
	struct gw_approval a;
	struct pol_decision d;

	(void)state;
	r.status = 500;
	gw_approval_from_row(&r, &a);
	check_issue(&a, POL_DOC_APPROVED, ORG, DIGEST, &d);
	assert_true(d.verdict == POL_DENY && denied_by(&d, "C5") && !denied_by(&d, "D9"));
	r = approve_row();
	gw_approval_from_row(&r, &a);
	check_issue(&a, POL_DOC_DRAFT, ORG, DIGEST, &d);
	assert_true(d.verdict == POL_DENY && denied_by(&d, "D9") && !denied_by(&d, "C5"));
}

/* One fact changed each: the issue is refused by C5 and D9. */
static void
issue_refused_without_valid_approve(void **state)
{
	static const char issue_req[] =
	        "{\"mode\":\"issue\",\"document\":{\"digest\":\"" DIGEST "\"}}";
	struct {
		const char *what, *state, *org, *request, *ask_org, *ask_digest;
		int status;
		bool found;
	} cases[] = {
		{ "not found", NULL, NULL, NULL, ORG, DIGEST, 0, false },
		{ "ended 500 (not verified)", "DONE", ORG, approve_req, ORG, DIGEST, 500, true },
		{ "failed", "FAILED", ORG, approve_req, ORG, DIGEST, 401, true },
		{ "still open", "AWAITING_USER", ORG, approve_req, ORG, DIGEST, 0, true },
		{ "another digest", "DONE", ORG, approve_req, ORG, "AAAA", 502, true },
		{ "another org", "DONE", "ubnd-ha-noi", approve_req, ORG, DIGEST, 502, true },
		{ "an issue, not an approve", "DONE", ORG, issue_req, ORG, DIGEST, 502, true },
		{ "request unreadable", "DONE", ORG, "{not json", ORG, DIGEST, 502, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct db_txn_row r = approve_row();
		struct gw_approval a;
		struct pol_decision d;

		r.state = cases[i].state;
		r.org = cases[i].org;
		r.request = cases[i].request;
		r.status = cases[i].status;
		gw_approval_from_row(cases[i].found ? &r : NULL, &a);
		/* No valid approve of the document asked for: the table has it as a DRAFT. */
		check_issue(&a, POL_DOC_DRAFT, cases[i].ask_org, cases[i].ask_digest, &d);
		if (d.verdict != POL_DENY || !denied_by(&d, "C5") || !denied_by(&d, "D9"))
			fail_msg("case '%s' was not refused by C5 and D9", cases[i].what);
		assert_int_equal(d.reason == POL_R_ISSUE_BEFORE_APPROVE ||
		                         d.reason == POL_R_ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE,
		                 true);
	}
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
		cmocka_unit_test(facts_from_row),
		cmocka_unit_test(document_states),
		cmocka_unit_test(issue_document_and_approval_judged_apart),
		cmocka_unit_test(not_found_is_no_approval),
		cmocka_unit_test(issue_after_valid_approve_allowed),
		cmocka_unit_test(issue_refused_without_valid_approve),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
