/* gw_agent_verify.c -- the gateway checks every `signed` against the certificate the agent
 * announced for that key before the engine sees it (PCSC.md 5.6: fails -> 503). The engine's
 * own verification against the credential and its chain comes after; this one keeps a broken
 * or lying agent from handing the engine something that is not a signature of the digest. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "gw_agents_int.h"

static const EVP_MD *
md_for(size_t hash_len)
{
	return hash_len == 32   ? EVP_sha256()
	       : hash_len == 48 ? EVP_sha384()
	       : hash_len == 64 ? EVP_sha512()
	                        : NULL;
}

bool
gwa_sig_verifies(const uint8_t *cert, size_t cert_len, const char *alg, const uint8_t *hash,
                 size_t hash_len, const uint8_t *sig, size_t sig_len)
{
	const unsigned char *p = cert;
	X509 *x = d2i_X509(NULL, &p, (long)cert_len);
	EVP_PKEY *pk = x != NULL ? X509_get0_pubkey(x) : NULL;
	EVP_PKEY_CTX *ctx = pk != NULL ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
	bool ok = ctx != NULL && md_for(hash_len) != NULL && EVP_PKEY_verify_init(ctx) == 1;

	if (ok && strncmp(alg, "rsa-pkcs1-", 10) == 0)
		ok = EVP_PKEY_base_id(pk) == EVP_PKEY_RSA &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, md_for(hash_len)) == 1;
	else if (ok && strncmp(alg, "ecdsa-", 6) == 0)
		ok = EVP_PKEY_base_id(pk) == EVP_PKEY_EC; /* DER ECDSA-Sig-Value over the hash */
	else
		ok = false; /* rsa-pss is not dispatched (gw_chan_token.c pick_key) */
	ok = ok && EVP_PKEY_verify(ctx, sig, sig_len, hash, hash_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	X509_free(x);
	return ok;
}

const struct card_msg_cert *
gwa_cert_for_key(const struct gw_agent_peer *p, const char *key_id)
{
	char id[65];

	for (int i = 0; i < p->ntokens; i++)
		for (int c = 0; c < p->tokens[i].ncerts; c++) {
			card_msg_key_id(p->tokens[i].certs[c].der, p->tokens[i].certs[c].len, id);
			if (strcmp(id, key_id) == 0)
				return &p->tokens[i].certs[c];
		}
	return NULL;
}
