/* gw_cms.c -- a detached CMS SignedData around a signature made elsewhere (PERFORMANCE.md M2):
 * OpenSSL builds the SignerInfo with the certificate's public key and CMS_PARTIAL, we add the
 * signed attributes and hash their DER SET OF (RFC 5652 5.4), the device signs that digest, and
 * its raw signature is set into the SignerInfo after it verified. */
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "gw_cms.h"

struct gw_cms_prep {
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si; /* owned by cms */
	X509 *cert;
	int md_nid;
	uint8_t tbs[GW_CMS_DIGEST_MAX];
	size_t tbs_len;
};

const char *
gw_cms_strerror(enum gw_cms_err e)
{
	switch (e) {
	case GW_CMS_OK:
		return "ok";
	case GW_CMS_E_INPUT:
		return "bad input (digest length or certificate)";
	case GW_CMS_E_KEY:
		return "unsupported key type";
	case GW_CMS_E_SIGNATURE:
		return "the signature does not verify";
	case GW_CMS_E_CRYPTO:
		return "OpenSSL failure";
	}
	return "unknown error";
}

void
gw_cms_prep_free(struct gw_cms_prep *p)
{
	if (p == NULL)
		return;
	CMS_ContentInfo_free(p->cms);
	X509_free(p->cert);
	free(p);
}

const uint8_t *
gw_cms_prep_tbs(const struct gw_cms_prep *p, size_t *len)
{
	*len = p->tbs_len;
	return p->tbs;
}

struct der_item {
	unsigned char *der;
	int len;
};

/* DER order of a SET OF (X.690 11.6), as OpenSSL encodes the SignerInfo's signedAttrs. */
static int
der_cmp(const void *a, const void *b)
{
	const struct der_item *x = a, *y = b;
	int n = x->len < y->len ? x->len : y->len, c = memcmp(x->der, y->der, (size_t)n);

	return c != 0 ? c : x->len - y->len;
}

/* The signed attributes as one DER SET OF, hashed with md into p->tbs (RFC 5652 5.4: the
 * explicit SET OF tag, not the [0] of the SignerInfo). */
static bool
attrs_digest(struct gw_cms_prep *p, const EVP_MD *md)
{
	int i, n = CMS_signed_get_attr_count(p->si);
	struct der_item *it = NULL;
	size_t total = 0, hdr;
	unsigned char h[6];
	unsigned int dlen = 0;
	EVP_MD_CTX *ctx = NULL;
	bool ok = false;

	if (n <= 0 || n > 16 || (it = calloc((size_t)n, sizeof(*it))) == NULL)
		return false;
	for (i = 0; i < n; i++) {
		if ((it[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(p->si, i), &it[i].der)) <=
		    0)
			goto out;
		total += (size_t)it[i].len;
	}
	qsort(it, (size_t)n, sizeof(*it), der_cmp);
	h[0] = 0x31;
	if (total < 0x80) {
		h[1] = (unsigned char)total;
		hdr = 2;
	} else if (total <= 0xFF) {
		h[1] = 0x81, h[2] = (unsigned char)total;
		hdr = 3;
	} else if (total <= 0xFFFF) {
		h[1] = 0x82, h[2] = (unsigned char)(total >> 8), h[3] = (unsigned char)total;
		hdr = 4;
	} else {
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, h, hdr) != 1)
		goto out;
	for (i = 0; i < n; i++)
		if (EVP_DigestUpdate(ctx, it[i].der, (size_t)it[i].len) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, p->tbs, &dlen) != 1)
		goto out;
	p->tbs_len = dlen;
	ok = true;
out:
	for (i = 0; i < n; i++)
		OPENSSL_free(it[i].der);
	free(it);
	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool
add_attrs(struct gw_cms_prep *p, const uint8_t *digest, size_t digest_len, time_t signing_time)
{
	ASN1_TIME *t = ASN1_TIME_set(NULL, signing_time);
	bool ok;

	/* signingCertificateV2 came with CMS_CADES; the other three are RFC 5652 11.1-11.3. */
	ok = t != NULL &&
	     CMS_signed_add1_attr_by_NID(p->si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                                 OBJ_nid2obj(NID_pkcs7_data), -1) == 1 &&
	     CMS_signed_add1_attr_by_NID(p->si, NID_pkcs9_signingTime, t->type, t, -1) == 1 &&
	     CMS_signed_add1_attr_by_NID(p->si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING,
	                                 digest, (int)digest_len) == 1;
	ASN1_TIME_free(t);
	return ok;
}

