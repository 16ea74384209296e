/* Rules a `sign` meets before any device is contacted (REGULATION.md §3 A, B, C, D).
 * Every applicable rule is evaluated; the first DENY in this file's order is the one the
 * error frame carries, so the order follows the wire's precedence: a missing field and a
 * state secret first (A1), then the credential's own state (B14, B8-B11), then custody and
 * authority (C, A3, D9), then the certificate checks (A2, D1-D3, D10). */
#include <string.h>

#include "pol_int.h"

static bool
mode_is_org(enum pol_mode m)
{
	return m == POL_MODE_ISSUE || m == POL_MODE_COPY || m == POL_MODE_ATTACHMENT;
}

static bool
in_window(int64_t now, int64_t from, int64_t until)
{
	return now >= from && (until == 0 || now < until);
}

/* A1: QN 1.2, HN 1.2, DN 6.1, HP 4.1, NB 1.2. */
static void
rule_a1(const struct pol_document *doc, struct pol_decision *d)
{
	if (doc->secrecy == POL_SECRECY_MISSING)
		pol__deny(d, POL_R_SECRECY_LEVEL_MISSING, "A1");
	else if (doc->secrecy != POL_SECRECY_NONE)
		pol__deny(d, POL_R_STATE_SECRET_REFUSED, "A1");
}

/* B14, B8, B9/B10, B11: the subscriber and the credential still exist as they should. */
static void
rule_state(const struct pol_sign_ctx *c, struct pol_decision *d)
{
	if (c->cert->state == POL_CRED_LOCKED) /* B14: no device contact, no second case */
		pol__deny(d, POL_R_DEVICE_LOCKED, "B14");
	if (c->signer->status != POL_PERSON_ACTIVE) { /* B8: ND68 17.2; NB 11.5; QN 20.3 */
		pol__deny(d, POL_R_SUBSCRIBER_INACTIVE, "B8");
		pol__task(d, POL_TASK_DRAFT_MAU_05, "B8");
		pol__task(d, POL_TASK_DEVICE_RETURN, "B8");
	}
	if (c->cert->subscriber_org_dissolved) { /* B9, B10: ND68 17.3b, 17.4b */
		pol__deny(d, POL_R_ORG_DISSOLVED, c->cert->type == POL_CRED_DEVICE ? "B10" : "B9");
		pol__task(d, POL_TASK_DRAFT_MAU_05, "B9");
	}
	if (c->cert->state == POL_CRED_LOST) /* B11: a loss report (C11) */
		pol__deny(d, POL_R_KEY_COMPROMISED, "B11");
	else if (c->cert->state == POL_CRED_REVOKED) /* D2: known revoked in the directory */
		pol__deny(d, POL_R_CERT_IS_REVOKED, "D2");
}

/* C7: HN 8.2; NB 12.2-12.3. The mode picks the credential type. */
static void
rule_c7(const struct pol_sign_ctx *c, struct pol_decision *d)
{
	enum pol_cred_type want = POL_CRED_PERSONAL;

	if (mode_is_org(c->mode))
		want = POL_CRED_ORG;
	else if (c->mode == POL_MODE_SYSTEM)
		want = POL_CRED_DEVICE;
	if (c->cert->type != want)
		pol__deny(d, POL_R_CERT_TYPE_MODE_MISMATCH, "C7");
}

/* C1 (ND30 32.1; NB 11.1; HP 8.3) and C3 (ND30 32.2b; NB 11.2; HP 17.2): the clerk named
 * in an active assignment decision, or the holder of a complete, current hand-over. */
static void
rule_c1_c3(const struct pol_sign_ctx *c, struct pol_decision *d)
{
	const char *who = c->signer->id;
	bool handover_seen = false;

	for (size_t i = 0; i < c->nseals; i++) {
		const struct pol_seal_assignment *s = &c->seals[i];

		if (pol__str_eq(s->credential_id, c->cert->credential_id) &&
		    pol__str_eq(s->clerk, who) && !s->revoked && pol__str_set(s->decision_ref) &&
		    in_window(c->now, s->valid_from, s->valid_until))
			return;
	}
	for (size_t i = 0; i < c->nhandovers; i++) {
		const struct pol_seal_handover *h = &c->handovers[i];

		if (!pol__str_eq(h->credential_id, c->cert->credential_id) ||
		    !pol__str_eq(h->holder, who))
			continue;
		handover_seen = true;
		if (pol__str_set(h->permission_ref) && pol__str_set(h->minutes_ref) &&
		    h->valid_until > h->valid_from &&
		    in_window(c->now, h->valid_from, h->valid_until))
			return;
	}
	if (handover_seen)
		pol__deny(d, POL_R_SEAL_HANDOVER_INVALID, "C3");
	else
		pol__deny(d, POL_R_ORG_KEY_NOT_ASSIGNED, "C1");
}

