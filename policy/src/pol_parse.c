/* The `policy` configuration section (REGULATION.md §4, §5, §9): JSON text in, a fixed-size
 * struct out. Operators and deployers write this file, so it is treated as peer input:
 * size capped before parsing, duplicate keys rejected, unknown keys rejected, every string
 * and number bounded, and each error names its place. Tables drive each object. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pol_int.h"

struct pctx {
	struct pol_config *cfg;
	struct pol_cfg_error *err;
	enum pol_err code; /* POL_E_SCHEMA unless a table is full */
	char path[128];
};

/* A field handler reads `v` into the struct at `base`; false after setting the error. */
typedef bool field_fn(struct pctx *px, json_t *v, void *base, const void *arg);

struct field {
	const char *name;
	field_fn *fn;
	size_t off;
	int min, max;    /* numbers: bounds; strings: max = capacity */
	const void *arg; /* handler-specific */
};

static bool
fail(struct pctx *px, const char *text)
{
	if (px->err != NULL) {
		snprintf(px->err->path, sizeof(px->err->path), "%s", px->path);
		snprintf(px->err->text, sizeof(px->err->text), "%s", text);
	}
	return false;
}

/* Appends ".name" to the path and returns the old length for path_pop(). */
static size_t
path_push(struct pctx *px, const char *name)
{
	size_t n = strlen(px->path);

	snprintf(px->path + n, sizeof(px->path) - n, "%s%s", n > 0 ? "." : "", name);
	return n;
}

static void
path_pop(struct pctx *px, size_t n)
{
	px->path[n] = '\0';
}

/* Walks an object against a table; any key not in the table is an error (§8). */
static bool
parse_object(struct pctx *px, json_t *obj, const struct field *tab, size_t n, void *base)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return fail(px, "expected an object");
	json_object_foreach(obj, key, v)
	{
		size_t i, mark;
		bool ok;

		for (i = 0; i < n && strcmp(tab[i].name, key) != 0; i++)
			;
		mark = path_push(px, key);
		if (i == n)
			return fail(px, "unknown key");
		ok = tab[i].fn(px, v, (char *)base + tab[i].off, &tab[i]);
		if (!ok)
			return false;
		path_pop(px, mark);
	}
	return true;
}

static bool
f_int(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct field *f = arg;
	json_int_t x;

	if (!json_is_integer(v))
		return fail(px, "expected an integer");
	x = json_integer_value(v);
	if (x < f->min || x > f->max)
		return fail(px, "integer out of bounds");
	*(int *)dst = (int)x;
	return true;
}

static bool
f_int_or_null(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	if (json_is_null(v)) {
		*(int *)dst = -1; /* null SLA: track only, no due date */
		return true;
	}
	return f_int(px, v, dst, arg);
}

static bool
f_uint(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	int x = 0;

	if (!f_int(px, v, &x, arg))
		return false;
	*(unsigned *)dst = (unsigned)x;
	return true;
}

static bool
f_bool(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	(void)arg;
	if (!json_is_boolean(v))
		return fail(px, "expected true or false");
	*(bool *)dst = json_is_true(v);
	return true;
}

/* charset: NULL = any printable (no control characters) */
static bool
get_str(struct pctx *px, json_t *v, char *dst, size_t cap, const char *charset, bool allow_null)
{
	const char *s;
	size_t len;

	if (allow_null && json_is_null(v)) {
		dst[0] = '\0';
		return true;
	}
	if (!json_is_string(v))
		return fail(px, "expected a string");
	s = json_string_value(v);
	len = json_string_length(v);
	if (len >= cap)
		return fail(px, "string too long");
	if (strlen(s) != len)
		return fail(px, "string contains NUL");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (charset != NULL && strchr(charset, c) == NULL))
			return fail(px, "string contains a character not allowed here");
	}
	memcpy(dst, s, len + 1);
	return true;
}

