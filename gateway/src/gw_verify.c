/* gw_verify.c -- the pure verification steps: status codes, algorithm minimums (D10), the raw
 * signature and the certificate path (REGULATION.md section 6 steps 2, 4, 5, 7, 8). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "gw_verify.h"

/* ---- names and wire codes (PROTOCOL.md section 5) ---------------------------------------- */

static const char *const reason_names[] = {
	[GW_VFY_OK] = "OK",
	[GW_VFY_SIGNATURE_INVALID] = "SIGNATURE_INVALID",
	[GW_VFY_UNTRUSTED_ROOT] = "UNTRUSTED_ROOT",
	[GW_VFY_INVALID_CERT_CHAIN] = "INVALID_CERT_CHAIN",
	[GW_VFY_CERT_EXPIRED] = "CERT_EXPIRED",
	[GW_VFY_CERT_NOT_YET_VALID] = "CERT_NOT_YET_VALID",
	[GW_VFY_CERT_USAGE_NOT_ALLOWED] = "CERT_USAGE_NOT_ALLOWED",
	[GW_VFY_CERT_IS_REVOKED] = "CERT_IS_REVOKED",
	[GW_VFY_CA_CERT_IS_REVOKED] = "CA_CERT_IS_REVOKED",
	[GW_VFY_ALGORITHM_NOT_ALLOWED] = "ALGORITHM_NOT_ALLOWED",
	[GW_VFY_STATUS_UNKNOWN] = "STATUS_INDETERMINATE",
	[GW_VFY_UNSUPPORTED_HASH] = "UNSUPPORTED_HASH",
	[GW_VFY_UNSUPPORTED_KEY] = "UNSUPPORTED_KEY",
	[GW_VFY_BAD_INPUT] = "BAD_INPUT",
	[GW_VFY_INTERNAL] = "INTERNAL",
};

const char *
gw_vfy_reason_name(enum gw_vfy_reason r)
{
	if ((unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]))
		return reason_names[r];
	return "INTERNAL";
}

static const char *const cause_names[] = {
	[GW_REV_CAUSE_NONE] = "NONE",
	[GW_REV_OCSP_RESP_UNKNOWN] = "OCSP_RESP_UNKNOWN",
	[GW_REV_COULDNOT_DOWNLOAD_CRL] = "COULDNOT_DOWNLOAD_CRL",
	[GW_REV_INVALID_CRL] = "INVALID_CRL",
	[GW_REV_INVALID_CRL_DIST_POINTS] = "INVALID_CRL_DIST_POINTS",
	[GW_REV_ONLINE_CHECKING_DISABLED] = "ONLINE_CHECKING_CERT_DISABLED",
	[GW_REV_OCSP_UNREACHABLE] = "OCSP_UNREACHABLE",
	[GW_REV_OCSP_INVALID] = "OCSP_INVALID",
	[GW_REV_OCSP_BAD_SIGNATURE] = "OCSP_BAD_SIGNATURE",
	[GW_REV_OCSP_STALE] = "OCSP_STALE",
	[GW_REV_OCSP_NONCE_MISMATCH] = "OCSP_NONCE_MISMATCH",
};

const char *
gw_rev_cause_name(enum gw_rev_cause c)
{
	if ((unsigned)c < sizeof(cause_names) / sizeof(cause_names[0]))
		return cause_names[c];
	return "NONE";
}

const char *
gw_rev_status_name(enum gw_rev_status s)
{
	switch (s) {
	case GW_REV_GOOD:
		return "good";
	case GW_REV_REVOKED:
		return "revoked";
	case GW_REV_UNKNOWN:
		break;
	}
	return "unknown";
}

