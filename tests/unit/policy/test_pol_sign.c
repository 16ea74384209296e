/* Signing rules (REGULATION.md §3 A, B, C, D): at least one allow and one deny case per rule
 * id, table-driven. Each row starts from a fixture that passes every rule and changes one
 * fact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/pol.h>

#define DAY    86400
#define T_NOW  1780000000 /* 2026-05-28 */
#define ORG    "ubnd-dong-nai"
#define DIGEST "ZGlnZXN0"

static struct pol_config cfg;

struct fix {
	struct pol_sign_ctx c;
	struct pol_signer signer;
	struct pol_cert cert;
	struct pol_document doc;
	struct pol_approval approval;
	struct pol_title titles[2];
	struct pol_delegation deleg[2];
	struct pol_seal_assignment seal[1];
	struct pol_seal_handover handover[1];
};

static const char *const cls_qd[] = { "quyet-dinh", "cong-van" };
static const char *const cls_all[] = { "*" };
static const char *const cls_cv[] = { "cong-van" };

/* An official approving a decision with a good personal certificate. */
static void
fix_approve(struct fix *f)
{
	memset(f, 0, sizeof(*f));
	f->titles[0] = (struct pol_title){ ORG, "Phó Chủ tịch", cls_qd, 2 };
	f->signer = (struct pol_signer){ .id = "u-0001", .titles = f->titles, .ntitles = 1 };
	f->cert = (struct pol_cert){ .credential_id = "cred-p1",
		                     .holder_id = "u-0001",
		                     .type = POL_CRED_PERSONAL,
		                     .device = POL_DEV_SIM,
		                     .state = POL_CRED_ACTIVE,
		                     .not_before = T_NOW - 100 * DAY,
		                     .not_after = T_NOW + 600 * DAY,
		                     .chain = POL_CHAIN_OK,
		                     .usage_ok = true,
		                     .key_alg = POL_KEY_RSA,
		                     .key_bits = 2048,
		                     .sig_hash = POL_HASH_SHA256,
		                     .trust = POL_TRUST_CONG_VU,
		                     .revocation = POL_REV_GOOD };
	f->doc = (struct pol_document){ .org = ORG,
		                        .doc_class = "quyet-dinh",
		                        .digest = DIGEST,
		                        .secrecy = POL_SECRECY_NONE,
		                        .state = POL_DOC_DRAFT };
	f->c = (struct pol_sign_ctx){ .mode = POL_MODE_APPROVE,
		                      .now = T_NOW,
		                      .signer = &f->signer,
		                      .cert = &f->cert,
		                      .doc = &f->doc };
}

/* The clerk sealing an approved decision with the org token assigned to her. */
static void
fix_issue(struct fix *f)
{
	fix_approve(f);
	f->signer.id = "u-clerk";
	f->signer.ntitles = 0;
	f->cert.credential_id = "cred-org";
	f->cert.holder_id = ORG;
	f->cert.type = POL_CRED_ORG;
	f->cert.device = POL_DEV_TOKEN;
	f->doc.state = POL_DOC_APPROVED;
	f->approval = (struct pol_approval){ ORG, DIGEST, POL_MODE_APPROVE, true, true };
	f->doc.approval = &f->approval;
	f->seal[0] = (struct pol_seal_assignment){ "cred-org",       "u-clerk", "QĐ 12/QĐ-UBND",
		                                   T_NOW - 30 * DAY, 0,         false };
	f->c.seals = f->seal;
	f->c.nseals = 1;
	f->c.mode = POL_MODE_ISSUE;
}

/* A deputy signing KT. for the head under a delegation record. */
static void
fix_kt(struct fix *f)
{
	fix_approve(f);
	f->deleg[0] = (struct pol_delegation){ .label = POL_LABEL_KT,
		                               .principal = "u-head",
		                               .delegate = "u-0001",
		                               .classes = cls_qd,
		                               .nclasses = 2,
		                               .valid_from = T_NOW - 10 * DAY,
		                               .valid_until = T_NOW + 10 * DAY };
	f->c.delegations = f->deleg;
	f->c.ndelegations = 1;
	f->c.on_behalf_label = POL_LABEL_KT;
	f->c.on_behalf_principal = "u-head";
}