#define CS_CODE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789."
#define CS_SLUG "abcdefghijklmnopqrstuvwxyz0123456789-"
#define CS_HOST "abcdefghijklmnopqrstuvwxyz0123456789.-"
#define CS_URL  CS_CODE "-_~:/?#[]@!$&'()*+,;=%"

static bool
f_text(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct field *f = arg;

	return get_str(px, v, dst, (size_t)f->max, f->arg, false);
}

static bool
f_code(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct field *f = arg;

	return get_str(px, v, dst, (size_t)f->max, CS_CODE, true);
}

static bool
f_url(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct field *f = arg;

	if (!get_str(px, v, dst, (size_t)f->max, CS_URL, false))
		return false;
	if (strncmp(dst, "https://", 8) != 0 || ((char *)dst)[8] == '\0')
		return fail(px, "expected an https:// URL");
	return true;
}

static bool
f_email(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct field *f = arg;
	const char *at;

	if (!get_str(px, v, dst, (size_t)f->max, CS_HOST "_+@", false))
		return false;
	at = strchr(dst, '@');
	if (at == NULL || at == dst || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return fail(px, "expected an e-mail address");
	return true;
}

/* Choice among words: arg is a NULL-terminated list; the index is stored as an int-sized
 * enum. */
static bool
f_word(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct field *f = arg;
	const char *const *words = f->arg;
	const char *s = json_string_value(v);

	if (!json_is_string(v))
		return fail(px, "expected a string");
	for (int i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], s) == 0) {
			*(int *)dst = f->min + i;
			return true;
		}
	return fail(px, "value not allowed here");
}

/* "YYYY-MM-DD" → day number. */
static bool
get_date(struct pctx *px, json_t *v, int32_t *day)
{
	const char *s = json_string_value(v);
	int y, m, d;

	if (!json_is_string(v) || json_string_length(v) != 10 || s[4] != '-' || s[7] != '-')
		return fail(px, "expected a date YYYY-MM-DD");
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return fail(px, "expected a date YYYY-MM-DD");
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < POL_YEAR_MIN || y > POL_YEAR_MAX || pol_day_from_date(y, m, d, day) != POL_OK)
		return fail(px, "no such date (years 2000-2099)");
	return true;
}

/* A cut-off date: from the start of the next local day (the date itself is still before). */
static bool
f_cutoff(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	int32_t day;

	(void)arg;
	if (json_is_null(v)) {
		*(int64_t *)dst = 0;
		return true;
	}
	if (!get_date(px, v, &day))
		return false;
	*(int64_t *)dst = ((int64_t)day + 1) * POL_DAY_S - 7 * 3600;
	return true;
}

static bool
f_int_array(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct field *f = arg;
	size_t cap = (size_t)(uintptr_t)f->arg, i;
	json_t *e;
	int *out = dst;

	if (!json_is_array(v) || json_array_size(v) > cap)
		return fail(px, "expected a short array of integers");
	json_array_foreach(v, i, e)
	{
		if (!json_is_integer(e) || json_integer_value(e) < f->min ||
		    json_integer_value(e) > f->max)
			return fail(px, "array element out of bounds");
		out[i] = (int)json_integer_value(e);
	}
	for (; i < cap; i++)
		out[i] = 0;
	return true;
}

struct tabref {
	const struct field *tab;
	size_t n;
};
#define NELEM(t) (sizeof(t) / sizeof((t)[0]))

static bool
f_obj(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const struct tabref *t = ((const struct field *)arg)->arg;

	return parse_object(px, v, t->tab, t->n, dst);
}

static bool
f_reminders(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	static const struct field f = { "", NULL, 0, 1, 365, (const void *)(uintptr_t)4 };

	(void)dst;
	(void)arg;
	if (!f_int_array(px, v, px->cfg->reminders_days, &f))
		return false;
	px->cfg->nreminders = (unsigned)json_array_size(v);
	return true;
}

