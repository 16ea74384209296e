/* smsc_crypto.c -- ciphers and checksums of TS 102 225 5.1 (OpenSSL 3 EVP). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "smsc_int.h"

size_t
smsc__block(enum smsc_ota_alg alg)
{
	return alg == SMSC_ALG_AES ? 16 : 8;
}

/* Single DES runs as 3DES with K1 = K2 = K3, so no legacy provider is needed. */
static const EVP_CIPHER *
pick(enum smsc_ota_alg alg, size_t key_len, uint8_t *kbuf, const uint8_t **key)
{
	switch (alg) {
	case SMSC_ALG_DES:
		if (key_len != 8)
			return NULL;
		memcpy(kbuf, *key, 8);
		memcpy(kbuf + 8, *key, 8);
		memcpy(kbuf + 16, *key, 8);
		*key = kbuf;
		return EVP_des_ede3_cbc();
	case SMSC_ALG_3DES2:
		return key_len == 16 ? EVP_des_ede_cbc() : NULL;
	case SMSC_ALG_3DES3:
		return key_len == 24 ? EVP_des_ede3_cbc() : NULL;
	case SMSC_ALG_AES:
		if (key_len == 16)
			return EVP_aes_128_cbc();
		if (key_len == 24)
			return EVP_aes_192_cbc();
		return key_len == 32 ? EVP_aes_256_cbc() : NULL;
	default:
		return NULL;
	}
}

/* TS 102 225 5.1.2: CBC, zero IV; the caller has padded to the block size. */
enum smsc_err
smsc__cbc(enum smsc_ota_alg alg, const uint8_t *key, size_t key_len, bool enc, const uint8_t *in,
          size_t len, uint8_t *out)
{
	static const uint8_t zero_iv[16];
	enum smsc_err rc = SMSC_E_CRYPTO;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t kbuf[24];
	const EVP_CIPHER *c = pick(alg, key_len, kbuf, &key);
	int n1 = 0, n2 = 0;

	if (c == NULL) {
		rc = SMSC_E_UNSUPPORTED;
		goto out;
	}
	if (len % smsc__block(alg) != 0 || len > INT32_MAX)
		goto out;
	if (len == 0) {
		rc = SMSC_OK;
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto out;
	if (EVP_CipherInit_ex2(ctx, c, key, zero_iv, enc ? 1 : 0, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n1, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + n1, &n2) != 1)
		goto out;
	rc = (size_t)n1 + (size_t)n2 == len ? SMSC_OK : SMSC_E_CRYPTO;
out:
	explicit_bzero(kbuf, sizeof(kbuf));
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error(); /* leave the thread's queue empty for lws (STYLE.md 2.4) */
	return rc;
}

static enum smsc_err
cmac8(const uint8_t *key, size_t key_len, const uint8_t *in, size_t len, uint8_t cc[8])
{
	enum smsc_err rc = SMSC_E_CRYPTO;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	uint8_t full[16];
	size_t out_len = 0;
	const char *name = key_len == 16   ? "AES-128-CBC"
	                   : key_len == 24 ? "AES-192-CBC"
	                                   : "AES-256-CBC";

	if (key_len != 16 && key_len != 24 && key_len != 32) {
		rc = SMSC_E_UNSUPPORTED;
		goto out;
	}
	params[0] =
	        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)(uintptr_t)name, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "CMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1 ||
	    EVP_MAC_update(ctx, in, len) != 1 ||
	    EVP_MAC_final(ctx, full, &out_len, sizeof(full)) != 1 || out_len != 16)
		goto out;
	memcpy(cc, full, 8); /* TS 102 225 5.1.3.2: the first 8 octets */
	rc = SMSC_OK;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	ERR_clear_error();
	return rc;
}

/* TS 102 225 5.1.3: DES/3DES CBC-MAC (zero-padded to 8, IV 0, last block) or AES-CMAC. */
enum smsc_err
smsc__mac(enum smsc_ota_alg alg, const uint8_t *key, size_t key_len, const uint8_t *in, size_t len,
          uint8_t cc[8])
{
	uint8_t buf[2048];
	size_t plen;
	enum smsc_err rc;

	if (alg == SMSC_ALG_AES)
		return cmac8(key, key_len, in, len, cc);
	plen = (len + 7) / 8 * 8;
	if (plen == 0)
		plen = 8;
	if (plen > sizeof(buf))
		return SMSC_E_TOOBIG;
	memset(buf, 0, plen);
	memcpy(buf, in, len);
	rc = smsc__cbc(alg, key, key_len, true, buf, plen, buf);
	if (rc == SMSC_OK)
		memcpy(cc, buf + plen - 8, 8);
	return rc;
}

/* ISO 3309 CRC-32, the RC of TS 102 225 5.1.3.1. */
uint32_t
smsc__crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* ISO/IEC 13239 CRC-16. */
uint16_t
smsc__crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xFFFF;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (uint16_t)((crc >> 1) ^ (0x8408u & (0u - (crc & 1u))));
	}
	return (uint16_t)~crc;
}
