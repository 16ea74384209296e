/* kyso-cms-tool -- builds a detached CMS with gw_cms.c the way the gateway does, the private key
 * standing in for the device: for the integration test that checks the output with
 * `openssl cms -verify`. Test tool, never installed.
 *
 * usage: kyso-cms-tool CERT.pem KEY.pem CHAIN.pem DOC OUT.der [sha256|sha384|sha512]
 *        kyso-cms-tool --pkcs1 CERT.pem KEY.pem DOC OUT.sig   (raw signature over DigestInfo)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "gw_cms.h"

static void *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (n == cap) {
			unsigned char *nb = realloc(buf, cap = cap ? 2 * cap : 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		if ((r = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	fclose(f);
	*len = n;
	return buf;
}

static bool
spit(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	bool ok = f != NULL && fwrite(b, 1, n, f) == n;

	if (f != NULL && fclose(f) != 0)
		ok = false;
	return ok;
}

/* What a SIM does: ECDSA gives r||s, RSA pads the DigestInfo (PKCS#1 v1.5, no hash of its own). */
static size_t
device_sign(EVP_PKEY *key, const EVP_MD *md, const uint8_t *digest, size_t dlen, uint8_t *sig,
            size_t cap)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	uint8_t der[160], *di = NULL;
	size_t n = sizeof(der), di_len = 0, half;
	const unsigned char *p = der;
	ECDSA_SIG *es;

	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1)
		return 0;
	if (EVP_PKEY_is_a(key, "EC")) {
		half = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
		if (EVP_PKEY_CTX_set_signature_md(ctx, md) != 1 ||
		    EVP_PKEY_sign(ctx, der, &n, digest, dlen) != 1 ||
		    (es = d2i_ECDSA_SIG(NULL, &p, (long)n)) == NULL || cap < 2 * half)
			return 0;
		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)half);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, (int)half);
		ECDSA_SIG_free(es);
		EVP_PKEY_CTX_free(ctx);
		return 2 * half;
	}
	n = cap;
	if (gw_cms_digestinfo(digest, dlen, &di, &di_len) != GW_CMS_OK ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_sign(ctx, sig, &n, di, di_len) != 1)
		n = 0;
	OPENSSL_free(di);
	EVP_PKEY_CTX_free(ctx);
	return n;
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return x;
}

int
main(int argc, char **argv)
{
	bool pkcs1 = argc > 1 && strcmp(argv[1], "--pkcs1") == 0;
	char **a = argv + (pkcs1 ? 2 : 1);
	const EVP_MD *md;
	X509 *cert;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	uint8_t digest[64], tbs[GW_CMS_DIGEST_MAX], sig[512], *der = NULL, *doc;
	size_t doc_len = 0, tbs_len = 0, sig_len, der_len = 0;
	unsigned int dlen = 0;
	struct gw_cms_prep *p = NULL;
	FILE *f;
	X509 *x;

	if (argc < (pkcs1 ? 6 : 6)) {
		fprintf(stderr,
		        "usage: kyso-cms-tool CERT KEY CHAIN DOC OUT [sha256|sha384|sha512]\n"
		        "       kyso-cms-tool --pkcs1 CERT KEY DOC OUT\n");
		return 2;
	}
	md = EVP_get_digestbyname(!pkcs1 && argc > 6 ? argv[6] : "sha256");
	if (md == NULL || (cert = read_cert(a[0])) == NULL || (f = fopen(a[1], "r")) == NULL) {
		fprintf(stderr, "kyso-cms-tool: cannot read the certificate, key or hash\n");
		return 1;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL || (doc = slurp(a[pkcs1 ? 2 : 3], &doc_len)) == NULL ||
	    EVP_Digest(doc, doc_len, digest, &dlen, md, NULL) != 1) {
		fprintf(stderr, "kyso-cms-tool: cannot read the key or the document\n");
		return 1;
	}
	if (pkcs1) {
		sig_len = device_sign(key, md, digest, dlen, sig, sizeof(sig));
		return sig_len > 0 && spit(a[3], sig, sig_len) ? 0 : 1;
	}
	if ((f = fopen(a[2], "r")) == NULL)
		return 1;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(chain, x);
	fclose(f);
	if (gw_cms_prepare(cert, chain, digest, dlen, time(NULL), &p, tbs, sizeof(tbs), &tbs_len) !=
	    GW_CMS_OK) {
		fprintf(stderr, "kyso-cms-tool: gw_cms_prepare failed\n");
		return 1;
	}
	sig_len = device_sign(key, md, tbs, tbs_len, sig, sizeof(sig));
	if (gw_cms_finish(p, EVP_PKEY_is_a(key, "EC") ? GW_SIG_ECDSA : GW_SIG_RSA_PKCS1, sig,
	                  sig_len, &der, &der_len) != GW_CMS_OK ||
	    !spit(a[4], der, der_len)) {
		fprintf(stderr, "kyso-cms-tool: gw_cms_finish failed\n");
		return 1;
	}
	OPENSSL_free(der);
	gw_cms_prep_free(p);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	EVP_PKEY_free(key);
	free(doc);
	return 0;
}
