/* smsc_route.c -- carrier routing: E.164 prefix -> carrier -> SMSC link settings. Loaded once
 * (or swapped whole on reload), then read-only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsc_int.h"

#define MAX_CARRIERS 64u
#define MAX_ROUTES   4096u
#define MAX_LINE     512u

struct route {
	char prefix[16];
	size_t plen;
	size_t carrier;
};

struct smsc_route_table {
	struct smsc_carrier car[MAX_CARRIERS];
	size_t ncar;
	struct route *routes;
	size_t nroutes;
};

enum smsc_err
smsc_route_new(struct smsc_route_table **out)
{
	struct smsc_route_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return SMSC_E_NOMEM;
	if ((t->routes = calloc(MAX_ROUTES, sizeof(*t->routes))) == NULL) {
		free(t);
		return SMSC_E_NOMEM;
	}
	*out = t;
	return SMSC_OK;
}

void
smsc_route_free(struct smsc_route_table *t)
{
	if (t == NULL)
		return;
	explicit_bzero(t->car, sizeof(t->car)); /* bind passwords */
	free(t->routes);
	free(t);
}

size_t
smsc_route_count(const struct smsc_route_table *t)
{
	return t->nroutes;
}

static bool
digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool
set_str(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

static bool
set_u32(uint32_t *dst, const char *v, uint32_t lo, uint32_t hi)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != 0 || v[0] == '-' || x < lo || x > hi)
		return false;
	*dst = (uint32_t)x;
	return true;
}

static bool
carrier_kv(struct smsc_carrier *c, const char *k, const char *v)
{
	uint32_t port;

	if (strcmp(k, "host") == 0)
		return set_str(c->host, sizeof(c->host), v);
	if (strcmp(k, "port") == 0) {
		if (!set_u32(&port, v, 1, 65535))
			return false;
		c->port = (uint16_t)port;
		return true;
	}
	if (strcmp(k, "system_id") == 0)
		return set_str(c->system_id, sizeof(c->system_id), v);
	if (strcmp(k, "password") == 0)
		return set_str(c->password, sizeof(c->password), v);
	if (strcmp(k, "system_type") == 0)
		return set_str(c->system_type, sizeof(c->system_type), v);
	if (strcmp(k, "mo_addr") == 0)
		return digits(v, strlen(v)) && set_str(c->mo_addr, sizeof(c->mo_addr), v);
	if (strcmp(k, "tps") == 0)
		return set_u32(&c->tps, v, 1, 100000);
	if (strcmp(k, "window") == 0)
		return set_u32(&c->window, v, 1, 1000);
	if (strcmp(k, "binds") == 0)
		return set_u32(&c->binds, v, 1, 64);
	if (strcmp(k, "cc") == 0)
		return digits(v, strlen(v)) && set_str(c->country_code, sizeof(c->country_code), v);
	if (strcmp(k, "national") == 0)
		return digits(v, strlen(v)) &&
		       set_str(c->national_prefix, sizeof(c->national_prefix), v);
	if (strcmp(k, "dlr_id_style") == 0) {
		if (strcmp(v, "auto") == 0)
			c->id_style = SMSC_ID_AUTO;
		else if (strcmp(v, "same") == 0)
			c->id_style = SMSC_ID_SAME;
		else if (strcmp(v, "hex_resp_dec_dlr") == 0)
			c->id_style = SMSC_ID_HEX_RESP_DEC_DLR;
		else
			return false;
		return true;
	}
	if (strcmp(k, "vendor_status") == 0) {
		if (strcmp(v, "permanent") == 0)
			c->vendor_class = SMSC_CLASS_PERMANENT;
		else if (strcmp(v, "temporary") == 0)
			c->vendor_class = SMSC_CLASS_TEMP;
		else
			return false;
		return true;
	}
	return false; /* unknown keys are fatal (STYLE.md 2.11) */
}

static struct smsc_carrier *
carrier_find(struct smsc_route_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncar; i++)
		if (strcmp(t->car[i].name, name) == 0)
			return &t->car[i];
	return NULL;
}

static bool
line_carrier(struct smsc_route_table *t, char **tok, size_t n)
{
	struct smsc_carrier c;

	if (n < 2 || t->ncar >= MAX_CARRIERS || carrier_find(t, tok[1]) != NULL)
		return false;
	memset(&c, 0, sizeof(c));
	if (!set_str(c.name, sizeof(c.name), tok[1]))
		return false;
	c.tps = 10;
	c.window = 10;
	c.binds = 1;
	c.vendor_class = SMSC_CLASS_PERMANENT;
	memcpy(c.country_code, "84", 3);
	memcpy(c.national_prefix, "0", 2);
	for (size_t i = 2; i < n; i++) {
		char *eq = strchr(tok[i], '=');

		if (eq == NULL)
			return false;
		*eq = 0;
		if (!carrier_kv(&c, tok[i], eq + 1))
			return false;
	}
	if (c.host[0] == 0 || c.port == 0 || c.system_id[0] == 0)
		return false;
	t->car[t->ncar++] = c;
	explicit_bzero(&c, sizeof(c));
	return true;
}