/* C1-C5 for the org-seal modes. */
static void
rule_custody(const struct pol_sign_ctx *c, struct pol_decision *d)
{
	const struct pol_document *doc = c->doc;

	if (!mode_is_org(c->mode) || c->cert->type != POL_CRED_ORG)
		return;
	rule_c1_c3(c, d);
	/* C2: ND30 32.2a; NB 11.2. A token is on premises by construction; a remote key is
	 * judged by the origin the gateway matched against org_key_network_allowlist. */
	if ((c->cert->device == POL_DEV_HSM || c->cert->device == POL_DEV_SOFT) && !c->on_premises)
		pol__deny(d, POL_R_ORG_KEY_OUTSIDE_PREMISES, "C2");
	if (c->signer->service_account) /* C4: ND30 32.2c */
		pol__deny(d, POL_R_AUTOMATED_ORG_SEAL, "C4");
	if (c->mode == POL_MODE_COPY &&
	    (doc->copy_form == POL_COPY_NONE || !pol__str_eq(doc->copy_made_by, doc->org)))
		pol__deny(d, POL_R_COPY_NOT_OWN, "C5");
	if (c->mode == POL_MODE_ATTACHMENT && doc->main_state != POL_DOC_ISSUED)
		pol__deny(d, POL_R_MAIN_DOCUMENT_NOT_ISSUED, "attachment");
}

/* D9 and C5 for `issue` (ND30 32.2d): approve first, then the seal, on the same document. */
static void
rule_issue(const struct pol_sign_ctx *c, struct pol_decision *d)
{
	const struct pol_document *doc = c->doc;
	const struct pol_approval *a = doc->approval;

	if (c->mode != POL_MODE_ISSUE)
		return;
	if (doc->state == POL_DOC_DRAFT)
		pol__deny(d, POL_R_ISSUE_BEFORE_APPROVE, "D9");
	if (a == NULL || a->mode != POL_MODE_APPROVE || !a->valid || !a->authorised ||
	    !pol__str_eq(a->org, doc->org) || !pol__str_eq(a->digest, doc->digest))
		pol__deny(d, POL_R_ORG_SEAL_WITHOUT_AUTHORISED_SIGNATURE, "C5");
}

/* A3 = C10 (HN 5.2; NB 8.2; HP 4.3, 8.4): the title comes from the directory. The printed
 * title, when the certificate has one, must be one of the signer's current titles. */
static void
rule_a3(const struct pol_sign_ctx *c, bool check_class, struct pol_decision *d)
{
	const struct pol_signer *s = c->signer;
	bool covered = false, printed_ok = !pol__str_set(c->cert->printed_title);

	for (size_t i = 0; s->titles != NULL && i < s->ntitles; i++) {
		const struct pol_title *t = &s->titles[i];

		if (pol__str_eq(t->name, c->cert->printed_title))
			printed_ok = true;
		if (pol__str_eq(t->org, c->doc->org) &&
		    pol__class_in(t->classes, t->nclasses, c->doc->doc_class))
			covered = true;
	}
	if (check_class && !covered)
		pol__deny(d, POL_R_TITLE_NOT_AUTHORISED, "A3");
	if (!printed_ok)
		pol__deny(d, POL_R_TITLE_MISMATCH, "A3");
}

/* C8 (HP 8.5; NB 11.4) and C9 (ND30 13.3-13.4): a labelled signature needs an active
 * delegation record with the same label, principal and delegate, in time and in scope. */
static void
rule_c8_c9(const struct pol_sign_ctx *c, struct pol_decision *d)
{
	const struct pol_delegation *best = NULL;

	for (size_t i = 0; i < c->ndelegations; i++) {
		const struct pol_delegation *g = &c->delegations[i];

		if (g->label != c->on_behalf_label || g->revoked ||
		    !pol__str_eq(g->principal, c->on_behalf_principal) ||
		    !pol__str_eq(g->delegate, c->signer->id))
			continue;
		best = g;
		if (in_window(c->now, g->valid_from, g->valid_until) &&
		    pol__class_in(g->classes, g->nclasses, c->doc->doc_class) &&
		    !(g->label == POL_LABEL_TUQ && g->granted_by_delegate))
			return; /* one record that fits is enough */
	}
	if (best == NULL) {
		pol__deny(d, POL_R_NO_DELEGATION, "C8");
		return;
	}
	/* Report why the last matching record failed. */
	if (!in_window(c->now, best->valid_from, best->valid_until))
		pol__deny(d, POL_R_DELEGATION_EXPIRED, "C9");
	if (!pol__class_in(best->classes, best->nclasses, c->doc->doc_class))
		pol__deny(d, POL_R_DELEGATION_OUT_OF_SCOPE, "C9");
	if (best->label == POL_LABEL_TUQ && best->granted_by_delegate)
		pol__deny(d, POL_R_REDELEGATION_FORBIDDEN, "C9");
}