static bool
f_escalate(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	static const struct field f = { "", NULL, 0, 0, 60, (const void *)(uintptr_t)2 };

	(void)dst;
	(void)arg;
	if (json_array_size(v) != 2)
		return fail(px, "expected two working-day counts");
	if (!f_int_array(px, v, px->cfg->escalate_at, &f))
		return false;
	if (px->cfg->escalate_at[0] > px->cfg->escalate_at[1])
		return fail(px, "escalation days must not decrease");
	return true;
}

static bool
f_domains(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	struct pol_config *cfg = px->cfg;
	size_t i;
	json_t *e;

	(void)dst;
	(void)arg;
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > POL_EMAIL_DOMAINS_MAX)
		return fail(px, "expected 1 to 8 domains");
	json_array_foreach(v, i, e)
	{
		if (!get_str(px, e, cfg->email_domains[i], POL_DOMAIN_CAP, CS_HOST, false))
			return false;
		if (cfg->email_domains[i][0] == '\0')
			return fail(px, "empty domain");
	}
	cfg->nemail_domains = (unsigned)i;
	return true;
}

static const char *const hash_names[] = { "SHA-256",     "SHA-384",  "SHA-512",  "SHA-512/224",
	                                  "SHA-512/256", "SHA3-224", "SHA3-256", "SHA3-384",
	                                  "SHA3-512",    "SHAKE128", "SHAKE256", NULL };

static bool
f_hashes(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	unsigned bits = 0;
	size_t i;
	json_t *e;

	(void)arg;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 16)
		return fail(px, "expected a list of hash names");
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		unsigned k;

		for (k = 0; s != NULL && hash_names[k] != NULL && strcmp(s, hash_names[k]) != 0;
		     k++)
			;
		if (s == NULL || hash_names[k] == NULL)
			return fail(px, "unknown or disallowed hash (TT15 Annex I)");
		bits |= 1u << (POL_HASH_SHA256 + k);
	}
	*(unsigned *)dst = bits;
	return true;
}

/* Accepted for the gateway's verifier; kyso's own signing is fixed (PROTOCOL.md §4.1). */
static bool
f_padding(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	size_t i;
	json_t *e;

	(void)dst;
	(void)arg;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 2)
		return fail(px, "expected [\"PKCS1v15\", \"PSS\"] or a part of it");
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);

		if (s == NULL || (strcmp(s, "PKCS1v15") != 0 && strcmp(s, "PSS") != 0))
			return fail(px, "unknown padding");
	}
	return true;
}

static bool
f_tls(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const char *s = json_string_value(v);

	(void)dst;
	(void)arg;
	if (s == NULL || (strcmp(s, "1.2") != 0 && strcmp(s, "1.3") != 0))
		return fail(px, "tls_min must be \"1.2\" or \"1.3\" (D12)");
	return true;
}

static bool
f_secret(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	(void)arg;
	if (!get_str(px, v, dst, POL_SECRET_CAP, NULL, false))
		return false;
	if (strlen(dst) < 16)
		return fail(px, "secret shorter than 16 characters");
	return true;
}

static const struct field connector_tab[] = {
	/* PEM bundle the webhook's TLS certificate must chain to; "" = the system store. */
	{ "ca_file", f_text, offsetof(struct pol_connector, ca_file), 0, POL_URL_CAP, NULL },
	{ "secret", f_secret, offsetof(struct pol_connector, secret), 0, POL_SECRET_CAP, NULL },
	{ "url", f_url, offsetof(struct pol_connector, url), 0, POL_URL_CAP, NULL },
};

static bool
f_connector(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	struct pol_connector *c = dst;

	(void)arg;
	if (json_is_null(v)) {
		explicit_bzero(c, sizeof(*c));
		return true;
	}
	if (!parse_object(px, v, connector_tab, sizeof(connector_tab) / sizeof(connector_tab[0]),
	                  c))
		return false;
	if (c->url[0] == '\0' || c->secret[0] == '\0')
		return fail(px, "a connector needs both url and secret");
	return true;
}

