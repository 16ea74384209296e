/* Certificate lifecycle (REGULATION.md §3 B and A4-A8): the checks a request meets before
 * it is filed, and what an event in a subscriber's life means for the credential. */
#include <string.h>

#include "pol_int.h"

/* Whole days left before notAfter; a part day does not count (B4, B5 say "at least"). */
static int64_t
days_left(int64_t not_after, int64_t now)
{
	int64_t s = not_after - now;

	return s <= 0 ? (s == 0 ? 0 : -1 - (-s - 1) / POL_DAY_S) : s / POL_DAY_S;
}

/* A7 (DN 9.1c): the address ends in "@<domain>" or ".<domain>" of a listed domain. */
static bool
official_email(const struct pol_config *cfg, const char *email)
{
	const char *at;

	if (!pol__str_set(email) || (at = strchr(email, '@')) == NULL || at == email)
		return false;
	for (unsigned i = 0; i < cfg->nemail_domains && i < POL_EMAIL_DOMAINS_MAX; i++) {
		const char *dom = cfg->email_domains[i];
		size_t dl = strlen(dom), hl = strlen(at + 1);

		if (dl == 0)
			continue;
		if (strcmp(at + 1, dom) == 0)
			return true;
		if (hl > dl && at[1 + hl - dl - 1] == '.' && strcmp(at + 1 + hl - dl, dom) == 0)
			return true;
	}
	return false;
}

/* A4-A8 and B1 for a new certificate. */
static void
check_issue(const struct pol_config *cfg, const struct pol_lifecycle_req *r, struct pol_decision *d)
{
	if (r->cred_type == POL_CRED_PERSONAL && !r->subject_in_managed_tree)
		pol__deny(d, POL_R_NOT_IN_MANAGED_TREE, "A4"); /* ND68 10.1; DN 9.1a */
	if (r->cred_type == POL_CRED_ORG &&
	    !(r->org_legal_personality && r->org_has_seal && r->org_establishment_decision))
		pol__deny(d, POL_R_ORG_PRECONDITION_MISSING, "A5"); /* ND68 10.2 */
	if (r->cred_type == POL_CRED_DEVICE && !r->asset_registered)
		pol__deny(d, POL_R_ASSET_NOT_REGISTERED, "A6"); /* ND68 10.3 */
	if (r->cred_type != POL_CRED_DEVICE && !official_email(cfg, r->applicant_email))
		pol__deny(d, POL_R_OFFICIAL_EMAIL_REQUIRED, "A7");
	if (!r->filer_is_managing_agency) /* DN 3.6, 15.1; NB 9.3 */
		pol__deny(d, POL_R_NOT_MANAGING_AGENCY, "A8");
	/* B1: ND68 9; DN 4. At most new_max_years from notBefore. */
	if (r->not_after <= r->not_before ||
	    r->not_after > pol__add_years(r->not_before, cfg->new_max_years))
		pol__deny(d, POL_R_VALIDITY_TOO_LONG, "B1");
}

/* B2-B4 (ND68 9; DN 4, 10.1; ND130 63 for the legacy 60 days). */
static void
check_renew(const struct pol_config *cfg, const struct pol_province *p,
            const struct pol_lifecycle_req *r, int64_t now, struct pol_decision *d)
{
	int min_days = cfg->renewal_min_days_left;

	if (p != NULL && p->regime == POL_REGIME_LEGACY_TT185)
		min_days = cfg->legacy_renewal_min_days_left;
	if (cfg->renewal_max_count >= 0 && r->renewal_count >= (unsigned)cfg->renewal_max_count) {
		pol__deny(d, POL_R_RENEWAL_LIMIT_REACHED, "B3");
		pol__task(d, POL_TASK_DRAFT_NEW_ISSUANCE, "B3");
	}
	if (days_left(r->not_after, now) < min_days) {
		pol__deny(d, POL_R_TOO_LATE_TO_RENEW, "B4");
		pol__task(d, POL_TASK_DRAFT_NEW_ISSUANCE, "B4");
	}
	if (r->new_not_after <= r->not_after ||
	    r->new_not_after > pol__add_years(r->not_after, cfg->renewal_max_years))
		pol__deny(d, POL_R_RENEWAL_TOO_LONG, "B2");
}

