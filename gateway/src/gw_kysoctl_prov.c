/* gw_kysoctl_prov.c -- one line of the SIM provisioning file (TELECOM.md section 5.2), read
 * by `kysoctl credential import --provision`. The file comes from the carrier simulator but
 * is still input from outside: the line is size-checked before jansson sees it, every field
 * is bounded and checked, unknown keys are refused, and the keys land in a fixed struct that
 * kc_prov_wipe() clears (STYLE.md 2.10). Pure: no I/O. */
#include <string.h>

#include "gw_kysoctl_int.h"

static bool
bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return false;
}

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 with padding (RFC 4648 section 4); no whitespace. */
static bool
b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t o = 0;

	if (n == 0 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 || (v[k] = b64_value((unsigned char)s[i + k])) < 0) {
				return false;
			}
		}
		if (o + 3 - (size_t)pad > cap)
			return false;
		out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
	}
	*outlen = o;
	return true;
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
hex_decode(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n = strlen(s);

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return false;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_value((unsigned char)s[i]), lo = hex_value((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*outlen = n / 2;
	return true;
}

static bool
all_digits(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool
one_of(const char *s, const char *const *words)
{
	for (size_t i = 0; words[i] != NULL; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

/* Copies a string member of at most cap-1 bytes; false when absent, not a string or long. */
static bool
get_str(const json_t *o, const char *key, char *out, size_t cap)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return false;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return true;
}

static bool
only_keys(json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
	{
		if (!one_of(k, keys))
			return false;
	}
	return true;
}

/* A 3-byte TAR (TS 101 220), as 6 lower-case hex digits in the database. */
static bool
tar_norm(char tar[7])
{
	for (int i = 0; i < 6; i++) {
		int v = hex_value((unsigned char)tar[i]);

		if (v < 0)
			return false;
		tar[i] = "0123456789abcdef"[v];
	}
	return tar[6] == '\0';
}

static bool
parse_keyset(json_t *o, struct kc_prov_keyset *k, char *err, size_t errlen)
{
	static const char *const keys[] = { "kvn", "kic_alg", "kic",     "kid_alg",
		                            "kid", "tar",     "counter", NULL };
	static const char *const kic_algs[] = { "3des-2key", "3des-3key", "aes-cbc", NULL };
	static const char *const kid_algs[] = { "3des-2key", "3des-3key", "aes-cmac", NULL };
	char hex[2 * KC_PROV_KEY_MAX + 1];
	const json_t *kvn = json_object_get(o, "kvn"), *ctr = json_object_get(o, "counter");

	if (!json_is_object(o) || !only_keys(o, keys))
		return bad(err, errlen, "keysets[]: not an object, or an unknown key");
	if (!json_is_integer(kvn) || json_integer_value(kvn) < 1 || json_integer_value(kvn) > 15)
		return bad(err, errlen, "keysets[].kvn: an integer 1..15");
	k->kvn = (int)json_integer_value(kvn);
	if (!get_str(o, "kic_alg", k->kic_alg, sizeof(k->kic_alg)) ||
	    !one_of(k->kic_alg, kic_algs) ||
	    !get_str(o, "kid_alg", k->kid_alg, sizeof(k->kid_alg)) || !one_of(k->kid_alg, kid_algs))
		return bad(err, errlen, "keysets[].kic_alg/kid_alg: unknown algorithm");
	if (!get_str(o, "kic", hex, sizeof(hex)) ||
	    !hex_decode(hex, k->kic, sizeof(k->kic), &k->kic_len) || k->kic_len < 16 ||
	    !get_str(o, "kid", hex, sizeof(hex)) ||
	    !hex_decode(hex, k->kid, sizeof(k->kid), &k->kid_len) || k->kid_len < 16) {
		memset(hex, 0, sizeof(hex));
		return bad(err, errlen, "keysets[].kic/kid: 16 to 32 bytes in hex");
	}
	memset(hex, 0, sizeof(hex));
	if (!get_str(o, "tar", k->tar, sizeof(k->tar)) || !tar_norm(k->tar))
		return bad(err, errlen, "keysets[].tar: 6 hex digits");
	if (ctr != NULL && (!json_is_integer(ctr) || json_integer_value(ctr) < 0 ||
	                    json_integer_value(ctr) > 0xFFFFFFFFFFLL)) /* 5-byte CNTR */
		return bad(err, errlen, "keysets[].counter: an integer 0..2^40-1");
	k->counter = ctr != NULL ? json_integer_value(ctr) : 0;
	return true;
}

static bool
parse_sim(json_t *o, struct kc_prov_sim *s, char *err, size_t errlen)
{
	static const char *const keys[] = { "msisdn", "iccid",   "carrier", "key_alg",
		                            "cert",   "keysets", NULL };
	static const char *const algs[] = { "ec-p256", "rsa-2048", NULL };
	const json_t *cert = json_object_get(o, "cert"), *ks = json_object_get(o, "keysets");
	json_t *k;
	size_t i;

	if (!json_is_object(o) || !only_keys(o, keys))
		return bad(err, errlen, "not a JSON object, or an unknown key");
	if (!get_str(o, "msisdn", s->msisdn, sizeof(s->msisdn)) || !all_digits(s->msisdn, 6, 15))
		return bad(err, errlen, "msisdn: 6 to 15 digits");
	if (!get_str(o, "iccid", s->iccid, sizeof(s->iccid)) || !all_digits(s->iccid, 18, 22))
		return bad(err, errlen, "iccid: 18 to 22 digits");
	if (json_object_get(o, "carrier") != NULL &&
	    !get_str(o, "carrier", s->carrier, sizeof(s->carrier)))
		return bad(err, errlen, "carrier: a string of at most 32 bytes");
	if (!get_str(o, "key_alg", s->key_alg, sizeof(s->key_alg)) || !one_of(s->key_alg, algs))
		return bad(err, errlen, "key_alg: ec-p256 or rsa-2048");
	if (!json_is_string(cert) || !b64_decode(json_string_value(cert), json_string_length(cert),
	                                         s->cert, sizeof(s->cert), &s->cert_len))
		return bad(err, errlen, "cert: base64 DER of at most 8 KiB");
	if (!json_is_array(ks) || json_array_size(ks) < 1 || json_array_size(ks) > KC_PROV_KEYSETS)
		return bad(err, errlen, "keysets: an array of 1 to 8 keysets");
	json_array_foreach(ks, i, k)
	{
		if (!parse_keyset(k, &s->keysets[i], err, errlen))
			return false;
		for (size_t j = 0; j < i; j++)
			if (s->keysets[j].kvn == s->keysets[i].kvn)
				return bad(err, errlen, "keysets: a KVN appears twice");
		s->nkeysets = (int)i + 1;
	}
	return true;
}

bool
kc_prov_parse(const char *line, size_t len, struct kc_prov_sim *out, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o;
	bool ok;

	kc_prov_wipe(out);
	if (line == NULL || len == 0 || len > KC_PROV_LINE_MAX)
		return bad(err, errlen, "empty line, or over 64 KiB");
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		snprintf(err, errlen, "column %d: %s", jerr.column, jerr.text);
		return false;
	}
	ok = parse_sim(o, out, err, errlen);
	json_decref(o); /* the key strings jansson held are freed, not wiped: see docs */
	if (!ok)
		kc_prov_wipe(out);
	return ok;
}

void
kc_prov_wipe(struct kc_prov_sim *sim)
{
	explicit_bzero(sim, sizeof(*sim));
}
