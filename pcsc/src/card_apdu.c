/* APDU engine: framing, the 61xx GET RESPONSE loop and the 6Cxx resend (PCSC.md §2.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "card_int.h"

enum card_err
card_apdu_encode(const struct card_apdu *a, bool extended, uint8_t *out, size_t cap,
                 size_t *out_len)
{
	bool ext = a->lc > 255 || a->le > 256;
	size_t n = 4, need;

	if (a->lc > 65535 || a->le > 65536 || (a->lc > 0 && a->data == NULL))
		return CARD_E_INVAL;
	if (ext && !extended)
		return CARD_E_TOOBIG;
	need = 4 + a->lc + (ext ? 3 + (a->le ? 2 : 0) : (a->lc ? 1 : 0) + (a->le ? 1 : 0));
	if (need > cap)
		return CARD_E_TOOBIG;
	out[0] = a->cla;
	out[1] = a->ins;
	out[2] = a->p1;
	out[3] = a->p2;
	if (ext) {
		/* ISO 7816-4 extended: 00 Lc_hi Lc_lo data Le_hi Le_lo; a lone Le is 00 hi lo. */
		out[n++] = 0x00;
		if (a->lc) {
			out[n++] = (uint8_t)(a->lc >> 8);
			out[n++] = (uint8_t)a->lc;
			memcpy(out + n, a->data, a->lc);
			n += a->lc;
		}
		if (a->le) {
			out[n++] = (uint8_t)((a->le & 0xFFFF) >> 8); /* 65536 -> 0000 */
			out[n++] = (uint8_t)a->le;
		}
	} else {
		if (a->lc) {
			out[n++] = (uint8_t)a->lc;
			memcpy(out + n, a->data, a->lc);
			n += a->lc;
		}
		if (a->le)
			out[n++] = (uint8_t)a->le; /* 256 -> 00 */
	}
	*out_len = n;
	return CARD_OK;
}

enum card_err
card_rapdu_parse(const uint8_t *r, size_t r_len, size_t *data_len, uint16_t *sw)
{
	if (r == NULL || r_len < 2)
		return CARD_E_PROTO;
	*data_len = r_len - 2;
	*sw = (uint16_t)(r[r_len - 2] << 8 | r[r_len - 1]);
	return CARD_OK;
}

struct card_session *
card_session_new(card_xfer_fn *xfer, void *ctx, const struct card_profile *p)
{
	struct card_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->xfer = xfer;
	s->ctx = ctx;
	s->prof = p;
	return s;
}