static bool
f_auth(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	static const char *const words[] = { "renew", "change", "recover_token" };
	unsigned bits = 0;
	size_t i;
	json_t *e;

	(void)arg;
	if (!json_is_array(v) || json_array_size(v) > 3)
		return fail(px, "expected a list of renew, change, recover_token");
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		unsigned k;

		for (k = 0; s != NULL && k < 3 && strcmp(s, words[k]) != 0; k++)
			;
		if (s == NULL || k == 3)
			return fail(px, "unknown service (renew, change, recover_token)");
		bits |= 1u << k;
	}
	*(unsigned *)dst = bits;
	return true;
}

/* B15: null or "central" keeps SIM recovery at the Cục; "dost" sends it to the Sở. */
static bool
f_simover(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const char *s = json_string_value(v);

	(void)arg;
	if (json_is_null(v) || (s != NULL && strcmp(s, "central") == 0))
		*(bool *)dst = false;
	else if (s != NULL && strcmp(s, "dost") == 0)
		*(bool *)dst = true;
	else
		return fail(px, "expected null, \"central\" or \"dost\"");
	return true;
}

static const char *const w_regime[] = { "nd68", "legacy-tt185", NULL };
static const char *const w_dost_channel[] = { "truc", "qlvb", NULL };
static const char *const w_central_channel[] = { "portal", "truc", NULL };
static const char *const w_stale[] = { "warn", "deny", "allow", NULL };

#define PF(name, fn, member, min, max, arg)                                                        \
	{                                                                                          \
		name, fn, offsetof(struct pol_province, member), min, max, arg                     \
	}
static const struct field province_tab[] = {
	/* alphabetical */
	PF("channel_to_dost", f_word, channel_to_dost, POL_CH_TRUC, 0, w_dost_channel),
	PF("connector", f_connector, connector, 0, 0, NULL),
	PF("dost_authorised_for", f_auth, authorised, 0, 0, NULL),
	PF("dost_handles_sim_renew_change", f_bool, dost_handles_sim_renew_change, 0, 0, NULL),
	PF("name", f_text, name, 0, POL_NAME_CAP, NULL),
	PF("regime", f_word, regime, POL_REGIME_ND68, 0, w_regime),
	PF("sim_recovery_override", f_simover, sim_recovery_override, 0, 0, NULL),
	PF("truc_code", f_code, truc_code, 0, POL_CODE_CAP, NULL),
};

static bool
valid_slug(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= POL_SLUG_CAP || s[0] < 'a' || s[0] > 'z' || s[n - 1] == '-')
		return false;
	return strspn(s, CS_SLUG) == n;
}

static struct pol_province *
province_edit(struct pol_config *cfg, const char *slug)
{
	for (unsigned i = 0; i < cfg->nprovinces; i++)
		if (strcmp(cfg->provinces[i].slug, slug) == 0)
			return &cfg->provinces[i];
	return NULL;
}

static bool
f_provinces(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	struct pol_config *cfg = px->cfg;
	const char *slug;
	json_t *pv;

	(void)dst;
	(void)arg;
	if (!json_is_object(v))
		return fail(px, "expected an object of province profiles by slug");
	json_object_foreach(v, slug, pv)
	{
		struct pol_province *p = province_edit(cfg, slug);
		size_t mark = path_push(px, slug);

		if (!valid_slug(slug))
			return fail(px,
			            "a slug is 1-47 of a-z, 0-9 and '-', starting with a letter");
		if (p == NULL) { /* a new province: national rules until its keys say otherwise */
			if (cfg->nprovinces >= POL_PROVINCES_MAX) {
				px->code = POL_E_FULL;
				return fail(px, "too many province profiles");
			}
			p = &cfg->provinces[cfg->nprovinces++];
			memset(p, 0, sizeof(*p));
			memcpy(p->slug, slug, strlen(slug) + 1);
			memcpy(p->name, slug, strlen(slug) + 1);
			p->channel_to_dost = POL_CH_TRUC;
		}
		if (!parse_object(px, pv, province_tab,
		                  sizeof(province_tab) / sizeof(province_tab[0]), p))
			return false;
		path_pop(px, mark);
	}
	return true;
}

