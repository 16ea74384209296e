/* smsc_kv1.c -- the kyso-v1 applet payload (TELECOM.md 3.3): header ver | type | txn_ref(8),
 * then TLVs tag(1) BER-length value. Unknown tags skipped; duplicate or missing mandatory tags
 * are BAD_REQUEST; payload <= 1024 octets. */
#include <string.h>

#include "smsc_int.h"

#define HDR_LEN 10u

static void
put_tlv(struct smsc__wr *w, uint8_t tag, const uint8_t *v, size_t len)
{
	smsc__put_u8(w, tag);
	if (len < 0x80) {
		smsc__put_u8(w, (uint8_t)len);
	} else if (len <= 0xFF) {
		smsc__put_u8(w, 0x81);
		smsc__put_u8(w, (uint8_t)len);
	} else {
		smsc__put_u8(w, 0x82);
		smsc__put_u16(w, (uint16_t)len);
	}
	smsc__put(w, v, len);
}

static void
put_hdr(struct smsc__wr *w, uint8_t type, uint64_t ref)
{
	smsc__put_u8(w, SMSC_KV1_VERSION);
	smsc__put_u8(w, type);
	for (int i = 7; i >= 0; i--)
		smsc__put_u8(w, (uint8_t)(ref >> (8 * i)));
}

static enum smsc_err
finish(const struct smsc__wr *w, size_t *out_len)
{
	if (!w->ok)
		return SMSC_E_SPACE;
	if (w->len > SMSC_KV1_MAX)
		return SMSC_E_TOOBIG;
	*out_len = w->len;
	return SMSC_OK;
}

enum smsc_err
smsc_kv1_req_encode(const struct smsc_kv1_req *req, uint8_t *out, size_t cap, size_t *out_len)
{
	struct smsc__wr w = { out, cap, 0, true };
	uint8_t b[8], disp[SMSC_KV1_MAX];

	if ((req->hash_alg != 0) == (req->digest_info != NULL) ||
	    req->text_len > SMSC_KV1_MAX - 1 || req->hash_len > SMSC_KV1_MAX ||
	    req->digest_info_len > SMSC_KV1_MAX || (req->text_len > 0 && req->text == NULL) ||
	    (req->hash_alg != 0 && req->hash == NULL))
		return SMSC_E_INVAL;
	put_hdr(&w, SMSC_KV1_SIGN, req->txn_ref);
	put_tlv(&w, 0x10, &req->key_ref, 1);
	if (req->hash_alg != 0) {
		put_tlv(&w, 0x11, &req->hash_alg, 1);
		put_tlv(&w, 0x12, req->hash, req->hash_len);
	} else {
		put_tlv(&w, 0x13, req->digest_info, req->digest_info_len);
	}
	disp[0] = req->dcs;
	if (req->text_len > 0)
		memcpy(disp + 1, req->text, req->text_len);
	put_tlv(&w, 0x14, disp, req->text_len + 1);
	if (req->has_not_after) {
		for (int i = 0; i < 8; i++)
			b[i] = (uint8_t)(req->not_after >> (56 - 8 * i));
		put_tlv(&w, 0x15, b, 8);
	}
	return finish(&w, out_len);
}

enum smsc_err
smsc_kv1_rsp_encode(const struct smsc_kv1_rsp *rsp, uint8_t *out, size_t cap, size_t *out_len)
{
	struct smsc__wr w = { out, cap, 0, true };

	if (rsp->sig_len > SMSC_KV1_MAX || (rsp->sig_len > 0 && rsp->sig == NULL))
		return SMSC_E_INVAL;
	put_hdr(&w, SMSC_KV1_SIGN_RESP, rsp->txn_ref);
	put_tlv(&w, 0x20, &rsp->status, 1);
	if (rsp->has_pin_tries)
		put_tlv(&w, 0x21, &rsp->pin_tries, 1);
	if (rsp->sig_len > 0)
		put_tlv(&w, 0x22, rsp->sig, rsp->sig_len);
	if (rsp->has_terminal_result)
		put_tlv(&w, 0x23, &rsp->terminal_result, 1);
	return finish(&w, out_len);
}

/* Header and one TLV at a time; BER lengths < 80, 81 xx, 82 xxxx. */
static bool
get_hdr(struct smsc__cur *c, uint8_t type, uint64_t *ref)
{
	uint8_t ver, t;
	const uint8_t *b;

	if (c->left > SMSC_KV1_MAX || !smsc__get_u8(c, &ver) || !smsc__get_u8(c, &t) ||
	    ver != SMSC_KV1_VERSION || t != type || !smsc__get_bytes(c, 8, &b))
		return false;
	*ref = 0;
	for (int i = 0; i < 8; i++)
		*ref = (*ref << 8) | b[i];
	return true;
}

