/* smsc_pdu.c -- SMPP 3.4 PDU codec for the ESME subset (TELECOM.md 1.1, 1.6).
 *
 * Built against the OpenSIPS proto_smpp bugs (255-octet sm_length into 254 bytes, unbounded
 * string scans, a NUL one past the buffer): every read goes through a cursor bounded by
 * command_length, C-Octet scans stop at min(field max, what is left), and the cursor must end
 * exactly at command_length.
 */
#include <string.h>

#include "smsc_int.h"

/* C-Octet String maxima including the NUL (SMPP 3.4 section 4). */
#define MAX_SYSTEM_ID   16u
#define MAX_PASSWORD    9u
#define MAX_SYSTEM_TYPE 13u
#define MAX_ADDR_RANGE  41u
#define MAX_SERVICE     6u
#define MAX_ADDR        21u
#define MAX_TIME        17u
#define MAX_MSGID       65u

/* Reads a C-Octet string of at most max octets including its NUL. No NUL within the bound is a
 * structure error: we never scan past the field or the PDU. */
static bool
get_cstr(struct smsc__cur *c, size_t max, const char **s, size_t *len)
{
	size_t lim = c->left < max ? c->left : max;
	const uint8_t *nul = memchr(c->p, 0, lim);

	if (nul == NULL)
		return false;
	*s = (const char *)c->p;
	*len = (size_t)(nul - c->p);
	c->p += *len + 1;
	c->left -= *len + 1;
	return true;
}

static bool
get_tlvs(struct smsc__cur *c, struct smsc_pdu *pdu)
{
	while (c->left > 0) {
		uint16_t tag, len;
		const uint8_t *val;

		/* A TLV needs its 4 header octets and len <= what is left (TELECOM.md 1.6). */
		if (!smsc__get_u16(c, &tag) || !smsc__get_u16(c, &len) ||
		    !smsc__get_bytes(c, len, &val))
			return false;
		if (pdu->tlv_count < SMSC_PDU_MAX_TLVS) {
			pdu->tlv[pdu->tlv_count].tag = tag;
			pdu->tlv[pdu->tlv_count].len = len;
			pdu->tlv[pdu->tlv_count].val = val;
			pdu->tlv_count++;
		} else {
			pdu->tlv_dropped++;
		}
	}
	return true;
}

static bool
dec_bind(struct smsc__cur *c, struct smsc_pdu *pdu)
{
	return get_cstr(c, MAX_SYSTEM_ID, &pdu->system_id, &pdu->system_id_len) &&
	       get_cstr(c, MAX_PASSWORD, &pdu->password, &pdu->password_len) &&
	       get_cstr(c, MAX_SYSTEM_TYPE, &pdu->system_type, &pdu->system_type_len) &&
	       smsc__get_u8(c, &pdu->interface_version) && smsc__get_u8(c, &pdu->addr_ton) &&
	       smsc__get_u8(c, &pdu->addr_npi) &&
	       get_cstr(c, MAX_ADDR_RANGE, &pdu->address_range, &pdu->address_range_len) &&
	       get_tlvs(c, pdu);
}

static bool
dec_sm(struct smsc__cur *c, struct smsc_pdu *pdu)
{
	uint8_t sm_len;

	if (!get_cstr(c, MAX_SERVICE, &pdu->service_type, &pdu->service_type_len) ||
	    !smsc__get_u8(c, &pdu->source_addr_ton) || !smsc__get_u8(c, &pdu->source_addr_npi) ||
	    !get_cstr(c, MAX_ADDR, &pdu->source_addr, &pdu->source_addr_len) ||
	    !smsc__get_u8(c, &pdu->dest_addr_ton) || !smsc__get_u8(c, &pdu->dest_addr_npi) ||
	    !get_cstr(c, MAX_ADDR, &pdu->dest_addr, &pdu->dest_addr_len) ||
	    !smsc__get_u8(c, &pdu->esm_class) || !smsc__get_u8(c, &pdu->protocol_id) ||
	    !smsc__get_u8(c, &pdu->priority_flag) ||
	    !get_cstr(c, MAX_TIME, &pdu->schedule_delivery_time,
	              &pdu->schedule_delivery_time_len) ||
	    !get_cstr(c, MAX_TIME, &pdu->validity_period, &pdu->validity_period_len) ||
	    !smsc__get_u8(c, &pdu->registered_delivery) ||
	    !smsc__get_u8(c, &pdu->replace_if_present_flag) ||
	    !smsc__get_u8(c, &pdu->data_coding) || !smsc__get_u8(c, &pdu->sm_default_msg_id) ||
	    !smsc__get_u8(c, &sm_len))
		return false;
	/* sm_length <= min(254, remaining): 255 is the OpenSIPS 3846 overflow. */
	if (sm_len > SMSC_SM_MAX || !smsc__get_bytes(c, sm_len, &pdu->short_message))
		return false;
	pdu->sm_length = sm_len;
	return get_tlvs(c, pdu);
}