static const struct field central_sla_tab[] = {
	{ "recover", f_int, offsetof(struct pol_central, sla_recover_wd), 0, 60, NULL },
};
static const struct tabref central_sla_ref = { central_sla_tab, 1 };
#define CF(name, fn, member, min, max, arg)                                                        \
	{                                                                                          \
		name, fn, offsetof(struct pol_central, member), min, max, arg                      \
	}
static const struct field central_tab[] = {
	CF("channel", f_word, channel, POL_CH_PORTAL, 0, w_central_channel),
	CF("connector", f_connector, connector, 0, 0, NULL),
	CF("email", f_email, email, 0, POL_DOMAIN_CAP, NULL),
	CF("name", f_text, name, 0, POL_NAME_CAP, NULL),
	{ "portal", f_url, offsetof(struct pol_central, portal), 0, POL_URL_CAP, NULL },
	{ "sla_working_days", f_obj, 0, 0, 0, &central_sla_ref },
	CF("truc_code", f_code, truc_code, 0, POL_CODE_CAP, NULL),
};

/* §5: one year of holidays, compensatory days off and make-up days. */
static bool
set_days(struct pctx *px, json_t *v, struct pol_cal_year *cy, bool makeup)
{
	int32_t jan1, day;
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > 120)
		return fail(px, "expected a list of at most 120 dates");
	if (pol_day_from_date(cy->year, 1, 1, &jan1) != POL_OK)
		return fail(px, "bad year");
	json_array_foreach(v, i, e)
	{
		int y, m, d, wd;
		unsigned doy;

		if (!get_date(px, e, &day))
			return false;
		pol_day_to_date(day, &y, &m, &d);
		if (y != cy->year)
			return fail(px, "date outside the year it is listed under");
		doy = (unsigned)(day - jan1);
		wd = (int)(((int64_t)day % 7 + 7 + 3) % 7); /* 0 = Monday */
		if (makeup && wd < 5)
			return fail(px, "a make-up working day must fall on a weekend");
		if (makeup)
			cy->on[doy / 8] |= (uint8_t)(1u << (doy % 8));
		else
			cy->off[doy / 8] |= (uint8_t)(1u << (doy % 8));
	}
	return true;
}

static bool
f_holidays(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	(void)arg;
	return set_days(px, v, dst, false);
}

static bool
f_makeup(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	(void)arg;
	return set_days(px, v, dst, true);
}

static const struct field year_tab[] = {
	{ "days_off", f_holidays, 0, 0, 0, NULL },
	{ "holidays", f_holidays, 0, 0, 0, NULL },
	{ "makeup_saturdays", f_makeup, 0, 0, 0, NULL },
};

