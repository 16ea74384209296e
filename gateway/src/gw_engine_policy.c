/* gw_engine_policy.c -- which credential signs, and may it (REGULATION.md section 3 through
 * policy/'s pol_sign_check). The facts come from the directory rows and the certificate
 * itself; nothing is sent to a device that policy denies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gw_engine_int.h"
#include "gw_verify.h"

#define MAX_TITLES      16
#define MAX_CLASSES     32
#define MAX_DELEGATIONS 16
#define MAX_SEALS       8

/* Does this credential serve the mode (PROTOCOL.md 4.1 `mode`) on the channel? */
static bool
fits(const struct gw_pending *p, const struct db_signer_cred *c)
{
	const char *mode = p->req.mode, *ch = p->req.channel;

	if (strcmp(ch, "sim") == 0 && strcmp(c->device, "sim") != 0)
		return false;
	if (strcmp(ch, "pcsc") == 0 && strcmp(c->device, "token") != 0)
		return false;
	if (strcmp(ch, "auto") == 0 && strcmp(c->device, "sim") != 0 &&
	    strcmp(c->device, "token") != 0)
		return false;
	if (p->req.signer_kind == GW_SIGNER_CREDENTIAL) {
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long)c->id);
		if (strcmp(id, p->req.signer) != 0)
			return false;
	}
	if (strcmp(mode, "approve") == 0)
		return strcmp(c->type, "personal") == 0 && !c->seal_assigned;
	if (strcmp(mode, "system") == 0)
		return strcmp(c->type, "device") == 0;
	return strcmp(c->type, "org") == 0 && c->seal_assigned; /* issue, copy, attachment */
}

/* The stored state, or `locked` while a block of the device waits for its case transaction
 * (B14: refused at once, no device contact). */
static const char *
state_now(const struct gw_engine *e, const struct db_signer_cred *c)
{
	return gw_recovery_blocking(e->gw, c->id) ? "locked" : c->state;
}

/* Active first, SIM before token for `auto` (kyso's main channel), then the newest. */
static int
rank(const struct gw_engine *e, const struct db_signer_cred *c)
{
	return (strcmp(state_now(e, c), "active") == 0 ? 4 : 0) +
	       (strcmp(c->device, "sim") == 0 ? 2 : 0);
}

static enum pol_cred_type
cred_type(const char *s)
{
	return strcmp(s, "org") == 0      ? POL_CRED_ORG
	       : strcmp(s, "device") == 0 ? POL_CRED_DEVICE
	                                  : POL_CRED_PERSONAL;
}

static enum pol_cred_state
cred_state(const char *s)
{
	if (strcmp(s, "locked") == 0)
		return POL_CRED_LOCKED;
	if (strcmp(s, "revoked") == 0)
		return POL_CRED_REVOKED;
	if (strcmp(s, "lost") == 0)
		return POL_CRED_LOST;
	return POL_CRED_ACTIVE;
}

static enum pol_hash
sig_hash(int nid)
{
	switch (nid) {
	case NID_sha1:
		return POL_HASH_SHA1;
	case NID_sha384:
		return POL_HASH_SHA384;
	case NID_sha512:
		return POL_HASH_SHA512;
	case NID_md5:
		return POL_HASH_MD5;
	default:
		return POL_HASH_SHA256;
	}
}

/* Facts read from the certificate. Chain and revocation are judged by the verifier after the
 * signature (gw_verify.h); until that check runs before signing too, revocation is reported
 * as unknown here (D3: a warning for approve, a refusal for the seal modes). */
