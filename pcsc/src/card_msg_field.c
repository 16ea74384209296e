/* card_msg_field.c -- strict field getters and base64 for the agent message codec. Every cap is
 * checked before anything is copied or decoded (STYLE.md 2.10). */
#include <stdlib.h>
#include <string.h>

#include "card_msg_int.h"

bool
msg_fail(struct msg_ctx *c, enum card_msg_err e, const char *field)
{
	if (c->err == CARD_MSG_OK) {
		c->err = e;
		c->field = field != NULL ? field : "";
	}
	return false;
}

static bool
char_ok(enum msg_chars ch, unsigned char b)
{
	switch (ch) {
	case MSG_CH_ID:
		return b >= 0x20 && b <= 0x7e;
	case MSG_CH_HEX:
		return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f');
	case MSG_CH_HEXUP:
		return (b >= '0' && b <= '9') || (b >= 'A' && b <= 'F');
	case MSG_CH_WORD:
		return (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '_' || b == '-';
	case MSG_CH_CODE:
		return (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
	case MSG_CH_TEXT:
		return b >= 0x20 && b != 0x7f; /* jansson has checked the UTF-8 itself */
	}
	return false;
}

bool
msg_get_str(struct msg_ctx *c, json_t *o, const char *key, bool required, enum msg_chars ch,
            size_t min, size_t max, size_t max_chars, char *out, size_t cap)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	size_t len, chars = 0;

	out[0] = '\0';
	if (v == NULL)
		return required ? msg_fail(c, CARD_MSG_E_MISSING, key) : true;
	if (!json_is_string(v))
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len < min || len > max || len >= cap || strlen(s) != len) /* embedded \u0000 */
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)s[i];

		if (!char_ok(ch, b))
			return msg_fail(c, CARD_MSG_E_FIELD, key);
		if ((b & 0xc0) != 0x80)
			chars++;
	}
	if (max_chars > 0 && chars > max_chars)
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	memcpy(out, s, len + 1);
	return true;
}

bool
msg_get_int(struct msg_ctx *c, json_t *o, const char *key, bool required, int64_t min, int64_t max,
            int64_t *out)
{
	json_t *v = json_object_get(o, key);
	json_int_t n;

	if (v == NULL)
		return required ? msg_fail(c, CARD_MSG_E_MISSING, key) : true;
	if (!json_is_integer(v))
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	n = json_integer_value(v);
	if (n < min || n > max)
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	*out = n;
	return true;
}

bool
msg_get_b64(struct msg_ctx *c, json_t *o, const char *key, size_t max, uint8_t *out, uint8_t **heap,
            size_t *len)
{
	json_t *v = json_object_get(o, key);
	size_t tlen;
	long n;

	if (v == NULL)
		return msg_fail(c, CARD_MSG_E_MISSING, key);
	if (!json_is_string(v))
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	tlen = json_string_length(v);
	/* The text length bounds the decoded length: check before any allocation. */
	if (tlen == 0 || tlen % 4 != 0 || tlen / 4 * 3 > max + 2)
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	if (out == NULL) {
		*heap = malloc(tlen / 4 * 3);
		if (*heap == NULL)
			return msg_fail(c, CARD_MSG_E_NOMEM, key);
		out = *heap;
	}
	n = msg_b64_decode(json_string_value(v), tlen, out, max);
	if (n <= 0) {
		if (heap != NULL) {
			free(*heap);
			*heap = NULL;
		}
		return msg_fail(c, CARD_MSG_E_FIELD, key);
	}
	*len = (size_t)n;
	return true;
}

bool
msg_only_keys(struct msg_ctx *c, json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		size_t i = 0;

		(void)v;
		while (keys[i] != NULL && strcmp(keys[i], k) != 0)
			i++;
		if (keys[i] == NULL)
			return msg_fail(c, CARD_MSG_E_UNKNOWN, ""); /* k is not static */
	}
	return true;
}

static int
b64_val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

long
msg_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	size_t o = 0;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char ch = (unsigned char)in[i + (size_t)k];

			v[k] = b64_val(ch);
			if (v[k] < 0) {
				/* '=' only at the end of the last quantum: "xx==" or "xxx=". */
				if (ch != '=' || !last || k < 2 || (k == 2 && in[i + 3] != '='))
					return -1;
				v[k] = 0;
				pad++;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
		             (uint32_t)v[3];
		/* Canonical only: the bits under the padding must be zero. */
		if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
			return -1;
		if (o + (size_t)(3 - pad) > cap)
			return -1;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (long)o;
}

char *
msg_b64_encode(const uint8_t *in, size_t len)
{
	static const char alpha[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		size_t rest = len - i;
		uint32_t w = (uint32_t)in[i] << 16;

		if (rest > 1)
			w |= (uint32_t)in[i + 1] << 8;
		if (rest > 2)
			w |= in[i + 2];
		out[o++] = alpha[(w >> 18) & 63];
		out[o++] = alpha[(w >> 12) & 63];
		out[o++] = rest > 1 ? alpha[(w >> 6) & 63] : '=';
		out[o++] = rest > 2 ? alpha[w & 63] : '=';
	}
	out[o] = '\0';
	return out;
}