enum gw_cms_err
gw_cms_prepare(X509 *cert, STACK_OF(X509) * extra, const uint8_t *doc_digest, size_t digest_len,
               time_t signing_time, struct gw_cms_prep **out, uint8_t *tbs, size_t tbs_cap,
               size_t *tbs_len)
{
	enum gw_cms_err rc = GW_CMS_E_CRYPTO;
	struct gw_cms_prep *p = NULL;
	const EVP_MD *md;
	EVP_PKEY *pub;
	int i;

	if (cert == NULL || doc_digest == NULL || tbs_cap < GW_CMS_DIGEST_MAX ||
	    gw_vfy_md_for_len(digest_len) == NID_undef)
		return GW_CMS_E_INPUT;
	pub = X509_get0_pubkey(cert);
	if (pub == NULL || !(EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "EC")))
		return GW_CMS_E_KEY;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	p->md_nid = gw_vfy_md_for_len(digest_len);
	if ((md = EVP_get_digestbynid(p->md_nid)) == NULL || !X509_up_ref(cert))
		goto out;
	p->cert = cert;
	if ((p->cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY)) ==
	            NULL ||
	    CMS_set_detached(p->cms, 1) != 1)
		goto out;
	/* The public key stands in for the private one: CMS_PARTIAL defers signing to us. */
	p->si = CMS_add1_signer(p->cms, cert, pub, md,
	                        CMS_PARTIAL | CMS_CADES | CMS_NOSMIMECAP | CMS_BINARY);
	if (p->si == NULL)
		goto out;
	for (i = 0; extra != NULL && i < sk_X509_num(extra); i++)
		if (CMS_add1_cert(p->cms, sk_X509_value(extra, i)) != 1)
			goto out;
	if (!add_attrs(p, doc_digest, digest_len, signing_time) || !attrs_digest(p, md))
		goto out;
	memcpy(tbs, p->tbs, p->tbs_len);
	*tbs_len = p->tbs_len;
	*out = p;
	p = NULL;
	rc = GW_CMS_OK;
out:
	ERR_clear_error();
	gw_cms_prep_free(p);
	return rc;
}

static enum gw_cms_err
finish(struct gw_cms_prep *p, enum gw_vfy_scheme scheme, const uint8_t *sig, size_t sig_len,
       uint8_t **der, size_t *der_len, bool check)
{
	EVP_PKEY *pub = X509_get0_pubkey(p->cert);
	enum gw_cms_err rc = GW_CMS_E_CRYPTO;
	uint8_t *ecdsa = NULL, *buf = NULL;
	size_t ecdsa_len = 0;
	int n;

	/* The SignerInfo names rsaEncryption (PKCS#1 v1.5) or ecdsa-with-SHAx: PSS would need
	 * RSASSA-PSS parameters there. */
	if (scheme == GW_SIG_RSA_PSS)
		return GW_CMS_E_INPUT;
	if (check &&
	    gw_vfy_signature(pub, scheme, p->md_nid, p->tbs, p->tbs_len, sig, sig_len) != GW_VFY_OK)
		return GW_CMS_E_SIGNATURE;
	if (scheme == GW_SIG_ECDSA) {
		if (!gw_vfy_ecdsa_to_der(pub, sig, sig_len, &ecdsa, &ecdsa_len))
			return GW_CMS_E_SIGNATURE;
		sig = ecdsa;
		sig_len = ecdsa_len;
	}
	if (sig_len > INT32_MAX ||
	    ASN1_STRING_set(CMS_SignerInfo_get0_signature(p->si), sig, (int)sig_len) != 1)
		goto out;
	if ((n = i2d_CMS_ContentInfo(p->cms, &buf)) <= 0)
		goto out;
	*der = buf;
	*der_len = (size_t)n;
	rc = GW_CMS_OK;
out:
	ERR_clear_error();
	OPENSSL_free(ecdsa);
	return rc;
}

enum gw_cms_err
gw_cms_finish(struct gw_cms_prep *p, enum gw_vfy_scheme scheme, const uint8_t *sig, size_t sig_len,
              uint8_t **der, size_t *der_len)
{
	return finish(p, scheme, sig, sig_len, der, der_len, true);
}

enum gw_cms_err
gw_cms_finish_verified(struct gw_cms_prep *p, enum gw_vfy_scheme scheme, const uint8_t *sig,
                       size_t sig_len, uint8_t **der, size_t *der_len)
{
	return finish(p, scheme, sig, sig_len, der, der_len, false);
}

enum gw_cms_err
gw_cms_digestinfo(const uint8_t *digest, size_t digest_len, uint8_t **der, size_t *der_len)
{
	int md_nid = gw_vfy_md_for_len(digest_len), n;
	enum gw_cms_err rc = GW_CMS_E_CRYPTO;
	X509_SIG *di = NULL;
	X509_ALGOR *alg;
	ASN1_OCTET_STRING *os;
	unsigned char *buf = NULL;

	if (digest == NULL || md_nid == NID_undef)
		return GW_CMS_E_INPUT;
	if ((di = X509_SIG_new()) == NULL)
		goto out;
	X509_SIG_getm(di, &alg, &os);
	/* RFC 8017 9.2 note 1: the parameters are NULL, not absent. */
	if (X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), V_ASN1_NULL, NULL) != 1 ||
	    ASN1_OCTET_STRING_set(os, digest, (int)digest_len) != 1)
		goto out;
	if ((n = i2d_X509_SIG(di, &buf)) <= 0)
		goto out;
	*der = buf;
	*der_len = (size_t)n;
	rc = GW_CMS_OK;
out:
	ERR_clear_error();
	X509_SIG_free(di);
	return rc;
}