void
card_session_free(struct card_session *s)
{
	if (s == NULL)
		return;
	/* The buffers held PIN-bearing commands (VERIFY, CHANGE, RESET RETRY COUNTER). */
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void
card_session_set_trace(struct card_session *s, card_trace_fn *fn, void *arg)
{
	s->trace = fn;
	s->trace_arg = arg;
}

uint16_t
card_session_last_sw(const struct card_session *s)
{
	return s->last_sw;
}

uint32_t
card_session_last_raw(const struct card_session *s)
{
	return s->last_raw;
}

/* PIN-bearing instructions: traces show the header and Lc only (PCSC.md §2.1, P12). */
static bool
ins_secret(uint8_t ins)
{
	return ins == 0x20 || ins == 0x24 || ins == 0x2C;
}

void
card__trace_apdu(struct card_session *s, const uint8_t *c, size_t len)
{
	char line[128];
	size_t i, n;
	int w;

	if (s->trace == NULL || len < 4)
		return;
	w = snprintf(line, sizeof(line), "> %02X %02X %02X %02X", c[0], c[1], c[2], c[3]);
	n = w > 0 ? (size_t)w : 0;
	if (ins_secret(c[1])) {
		snprintf(line + n, sizeof(line) - n, " Lc=%zu [data hidden]",
		         len > 5 ? len - 5 : 0);
	} else {
		for (i = 4; i < len && n + 4 < sizeof(line) - 8; i++)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %02X", c[i]);
		if (i < len)
			snprintf(line + n, sizeof(line) - n, " ...");
	}
	s->trace(s->trace_arg, line);
}

void
card__trace_rapdu(struct card_session *s, uint16_t sw, size_t data_len)
{
	char line[64];

	if (s->trace == NULL)
		return;
	snprintf(line, sizeof(line), "< %04X (%zu data bytes)", sw, data_len);
	s->trace(s->trace_arg, line);
}

/* One exchange: sends cbuf[0..clen), leaves data in rbuf and returns SW. */
static enum card_err
exchange(struct card_session *s, size_t clen, size_t *dlen, uint16_t *sw)
{
	size_t rlen = sizeof(s->rbuf);
	uint32_t raw = 0;
	enum card_err e;

	card__trace_apdu(s, s->cbuf, clen);
	e = s->xfer(s->ctx, s->cbuf, clen, s->rbuf, &rlen, &raw);
	if (e != CARD_OK) {
		s->last_raw = raw;
		s->last_sw = 0;
		return e;
	}
	if (rlen > sizeof(s->rbuf))
		return CARD_E_PROTO;
	if ((e = card_rapdu_parse(s->rbuf, rlen, dlen, sw)) != CARD_OK)
		return e;
	s->last_sw = *sw;
	card__trace_rapdu(s, *sw, *dlen);
	return CARD_OK;
}

static enum card_err
append(uint8_t *out, size_t cap, size_t *len, const uint8_t *src, size_t n)
{
	if (n > cap - *len)
		return CARD_E_TOOBIG;
	if (n > 0)
		memcpy(out + *len, src, n);
	*len += n;
	return CARD_OK;
}

/* 61xx: GET RESPONSE until another SW, at most CARD_GETRESP_ROUNDS rounds (P16). */
static enum card_err
get_response_loop(struct card_session *s, uint8_t cla, uint8_t *out, size_t cap, size_t *len,
                  uint16_t *sw)
{
	unsigned rounds = 0;
	size_t dlen;
	enum card_err e;

	while ((*sw >> 8) == 0x61) {
		if (++rounds > CARD_GETRESP_ROUNDS)
			return CARD_E_PROTO;
		s->cbuf[0] = cla & 0x03; /* keep the logical channel only */
		s->cbuf[1] = 0xC0;
		s->cbuf[2] = 0x00;
		s->cbuf[3] = 0x00;
		s->cbuf[4] = (uint8_t)*sw; /* 00 = 256 */
		if ((e = exchange(s, 5, &dlen, sw)) != CARD_OK)
			return e;
		if ((e = append(out, cap, len, s->rbuf, dlen)) != CARD_OK)
			return e;
	}
	return CARD_OK;
}

/* Chaining (CLA | 0x10 on all but the last block) for data > 255 without extended APDUs. */
static enum card_err
send_chain_head(struct card_session *s, const struct card_apdu *a, size_t *done, uint16_t *sw)
{
	struct card_apdu part = *a;
	size_t clen, dlen;
	enum card_err e;

	*sw = 0x9000;
	while (a->lc - *done > 255) {
		part.cla = a->cla | 0x10;
		part.data = a->data + *done;
		part.lc = 255;
		part.le = 0;
		if ((e = card_apdu_encode(&part, false, s->cbuf, sizeof(s->cbuf), &clen)) !=
		    CARD_OK)
			return e;
		if ((e = exchange(s, clen, &dlen, sw)) != CARD_OK)
			return e;
		if (*sw != 0x9000)
			return CARD_OK; /* the card refused a block: that SW is the answer */
		*done += 255;
	}
	return CARD_OK;
}

enum card_err
card_transmit(struct card_session *s, const struct card_apdu *a, uint8_t *out, size_t cap,
              size_t *out_len, uint16_t *sw)
{
	struct card_apdu cmd = *a;
	bool ext_ok = s->prof == NULL || (s->prof->caps & CARD_CAP_EXTENDED) != 0;
	bool chain_ok = s->prof != NULL && (s->prof->caps & CARD_CAP_CHAINING) != 0;
	size_t clen, dlen, len = 0, done = 0;
	bool resent = false;
	enum card_err e;

	if (!ext_ok && a->lc > 255) {
		if (!chain_ok)
			return CARD_E_TOOBIG;
		if ((e = send_chain_head(s, a, &done, sw)) != CARD_OK)
			goto out;
		if (*sw != 0x9000) {
			*out_len = 0;
			goto out;
		}
		cmd.data = a->data + done;
		cmd.lc = a->lc - done;
	}
	if (!ext_ok && cmd.le > 256)
		cmd.le = 256; /* short: ask 00 and let 61xx bring the rest */
	for (;;) {
		if ((e = card_apdu_encode(&cmd, ext_ok, s->cbuf, sizeof(s->cbuf), &clen)) !=
		    CARD_OK)
			goto out;
		if ((e = exchange(s, clen, &dlen, sw)) != CARD_OK)
			goto out;
		if ((*sw >> 8) != 0x6C)
			break;
		/* 6Cxx: wrong Le, resend once with Le = xx; a second 6Cxx is a card fault (P16). */
		if (resent) {
			e = CARD_E_PROTO;
			goto out;
		}
		resent = true;
		cmd.le = (*sw & 0xFF) ? (*sw & 0xFF) : 256;
	}
	if ((e = append(out, cap, &len, s->rbuf, dlen)) != CARD_OK)
		goto out;
	if ((e = get_response_loop(s, a->cla, out, cap, &len, sw)) != CARD_OK)
		goto out;
	*out_len = len;
out:
	OPENSSL_cleanse(s->cbuf, sizeof(s->cbuf) < 600 ? sizeof(s->cbuf) : 600);
	return e;
}