/* Resps: an error status needs no body and any body is ignored (real SMSCs send both). */
static bool
dec_resp_id(struct smsc__cur *c, struct smsc_pdu *pdu, size_t max)
{
	if (pdu->command_status != 0 || c->left == 0) {
		pdu->has_body = c->left > 0;
		c->left = 0;
		return true;
	}
	pdu->has_body = true;
	if (pdu->command_id == SMSC_CMD_BIND_TRX_RESP)
		return get_cstr(c, max, &pdu->system_id, &pdu->system_id_len) && get_tlvs(c, pdu);
	return get_cstr(c, max, &pdu->message_id, &pdu->message_id_len) && get_tlvs(c, pdu);
}

enum smsc_err
smsc_pdu_frame(const uint8_t *buf, size_t len, size_t max_pdu, size_t *pdu_len)
{
	uint32_t clen;

	if (len < 4)
		return SMSC_E_SHORT;
	clen = smsc__rd32(buf);
	if (clen < SMSC_PDU_HDR_LEN || clen > max_pdu) {
		*pdu_len = clen;
		return SMSC_E_LENGTH;
	}
	if (len < clen)
		return SMSC_E_SHORT;
	*pdu_len = clen;
	return SMSC_OK;
}

static enum smsc_err
dec_body(struct smsc__cur *c, struct smsc_pdu *p)
{
	bool ok;

	switch (p->command_id) {
	case SMSC_CMD_BIND_TRX:
		ok = dec_bind(c, p);
		break;
	case SMSC_CMD_SUBMIT_SM:
	case SMSC_CMD_DELIVER_SM:
		ok = dec_sm(c, p);
		break;
	case SMSC_CMD_BIND_TRX_RESP:
		ok = dec_resp_id(c, p, MAX_SYSTEM_ID);
		break;
	case SMSC_CMD_SUBMIT_SM_RESP:
	case SMSC_CMD_DELIVER_SM_RESP:
		ok = dec_resp_id(c, p, MAX_MSGID);
		break;
	case SMSC_CMD_ENQUIRE_LINK_RESP:
	case SMSC_CMD_UNBIND_RESP:
	case SMSC_CMD_GENERIC_NACK:
		/* Header only; an error resp may carry junk we ignore. */
		ok = c->left == 0 || p->command_status != 0;
		c->left = 0;
		break;
	case SMSC_CMD_ENQUIRE_LINK:
	case SMSC_CMD_UNBIND:
		ok = c->left == 0;
		break;
	case SMSC_CMD_ALERT_NOTIFICATION:
		ok = true; /* ignored (TELECOM.md 1.1); body not parsed */
		c->left = 0;
		break;
	default:
		return SMSC_E_CMDID;
	}
	return ok && c->left == 0 ? SMSC_OK : SMSC_E_STRUCT;
}

