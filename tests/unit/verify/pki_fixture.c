/* pki_fixture.c -- see pki_fixture.h. Test code: failures abort the test binary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ocsp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "pki_fixture.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x)) {                                                                        \
			fprintf(stderr, "fixture: %s failed at %s:%d\n", #x, __FILE__, __LINE__);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

EVP_PKEY *
fx_key(const char *alg)
{
	EVP_PKEY *k = NULL;

	if (strcmp(alg, "ec") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(alg, "ec-p224") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224");
	else if (strcmp(alg, "rsa2048") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(alg, "rsa1024") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	CHECK(k != NULL);
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	CHECK((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) != NULL);
	CHECK(X509_add_ext(x, e, -1) == 1);
	X509_EXTENSION_free(e);
}

X509 *
fx_cert(X509 *issuer, EVP_PKEY *ikey, EVP_PKEY *key, const char *cn, time_t nb, time_t na,
        unsigned flags, const char *ocsp_url, const char *crl_url)
{
	static long serial = 1000;
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	char buf[600];

	CHECK(x != NULL && n != NULL);
	CHECK(X509_set_version(x, 2) == 1);
	CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial) == 1);
	CHECK(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	                                 0) == 1);
	CHECK(X509_set_subject_name(x, n) == 1);
	CHECK(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n) == 1);
	CHECK(X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &nb) != NULL);
	CHECK(X509_time_adj_ex(X509_getm_notAfter(x), 0, 0, &na) != NULL);
	CHECK(X509_set_pubkey(x, key) == 1);
	add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	if (flags & FX_CA) {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		if (flags & FX_OCSP_SIGN) {
			add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
			add_ext(x, issuer, NID_ext_key_usage, "OCSPSigning");
		} else if (flags & FX_KU_ENC) {
			add_ext(x, issuer, NID_key_usage, "critical,keyEncipherment");
		} else if (!(flags & FX_NO_KU)) {
			add_ext(x, issuer, NID_key_usage,
			        "critical,digitalSignature,nonRepudiation");
		}
	}
	if (ocsp_url != NULL) {
		snprintf(buf, sizeof(buf), "OCSP;URI:%s", ocsp_url);
		add_ext(x, issuer, NID_info_access, buf);
	}
	if (crl_url != NULL) {
		snprintf(buf, sizeof(buf), "URI:%s", crl_url);
		add_ext(x, issuer, NID_crl_distribution_points, buf);
	}
	CHECK(X509_sign(x, ikey, (flags & FX_SHA1) ? EVP_sha1() : EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

uint8_t *
fx_ocsp(X509 *cert, X509 *issuer, X509 *signer, EVP_PKEY *skey, int status, time_t revoked_at,
        time_t this_upd, time_t next_upd, const uint8_t *nonce, size_t nonce_len, size_t *len)
{
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
	ASN1_TIME *tu = ASN1_GENERALIZEDTIME_set(NULL, this_upd);
	ASN1_TIME *nu = next_upd != 0 ? ASN1_GENERALIZEDTIME_set(NULL, next_upd) : NULL;
	ASN1_TIME *rt = ASN1_GENERALIZEDTIME_set(NULL, revoked_at);
	STACK_OF(X509) *certs = sk_X509_new_null();
	OCSP_RESPONSE *resp;
	unsigned char *der = NULL;
	int n;

	CHECK(bs != NULL && id != NULL && tu != NULL && rt != NULL && certs != NULL);
	CHECK(OCSP_basic_add1_status(
	              bs, id, status,
	              status == V_OCSP_CERTSTATUS_REVOKED ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : 0,
	              status == V_OCSP_CERTSTATUS_REVOKED ? rt : NULL, tu, nu) != NULL);
	if (nonce != NULL)
		CHECK(OCSP_basic_add1_nonce(bs, (unsigned char *)(uintptr_t)nonce,
		                            (int)nonce_len) == 1);
	CHECK(sk_X509_push(certs, signer));
	CHECK(OCSP_basic_sign(bs, signer, skey, EVP_sha256(), certs, 0) == 1);
	CHECK((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) != NULL);
	CHECK((n = i2d_OCSP_RESPONSE(resp, &der)) > 0);
	*len = (size_t)n;
	sk_X509_free(certs);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	OCSP_CERTID_free(id);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_TIME_free(rt);
	return der;
}

uint8_t *
fx_crl(X509 *issuer, EVP_PKEY *ikey, X509 *revoked, time_t last, time_t next, size_t *len)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t1 = ASN1_TIME_set(NULL, last), *t2 = ASN1_TIME_set(NULL, next);
	unsigned char *der = NULL;
	int n;

	CHECK(crl != NULL && t1 != NULL && t2 != NULL);
	CHECK(X509_CRL_set_version(crl, 1) == 1);
	CHECK(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1);
	CHECK(X509_CRL_set1_lastUpdate(crl, t1) == 1 && X509_CRL_set1_nextUpdate(crl, t2) == 1);
	if (revoked != NULL) {
		X509_REVOKED *r = X509_REVOKED_new();

		CHECK(r != NULL);
		CHECK(X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)) == 1);
		CHECK(X509_REVOKED_set_revocationDate(r, t1) == 1);
		CHECK(X509_CRL_add0_revoked(crl, r) == 1);
	}
	CHECK(X509_CRL_sort(crl) == 1);
	CHECK(X509_CRL_sign(crl, ikey, EVP_sha256()) > 0);
	CHECK((n = i2d_X509_CRL(crl, &der)) > 0);
	*len = (size_t)n;
	X509_CRL_free(crl);
	ASN1_TIME_free(t1);
	ASN1_TIME_free(t2);
	return der;
}

size_t
fx_sign(EVP_PKEY *key, const char *how, const EVP_MD *md, const uint8_t *digest, size_t dlen,
        uint8_t *sig, size_t cap)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	unsigned char der[256];
	size_t n = sizeof(der);

	CHECK(ctx != NULL && EVP_PKEY_sign_init(ctx) == 1);
	CHECK(EVP_PKEY_CTX_set_signature_md(ctx, md) == 1);
	if (strcmp(how, "pss") == 0) {
		CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1);
		CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) == 1);
	} else if (strcmp(how, "pkcs1") == 0) {
		CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
	}
	if (strcmp(how, "ecdsa-raw") == 0) {
		const unsigned char *p = der;
		ECDSA_SIG *es;
		size_t half = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;

		CHECK(EVP_PKEY_sign(ctx, der, &n, digest, dlen) == 1);
		CHECK((es = d2i_ECDSA_SIG(NULL, &p, (long)n)) != NULL && cap >= 2 * half);
		CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)half) == (int)half);
		CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, (int)half) == (int)half);
		ECDSA_SIG_free(es);
		EVP_PKEY_CTX_free(ctx);
		return 2 * half;
	}
	n = cap;
	CHECK(EVP_PKEY_sign(ctx, sig, &n, digest, dlen) == 1);
	EVP_PKEY_CTX_free(ctx);
	return n;
}
