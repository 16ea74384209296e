/* smsc_ota.c -- secured command and response packets (ETSI TS 102 225 5.1, 3GPP TS 31.115 4-7).
 * Both sides: the gateway builds commands and opens PoRs; kyso-carrier-sim's RE opens commands
 * and builds PoRs. Packets here start at CPL / RPL; the UDH is the caller's (smsc_udh.c).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "smsc_int.h"

#define PKT_MAX   2048u /* 8 SMS of 140 octets, with room */
#define CMD_CLEAR 10u   /* CPL(2) CHL SPI(2) KIc KID TAR(3) */
#define RSP_CLEAR 6u    /* RPL(2) RHL TAR(3) */

void
smsc_ota_keys_wipe(struct smsc_ota_keys *k)
{
	explicit_bzero(k, sizeof(*k));
}

/* Length of the RC/CC/DS field for an SPI "b2b1" value and the KID algorithm. */
static int
check_len(unsigned kind, uint8_t kid)
{
	switch (kind) {
	case 0:
		return 0;
	case 1: /* RC: KID b4..b1 0001 CRC16, 0101 CRC32 (TS 102 225 5.1.3.1) */
		if ((kid & 0x0F) == 0x1)
			return 2;
		return (kid & 0x0F) == 0x5 ? 4 : -1;
	case 2:
		return 8;
	default:
		return -1; /* DS: not supported */
	}
}

static enum smsc_err
compute_check(unsigned kind, uint8_t kid, const struct smsc_ota_keys *keys, const uint8_t *in,
              size_t len, uint8_t out[8])
{
	if (kind == 1) {
		if ((kid & 0x0F) == 0x1) {
			uint16_t c = smsc__crc16(in, len);

			out[0] = (uint8_t)(c >> 8);
			out[1] = (uint8_t)c;
		} else {
			smsc__be32(out, smsc__crc32(in, len));
		}
		return SMSC_OK;
	}
	return smsc__mac((enum smsc_ota_alg)(kid & 0x0F), keys->kid, keys->kid_len, in, len, out);
}

