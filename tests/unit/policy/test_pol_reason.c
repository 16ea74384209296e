/* Reason → wire mapping (PROTOCOL.md §5 "Refusal reasons"; REGULATION.md §3 "Answers"). The
 * rows are PROTOCOL.md's table, one line per reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/pol.h>

static const struct {
	enum pol_reason r;
	const char *name, *rule;
	uint16_t code, sub;
} wire[] = {
	{ POL_R_SECRECY_LEVEL_MISSING, "SECRECY_LEVEL_MISSING", "A1", 102, 0 },
	{ POL_R_STATE_SECRET_REFUSED, "STATE_SECRET_REFUSED", "A1", 107, 1071 },
	{ POL_R_PUBLIC_CA_NOT_ALLOWED, "PUBLIC_CA_NOT_ALLOWED", "A2", 104, 1053 },
	{ POL_R_TITLE_NOT_AUTHORISED, "TITLE_NOT_AUTHORISED", "A3", 104, 1049 },
	{ POL_R_TITLE_MISMATCH, "TITLE_MISMATCH", "A3", 104, 1049 },
	{ POL_R_ORG_KEY_NOT_ASSIGNED, "ORG_KEY_NOT_ASSIGNED", "C1", 104, 1047 },
	{ POL_R_NO_DELEGATION, "NO_DELEGATION", "C8", 104, 1048 },
	{ POL_R_CERT_NOT_OWN, "CERT_NOT_OWN", "C8", 104, 1048 },
	{ POL_R_ISSUE_BEFORE_APPROVE, "ISSUE_BEFORE_APPROVE", "D9", 104, 1050 },
	{ POL_R_SEAL_HANDOVER_INVALID, "SEAL_HANDOVER_INVALID", "C3", 104, 1051 },
	{ POL_R_STATUS_UNKNOWN_SEAL, "STATUS_UNKNOWN_SEAL", "D3", 104, 1052 },
	{ POL_R_ORG_KEY_OUTSIDE_PREMISES, "ORG_KEY_OUTSIDE_PREMISES", "C2", 104, 1054 },
	{ POL_R_AUTOMATED_ORG_SEAL, "AUTOMATED_ORG_SEAL", "C4", 104, 1055 },
	{ POL_R_ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE, "ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE",
	  "C5", 104, 1056 },
	{ POL_R_COPY_NOT_OWN, "COPY_NOT_OWN", "C5", 104, 1056 },
	{ POL_R_CERT_TYPE_MODE_MISMATCH, "CERT_TYPE_MODE_MISMATCH", "C7", 104, 1057 },
	{ POL_R_DELEGATION_EXPIRED, "DELEGATION_EXPIRED", "C9", 104, 1058 },
	{ POL_R_DELEGATION_OUT_OF_SCOPE, "DELEGATION_OUT_OF_SCOPE", "C9", 104, 1058 },
	{ POL_R_REDELEGATION_FORBIDDEN, "REDELEGATION_FORBIDDEN", "C9", 104, 1058 },
	{ POL_R_SUBSCRIBER_INACTIVE, "SUBSCRIBER_INACTIVE", "B8", 104, 1059 },
	{ POL_R_ORG_DISSOLVED, "ORG_DISSOLVED", "B9", 104, 1060 },
	{ POL_R_KEY_COMPROMISED, "KEY_COMPROMISED", "B11", 104, 1061 },
	{ POL_R_MAIN_DOCUMENT_NOT_ISSUED, "MAIN_DOCUMENT_NOT_ISSUED", "attachment", 104, 1062 },
	{ POL_R_DEVICE_LOCKED, "DEVICE_LOCKED", "B14", 402, 4021 },
	{ POL_R_UNTRUSTED_ROOT, "UNTRUSTED_ROOT", "D1", 425, 0 },
	{ POL_R_INVALID_CERT_CHAIN, "INVALID_CERT_CHAIN", "D1", 425, 0 },
	{ POL_R_CERT_EXPIRED, "CERT_EXPIRED", "D1", 425, 0 },
	{ POL_R_CERT_NOT_YET_VALID, "CERT_NOT_YET_VALID", "D1", 425, 0 },
	{ POL_R_CERT_USAGE_NOT_ALLOWED, "CERT_USAGE_NOT_ALLOWED", "D2", 425, 0 },
	{ POL_R_CERT_IS_REVOKED, "CERT_IS_REVOKED", "D2", 501, 0 },
	{ POL_R_CA_CERT_IS_REVOKED, "CA_CERT_IS_REVOKED", "D2", 501, 0 },
	{ POL_R_ALGORITHM_NOT_ALLOWED, "ALGORITHM_NOT_ALLOWED", "D10", 505, 0 },
	{ POL_R_SIGNER_QUOTA, "SIGNER_QUOTA", "gateway", 406, 0 },
	/* WARN reasons ride on `accepted`, never an error frame. */
	{ POL_R_STATUS_UNKNOWN, "STATUS_UNKNOWN", "D3", 0, 0 },
	{ POL_R_CERT_DATA_STALE, "CERT_DATA_STALE", "B7", 0, 0 },
	{ POL_R_PAPER_COPY_REQUIRED, "PAPER_COPY_REQUIRED", "D13", 0, 0 },
};

static void
test_protocol_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++) {
		const struct pol_reason_info *ri = pol_reason_info(wire[i].r);

		assert_string_equal(ri->name, wire[i].name);
		assert_string_equal(ri->rule, wire[i].rule);
		if (ri->code != wire[i].code || ri->sub != wire[i].sub)
			fail_msg("%s: %u/%u", ri->name, ri->code, ri->sub);
	}
	assert_string_equal(pol_reason_info(POL_R_DEVICE_LOCKED)->status_name, "PIN_NR_BLOCKED");
	assert_string_equal(pol_reason_info(POL_R_CERT_EXPIRED)->status_name, "ERROR_CERTIFICATE");
}

/* Every reason has a unique name, a rule, and messages in both languages; no 500-class
 * code comes before signing except 501 (revoked) and 505 (algorithm). */
static void
test_every_reason_complete(void **state)
{
	(void)state;
	for (int r = 1; r < POL_R_COUNT; r++) {
		const struct pol_reason_info *ri = pol_reason_info((enum pol_reason)r);

		assert_true(ri->name[0] != '\0');
		assert_true(ri->rule[0] != '\0');
		assert_true(ri->msg_vi[0] != '\0');
		assert_true(ri->msg_en[0] != '\0');
		assert_true(ri->code == 0 || ri->status_name[0] != '\0');
		assert_true(ri->code < 500 || ri->code == 501 || ri->code == 505);
		for (int q = 1; q < r; q++)
			assert_string_not_equal(ri->name,
			                        pol_reason_info((enum pol_reason)q)->name);
	}
	assert_string_equal(pol_reason_info((enum pol_reason)999)->name, "NONE");
	assert_string_equal(pol_reason_info((enum pol_reason) - 1)->name, "NONE");
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(pol_task_name(POL_TASK_DRAFT_MAU_06), "DRAFT_MAU_06");
	assert_string_equal(pol_task_name(POL_TASK_COUNT), "?");
	assert_string_equal(pol_role_name(POL_ROLE_CLERK), "CLERK");
	assert_string_equal(pol_strerror(POL_E_NO_ROUTE),
	                    "no such request for this credential and device");
	for (int e = 0; e <= POL_E_NOMEM; e++)
		assert_string_not_equal(pol_strerror((enum pol_err)e), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol_table),
		cmocka_unit_test(test_every_reason_complete),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
