/* Unit tests of gw_cms.c: a detached SignedData built around a signature made outside (RSA
 * PKCS#1 v1.5 and ECDSA r||s), verified with OpenSSL's CMS_verify against the root; the
 * signed attributes, their DER (re-encoded by OpenSSL byte for byte, so sorted as X.690 11.6
 * wants) and the whole structure's DER; a bad signature refused; DigestInfo bytes (RFC 8017
 * 9.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>

#include "gw_cms.h"
#include "gw_der.h"
#include "pki_fixture.h"

#define DAY (24 * 3600)

static time_t now;
static EVP_PKEY *root_k, *ca_k, *ec_k, *rsa_k;
static X509 *root, *ca, *ec_leaf, *rsa_leaf;
static X509 *ec_direct, *rsa_direct; /* issued by the root itself: no intermediate to carry */
static const char doc[] = "Quyết định số 12/QĐ-UBND: văn bản mẫu để ký.";

static int
setup(void **state)
{
	(void)state;
	now = time(NULL);
	root_k = fx_key("ec");
	ca_k = fx_key("ec");
	ec_k = fx_key("ec");
	rsa_k = fx_key("rsa2048");
	root = fx_cert(NULL, root_k, root_k, "root", now - DAY, now + 30 * DAY, FX_CA, NULL, NULL);
	ca = fx_cert(root, root_k, ca_k, "issuing", now - DAY, now + 30 * DAY, FX_CA, NULL, NULL);
	ec_leaf = fx_cert(ca, ca_k, ec_k, "ec signer", now - DAY, now + 30 * DAY, 0, NULL, NULL);
	rsa_leaf = fx_cert(ca, ca_k, rsa_k, "rsa signer", now - DAY, now + 30 * DAY, 0, NULL, NULL);
	ec_direct =
	        fx_cert(root, root_k, ec_k, "ec direct", now - DAY, now + 30 * DAY, 0, NULL, NULL);
	rsa_direct = fx_cert(root, root_k, rsa_k, "rsa direct", now - DAY, now + 30 * DAY, 0, NULL,
	                     NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	X509_free(root);
	X509_free(ca);
	X509_free(ec_leaf);
	X509_free(rsa_leaf);
	X509_free(ec_direct);
	X509_free(rsa_direct);
	EVP_PKEY_free(root_k);
	EVP_PKEY_free(ca_k);
	EVP_PKEY_free(ec_k);
	EVP_PKEY_free(rsa_k);
	return 0;
}

/* Builds the CMS as the gateway does, the "device" signing the attributes' digest. */
static CMS_ContentInfo *
build(X509 *cert, EVP_PKEY *key, const char *how, enum gw_vfy_scheme scheme, const EVP_MD *md,
      bool tamper)
{
	uint8_t digest[64], tbs[GW_CMS_DIGEST_MAX], sig[512], *der = NULL;
	size_t tbs_len = 0, sig_len, der_len = 0;
	unsigned int dlen = 0;
	struct gw_cms_prep *p = NULL;
	STACK_OF(X509) *extra = sk_X509_new_null();
	CMS_ContentInfo *cms = NULL;
	const unsigned char *q;
	enum gw_cms_err e;

	assert_non_null(extra);
	assert_true(sk_X509_push(extra, ca));
	assert_int_equal(EVP_Digest(doc, strlen(doc), digest, &dlen, md, NULL), 1);
	assert_int_equal(
	        gw_cms_prepare(cert, extra, digest, dlen, now, &p, tbs, sizeof(tbs), &tbs_len),
	        GW_CMS_OK);
	assert_int_equal(tbs_len, dlen);
	sig_len = fx_sign(key, how, md, tbs, tbs_len, sig, sizeof(sig));
	if (tamper)
		sig[sig_len / 2] ^= 0x10;
	e = gw_cms_finish(p, scheme, sig, sig_len, &der, &der_len);
	if (tamper) {
		assert_int_equal(e, GW_CMS_E_SIGNATURE);
	} else {
		assert_int_equal(e, GW_CMS_OK);
		q = der;
		cms = d2i_CMS_ContentInfo(NULL, &q, (long)der_len);
		assert_non_null(cms);
		assert_ptr_equal(q, der + der_len);
	}
	OPENSSL_free(der);
	gw_cms_prep_free(p);
	sk_X509_free(extra);
	return cms;
}

static void
verify_with_openssl(CMS_ContentInfo *cms)
{
	X509_STORE *st = X509_STORE_new();
	BIO *content = BIO_new_mem_buf(doc, (int)strlen(doc));
	CMS_SignerInfo *si;
	int rc;

	assert_non_null(st);
	assert_int_equal(X509_STORE_add_cert(st, root), 1);
	assert_int_equal(CMS_is_detached(cms), 1);
	rc = CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY);
	if (rc != 1)
		ERR_print_errors_fp(stderr);
	assert_int_equal(rc, 1);
	/* The signed attributes of D4 / CAdES-BES. */
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1) >= 0);
	assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1) >= 0);
	assert_true(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) >= 0);
	assert_true(CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1) >= 0);
	BIO_free(content);
	X509_STORE_free(st);
}