static void
put_cntr(uint8_t *b, uint64_t v)
{
	for (int i = 4; i >= 0; i--) {
		b[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t
get_cntr(const uint8_t *b)
{
	uint64_t v = 0;

	for (int i = 0; i < 5; i++)
		v = (v << 8) | b[i];
	return v;
}

static bool
alg_ok(uint8_t k)
{
	unsigned a = k & 0x0F;

	return a == SMSC_ALG_DES || a == SMSC_ALG_AES || a == SMSC_ALG_3DES2 || a == SMSC_ALG_3DES3;
}

enum smsc_err
smsc_ota_cmd_build(const struct smsc_ota_cmd *cmd, const struct smsc_ota_keys *keys, uint8_t *out,
                   size_t cap, size_t *out_len)
{
	uint8_t buf[PKT_MAX], mac_in[PKT_MAX], cc[8];
	bool ciph = (cmd->spi1 & SMSC_SPI1_CIPHER) != 0;
	unsigned kind = cmd->spi1 & 0x03;
	int cc_len = check_len(kind, cmd->kid);
	size_t blk, pad = 0, sec, total, m = 0;
	enum smsc_err rc = SMSC_E_INVAL;

	if (cc_len < 0 || (kind == 2 && !alg_ok(cmd->kid)) || (ciph && !alg_ok(cmd->kic))) {
		rc = SMSC_E_UNSUPPORTED;
		goto out;
	}
	if (cmd->cntr > 0xFFFFFFFFFFull || (cmd->data_len > 0 && cmd->data == NULL) ||
	    cmd->data_len > PKT_MAX - 64)
		goto out;
	blk = ciph ? smsc__block((enum smsc_ota_alg)(cmd->kic & 0x0F)) : 1;
	sec = 6 + (size_t)cc_len + cmd->data_len; /* CNTR PCNTR CC data */
	pad = (blk - sec % blk) % blk;            /* TS 102 225 5.1.2: pad to the block */
	total = CMD_CLEAR + sec + pad;
	if (total > cap) {
		rc = SMSC_E_SPACE;
		goto out;
	}
	buf[0] = (uint8_t)((total - 2) >> 8);
	buf[1] = (uint8_t)(total - 2);
	buf[2] = (uint8_t)(13 + cc_len); /* CHL: SPI..CC */
	buf[3] = cmd->spi1;
	buf[4] = cmd->spi2;
	buf[5] = cmd->kic;
	buf[6] = cmd->kid;
	memcpy(buf + 7, cmd->tar, 3);
	put_cntr(buf + 10, cmd->cntr);
	buf[15] = (uint8_t)pad; /* PCNTR */
	if (cmd->data_len > 0)
		memcpy(buf + 16 + cc_len, cmd->data, cmd->data_len);
	memset(buf + 16 + cc_len + cmd->data_len, 0, pad);
	/* CC input: CPL .. PCNTR, data, padding; the CC field itself excluded (5.1.3). */
	memcpy(mac_in, buf, 16);
	m = 16;
	memcpy(mac_in + m, buf + 16 + cc_len, cmd->data_len + pad);
	m += cmd->data_len + pad;
	if (cc_len > 0) {
		if ((rc = compute_check(kind, cmd->kid, keys, mac_in, m, cc)) != SMSC_OK)
			goto out;
		memcpy(buf + 16, cc, (size_t)cc_len);
	}
	if (ciph && (rc = smsc__cbc((enum smsc_ota_alg)(cmd->kic & 0x0F), keys->kic, keys->kic_len,
	                            true, buf + 10, sec + pad, buf + 10)) != SMSC_OK)
		goto out;
	memcpy(out, buf, total);
	*out_len = total;
	rc = SMSC_OK;
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(mac_in, m);
	explicit_bzero(cc, sizeof(cc));
	return rc;
}

enum smsc_err
smsc_ota_cmd_peek(const uint8_t *pkt, size_t len, struct smsc_ota_cmd *hdr)
{
	struct smsc_ota_cmd h;
	size_t cpl;

	if (len < CMD_CLEAR + 6 || len > PKT_MAX)
		return SMSC_E_STRUCT;
	cpl = ((size_t)pkt[0] << 8) | pkt[1];
	if (cpl != len - 2 || pkt[2] < 13)
		return SMSC_E_STRUCT;
	memset(&h, 0, sizeof(h));
	h.spi1 = pkt[3];
	h.spi2 = pkt[4];
	h.kic = pkt[5];
	h.kid = pkt[6];
	memcpy(h.tar, pkt + 7, 3);
	*hdr = h;
	return SMSC_OK;
}

/* The common tail of opening a command packet and a PoR (TS 102 225 5.1.1, 5.1.2): verify the
 * checksum the SPI asks for over mac_in, then copy the secured data out to the caller. */
static enum smsc_err
check_and_take(unsigned kind, uint8_t kid, const struct smsc_ota_keys *keys, const uint8_t *mac_in,
               size_t m, const uint8_t *got_cc, int cc_len, const uint8_t *data, size_t data_len,
               uint8_t *work, size_t cap)
{
	enum smsc_err rc = SMSC_OK;
	uint8_t cc[8];

	if (cc_len > 0) {
		if ((rc = compute_check(kind, kid, keys, mac_in, m, cc)) != SMSC_OK)
			goto out;
		if (CRYPTO_memcmp(cc, got_cc, (size_t)cc_len) != 0) {
			rc = SMSC_E_CC;
			goto out;
		}
	}
	if (data_len > cap) {
		rc = SMSC_E_SPACE;
		goto out;
	}
	memcpy(work, data, data_len);
out:
	explicit_bzero(cc, sizeof(cc));
	return rc;
}

enum smsc_err
smsc_ota_cmd_open(const uint8_t *pkt, size_t len, const struct smsc_ota_keys *keys, uint8_t *work,
                  size_t cap, struct smsc_ota_cmd *out)
{
	uint8_t plain[PKT_MAX], mac_in[PKT_MAX];
	struct smsc_ota_cmd h;
	enum smsc_err rc;
	unsigned kind;
	int cc_len;
	size_t sec, data_len = 0, m = 0;

	if ((rc = smsc_ota_cmd_peek(pkt, len, &h)) != SMSC_OK)
		return rc;
	kind = h.spi1 & 0x03;
	cc_len = check_len(kind, h.kid);
	if (cc_len < 0 || (kind == 2 && !alg_ok(h.kid)) ||
	    ((h.spi1 & SMSC_SPI1_CIPHER) && !alg_ok(h.kic))) {
		rc = SMSC_E_UNSUPPORTED;
		goto out;
	}
	rc = SMSC_E_STRUCT;
	if (pkt[2] != 13 + cc_len)
		goto out;
	sec = len - CMD_CLEAR;
	if (sec < 6 + (size_t)cc_len)
		goto out;
	if (h.spi1 & SMSC_SPI1_CIPHER) {
		if ((rc = smsc__cbc((enum smsc_ota_alg)(h.kic & 0x0F), keys->kic, keys->kic_len,
		                    false, pkt + CMD_CLEAR, sec, plain)) != SMSC_OK)
			goto out; /* a length off the block size is a cipher error (PoR 05) */
	} else {
		memcpy(plain, pkt + CMD_CLEAR, sec);
	}
	h.cntr = get_cntr(plain);
	h.pcntr = plain[5];
	rc = SMSC_E_STRUCT;
	if (h.pcntr > sec - 6 - (size_t)cc_len)
		goto out;
	data_len = sec - 6 - (size_t)cc_len - h.pcntr;
	memcpy(mac_in, pkt, CMD_CLEAR);
	memcpy(mac_in + CMD_CLEAR, plain, 6);
	memcpy(mac_in + 16, plain + 6 + cc_len, sec - 6 - (size_t)cc_len);
	m = 16 + sec - 6 - (size_t)cc_len;
	rc = check_and_take(kind, h.kid, keys, mac_in, m, plain + 6, cc_len, plain + 6 + cc_len,
	                    data_len, work, cap);
	if (rc != SMSC_OK)
		goto out;
	h.data = work;
	h.data_len = data_len;
	*out = h;
	rc = SMSC_OK;
out:
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(mac_in, m);
	return rc;
}

enum smsc_err
smsc_ota_rsp_build(uint8_t spi2, uint8_t kic, uint8_t kid, const struct smsc_ota_rsp *rsp,
                   const struct smsc_ota_keys *keys, uint8_t *out, size_t cap, size_t *out_len)
{
	uint8_t buf[PKT_MAX], mac_in[PKT_MAX + 3], cc[8];
	bool ciph = (spi2 & SMSC_SPI2_POR_CIPH) != 0;
	unsigned kind = (spi2 >> 2) & 0x03;
	int cc_len = check_len(kind, kid);
	size_t blk, pad, sec, total, m = 0;
	enum smsc_err rc = SMSC_E_INVAL;

	if (cc_len < 0 || (kind == 2 && !alg_ok(kid)) || (ciph && !alg_ok(kic))) {
		rc = SMSC_E_UNSUPPORTED;
		goto out;
	}
	if (rsp->cntr > 0xFFFFFFFFFFull || (rsp->data_len > 0 && rsp->data == NULL) ||
	    rsp->data_len > PKT_MAX - 64)
		goto out;
	blk = ciph ? smsc__block((enum smsc_ota_alg)(kic & 0x0F)) : 1;
	sec = 7 + (size_t)cc_len + rsp->data_len; /* CNTR PCNTR STS CC data */
	pad = (blk - sec % blk) % blk;
	total = RSP_CLEAR + sec + pad;
	if (total > cap) {
		rc = SMSC_E_SPACE;
		goto out;
	}
	buf[0] = (uint8_t)((total - 2) >> 8);
	buf[1] = (uint8_t)(total - 2);
	buf[2] = (uint8_t)(10 + cc_len); /* RHL: TAR..CC */
	memcpy(buf + 3, rsp->tar, 3);
	put_cntr(buf + 6, rsp->cntr);
	buf[11] = (uint8_t)pad;
	buf[12] = rsp->sts;
	if (rsp->data_len > 0) /* an empty PoR may come with data == NULL */
		memcpy(buf + 13 + cc_len, rsp->data, rsp->data_len);
	memset(buf + 13 + cc_len + rsp->data_len, 0, pad);
	/* TS 31.115 7.1: the response CC covers the UDH too; kyso-v1 uses 02 71 00 always. */
	mac_in[0] = 0x02;
	mac_in[1] = 0x71;
	mac_in[2] = 0x00;
	memcpy(mac_in + 3, buf, 13);
	memcpy(mac_in + 16, buf + 13 + cc_len, rsp->data_len + pad);
	m = 16 + rsp->data_len + pad;
	if (cc_len > 0) {
		if ((rc = compute_check(kind, kid, keys, mac_in, m, cc)) != SMSC_OK)
			goto out;
		memcpy(buf + 13, cc, (size_t)cc_len);
	}
	if (ciph && (rc = smsc__cbc((enum smsc_ota_alg)(kic & 0x0F), keys->kic, keys->kic_len, true,
	                            buf + 6, sec + pad, buf + 6)) != SMSC_OK)
		goto out;
	memcpy(out, buf, total);
	*out_len = total;
	rc = SMSC_OK;
out:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(mac_in, m);
	return rc;
}

enum smsc_err
smsc_ota_rsp_open(const uint8_t *pkt, size_t len, uint8_t spi2, uint8_t kic, uint8_t kid,
                  const struct smsc_ota_keys *keys, uint8_t *work, size_t cap,
                  struct smsc_ota_rsp *out)
{
	uint8_t plain[PKT_MAX], mac_in[PKT_MAX + 3];
	struct smsc_ota_rsp r;
	unsigned kind = (spi2 >> 2) & 0x03;
	int want = check_len(kind, kid);
	size_t sec, cc_len, m = 0, data_len;
	enum smsc_err rc = SMSC_E_STRUCT;

	memset(&r, 0, sizeof(r));
	if (want < 0) {
		rc = SMSC_E_UNSUPPORTED;
		goto out;
	}
	if (len < RSP_CLEAR + 7 || len > PKT_MAX || (((size_t)pkt[0] << 8) | pkt[1]) != len - 2 ||
	    pkt[2] < 10 || pkt[2] > 18)
		goto out;
	cc_len = (size_t)pkt[2] - 10;
	if (cc_len != (size_t)want) {
		/* A PoR without the CC we asked for cannot be trusted (900/9004). */
		rc = cc_len < (size_t)want ? SMSC_E_CC : SMSC_E_STRUCT;
		goto out;
	}
	memcpy(r.tar, pkt + 3, 3);
	sec = len - RSP_CLEAR;
	if (sec < 7 + cc_len)
		goto out;
	if (spi2 & SMSC_SPI2_POR_CIPH) {
		if (!alg_ok(kic)) {
			rc = SMSC_E_UNSUPPORTED;
			goto out;
		}
		if ((rc = smsc__cbc((enum smsc_ota_alg)(kic & 0x0F), keys->kic, keys->kic_len,
		                    false, pkt + RSP_CLEAR, sec, plain)) != SMSC_OK)
			goto out;
	} else {
		memcpy(plain, pkt + RSP_CLEAR, sec);
	}
	rc = SMSC_E_STRUCT;
	r.cntr = get_cntr(plain);
	r.pcntr = plain[5];
	r.sts = plain[6];
	if (r.pcntr > sec - 7 - cc_len)
		goto out;
	data_len = sec - 7 - cc_len - r.pcntr;
	mac_in[0] = 0x02;
	mac_in[1] = 0x71;
	mac_in[2] = 0x00;
	memcpy(mac_in + 3, pkt, RSP_CLEAR);
	memcpy(mac_in + 9, plain, 7);
	memcpy(mac_in + 16, plain + 7 + cc_len, sec - 7 - cc_len);
	m = 16 + sec - 7 - cc_len;
	rc = check_and_take(kind, kid, keys, mac_in, m, plain + 7, (int)cc_len, plain + 7 + cc_len,
	                    data_len, work, cap);
	if (rc != SMSC_OK)
		goto out;
	r.data = work;
	r.data_len = data_len;
	*out = r;
	rc = SMSC_OK;
out:
	explicit_bzero(plain, sizeof(plain));
	explicit_bzero(mac_in, m);
	return rc;
}

uint8_t
smsc_ota_cntr_check(uint8_t spi1, uint64_t card_cntr, uint64_t rx_cntr)
{
	switch ((spi1 & SMSC_SPI1_CNTR_MASK) >> 3) {
	case 2: /* must be higher (TS 102 225 5.1.1) */
		return rx_cntr > card_cntr ? 0x00 : 0x02;
	case 3: /* exactly one higher */
		if (rx_cntr == card_cntr + 1)
			return 0x00;
		return rx_cntr <= card_cntr ? 0x02 : 0x03;
	default:
		return 0x00;
	}
}

size_t
smsc_ota_capacity(bool command, enum smsc_ota_alg kic_alg, unsigned n_sms)
{
	size_t room, blk = smsc__block(kic_alg), fixed;

	if (n_sms == 0 || n_sms > SMSC_SEG_MAX)
		return 0;
	/* Octets after the UDH: 137 in one SMS, else 132 + 134 per further segment. */
	room = n_sms == 1 ? 137 : 132 + 134 * (size_t)(n_sms - 1);
	if (!command)
		room = n_sms == 1 ? 137 : 132 + 134 * (size_t)(n_sms - 1);
	room -= command ? CMD_CLEAR : RSP_CLEAR;
	fixed = command ? 6 + 8 : 7 + 8; /* CNTR PCNTR [STS] CC */
	room = room / blk * blk;
	return room > fixed ? room - fixed : 0;
}
