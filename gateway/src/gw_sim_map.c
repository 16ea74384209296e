/* gw_sim_map.c -- PoR and applet statuses to PROTOCOL.md codes (TELECOM.md 2.2, 3.3, 4) and
 * the ECDSA signature form the engine expects (DER). Pure functions. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>

#include "gw_sim_map.h"

static void
code(int *status, int *sub, int st, int sb)
{
	*status = st;
	*sub = sb;
}

enum gw_por_action
gw_sim_por_action(uint8_t sts, int *status, int *sub)
{
	code(status, sub, 0, 0);
	switch (sts) {
	case 0x00:
		return GW_POR_USE;
	case 0x08: /* more time */
	case 0x0B: /* data follows by SMS-SUBMIT */
	case 0x0C: /* ... by USSD */
		return GW_POR_WAIT;
	case 0x02: /* counter low: 2.3 */
		return GW_POR_RESYNC;
	case 0x07: /* no memory: no retry */
		code(status, sub, 900, 9003);
		return GW_POR_FAIL;
	case 0x09: /* TAR unknown: no applet (FiCom "incompatible SIM") */
		code(status, sub, 105, 1054);
		return GW_POR_FAIL;
	default:
		/* 01 CC, 03 counter high, 04 counter blocked, 05 cipher, 06 security, 0A below the
		 * minimum security level, and anything unknown: the OTA configuration is wrong. */
		code(status, sub, 900, 9004);
		return GW_POR_FAIL;
	}
}

bool
gw_sim_applet_failure(const struct smsc_kv1_rsp *rsp, int *status, int *sub, bool *blocked)
{
	*blocked = false;
	switch (rsp->status) {
	case SMSC_KV1_SIGNED:
		code(status, sub, 0, 0);
		return false;
	case SMSC_KV1_USER_CANCEL:
	case SMSC_KV1_USER_REJECTED:
		/* tag 21 present: a wrong PIN was entered before the user gave up */
		code(status, sub, 401, rsp->has_pin_tries ? 4015 : 4011);
		break;
	case SMSC_KV1_USER_TIMEOUT:
		code(status, sub, 208, 2082);
		break;
	case SMSC_KV1_PIN_BLOCKED:
		code(status, sub, 402, 4021);
		*blocked = true;
		break;
	case SMSC_KV1_CARD_BLOCKED:
		code(status, sub, 403, 4031);
		break;
	case SMSC_KV1_KEY_NOT_FOUND:
		code(status, sub, 404, 4041);
		break;
	case SMSC_KV1_UNSUPPORTED_HASH:
		code(status, sub, 900, 9007);
		break;
	case SMSC_KV1_UNSUPPORTED_KEY_ALG:
		code(status, sub, 900, 9008);
		break;
	case SMSC_KV1_ME_UNSUPPORTED:
		code(status, sub, 209, 2094);
		break;
	case SMSC_KV1_ME_BUSY:
		code(status, sub, 209, 2093);
		break;
	case SMSC_KV1_EXPIRED:
		code(status, sub, 208, 2081);
		break;
	default: /* BAD_REQUEST, APPLET_BUSY (no retry), INTERNAL, unknown */
		code(status, sub, 900, 9003);
		break;
	}
	return true;
}

bool
gw_sim_sig_to_der(const uint8_t *raw, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = out;
	bool ok = false;
	int n;

	if (len != 64 && len != 96 && len != 132) {
		if (len > cap)
			return false;
		memcpy(out, raw, len);
		*out_len = len;
		return true;
	}
	if ((sig = ECDSA_SIG_new()) == NULL || (r = BN_bin2bn(raw, (int)(len / 2), NULL)) == NULL ||
	    (s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by sig now */
	n = i2d_ECDSA_SIG(sig, NULL);
	if (n <= 0 || (size_t)n > cap)
		goto out;
	n = i2d_ECDSA_SIG(sig, &p);
	if (n <= 0)
		goto out;
	*out_len = (size_t)n;
	ok = true;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return ok;
}

bool
gw_sim_hash_alg(const char *name, uint8_t *alg, size_t *digest_len)
{
	static const struct {
		const char *name;
		uint8_t alg;
		size_t len;
	} t[] = { { "sha256", 1, 32 }, { "sha384", 2, 48 }, { "sha512", 3, 64 } };

	for (size_t i = 0; name != NULL && i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(name, t[i].name) == 0) {
			*alg = t[i].alg;
			*digest_len = t[i].len;
			return true;
		}
	}
	return false;
}