static void
test_cms_ecdsa(void **state)
{
	CMS_ContentInfo *cms = build(ec_leaf, ec_k, "ecdsa-raw", GW_SIG_ECDSA, EVP_sha256(), false);

	(void)state;
	verify_with_openssl(cms);
	CMS_ContentInfo_free(cms);
}

static void
test_cms_rsa(void **state)
{
	CMS_ContentInfo *cms =
	        build(rsa_leaf, rsa_k, "pkcs1", GW_SIG_RSA_PKCS1, EVP_sha256(), false);

	(void)state;
	verify_with_openssl(cms);
	CMS_ContentInfo_free(cms);
	cms = build(rsa_leaf, rsa_k, "pkcs1", GW_SIG_RSA_PKCS1, EVP_sha512(), false);
	verify_with_openssl(cms);
	CMS_ContentInfo_free(cms);
}

static void
test_cms_other_document_fails(void **state)
{
	CMS_ContentInfo *cms = build(ec_leaf, ec_k, "ecdsa-raw", GW_SIG_ECDSA, EVP_sha384(), false);
	X509_STORE *st = X509_STORE_new();
	BIO *content = BIO_new_mem_buf("another document", -1);

	(void)state;
	assert_int_equal(X509_STORE_add_cert(st, root), 1);
	assert_int_not_equal(CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY), 1);
	ERR_clear_error();
	BIO_free(content);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
}

static void
test_cms_bad_signature(void **state)
{
	(void)state;
	assert_null(build(ec_leaf, ec_k, "ecdsa-raw", GW_SIG_ECDSA, EVP_sha256(), true));
	assert_null(build(rsa_leaf, rsa_k, "pkcs1", GW_SIG_RSA_PKCS1, EVP_sha256(), true));
}

/* The engine keeps only the signing time while the device works and builds the attributes
 * again at the answer: the same inputs must give the same bytes, and the CMS finished without
 * a second check (the verifier checked the signature) must be the same CMS. */
/* p1 finished with the check, p2 without (the caller verified): the same bytes. Returns the
 * second DER (OPENSSL_free it). */
static uint8_t *
finish_both_same(struct gw_cms_prep *p1, struct gw_cms_prep *p2, enum gw_vfy_scheme scheme,
                 const uint8_t *sig, size_t sig_len, size_t *len)
{
	uint8_t *d1 = NULL, *d2 = NULL;
	size_t n1 = 0, n2 = 0;

	assert_int_equal(gw_cms_finish(p1, scheme, sig, sig_len, &d1, &n1), GW_CMS_OK);
	assert_int_equal(gw_cms_finish_verified(p2, scheme, sig, sig_len, &d2, &n2), GW_CMS_OK);
	assert_int_equal(n1, n2);
	assert_memory_equal(d1, d2, n1);
	OPENSSL_free(d1);
	*len = n2;
	return d2;
}

