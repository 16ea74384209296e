/* gw_vfy_path.c -- the trust store and the certificate path (REGULATION.md section 6 steps 4,
 * 5, 7, 8; ND68 31-32): path to an anchor, validity at the signing time, key usage, algorithm
 * minimums in the path, and the cache of verified paths. Pure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "gw_cache.h"
#include "gw_verify.h"

/* ---- trust store ------------------------------------------------------------------------- */

struct gw_trust {
	X509_STORE *store;
	STACK_OF(X509) * untrusted;
};

static bool
trust_add_file(struct gw_trust *t, const char *path, bool anchor, char *err, size_t errlen)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x;
	int n = 0;
	bool ok = true;

	if (b == NULL) {
		snprintf(err, errlen, "%s: cannot read", path);
		ERR_clear_error();
		return false;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		n++;
		if (anchor && X509_check_ca(x) == 0) {
			snprintf(err, errlen, "%s: certificate %d is not a CA certificate", path,
			         n);
			ok = false;
		} else if (anchor ? X509_STORE_add_cert(t->store, x) != 1
		                  : !sk_X509_push(t->untrusted, x)) {
			snprintf(err, errlen, "%s: cannot keep certificate %d", path, n);
			ok = false;
		} else if (!anchor) {
			x = NULL; /* the stack owns it now */
		}
		X509_free(x);
		if (!ok)
			break;
	}
	ERR_clear_error();
	BIO_free(b);
	if (ok && n == 0) {
		snprintf(err, errlen, "%s: no PEM certificate", path);
		ok = false;
	}
	return ok;
}

static struct gw_trust *
trust_alloc(void)
{
	struct gw_trust *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->store = X509_STORE_new();
	t->untrusted = sk_X509_new_null();
	if (t->store == NULL || t->untrusted == NULL) {
		gw_trust_free(t);
		return NULL;
	}
	return t;
}

struct gw_trust *
gw_trust_new(const char *const *anchor_files, size_t n_anchors,
             const char *const *intermediate_files, size_t n_inter, char *err, size_t errlen)
{
	struct gw_trust *t;
	size_t i;

	if (n_anchors == 0) {
		snprintf(err, errlen, "trust.anchors is empty: no signature can be trusted");
		return NULL;
	}
	if ((t = trust_alloc()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < n_anchors; i++)
		if (!trust_add_file(t, anchor_files[i], true, err, errlen))
			goto fail;
	for (i = 0; i < n_inter; i++)
		if (!trust_add_file(t, intermediate_files[i], false, err, errlen))
			goto fail;
	return t;
fail:
	gw_trust_free(t);
	return NULL;
}

struct gw_trust *
gw_trust_new_certs(X509 *const *anchors, size_t n_anchors, X509 *const *intermediates,
                   size_t n_inter)
{
	struct gw_trust *t = trust_alloc();
	size_t i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < n_anchors; i++)
		if (X509_STORE_add_cert(t->store, anchors[i]) != 1)
			goto fail;
	for (i = 0; i < n_inter; i++)
		if (!X509_up_ref(intermediates[i]) || !sk_X509_push(t->untrusted, intermediates[i]))
			goto fail;
	return t;
fail:
	gw_trust_free(t);
	return NULL;
}

void
gw_trust_free(struct gw_trust *t)
{
	if (t == NULL)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->untrusted, X509_free);
	free(t);
}

/* ---- the certificate path (steps 4, 5, 7, 8) ----------------------------------------------- */

static enum gw_vfy_reason
map_x509_error(int e)
{
	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return GW_VFY_CERT_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return GW_VFY_CERT_NOT_YET_VALID;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return GW_VFY_UNTRUSTED_ROOT;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return GW_VFY_CERT_USAGE_NOT_ALLOWED;
	case X509_V_ERR_CA_KEY_TOO_SMALL:
	case X509_V_ERR_EE_KEY_TOO_SMALL:
	case X509_V_ERR_CA_MD_TOO_WEAK:
		return GW_VFY_ALGORITHM_NOT_ALLOWED;
	default:
		return GW_VFY_INVALID_CERT_CHAIN;
	}
}