static void
fix_tuq(struct fix *f)
{
	fix_kt(f);
	f->deleg[0].label = POL_LABEL_TUQ;
	f->c.on_behalf_label = POL_LABEL_TUQ;
}

struct row {
	const char *rule; /* REGULATION.md id under test */
	const char *what;
	void (*base)(struct fix *);
	void (*mut)(struct fix *);
	enum pol_verdict verdict;
	enum pol_reason reason; /* the deciding DENY, or the first WARN hit */
};

/* --- mutations, one fact each --- */
static void
m_none(struct fix *f)
{
	(void)f;
}
static void
m_secrecy_missing(struct fix *f)
{
	f->doc.secrecy = POL_SECRECY_MISSING;
}
static void
m_secret(struct fix *f)
{
	f->doc.secrecy = POL_SECRECY_TOI_MAT;
}
static void
m_secret_locked(struct fix *f)
{
	f->doc.secrecy = POL_SECRECY_MAT;
	f->cert.state = POL_CRED_LOCKED;
}
static void
m_neac_after(struct fix *f)
{
	f->cert.trust = POL_TRUST_PUBLIC_NEAC;
}
static void
m_neac_before(struct fix *f)
{
	f->cert.trust = POL_TRUST_PUBLIC_NEAC;
	f->c.now = cfg.public_ca_cutoff - 1;
	f->cert.not_before = f->c.now - DAY;
}
static void
m_title_class(struct fix *f)
{
	f->doc.doc_class = "nghi-quyet";
}
static void
m_title_other_org(struct fix *f)
{
	f->doc.org = "ubnd-hai-phong";
}
static void
m_title_wildcard(struct fix *f)
{
	f->titles[1] = (struct pol_title){ ORG, "Chủ tịch", cls_all, 1 };
	f->signer.ntitles = 2;
	f->doc.doc_class = "nghi-quyet";
}
static void
m_title_printed_ok(struct fix *f)
{
	f->cert.printed_title = "Phó Chủ tịch";
}
static void
m_title_printed_bad(struct fix *f)
{
	f->cert.printed_title = "Chánh Văn phòng";
}
static void
m_transfer(struct fix *f)
{
	f->signer.transfer_pending = true;
}
static void
m_retired(struct fix *f)
{
	f->signer.status = POL_PERSON_RETIRED;
}
static void
m_left_state(struct fix *f)
{
	f->signer.status = POL_PERSON_LEFT_STATE_SECTOR;
}
static void
m_org_dissolved(struct fix *f)
{
	f->cert.subscriber_org_dissolved = true;
}
static void
m_device_retired(struct fix *f)
{
	f->cert.type = POL_CRED_DEVICE;
	f->c.mode = POL_MODE_SYSTEM;
	f->cert.subscriber_org_dissolved = true;
}
static void
m_system_ok(struct fix *f)
{
	f->cert.type = POL_CRED_DEVICE;
	f->c.mode = POL_MODE_SYSTEM;
}
static void
m_lost(struct fix *f)
{
	f->cert.state = POL_CRED_LOST;
}
static void
m_locked(struct fix *f)
{
	f->cert.state = POL_CRED_LOCKED;
}
static void
m_seal_other_clerk(struct fix *f)
{
	f->seal[0].clerk = "u-other";
}
static void
m_seal_revoked(struct fix *f)
{
	f->seal[0].revoked = true;
}
static void
m_seal_no_decision(struct fix *f)
{
	f->seal[0].decision_ref = NULL;
}
static void
m_remote_outside(struct fix *f)
{
	f->cert.device = POL_DEV_HSM;
}
static void
m_remote_inside(struct fix *f)
{
	f->cert.device = POL_DEV_HSM;
	f->c.on_premises = true;
}
static void
handover(struct fix *f, const char *perm, const char *minutes, int64_t from, int64_t until)
{
	f->seal[0].clerk = "u-other";
	f->handover[0] =
	        (struct pol_seal_handover){ "cred-org", "u-clerk", perm, minutes, from, until };
	f->c.handovers = f->handover;
	f->c.nhandovers = 1;
}
static void
m_handover_ok(struct fix *f)
{
	handover(f, "CV 5/UBND", "BB 5", T_NOW - DAY, T_NOW + DAY);
}
static void
m_handover_no_minutes(struct fix *f)
{
	handover(f, "CV 5/UBND", NULL, T_NOW - DAY, T_NOW + DAY);
}
static void
m_handover_expired(struct fix *f)
{
	handover(f, "CV 5/UBND", "BB 5", T_NOW - 3 * DAY, T_NOW - DAY);
}
static void
m_service_account(struct fix *f)
{
	f->signer.service_account = true;
}
static void
m_service_approve(struct fix *f)
{
	f->signer.service_account = true; /* C4 is about the org key only */
}
static void
m_no_approval(struct fix *f)
{
	f->doc.approval = NULL;
}
static void
m_approval_other_digest(struct fix *f)
{
	f->approval.digest = "b3RoZXI=";
}
static void
m_approval_unauthorised(struct fix *f)
{
	f->approval.authorised = false;
}
static void
m_approval_invalid(struct fix *f)
{
	f->approval.valid = false;
}
static void
m_copy_ok(struct fix *f)
{
	f->c.mode = POL_MODE_COPY;
	f->doc.copy_form = POL_COPY_SAO_Y;
	f->doc.copy_made_by = ORG;
}
static void
m_copy_foreign(struct fix *f)
{
	m_copy_ok(f);
	f->doc.copy_made_by = "ubnd-hai-phong";
}
static void
m_copy_no_form(struct fix *f)
{
	m_copy_ok(f);
	f->doc.copy_form = POL_COPY_NONE;
}
static void
m_attach_ok(struct fix *f)
{
	f->c.mode = POL_MODE_ATTACHMENT;
	f->doc.main_state = POL_DOC_ISSUED;
}
static void
m_attach_draft(struct fix *f)
{
	f->c.mode = POL_MODE_ATTACHMENT;
	f->doc.main_state = POL_DOC_APPROVED;
}
static void
m_session_own(struct fix *f)
{
	f->c.session_holder = "u-0001";
}
static void
m_session_other(struct fix *f)
{
	f->c.session_holder = "u-0002";
}
static void
m_approve_with_org(struct fix *f)
{
	f->cert.type = POL_CRED_ORG;
}
static void
m_issue_with_personal(struct fix *f)
{
	f->cert.type = POL_CRED_PERSONAL;
}
static void
m_cert_not_own(struct fix *f)
{
	f->cert.holder_id = "u-0002";
}
static void
m_no_delegation(struct fix *f)
{
	f->c.ndelegations = 0;
}
static void
m_label_differs(struct fix *f)
{
	f->c.on_behalf_label = POL_LABEL_TL;
}
static void
m_deleg_revoked(struct fix *f)
{
	f->deleg[0].revoked = true;
}
static void
m_deleg_expired(struct fix *f)
{
	f->deleg[0].valid_until = T_NOW - 1;
}
static void
m_deleg_scope(struct fix *f)
{
	f->deleg[0].classes = cls_cv;
	f->deleg[0].nclasses = 1;
}
static void
m_deleg_scope_beyond_title(struct fix *f)
{
	/* The deputy's own title does not cover it; the delegation does (C9 decides). */
	f->doc.doc_class = "nghi-quyet";
	f->deleg[0].classes = cls_all;
	f->deleg[0].nclasses = 1;
}
static void
m_redelegated(struct fix *f)
{
	f->deleg[0].granted_by_delegate = true;
}
static void
m_expired(struct fix *f)
{
	f->cert.not_after = T_NOW;
}
static void
m_not_yet(struct fix *f)
{
	f->cert.not_before = T_NOW + 1;
}
static void
m_untrusted(struct fix *f)
{
	f->cert.chain = POL_CHAIN_UNTRUSTED_ROOT;
}
static void
m_bad_chain(struct fix *f)
{
	f->cert.chain = POL_CHAIN_INVALID;
}
static void
m_revoked(struct fix *f)
{
	f->cert.revocation = POL_REV_REVOKED;
}
static void
m_ca_revoked(struct fix *f)
{
	f->cert.revocation = POL_REV_CA_REVOKED;
}
static void
m_usage(struct fix *f)
{
	f->cert.usage_ok = false;
}
static void
m_status_unknown(struct fix *f)
{
	f->cert.revocation = POL_REV_UNKNOWN;
}
static void
m_issue_on_draft(struct fix *f)
{
	f->doc.state = POL_DOC_DRAFT;
}
static void
m_takes_seal(struct fix *f)
{
	f->doc.takes_seal = true;
}
static void
m_rsa1024(struct fix *f)
{
	f->cert.key_bits = 1024;
}
static void
m_ec256(struct fix *f)
{
	f->cert.key_alg = POL_KEY_EC;
	f->cert.key_bits = 256;
}
static void
m_ec224(struct fix *f)
{
	f->cert.key_alg = POL_KEY_EC;
	f->cert.key_bits = 224;
}
static void
m_sha1(struct fix *f)
{
	f->cert.sig_hash = POL_HASH_SHA1;
}
static void
m_paper(struct fix *f)
{
	f->doc.needs_paper = true;
}