static void
test_cms_rebuilt_same_attributes(void **state)
{
	uint8_t digest[32], tbs1[GW_CMS_DIGEST_MAX], tbs2[GW_CMS_DIGEST_MAX], sig[512];
	uint8_t *der2;
	size_t n1 = 0, n2 = 0, sig_len, d2 = 0;
	unsigned int dlen = 0;
	struct gw_cms_prep *p1 = NULL, *p2 = NULL;
	STACK_OF(X509) *extra = sk_X509_new_null();
	CMS_ContentInfo *cms;
	const unsigned char *q;

	(void)state;
	assert_true(sk_X509_push(extra, ca));
	assert_int_equal(EVP_Digest(doc, strlen(doc), digest, &dlen, EVP_sha256(), NULL), 1);
	assert_int_equal(
	        gw_cms_prepare(ec_leaf, extra, digest, dlen, now, &p1, tbs1, sizeof(tbs1), &n1),
	        GW_CMS_OK);
	assert_int_equal(
	        gw_cms_prepare(ec_leaf, extra, digest, dlen, now, &p2, tbs2, sizeof(tbs2), &n2),
	        GW_CMS_OK);
	assert_int_equal(n1, n2);
	assert_memory_equal(tbs1, tbs2, n1);
	sig_len = fx_sign(ec_k, "ecdsa-raw", EVP_sha256(), tbs1, n1, sig, sizeof(sig));
	der2 = finish_both_same(p1, p2, GW_SIG_ECDSA, sig, sig_len, &d2);
	q = der2;
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &q, (long)d2));
	verify_with_openssl(cms);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der2);
	gw_cms_prep_free(p1);
	gw_cms_prep_free(p2);
	sk_X509_free(extra);
}

/* One case of the matrix below: the signer, its key and how the device signs. */
struct signer_case {
	X509 *cert;
	EVP_PKEY *key;
	const char *how;
	enum gw_vfy_scheme scheme;
	bool intermediate; /* cert is issued by ca, which goes into the certificates */
};

/* Our DER must be what OpenSSL makes of it again: the whole ContentInfo re-encoded from the
 * parsed structure, and the signed attributes as a DER SET OF (PKCS7_ATTR_SIGN sorts) equal to
 * gw_cms_attrs' bytes, whose digest is what the device signed. */
static void
assert_der_canonical(CMS_ContentInfo *cms, const uint8_t *der, size_t der_len, const uint8_t *attrs,
                     size_t attrs_len)
{
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	STACK_OF(X509_ATTRIBUTE) *sk = sk_X509_ATTRIBUTE_new_null();
	unsigned char *again = NULL, *set = NULL;
	int n, i;

	assert_int_equal(n = i2d_CMS_ContentInfo(cms, &again), (int)der_len);
	assert_memory_equal(again, der, der_len);
	for (i = 0; i < CMS_signed_get_attr_count(si); i++)
		assert_true(sk_X509_ATTRIBUTE_push(sk, CMS_signed_get_attr(si, i)) > 0);
	assert_int_equal(i, 4);
	n = ASN1_item_i2d((const ASN1_VALUE *)sk, &set, ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
	assert_int_equal(n, (int)attrs_len);
	assert_memory_equal(set, attrs, attrs_len);
	OPENSSL_free(again);
	OPENSSL_free(set);
	sk_X509_ATTRIBUTE_free(sk); /* the attributes stay the SignerInfo's */
}

/* The attribute values as OpenSSL reads them: content-type id-data, the document digest, the
 * signing time in the type RFC 5652 11.3 gives its year, one ESSCertIDv2. */
static void
assert_attr_values(CMS_SignerInfo *si, const uint8_t *digest, size_t dlen, time_t when)
{
	const ASN1_OCTET_STRING *md = CMS_signed_get0_data_by_OBJ(
	        si, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING);
	const ASN1_OBJECT *ct = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType),
	                                                    -3, V_ASN1_OBJECT);
	bool utc = when >= -631152000 && when < 2524608000; /* 1950-01-01 .. 2050-01-01 */
	const ASN1_TIME *st =
	        CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_signingTime), -3,
	                                    utc ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME);

	assert_non_null(md);
	assert_int_equal(ASN1_STRING_length(md), (int)dlen);
	assert_memory_equal(ASN1_STRING_get0_data(md), digest, dlen);
	assert_non_null(ct);
	assert_int_equal(OBJ_obj2nid(ct), NID_pkcs7_data);
	assert_non_null(st);
	assert_int_equal(ASN1_TIME_cmp_time_t(st, when), 0);
	assert_non_null(CMS_signed_get0_data_by_OBJ(
	        si, OBJ_nid2obj(NID_id_smime_aa_signingCertificateV2), -3, V_ASN1_SEQUENCE));
}