/* D10 on every certificate's signature hash in the path (SHA-1 and MD5 are refused). */
static bool
chain_hashes_ok(STACK_OF(X509) * chain)
{
	int i, md_nid, pk_nid;

	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		/* The anchor's self-signature is not relied upon. */
		if (i == sk_X509_num(chain) - 1 && i > 0)
			break;
		if (X509_get_signature_info(x, &md_nid, &pk_nid, NULL, NULL) != 1)
			return false;
		if (md_nid != NID_undef && !gw_vfy_md_allowed(md_nid))
			return false;
		(void)pk_nid;
	}
	return true;
}

static bool
usage_ok(X509 *cert)
{
	uint32_t ku = X509_get_key_usage(cert);

	/* UINT32_MAX: no keyUsage extension, which ND68 31.1b does not allow for a signer. */
	return ku != UINT32_MAX && (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) != 0;
}

/* The span of T over which a verified path stays valid: the latest notBefore and the earliest
 * notAfter of its certificates. */
static bool
chain_window(STACK_OF(X509) * chain, time_t *from, time_t *to)
{
	int i;

	*from = 0;
	*to = (time_t)INT64_MAX;
	for (i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		time_t nb, na;

		if (!gw_vfy_asn1_time(X509_get0_notBefore(x), &nb) ||
		    !gw_vfy_asn1_time(X509_get0_notAfter(x), &na))
			return false;
		if (nb > *from)
			*from = nb;
		if (na < *to)
			*to = na;
	}
	return true;
}

bool
gw_vfy_asn1_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;

	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

/* ca_issuer (when asked): the issuer of the end-entity's issuer when that issuer is an
 * intermediate (the path is longer than issuer -> anchor), else NULL. */
static enum gw_vfy_reason
vfy_cert(const struct gw_trust *t, X509 *cert, time_t at, X509 **issuer, X509 **ca_issuer,
         char *detail, size_t detail_len, time_t *from, time_t *to)
{
	enum gw_vfy_reason rc = GW_VFY_INTERNAL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) * chain;
	char scratch[8];
	int e;

	if (detail == NULL) {
		detail = scratch;
		detail_len = sizeof(scratch);
	}
	detail[0] = '\0';
	if (t == NULL || cert == NULL)
		return GW_VFY_BAD_INPUT;
	if ((rc = gw_vfy_key_check(X509_get0_pubkey(cert))) != GW_VFY_OK) {
		snprintf(detail, detail_len, "end-entity key below the minimums");
		goto out;
	}
	rc = GW_VFY_INTERNAL;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, t->store, cert, t->untrusted) != 1)
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, at);
	/* Security level 2: RSA and DSA >= 2048, EC >= 224, SHA-1 refused in signatures. */
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), 2);
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		rc = map_x509_error(e);
		snprintf(detail, detail_len, "X509: %s (depth %d)",
		         X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	if (!chain_hashes_ok(chain)) {
		rc = GW_VFY_ALGORITHM_NOT_ALLOWED;
		snprintf(detail, detail_len,
		         "a certificate in the path is signed with a weak hash");
		goto out;
	}
	if (!usage_ok(cert)) {
		rc = GW_VFY_CERT_USAGE_NOT_ALLOWED;
		snprintf(detail, detail_len, "keyUsage lacks digitalSignature and nonRepudiation");
		goto out;
	}
	if (from != NULL && !chain_window(chain, from, to))
		goto out;
	if (ca_issuer != NULL) {
		X509 *ci = sk_X509_num(chain) > 2 ? sk_X509_value(chain, 2) : NULL;

		if (ci != NULL && !X509_up_ref(ci))
			goto out;
		*ca_issuer = ci;
	}
	if (issuer != NULL) {
		X509 *iss = sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : NULL;

		if (iss == NULL || !X509_up_ref(iss)) {
			rc = GW_VFY_INVALID_CERT_CHAIN;
			if (ca_issuer != NULL) {
				X509_free(*ca_issuer);
				*ca_issuer = NULL;
			}
			goto out;
		}
		*issuer = iss;
	}
	rc = GW_VFY_OK;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	return rc;
}

