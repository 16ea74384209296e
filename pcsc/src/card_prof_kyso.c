/* The KYSO-PKI v1 profile (PCSC.md §2.2, §4): our documented applet, found by SELECT of its
 * AID. The public operations of kyso/card.h reach these through the profile's table
 * (card_ops.c); they run with s->prof set to this profile. */
#include <string.h>

#include <openssl/crypto.h>

#include "card_int.h"

static const uint8_t kyso_aid[] = { 0xF0, 0x4B, 0x59, 0x53, 0x4F, 0x50, 0x4B, 0x49, 0x01 };

#define KYSO_PIN_REF   0x81
#define KYSO_PUK_REF   0x82
#define KYSO_PIN_BLOCK 8    /* PINs FF-padded to 8 bytes */
#define KYSO_ALG_RSA   0x02 /* PKCS#1 v1.5 over a host DigestInfo */
#define KYSO_ALG_ECDSA 0x04 /* ECDSA over the hash, r||s out */
#define KYSO_KEY_1     0x01
#define FID_TOKENINFO  0xC000
#define FID_CERT_1     0xC101

/* Sends a command whose only good answer is 9000 with no data needed. */
static enum card_err
simple(struct card_session *s, const struct card_apdu *a, struct card_status *st)
{
	uint8_t buf[CARD_SHORT_RAPDU];
	size_t len = 0;
	uint16_t sw = 0;
	enum card_err e;

	e = card_transmit(s, a, buf, sizeof(buf), &len, &sw);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (e == CARD_OK && sw != 0x9000)
		e = CARD_E_SW;
	return card__status(s, e, a->ins, st);
}

static enum card_err
kyso_select(struct card_session *s, struct card_status *st)
{
	struct card_apdu a = { 0x00, 0xA4, 0x04, 0x0C, kyso_aid, sizeof(kyso_aid), 0 };

	return simple(s, &a, st);
}

static enum card_err
select_ef(struct card_session *s, uint16_t fid, struct card_status *st)
{
	uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };
	struct card_apdu a = { 0x00, 0xA4, 0x02, 0x0C, f, 2, 0 };

	return simple(s, &a, st);
}

static enum card_err
kyso_read_serial(struct card_session *s, uint8_t serial[CARD_SERIAL_LEN], struct card_status *st)
{
	struct card_apdu a = { 0x00, 0xCA, 0x01, 0x01, NULL, 0, CARD_SERIAL_LEN };
	uint8_t buf[CARD_SHORT_RAPDU];
	size_t len = 0;
	uint16_t sw = 0;
	enum card_err e;

	e = card_transmit(s, &a, buf, sizeof(buf), &len, &sw);
	if (e == CARD_OK && sw != 0x9000)
		e = CARD_E_SW;
	else if (e == CARD_OK && len != CARD_SERIAL_LEN)
		e = CARD_E_PROTO;
	if (e == CARD_OK)
		memcpy(serial, buf, CARD_SERIAL_LEN);
	return card__status(s, e, a.ins, st);
}

/* READ BINARY of the selected EF: Le 00 first, then the exact rest that the DER header
 * (30 82 HH LL) announces; stop on a short answer, 6282 or 6B00. Cap: `cap`. */
static enum card_err
read_binary(struct card_session *s, uint8_t *out, size_t cap, size_t *out_len,
            struct card_status *st)
{
	struct card_apdu a = { 0x00, 0xB0, 0, 0, NULL, 0, 256 };
	size_t off = 0, want = 0, len;
	uint16_t sw = 0;
	enum card_err e = CARD_OK;

	for (;;) {
		if (off > 0x7FFF || off >= cap)
			break;
		a.p1 = (uint8_t)(off >> 8);
		a.p2 = (uint8_t)off;
		a.le = 256;
		if (want > off && want - off < 256)
			a.le = want - off;
		len = 0;
		if ((e = card_transmit(s, &a, out + off, cap - off, &len, &sw)) != CARD_OK)
			break;
		if (sw != 0x9000 && sw != 0x6282) {
			if (sw == 0x6B00 && off > 0)
				break; /* past the end */
			e = CARD_E_SW;
			break;
		}
		if (off == 0 && len >= 4 && out[0] == 0x30 && out[1] == 0x82)
			want = 4 + ((size_t)out[2] << 8 | out[3]);
		off += len;
		if (sw == 0x6282 || len < a.le || len == 0 || (want != 0 && off >= want))
			break;
	}
	if (e == CARD_OK) {
		if (want != 0 && off > want)
			off = want; /* padding after the DER object */
		*out_len = off;
	}
	return card__status(s, e, a.ins, st);
}

static enum card_err
kyso_read_cert(struct card_session *s, uint8_t *out, size_t cap, size_t *out_len,
               struct card_status *st)
{
	enum card_err e;