static void
check_case(const struct signer_case *c, const EVP_MD *md, time_t when)
{
	uint8_t digest[64], tbs[GW_CMS_DIGEST_MAX], tbs2[GW_CMS_DIGEST_MAX], sig[512];
	uint8_t *der = NULL, *attrs = NULL;
	size_t tbs_len = 0, tbs2_len = 0, sig_len, der_len = 0, attrs_len = 0;
	unsigned int dlen = 0;
	struct gw_cms_prep *p = NULL;
	STACK_OF(X509) *extra = sk_X509_new_null();
	X509_STORE *st = X509_STORE_new();
	BIO *content = BIO_new_mem_buf(doc, (int)strlen(doc));
	CMS_ContentInfo *cms;
	STACK_OF(X509) * certs;
	const unsigned char *q;
	int rc;

	assert_true(extra != NULL && st != NULL && content != NULL);
	if (c->intermediate)
		assert_true(sk_X509_push(extra, ca) > 0);
	assert_int_equal(EVP_Digest(doc, strlen(doc), digest, &dlen, md, NULL), 1);
	assert_int_equal(
	        gw_cms_prepare(c->cert, extra, digest, dlen, when, &p, tbs, sizeof(tbs), &tbs_len),
	        GW_CMS_OK);
	assert_int_equal(gw_cms_attrs(c->cert, digest, dlen, when, &attrs, &attrs_len, tbs2,
	                              sizeof(tbs2), &tbs2_len),
	                 GW_CMS_OK);
	assert_int_equal(tbs_len, tbs2_len);
	assert_memory_equal(tbs, tbs2, tbs_len);
	assert_int_equal(attrs[0], 0x31);
	sig_len = fx_sign(c->key, c->how, md, tbs, tbs_len, sig, sizeof(sig));
	assert_int_equal(gw_cms_finish(p, c->scheme, sig, sig_len, &der, &der_len), GW_CMS_OK);
	q = der;
	assert_non_null(cms = d2i_CMS_ContentInfo(NULL, &q, (long)der_len));
	assert_ptr_equal(q, der + der_len);
	assert_int_equal(X509_STORE_add_cert(st, root), 1);
	rc = CMS_verify(cms, NULL, st, content, NULL, CMS_BINARY | CMS_DETACHED);
	if (rc != 1)
		ERR_print_errors_fp(stderr);
	assert_int_equal(rc, 1);
	certs = CMS_get1_certs(cms);
	assert_int_equal(sk_X509_num(certs), c->intermediate ? 2 : 1);
	sk_X509_pop_free(certs, X509_free);
	assert_attr_values(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), digest, dlen,
	                   when);
	assert_der_canonical(cms, der, der_len, attrs, attrs_len);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(der);
	OPENSSL_free(attrs);
	gw_cms_prep_free(p);
	sk_X509_free(extra);
	BIO_free(content);
	X509_STORE_free(st);
}

/* RSA and P-256 signers, with and without an intermediate, SHA-256 and SHA-384, now and in
 * 2052 (GeneralizedTime): each CMS verifies with OpenSSL and its DER is canonical. */
static void
test_cms_matrix(void **state)
{
	const struct signer_case cases[] = {
		{ rsa_leaf, rsa_k, "pkcs1", GW_SIG_RSA_PKCS1, true },
		{ rsa_direct, rsa_k, "pkcs1", GW_SIG_RSA_PKCS1, false },
		{ ec_leaf, ec_k, "ecdsa-raw", GW_SIG_ECDSA, true },
		{ ec_direct, ec_k, "ecdsa-raw", GW_SIG_ECDSA, false },
	};
	const time_t times[] = { now, 2600000000 /* 2052-05-22 */ };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
			check_case(&cases[i], EVP_sha256(), times[t]);
			check_case(&cases[i], EVP_sha384(), times[t]);
		}
}

/* What the engine does: only the attributes' DER is kept while the device works, the CMS is
 * assembled around them at the answer; the same CMS as in one go (RSA PKCS#1 v1.5 signatures
 * are deterministic). Anything but a DER SET OF is refused. */
