/* csim_farm.c -- the SIM farm: provisioning, the card's OTA checks (TS 102 225 / TELECOM.md
 * 2.1-2.3), the kyso-v1 applet (3.3, 3.4) and the behaviour profiles (5.3). Sans-I/O: answers
 * leave through the mo callback stamped with the simulated time they would leave the handset. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "csim_int.h"

#define HASH_BUCKETS (1u << 17)

/* Latencies in simulated ms (TELECOM.md 3.5). */
#define USER_STEP_MS          1000u
#define GET_INPUT_MS          60000u
#define SIGN_EC_MS            300u
#define SIGN_RSA_MS           1500u
#define MO_MIN_MS             1000u
#define MO_MAX_MS             5000u
#define P16_SEG_GAP_MS        5000u
#define SAMPLED_MED_MS        10000.0
#define SAMPLED_CAP_MS        35000.0
#define LATE_AFTER_VP_MS      30000u
#define PROFILE_COUNTER_AHEAD 500u
#define COUNTER_MAX           0xFFFFFFFFFFull

/* kyso-v1 terminal results reported in tag 23 (TS 102 223 result codes, TELECOM.md 3.2). */
#define TR_USER_END    0x10
#define TR_NO_RESPONSE 0x12
#define TR_NOT_ACCEPT  0x22
#define TR_BEYOND_ME   0x30

struct csim_farm {
	struct csim_farm_cfg cfg;
	char prefix[9];
	char *prov_path;
	struct csim_sim **bucket;
	struct csim_sim *head, *tail;
	size_t count;
	struct smsc_reasm *reasm;
	struct csim_keycache *keys;
	uint64_t rng;
	uint64_t signed_answers;
};

const char *
csim_strerror(enum csim_err e)
{
	static const char *const names[] = { "ok",
		                             "out of memory",
		                             "invalid argument",
		                             "limit reached",
		                             "not found",
		                             "already exists",
		                             "crypto failure",
		                             "I/O error",
		                             "bad configuration" };
	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown error";
}

const char *
csim_dl_name(enum csim_dl d)
{
	static const char *const names[] = { "ok", "busy-9300", "fail-6fxx", "absent", "unknown" };
	return (unsigned)d < 5 ? names[d] : "?";
}

uint64_t
csim__farm_signed(const struct csim_farm *f)
{
	return f->signed_answers;
}