#define A    POL_ALLOW
#define W    POL_WARN
#define D    POL_DENY
#define R(x) POL_R_##x

static const struct row rows[] = {
	{ "A1", "secrecy none", fix_approve, m_none, A, R(NONE) },
	{ "A1", "secrecy missing", fix_approve, m_secrecy_missing, D, R(SECRECY_LEVEL_MISSING) },
	{ "A1", "toi mat", fix_approve, m_secret, D, R(STATE_SECRET_REFUSED) },
	{ "A1", "secret wins over a locked device", fix_approve, m_secret_locked, D,
	  R(STATE_SECRET_REFUSED) },
	{ "A2", "public CA before cut-off", fix_approve, m_neac_before, A, R(NONE) },
	{ "A2", "public CA after cut-off", fix_approve, m_neac_after, D, R(PUBLIC_CA_NOT_ALLOWED) },
	{ "A3", "class outside title", fix_approve, m_title_class, D, R(TITLE_NOT_AUTHORISED) },
	{ "A3", "title of another org", fix_approve, m_title_other_org, D,
	  R(TITLE_NOT_AUTHORISED) },
	{ "A3", "second title covers all", fix_approve, m_title_wildcard, A, R(NONE) },
	{ "A3", "printed title matches", fix_approve, m_title_printed_ok, A, R(NONE) },
	{ "A3", "printed title differs", fix_approve, m_title_printed_bad, D, R(TITLE_MISMATCH) },
	{ "B7", "moved, Mẫu 04 pending", fix_approve, m_transfer, W, R(CERT_DATA_STALE) },
	{ "B8", "retired", fix_approve, m_retired, D, R(SUBSCRIBER_INACTIVE) },
	{ "B8", "left the state sector", fix_approve, m_left_state, D, R(SUBSCRIBER_INACTIVE) },
	{ "B9", "org merged", fix_issue, m_org_dissolved, D, R(ORG_DISSOLVED) },
	{ "B10", "device decommissioned", fix_approve, m_device_retired, D, R(ORG_DISSOLVED) },
	{ "B10", "device in service", fix_approve, m_system_ok, A, R(NONE) },
	{ "B11", "device reported lost", fix_approve, m_lost, D, R(KEY_COMPROMISED) },
	{ "B14", "locked", fix_approve, m_locked, D, R(DEVICE_LOCKED) },
	{ "C1", "assigned clerk", fix_issue, m_none, A, R(NONE) },
	{ "C1", "another clerk's seal", fix_issue, m_seal_other_clerk, D, R(ORG_KEY_NOT_ASSIGNED) },
	{ "C1", "assignment withdrawn", fix_issue, m_seal_revoked, D, R(ORG_KEY_NOT_ASSIGNED) },
	{ "C1", "no decision reference", fix_issue, m_seal_no_decision, D,
	  R(ORG_KEY_NOT_ASSIGNED) },
	{ "C2", "remote org key off premises", fix_issue, m_remote_outside, D,
	  R(ORG_KEY_OUTSIDE_PREMISES) },
	{ "C2", "remote org key on premises", fix_issue, m_remote_inside, A, R(NONE) },
	{ "C3", "hand-over complete", fix_issue, m_handover_ok, A, R(NONE) },
	{ "C3", "hand-over without minutes", fix_issue, m_handover_no_minutes, D,
	  R(SEAL_HANDOVER_INVALID) },
	{ "C3", "hand-over window ended", fix_issue, m_handover_expired, D,
	  R(SEAL_HANDOVER_INVALID) },
	{ "C4", "service account seals", fix_issue, m_service_account, D, R(AUTOMATED_ORG_SEAL) },
	{ "C4", "service account flag on approve", fix_approve, m_service_approve, A, R(NONE) },
	{ "C5", "no approval named", fix_issue, m_no_approval, D,
	  R(ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE) },
	{ "C5", "approval of another digest", fix_issue, m_approval_other_digest, D,
	  R(ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE) },
	{ "C5", "approval by an unauthorised signer", fix_issue, m_approval_unauthorised, D,
	  R(ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE) },
	{ "C5", "approval not valid", fix_issue, m_approval_invalid, D,
	  R(ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE) },
	{ "C5", "own copy", fix_issue, m_copy_ok, A, R(NONE) },
	{ "C5", "copy made elsewhere", fix_issue, m_copy_foreign, D, R(COPY_NOT_OWN) },
	{ "C5", "copy without form", fix_issue, m_copy_no_form, D, R(COPY_NOT_OWN) },
	{ "C6", "session of the holder", fix_approve, m_session_own, A, R(NONE) },
	{ "C6", "session of someone else", fix_approve, m_session_other, D,
	  R(SUBSCRIBER_MISMATCH) },
	{ "C7", "approve with org cert", fix_approve, m_approve_with_org, D,
	  R(CERT_TYPE_MODE_MISMATCH) },
	{ "C7", "issue with personal cert", fix_issue, m_issue_with_personal, D,
	  R(CERT_TYPE_MODE_MISMATCH) },
	{ "C8", "KT. with record", fix_kt, m_none, A, R(NONE) },
	{ "C8", "someone else's certificate", fix_approve, m_cert_not_own, D, R(CERT_NOT_OWN) },
	{ "C8", "KT. without record", fix_kt, m_no_delegation, D, R(NO_DELEGATION) },
	{ "C8", "label unlike the record's", fix_kt, m_label_differs, D, R(NO_DELEGATION) },
	{ "C8", "record revoked", fix_kt, m_deleg_revoked, D, R(NO_DELEGATION) },
	{ "C9", "TUQ. in time and scope", fix_tuq, m_none, A, R(NONE) },
	{ "C9", "scope wider than own title", fix_tuq, m_deleg_scope_beyond_title, A, R(NONE) },
	{ "C9", "TUQ. expired", fix_tuq, m_deleg_expired, D, R(DELEGATION_EXPIRED) },
	{ "C9", "TUQ. out of scope", fix_tuq, m_deleg_scope, D, R(DELEGATION_OUT_OF_SCOPE) },
	{ "C9", "TUQ. re-delegated", fix_tuq, m_redelegated, D, R(REDELEGATION_FORBIDDEN) },
	{ "C9", "KT. from a delegate is not TUQ.", fix_kt, m_redelegated, A, R(NONE) },
	{ "D1", "expired", fix_approve, m_expired, D, R(CERT_EXPIRED) },
	{ "D1", "not yet valid", fix_approve, m_not_yet, D, R(CERT_NOT_YET_VALID) },
	{ "D1", "untrusted root", fix_approve, m_untrusted, D, R(UNTRUSTED_ROOT) },
	{ "D1", "broken chain", fix_approve, m_bad_chain, D, R(INVALID_CERT_CHAIN) },
	{ "D2", "revoked", fix_approve, m_revoked, D, R(CERT_IS_REVOKED) },
	{ "D2", "CA revoked", fix_approve, m_ca_revoked, D, R(CA_CERT_IS_REVOKED) },
	{ "D2", "key usage", fix_approve, m_usage, D, R(CERT_USAGE_NOT_ALLOWED) },
	{ "D3", "approve, status unknown", fix_approve, m_status_unknown, W, R(STATUS_UNKNOWN) },
	{ "D3", "seal, status unknown", fix_issue, m_status_unknown, D, R(STATUS_UNKNOWN_SEAL) },
	{ "D9", "issue on a draft", fix_issue, m_issue_on_draft, D, R(ISSUE_BEFORE_APPROVE) },
	{ "D9", "issue after approve", fix_issue, m_none, A, R(NONE) },
	{ "D10", "RSA 1024", fix_approve, m_rsa1024, D, R(ALGORITHM_NOT_ALLOWED) },
	{ "D10", "ECDSA 224", fix_approve, m_ec224, D, R(ALGORITHM_NOT_ALLOWED) },
	{ "D10", "SHA-1 certificate", fix_approve, m_sha1, D, R(ALGORITHM_NOT_ALLOWED) },
	{ "D10", "ECDSA 256", fix_approve, m_ec256, A, R(NONE) },
	{ "D13", "paper copy", fix_approve, m_paper, W, R(PAPER_COPY_REQUIRED) },
	{ "attachment", "main issued", fix_issue, m_attach_ok, A, R(NONE) },
	{ "attachment", "main not issued", fix_issue, m_attach_draft, D,
	  R(MAIN_DOCUMENT_NOT_ISSUED) },
};