static void
test_cms_from_attrs(void **state)
{
	uint8_t digest[48], tbs[GW_CMS_DIGEST_MAX], sig[512], *attrs = NULL, *d2;
	size_t tbs_len = 0, attrs_len = 0, sig_len, n2 = 0, len = 0;
	unsigned int dlen = 0;
	struct gw_cms_prep *p1 = NULL, *p2 = NULL;
	STACK_OF(X509) *extra = sk_X509_new_null();
	const uint8_t *again;

	(void)state;
	assert_true(sk_X509_push(extra, ca) > 0);
	assert_int_equal(EVP_Digest(doc, strlen(doc), digest, &dlen, EVP_sha384(), NULL), 1);
	assert_int_equal(gw_cms_attrs(rsa_leaf, digest, dlen, now, &attrs, &attrs_len, tbs,
	                              sizeof(tbs), &tbs_len),
	                 GW_CMS_OK);
	assert_int_equal(gw_cms_prepare_from_attrs(rsa_leaf, extra, attrs, attrs_len, dlen, &p1),
	                 GW_CMS_OK);
	again = gw_cms_prep_tbs(p1, &len);
	assert_int_equal(len, tbs_len);
	assert_memory_equal(again, tbs, len);
	assert_int_equal(
	        gw_cms_prepare(rsa_leaf, extra, digest, dlen, now, &p2, tbs, sizeof(tbs), &tbs_len),
	        GW_CMS_OK);
	sig_len = fx_sign(rsa_k, "pkcs1", EVP_sha384(), tbs, tbs_len, sig, sizeof(sig));
	d2 = finish_both_same(p1, p2, GW_SIG_RSA_PKCS1, sig, sig_len, &n2);
	gw_cms_prep_free(p1);
	p1 = NULL;
	attrs[0] = 0xA0;
	assert_int_equal(gw_cms_prepare_from_attrs(rsa_leaf, extra, attrs, attrs_len, dlen, &p1),
	                 GW_CMS_E_INPUT);
	assert_int_equal(gw_cms_prepare_from_attrs(rsa_leaf, extra, attrs, attrs_len, 20, &p1),
	                 GW_CMS_E_INPUT);
	assert_null(p1);
	OPENSSL_free(attrs);
	OPENSSL_free(d2);
	gw_cms_prep_free(p2);
	sk_X509_free(extra);
}

/* The writer's length forms (X.690 8.1.3: short below 128, then the fewest octets) and a value
 * that does not fit: ok turns false and nothing more is written. */
static void
test_der_writer(void **state)
{
	static const uint8_t zeros[300];
	uint8_t buf[320];
	struct gw_der d = { .buf = buf, .pos = sizeof(buf), .ok = true };
	size_t end;

	(void)state;
	assert_int_equal(gw_der_header_len(0x7F), 2);
	assert_int_equal(gw_der_header_len(0x80), 3);
	assert_int_equal(gw_der_header_len(0xFF), 3);
	assert_int_equal(gw_der_header_len(0x100), 4);
	gw_der_prim(&d, GW_DER_OCTET_STRING, zeros, 0x80);
	assert_true(d.ok);
	assert_int_equal(d.pos, sizeof(buf) - 0x80 - 3);
	assert_memory_equal(buf + d.pos, ((const uint8_t[]){ 0x04, 0x81, 0x80 }), 3);
	end = d.pos;
	gw_der_small_int(&d, 1);
	gw_der_close(&d, GW_DER_SEQUENCE, end);
	assert_memory_equal(buf + d.pos, ((const uint8_t[]){ 0x30, 0x03, 0x02, 0x01, 0x01 }), 5);
	d = (struct gw_der){ .buf = buf, .pos = sizeof(buf), .ok = true };
	gw_der_prim(&d, GW_DER_OCTET_STRING, zeros, 0x100);
	assert_memory_equal(buf + d.pos, ((const uint8_t[]){ 0x04, 0x82, 0x01, 0x00 }), 4);
	end = d.pos;
	gw_der_prim(&d, GW_DER_OCTET_STRING, zeros, 0x100);
	assert_false(d.ok);
	assert_int_equal(d.pos, end);
	gw_der_small_int(&d, 1);
	assert_int_equal(d.pos, end);
}

