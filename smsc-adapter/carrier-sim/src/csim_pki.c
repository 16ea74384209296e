/* csim_pki.c -- the SIMs' signing keys and certificates (TELECOM.md 5.2 "Test PKI"): key pairs,
 * certificates issued by the test issuing CA with an AIA OCSP URL, lines appended to the CA's
 * `openssl ca` index (revoked for profile 25), and the applet's raw signing operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "csim_int.h"

#define CERT_DAYS 730

struct csim_ca {
	X509 *cert;
	EVP_PKEY *key;
	char *index_path;
	char *ocsp_url;
	char *crl_url;
};

void
csim_ca_free(struct csim_ca *ca)
{
	if (ca == NULL)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca->index_path);
	free(ca->ocsp_url);
	free(ca->crl_url);
	free(ca);
}

enum csim_err
csim_ca_load(const char *cert_pem, const char *key_pem, const char *index_path,
             const char *ocsp_url, struct csim_ca **out)
{
	struct csim_ca *ca = calloc(1, sizeof(*ca));
	FILE *fp;

	if (ca == NULL)
		return CSIM_E_NOMEM;
	if ((fp = fopen(cert_pem, "r")) != NULL) {
		ca->cert = PEM_read_X509(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	if ((fp = fopen(key_pem, "r")) != NULL) {
		ca->key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		fclose(fp);
	}
	ca->index_path = index_path ? strdup(index_path) : NULL;
	ca->ocsp_url = ocsp_url ? strdup(ocsp_url) : NULL;
	if (ca->cert == NULL || ca->key == NULL || X509_check_private_key(ca->cert, ca->key) != 1 ||
	    (index_path && !ca->index_path) || (ocsp_url && !ca->ocsp_url)) {
		csim_ca_free(ca);
		return CSIM_E_CONFIG;
	}
	*out = ca;
	return CSIM_OK;
}

enum csim_err
csim_ca_set_crl_url(struct csim_ca *ca, const char *url)
{
	free(ca->crl_url);
	ca->crl_url = NULL;
	if (url == NULL || url[0] == '\0')
		return CSIM_OK;
	return (ca->crl_url = strdup(url)) != NULL ? CSIM_OK : CSIM_E_NOMEM;
}

static EVP_PKEY *
make_key(enum csim_key_alg alg)
{
	if (alg == CSIM_KEY_RSA2048)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static uint64_t key_generation; /* tells the key cache a new key from a reused address */

static enum csim_err
keep_key(struct csim_sim *sim, EVP_PKEY *k)
{
	unsigned char *der = NULL;
	int n = i2d_PrivateKey(k, &der);

	if (n <= 0)
		return CSIM_E_CRYPTO;
	if ((sim->key_der = malloc((size_t)n)) == NULL) {
		OPENSSL_clear_free(der, (size_t)n);
		return CSIM_E_NOMEM;
	}
	memcpy(sim->key_der, der, (size_t)n);
	sim->key_der_len = (size_t)n;
	sim->key_gen = ++key_generation;
	OPENSSL_clear_free(der, (size_t)n);
	return CSIM_OK;
}

enum csim_err
csim_keygen(struct csim_sim *sim)
{
	EVP_PKEY *k = make_key(sim->key_alg);
	enum csim_err rc;

	if (k == NULL)
		return CSIM_E_CRYPTO;
	rc = keep_key(sim, k);
	EVP_PKEY_free(k);
	return rc;
}

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

/* ASN.1 UTCTime text, YYMMDDHHMMSSZ, as `openssl ca` writes it in its index. */
static void
utc_time(time_t t, char out[16])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 16, "%02u%02u%02u%02u%02u%02uZ", (unsigned)tm.tm_year % 100u,
	         (unsigned)tm.tm_mon % 12u + 1u, (unsigned)tm.tm_mday % 32u,
	         (unsigned)tm.tm_hour % 24u, (unsigned)tm.tm_min % 60u, (unsigned)tm.tm_sec % 61u);
}