static bool
line_route(struct smsc_route_table *t, char **tok, size_t n)
{
	struct smsc_carrier *c;
	size_t pl;

	if (n != 3 || t->nroutes >= MAX_ROUTES || (c = carrier_find(t, tok[2])) == NULL)
		return false;
	pl = strlen(tok[1]);
	if (!digits(tok[1], pl) || pl >= sizeof(t->routes[0].prefix))
		return false;
	for (size_t i = 0; i < t->nroutes; i++)
		if (strcmp(t->routes[i].prefix, tok[1]) == 0)
			return false; /* one carrier per prefix */
	memcpy(t->routes[t->nroutes].prefix, tok[1], pl + 1);
	t->routes[t->nroutes].plen = pl;
	t->routes[t->nroutes].carrier = (size_t)(c - t->car);
	t->nroutes++;
	return true;
}

static bool
parse_line(struct smsc_route_table *t, char *line)
{
	char *tok[24];
	size_t n = 0;
	char *p = line;

	while (*p != 0) {
		while (*p == ' ' || *p == '\t')
			*p++ = 0;
		if (*p == 0 || *p == '#')
			break;
		if (n == sizeof(tok) / sizeof(tok[0]))
			return false;
		tok[n++] = p;
		while (*p != 0 && *p != ' ' && *p != '\t')
			p++;
	}
	if (*p == '#')
		*p = 0;
	if (n == 0)
		return true;
	if (strcmp(tok[0], "carrier") == 0)
		return line_carrier(t, tok, n);
	if (strcmp(tok[0], "route") == 0)
		return line_route(t, tok, n);
	return false;
}

enum smsc_err
smsc_route_load(struct smsc_route_table *t, const char *text, size_t len, size_t *line_no)
{
	char line[MAX_LINE];
	size_t i = 0, no = 0;
	enum smsc_err rc = SMSC_OK;

	while (i < len) {
		size_t s = i, n;

		while (i < len && text[i] != '\n')
			i++;
		n = i - s;
		i++;
		no++;
		if (n >= sizeof(line) || memchr(text + s, 0, n) != NULL) {
			rc = SMSC_E_CONFIG;
			break;
		}
		memcpy(line, text + s, n);
		line[n] = 0;
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = 0;
		if (!parse_line(t, line)) {
			rc = SMSC_E_CONFIG;
			break;
		}
	}
	explicit_bzero(line, sizeof(line));
	if (rc != SMSC_OK)
		*line_no = no;
	return rc;
}

enum smsc_err
smsc_msisdn_normalise(const char *in, const char *cc, const char *national, char *out, size_t cap)
{
	size_t n = strlen(in), nl = strlen(national), cl = strlen(cc), need;
	const char *rest = in;
	const char *pre = "";

	if (in[0] == '+') {
		rest = in + 1;
	} else if (nl > 0 && n > nl && strncmp(in, national, nl) == 0 && strncmp(in, cc, cl) != 0) {
		rest = in + nl; /* 0912... -> 84912... */
		pre = cc;
	}
	n = strlen(rest);
	if (!digits(rest, n) || n < 4 || n + strlen(pre) > 15)
		return SMSC_E_INVAL;
	need = strlen(pre) + n + 1;
	if (need > cap)
		return SMSC_E_SPACE;
	memcpy(out, pre, strlen(pre));
	memcpy(out + strlen(pre), rest, n + 1);
	return SMSC_OK;
}

enum smsc_err
smsc_route_lookup(const struct smsc_route_table *t, const char *msisdn,
                  const struct smsc_carrier **out)
{
	char num[20];
	const struct route *best = NULL;
	/* The first carrier's national convention applies (one country per deployment). */
	const char *cc = t->ncar ? t->car[0].country_code : "84";
	const char *nat = t->ncar ? t->car[0].national_prefix : "0";

	if (smsc_msisdn_normalise(msisdn, cc, nat, num, sizeof(num)) != SMSC_OK)
		return SMSC_E_INVAL;
	for (size_t i = 0; i < t->nroutes; i++) {
		const struct route *r = &t->routes[i];

		if (strncmp(num, r->prefix, r->plen) == 0 && (best == NULL || r->plen > best->plen))
			best = r;
	}
	if (best == NULL)
		return SMSC_E_NOTFOUND;
	*out = &t->car[best->carrier];
	return SMSC_OK;
}

const struct smsc_carrier *
smsc_route_carrier(const struct smsc_route_table *t, size_t i)
{
	return t != NULL && i < t->ncar ? &t->car[i] : NULL;
}