struct gw_vfy_wire
gw_vfy_wire(enum gw_vfy_reason r, bool after_signing)
{
	struct gw_vfy_wire w = { 900, 9001, "INTERNAL_ERROR", gw_vfy_reason_name(r), false };

	switch (r) {
	case GW_VFY_OK:
		if (after_signing) {
			w.code = 502, w.sub = 0, w.name = "VALID_SIGNATURE";
		} else {
			w.code = 100, w.sub = 0, w.name = "REQUEST_OK";
		}
		break;
	case GW_VFY_SIGNATURE_INVALID:
		w.code = 503, w.sub = 0, w.name = "INVALID_SIGNATURE";
		break;
	case GW_VFY_UNTRUSTED_ROOT:
	case GW_VFY_INVALID_CERT_CHAIN:
	case GW_VFY_CERT_EXPIRED:
	case GW_VFY_CERT_NOT_YET_VALID:
	case GW_VFY_CERT_USAGE_NOT_ALLOWED:
		w.code = 425, w.sub = 0, w.name = "ERROR_CERTIFICATE";
		break;
	case GW_VFY_CERT_IS_REVOKED:
	case GW_VFY_CA_CERT_IS_REVOKED:
		w.code = 501, w.sub = 0, w.name = "REVOKED_CERTIFICATE";
		break;
	case GW_VFY_ALGORITHM_NOT_ALLOWED:
		w.code = 505, w.sub = 0, w.name = "CONSTRAINT_MISMATCH";
		break;
	case GW_VFY_STATUS_UNKNOWN:
		/* Indeterminate is never valid (REGULATION.md section 6 "On the wire"). Before
		 * signing it is a warning the caller weighs with D3. */
		w.warning = true;
		if (after_signing) {
			w.code = 500, w.sub = 0, w.name = "SIGNATURE";
		} else {
			w.code = 100, w.sub = 0, w.name = "REQUEST_OK";
		}
		break;
	case GW_VFY_UNSUPPORTED_HASH:
		w.sub = 9007;
		break;
	case GW_VFY_UNSUPPORTED_KEY:
		w.sub = 9008;
		break;
	case GW_VFY_BAD_INPUT:
		w.code = 101, w.sub = 1011, w.name = "WRONG_PARAM";
		break;
	case GW_VFY_INTERNAL:
		break;
	}
	return w;
}

/* ---- algorithms (D10, REGULATION.md section 6 "Minimums") ------------------------------- */

int
gw_vfy_md_for_len(size_t digest_len)
{
	switch (digest_len) {
	case 32:
		return NID_sha256;
	case 48:
		return NID_sha384;
	case 64:
		return NID_sha512;
	default:
		return NID_undef;
	}
}

bool
gw_vfy_md_allowed(int md_nid)
{
	switch (md_nid) {
	case NID_sha256:
	case NID_sha384:
	case NID_sha512:
	case NID_sha512_224:
	case NID_sha512_256:
	case NID_sha3_224:
	case NID_sha3_256:
	case NID_sha3_384:
	case NID_sha3_512:
		return true;
	default:
		return false;
	}
}

enum gw_vfy_reason
gw_vfy_key_check(EVP_PKEY *key)
{
	int bits;

	if (key == NULL)
		return GW_VFY_UNSUPPORTED_KEY;
	bits = EVP_PKEY_get_bits(key);
	if (EVP_PKEY_is_a(key, "RSA") || EVP_PKEY_is_a(key, "RSA-PSS"))
		return bits >= 2048 ? GW_VFY_OK : GW_VFY_ALGORITHM_NOT_ALLOWED;
	if (EVP_PKEY_is_a(key, "EC"))
		return bits >= 256 ? GW_VFY_OK : GW_VFY_ALGORITHM_NOT_ALLOWED;
	return GW_VFY_UNSUPPORTED_KEY;
}

/* ---- the raw signature (step 2) ------------------------------------------------------------ */

static int
ec_field_bytes(EVP_PKEY *pub)
{
	int bits = EVP_PKEY_get_bits(pub);

	return bits > 0 ? (bits + 7) / 8 : 0;
}

