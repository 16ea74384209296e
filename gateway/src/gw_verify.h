/* gw_verify.h -- verification of what a device signed, with OpenSSL 3 (REGULATION.md section 6,
 * D1-D3, D10; PROTOCOL.md section 5).
 *
 * What the transaction engine calls:
 *
 *   Start:   gw_trust_new() from the configuration (trust.anchors, trust.intermediates), then
 *            gw_verifier_new() on the loop with a gw_httpc client and the revocation settings.
 *   Before dispatch (D1, D2): gw_verifier_precheck(v, cert, now, done, arg). The result's
 *            reason says whether the request may go to the device: GW_VFY_OK, or a refusal
 *            (425 chain/validity/usage, 501 revoked, 505 algorithm); GW_VFY_STATUS_UNKNOWN is a
 *            warning for `approve` and a refusal for org-seal modes (D3: the caller decides,
 *            policy's block_on_status_unknown).
 *   After the device answered: gw_verifier_check(v, cert, sig, digest, signed_at, done, arg):
 *            the raw signature against the certificate's key, the chain, validity at the
 *            signing time, algorithm minimums and revocation. gw_vfy_wire() turns the result
 *            into the status code of the `result` event: 502 valid, 503 bad signature,
 *            501 revoked, 425 certificate, 505 algorithm, 500 + revocation "unknown" (never 502
 *            when the status is unobtainable).
 *
 * Everything except gw_verifier_* is pure (no loop, no I/O) and any thread may call it on its
 * own objects; the gw_verifier_* functions and their callbacks run on the loop thread. The
 * OCSP and CRL parsers take peer bytes: they are bounded (GW_REV_*_MAX) and fuzzed.
 *
 * Ownership: X509 and EVP_PKEY pointers passed in stay the caller's (they are up-referenced
 * when kept); a gw_trust is read-only once built and must outlive the verifier using it.
 */
#ifndef GW_VERIFY_H
#define GW_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define GW_REV_OCSP_MAX   (64u * 1024u)        /* largest OCSP response accepted, bytes */
#define GW_REV_CRL_MAX    (4u * 1024u * 1024u) /* largest CRL accepted, bytes */
#define GW_REV_URL_MAX    512                  /* longest AIA / CDP URL used */
#define GW_VFY_NONCE_LEN  16                   /* OCSP nonce bytes (RFC 8954: 1..32) */
#define GW_VFY_DETAIL_MAX 160

/* Outcome of one check, named as REGULATION.md section 6 names them. Append only. */
enum gw_vfy_reason {
	GW_VFY_OK = 0,
	GW_VFY_SIGNATURE_INVALID = 1,      /* 503 after signing */
	GW_VFY_UNTRUSTED_ROOT = 2,         /* 425 */
	GW_VFY_INVALID_CERT_CHAIN = 3,     /* 425 */
	GW_VFY_CERT_EXPIRED = 4,           /* 425 */
	GW_VFY_CERT_NOT_YET_VALID = 5,     /* 425 */
	GW_VFY_CERT_USAGE_NOT_ALLOWED = 6, /* 425 */
	GW_VFY_CERT_IS_REVOKED = 7,        /* 501 */
	GW_VFY_CA_CERT_IS_REVOKED = 8,     /* 501 */
	GW_VFY_ALGORITHM_NOT_ALLOWED = 9,  /* 505 (D10) */
	GW_VFY_STATUS_UNKNOWN = 10,        /* 500, revocation "unknown", warning (D3) */
	GW_VFY_UNSUPPORTED_HASH = 11,      /* 900/9007 */
	GW_VFY_UNSUPPORTED_KEY = 12,       /* 900/9008 */
	GW_VFY_BAD_INPUT = 13,             /* 101/1011: digest length, empty signature */
	GW_VFY_INTERNAL = 14,              /* 900/9001: out of memory, OpenSSL failure */
};

/* Why the revocation status could not be obtained (REGULATION.md section 6 step 6). */
enum gw_rev_cause {
	GW_REV_CAUSE_NONE = 0,
	GW_REV_OCSP_RESP_UNKNOWN = 1,        /* the responder answered "unknown" */
	GW_REV_COULDNOT_DOWNLOAD_CRL = 2,    /* no CRL could be fetched */
	GW_REV_INVALID_CRL = 3,              /* bad signature, stale, unparsable */
	GW_REV_INVALID_CRL_DIST_POINTS = 4,  /* no usable CDP and no usable OCSP */
	GW_REV_ONLINE_CHECKING_DISABLED = 5, /* revocation.check is off */
	GW_REV_OCSP_UNREACHABLE = 6,         /* transport failure, HTTP error (then CRL) */
	GW_REV_OCSP_INVALID = 7,             /* malformed, not successful, wrong cert id */
	GW_REV_OCSP_BAD_SIGNATURE = 8,       /* responder not authorised or signature bad */
	GW_REV_OCSP_STALE = 9,               /* thisUpdate/nextUpdate outside the window */
	GW_REV_OCSP_NONCE_MISMATCH = 10,     /* the nonce differs from the request's */
};