enum smsc_err
smsc_pdu_decode(const uint8_t *buf, size_t len, struct smsc_pdu *out)
{
	struct smsc__cur c = { buf, len };
	struct smsc_pdu p;
	uint32_t clen;
	enum smsc_err rc;

	memset(&p, 0, sizeof(p));
	if (!smsc__get_u32(&c, &clen) || clen != len || len < SMSC_PDU_HDR_LEN)
		return SMSC_E_LENGTH;
	if (!smsc__get_u32(&c, &p.command_id) || !smsc__get_u32(&c, &p.command_status) ||
	    !smsc__get_u32(&c, &p.sequence))
		return SMSC_E_LENGTH;
	if ((rc = dec_body(&c, &p)) != SMSC_OK)
		return rc;
	*out = p;
	return SMSC_OK;
}

const struct smsc_tlv *
smsc_pdu_tlv(const struct smsc_pdu *pdu, uint16_t tag)
{
	for (size_t i = 0; i < pdu->tlv_count; i++)
		if (pdu->tlv[i].tag == tag)
			return &pdu->tlv[i];
	return NULL;
}

/* Writes s[len] and its NUL; false when it would not fit its field. */
static bool
put_cstr(struct smsc__wr *w, const char *s, size_t len, size_t max)
{
	if (len + 1 > max || (len > 0 && (s == NULL || memchr(s, 0, len) != NULL)))
		return false;
	smsc__put(w, s, len);
	smsc__put_u8(w, 0);
	return true;
}

static bool
enc_tlvs(struct smsc__wr *w, const struct smsc_pdu *p)
{
	if (p->tlv_count > SMSC_PDU_MAX_TLVS)
		return false;
	for (size_t i = 0; i < p->tlv_count; i++) {
		if (p->tlv[i].len > 0 && p->tlv[i].val == NULL)
			return false;
		smsc__put_u16(w, p->tlv[i].tag);
		smsc__put_u16(w, p->tlv[i].len);
		smsc__put(w, p->tlv[i].val, p->tlv[i].len);
	}
	return true;
}

static bool
enc_sm(struct smsc__wr *w, const struct smsc_pdu *p)
{
	if (p->sm_length > SMSC_SM_MAX || (p->sm_length > 0 && p->short_message == NULL))
		return false;
	if (!put_cstr(w, p->service_type, p->service_type_len, MAX_SERVICE))
		return false;
	smsc__put_u8(w, p->source_addr_ton);
	smsc__put_u8(w, p->source_addr_npi);
	if (!put_cstr(w, p->source_addr, p->source_addr_len, MAX_ADDR))
		return false;
	smsc__put_u8(w, p->dest_addr_ton);
	smsc__put_u8(w, p->dest_addr_npi);
	if (!put_cstr(w, p->dest_addr, p->dest_addr_len, MAX_ADDR))
		return false;
	smsc__put_u8(w, p->esm_class);
	smsc__put_u8(w, p->protocol_id);
	smsc__put_u8(w, p->priority_flag);
	if (!put_cstr(w, p->schedule_delivery_time, p->schedule_delivery_time_len, MAX_TIME) ||
	    !put_cstr(w, p->validity_period, p->validity_period_len, MAX_TIME))
		return false;
	smsc__put_u8(w, p->registered_delivery);
	smsc__put_u8(w, p->replace_if_present_flag);
	smsc__put_u8(w, p->data_coding);
	smsc__put_u8(w, p->sm_default_msg_id);
	smsc__put_u8(w, (uint8_t)p->sm_length);
	smsc__put(w, p->short_message, p->sm_length);
	return enc_tlvs(w, p);
}