/* One `openssl ca` index line: status, expiry, revocation time, serial, file, subject. */
static void
index_append(const struct csim_ca *ca, const struct csim_sim *sim, time_t not_after, bool revoked)
{
	char exp[16], rev[16] = "";
	time_t now = time(NULL);
	FILE *fp;

	if (ca->index_path == NULL)
		return;
	utc_time(not_after, exp);
	if (revoked)
		utc_time(now, rev);
	if ((fp = fopen(ca->index_path, "a")) == NULL)
		return;
	fprintf(fp, "%s\t%s\t%s\t%s\tunknown\t/C=VN/O=kyso test SIM/CN=%s\n", revoked ? "R" : "V",
	        exp, rev, sim->cert_serial, sim->msisdn);
	fclose(fp);
}

static enum csim_err
build_cert(const struct csim_ca *ca, struct csim_sim *sim, EVP_PKEY *k, time_t *not_after)
{
	uint8_t serial[16];
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = NULL;
	char aia[600], *hex = NULL;
	unsigned char *der = NULL;
	int n = -1, ok;

	ok = x != NULL && name != NULL && RAND_bytes(serial, sizeof(serial)) == 1;
	serial[0] &= 0x7F; /* positive */
	serial[0] |= 0x10; /* no leading zero octet: the index shows 32 hex digits */
	ok = ok && (bn = BN_bin2bn(serial, sizeof(serial), NULL)) != NULL &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	     X509_set_version(x, 2) == 1 && X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), 86400L * CERT_DAYS) &&
	     X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"VN", -1,
	                                -1, 0) &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	                                (const unsigned char *)"kyso test SIM", -1, -1, 0) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                (const unsigned char *)sim->msisdn, -1, -1, 0) &&
	     X509_set_subject_name(x, name) == 1 &&
	     X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) == 1 &&
	     X509_set_pubkey(x, k) == 1 &&
	     add_ext(x, ca->cert, NID_basic_constraints, "CA:FALSE") &&
	     add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature,nonRepudiation") &&
	     add_ext(x, ca->cert, NID_subject_key_identifier, "hash") &&
	     add_ext(x, ca->cert, NID_authority_key_identifier, "keyid");
	if (ok && ca->ocsp_url != NULL) {
		snprintf(aia, sizeof(aia), "OCSP;URI:%s", ca->ocsp_url);
		ok = add_ext(x, ca->cert, NID_info_access, aia);
	}
	if (ok && ca->crl_url != NULL) {
		snprintf(aia, sizeof(aia), "URI:%s", ca->crl_url);
		ok = add_ext(x, ca->cert, NID_crl_distribution_points, aia);
	}
	ok = ok && X509_sign(x, ca->key, EVP_sha256()) > 0 && (n = i2d_X509(x, &der)) > 0 &&
	     (hex = BN_bn2hex(bn)) != NULL && (sim->cert_der = malloc((size_t)n)) != NULL;
	if (ok) {
		memcpy(sim->cert_der, der, (size_t)n);
		sim->cert_der_len = (size_t)n;
		snprintf(sim->cert_serial, sizeof(sim->cert_serial), "%s", hex);
		*not_after = time(NULL) + 86400L * CERT_DAYS;
	}
	OPENSSL_free(hex);
	OPENSSL_free(der);
	BN_free(bn);
	X509_NAME_free(name);
	X509_free(x);
	return ok ? CSIM_OK : CSIM_E_CRYPTO;
}

enum csim_err
csim_ca_issue(struct csim_ca *ca, struct csim_sim *sim, bool revoked)
{
	EVP_PKEY *k = make_key(sim->key_alg);
	enum csim_err rc;
	time_t not_after = 0;

	if (k == NULL)
		return CSIM_E_CRYPTO;
	rc = keep_key(sim, k);
	if (rc == CSIM_OK)
		rc = build_cert(ca, sim, k, &not_after);
	EVP_PKEY_free(k);
	if (rc == CSIM_OK)
		index_append(ca, sim, not_after, revoked);
	return rc;
}