/* B5 (DN 11.1): enough time left, and the validity stays as it is. */
static void
check_change(const struct pol_config *cfg, const struct pol_lifecycle_req *r, int64_t now,
             struct pol_decision *d)
{
	if (days_left(r->not_after, now) < cfg->change_min_days_left)
		pol__deny(d, POL_R_TOO_LATE_TO_CHANGE, "B5");
	if (r->new_not_after != 0 && r->new_not_after != r->not_after)
		pol__warn(d, POL_R_CHANGE_ALTERED_VALIDITY, "B5");
}

/* B8-B11, B13 (ND68 17; HP 17.5; DN 12.3c; NB 10.6d). */
static void
check_revoke(const struct pol_lifecycle_req *r, struct pol_decision *d)
{
	if (r->type == POL_REQ_LOST || r->basis == POL_REVOKE_DEVICE_LOST) {
		if (!r->loss_minutes_present)
			pol__deny(d, POL_R_LOSS_MINUTES_MISSING, "B13");
		pol__task(d, POL_TASK_DRAFT_MAU_05, "B11");
		pol__task(d, POL_TASK_DRAFT_MAU_09, "B13");
		pol__task(d, POL_TASK_NOTIFY_HEAD_IT, "B11");
		return;
	}
	if (r->basis == POL_REVOKE_AUTHORITY_REQUEST && !r->legal_basis_present)
		pol__deny(d, POL_R_LEGAL_BASIS_MISSING, "B11");
	if (r->basis == POL_REVOKE_SUBSCRIBER_INACTIVE)
		pol__task(d, POL_TASK_DEVICE_RETURN, "B8");
	if (r->basis == POL_REVOKE_KEY_EXPOSED)
		pol__task(d, POL_TASK_NOTIFY_HEAD_IT, "B11");
	/* B12: every revoked device goes back to the Cục. */
	if (r->device == POL_DEV_SIM || r->device == POL_DEV_TOKEN)
		pol__task(d, POL_TASK_DEVICE_RETURN, "B12");
}

static bool
req_valid(const struct pol_lifecycle_req *r)
{
	return (unsigned)r->type <= POL_REQ_LOST && (unsigned)r->cred_type <= POL_CRED_DEVICE &&
	       (unsigned)r->device <= POL_DEV_SOFT && (unsigned)r->state <= POL_CRED_LOST &&
	       (unsigned)r->basis <= POL_REVOKE_AUTHORITY_REQUEST;
}

enum pol_err
pol_request_check(const struct pol_config *cfg, const struct pol_province *province,
                  const struct pol_lifecycle_req *r, int64_t now, struct pol_decision *out)
{
	struct pol_decision d;

	if (cfg == NULL || r == NULL || out == NULL || !req_valid(r))
		return POL_E_INVAL;
	pol__decision_init(&d);
	/* B19: ND68 4 via HP 6, NB 9.1. Filed requests are agency-signed e-documents. */
	if (r->submit && !r->agency_signed)
		pol__deny(&d, POL_R_REQUEST_NOT_SIGNED, "B19");
	if (r->type != POL_REQ_ISSUE && !r->filer_is_managing_agency)
		pol__deny(&d, POL_R_NOT_MANAGING_AGENCY, "A8");
	switch (r->type) {
	case POL_REQ_ISSUE:
		check_issue(cfg, r, &d);
		break;
	case POL_REQ_RENEW:
		check_renew(cfg, province, r, now, &d);
		break;
	case POL_REQ_CHANGE:
		check_change(cfg, r, now, &d);
		break;
	case POL_REQ_REVOKE:
	case POL_REQ_LOST:
		check_revoke(r, &d);
		break;
	case POL_REQ_RECOVER: /* B14: recovery only reopens a locked device */
		if (r->state != POL_CRED_LOCKED)
			pol__deny(&d, POL_R_CREDENTIAL_NOT_LOCKED, "B14");
		break;
	case POL_REQ_RETURN: /* B12: a return follows a revocation */
		break;
	}
	if (province != NULL && province->regime == POL_REGIME_LEGACY_TT185)
		pol__task(&d, POL_TASK_NOTIFY_DOST, "B20");
	if (!r->submit && d.verdict != POL_DENY) /* B19: prepared, the clerk signs it */
		pol__cosign(&d, POL_ROLE_CLERK, "B19");
	*out = d;
	return POL_OK;
}