bool
gw_vfy_ecdsa_to_der(EVP_PKEY *pub, const uint8_t *sig, size_t sig_len, uint8_t **der,
                    size_t *der_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	const unsigned char *p = sig;
	unsigned char *out = NULL;
	size_t half = (size_t)ec_field_bytes(pub);
	bool ok = false;
	int n;

	if (half == 0 || sig_len == 0 || sig_len > 1024)
		goto out;
	if (sig_len == 2 * half) {
		if ((es = ECDSA_SIG_new()) == NULL ||
		    (r = BN_bin2bn(sig, (int)half, NULL)) == NULL ||
		    (s = BN_bin2bn(sig + half, (int)half, NULL)) == NULL)
			goto out;
		if (ECDSA_SIG_set0(es, r, s) != 1)
			goto out;
		r = s = NULL;
	} else {
		/* Some devices answer DER already: accept it when it re-encodes to itself. */
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len)) == NULL || p != sig + sig_len)
			goto out;
	}
	if ((n = i2d_ECDSA_SIG(es, &out)) <= 0)
		goto out;
	if (sig_len != 2 * half && ((size_t)n != sig_len || memcmp(out, sig, sig_len) != 0))
		goto out;
	*der = out;
	*der_len = (size_t)n;
	out = NULL;
	ok = true;
out:
	OPENSSL_free(out);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ok;
}

