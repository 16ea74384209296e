/* Signature input and output formats (PCSC.md §2.4), PIN buffers and algorithm names. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>

#include "card_int.h"

/* DER DigestInfo prefixes of RFC 8017 §9.2 note 1; no SHA-1 (REGULATION D10). */
static const uint8_t di_sha256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                             0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
static const uint8_t di_sha384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                             0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
static const uint8_t di_sha512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                             0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };

static const struct {
	enum card_alg alg;
	const char *name;
	size_t hash_len;
} algs[] = {
	{ CARD_ALG_RSA_PKCS1_SHA256, "rsa-pkcs1-sha256", 32 },
	{ CARD_ALG_RSA_PKCS1_SHA384, "rsa-pkcs1-sha384", 48 },
	{ CARD_ALG_RSA_PKCS1_SHA512, "rsa-pkcs1-sha512", 64 },
	{ CARD_ALG_ECDSA_P256_SHA256, "ecdsa-p256-sha256", 32 },
};

const char *
card_alg_name(enum card_alg a)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == a)
			return algs[i].name;
	return "none";
}

enum card_alg
card_alg_from_name(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strcmp(algs[i].name, name) == 0)
			return algs[i].alg;
	return CARD_ALG_NONE;
}

size_t
card_alg_hash_len(enum card_alg a)
{
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == a)
			return algs[i].hash_len;
	return 0;
}

enum card_err
card_digestinfo_build(enum card_alg a, const uint8_t *hash, size_t hash_len, uint8_t *out,
                      size_t cap, size_t *out_len)
{
	const uint8_t *pre;
	size_t pre_len = sizeof(di_sha256); /* all three prefixes are 19 bytes */

	switch (a) {
	case CARD_ALG_RSA_PKCS1_SHA256:
		pre = di_sha256;
		break;
	case CARD_ALG_RSA_PKCS1_SHA384:
		pre = di_sha384;
		break;
	case CARD_ALG_RSA_PKCS1_SHA512:
		pre = di_sha512;
		break;
	default:
		return CARD_E_INVAL;
	}
	if (hash == NULL || hash_len != card_alg_hash_len(a))
		return CARD_E_INVAL;
	if (pre_len + hash_len > cap)
		return CARD_E_TOOBIG;
	memcpy(out, pre, pre_len);
	memcpy(out + pre_len, hash, hash_len);
	*out_len = pre_len + hash_len;
	return CARD_OK;
}

enum card_err
card_ecdsa_rs_to_der(const uint8_t *rs, size_t rs_len, uint8_t *out, size_t cap, size_t *out_len)
{
	enum card_err rc = CARD_E_CRYPTO;
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = out;
	int n;

	if (rs == NULL || rs_len == 0 || rs_len % 2 != 0 || rs_len > 132)
		return CARD_E_INVAL;
	if ((sig = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(rs, (int)(rs_len / 2), NULL)) == NULL ||
	    (s = BN_bin2bn(rs + rs_len / 2, (int)(rs_len / 2), NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by sig now */
	if ((n = i2d_ECDSA_SIG(sig, NULL)) <= 0)
		goto out;
	if ((size_t)n > cap) {
		rc = CARD_E_TOOBIG;
		goto out;
	}
	if (i2d_ECDSA_SIG(sig, &p) != n)
		goto out;
	*out_len = (size_t)n;
	rc = CARD_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

enum card_err
card_ecdsa_der_to_rs(const uint8_t *der, size_t der_len, size_t n, uint8_t *out, size_t cap)
{
	enum card_err rc = CARD_E_CRYPTO;
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig = NULL;

	if (der == NULL || n == 0 || n > 66 || 2 * n > cap || der_len > 256)
		return CARD_E_INVAL;
	if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL)
		goto out;
	if ((size_t)(p - der) != der_len)
		goto out; /* trailing bytes (PCSC.md §2.4) */
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, out, (int)n) != (int)n || BN_bn2binpad(s, out + n, (int)n) != (int)n)
		goto out;
	rc = CARD_OK;
out:
	ECDSA_SIG_free(sig);
	return rc;
}

void
card_pin_wipe(struct card_pin *pin)
{
	if (pin != NULL)
		OPENSSL_cleanse(pin, sizeof(*pin));
}

enum card_err
card_pin_set(struct card_pin *pin, const char *digits)
{
	size_t i, n = digits != NULL ? strnlen(digits, CARD_PIN_MAX + 1) : 0;

	card_pin_wipe(pin);
	if (n < 4 || n > CARD_PIN_MAX)
		return CARD_E_INVAL;
	for (i = 0; i < n; i++)
		if (digits[i] < '0' || digits[i] > '9')
			return CARD_E_INVAL;
	memcpy(pin->digits, digits, n);
	pin->len = (uint8_t)n;
	return CARD_OK;
}