	if ((e = select_ef(s, FID_CERT_1, st)) != CARD_OK)
		return e;
	if (cap > CARD_CERT_MAX)
		cap = CARD_CERT_MAX;
	return read_binary(s, out, cap, out_len, st);
}

static enum card_err
kyso_read_label(struct card_session *s, char *label, size_t cap, struct card_status *st)
{
	uint8_t buf[1024];
	size_t len = 0, i = 0, n;
	enum card_err e;

	if (cap == 0)
		return card__status(s, CARD_E_INVAL, 0, st);
	label[0] = '\0';
	if ((e = select_ef(s, FID_TOKENINFO, st)) != CARD_OK)
		return e;
	if ((e = read_binary(s, buf, sizeof(buf), &len, st)) != CARD_OK)
		return e;
	/* TokenInfo TLV: tag(1) len(1) value; 02 = label. */
	while (i + 2 <= len) {
		n = buf[i + 1];
		if (n > len - i - 2)
			return card__status(s, CARD_E_PROTO, 0xB0, st);
		if (buf[i] == 0x02) {
			if (n >= cap)
				n = cap - 1;
			memcpy(label, buf + i + 2, n);
			label[n] = '\0';
			break;
		}
		i += 2 + n;
	}
	return card__status(s, CARD_OK, 0xB0, st);
}

/* Only reached on a profile with CARD_CAP_PIN_STATUS (card_ops.c checks, P14). */
static enum card_err
kyso_pin_status(struct card_session *s, bool puk, bool *verified, struct card_status *st)
{
	struct card_apdu a = { 0x00, 0x20, 0x00, puk ? KYSO_PUK_REF : KYSO_PIN_REF, NULL, 0, 0 };
	uint8_t buf[CARD_SHORT_RAPDU];
	size_t len = 0;
	uint16_t sw = 0;
	enum card_err e;

	e = card_transmit(s, &a, buf, sizeof(buf), &len, &sw);
	card__status(s, e == CARD_OK && sw != 0x9000 ? CARD_E_SW : e, a.ins, st);
	if (e != CARD_OK)
		return e;
	*verified = sw == 0x9000;
	if (sw == 0x9000 || st->reason == CARD_R_PIN_INCORRECT ||
	    st->reason == CARD_R_PUK_INCORRECT) {
		st->reason = CARD_R_NONE; /* a count is a status, not a failure */
		return CARD_OK;
	}
	if (st->reason == CARD_R_PIN_BLOCKED || st->reason == CARD_R_PUK_BLOCKED)
		return CARD_OK; /* retries_left 0; reason says blocked */
	return CARD_E_SW;
}

/* FF-pads a PIN into an 8-byte block (PCSC.md §4). */
static bool
pin_block(const struct card_pin *pin, uint8_t out[KYSO_PIN_BLOCK])
{
	if (pin->len < 4 || pin->len > KYSO_PIN_BLOCK)
		return false;
	memset(out, 0xFF, KYSO_PIN_BLOCK);
	memcpy(out, pin->digits, pin->len);
	return true;
}

static enum card_err
kyso_verify(struct card_session *s, struct card_pin *pin, struct card_status *st)
{
	uint8_t blk[KYSO_PIN_BLOCK];
	struct card_apdu a = { 0x00, 0x20, 0x00, KYSO_PIN_REF, blk, sizeof(blk), 0 };
	enum card_err e;

	if (!pin_block(pin, blk))
		e = card__status(s, CARD_E_INVAL, 0x20, st);
	else
		e = simple(s, &a, st);
	OPENSSL_cleanse(blk, sizeof(blk));
	card_pin_wipe(pin);
	return e;
}

/* old/new or PUK/new: two 8-byte blocks. */
static enum card_err
two_blocks(struct card_session *s, uint8_t ins, struct card_pin *first, struct card_pin *second,
           struct card_status *st)
{
	uint8_t blk[2 * KYSO_PIN_BLOCK];
	struct card_apdu a = { 0x00, ins, 0x00, KYSO_PIN_REF, blk, sizeof(blk), 0 };
	enum card_err e;

	if (!pin_block(first, blk) || !pin_block(second, blk + KYSO_PIN_BLOCK))
		e = card__status(s, CARD_E_INVAL, ins, st);
	else
		e = simple(s, &a, st);
	OPENSSL_cleanse(blk, sizeof(blk));
	card_pin_wipe(first);
	card_pin_wipe(second);
	return e;
}

static enum card_err
kyso_change_pin(struct card_session *s, struct card_pin *old_pin, struct card_pin *new_pin,
                struct card_status *st)
{
	return two_blocks(s, 0x24, old_pin, new_pin, st);
}

static enum card_err
kyso_unblock(struct card_session *s, struct card_pin *puk, struct card_pin *new_pin,
             struct card_status *st)
{
	return two_blocks(s, 0x2C, puk, new_pin, st);
}