/* Authority of the person for `approve`: own certificate (C8), title (A3), delegation (C9),
 * and the device session's holder (C6: ND30 32.3; NB 11.3). */
static void
rule_authority(const struct pol_sign_ctx *c, struct pol_decision *d)
{
	if (c->session_holder != NULL && !pol__str_eq(c->session_holder, c->cert->holder_id))
		pol__deny(d, POL_R_SUBSCRIBER_MISMATCH, "C6");
	if (c->mode != POL_MODE_APPROVE || c->cert->type != POL_CRED_PERSONAL)
		return;
	if (!pol__str_eq(c->cert->holder_id, c->signer->id))
		pol__deny(d, POL_R_CERT_NOT_OWN, "C8");
	/* With a label the delegation's scope decides the class (C9); the printed title is
	 * still checked against the directory (A3). */
	rule_a3(c, c->on_behalf_label == POL_LABEL_NONE, d);
	if (c->on_behalf_label != POL_LABEL_NONE)
		rule_c8_c9(c, d);
}

static bool
algorithm_ok(const struct pol_config *cfg, const struct pol_cert *k)
{
	if (k->key_alg == POL_KEY_RSA && k->key_bits < cfg->rsa_min_bits)
		return false;
	if (k->key_alg == POL_KEY_EC && k->key_bits < cfg->ecdsa_min_bits)
		return false;
	if (k->key_alg != POL_KEY_RSA && k->key_alg != POL_KEY_EC)
		return false;
	/* TT15 Annex I: SHA-2/SHA-3 only, no SHA-1 for anything signed from now on. */
	return (unsigned)k->sig_hash < 32 && (cfg->hashes_allowed & (1u << k->sig_hash)) != 0 &&
	       k->sig_hash != POL_HASH_SHA1 && k->sig_hash != POL_HASH_MD5;
}

/* A2, D1, D2, D3, D10: §6 steps 4-8 at T = now (trusted: D15). */
static void
rule_cert(const struct pol_config *cfg, const struct pol_sign_ctx *c, struct pol_decision *d)
{
	const struct pol_cert *k = c->cert;

	if (k->trust == POL_TRUST_PUBLIC_NEAC && cfg->public_ca_cutoff != 0 &&
	    c->now >= cfg->public_ca_cutoff) /* A2: NB 8.1 */
		pol__deny(d, POL_R_PUBLIC_CA_NOT_ALLOWED, "A2");
	if (k->chain == POL_CHAIN_UNTRUSTED_ROOT || k->trust == POL_TRUST_FOREIGN)
		pol__deny(d, POL_R_UNTRUSTED_ROOT, "D1");
	else if (k->chain == POL_CHAIN_INVALID)
		pol__deny(d, POL_R_INVALID_CERT_CHAIN, "D1");
	if (c->now < k->not_before) /* ND68 31.1a */
		pol__deny(d, POL_R_CERT_NOT_YET_VALID, "D1");
	else if (c->now >= k->not_after)
		pol__deny(d, POL_R_CERT_EXPIRED, "D1");
	if (k->revocation == POL_REV_REVOKED) /* ND68 31.1c */
		pol__deny(d, POL_R_CERT_IS_REVOKED, "D2");
	else if (k->revocation == POL_REV_CA_REVOKED)
		pol__deny(d, POL_R_CA_CERT_IS_REVOKED, "D2");
	if (!algorithm_ok(cfg, k))
		pol__deny(d, POL_R_ALGORITHM_NOT_ALLOWED, "D10");
	if (!k->usage_ok) /* §6.8: ND68 7, 31.1b */
		pol__deny(d, POL_R_CERT_USAGE_NOT_ALLOWED, "D2");
	if (k->revocation == POL_REV_UNKNOWN) { /* D3: TT15 Annex II 1.2 */
		bool seal = mode_is_org(c->mode);

		if (seal && cfg->block_unknown_org_seal)
			pol__deny(d, POL_R_STATUS_UNKNOWN_SEAL, "D3");
		else if (!seal && cfg->block_unknown_approve)
			pol__deny(d, POL_R_STATUS_UNKNOWN, "D3");
		else
			pol__warn(d, POL_R_STATUS_UNKNOWN, "D3");
	}
}