/* ECDSA DER -> raw r||s, each left-padded to 32 octets (TELECOM.md 3.3 tag 22). */
static enum csim_err
ecdsa_raw(const uint8_t *der, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	const unsigned char *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int ok;

	if (es == NULL || cap < 64) {
		ECDSA_SIG_free(es);
		return CSIM_E_CRYPTO;
	}
	ECDSA_SIG_get0(es, &r, &s);
	ok = BN_bn2binpad(r, out, 32) == 32 && BN_bn2binpad(s, out + 32, 32) == 32;
	ECDSA_SIG_free(es);
	*out_len = 64;
	return ok ? CSIM_OK : CSIM_E_CRYPTO;
}

struct kc_slot {
	const struct csim_sim *sim;
	uint64_t gen; /* the SIM's key generation: a re-keyed or reused address misses */
	EVP_PKEY *key;
	EVP_PKEY_CTX *ctx; /* sign_init done once */
};

struct csim_keycache {
	struct kc_slot *slot;
	size_t n;
};

enum csim_err
csim_keycache_new(size_t slots, struct csim_keycache **out)
{
	struct csim_keycache *kc = calloc(1, sizeof(*kc));

	if (kc == NULL || (kc->slot = calloc(slots, sizeof(*kc->slot))) == NULL) {
		free(kc);
		return CSIM_E_NOMEM;
	}
	kc->n = slots;
	*out = kc;
	return CSIM_OK;
}

static void
slot_clear(struct kc_slot *s)
{
	EVP_PKEY_CTX_free(s->ctx);
	EVP_PKEY_free(s->key);
	memset(s, 0, sizeof(*s));
}

void
csim_keycache_free(struct csim_keycache *kc)
{
	size_t i;

	if (kc == NULL)
		return;
	for (i = 0; i < kc->n; i++)
		slot_clear(&kc->slot[i]);
	free(kc->slot);
	free(kc);
}

static struct kc_slot *
slot_of(struct csim_keycache *kc, const struct csim_sim *sim)
{
	uintptr_t h = (uintptr_t)sim;

	h ^= h >> 17;
	h *= 0x9E3779B97F4A7C15ull;
	return &kc->slot[(h >> 20) % kc->n];
}

void
csim_keycache_forget(struct csim_keycache *kc, const struct csim_sim *sim)
{
	struct kc_slot *s;

	if (kc == NULL)
		return;
	s = slot_of(kc, sim);
	if (s->sim == sim)
		slot_clear(s);
}

static EVP_PKEY_CTX *
sign_ctx(const struct csim_sim *sim)
{
	const unsigned char *p = sim->key_der;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long)sim->key_der_len);
	EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;

	EVP_PKEY_free(k); /* the context holds its own reference */
	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    (sim->key_alg == CSIM_KEY_RSA2048 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

enum csim_err
csim_sign(struct csim_keycache *kc, const struct csim_sim *sim, const uint8_t *tbs, size_t tbs_len,
          uint8_t *sig, size_t cap, size_t *sig_len)
{
	EVP_PKEY_CTX *ctx, *own = NULL;
	struct kc_slot *slot = NULL;
	uint8_t der[600];
	size_t n = sizeof(der);
	enum csim_err rc = CSIM_E_CRYPTO;

	if (sim->key_der == NULL)
		return CSIM_E_NOTFOUND;
	if (kc != NULL) {
		slot = slot_of(kc, sim);
		if (slot->sim != sim || slot->gen != sim->key_gen) {
			slot_clear(slot);
			if ((slot->ctx = sign_ctx(sim)) == NULL)
				return CSIM_E_CRYPTO;
			slot->sim = sim;
			slot->gen = sim->key_gen;
		}
		ctx = slot->ctx;
	} else if ((ctx = own = sign_ctx(sim)) == NULL) {
		return CSIM_E_CRYPTO;
	}
	if (EVP_PKEY_sign(ctx, der, &n, tbs, tbs_len) == 1) {
		if (sim->key_alg == CSIM_KEY_RSA2048) {
			if (n <= cap) {
				memcpy(sig, der, n);
				*sig_len = n;
				rc = CSIM_OK;
			}
		} else {
			rc = ecdsa_raw(der, n, sig, cap, sig_len);
		}
	}
	EVP_PKEY_CTX_free(own);
	return rc;
}