static void
test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct pol_decision d;
		struct fix f;

		r->base(&f);
		r->mut(&f);
		assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_OK);
		if (d.verdict != r->verdict || (r->verdict == POL_DENY && d.reason != r->reason) ||
		    (r->verdict == POL_WARN && (d.nhit == 0 || d.hit[0].reason != r->reason)))
			fail_msg("%s %s: verdict %d reason %s", r->rule, r->what, d.verdict,
			         pol_reason_info(d.reason)->name);
		if (r->verdict == POL_DENY) {
			/* The deciding reason carries this row's rule id (B10 and B9 share
			 * ORG_DISSOLVED; attachment is §3's own id). */
			if (strcmp(d.rule, r->rule) != 0)
				fail_msg("%s %s: rule %s", r->rule, r->what, d.rule);
		} else if (r->verdict == POL_WARN) {
			assert_string_equal(d.hit[0].rule, r->rule);
		}
	}
}

/* B8 also asks for Mẫu 05 and the device's return; D9 asks for the clerk. */
static void
test_tasks_and_cosign(void **state)
{
	struct pol_decision d;
	struct fix f;

	(void)state;
	fix_approve(&f);
	m_retired(&f);
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_OK);
	assert_int_equal(d.ntask, 2);
	assert_int_equal(d.task[0].kind, POL_TASK_DRAFT_MAU_05);
	assert_int_equal(d.task[1].kind, POL_TASK_DEVICE_RETURN);

	fix_approve(&f);
	m_takes_seal(&f);
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_OK);
	assert_int_equal(d.verdict, POL_COSIGN);
	assert_int_equal(d.cosign, POL_ROLE_CLERK);
	assert_string_equal(d.cosign_rule, "D9");

	/* A warning does not hide a co-signature, and a denial outranks both. */
	m_transfer(&f);
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_OK);
	assert_int_equal(d.verdict, POL_COSIGN);
	assert_int_equal(d.nhit, 1);
	m_expired(&f);
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_OK);
	assert_int_equal(d.verdict, POL_DENY);
	assert_int_equal(d.reason, POL_R_CERT_EXPIRED);
}