static bool
f_years(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	struct pol_calendar *cal = dst;
	const char *key;
	json_t *yv;

	(void)arg;
	if (!json_is_object(v))
		return fail(px, "expected an object of years");
	json_object_foreach(v, key, yv)
	{
		struct pol_cal_year *cy;
		size_t mark = path_push(px, key);
		int y;

		if (strlen(key) != 4 || strspn(key, "0123456789") != 4)
			return fail(px, "a year is four digits");
		y = (key[0] - '0') * 1000 + (key[1] - '0') * 100 + (key[2] - '0') * 10 + key[3] -
		    '0';
		if (y < POL_YEAR_MIN || y > POL_YEAR_MAX)
			return fail(px, "year outside 2000-2099");
		if (cal->nyears >= POL_YEARS_MAX) {
			px->code = POL_E_FULL;
			return fail(px, "too many calendar years");
		}
		cy = &cal->years[cal->nyears++];
		memset(cy, 0, sizeof(*cy));
		cy->year = y;
		if (!parse_object(px, yv, year_tab, NELEM(year_tab), cy))
			return false;
		path_pop(px, mark);
	}
	/* Keys are unique (JSON_REJECT_DUPLICATES) and four digits, so years are distinct. */
	for (unsigned i = 1; i < cal->nyears; i++)
		for (unsigned j = i; j > 0 && cal->years[j - 1].year > cal->years[j].year; j--) {
			struct pol_cal_year t = cal->years[j];

			cal->years[j] = cal->years[j - 1];
			cal->years[j - 1] = t;
		}
	return true;
}

static bool
f_hhmm(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	const char *s = json_string_value(v);
	int h, m;

	(void)arg;
	if (s == NULL || json_string_length(v) != 5 || s[2] != ':' || strspn(s, "0123456789:") != 5)
		return fail(px, "expected HH:MM");
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 24 || m > 59 || (h == 24 && m != 0))
		return fail(px, "expected HH:MM");
	*(int *)dst = h * 60 + m;
	return true;
}

static const struct field calendar_tab[] = {
	{ "office_end", f_hhmm, offsetof(struct pol_calendar, office_end_min), 0, 0, NULL },
	{ "years", f_years, 0, 0, 0, NULL },
};

static bool
f_calendar(struct pctx *px, json_t *v, void *dst, const void *arg)
{
	struct pol_calendar *cal = dst;

	(void)arg;
	cal->nyears = 0; /* the configured calendar replaces, never merges */
	return parse_object(px, v, calendar_tab, NELEM(calendar_tab), cal);
}

#define GF(name, fn, member, min, max, arg)                                                        \
	{                                                                                          \
		name, fn, offsetof(struct pol_config, member), min, max, arg                       \
	}
static const struct field cert_tab[] = {
	GF("change_min_days_left", f_int, change_min_days_left, 0, 365, NULL),
	GF("legacy_renewal_min_days_left", f_int, legacy_renewal_min_days_left, 0, 365, NULL),
	GF("new_max_years", f_int, new_max_years, 1, 10, NULL),
	GF("reminders_days", f_reminders, reminders_days, 0, 0, NULL),
	GF("renewal_max_count", f_int, renewal_max_count, 0, 5, NULL),
	GF("renewal_max_years", f_int, renewal_max_years, 1, 10, NULL),
	GF("renewal_min_days_left", f_int, renewal_min_days_left, 0, 365, NULL),
};
static const struct field sla_tab[] = {
	GF("device_return", f_int_or_null, sla_device_return, 0, 60, NULL),
	GF("escalate_at", f_escalate, escalate_at, 0, 0, NULL),
	GF("issue", f_int_or_null, sla_issue, 0, 60, NULL),
	GF("recover_token_dost", f_int_or_null, sla_recover_token_dost, 0, 60, NULL),
	GF("renew_change", f_int_or_null, sla_renew_change, 0, 60, NULL),
	GF("revoke", f_int_or_null, sla_revoke, 0, 60, NULL),
};
static const struct field block_tab[] = {
	GF("approve", f_bool, block_unknown_approve, 0, 0, NULL),
	GF("org_seal", f_bool, block_unknown_org_seal, 0, 0, NULL),
};
static const struct tabref block_ref = { block_tab, NELEM(block_tab) };
static const struct field signing_tab[] = {
	{ "block_on_status_unknown", f_obj, 0, 0, 0, &block_ref },
	GF("stale_on_transfer", f_word, stale_on_transfer, POL_STALE_WARN, 0, w_stale),
};
static const struct field crypto_tab[] = {
	GF("ecdsa_bits", f_uint, ecdsa_min_bits, 256, 1024, NULL),
	GF("hashes", f_hashes, hashes_allowed, 0, 0, NULL),
	GF("rsa_bits", f_uint, rsa_min_bits, 2048, 16384, NULL),
	{ "tls_min", f_tls, 0, 0, 0, NULL },
	{ "verify_padding", f_padding, 0, 0, 0, NULL },
};
static const struct tabref cert_ref = { cert_tab, NELEM(cert_tab) };
static const struct tabref sla_ref = { sla_tab, NELEM(sla_tab) };
static const struct tabref signing_ref = { signing_tab, NELEM(signing_tab) };
static const struct tabref crypto_ref = { crypto_tab, NELEM(crypto_tab) };
static const struct tabref central_ref = { central_tab, NELEM(central_tab) };