enum gw_vfy_reason
gw_vfy_signature(EVP_PKEY *pub, enum gw_vfy_scheme scheme, int md_nid, const uint8_t *digest,
                 size_t digest_len, const uint8_t *sig, size_t sig_len)
{
	enum gw_vfy_reason rc = GW_VFY_INTERNAL, kr;
	const EVP_MD *md;
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t *der = NULL;
	size_t der_len = 0;
	bool rsa;

	if (pub == NULL || digest == NULL || sig == NULL || sig_len == 0)
		return GW_VFY_BAD_INPUT;
	if (!gw_vfy_md_allowed(md_nid))
		return GW_VFY_ALGORITHM_NOT_ALLOWED;
	if ((md = EVP_get_digestbynid(md_nid)) == NULL)
		return GW_VFY_UNSUPPORTED_HASH;
	if ((size_t)EVP_MD_get_size(md) != digest_len)
		return GW_VFY_BAD_INPUT;
	if ((kr = gw_vfy_key_check(pub)) != GW_VFY_OK)
		return kr;
	rsa = EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "RSA-PSS");
	if ((scheme == GW_SIG_ECDSA) == rsa)
		return GW_VFY_SIGNATURE_INVALID; /* a scheme that does not fit the key */
	if (scheme == GW_SIG_ECDSA) {
		if (!gw_vfy_ecdsa_to_der(pub, sig, sig_len, &der, &der_len)) {
			rc = GW_VFY_SIGNATURE_INVALID;
			goto out;
		}
		sig = der;
		sig_len = der_len;
	}
	if ((ctx = EVP_PKEY_CTX_new(pub, NULL)) == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		goto out;
	if (scheme == GW_SIG_RSA_PKCS1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (scheme == GW_SIG_RSA_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto out;
	rc = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1 ? GW_VFY_OK
	                                                                 : GW_VFY_SIGNATURE_INVALID;
out:
	/* lws's TLS shares this thread's error queue: leave it empty (STYLE.md 2.4). */
	ERR_clear_error();
	OPENSSL_free(der);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

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

static enum gw_vfy_reason
vfy_cert(const struct gw_trust *t, X509 *cert, time_t at, X509 **issuer, char *detail,
         size_t detail_len, time_t *from, time_t *to)
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
	if (issuer != NULL) {
		X509 *iss = sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : NULL;

		if (iss == NULL || !X509_up_ref(iss)) {
			rc = GW_VFY_INVALID_CERT_CHAIN;
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
	return vfy_cert(t, cert, at, issuer, detail, detail_len, NULL, NULL);
}

/* ---- verified paths, cached (PERFORMANCE.md G12: no path building per signature) ---------- */

struct path_ent {
	struct path_ent *next;
	unsigned char fpr[32]; /* SHA-256 of the end-entity certificate */
	X509 *issuer;
	time_t from, to; /* T for which the path holds */
};

struct gw_path_cache {
	struct path_ent **bucket;
	size_t nbucket; /* a power of two */
	int count, max;
};

struct gw_path_cache *
gw_path_cache_new(int entries)
{
	struct gw_path_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->max = entries > 0 ? entries : 1;
	c->nbucket = 16;
	while (c->nbucket < (size_t)c->max * 2)
		c->nbucket <<= 1;
	if ((c->bucket = calloc(c->nbucket, sizeof(*c->bucket))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
path_cache_clear(struct gw_path_cache *c)
{
	size_t i;

	for (i = 0; i < c->nbucket; i++) {
		while (c->bucket[i] != NULL) {
			struct path_ent *e = c->bucket[i];

			c->bucket[i] = e->next;
			X509_free(e->issuer);
			free(e);
		}
	}
	c->count = 0;
}

void
gw_path_cache_free(struct gw_path_cache *c)
{
	if (c == NULL)
		return;
	path_cache_clear(c);
	free(c->bucket);
	free(c);
}

int
gw_path_cache_count(const struct gw_path_cache *c)
{
	return c != NULL ? c->count : 0;
}

static struct path_ent **
path_slot(struct gw_path_cache *c, const unsigned char *fpr)
{
	size_t h;
	struct path_ent **pp;

	memcpy(&h, fpr, sizeof(h));
	pp = &c->bucket[h & (c->nbucket - 1)];
	while (*pp != NULL && memcmp((*pp)->fpr, fpr, sizeof((*pp)->fpr)) != 0)
		pp = &(*pp)->next;
	return pp;
}

enum gw_vfy_reason
gw_vfy_cert_cached(struct gw_path_cache *c, const struct gw_trust *t, X509 *cert, time_t at,
                   X509 **issuer, char *detail, size_t detail_len)
{
	unsigned char fpr[32];
	unsigned int n = 0;
	struct path_ent **pp, *e;
	enum gw_vfy_reason rc;
	time_t from, to;
	X509 *iss = NULL;

	if (c == NULL || cert == NULL || X509_digest(cert, EVP_sha256(), fpr, &n) != 1 || n != 32) {
		ERR_clear_error();
		return gw_vfy_cert(t, cert, at, issuer, detail, detail_len);
	}
	pp = path_slot(c, fpr);
	if ((e = *pp) != NULL && at >= e->from && at <= e->to) {
		if (detail != NULL && detail_len > 0)
			detail[0] = '\0';
		if (issuer != NULL) {
			if (!X509_up_ref(e->issuer))
				return GW_VFY_INTERNAL;
			*issuer = e->issuer;
		}
		return GW_VFY_OK;
	}
	/* Failures are not kept: they are rare and the next attempt may see a new anchor. */
	rc = vfy_cert(t, cert, at, &iss, detail, detail_len, &from, &to);
	if (rc != GW_VFY_OK)
		return rc;
	if (e == NULL) {
		if (c->count >= c->max) {
			path_cache_clear(c); /* bounded; a miss costs one path check */
			pp = path_slot(c, fpr);
		}
		if ((e = calloc(1, sizeof(*e))) != NULL) {
			memcpy(e->fpr, fpr, sizeof(e->fpr));
			*pp = e;
			c->count++;
		}
	}
	if (e != NULL && X509_up_ref(iss)) {
		X509_free(e->issuer);
		e->issuer = iss;
		e->from = from;
		e->to = to;
	}
	if (issuer != NULL)
		*issuer = iss;
	else
		X509_free(iss);
	return GW_VFY_OK;
}

enum gw_vfy_reason
gw_vfy_combine(enum gw_vfy_reason cert_reason, const struct gw_rev_result *rev)
{
	if (cert_reason == GW_VFY_SIGNATURE_INVALID)
		return cert_reason;
	if (rev != NULL && rev->status == GW_REV_REVOKED)
		return GW_VFY_CERT_IS_REVOKED;
	if (cert_reason != GW_VFY_OK)
		return cert_reason;
	if (rev == NULL || rev->status != GW_REV_GOOD)
		return GW_VFY_STATUS_UNKNOWN;
	return GW_VFY_OK;
}