/* Every applicable rule is evaluated: several denials are all listed, first one decides. */
static void
test_all_reasons_listed(void **state)
{
	struct pol_decision d;
	struct fix f;

	(void)state;
	fix_approve(&f);
	m_title_class(&f);
	m_revoked(&f);
	m_rsa1024(&f);
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_OK);
	assert_int_equal(d.reason, POL_R_TITLE_NOT_AUTHORISED);
	assert_int_equal(d.nhit, 3);
	assert_int_equal(d.hit[1].reason, POL_R_CERT_IS_REVOKED);
	assert_int_equal(d.hit[2].reason, POL_R_ALGORITHM_NOT_ALLOWED);
}

/* D3's two switches are configuration (block_on_status_unknown). */
static void
test_d3_config(void **state)
{
	static struct pol_config c2;
	struct pol_decision d;
	struct fix f;

	(void)state;
	c2 = cfg;
	c2.block_unknown_approve = true;
	c2.block_unknown_org_seal = false;
	fix_approve(&f);
	m_status_unknown(&f);
	assert_int_equal(pol_sign_check(&c2, &f.c, &d), POL_OK);
	assert_int_equal(d.verdict, POL_DENY);
	assert_int_equal(d.reason, POL_R_STATUS_UNKNOWN);
	fix_issue(&f);
	m_status_unknown(&f);
	assert_int_equal(pol_sign_check(&c2, &f.c, &d), POL_OK);
	assert_int_equal(d.verdict, POL_WARN);
	assert_int_equal(d.hit[0].reason, POL_R_STATUS_UNKNOWN);
	/* B7 as configured: deny */
	c2.stale_on_transfer = POL_STALE_DENY;
	fix_approve(&f);
	m_transfer(&f);
	assert_int_equal(pol_sign_check(&c2, &f.c, &d), POL_OK);
	assert_int_equal(d.reason, POL_R_CERT_DATA_STALE);
}

