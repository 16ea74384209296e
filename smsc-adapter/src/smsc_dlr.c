/* smsc_dlr.c -- delivery receipts (SMPP 3.4 Appendix B, TELECOM.md 1.3). DLRs are advisory:
 * the transaction's outcome comes from the PoR. TLVs 001E / 0427 / 0423 first, then the text,
 * parsed key by key with case-insensitive keys ("Text:" occurs), dates 10 or 12 digits. */
#include <string.h>
#include <strings.h>

#include "smsc_int.h"

static const char *const state_names[] = {
	"NONE",    "ENROUTE", "DELIVRD", "EXPIRED", "DELETED",
	"UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD",
};

const char *
smsc_msg_state_name(enum smsc_msg_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "?";
}

static enum smsc_msg_state
state_from_text(const uint8_t *v, size_t n)
{
	for (size_t i = 1; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strlen(state_names[i]) == n &&
		    strncasecmp((const char *)v, state_names[i], n) == 0)
			return (enum smsc_msg_state)i;
	if (n == 9 && strncasecmp((const char *)v, "DELIVERED", 9) == 0)
		return SMSC_MS_DELIVERED;
	return SMSC_MS_UNKNOWN;
}

static const char *const keys[] = { "id",        "sub",  "dlvrd", "submit date",
	                            "done date", "stat", "err",   "text" };

/* Length of the key at s (then ':'), its index in *k, or 0. */
static size_t
match_key(const uint8_t *s, size_t left, int *k)
{
	for (int i = 0; i < (int)(sizeof(keys) / sizeof(keys[0])); i++) {
		size_t n = strlen(keys[i]);

		if (left > n && s[n] == ':' && strncasecmp((const char *)s, keys[i], n) == 0) {
			*k = i;
			return n + 1;
		}
	}
	return 0;
}

static bool
all_digits(const uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

static bool
text_field(struct smsc_dlr *d, int k, const uint8_t *v, size_t n, bool *have_id)
{
	switch (k) {
	case 0:
		if (n == 0 || n > SMSC_MSGID_MAX || memchr(v, 0, n) != NULL)
			return false;
		memcpy(d->id, v, n);
		d->id[n] = 0;
		*have_id = true;
		return true;
	case 3:
	case 4:
		return (n == 10 || n == 12) && all_digits(v, n);
	case 5:
		d->state = state_from_text(v, n);
		return true;
	case 6:
		if (n >= sizeof(d->err))
			n = sizeof(d->err) - 1;
		memcpy(d->err, v, n);
		d->err[n] = 0;
		return true;
	default:
		return true;
	}
}

enum smsc_err
smsc_dlr_parse_text(const uint8_t *text, size_t len, struct smsc_dlr *out)
{
	struct smsc_dlr d;
	bool have_id = false;
	size_t i = 0;

	memset(&d, 0, sizeof(d));
	while (i < len) {
		int k;
		size_t kl, start;

		while (i < len && text[i] == ' ')
			i++;
		if (i >= len)
			break;
		if ((kl = match_key(text + i, len - i, &k)) == 0) {
			while (i < len && text[i] != ' ')
				i++; /* unknown word: skipped */
			continue;
		}
		i += kl;
		start = i;
		if (k == 7) /* text: runs to the end */
			break;
		while (i < len && text[i] != ' ')
			i++;
		if (!text_field(&d, k, text + start, i - start, &have_id))
			return SMSC_E_STRUCT;
	}
	if (!have_id)
		return SMSC_E_NOTFOUND;
	*out = d;
	return SMSC_OK;
}

enum smsc_err
smsc_dlr_parse(const struct smsc_pdu *p, struct smsc_dlr *out)
{
	const struct smsc_tlv *id = smsc_pdu_tlv(p, SMSC_TLV_RECEIPTED_MESSAGE_ID);
	const struct smsc_tlv *st = smsc_pdu_tlv(p, SMSC_TLV_MESSAGE_STATE);
	const struct smsc_tlv *ne = smsc_pdu_tlv(p, SMSC_TLV_NETWORK_ERROR_CODE);
	const struct smsc_tlv *pl = smsc_pdu_tlv(p, SMSC_TLV_MESSAGE_PAYLOAD);
	const uint8_t *txt = p->short_message;
	size_t txt_len = p->sm_length;
	struct smsc_dlr d;
	enum smsc_err rc;

	if (txt_len == 0 && pl != NULL) {
		txt = pl->val;
		txt_len = pl->len;
	}
	rc = txt_len > 0 ? smsc_dlr_parse_text(txt, txt_len, &d) : SMSC_E_NOTFOUND;
	if (rc != SMSC_OK)
		memset(&d, 0, sizeof(d));
	if (id != NULL) {
		/* C-Octet String in a TLV: the NUL, if any, is not part of the id. */
		size_t n = id->len;
		const uint8_t *nul = n ? memchr(id->val, 0, n) : NULL;

		if (nul != NULL)
			n = (size_t)(nul - id->val);
		if (n == 0 || n > SMSC_MSGID_MAX)
			return SMSC_E_STRUCT;
		memcpy(d.id, id->val, n);
		d.id[n] = 0;
	} else if (rc != SMSC_OK) {
		return rc;
	}
	if (st != NULL && st->len == 1 && st->val[0] >= 1 && st->val[0] <= 8)
		d.state = (enum smsc_msg_state)st->val[0];
	if (ne != NULL && ne->len == 3) {
		d.has_net_err = true;
		d.net_err_type = ne->val[0];
		d.net_err_code = (uint16_t)((ne->val[1] << 8) | ne->val[2]);
	}
	*out = d;
	return SMSC_OK;
}

void
smsc_msgid_values(const char *id, size_t len, uint64_t *hex, bool *hex_ok, uint64_t *dec,
                  bool *dec_ok)
{
	uint64_t h = 0, d = 0;
	bool hok = len > 0 && len <= 16, dok = len > 0 && len <= 20;

	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		unsigned v;

		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = (unsigned)(c - 'A' + 10);
		else
			v = 99;
		if (v > 15)
			hok = false;
		else
			h = (h << 4) | v;
		if (v > 9 || d > (UINT64_MAX - v) / 10)
			dok = false;
		else
			d = d * 10 + v;
	}
	*hex = h;
	*hex_ok = hok;
	*dec = d;
	*dec_ok = dok;
}