enum gw_rev_status {
	GW_REV_GOOD = 0,
	GW_REV_REVOKED = 1,
	GW_REV_UNKNOWN = 2, /* unobtainable: never counts as good */
};

enum gw_rev_source {
	GW_REV_SRC_NONE = 0,
	GW_REV_SRC_OCSP = 1,
	GW_REV_SRC_CRL = 2,
	GW_REV_SRC_CACHE_OCSP = 3,
	GW_REV_SRC_CACHE_CRL = 4,
};

struct gw_rev_result {
	enum gw_rev_status status;
	enum gw_rev_cause cause; /* with GW_REV_UNKNOWN; the OCSP cause when CRL also failed is
	                            kept in ocsp_cause */
	enum gw_rev_cause ocsp_cause;
	enum gw_rev_source source;
	time_t this_update, next_update; /* 0: absent */
	time_t produced_at;              /* OCSP producedAt; from a CRL its thisUpdate; 0: absent */
	time_t revoked_at;               /* GW_REV_REVOKED */
	int crl_reason;                  /* GW_REV_REVOKED: CRLReason, -1 when absent */
};

/* Verification settings (gateway configuration "revocation.*"). */
struct gw_rev_opts {
	bool check;          /* revocation.check: false gives GW_REV_ONLINE_CHECKING_DISABLED */
	bool crl_fallback;   /* revocation.crl: try the CDP when OCSP gives no answer */
	unsigned timeout_ms; /* one HTTP fetch */
	long skew_s;         /* leeway on thisUpdate / nextUpdate */
	long max_age_s;      /* oldest thisUpdate accepted from a response without nextUpdate */
	int cache_entries;   /* OCSP answers kept (until their nextUpdate) */
};

/* CA certificates a result can name between the end entity and its anchor. */
#define GW_VFY_CHAIN_MAX 2

/* Each result: the reason, the revocation outcome when it was asked, the CA certificates the
 * path went through (issuer first, the anchor itself left out: the relying party holds it;
 * borrowed, valid during the done callback only) and a short text for logs (never key
 * material). */
struct gw_vfy_result {
	enum gw_vfy_reason reason;
	struct gw_rev_result rev;
	bool rev_checked;
	X509 *chain[GW_VFY_CHAIN_MAX];
	int chain_len;
	bool sig_ok; /* gw_verifier_check: the signature itself verified (step 2) */
	char detail[GW_VFY_DETAIL_MAX];
};

/* How the device signed. */
enum gw_vfy_scheme {
	GW_SIG_RSA_PKCS1 = 1, /* RSASSA-PKCS1-v1_5 over the DigestInfo of the digest */
	GW_SIG_RSA_PSS = 2,   /* RSASSA-PSS, MGF1 with the same hash, salt = hash length */
	GW_SIG_ECDSA = 3,     /* r||s (each the curve's size) or a DER ECDSA-Sig-Value */
};

/* PROTOCOL.md section 5 status of a result. after_signing: the result of gw_verifier_check
 * (VALID -> 502); otherwise a pre-dispatch refusal (GW_VFY_OK -> 100). */
struct gw_vfy_wire {
	int code, sub;
	const char *name;   /* "VALID_SIGNATURE", ... */
	const char *reason; /* REGULATION.md section 6 name: "CERT_IS_REVOKED", ... */
	bool warning;       /* status unknown: carries revocation "unknown" and a warning */
};
struct gw_vfy_wire gw_vfy_wire(enum gw_vfy_reason r, bool after_signing);
const char *gw_vfy_reason_name(enum gw_vfy_reason r);
const char *gw_rev_cause_name(enum gw_rev_cause c);
const char *gw_rev_status_name(enum gw_rev_status s); /* "good", "revoked", "unknown" */

/* ---- pure parts ------------------------------------------------------------------------ */

/* Hashes verification accepts for a digest of len bytes (D10: SHA-256, -384, -512; the
 * device's digest length picks it). NID_undef when none. */
int gw_vfy_md_for_len(size_t digest_len);
bool gw_vfy_md_allowed(int md_nid);

/* D10 minimums on a key: RSA >= 2048 bits, EC >= 256 bits. GW_VFY_OK,
 * GW_VFY_ALGORITHM_NOT_ALLOWED or GW_VFY_UNSUPPORTED_KEY. */