static bool
get_tlv(struct smsc__cur *c, uint8_t *tag, const uint8_t **v, size_t *len)
{
	uint8_t l0, l1;
	uint16_t l2;

	if (!smsc__get_u8(c, tag) || !smsc__get_u8(c, &l0))
		return false;
	if (l0 < 0x80) {
		*len = l0;
	} else if (l0 == 0x81) {
		if (!smsc__get_u8(c, &l1))
			return false;
		*len = l1;
	} else if (l0 == 0x82) {
		if (!smsc__get_u16(c, &l2))
			return false;
		*len = l2;
	} else {
		return false;
	}
	return smsc__get_bytes(c, *len, v);
}

/* Marks tag as seen; false on a duplicate (tags of interest are 0x10..0x2F). */
static bool
seen_once(uint32_t *seen, uint8_t tag)
{
	uint32_t bit;

	if (tag < 0x10 || tag > 0x2F)
		return true;
	bit = 1u << (tag - 0x10);
	if (*seen & bit)
		return false;
	*seen |= bit;
	return true;
}

static bool
req_field(struct smsc_kv1_req *r, uint8_t tag, const uint8_t *v, size_t len)
{
	switch (tag) {
	case 0x10:
		if (len != 1)
			return false;
		r->key_ref = v[0];
		return true;
	case 0x11:
		if (len != 1 || v[0] < 1 || v[0] > 3)
			return false;
		r->hash_alg = v[0];
		return true;
	case 0x12:
		r->hash = v;
		r->hash_len = len;
		return len > 0;
	case 0x13:
		r->digest_info = v;
		r->digest_info_len = len;
		return len > 0;
	case 0x14:
		if (len < 1)
			return false;
		r->dcs = v[0];
		r->text = v + 1;
		r->text_len = len - 1;
		return true;
	case 0x15:
		if (len < 1 || len > 8)
			return false;
		r->has_not_after = true;
		r->not_after = 0;
		for (size_t i = 0; i < len; i++)
			r->not_after = (r->not_after << 8) | v[i];
		return true;
	default:
		return true; /* unknown tags skipped */
	}
}

enum smsc_err
smsc_kv1_req_decode(const uint8_t *buf, size_t len, struct smsc_kv1_req *out)
{
	struct smsc__cur c = { buf, len };
	struct smsc_kv1_req r;
	uint32_t seen = 0;

	memset(&r, 0, sizeof(r));
	if (!get_hdr(&c, SMSC_KV1_SIGN, &r.txn_ref))
		return SMSC_E_BADREQ;
	while (c.left > 0) {
		uint8_t tag;
		const uint8_t *v;
		size_t l;

		if (!get_tlv(&c, &tag, &v, &l) || !seen_once(&seen, tag) ||
		    !req_field(&r, tag, v, l))
			return SMSC_E_BADREQ;
	}
	/* Mandatory: 10, 14, and either 11 with 12 or 13 alone. */
	if (!(seen & (1u << 0)) || !(seen & (1u << 4)))
		return SMSC_E_BADREQ;
	if (r.digest_info != NULL ? r.hash_alg != 0 || r.hash != NULL
	                          : r.hash_alg == 0 || r.hash == NULL)
		return SMSC_E_BADREQ;
	*out = r;
	return SMSC_OK;
}

enum smsc_err
smsc_kv1_rsp_decode(const uint8_t *buf, size_t len, struct smsc_kv1_rsp *out)
{
	struct smsc__cur c = { buf, len };
	struct smsc_kv1_rsp r;
	uint32_t seen = 0;

	memset(&r, 0, sizeof(r));
	if (!get_hdr(&c, SMSC_KV1_SIGN_RESP, &r.txn_ref))
		return SMSC_E_BADREQ;
	while (c.left > 0) {
		uint8_t tag;
		const uint8_t *v;
		size_t l;

		if (!get_tlv(&c, &tag, &v, &l) || !seen_once(&seen, tag))
			return SMSC_E_BADREQ;
		if ((tag == 0x20 || tag == 0x21 || tag == 0x23) && l != 1)
			return SMSC_E_BADREQ;
		if (tag == 0x20) {
			r.status = v[0];
		} else if (tag == 0x21) {
			r.has_pin_tries = true;
			r.pin_tries = v[0];
		} else if (tag == 0x22) {
			r.sig = v;
			r.sig_len = l;
		} else if (tag == 0x23) {
			r.has_terminal_result = true;
			r.terminal_result = v[0];
		}
	}
	if (!(seen & (1u << (0x20 - 0x10))))
		return SMSC_E_BADREQ;
	*out = r;
	return SMSC_OK;
}
