/* smsc_text.c -- display text: GSM 03.38 (TS 23.038 6.2.1) or UCS-2, and the SMS budget of a
 * kyso-v1 request (TELECOM.md 3.3). The gateway refuses with 103 what does not fit. */
#include <string.h>

#include "smsc_int.h"

/* TS 23.038 6.2.1 default alphabet, septet -> code point. 0x1B is the escape. */
static const uint16_t gsm7[128] = {
	0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x000A,
	0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5, 0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9,
	0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E, 0xFFFF, 0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x0020,
	0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B,
	0x002C, 0x002D, 0x002E, 0x002F, 0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036,
	0x0037, 0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, 0x00A1, 0x0041,
	0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, 0x0048, 0x0049, 0x004A, 0x004B, 0x004C,
	0x004D, 0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
	0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, 0x00BF, 0x0061, 0x0062,
	0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D,
	0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, 0x0078,
	0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* TS 23.038 6.2.1.1 extension table (after 0x1B). */
static const struct {
	uint8_t septet;
	uint16_t cp;
} gsm7_ext[] = {
	{ 0x0A, 0x000C }, { 0x14, 0x005E }, { 0x28, 0x007B }, { 0x29, 0x007D }, { 0x2F, 0x005C },
	{ 0x3C, 0x005B }, { 0x3D, 0x007E }, { 0x3E, 0x005D }, { 0x40, 0x007C }, { 0x65, 0x20AC },
};

/* Septets for cp: 1 (basic), 2 (escape + extension) or 0 (not in GSM 03.38). */
static int
gsm7_lookup(uint32_t cp, uint8_t sep[2])
{
	for (int i = 0; i < 128; i++) {
		if (gsm7[i] == cp) {
			sep[0] = (uint8_t)i;
			return 1;
		}
	}
	for (size_t i = 0; i < sizeof(gsm7_ext) / sizeof(gsm7_ext[0]); i++) {
		if (gsm7_ext[i].cp == cp) {
			sep[0] = 0x1B;
			sep[1] = gsm7_ext[i].septet;
			return 2;
		}
	}
	return 0;
}

/* Strict UTF-8 (RFC 3629): no overlongs, no surrogates. Outside the BMP -> TEXT too, since
 * UCS-2 cannot carry it. */
static bool
utf8_next(const uint8_t *s, size_t len, size_t *i, uint32_t *cp)
{
	uint8_t b = s[*i];
	size_t n;
	uint32_t v, min;

	if (b < 0x80) {
		*cp = b;
		(*i)++;
		return true;
	}
	if ((b & 0xE0) == 0xC0)
		n = 1, v = b & 0x1F, min = 0x80;
	else if ((b & 0xF0) == 0xE0)
		n = 2, v = b & 0x0F, min = 0x800;
	else
		return false; /* 4-octet forms are non-BMP; 5/6 are invalid */
	if (len - *i < n + 1)
		return false;
	for (size_t k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xC0) != 0x80)
			return false;
		v = (v << 6) | (s[*i + k] & 0x3F);
	}
	if (v < min || (v >= 0xD800 && v <= 0xDFFF))
		return false;
	*cp = v;
	*i += n + 1;
	return true;
}

static size_t
ber_len_size(size_t len)
{
	return len < 0x80 ? 1 : len <= 0xFF ? 2 : 3;
}

enum smsc_err
smsc_text_fit(const char *utf8, size_t len, size_t hash_len, enum smsc_ota_alg kic_alg,
              unsigned max_sms, struct smsc_text_fit *out)
{
	const uint8_t *s = (const uint8_t *)utf8;
	struct smsc_text_fit f;
	bool gsm = true;
	size_t i = 0, disp;

	memset(&f, 0, sizeof(f));
	while (i < len) {
		uint32_t cp;
		uint8_t sep[2];
		int k;

		if (!utf8_next(s, len, &i, &cp))
			return SMSC_E_TEXT;
		f.chars++;
		k = gsm7_lookup(cp, sep);
		if (k == 0)
			gsm = false;
		f.septets += (size_t)k;
	}
	if (gsm) {
		f.dcs = SMSC_DCS_GSM7_PACKED;
		f.text_octets = (f.septets * 7 + 7) / 8;
	} else {
		f.dcs = SMSC_DCS_UCS2;
		f.septets = 0;
		f.text_octets = 2 * f.chars;
	}
	/* header 10, 10 01 kr, 11 01 alg, 12 L hash, 14 L dcs text (TELECOM.md 3.3 budget). */
	disp = 1 + f.text_octets;
	f.request_octets =
	        10 + 3 + 3 + 1 + ber_len_size(hash_len) + hash_len + 1 + ber_len_size(disp) + disp;
	for (unsigned n = 1; n <= SMSC_SEG_MAX; n++) {
		if (smsc_ota_capacity(true, kic_alg, n) >= f.request_octets) {
			f.n_sms = n;
			break;
		}
	}
	f.fits = f.n_sms != 0 && f.n_sms <= max_sms && f.request_octets <= SMSC_KV1_MAX;
	*out = f;
	return SMSC_OK;
}

/* TS 23.038 6.1.2.1.1: septets packed LSB first. */
static void
pack7(const uint8_t *sep, size_t n, uint8_t *out, size_t *out_len)
{
	size_t o = 0;
	unsigned bits = 0;
	uint32_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		acc |= (uint32_t)(sep[i] & 0x7F) << bits;
		bits += 7;
		while (bits >= 8) {
			out[o++] = (uint8_t)acc;
			acc >>= 8;
			bits -= 8;
		}
	}
	if (bits > 0)
		out[o++] = (uint8_t)acc;
	*out_len = o;
}

enum smsc_err
smsc_text_encode(const char *utf8, size_t len, enum smsc_dcs dcs, uint8_t *out, size_t cap,
                 size_t *out_len)
{
	const uint8_t *s = (const uint8_t *)utf8;
	uint8_t sep[2 * SMSC_KV1_MAX];
	size_t i = 0, n = 0, o;

	if (dcs != SMSC_DCS_GSM7_PACKED && dcs != SMSC_DCS_GSM7 && dcs != SMSC_DCS_UCS2)
		return SMSC_E_INVAL;
	while (i < len) {
		uint32_t cp;
		int k;

		if (!utf8_next(s, len, &i, &cp))
			return SMSC_E_TEXT;
		if (n + 2 > sizeof(sep))
			return SMSC_E_TOOBIG;
		if (dcs == SMSC_DCS_UCS2) {
			sep[n++] = (uint8_t)(cp >> 8);
			sep[n++] = (uint8_t)cp;
			continue;
		}
		if ((k = gsm7_lookup(cp, sep + n)) == 0)
			return SMSC_E_TEXT;
		n += (size_t)k;
	}
	o = dcs == SMSC_DCS_GSM7_PACKED ? (n * 7 + 7) / 8 : n;
	if (o > cap)
		return SMSC_E_SPACE;
	if (dcs == SMSC_DCS_GSM7_PACKED)
		pack7(sep, n, out, &o);
	else if (n > 0)
		memcpy(out, sep, n);
	*out_len = o;
	return SMSC_OK;
}