static enum card_err
sign_input(enum card_alg alg, const uint8_t *hash, size_t hash_len, uint8_t *in, size_t *in_len,
           uint8_t *card_alg)
{
	if (hash_len != card_alg_hash_len(alg))
		return CARD_E_INVAL;
	if (alg == CARD_ALG_ECDSA_P256_SHA256) {
		memcpy(in, hash, hash_len);
		*in_len = hash_len;
		*card_alg = KYSO_ALG_ECDSA;
		return CARD_OK;
	}
	*card_alg = KYSO_ALG_RSA;
	return card_digestinfo_build(alg, hash, hash_len, in, 128, in_len);
}

static enum card_err
pso_cds(struct card_session *s, const uint8_t *in, size_t in_len, uint8_t *raw, size_t *raw_len,
        uint16_t *sw)
{
	struct card_apdu a = { 0x00, 0x2A, 0x9E, 0x9A, in, in_len, 256 };

	return card_transmit(s, &a, raw, CARD_SIG_MAX, raw_len, sw);
}

static enum card_err
sign_output(enum card_alg alg, const uint8_t *raw, size_t raw_len, uint8_t *sig, size_t cap,
            size_t *sig_len)
{
	if (alg == CARD_ALG_ECDSA_P256_SHA256) {
		if (raw_len != 64)
			return CARD_E_PROTO;
		return card_ecdsa_rs_to_der(raw, raw_len, sig, cap, sig_len);
	}
	if (raw_len == 0 || raw_len > cap)
		return raw_len ? CARD_E_TOOBIG : CARD_E_PROTO;
	memcpy(sig, raw, raw_len);
	*sig_len = raw_len;
	return CARD_OK;
}

static enum card_err
kyso_sign(struct card_session *s, enum card_alg alg, const uint8_t *hash, size_t hash_len,
          struct card_pin *pin, uint8_t *sig, size_t cap, size_t *sig_len, struct card_status *st)
{
	uint8_t in[128], raw[CARD_SIG_MAX], mse_data[6], calg = 0;
	struct card_apdu mse = { 0x00, 0x22, 0x41, 0xB6, mse_data, sizeof(mse_data), 0 };
	size_t in_len = 0, raw_len = 0;
	uint16_t sw = 0;
	enum card_err e;

	e = sign_input(alg, hash, hash_len, in, &in_len, &calg);
	if (e != CARD_OK) {
		e = card__status(s, e, 0x2A, st);
		goto out;
	}
	mse_data[0] = 0x80, mse_data[1] = 0x01, mse_data[2] = calg;
	mse_data[3] = 0x84, mse_data[4] = 0x01, mse_data[5] = KYSO_KEY_1;
	if ((e = simple(s, &mse, st)) != CARD_OK)
		goto out;
	e = pso_cds(s, in, in_len, raw, &raw_len, &sw);
	if (e == CARD_OK && sw == 0x6982 && pin != NULL && pin->len > 0) {
		/* Security status not satisfied: VERIFY once in the same transaction (§2.3). */
		if ((e = kyso_verify(s, pin, st)) != CARD_OK)
			goto out;
		e = pso_cds(s, in, in_len, raw, &raw_len, &sw);
	}
	if (e == CARD_OK && sw != 0x9000)
		e = CARD_E_SW;
	if (e == CARD_OK)
		e = sign_output(alg, raw, raw_len, sig, cap, sig_len);
	e = card__status(s, e, 0x2A, st);
	if (e == CARD_E_SW && st->reason == CARD_R_SECURITY)
		st->reason = CARD_R_CARD_ERROR; /* re-VERIFY did not help: 900/9003 */
out:
	card_pin_wipe(pin);
	OPENSSL_cleanse(in, sizeof(in));
	return e;
}

static const struct card_profile_ops kyso_ops = {
	.select = kyso_select,
	.read_serial = kyso_read_serial,
	.read_label = kyso_read_label,
	.read_cert = kyso_read_cert,
	.pin_status = kyso_pin_status,
	.verify = kyso_verify,
	.sign = kyso_sign,
	.change_pin = kyso_change_pin,
	.unblock = kyso_unblock,
};

static const struct card_profile kyso_profile = {
	.name = "KYSO-PKI-v1",
	.caps = CARD_CAP_PIN_STATUS | CARD_CAP_DIGESTINFO | CARD_CAP_ECDSA_RS |
	        CARD_CAP_SERIAL_DATA | CARD_CAP_CHANGE_PIN | CARD_CAP_UNBLOCK,
	.aid = kyso_aid,
	.aid_len = sizeof(kyso_aid),
	.atr_match = NULL, /* kyso-vcard and real cards carrying the applet differ: SELECT only */
	.ops = &kyso_ops,
};

const struct card_profile *
card_profile_kyso(void)
{
	return &kyso_profile;
}