/* Verdicts below DENY: B7, D13, D9's co-signature. */
static void
rule_soft(const struct pol_config *cfg, const struct pol_sign_ctx *c, struct pol_decision *d)
{
	if (c->signer->transfer_pending) { /* B7: NB 11.6 */
		if (cfg->stale_on_transfer == POL_STALE_DENY)
			pol__deny(d, POL_R_CERT_DATA_STALE, "B7");
		else if (cfg->stale_on_transfer == POL_STALE_WARN)
			pol__warn(d, POL_R_CERT_DATA_STALE, "B7");
		pol__task(d, POL_TASK_DRAFT_MAU_04, "B7");
	}
	if (c->doc->needs_paper) /* D13: QN 12.3 */
		pol__warn(d, POL_R_PAPER_COPY_REQUIRED, "D13");
	if (c->mode == POL_MODE_APPROVE && c->doc->takes_seal) /* D9: the clerk completes it */
		pol__cosign(d, POL_ROLE_CLERK, "D9");
}

static bool
ctx_valid(const struct pol_sign_ctx *c)
{
	return c->signer != NULL && c->cert != NULL && c->doc != NULL &&
	       (unsigned)c->mode <= POL_MODE_SYSTEM && (unsigned)c->cert->type <= POL_CRED_DEVICE &&
	       (unsigned)c->doc->secrecy <= POL_SECRECY_TUYET_MAT &&
	       (unsigned)c->on_behalf_label <= POL_LABEL_TM &&
	       (c->ndelegations == 0 || c->delegations != NULL) &&
	       (c->nseals == 0 || c->seals != NULL) && (c->nhandovers == 0 || c->handovers != NULL);
}

enum pol_err
pol_sign_check(const struct pol_config *cfg, const struct pol_sign_ctx *ctx,
               struct pol_decision *out)
{
	struct pol_decision d;

	if (cfg == NULL || ctx == NULL || out == NULL || !ctx_valid(ctx))
		return POL_E_INVAL;
	pol__decision_init(&d);
	rule_a1(ctx->doc, &d);
	rule_state(ctx, &d);
	rule_c7(ctx, &d);
	rule_custody(ctx, &d);
	rule_issue(ctx, &d);
	rule_authority(ctx, &d);
	rule_cert(cfg, ctx, &d);
	rule_soft(cfg, ctx, &d);
	*out = d;
	return POL_OK;
}

enum pol_err
pol_handover_check(const struct pol_seal_handover *h, int64_t now, struct pol_decision *out)
{
	struct pol_decision d;

	if (h == NULL || out == NULL)
		return POL_E_INVAL;
	pol__decision_init(&d);
	/* C3: written permission, minutes, a named holder and a window that has not ended. */
	if (!pol__str_set(h->permission_ref) || !pol__str_set(h->minutes_ref) ||
	    !pol__str_set(h->holder) || !pol__str_set(h->credential_id) ||
	    h->valid_until <= h->valid_from || h->valid_until <= now)
		pol__deny(&d, POL_R_SEAL_HANDOVER_INVALID, "C3");
	else
		pol__cosign(&d, POL_ROLE_COMPETENT_PERSON, "C3");
	*out = d;
	return POL_OK;
}

enum pol_err
pol_delegation_check(const struct pol_delegation *g, const char *basis_ref,
                     struct pol_decision *out)
{
	struct pol_decision d;

	if (g == NULL || out == NULL || (unsigned)g->label > POL_LABEL_TM ||
	    g->label == POL_LABEL_NONE)
		return POL_E_INVAL;
	pol__decision_init(&d);
	if (!pol__str_set(g->principal) || !pol__str_set(g->delegate) || g->nclasses == 0)
		pol__deny(&d, POL_R_DELEGATION_OUT_OF_SCOPE, "C9");
	if (g->label == POL_LABEL_TUQ) {
		/* C9: ND30 13.3-13.4. Written, limited in time and scope, not re-delegable. */
		if (!pol__str_set(basis_ref))
			pol__deny(&d, POL_R_NO_DELEGATION, "C9");
		if (g->valid_until == 0 || g->valid_until <= g->valid_from)
			pol__deny(&d, POL_R_DELEGATION_EXPIRED, "C9");
		if (g->granted_by_delegate)
			pol__deny(&d, POL_R_REDELEGATION_FORBIDDEN, "C9");
	}
	if (d.verdict != POL_DENY)
		pol__cosign(&d, POL_ROLE_COMPETENT_PERSON, "C9");
	*out = d;
	return POL_OK;
}