static void
test_cms_inputs(void **state)
{
	uint8_t d[20] = { 0 }, tbs[GW_CMS_DIGEST_MAX];
	struct gw_cms_prep *p = NULL;
	size_t n;

	(void)state;
	assert_int_equal(gw_cms_prepare(ec_leaf, NULL, d, sizeof(d), now, &p, tbs, sizeof(tbs), &n),
	                 GW_CMS_E_INPUT);
	assert_int_equal(gw_cms_prepare(NULL, NULL, d, 32, now, &p, tbs, sizeof(tbs), &n),
	                 GW_CMS_E_INPUT);
	assert_null(p);
}

static void
test_digestinfo(void **state)
{
	static const uint8_t sha256_prefix[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
		                                 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
		                                 0x01, 0x05, 0x00, 0x04, 0x20 };
	static const uint8_t sha384_prefix[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60,
		                                 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
		                                 0x02, 0x05, 0x00, 0x04, 0x30 };
	static const uint8_t sha512_prefix[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60,
		                                 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
		                                 0x03, 0x05, 0x00, 0x04, 0x40 };
	uint8_t digest[64], *der = NULL;
	size_t len = 0, i;

	(void)state;
	for (i = 0; i < sizeof(digest); i++)
		digest[i] = (uint8_t)(0xA0 + i);
	assert_int_equal(gw_cms_digestinfo(digest, 32, &der, &len), GW_CMS_OK);
	assert_int_equal(len, sizeof(sha256_prefix) + 32);
	assert_memory_equal(der, sha256_prefix, sizeof(sha256_prefix));
	assert_memory_equal(der + sizeof(sha256_prefix), digest, 32);
	OPENSSL_free(der);
	assert_int_equal(gw_cms_digestinfo(digest, 48, &der, &len), GW_CMS_OK);
	assert_int_equal(len, sizeof(sha384_prefix) + 48);
	assert_memory_equal(der, sha384_prefix, sizeof(sha384_prefix));
	OPENSSL_free(der);
	assert_int_equal(gw_cms_digestinfo(digest, 64, &der, &len), GW_CMS_OK);
	assert_int_equal(len, sizeof(sha512_prefix) + 64);
	assert_memory_equal(der, sha512_prefix, sizeof(sha512_prefix));
	assert_memory_equal(der + sizeof(sha512_prefix), digest, 64);
	OPENSSL_free(der);
	assert_int_equal(gw_cms_digestinfo(digest, 20, &der, &len), GW_CMS_E_INPUT);
}

/* A PKCS#1 signature over the DigestInfo verifies as an RSA PKCS#1 v1.5 signature of the
 * digest: what `format: pkcs1` returns is checkable with the certificate alone. */
static void
test_digestinfo_signature(void **state)
{
	uint8_t digest[32], *di = NULL, sig[256];
	unsigned int dlen = 0;
	size_t di_len = 0, sig_len = sizeof(sig);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa_k, NULL);

	(void)state;
	assert_int_equal(EVP_Digest(doc, strlen(doc), digest, &dlen, EVP_sha256(), NULL), 1);
	assert_int_equal(gw_cms_digestinfo(digest, dlen, &di, &di_len), GW_CMS_OK);
	/* A raw RSA signer (the SIM) pads the DigestInfo bytes with no hash of its own. */
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, sig, &sig_len, di, di_len), 1);
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PKCS1, NID_sha256,
	                                  digest, dlen, sig, sig_len),
	                 GW_VFY_OK);
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(di);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cms_ecdsa),
		cmocka_unit_test(test_cms_rsa),
		cmocka_unit_test(test_cms_other_document_fails),
		cmocka_unit_test(test_cms_bad_signature),
		cmocka_unit_test(test_cms_rebuilt_same_attributes),
		cmocka_unit_test(test_cms_matrix),
		cmocka_unit_test(test_cms_from_attrs),
		cmocka_unit_test(test_der_writer),
		cmocka_unit_test(test_cms_inputs),
		cmocka_unit_test(test_digestinfo),
		cmocka_unit_test(test_digestinfo_signature),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
