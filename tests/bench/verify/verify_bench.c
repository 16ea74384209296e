/* verify_bench -- PERFORMANCE.md G12: the gateway's own verify + CMS per signature against the
 * M2 anchor (A_cms) measured in the same run, for a P-256 and an RSA-2048 signer.
 *
 *   A_cms: the M2 method written out with OpenSSL: CMS_sign (PARTIAL, DETACHED, BINARY),
 *          CMS_add1_signer with the certificate's public key (CADES, NOSMIMECAP), the signed
 *          attributes and their sorted DER SET OF, EVP_DigestVerify of the raw signature,
 *          set it, i2d_CMS_ContentInfo.
 *   ours:  what the gateway does per signature with warm caches: the verified path
 *          (gw_vfy_cert_cached), the OCSP answer (gw_rev_cache_get), gw_cms_prepare and
 *          gw_cms_finish (which verifies the signature).
 * The device's signing is not timed: the signing time is fixed, so the attributes and their
 * signature are the same in every iteration and are signed once. Goal: ours >= 0.8 x A_cms,
 * rates taken per CPU second of the process (the run shares the machine).
 *
 * usage: verify_bench [ITERATIONS]   (default 5000, as M2)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "gw_cms.h"
#include "gw_verify.h"
#include "pki_fixture.h"

#define DAY (24 * 3600)

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct der_item {
	unsigned char *der;
	int len;
};

static int
der_cmp(const void *a, const void *b)
{
	const struct der_item *x = a, *y = b;
	int n = x->len < y->len ? x->len : y->len, c = memcmp(x->der, y->der, (size_t)n);

	return c != 0 ? c : x->len - y->len;
}

/* The M2 anchor, one iteration. tbs_out (first call) receives the attributes' DER. */
static int
m2_once(X509 *cert, const EVP_MD *md, const uint8_t *digest, size_t dlen, time_t t,
        const uint8_t *sig, size_t sig_len, unsigned char **tbs_out, size_t *tbs_len)
{
	CMS_ContentInfo *cms =
	        CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY);
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	CMS_SignerInfo *si;
	struct der_item it[8];
	unsigned char *tbs = NULL, *out = NULL, *p;
	ASN1_TIME *at = ASN1_TIME_set(NULL, t);
	EVP_MD_CTX *vctx = EVP_MD_CTX_new();
	size_t total = 0;
	int i, n, ok = 0;

	si = CMS_add1_signer(cms, cert, pub, md, CMS_PARTIAL | CMS_CADES | CMS_NOSMIMECAP);
	CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
	                            OBJ_nid2obj(NID_pkcs7_data), -1);
	CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, at->type, at, -1);
	CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, digest,
	                            (int)dlen);
	n = CMS_signed_get_attr_count(si);
	for (i = 0; i < n && i < 8; i++) {
		it[i].der = NULL;
		it[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &it[i].der);
		total += (size_t)it[i].len;
	}
	qsort(it, (size_t)n, sizeof(it[0]), der_cmp);
	tbs = malloc(total + 4);
	p = tbs;
	*p++ = 0x31;
	*p++ = 0x82;
	*p++ = (unsigned char)(total >> 8);
	*p++ = (unsigned char)total;
	for (i = 0; i < n; i++) {
		memcpy(p, it[i].der, (size_t)it[i].len);
		p += it[i].len;
		OPENSSL_free(it[i].der);
	}
	if (tbs_out != NULL) {
		*tbs_out = tbs;
		*tbs_len = total + 4;
		tbs = NULL;
	} else if (EVP_DigestVerifyInit(vctx, NULL, md, NULL, pub) == 1 &&
	           EVP_DigestVerify(vctx, sig, sig_len, tbs, total + 4) == 1) {
		ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len);
		ok = i2d_CMS_ContentInfo(cms, &out) > 0;
	}
	OPENSSL_free(out);
	free(tbs);
	EVP_MD_CTX_free(vctx);
	ASN1_TIME_free(at);
	CMS_ContentInfo_free(cms);
	return ok;
}