static void
test_handover_and_delegation_creation(void **state)
{
	struct pol_seal_handover h = { "cred-org", "u-clerk", "CV 5", "BB 5", T_NOW, T_NOW + DAY };
	struct pol_delegation g = { .label = POL_LABEL_TUQ,
		                    .principal = "u-head",
		                    .delegate = "u-0001",
		                    .classes = cls_qd,
		                    .nclasses = 2,
		                    .valid_from = T_NOW,
		                    .valid_until = T_NOW + 30 * DAY };
	struct pol_decision d;

	(void)state;
	assert_int_equal(pol_handover_check(&h, T_NOW, &d), POL_OK); /* C3 */
	assert_int_equal(d.verdict, POL_COSIGN);
	assert_int_equal(d.cosign, POL_ROLE_COMPETENT_PERSON);
	h.permission_ref = "";
	assert_int_equal(pol_handover_check(&h, T_NOW, &d), POL_OK);
	assert_int_equal(d.reason, POL_R_SEAL_HANDOVER_INVALID);
	h.permission_ref = "CV 5";
	h.valid_until = h.valid_from; /* no window */
	assert_int_equal(pol_handover_check(&h, T_NOW, &d), POL_OK);
	assert_int_equal(d.reason, POL_R_SEAL_HANDOVER_INVALID);

	assert_int_equal(pol_delegation_check(&g, "QĐ 7/UQ", &d), POL_OK); /* C9 */
	assert_int_equal(d.verdict, POL_COSIGN);
	assert_int_equal(pol_delegation_check(&g, NULL, &d), POL_OK);
	assert_int_equal(d.reason, POL_R_NO_DELEGATION); /* not written */
	g.valid_until = 0;
	assert_int_equal(pol_delegation_check(&g, "QĐ 7/UQ", &d), POL_OK);
	assert_int_equal(d.reason, POL_R_DELEGATION_EXPIRED); /* not limited in time */
	g.valid_until = T_NOW + DAY;
	g.granted_by_delegate = true;
	assert_int_equal(pol_delegation_check(&g, "QĐ 7/UQ", &d), POL_OK);
	assert_int_equal(d.reason, POL_R_REDELEGATION_FORBIDDEN);
	g.label = POL_LABEL_KT; /* KT. is not TUQ.: the TUQ. limits do not apply */
	assert_int_equal(pol_delegation_check(&g, NULL, &d), POL_OK);
	assert_int_equal(d.verdict, POL_COSIGN);
}

static void
test_inval(void **state)
{
	struct pol_decision d;
	struct fix f;

	(void)state;
	fix_approve(&f);
	assert_int_equal(pol_sign_check(NULL, &f.c, &d), POL_E_INVAL);
	assert_int_equal(pol_sign_check(&cfg, &f.c, NULL), POL_E_INVAL);
	f.c.cert = NULL;
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_E_INVAL);
	fix_approve(&f);
	f.c.mode = (enum pol_mode)9;
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_E_INVAL);
	fix_approve(&f);
	f.c.ndelegations = 1; /* count without array */
	assert_int_equal(pol_sign_check(&cfg, &f.c, &d), POL_E_INVAL);
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
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_tasks_and_cosign),
		cmocka_unit_test(test_all_reasons_listed),
		cmocka_unit_test(test_d3_config),
		cmocka_unit_test(test_handover_and_delegation_creation),
		cmocka_unit_test(test_inval),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