static bool
cert_facts(struct gw_engine *e, const struct db_signer_cred *c, struct pol_cert *out, char *printed,
           size_t cap)
{
	X509 *x = gw_cert_cache_get(e->gw->certs, c->cert_der, c->cert_der_len);
	EVP_PKEY *k;
	int mdnid = 0, pknid = 0;
	uint32_t ku;
	const ASN1_TIME *nb, *na;
	struct tm tm;

	if (x == NULL)
		return false;
	k = X509_get0_pubkey(x);
	out->key_alg = k == NULL                             ? POL_KEY_OTHER
	               : EVP_PKEY_base_id(k) == EVP_PKEY_RSA ? POL_KEY_RSA
	               : EVP_PKEY_base_id(k) == EVP_PKEY_EC  ? POL_KEY_EC
	                                                     : POL_KEY_OTHER;
	out->key_bits = k != NULL ? (unsigned)EVP_PKEY_get_bits(k) : 0;
	if (X509_get_signature_info(x, &mdnid, &pknid, NULL, NULL) == 1)
		out->sig_hash = sig_hash(mdnid);
	ku = X509_get_key_usage(x);
	out->usage_ok = ku == UINT32_MAX || (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
	nb = X509_get0_notBefore(x);
	na = X509_get0_notAfter(x);
	if (ASN1_TIME_to_tm(nb, &tm) == 1)
		out->not_before = (int64_t)timegm(&tm);
	if (ASN1_TIME_to_tm(na, &tm) == 1)
		out->not_after = (int64_t)timegm(&tm);
	printed[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_title, printed, (int)cap);
	out->printed_title = printed[0] != '\0' ? printed : NULL;
	X509_free(x);
	return true;
}

static enum pol_label
label_of(const char *s)
{
	static const char *const names[] = { "", "KT.", "TL.", "TUQ.", "Q.", "TM." };

	for (int i = 1; s != NULL && i < 6; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum pol_label)i;
	return POL_LABEL_NONE;
}

/* The JSON arrays the directory query built, into the plain structs policy takes. Strings
 * point into the parsed JSON, which lives until the check is done. */
struct facts {
	json_t *titles_j, *dels_j;
	struct pol_title titles[MAX_TITLES];
	const char *tclasses[MAX_TITLES][MAX_CLASSES];
	struct pol_delegation dels[MAX_DELEGATIONS];
	const char *dclasses[MAX_DELEGATIONS][MAX_CLASSES];
	size_t ntitles, ndels;
};

static size_t
string_array(json_t *a, const char **out)
{
	size_t i, n = 0;
	json_t *v;

	json_array_foreach(a, i, v) if (json_is_string(v) && n < MAX_CLASSES) out[n++] =
	        json_string_value(v);
	return n;
}

static void
facts_load(struct facts *f, const struct db_signer_cred *c)
{
	size_t i;
	json_t *v;

	f->titles_j = json_loads(c->titles_json != NULL ? c->titles_json : "[]", 0, NULL);
	f->dels_j = json_loads(c->delegations_json != NULL ? c->delegations_json : "[]", 0, NULL);
	json_array_foreach(f->titles_j, i, v)
	{
		struct pol_title *t = &f->titles[f->ntitles];

		if (f->ntitles >= MAX_TITLES)
			break;
		t->org = json_string_value(json_object_get(v, "org"));
		t->name = json_string_value(json_object_get(v, "title"));
		t->classes = f->tclasses[f->ntitles];
		t->nclasses = string_array(json_object_get(v, "classes"), f->tclasses[f->ntitles]);
		if (t->org != NULL && t->name != NULL)
			f->ntitles++;
	}
	json_array_foreach(f->dels_j, i, v)
	{
		struct pol_delegation *d = &f->dels[f->ndels];

		if (f->ndels >= MAX_DELEGATIONS)
			break;
		d->label = label_of(json_string_value(json_object_get(v, "label")));
		d->principal = json_string_value(json_object_get(v, "principal"));
		d->delegate = c->signer_person;
		d->classes = f->dclasses[f->ndels];
		d->nclasses = string_array(json_object_get(v, "scope"), f->dclasses[f->ndels]);
		d->valid_from = json_integer_value(json_object_get(v, "from"));
		d->valid_until = json_integer_value(json_object_get(v, "until"));
		d->revoked = json_is_true(json_object_get(v, "revoked"));
		d->granted_by_delegate = json_is_true(json_object_get(v, "by_delegate"));
		if (d->principal != NULL)
			f->ndels++;
	}
}

static void
deny_status(const struct pol_decision *d, struct gw_status *err)
{
	const struct pol_reason_info *ri = pol_reason_info(d->reason);

	gw_status_set(err, ri->code != 0 ? ri->code : 104, ri->sub, "%s", ri->msg_en);
	err->rule = d->rule != NULL ? d->rule : ri->rule;
	err->reason = ri->name;
	err->msg_vi = ri->msg_vi;
	err->msg_en = ri->msg_en;
}

bool
gw_eng_choose(struct gw_engine *e, const struct gw_pending *p, const struct db_signer_cred *rows,
              int n, struct gw_choice *out, struct gw_status *err)
{
	const struct db_signer_cred *best = NULL;
	struct pol_seal_assignment seals[MAX_SEALS];
	struct pol_approval approval;
	size_t nseals = 0;
	char printed[128], cid[24];
	struct facts *f;
	bool ok = false;

	for (int i = 0; i < n; i++) {
		if (!fits(p, &rows[i]))
			continue;
		if (best == NULL || rank(e, &rows[i]) > rank(e, best))
			best = &rows[i];
	}
	if (best == NULL) {
		gw_status_set(err, 105, 1053, "no credential for mode %s on channel %s",
		              p->req.mode, p->req.channel);
		return false;
	}
	struct pol_signer signer = { .id = best->signer_person != NULL ? best->signer_person : "",
		                     .status = POL_PERSON_ACTIVE };
	snprintf(cid, sizeof(cid), "%lld", (long long)best->id);
	struct pol_cert cert = {
		.credential_id = cid,
		.holder_id = best->person != NULL ? best->person : best->org,
		.type = cred_type(best->type),
		.state = cred_state(state_now(e, best)),
		.not_before = best->not_before,
		.not_after = best->not_after,
		.chain = POL_CHAIN_OK,
		.trust = POL_TRUST_CONG_VU,
		/* With a verifier the certificate check right after decides D1-D3; without one
		 * nothing is known (D3: a warning for approve, a refusal for the seal modes). */
		.revocation = e->gw->verifier != NULL ? POL_REV_GOOD : POL_REV_UNKNOWN,
		.sig_hash = POL_HASH_SHA256,
	};
	if (!pol_device_parse(best->device, &cert.device))
		cert.device = POL_DEV_SIM;
	if (!cert_facts(e, best, &cert, printed, sizeof(printed))) {
		gw_status_set(err, 422, 0, "the credential has no usable certificate");
		return false;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		gw_status_set(err, 900, 9005, "overloaded, retry later");
		return false;
	}
	facts_load(f, best);
	signer.titles = f->titles;
	signer.ntitles = f->ntitles;
	for (int i = 0; i < n && nseals < MAX_SEALS; i++)
		if (rows[i].seal_assigned && rows[i].id == best->id)
			seals[nseals++] = (struct pol_seal_assignment){
				.credential_id = cid,
				.clerk = best->signer_person,
				.decision_ref =
				        rows[i].seal_decision != NULL ? rows[i].seal_decision : "",
			};
	enum pol_mode mode = POL_MODE_APPROVE;
	static const char *const modes[] = { "approve", "issue", "copy", "attachment", "system" };
	for (int i = 0; i < 5; i++)
		if (strcmp(p->req.mode, modes[i]) == 0)
			mode = (enum pol_mode)i;
	struct pol_document doc = {
		.org = p->req.org,
		.doc_class = p->req.doc_class,
		.digest = p->req.digest_b64,
		.secrecy = POL_SECRECY_NONE, /* A1 was checked with the fields */
		/* D9: the document table's state (issue mode); C5: the approve named by
		 * document.approval_txn. */
		.state = p->doc_state,
		.copy_form = strcmp(p->req.copy_form, "SAO Y") == 0     ? POL_COPY_SAO_Y
		             : strcmp(p->req.copy_form, "SAO LỤC") == 0 ? POL_COPY_SAO_LUC
		             : p->req.copy_form[0] != '\0'              ? POL_COPY_TRICH_SAO
		                                                        : POL_COPY_NONE,
		.copy_made_by = p->req.org,
		.main_state = p->main_state, /* attachment mode (REGULATION.md section 3) */
		.approval = strcmp(p->req.mode, "issue") == 0
		                    ? gw_approval_pol(&p->approval, &approval)
		                    : NULL,
	};
	struct pol_sign_ctx ctx = {
		.mode = mode,
		.now = (int64_t)time(NULL),
		.signer = &signer,
		.cert = &cert,
		.doc = &doc,
		.on_behalf_label =
		        p->req.has_on_behalf ? label_of(p->req.on_behalf_label) : POL_LABEL_NONE,
		.on_behalf_principal = p->req.has_on_behalf ? p->req.on_behalf_principal : NULL,
		.delegations = f->dels,
		.ndelegations = f->ndels,
		.seals = seals,
		.nseals = nseals,
	};
	if (pol_sign_check(&e->pol, &ctx, &out->dec) != POL_OK) {
		gw_status_set(err, 900, 9001, "policy evaluation failed");
	} else if (out->dec.verdict == POL_DENY) {
		deny_status(&out->dec, err); /* nothing reaches the device */
	} else {
		out->cred = best;
		ok = true;
	}
	json_decref(f->titles_j);
	json_decref(f->dels_j);
	free(f);
	return ok;
}

void
gw_eng_policy_json(const struct pol_decision *d, json_t *accepted, json_t **policy)
{
	json_t *warnings = json_array(), *rules = json_array();
	bool warned = false;

	for (unsigned i = 0; i < d->nhit; i++) {
		const struct pol_reason_info *ri = pol_reason_info(d->hit[i].reason);

		if (d->hit[i].verdict != POL_WARN)
			continue;
		warned = true;
		json_array_append_new(rules, json_string(d->hit[i].rule));
		json_array_append_new(warnings,
		                      json_pack("{s:s, s:s, s:{s:s, s:s}}", "rule", d->hit[i].rule,
		                                "reason", ri->name, "message", "vi", ri->msg_vi,
		                                "en", ri->msg_en));
	}
	if (accepted != NULL && json_array_size(warnings) > 0)
		json_object_set(accepted, "warnings", warnings);
	if (accepted != NULL && d->cosign != POL_ROLE_NONE)
		json_object_set_new(accepted, "cosign_required",
		                    json_string(pol_role_name(d->cosign)));
	*policy = json_pack("{s:s, s:o}", "decision", warned ? "warn" : "allow", "rules", rules);
	json_decref(warnings);
}