enum gw_vfy_reason
gw_vfy_cert(const struct gw_trust *t, X509 *cert, time_t at, X509 **issuer, char *detail,
            size_t detail_len)
{
	return vfy_cert(t, cert, at, issuer, NULL, detail, detail_len, NULL, NULL);
}

/* ---- verified paths, cached (PERFORMANCE.md G12: no path building per signature) ---------- */

/* Values of the cache, keyed by the SHA-256 of the end-entity certificate. gw_path_cache is a
 * gw_cache under another name (gw_verify.h keeps the type of its callers). */
struct path_ent {
	X509 *issuer, *ca_issuer; /* ca_issuer may be NULL */
	time_t from, to;          /* T for which the path holds */
};

static void
path_release(void *value)
{
	struct path_ent *e = value;

	X509_free(e->issuer);
	X509_free(e->ca_issuer);
}

struct gw_path_cache *
gw_path_cache_new(int entries)
{
	return (struct gw_path_cache *)gw_cache_new(entries, sizeof(struct path_ent),
	                                            GW_CACHE_KEYS_DIGEST, path_release);
}

void
gw_path_cache_free(struct gw_path_cache *c)
{
	gw_cache_free((struct gw_cache *)c);
}

int
gw_path_cache_count(const struct gw_path_cache *c)
{
	return gw_cache_count((const struct gw_cache *)c);
}

/* Hands out up-referenced copies of what the entry holds. */
static bool
path_give(X509 *x, X509 **out)
{
	if (out == NULL)
		return true;
	if (x != NULL && !X509_up_ref(x))
		return false;
	*out = x;
	return true;
}

enum gw_vfy_reason
gw_vfy_cert_cached(struct gw_path_cache *pc, const struct gw_trust *t, X509 *cert, time_t at,
                   X509 **issuer, X509 **ca_issuer, char *detail, size_t detail_len)
{
	struct gw_cache *c = (struct gw_cache *)pc;
	unsigned char fpr[32];
	unsigned int n = 0;
	struct path_ent *e;
	enum gw_vfy_reason rc;
	time_t from, to;
	X509 *iss = NULL, *ci = NULL;

	if (c == NULL || cert == NULL || X509_digest(cert, EVP_sha256(), fpr, &n) != 1 || n != 32) {
		ERR_clear_error();
		return vfy_cert(t, cert, at, issuer, ca_issuer, detail, detail_len, NULL, NULL);
	}
	if ((e = gw_cache_find(c, fpr, sizeof(fpr))) != NULL && at >= e->from && at <= e->to) {
		if (detail != NULL && detail_len > 0)
			detail[0] = '\0';
		if (!path_give(e->ca_issuer, ca_issuer))
			return GW_VFY_INTERNAL;
		if (!path_give(e->issuer, issuer)) {
			if (ca_issuer != NULL)
				X509_free(*ca_issuer);
			return GW_VFY_INTERNAL;
		}
		return GW_VFY_OK;
	}
	/* Failures are not kept: they are rare and the next attempt may see a new anchor. */
	rc = vfy_cert(t, cert, at, &iss, &ci, detail, detail_len, &from, &to);
	if (rc != GW_VFY_OK)
		return rc;
	if (e == NULL) {
		if (gw_cache_full(c))
			gw_cache_clear(c); /* bounded; a miss costs one path check */
		e = gw_cache_add(c, fpr, sizeof(fpr));
	}
	if (e != NULL && X509_up_ref(iss) && (ci == NULL || X509_up_ref(ci))) {
		X509_free(e->issuer);
		X509_free(e->ca_issuer);
		e->issuer = iss;
		e->ca_issuer = ci;
		e->from = from;
		e->to = to;
	}
	if (issuer != NULL)
		*issuer = iss;
	else
		X509_free(iss);
	if (ca_issuer != NULL)
		*ca_issuer = ci;
	else
		X509_free(ci);
	return GW_VFY_OK;
}
