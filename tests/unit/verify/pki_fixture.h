/* pki_fixture.h -- certificates, OCSP responses and CRLs made in memory with the OpenSSL API,
 * for the verification tests (no files, no network). */
#ifndef PKI_FIXTURE_H
#define PKI_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

enum fx_flags {
	FX_CA = 1 << 0,
	FX_OCSP_SIGN = 1 << 1, /* EKU OCSPSigning */
	FX_NO_KU = 1 << 2,     /* no keyUsage extension */
	FX_KU_ENC = 1 << 3,    /* keyUsage keyEncipherment only */
	FX_SHA1 = 1 << 4,      /* signed with SHA-1 */
};

/* "ec" (P-256), "ec-p224", "rsa2048", "rsa1024" */
EVP_PKEY *fx_key(const char *alg);

/* A certificate for key signed by ikey (issuer NULL: self-signed), valid [nb, na]. AIA OCSP
 * and CDP URLs when not NULL. */
X509 *fx_cert(X509 *issuer, EVP_PKEY *ikey, EVP_PKEY *key, const char *cn, time_t nb, time_t na,
              unsigned flags, const char *ocsp_url, const char *crl_url);

/* A DER OCSP response about cert, signed by signer/skey; status V_OCSP_CERTSTATUS_*; next 0:
 * none; nonce NULL: none. OPENSSL_malloc'ed. */
uint8_t *fx_ocsp(X509 *cert, X509 *issuer, X509 *signer, EVP_PKEY *skey, int status,
                 time_t revoked_at, time_t this_upd, time_t next_upd, const uint8_t *nonce,
                 size_t nonce_len, size_t *len);

/* A DER CRL by issuer listing revoked (may be NULL). */
uint8_t *fx_crl(X509 *issuer, EVP_PKEY *ikey, X509 *revoked, time_t last, time_t next, size_t *len);

/* A signature by key over digest: "pkcs1", "pss", "ecdsa-raw" (r||s) or "ecdsa-der". */
size_t fx_sign(EVP_PKEY *key, const char *how, const EVP_MD *md, const uint8_t *digest, size_t dlen,
               uint8_t *sig, size_t cap);

#endif