static void
bench(const char *label, EVP_PKEY *key, X509 *cert, X509 *ca, struct gw_trust *trust, int iters)
{
	const EVP_MD *md = EVP_sha256();
	const time_t t = 1800000000;
	uint8_t digest[32] = { 0x42 }, tbs[GW_CMS_DIGEST_MAX], sig[512], dsig[512];
	unsigned char *m2_tbs = NULL, *der = NULL;
	size_t m2_tbs_len = 0, tbs_len = 0, sig_len = sizeof(sig), dsig_len, der_len;
	struct gw_path_cache *paths = gw_path_cache_new(16);
	struct gw_rev_cache *revs = gw_rev_cache_new(16);
	struct gw_rev_result good = { .status = GW_REV_GOOD,
		                      .source = GW_REV_SRC_OCSP,
		                      .next_update = t + 3600 };
	struct gw_rev_result got;
	struct gw_cms_prep *prep = NULL;
	EVP_MD_CTX *sctx = EVP_MD_CTX_new();
	X509 *issuer = NULL;
	double t0, c0, m2_wall, m2_cpu, own_wall, own_cpu, look;
	bool is_ec = EVP_PKEY_is_a(key, "EC");
	int i, fails = 0;

	/* Signed once, outside the timing: the anchor's DigestSign signature (DER for ECDSA) and
	 * the device's raw signature over our attributes' digest (r||s for ECDSA). */
	m2_once(cert, md, digest, sizeof(digest), t, NULL, 0, &m2_tbs, &m2_tbs_len);
	EVP_DigestSignInit(sctx, NULL, md, NULL, key);
	EVP_DigestSign(sctx, sig, &sig_len, m2_tbs, m2_tbs_len);
	gw_cms_prepare(cert, NULL, digest, sizeof(digest), t, &prep, tbs, sizeof(tbs), &tbs_len);
	gw_cms_prep_free(prep);
	dsig_len =
	        fx_sign(key, is_ec ? "ecdsa-raw" : "pkcs1", md, tbs, tbs_len, dsig, sizeof(dsig));
	/* Warm caches, as in the gateway after the first signature of this signer. */
	gw_vfy_cert_cached(paths, trust, cert, t, &issuer, NULL, NULL, 0);
	gw_rev_cache_put(revs, cert, ca, t, &good);

	t0 = now_s();
	c0 = cpu_s();
	for (i = 0; i < iters; i++)
		fails += !m2_once(cert, md, digest, sizeof(digest), t, sig, sig_len, NULL, NULL);
	m2_wall = now_s() - t0;
	m2_cpu = cpu_s() - c0;

	t0 = now_s();
	c0 = cpu_s();
	for (i = 0; i < iters; i++) {
		X509 *iss = NULL;

		fails +=
		        gw_vfy_cert_cached(paths, trust, cert, t, &iss, NULL, NULL, 0) != GW_VFY_OK;
		fails += !gw_rev_cache_get(revs, cert, iss, t, &got);
		X509_free(iss);
		fails += gw_cms_prepare(cert, NULL, digest, sizeof(digest), t, &prep, tbs,
		                        sizeof(tbs), &tbs_len) != GW_CMS_OK;
		fails += gw_cms_finish(prep, is_ec ? GW_SIG_ECDSA : GW_SIG_RSA_PKCS1, dsig,
		                       dsig_len, &der, &der_len) != GW_CMS_OK;
		OPENSSL_free(der);
		gw_cms_prep_free(prep);
	}
	own_wall = now_s() - t0;
	own_cpu = cpu_s() - c0;

	t0 = now_s();
	for (i = 0; i < iters * 10; i++)
		fails += !gw_rev_cache_get(revs, cert, ca, t, &got);
	look = (now_s() - t0) / (iters * 10.0) * 1e6;

	/* Rates per CPU second of this process: the machine is shared, wall time is noisier. */
	printf("%-8s A_cms %7.0f/s/core (%5.1f us)  ours %7.0f/s/core (%5.1f us)  ratio %.2f "
	       "(goal >= 0.80)  wall %.0f/s vs %.0f/s  OCSP cache lookup %.2f us (goal <= 5)%s\n",
	       label, iters / m2_cpu, m2_cpu / iters * 1e6, iters / own_cpu, own_cpu / iters * 1e6,
	       m2_cpu / own_cpu, iters / own_wall, iters / m2_wall, look,
	       fails ? "  FAILURES" : "");
	X509_free(issuer);
	free(m2_tbs);
	EVP_MD_CTX_free(sctx);
	gw_path_cache_free(paths);
	gw_rev_cache_free(revs);
}

int
main(int argc, char **argv)
{
	int iters = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 5000;
	time_t now = 1800000000;
	EVP_PKEY *rk = fx_key("ec"), *ck = fx_key("ec"), *ek = fx_key("ec"),
	         *rsk = fx_key("rsa2048");
	X509 *root = fx_cert(NULL, rk, rk, "bench root", now - DAY, now + DAY, FX_CA, NULL, NULL);
	X509 *ca = fx_cert(root, rk, ck, "bench CA", now - DAY, now + DAY, FX_CA, NULL, NULL);
	X509 *ec = fx_cert(ca, ck, ek, "bench P-256", now - DAY, now + DAY, 0, NULL, NULL);
	X509 *rsa = fx_cert(ca, ck, rsk, "bench RSA", now - DAY, now + DAY, 0, NULL, NULL);
	struct gw_trust *trust = gw_trust_new_certs(&root, 1, &ca, 1);

	if (iters < 1 || trust == NULL)
		return 2;
	printf("verify_bench: %d iterations per key type, one core (PERFORMANCE.md G12, M2)\n",
	       iters);
	bench("P-256", ek, ec, ca, trust, iters);
	bench("RSA-2048", rsk, rsa, ca, trust, iters);
	gw_trust_free(trust);
	return 0;
}
