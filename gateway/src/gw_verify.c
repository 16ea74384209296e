/* gw_verify.c -- the pure verification steps: status codes, algorithm minimums (D10), the raw
 * signature (REGULATION.md section 6 steps 2, 7) and how the outcomes combine. The path to an
 * anchor is in gw_vfy_path.c, revocation evidence in gw_revoke.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

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