enum gw_vfy_reason gw_vfy_key_check(EVP_PKEY *key);

/* The raw signature over digest (already hashed with md_nid) against pub. */
enum gw_vfy_reason gw_vfy_signature(EVP_PKEY *pub, enum gw_vfy_scheme scheme, int md_nid,
                                    const uint8_t *digest, size_t digest_len, const uint8_t *sig,
                                    size_t sig_len);

/* ECDSA r||s (2 x field bytes) to a DER ECDSA-Sig-Value; *der is OPENSSL_malloc'ed. A DER
 * input is copied as is. false on a malformed input. */
bool gw_vfy_ecdsa_to_der(EVP_PKEY *pub, const uint8_t *sig, size_t sig_len, uint8_t **der,
                         size_t *der_len);

/* Trust anchors and the untrusted intermediates used to build paths. */
struct gw_trust;
/* Reads PEM files (each may hold several certificates). NULL on failure, err says which file.
 * Anchors must be CA certificates; at least one is needed. */
struct gw_trust *gw_trust_new(const char *const *anchor_files, size_t n_anchors,
                              const char *const *intermediate_files, size_t n_inter, char *err,
                              size_t errlen);
/* The same from certificates in memory (tests); up-references them. */
struct gw_trust *gw_trust_new_certs(X509 *const *anchors, size_t n_anchors,
                                    X509 *const *intermediates, size_t n_inter);
void gw_trust_free(struct gw_trust *t);

/* Path to an anchor (ND68 32), validity of every certificate at time at (ND68 31.1a), key
 * usage digitalSignature or nonRepudiation (ND68 31.1b), D10 minimums of the end-entity key and
 * of every certificate signature hash. On GW_VFY_OK and issuer != NULL, *issuer is the
 * end-entity's issuer, up-referenced (the caller frees it). detail may be NULL. */
enum gw_vfy_reason gw_vfy_cert(const struct gw_trust *t, X509 *cert, time_t at, X509 **issuer,
                               char *detail, size_t detail_len);

/* Verified paths kept by the end-entity certificate's SHA-256, each with the span of T over
 * which every certificate in it is valid; only successes are kept. Bounded: when full it is
 * emptied. gw_vfy_cert_cached is gw_vfy_cert through it; with ca_issuer != NULL it also gives
 * the issuer's issuer when the issuer is an intermediate CA (NULL when the issuer is the
 * anchor), up-referenced, so that the issuer's own revocation can be checked. */
struct gw_path_cache;
struct gw_path_cache *gw_path_cache_new(int entries);
void gw_path_cache_free(struct gw_path_cache *c);
int gw_path_cache_count(const struct gw_path_cache *c);
enum gw_vfy_reason gw_vfy_cert_cached(struct gw_path_cache *c, const struct gw_trust *t, X509 *cert,
                                      time_t at, X509 **issuer, X509 **ca_issuer, char *detail,
                                      size_t detail_len);

/* ASN1 time to time_t (UTC); false when unparsable. */
bool gw_vfy_asn1_time(const ASN1_TIME *a, time_t *out);

/* Parsed certificates shared by the SHA-256 of their exact DER bytes (gw_cert_cache.c), so that a
 * request does not decode its signer's certificate at every step. Bounded: at `entries`, the least
 * recently used quarter goes (never the one just used). gw_cert_cache_get gives the certificate of
 * der, up-referenced (the caller X509_free()s it), or NULL when der does not parse; with c NULL, or
 * der longer than GW_CERT_CACHE_DER_MAX, it just parses. Only parsed certificates are kept: nothing
 * about the credential's state or the certificate's revocation. */
#define GW_CERT_CACHE_DER_MAX (16u * 1024u)
struct gw_cert_cache;
struct gw_cert_cache *gw_cert_cache_new(int entries);
void gw_cert_cache_free(struct gw_cert_cache *c);
int gw_cert_cache_count(const struct gw_cert_cache *c);
X509 *gw_cert_cache_get(struct gw_cert_cache *c, const uint8_t *der, size_t len);

/* First http:// URL of the certificate's AIA OCSP entries / CRL distribution points; false
 * when none (or longer than GW_REV_URL_MAX - 1). */
bool gw_cert_ocsp_url(X509 *cert, char *url, size_t cap);
bool gw_cert_crl_url(X509 *cert, char *url, size_t cap);

/* OCSP request (RFC 6960) for cert issued by issuer, SHA-1 CertID (what responders index),
 * with the nonce extension. *der is OPENSSL_malloc'ed. */
bool gw_ocsp_request_der(X509 *cert, X509 *issuer, const uint8_t *nonce, size_t nonce_len,
                         uint8_t **der, size_t *der_len);

