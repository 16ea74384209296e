/* gw_cms.h -- what the device signs and what the AP gets back (PROTOCOL.md section 4.1
 * `format`; REGULATION.md D4: v1 CMS embeds signing-time, D15).
 *
 * format "cms" (CAdES-BES shaped, detached):
 *   1. gw_cms_prepare(cert, doc_digest, signing_time) builds the signed attributes
 *      (content-type id-data, message-digest = the document digest, signing-time,
 *      signingCertificateV2) and gives the digest of their DER SET OF: that digest is what
 *      the device signs (same hash as the document digest).
 *   2. gw_cms_finish(prep, raw signature) checks the signature against the certificate, puts
 *      it into the SignerInfo (ECDSA r||s becomes DER) and returns the DER ContentInfo of a
 *      detached SignedData that `openssl cms -verify -binary -content DOC -CAfile ROOT` accepts.
 *   A caller that must stay small while the device works (the transaction engine, PERFORMANCE.md
 *   G2/G5) keeps only the attributes' DER from gw_cms_attrs and makes the prep from them at the
 *   answer with gw_cms_prepare_from_attrs: nothing is encoded twice.
 * Everything is written directly in DER (SET OF sorted, X.690 11.6); the attributes and
 * algorithm identifiers are those OpenSSL's CMS_sign with CMS_CADES gives (docs/verification.md).
 * format "pkcs1": gw_cms_digestinfo() gives the DER DigestInfo of the document digest, what an
 *   RSA device signs with PKCS#1 v1.5; the raw signature goes back to the AP as is.
 *
 * Pure: no I/O, any thread on its own objects. Memory returned is OPENSSL_malloc'ed.
 */
#ifndef GW_CMS_H
#define GW_CMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "gw_verify.h"

#define GW_CMS_DIGEST_MAX 64

enum gw_cms_err {
	GW_CMS_OK = 0,
	GW_CMS_E_INPUT = 1,     /* digest length not 32/48/64, missing certificate */
	GW_CMS_E_KEY = 2,       /* key type other than RSA or EC */
	GW_CMS_E_SIGNATURE = 3, /* the raw signature does not verify over the attributes (503) */
	GW_CMS_E_CRYPTO = 4,    /* OpenSSL failed (out of memory) */
};
const char *gw_cms_strerror(enum gw_cms_err e);

struct gw_cms_prep;

/* cert (the signer's) and extra (e.g. the issuing CA, so that a verifier holding only the
 * root builds the path; may be NULL) go into the SignedData's certificates. On GW_CMS_OK *out
 * owns the prepared SignedData, and tbs/tbs_len hold the digest the device must sign
 * (tbs_cap >= GW_CMS_DIGEST_MAX). */
enum gw_cms_err gw_cms_prepare(X509 *cert, STACK_OF(X509) * extra, const uint8_t *doc_digest,
                               size_t digest_len, time_t signing_time, struct gw_cms_prep **out,
                               uint8_t *tbs, size_t tbs_cap, size_t *tbs_len);

/* Step 1 alone: the signed attributes as their DER SET OF (tag 0x31; *attrs exact size,
 * OPENSSL_malloc'ed, the caller's) and the digest over it, what the device signs. */
enum gw_cms_err gw_cms_attrs(X509 *cert, const uint8_t *doc_digest, size_t digest_len,
                             time_t signing_time, uint8_t **attrs, size_t *attrs_len, uint8_t *tbs,
                             size_t tbs_cap, size_t *tbs_len);
/* The prep of gw_cms_prepare from attributes gw_cms_attrs gave (copied; digest_len names the
 * hash as it did there): gw_cms_prep_tbs is their digest again, for the caller to compare with
 * what the device was given. */
enum gw_cms_err gw_cms_prepare_from_attrs(X509 *cert, STACK_OF(X509) * extra, const uint8_t *attrs,
                                          size_t attrs_len, size_t digest_len,
                                          struct gw_cms_prep **out);

/* The digest to sign again (e.g. after a restart reloaded the transaction it belongs to). */
const uint8_t *gw_cms_prep_tbs(const struct gw_cms_prep *p, size_t *len);

/* scheme as the device signed (RSA PKCS#1 v1.5 or ECDSA; PSS is refused: the SignerInfo says
 * rsaEncryption). On GW_CMS_OK *der is the ContentInfo. prep stays the caller's. */
enum gw_cms_err gw_cms_finish(struct gw_cms_prep *p, enum gw_vfy_scheme scheme, const uint8_t *sig,
                              size_t sig_len, uint8_t **der, size_t *der_len);
/* The same without checking the signature again: only for a caller that has just verified sig
 * over exactly gw_cms_prep_tbs() with the certificate's key and the same scheme (the
 * transaction engine after gw_verifier_check; PERFORMANCE.md G2: one verification each). */
enum gw_cms_err gw_cms_finish_verified(struct gw_cms_prep *p, enum gw_vfy_scheme scheme,
                                       const uint8_t *sig, size_t sig_len, uint8_t **der,
                                       size_t *der_len);

void gw_cms_prep_free(struct gw_cms_prep *p);

/* DER DigestInfo (RFC 8017 9.2) of digest; hash from its length. */
enum gw_cms_err gw_cms_digestinfo(const uint8_t *digest, size_t digest_len, uint8_t **der,
                                  size_t *der_len);

#endif