enum pol_err
pol_event_classify(enum pol_event ev, struct pol_decision *out)
{
	struct pol_decision d;

	if (out == NULL)
		return POL_E_INVAL;
	pol__decision_init(&d);
	switch (ev) {
	case POL_EV_INFO_CHANGED: /* B6: ND68 15; DN 11.2 */
		pol__task(&d, POL_TASK_DRAFT_MAU_04, "B6");
		break;
	case POL_EV_TRANSFER_IN_STATE: /* B7: NB 11.6, the certificate is kept */
		pol__warn(&d, POL_R_CERT_DATA_STALE, "B7");
		pol__task(&d, POL_TASK_DRAFT_MAU_04, "B7");
		break;
	case POL_EV_RETIRED:
	case POL_EV_RESIGNED:
	case POL_EV_DECEASED:
	case POL_EV_LEFT_STATE_SECTOR:
	case POL_EV_POSITION_FALSIFIES: /* B8: ND68 17.2; NB 11.5; QN 20.3 */
		pol__deny(&d, POL_R_SUBSCRIBER_INACTIVE, "B8");
		pol__task(&d, POL_TASK_DRAFT_MAU_05, "B8");
		pol__task(&d, POL_TASK_DEVICE_RETURN, "B8");
		break;
	case POL_EV_ORG_DISSOLVED: /* B9: ND68 17.3b */
		pol__deny(&d, POL_R_ORG_DISSOLVED, "B9");
		pol__task(&d, POL_TASK_DRAFT_MAU_05, "B9");
		break;
	case POL_EV_DEVICE_DECOMMISSIONED: /* B10: ND68 17.4b */
		pol__deny(&d, POL_R_ORG_DISSOLVED, "B10");
		pol__task(&d, POL_TASK_DRAFT_MAU_05, "B10");
		break;
	case POL_EV_KEY_EXPOSED:
	case POL_EV_DEVICE_DAMAGED: /* B11: ND68 17.1 */
		pol__deny(&d, POL_R_KEY_COMPROMISED, "B11");
		pol__task(&d, POL_TASK_DRAFT_MAU_05, "B11");
		pol__task(&d, POL_TASK_NOTIFY_HEAD_IT, "B11");
		break;
	case POL_EV_DEVICE_LOST: /* B11 + B13: Mẫu 05 with Mẫu 09 */
		pol__deny(&d, POL_R_KEY_COMPROMISED, "B11");
		pol__task(&d, POL_TASK_DRAFT_MAU_05, "B11");
		pol__task(&d, POL_TASK_DRAFT_MAU_09, "B13");
		pol__task(&d, POL_TASK_NOTIFY_HEAD_IT, "B11");
		break;
	case POL_EV_PIN_BLOCKED: /* B14: DN 13.1; HP 11.1; QN 8.4 */
		pol__deny(&d, POL_R_DEVICE_LOCKED, "B14");
		pol__task(&d, POL_TASK_DRAFT_MAU_06, "B14");
		break;
	default:
		return POL_E_INVAL;
	}
	*out = d;
	return POL_OK;
}

enum pol_err
pol_rejection_check(const char *reason_text, struct pol_decision *out)
{
	struct pol_decision d;

	if (out == NULL)
		return POL_E_INVAL;
	pol__decision_init(&d);
	/* B16 (HP 11.2b): refusal only in writing with a reason; B24: a second operator. */
	if (!pol__str_set(reason_text))
		pol__deny(&d, POL_R_REASON_REQUIRED, "B16");
	else
		pol__cosign(&d, POL_ROLE_DOST_OPERATOR, "B24");
	*out = d;
	return POL_OK;
}