static bool
enc_body(struct smsc__wr *w, const struct smsc_pdu *p)
{
	switch (p->command_id) {
	case SMSC_CMD_BIND_TRX:
		if (!put_cstr(w, p->system_id, p->system_id_len, MAX_SYSTEM_ID) ||
		    !put_cstr(w, p->password, p->password_len, MAX_PASSWORD) ||
		    !put_cstr(w, p->system_type, p->system_type_len, MAX_SYSTEM_TYPE))
			return false;
		smsc__put_u8(w, p->interface_version);
		smsc__put_u8(w, p->addr_ton);
		smsc__put_u8(w, p->addr_npi);
		return put_cstr(w, p->address_range, p->address_range_len, MAX_ADDR_RANGE) &&
		       enc_tlvs(w, p);
	case SMSC_CMD_BIND_TRX_RESP:
		/* SMPP 3.4 4.1.6: no body when the bind failed. */
		if (p->command_status != 0)
			return true;
		return put_cstr(w, p->system_id, p->system_id_len, MAX_SYSTEM_ID) && enc_tlvs(w, p);
	case SMSC_CMD_SUBMIT_SM:
	case SMSC_CMD_DELIVER_SM:
		return enc_sm(w, p);
	case SMSC_CMD_SUBMIT_SM_RESP:
	case SMSC_CMD_DELIVER_SM_RESP:
		/* TELECOM.md 1.1: no body when status != 0. */
		if (p->command_status != 0)
			return true;
		return put_cstr(w, p->message_id, p->message_id_len, MAX_MSGID) && enc_tlvs(w, p);
	case SMSC_CMD_ENQUIRE_LINK:
	case SMSC_CMD_ENQUIRE_LINK_RESP:
	case SMSC_CMD_UNBIND:
	case SMSC_CMD_UNBIND_RESP:
	case SMSC_CMD_GENERIC_NACK:
		return true;
	default:
		return false;
	}
}

enum smsc_err
smsc_pdu_encode(const struct smsc_pdu *pdu, uint8_t *buf, size_t cap, size_t *out_len)
{
	struct smsc__wr w = { buf, cap, 0, true };

	smsc__put_u32(&w, 0); /* command_length, written last */
	smsc__put_u32(&w, pdu->command_id);
	smsc__put_u32(&w, pdu->command_status);
	smsc__put_u32(&w, pdu->sequence);
	if (!enc_body(&w, pdu))
		return SMSC_E_INVAL;
	if (!w.ok)
		return SMSC_E_SPACE;
	if (w.len > UINT32_MAX)
		return SMSC_E_INVAL;
	smsc__be32(buf, (uint32_t)w.len);
	*out_len = w.len;
	return SMSC_OK;
}

enum smsc_class
smsc_status_class(uint32_t status, enum smsc_class vendor_class)
{
	if (status >= 0x400 && status <= 0x4FF)
		return vendor_class == SMSC_CLASS_OK ? SMSC_CLASS_PERMANENT : vendor_class;
	switch (status) {
	case SMSC_ST_OK:
		return SMSC_CLASS_OK;
	case SMSC_ST_RINVMSGLEN:
	case SMSC_ST_RINVCMDLEN:
	case SMSC_ST_RINVCMDID:
		return SMSC_CLASS_OUR_BUG;
	case SMSC_ST_RINVBNDSTS:
		return SMSC_CLASS_REBIND;
	case SMSC_ST_RALYBND:
		return SMSC_CLASS_ALREADY;
	case SMSC_ST_RSYSERR:
	case SMSC_ST_RMSGQFUL:
	case SMSC_ST_RX_T_APPN:
		return SMSC_CLASS_TEMP;
	case SMSC_ST_RTHROTTLED:
		return SMSC_CLASS_THROTTLED;
	case SMSC_ST_RBINDFAIL:
	case SMSC_ST_RINVPASWD:
	case SMSC_ST_RINVSYSID:
	case SMSC_ST_RINVEXPIRY:
		return SMSC_CLASS_CONFIG;
	default:
		return SMSC_CLASS_PERMANENT;
	}
}

void
smsc__validity_rel(uint32_t secs, char out[17])
{
	/* SMPP 3.4 7.1.1.1 relative form YYMMDDhhmmss000R. */
	uint32_t v[6];
	uint32_t s = secs;

	v[5] = s % 60;
	s /= 60;
	v[4] = s % 60;
	s /= 60;
	v[3] = s % 24;
	s /= 24;
	v[2] = s % 30;
	s /= 30;
	v[1] = s % 12;
	v[0] = (s / 12) % 100;
	for (int i = 0; i < 6; i++) {
		out[2 * i] = (char)('0' + v[i] / 10);
		out[2 * i + 1] = (char)('0' + v[i] % 10);
	}
	memcpy(out + 12, "000R", 4);
	out[16] = 0;
}
