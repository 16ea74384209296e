/* libFuzzer: the APDU response side of the engine (PCSC.md §2). The input is the card: a
 * sequence of answers, each a 2-byte big-endian length and that many bytes, consumed one per
 * command. The first byte picks the profile (KYSO-PKI v1, or none: detection first) and the
 * operations' algorithm. Every answer sequence must end in a defined error or success. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/card.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *p;
	size_t left;
};

static enum card_err
feed_xfer(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen, uint32_t *raw)
{
	struct feed *f = ctx;
	size_t n;

	(void)c;
	(void)clen;
	if (f->left < 2) {
		*raw = 0x80100069u; /* the card is gone once the input ends */
		return CARD_E_REMOVED;
	}
	n = (size_t)f->p[0] << 8 | f->p[1];
	f->p += 2;
	f->left -= 2;
	if (n > f->left)
		n = f->left;
	if (n > *rlen)
		n = *rlen;
	memcpy(r, f->p, n);
	*rlen = n;
	f->p += n;
	f->left -= n;
	return CARD_OK;
}

static void
run_ops(struct card_session *s, enum card_alg alg)
{
	static uint8_t cert[CARD_CERT_MAX], big[70000];
	uint8_t serial[CARD_SERIAL_LEN], hash[CARD_HASH_MAX], sig[CARD_SIG_MAX], out[600];
	struct card_apdu a = { 0x00, 0x2A, 0x9E, 0x9A, big, 300, 65536 };
	struct card_status st;
	struct card_pin pin, pin2;
	char label[CARD_LABEL_MAX];
	size_t len;
	uint16_t sw;
	bool verified;

	memset(hash, 0x11, sizeof(hash));
	(void)card_select(s, &st);
	(void)card_read_serial(s, serial, &st);
	(void)card_read_label(s, label, sizeof(label), &st);
	(void)card_read_cert(s, cert, sizeof(cert), &len, &st);
	(void)card_pin_status(s, false, &verified, &st);
	if (card_pin_set(&pin, "123456") == CARD_OK)
		(void)card_verify(s, &pin, &st);
	if (card_pin_set(&pin, "123456") == CARD_OK)
		(void)card_sign(s, alg, hash, card_alg_hash_len(alg), &pin, sig, sizeof(sig), &len,
		                &st);
	if (card_pin_set(&pin, "123456") == CARD_OK && card_pin_set(&pin2, "654321") == CARD_OK)
		(void)card_change_pin(s, &pin, &pin2, &st);
	if (card_pin_set(&pin, "12345678") == CARD_OK && card_pin_set(&pin2, "1234") == CARD_OK)
		(void)card_unblock(s, &pin, &pin2, &st);
	(void)card_transmit(s, &a, out, sizeof(out), &len, &sw);
	a.le = 256;
	(void)card_transmit(s, &a, big, sizeof(big), &len, &sw);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum card_alg algs[] = { CARD_ALG_RSA_PKCS1_SHA256, CARD_ALG_RSA_PKCS1_SHA384,
		                              CARD_ALG_RSA_PKCS1_SHA512,
		                              CARD_ALG_ECDSA_P256_SHA256 };
	struct feed f;
	struct card_session *s;
	struct card_status st;
	size_t dlen;
	uint16_t sw;

	if (size < 1)
		return 0;
	f.p = data + 1;
	f.left = size - 1;
	(void)card_rapdu_parse(data, size, &dlen, &sw);
	s = card_session_new(feed_xfer, &f, (data[0] & 1) ? NULL : card_profile_kyso());
	if (s == NULL)
		return 0;
	/* Without a profile: detection first (the input's head as the ATR, the answers as the
	 * SELECTs'), so the operations run on whatever it chose, or on none. */
	if (data[0] & 1)
		(void)card_profile_detect(s, data + 1,
		                          size - 1 < CARD_ATR_MAX ? size - 1 : CARD_ATR_MAX, &st);
	run_ops(s, algs[(data[0] >> 1) % 4]);
	card_session_free(s);
	return 0;
}