/* Checks an OCSP response for cert: successful, a basic response signed by the issuer or by a
 * responder certificate it issued with EKU OCSPSigning (RFC 6960 4.2.2.2), a SingleResponse for
 * this CertID, the nonce equal to the request's when present (nonce NULL: not checked), and
 * thisUpdate/nextUpdate fresh at now (skew_s; without nextUpdate, thisUpdate no older than
 * max_age_s). A usable answer gives GOOD, REVOKED (with time and reason) or UNKNOWN with
 * GW_REV_OCSP_RESP_UNKNOWN; any failure gives UNKNOWN with its cause. Never reads past len;
 * len above GW_REV_OCSP_MAX is refused. */
void gw_ocsp_response_check(const uint8_t *der, size_t len, X509 *cert, X509 *issuer,
                            const uint8_t *nonce, size_t nonce_len, time_t now,
                            const struct gw_rev_opts *opts, struct gw_rev_result *out);

/* Parses a CRL (DER or PEM, at most GW_REV_CRL_MAX bytes) and checks its signature by issuer
 * and its freshness at now. NULL with *cause set on failure. */
X509_CRL *gw_crl_parse(const uint8_t *data, size_t len, X509 *issuer, time_t now,
                       const struct gw_rev_opts *opts, enum gw_rev_cause *cause);
/* Looks cert up in a checked CRL: GOOD or REVOKED. */
void gw_crl_lookup(X509_CRL *crl, X509 *cert, struct gw_rev_result *out);

/* OCSP answers cached until their nextUpdate, keyed by issuer key hash and serial. Bounded:
 * when full, the entry closest to expiry is replaced. */
struct gw_rev_cache;
struct gw_rev_cache *gw_rev_cache_new(int entries);
void gw_rev_cache_free(struct gw_rev_cache *c);
/* true and *out filled when a live entry exists at now. */
bool gw_rev_cache_get(struct gw_rev_cache *c, X509 *cert, X509 *issuer, time_t now,
                      struct gw_rev_result *out);
/* Keeps r (GOOD or REVOKED with a next_update after now); others are ignored. */
void gw_rev_cache_put(struct gw_rev_cache *c, X509 *cert, X509 *issuer, time_t now,
                      const struct gw_rev_result *r);
int gw_rev_cache_count(const struct gw_rev_cache *c);

/* Combines a certificate result and a revocation result into the final reason: revoked wins
 * over everything but a bad signature, unknown gives GW_VFY_STATUS_UNKNOWN. */
enum gw_vfy_reason gw_vfy_combine(enum gw_vfy_reason cert_reason, const struct gw_rev_result *rev);

/* ---- on the loop ----------------------------------------------------------------------- */

struct gw_verifier;
struct gw_httpc;
struct uv_loop_s;

/* Called once per started check, on the loop thread. res is valid during the call only. */
typedef void gw_vfy_done_fn(void *arg, const struct gw_vfy_result *res);

/* httpc and trust stay the caller's and must outlive the verifier. NULL on out of memory. */
struct gw_verifier *gw_verifier_new(struct uv_loop_s *loop, struct gw_httpc *httpc,
                                    const struct gw_trust *trust, const struct gw_rev_opts *opts);
/* Running checks end with GW_VFY_INTERNAL ("cancelled") before the verifier is freed. */
void gw_verifier_free(struct gw_verifier *v);

/* D1/D2 before any device contact: certificate checks at now, then revocation (cache, OCSP
 * from the AIA, CRL from the CDP). 0: done is called later (never from inside this call);
 * -1: out of memory (done is not called). */
int gw_verifier_precheck(struct gw_verifier *v, X509 *cert, time_t now, gw_vfy_done_fn *done,
                         void *arg);

/* After signing: the signature (scheme, digest of md from its length), then as precheck at
 * signed_at (T = the gateway clock at signing, D15). Inputs are copied. Same return as above. */
int gw_verifier_check(struct gw_verifier *v, X509 *cert, enum gw_vfy_scheme scheme,
                      const uint8_t *digest, size_t digest_len, const uint8_t *sig, size_t sig_len,
                      time_t signed_at, gw_vfy_done_fn *done, void *arg);

/* The path of cert at T through the verifier's cache of verified paths (gw_vfy_cert_cached):
 * on GW_VFY_OK *issuer is the end-entity's issuer, up-referenced. No revocation. */
enum gw_vfy_reason gw_verifier_path(struct gw_verifier *v, X509 *cert, time_t at, X509 **issuer);

/* OCSP answers currently cached (metrics, tests). */
int gw_verifier_cached(const struct gw_verifier *v);

#endif