void
csim__hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
nib(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
csim__unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	size_t len = strlen(s), i;

	if (len % 2 != 0 || len / 2 > cap)
		return -1;
	for (i = 0; i < len / 2; i++) {
		int hi = nib(s[2 * i]), lo = nib(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*n = len / 2;
	return 0;
}

static uint32_t
hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h & (HASH_BUCKETS - 1);
}

static bool
all_digits(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (s[n] < '0' || s[n] > '9' || n >= max)
			return false;
	return n > 0;
}

enum csim_err
csim_farm_new(const struct csim_farm_cfg *cfg, struct csim_farm **out)
{
	struct csim_farm *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return CSIM_E_NOMEM;
	f->cfg = *cfg;
	snprintf(f->prefix, sizeof(f->prefix), "%s", cfg->prefix ? cfg->prefix : "8490");
	f->cfg.prefix = f->prefix;
	if (f->cfg.max_sims == 0 || f->cfg.max_sims > CSIM_MAX_SIMS)
		f->cfg.max_sims = CSIM_MAX_SIMS;
	f->rng = cfg->seed ^ 0x6b79736f63736d31ull;
	f->bucket = calloc(HASH_BUCKETS, sizeof(*f->bucket));
	if (cfg->provision_file != NULL && (f->prov_path = strdup(cfg->provision_file)) == NULL)
		goto fail;
	f->cfg.provision_file = f->prov_path;
	/* MT reassembly for the whole farm, keyed by MSISDN: 4096 partial commands, 1 MiB. */
	if (f->bucket == NULL || smsc_reasm_new(4096, 1u << 20, 120000, &f->reasm) != SMSC_OK ||
	    csim_keycache_new(8192, &f->keys) != CSIM_OK)
		goto fail;
	*out = f;
	return CSIM_OK;
fail:
	csim_farm_free(f);
	return CSIM_E_NOMEM;
}

static void
sim_free(struct csim_sim *s)
{
	if (s == NULL)
		return;
	smsc_ota_keys_wipe(&s->ks.keys);
	if (s->key_der != NULL) {
		OPENSSL_cleanse(s->key_der, s->key_der_len);
		free(s->key_der);
	}
	free(s->cert_der);
	free(s);
}

void
csim_farm_free(struct csim_farm *f)
{
	struct csim_sim *s, *n;

	if (f == NULL)
		return;
	for (s = f->head; s != NULL; s = n) {
		n = s->list_next;
		sim_free(s);
	}
	smsc_reasm_free(f->reasm);
	csim_keycache_free(f->keys);
	free(f->bucket);
	free(f->prov_path);
	free(f);
}

void
csim_farm_set_mode(struct csim_farm *f, enum csim_mode m)
{
	f->cfg.mode = m;
}

enum csim_mode
csim_farm_mode(const struct csim_farm *f)
{
	return f->cfg.mode;
}

size_t
csim_farm_count(const struct csim_farm *f)
{
	return f->count;
}

struct csim_sim *
csim_farm_first(struct csim_farm *f)
{
	return f->head;
}

int
csim_farm_profile_of(const struct csim_farm *f, const char *msisdn, uint32_t *serial)
{
	size_t pl = strlen(f->prefix), i;
	int pp;
	uint32_t ss = 0;

	if (strlen(msisdn) != pl + 7 || strncmp(msisdn, f->prefix, pl) != 0)
		return -1;
	for (i = pl; i < pl + 7; i++)
		if (msisdn[i] < '0' || msisdn[i] > '9')
			return -1;
	pp = (msisdn[pl] - '0') * 10 + (msisdn[pl + 1] - '0');
	if (pp >= (int)CSIM_PROFILES)
		return -1;
	for (i = pl + 2; i < pl + 7; i++)
		ss = ss * 10 + (uint32_t)(msisdn[i] - '0');
	if (serial != NULL)
		*serial = ss;
	return pp;
}

static void
derive(uint64_t seed, const char *label, const char *msisdn, uint8_t out[32])
{
	uint8_t in[8 + 8 + CSIM_MSISDN_MAX];
	size_t ll = strlen(label), ml = strlen(msisdn), i;

	for (i = 0; i < 8; i++)
		in[i] = (uint8_t)(seed >> (8 * i));
	memcpy(in + 8, label, ll);
	memcpy(in + 8 + ll, msisdn, ml);
	SHA256(in, 8 + ll + ml, out);
}

void
csim_derive_keys(uint64_t seed, const char *msisdn, struct smsc_ota_keys *out)
{
	uint8_t d[32];

	memset(out, 0, sizeof(*out));
	derive(seed, "kic:", msisdn, d);
	memcpy(out->kic, d, 16);
	out->kic_len = 16;
	derive(seed, "kid:", msisdn, d);
	memcpy(out->kid, d, 16);
	out->kid_len = 16;
	OPENSSL_cleanse(d, sizeof(d));
}

/* 8984 0 + the number's last 14 digits, then the Luhn check digit (ITU-T E.118). */
void
csim_derive_iccid(const char *msisdn, char out[21])
{
	size_t ml = strlen(msisdn), i;
	int sum = 0;

	memcpy(out, "89840", 5);
	for (i = 0; i < 14; i++)
		out[5 + i] = ml + i >= 14 ? msisdn[ml + i - 14] : '0';
	for (i = 0; i < 19; i++) {
		int d = out[18 - i] - '0';

		if (i % 2 == 0) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	out[19] = (char)('0' + (10 - sum % 10) % 10);
	out[20] = '\0';
}

struct csim_sim *
csim_farm_find(struct csim_farm *f, const char *msisdn)
{
	struct csim_sim *s;

	for (s = f->bucket[hash_str(msisdn)]; s != NULL; s = s->next)
		if (strcmp(s->msisdn, msisdn) == 0)
			return s;
	return NULL;
}

static void
link_sim(struct csim_farm *f, struct csim_sim *s)
{
	uint32_t h = hash_str(s->msisdn);

	s->next = f->bucket[h];
	f->bucket[h] = s;
	if (f->tail != NULL)
		f->tail->list_next = s;
	else
		f->head = s;
	f->tail = s;
	f->count++;
}

static const char *
alg_name(enum smsc_ota_alg a, bool kid)
{
	switch (a) {
	case SMSC_ALG_3DES2:
		return "3des-2key";
	case SMSC_ALG_3DES3:
		return "3des-3key";
	case SMSC_ALG_AES:
		return kid ? "aes-cmac" : "aes-cbc";
	case SMSC_ALG_DES:
		return "des";
	}
	return "?";
}

static int
alg_parse(const char *s, enum smsc_ota_alg *a)
{
	if (strcmp(s, "3des-2key") == 0)
		*a = SMSC_ALG_3DES2;
	else if (strcmp(s, "3des-3key") == 0)
		*a = SMSC_ALG_3DES3;
	else if (strcmp(s, "aes-cbc") == 0 || strcmp(s, "aes-cmac") == 0)
		*a = SMSC_ALG_AES;
	else if (strcmp(s, "des") == 0)
		*a = SMSC_ALG_DES;
	else
		return -1;
	return 0;
}

static json_t *
b64_json(const uint8_t *p, size_t n)
{
	static const char tb[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0, cap = (n + 2) / 3 * 4 + 1;
	char *s = malloc(cap);
	json_t *j;

	if (s == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		s[o++] = tb[v >> 18];
		s[o++] = tb[(v >> 12) & 63];
		s[o++] = tb[(v >> 6) & 63];
		s[o++] = tb[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

		s[o++] = tb[v >> 18];
		s[o++] = tb[(v >> 12) & 63];
		s[o++] = i + 1 < n ? tb[(v >> 6) & 63] : '=';
		s[o++] = '=';
	}
	s[o] = '\0';
	j = json_string(s);
	free(s);
	return j;
}

static int
b64_val(char c)
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

/* Decodes base64 into a malloc'd buffer; NULL on bad input. */
static uint8_t *
b64_decode(const char *s, size_t *n)
{
	size_t len = strlen(s), i, o = 0;
	uint8_t *out;
	uint32_t acc = 0;
	int bits = 0;

	if ((out = malloc(len / 4 * 3 + 3)) == NULL)
		return NULL;
	for (i = 0; i < len && s[i] != '='; i++) {
		int v = b64_val(s[i]);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*n = o;
	return out;
}

void *
csim_sim_json(const struct csim_sim *s, bool with_state)
{
	char kic[65], kid[65], tar[7];
	json_t *o, *ks, *ksa;

	csim__hex(s->ks.keys.kic, s->ks.keys.kic_len, kic);
	csim__hex(s->ks.keys.kid, s->ks.keys.kid_len, kid);
	csim__hex(s->tar, 3, tar);
	ks = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:I}", "kvn", s->ks.kvn, "kic_alg",
	               alg_name(s->ks.kic_alg, false), "kic", kic, "kid_alg",
	               alg_name(s->ks.kid_alg, true), "kid", kid, "tar", tar, "counter",
	               (json_int_t)(with_state ? s->ks.counter : 0));
	ksa = json_array();
	if (ks == NULL || ksa == NULL || json_array_append_new(ksa, ks) != 0) {
		json_decref(ks);
		json_decref(ksa);
		return NULL;
	}
	o = json_pack(
	        "{s:s,s:s,s:s,s:s,s:o,s:o}", "msisdn", s->msisdn, "iccid", s->iccid, "carrier",
	        "sim", "key_alg", s->key_alg == CSIM_KEY_RSA2048 ? "rsa-2048" : "ec-p256", "cert",
	        s->cert_der ? b64_json(s->cert_der, s->cert_der_len) : json_null(), "keysets", ksa);
	if (o == NULL || !with_state)
		return o;
	{
		static const char *const st[] = { "active", "pin_blocked", "card_blocked" };
		json_t *last = json_array();
		size_t i;

		for (i = 0; i < CSIM_LAST_N && last != NULL; i++) {
			const struct csim_last *l = &s->last[i];

			if (l->at_ms == 0 && l->cntr == 0 && l->txn_ref == 0)
				continue;
			json_array_append_new(
			        last,
			        json_pack("{s:I,s:I,s:I,s:i,s:i,s:i,s:I}", "at_ms",
			                  (json_int_t)l->at_ms, "txn_ref", (json_int_t)l->txn_ref,
			                  "cntr", (json_int_t)l->cntr, "por", l->por, "applet",
			                  l->applet, "mo_segments", l->mo_segments, "answer_at",
			                  (json_int_t)l->answer_at));
		}
		json_object_set_new(o, "profile", json_integer(s->profile));
		json_object_set_new(o, "state", json_string(st[s->state]));
		json_object_set_new(o, "pin_tries", json_integer(s->pin_tries));
		json_object_set_new(o, "puk_tries", json_integer(s->puk_tries));
		json_object_set_new(o, "ucs2", json_boolean(s->ucs2));
		json_object_set_new(o, "applet", json_boolean(s->has_applet));
		json_object_set_new(o, "key_slot_empty", json_boolean(s->key_slot_empty));
		json_object_set_new(o, "delay_ms",
		                    s->has_delay ? json_integer(s->delay_ms) : json_null());
		json_object_set_new(o, "cert_serial", json_string(s->cert_serial));
		json_object_set_new(o, "requests", json_integer((json_int_t)s->requests));
		json_object_set_new(o, "answers", json_integer((json_int_t)s->answers));
		json_object_set_new(o, "busy_until", json_integer((json_int_t)s->busy_until));
		json_object_set_new(o, "last", last);
	}
	return o;
}

static void
write_provision_line(struct csim_farm *f, const struct csim_sim *s)
{
	json_t *o;
	FILE *fp;

	if (f->prov_path == NULL || (o = csim_sim_json(s, false)) == NULL)
		return;
	if ((fp = fopen(f->prov_path, "a")) != NULL) {
		json_dumpf(o, fp, JSON_COMPACT);
		fputc('\n', fp);
		fclose(fp);
	}
	json_decref(o);
}

/* The profile a SIM behaves by: mode `delay` turns every SIM into an approving one. */
static int
behaviour(const struct csim_farm *f, const struct csim_sim *s)
{
	if (f->cfg.mode == CSIM_MODE_DELAY || s->profile < 0)
		return 0;
	return s->profile;
}

static void
sim_defaults(struct csim_farm *f, struct csim_sim *s, int profile, int key_alg)
{
	s->profile = profile;
	s->key_alg = key_alg >= 0                 ? (enum csim_key_alg)key_alg
	             : csim__profile_rsa(profile) ? CSIM_KEY_RSA2048
	                                          : CSIM_KEY_EC_P256;
	csim_derive_iccid(s->msisdn, s->iccid);
	s->ks.kvn = 3;
	s->ks.kic_alg = SMSC_ALG_3DES2;
	s->ks.kid_alg = SMSC_ALG_3DES2;
	csim_derive_keys(f->cfg.seed, s->msisdn, &s->ks.keys);
	memcpy(s->tar, "KYS", 3); /* 4B5953, the kyso-v1 applet's TAR */
	s->has_applet = profile != 15;
	s->key_slot_empty = profile == 24;
	s->ucs2 = profile != 23;
	s->pin_tries = 3;
	s->puk_tries = 10;
	s->state = CSIM_ACTIVE;
	if (profile == 7) {
		s->state = CSIM_PIN_BLOCKED;
		s->pin_tries = 0;
	} else if (profile == 8) {
		s->state = CSIM_CARD_BLOCKED;
		s->pin_tries = 0;
		s->puk_tries = 0;
	}
	if (profile == 13)
		s->ks.counter = PROFILE_COUNTER_AHEAD;
	else if (profile == 14)
		s->ks.counter = COUNTER_MAX;
}

enum csim_err
csim_farm_add(struct csim_farm *f, const struct csim_sim_spec *spec, struct csim_sim **out)
{
	struct csim_sim *s;
	enum csim_err rc;
	uint32_t serial = 0;
	int range_profile;

	if (spec->msisdn == NULL || !all_digits(spec->msisdn, CSIM_MSISDN_MAX) ||
	    spec->profile >= (int)CSIM_PROFILES || spec->key_alg > CSIM_KEY_RSA2048)
		return CSIM_E_INVAL;
	if (csim_farm_find(f, spec->msisdn) != NULL)
		return CSIM_E_EXISTS;
	if (f->count >= f->cfg.max_sims)
		return CSIM_E_FULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CSIM_E_NOMEM;
	snprintf(s->msisdn, sizeof(s->msisdn), "%s", spec->msisdn);
	range_profile = csim_farm_profile_of(f, s->msisdn, &serial);
	s->serial = serial;
	sim_defaults(f, s, spec->profile >= 0 ? spec->profile : range_profile, spec->key_alg);
	if (spec->delay_ms >= 0) {
		s->has_delay = true;
		s->delay_ms = (uint32_t)spec->delay_ms;
	}
	rc = f->cfg.ca != NULL ? csim_ca_issue(f->cfg.ca, s, s->profile == 25) : csim_keygen(s);
	if (rc != CSIM_OK) {
		sim_free(s);
		return rc;
	}
	link_sim(f, s);
	write_provision_line(f, s);
	if (out != NULL)
		*out = s;
	return CSIM_OK;
}

enum csim_err
csim_farm_del(struct csim_farm *f, const char *msisdn)
{
	struct csim_sim **pp, *s = NULL, *prev = NULL, *it;

	for (pp = &f->bucket[hash_str(msisdn)]; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->msisdn, msisdn) == 0) {
			s = *pp;
			*pp = s->next;
			break;
		}
	if (s == NULL)
		return CSIM_E_NOTFOUND;
	for (it = f->head; it != NULL && it != s; it = it->list_next)
		prev = it;
	if (prev != NULL)
		prev->list_next = s->list_next;
	else
		f->head = s->list_next;
	if (f->tail == s)
		f->tail = prev;
	f->count--;
	csim_keycache_forget(f->keys, s);
	sim_free(s);
	return CSIM_OK;
}

struct csim_sim *
csim_farm_lookup(struct csim_farm *f, const char *msisdn)
{
	struct csim_sim *s = csim_farm_find(f, msisdn);
	struct csim_sim_spec spec = { msisdn, -1, -1, -1 };

	if (s != NULL || !f->cfg.auto_create || csim_farm_profile_of(f, msisdn, NULL) < 0)
		return s;
	return csim_farm_add(f, &spec, &s) == CSIM_OK ? s : NULL;
}

void
csim_sim_unblock(struct csim_sim *s)
{
	s->pin_tries = 3;
	s->puk_tries = 10;
	s->state = CSIM_ACTIVE;
	s->busy_until = 0;
}

enum csim_err
csim_sim_puk(struct csim_sim *s, bool correct)
{
	if (s->state == CSIM_CARD_BLOCKED)
		return CSIM_E_INVAL;
	if (correct) {
		s->puk_tries = 10;
		s->pin_tries = 3;
		s->state = CSIM_ACTIVE;
		return CSIM_OK;
	}
	if (s->puk_tries > 0)
		s->puk_tries--;
	if (s->puk_tries == 0)
		s->state = CSIM_CARD_BLOCKED;
	return CSIM_OK;
}

/* ---- the card ---- */

struct cmd_ctx {
	struct csim_sim *sim;
	const char *reply_to;
	struct smsc_ota_cmd hdr;
	uint64_t now, validity_end;
	struct csim_last last;
};

static uint64_t
mo_gap(struct csim_farm *f, int prof)
{
	if (f->cfg.mode == CSIM_MODE_INSTANT)
		return 0;
	if (prof == 16)
		return P16_SEG_GAP_MS;
	return csim__uniform(&f->rng, MO_MIN_MS, MO_MAX_MS);
}

/* Log-normal, median 10 s, capped at 35 s (TELECOM.md 3.5, profiles 00 and 27). */
static uint64_t
sampled_delay(struct csim_farm *f)
{
	double u1 = ((double)(csim__rng(&f->rng) >> 11) + 1.0) / 9007199254740993.0;
	double u2 = (double)(csim__rng(&f->rng) >> 11) / 9007199254740992.0;
	double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
	double ms = SAMPLED_MED_MS * exp(0.6 * z);

	return (uint64_t)(ms > SAMPLED_CAP_MS ? SAMPLED_CAP_MS : ms);
}

static void
remember(struct csim_sim *s, const struct csim_last *l)
{
	memmove(&s->last[1], &s->last[0], sizeof(s->last[0]) * (CSIM_LAST_N - 1));
	s->last[0] = *l;
}

/* Builds the PoR (TELECOM.md 2.2) and hands its segments to the MO callback from `at` on.
 * A security failure (01/05/06/0A) is answered in clear: the card cannot trust the keys the
 * command named, so the PoR carries neither CC nor cipher (RHL 0A). */
static void
send_por(struct csim_farm *f, struct cmd_ctx *c, uint8_t sts, const uint8_t *data, size_t len,
         uint64_t at)
{
	static const uint8_t none[1];
	/* never NULL: the codec copies data even when len is 0 */
	struct smsc_ota_rsp rsp = {
		.cntr = c->hdr.cntr, .sts = sts, .data = data ? data : none, .data_len = len
	};
	uint8_t spi2 = c->hdr.spi2, pkt[1400];
	struct smsc_seg segs[SMSC_SEG_MAX];
	size_t n, nseg, i;
	int prof = behaviour(f, c->sim);
	uint64_t t = at;

	memcpy(rsp.tar, c->hdr.tar, 3);
	if (sts == 0x01 || sts == 0x05 || sts == 0x06 || sts == 0x0A)
		spi2 &= (uint8_t) ~(SMSC_SPI2_POR_CC | SMSC_SPI2_POR_RC | SMSC_SPI2_POR_CIPH);
	if (smsc_ota_rsp_build(spi2, c->hdr.kic, c->hdr.kid, &rsp, &c->sim->ks.keys, pkt,
	                       sizeof(pkt), &n) != SMSC_OK ||
	    smsc_ota_segment(0x71, pkt, n, c->sim->seg_ref++, segs, SMSC_SEG_MAX, &nseg) != SMSC_OK)
		return;
	c->last.por = sts;
	c->last.mo_segments = (uint8_t)nseg;
	for (i = 0; i < nseg; i++) {
		t += mo_gap(f, prof);
		if (i == 0)
			c->last.answer_at = t;
		if (prof == 17 && nseg >= 2 && i == 1)
			continue; /* the 2nd segment is lost in the network */
		f->cfg.mo(f->cfg.mo_arg, c->sim, c->reply_to, segs[i].ud, segs[i].len, t);
		if (prof == 18)
			f->cfg.mo(f->cfg.mo_arg, c->sim, c->reply_to, segs[i].ud, segs[i].len, t);
	}
	c->sim->answers++;
}

static void
applet_answer(struct csim_farm *f, struct cmd_ctx *c, const struct smsc_kv1_rsp *r, uint64_t at)
{
	uint8_t buf[600];
	size_t n;

	if (smsc_kv1_rsp_encode(r, buf, sizeof(buf), &n) != SMSC_OK)
		return;
	c->last.applet = r->status;
	if (r->status == SMSC_KV1_SIGNED)
		f->signed_answers++;
	c->sim->busy_until = at;
	send_por(f, c, 0x00, buf, n, at);
}

static const uint8_t *
digest_info_prefix(uint8_t hash_alg, size_t *plen, size_t *hlen)
{
	static const uint8_t p256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		                        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	static const uint8_t p384[] = { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		                        0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30 };
	static const uint8_t p512[] = { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		                        0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40 };
	*plen = sizeof(p256);
	switch (hash_alg) {
	case 1:
		*hlen = 32;
		return p256;
	case 2:
		*hlen = 48;
		return p384;
	case 3:
		*hlen = 64;
		return p512;
	}
	return NULL;
}

/* The applet signs (TELECOM.md 3.3): ECDSA over the hash, RSA over the DigestInfo. */
static uint8_t
applet_sign(struct csim_farm *f, struct csim_sim *s, const struct smsc_kv1_req *q, uint8_t *sig,
            size_t cap, size_t *sig_len)
{
	uint8_t tbs[128];
	size_t tbs_len, plen, hlen;
	const uint8_t *prefix;

	if (q->digest_info != NULL) {
		if (s->key_alg != CSIM_KEY_RSA2048)
			return SMSC_KV1_UNSUPPORTED_KEY_ALG;
		if (q->digest_info_len > sizeof(tbs))
			return SMSC_KV1_BAD_REQUEST;
		memcpy(tbs, q->digest_info, q->digest_info_len);
		tbs_len = q->digest_info_len;
	} else {
		if ((prefix = digest_info_prefix(q->hash_alg, &plen, &hlen)) == NULL ||
		    q->hash_len != hlen)
			return SMSC_KV1_UNSUPPORTED_HASH;
		if (s->key_alg == CSIM_KEY_RSA2048) {
			memcpy(tbs, prefix, plen);
			memcpy(tbs + plen, q->hash, hlen);
			tbs_len = plen + hlen;
		} else {
			memcpy(tbs, q->hash, hlen);
			tbs_len = hlen;
		}
	}
	if (csim_sign(f->keys, s, tbs, tbs_len, sig, cap, sig_len) != CSIM_OK)
		return SMSC_KV1_INTERNAL;
	return SMSC_KV1_SIGNED;
}

/* When the user's answer (or the ME's) is ready, per profile (TELECOM.md 3.5, 5.3). */
static uint64_t
user_delay(struct csim_farm *f, const struct csim_sim *s, int prof, unsigned steps)
{
	if (s->has_delay)
		return s->delay_ms;
	if (f->cfg.mode == CSIM_MODE_INSTANT)
		return 0;
	if (prof == 0 || prof == 27)
		return sampled_delay(f);
	if (prof == 1)
		return (uint64_t)s->serial * 10u;
	return (uint64_t)USER_STEP_MS * steps;
}

static uint64_t
sign_delay(const struct csim_farm *f, const struct csim_sim *s)
{
	if (f->cfg.mode == CSIM_MODE_INSTANT)
		return 0;
	return s->key_alg == CSIM_KEY_RSA2048 ? SIGN_RSA_MS : SIGN_EC_MS;
}

static void
run_applet(struct csim_farm *f, struct cmd_ctx *c, const uint8_t *data, size_t len)
{
	struct csim_sim *s = c->sim;
	struct smsc_kv1_req q;
	struct smsc_kv1_rsp r = { 0 };
	uint8_t sig[512];
	size_t sig_len = 0;
	int prof = behaviour(f, s);
	uint64_t at = c->now;

	if (smsc_kv1_req_decode(data, len, &q) != SMSC_OK || q.key_ref == 0xFF) {
		r.status = SMSC_KV1_BAD_REQUEST;
		applet_answer(f, c, &r, at);
		return;
	}
	r.txn_ref = q.txn_ref;
	c->last.txn_ref = q.txn_ref;
	/* Blocked cards answer without a prompt (TELECOM.md 3.4). */
	if (s->state == CSIM_CARD_BLOCKED) {
		r.status = SMSC_KV1_CARD_BLOCKED;
		applet_answer(f, c, &r, at);
		return;
	}
	if (s->state == CSIM_PIN_BLOCKED) {
		r.status = SMSC_KV1_PIN_BLOCKED;
		r.has_pin_tries = true;
		r.pin_tries = 0;
		applet_answer(f, c, &r, at);
		return;
	}
	if (s->key_slot_empty) {
		r.status = SMSC_KV1_KEY_NOT_FOUND;
		applet_answer(f, c, &r, at);
		return;
	}
	if (q.dcs == SMSC_DCS_UCS2 && !s->ucs2) { /* DISPLAY TEXT beyond the ME's capability */
		r.status = SMSC_KV1_ME_UNSUPPORTED;
		r.has_terminal_result = true;
		r.terminal_result = TR_BEYOND_ME;
		applet_answer(f, c, &r, at);
		return;
	}
	switch (prof) {
	case 2: /* the user ends the session */
		r.status = SMSC_KV1_USER_CANCEL;
		r.has_terminal_result = true;
		r.terminal_result = TR_USER_END;
		applet_answer(f, c, &r, at + user_delay(f, s, prof, 1));
		return;
	case 3: /* "not accepted" */
		r.status = SMSC_KV1_USER_REJECTED;
		r.has_terminal_result = true;
		r.terminal_result = TR_NOT_ACCEPT;
		applet_answer(f, c, &r, at + user_delay(f, s, prof, 1));
		return;
	case 4: /* GET INPUT times out at 60 s */
		r.status = SMSC_KV1_USER_TIMEOUT;
		r.has_terminal_result = true;
		r.terminal_result = TR_NO_RESPONSE;
		applet_answer(f, c, &r, at + (f->cfg.mode == CSIM_MODE_INSTANT ? 0 : GET_INPUT_MS));
		return;
	case 5: /* the prompt stays, nobody answers */
		s->busy_until = at + GET_INPUT_MS;
		return;
	case 6: /* wrong PIN three times: blocked */
		s->pin_tries = 0;
		s->state = CSIM_PIN_BLOCKED;
		r.status = SMSC_KV1_PIN_BLOCKED;
		r.has_pin_tries = true;
		r.pin_tries = 0;
		applet_answer(f, c, &r, at + user_delay(f, s, prof, 3));
		return;
	default:
		break;
	}
	/* Approving profiles: 00 01 10 13 16 17 18 19 22 23 25 26 27 (and 24 handled above). */
	r.status = applet_sign(f, s, &q, sig, sizeof(sig), &sig_len);
	if (r.status == SMSC_KV1_SIGNED) {
		if (prof == 26)
			sig[sig_len - 1] ^= 0x5A; /* a signature that does not verify */
		r.sig = sig;
		r.sig_len = sig_len;
	}
	if (prof == 22) /* one wrong PIN first; a correct entry resets the tries */
		at += user_delay(f, s, prof, 2);
	else if (prof == 19)
		at = c->validity_end + (f->cfg.mode == CSIM_MODE_INSTANT ? 0 : LATE_AFTER_VP_MS);
	else
		at += user_delay(f, s, prof, 1);
	applet_answer(f, c, &r, at + sign_delay(f, s));
	OPENSSL_cleanse(sig, sizeof(sig));
}

/* TS 102 225 5.1 checks in card order: keys, CC, counter, TAR, minimum security level. */
static void
card_command(struct csim_farm *f, struct cmd_ctx *c, const uint8_t *pkt, size_t len)
{
	struct csim_sim *s = c->sim;
	struct smsc_ota_keys keys;
	struct smsc_ota_cmd cmd;
	uint8_t work[1400], sts;
	enum smsc_err e;
	int prof = behaviour(f, s);

	if (smsc_ota_cmd_peek(pkt, len, &c->hdr) != SMSC_OK)
		return; /* not even a header: nothing to answer to */
	c->last.cntr = c->hdr.cntr;
	if ((c->hdr.kic >> 4) != s->ks.kvn && (c->hdr.spi1 & SMSC_SPI1_CIPHER)) {
		send_por(f, c, 0x06, NULL, 0, c->now);
		return;
	}
	keys = s->ks.keys;
	if (prof == 12)
		keys.kid[0] ^= 0x80; /* another KID than provisioned (bit 0 is DES parity) */
	e = smsc_ota_cmd_open(pkt, len, &keys, work, sizeof(work), &cmd);
	smsc_ota_keys_wipe(&keys);
	if (e != SMSC_OK) {
		send_por(f, c,
		         e == SMSC_E_CC       ? 0x01
		         : e == SMSC_E_CRYPTO ? 0x05
		                              : 0x06,
		         NULL, 0, c->now);
		return;
	}
	c->hdr.cntr = cmd.cntr;
	if (s->ks.counter >= COUNTER_MAX) {
		send_por(f, c, 0x04, NULL, 0, c->now);
		return;
	}
	if ((sts = smsc_ota_cntr_check(cmd.spi1, s->ks.counter, cmd.cntr)) != 0x00) {
		send_por(f, c, sts, NULL, 0, c->now);
		return;
	}
	if ((cmd.spi1 & SMSC_SPI1_CNTR_MASK) != 0)
		s->ks.counter = cmd.cntr;
	if (!s->has_applet || memcmp(cmd.tar, s->tar, 3) != 0) {
		send_por(f, c, 0x09, NULL, 0, c->now);
		return;
	}
	if ((cmd.spi1 & 0x03) != SMSC_SPI1_CC) { /* the applet's minimum SPI: CC */
		send_por(f, c, 0x0A, NULL, 0, c->now);
		return;
	}
	run_applet(f, c, cmd.data, cmd.data_len);
	OPENSSL_cleanse(work, sizeof(work));
}

/* Handset behaviour before the card sees the envelope (TELECOM.md 3.1, 5.2, 5.3). */
static int
handset(const struct csim_farm *f, const struct csim_sim *s, unsigned attempt, uint64_t now)
{
	switch (behaviour(f, s)) {
	case 9:
		return CSIM_DL_ABSENT;
	case 10:
		if (attempt == 0)
			return CSIM_DL_BUSY;
		break;
	case 11:
		return CSIM_DL_BUSY;
	case 20:
		return CSIM_DL_FAIL;
	case 21:
		return CSIM_DL_UNKNOWN;
	default:
		break;
	}
	if (s->busy_until > now)
		return CSIM_DL_BUSY;
	return CSIM_DL_OK;
}

enum csim_dl
csim_farm_deliver(struct csim_farm *f, struct csim_sim *sim, const uint8_t *ud, size_t len,
                  const char *reply_to, unsigned attempt, uint64_t validity_end_ms, uint64_t now_ms)
{
	struct cmd_ctx c = {
		.sim = sim, .reply_to = reply_to, .now = now_ms, .validity_end = validity_end_ms
	};
	uint8_t pkt[1200], iei = 0;
	size_t n = 0;
	bool done = false;
	int dl = handset(f, sim, attempt, now_ms);

	if (dl != CSIM_DL_OK)
		return (enum csim_dl)dl;
	smsc_reasm_expire(f->reasm, now_ms);
	if (smsc_reasm_add(f->reasm, sim->msisdn, ud, len, now_ms, pkt, sizeof(pkt), &n, &iei,
	                   &done) != SMSC_OK ||
	    !done || iei != 0x70)
		return CSIM_DL_OK; /* a segment stored, a duplicate, or not an OTA command */
	sim->requests++;
	c.last.at_ms = now_ms;
	c.last.applet = -1;
	card_command(f, &c, pkt, n);
	remember(sim, &c.last);
	return CSIM_DL_OK;
}

/* ---- state file ---- */

enum csim_err
csim_farm_save(struct csim_farm *f, const char *path)
{
	char tmp[4096];
	struct csim_sim *s;
	FILE *fp;
	int bad = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL)
		return CSIM_E_IO;
	for (s = f->head; s != NULL; s = s->list_next) {
		json_t *o = csim_sim_json(s, true);

		if (o == NULL) {
			bad = 1;
			break;
		}
		json_object_set_new(o, "serial", json_integer(s->serial));
		json_object_set_new(o, "key", b64_json(s->key_der, s->key_der_len));
		bad |= json_dumpf(o, fp, JSON_COMPACT) != 0;
		fputc('\n', fp);
		json_decref(o);
	}
	bad |= fclose(fp) != 0;
	if (bad || rename(tmp, path) != 0) {
		remove(tmp);
		return CSIM_E_IO;
	}
	return CSIM_OK;
}

static enum csim_err
load_one(struct csim_farm *f, json_t *o)
{
	const char *msisdn = NULL, *kalg = NULL, *cert = NULL, *key = NULL, *state = "active";
	const char *kic = NULL, *kid = NULL, *kic_alg = NULL, *kid_alg = NULL, *tar = NULL;
	const char *serial_hex = "";
	json_int_t profile = -1, pin = 3, puk = 10, kvn = 3, counter = 0, serial = 0;
	json_t *ks, *delay;
	struct csim_sim *s;
	size_t n;

	if (json_unpack(o, "{s:s,s:s,s:s,s:o,s?I,s?s,s?I,s?I,s?I,s?s}", "msisdn", &msisdn,
	                "key_alg", &kalg, "key", &key, "keysets", &ks, "profile", &profile, "state",
	                &state, "pin_tries", &pin, "puk_tries", &puk, "serial", &serial,
	                "cert_serial", &serial_hex) != 0 ||
	    json_unpack(json_array_get(ks, 0), "{s:I,s:s,s:s,s:s,s:s,s:s,s:I}", "kvn", &kvn,
	                "kic_alg", &kic_alg, "kic", &kic, "kid_alg", &kid_alg, "kid", &kid, "tar",
	                &tar, "counter", &counter) != 0 ||
	    !all_digits(msisdn, CSIM_MSISDN_MAX) || profile >= (json_int_t)CSIM_PROFILES)
		return CSIM_E_CONFIG;
	cert = json_string_value(json_object_get(o, "cert"));
	delay = json_object_get(o, "delay_ms");
	if (csim_farm_find(f, msisdn) != NULL)
		return CSIM_E_EXISTS;
	if (f->count >= f->cfg.max_sims)
		return CSIM_E_FULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CSIM_E_NOMEM;
	snprintf(s->msisdn, sizeof(s->msisdn), "%s", msisdn);
	s->has_delay = json_is_integer(delay);
	s->delay_ms = (uint32_t)json_integer_value(delay);
	sim_defaults(f, s, (int)profile, strcmp(kalg, "rsa-2048") == 0 ? 1 : 0);
	s->serial = (uint32_t)serial;
	s->ks.kvn = (uint8_t)kvn;
	s->ks.counter = (uint64_t)counter & COUNTER_MAX;
	s->pin_tries = (uint8_t)pin;
	s->puk_tries = (uint8_t)puk;
	s->state = strcmp(state, "pin_blocked") == 0    ? CSIM_PIN_BLOCKED
	           : strcmp(state, "card_blocked") == 0 ? CSIM_CARD_BLOCKED
	                                                : CSIM_ACTIVE;
	snprintf(s->cert_serial, sizeof(s->cert_serial), "%s", serial_hex);
	if (alg_parse(kic_alg, &s->ks.kic_alg) != 0 || alg_parse(kid_alg, &s->ks.kid_alg) != 0 ||
	    csim__unhex(kic, s->ks.keys.kic, 32, &s->ks.keys.kic_len) != 0 ||
	    csim__unhex(kid, s->ks.keys.kid, 32, &s->ks.keys.kid_len) != 0 ||
	    csim__unhex(tar, s->tar, 3, &n) != 0 || n != 3 ||
	    (s->key_der = b64_decode(key, &s->key_der_len)) == NULL ||
	    (cert != NULL && (s->cert_der = b64_decode(cert, &s->cert_der_len)) == NULL)) {
		sim_free(s);
		return CSIM_E_CONFIG;
	}
	link_sim(f, s);
	return CSIM_OK;
}

enum csim_err
csim_farm_load(struct csim_farm *f, const char *path, size_t *loaded)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	enum csim_err rc = CSIM_OK;

	*loaded = 0;
	if (fp == NULL)
		return CSIM_E_NOTFOUND;
	while ((len = getline(&line, &cap, fp)) > 0) {
		json_t *o;

		if (len <= 1)
			continue;
		if ((o = json_loadb(line, (size_t)len, 0, NULL)) == NULL) {
			rc = CSIM_E_CONFIG;
			break;
		}
		rc = load_one(f, o);
		json_decref(o);
		if (rc != CSIM_OK)
			break;
		(*loaded)++;
	}
	if (line != NULL)
		OPENSSL_cleanse(line, cap);
	free(line);
	fclose(fp);
	return rc;
}