static const struct field top_tab[] = {
	/* alphabetical, as in the configuration docs */
	GF("calendar", f_calendar, calendar, 0, 0, NULL),
	GF("central", f_obj, central, 0, 0, &central_ref),
	{ "cert", f_obj, 0, 0, 0, &cert_ref },
	{ "crypto_min", f_obj, 0, 0, 0, &crypto_ref },
	GF("legacy_algorithm_cutoff", f_cutoff, legacy_algorithm_cutoff, 0, 0, NULL),
	{ "official_email_domains", f_domains, 0, 0, 0, NULL },
	{ "provinces", f_provinces, 0, 0, 0, NULL },
	GF("public_ca_cutoff", f_cutoff, public_ca_cutoff, 0, 0, NULL),
	GF("regime", f_word, regime, POL_REGIME_ND68, 0, w_regime),
	{ "signing", f_obj, 0, 0, 0, &signing_ref },
	{ "sla_working_days", f_obj, 0, 0, 0, &sla_ref },
};

/* Every province keeps a profile named `default` to fall back on, and the limits agree. */
static bool
cross_check(struct pctx *px)
{
	struct pol_config *cfg = px->cfg;

	px->path[0] = '\0';
	if (pol_province_find(cfg, "default") == NULL)
		return fail(px, "the `default` province profile is missing");
	if (cfg->renewal_max_years > cfg->new_max_years)
		return fail(px, "cert.renewal_max_years exceeds cert.new_max_years");
	return true;
}

static void
json_fail(struct pol_cfg_error *err, const json_error_t *je)
{
	if (err == NULL)
		return;
	err->line = je->line;
	err->column = je->column;
	snprintf(err->path, sizeof(err->path), "%s", "");
	snprintf(err->text, sizeof(err->text), "%s", je->text);
}

enum pol_err
pol_config_parse(const char *text, size_t len, struct pol_config *cfg, struct pol_cfg_error *err)
{
	struct pctx px = { .cfg = cfg, .err = err, .code = POL_E_SCHEMA };
	enum pol_err rc = POL_E_INVAL;
	json_error_t je;
	json_t *root = NULL;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (text == NULL || cfg == NULL)
		return POL_E_INVAL;
	pol_config_defaults(cfg);
	if (len > POL_CONFIG_MAX_BYTES) { /* STYLE 2.10: the cap before the parser */
		rc = POL_E_TOO_BIG;
		if (err != NULL)
			snprintf(err->text, sizeof(err->text), "over %u bytes",
			         POL_CONFIG_MAX_BYTES);
		goto out;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		rc = json_error_code(&je) == json_error_out_of_memory ? POL_E_NOMEM : POL_E_JSON;
		json_fail(err, &je);
		goto out;
	}
	if (!parse_object(&px, root, top_tab, NELEM(top_tab), cfg) || !cross_check(&px)) {
		rc = px.code;
		goto out;
	}
	rc = POL_OK;
out:
	json_decref(root);
	if (rc != POL_OK)
		pol_config_wipe(cfg); /* never half-loaded, and no secret left behind */
	return rc;
}
