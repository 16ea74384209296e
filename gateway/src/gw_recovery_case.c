/* gw_recovery_case.c -- a recovery case before it reaches the database: route, due date, body,
 * id, webhook signature, back-off, and the resolve callback's parser (REGULATION.md B14-B18,
 * section 4 "Recovery cases"; PROTOCOL.md section 9). No loop and no I/O except reading the
 * policy file: shared by the gateway and kysoctl, and unit-tested as is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "gw_recovery.h"

#define POLICY_FILE_MAX POL_CONFIG_MAX_BYTES

static enum pol_cred_type
cred_type(const char *s)
{
	if (s != NULL && strcmp(s, "org") == 0)
		return POL_CRED_ORG;
	if (s != NULL && strcmp(s, "device") == 0)
		return POL_CRED_DEVICE;
	return POL_CRED_PERSONAL; /* only `issue` looks at it (REGULATION.md section 4) */
}

static void
rfc3339_ms(uint64_t now_us, char out[32])
{
	time_t secs = (time_t)(now_us / 1000000u);
	struct tm tm;

	gmtime_r(&secs, &tm);
	/* The moduli only bound the widths for the compiler: gmtime_r's fields are in range. */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
	         (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
	         (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
	         (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
	         (unsigned)((now_us / 1000u) % 1000u));
}

/* B15, B18: recover x device x province; a province without a profile follows `default`. */
static int
route_recovery(const struct pol_config *cfg, const struct db_recovery_target *t,
               struct pol_route *r, char *err, size_t errlen)
{
	enum pol_device dev;
	enum pol_err pe;
	const char *prov = t->province != NULL ? t->province : "default";

	if (!pol_device_parse(t->device, &dev)) {
		snprintf(err, errlen, "credential %lld: unknown device kind",
		         (long long)t->credential);
		return -1;
	}
	pe = pol_route(cfg, POL_REQ_RECOVER, cred_type(t->type), dev, prov, r);
	if (pe == POL_E_NOT_FOUND)
		pe = pol_route(cfg, POL_REQ_RECOVER, cred_type(t->type), dev, "default", r);
	if (pe != POL_OK) {
		snprintf(err, errlen, "no recovery route for a %s in %s: %s", t->device, prov,
		         pol_strerror(pe));
		return -1;
	}
	return 0;
}

int
gw_recovery_plan_make(const struct pol_config *cfg, const struct db_recovery_target *t,
                      uint64_t now_us, struct gw_recovery_plan *out, char *err, size_t errlen)
{
	struct pol_route r;
	int32_t due;
	int y, m, d;

	memset(out, 0, sizeof(*out));
	if (cfg == NULL || t == NULL) {
		snprintf(err, errlen, "no policy or credential");
		return -1;
	}
	if (route_recovery(cfg, t, &r, err, errlen) != 0)
		return -1;
	snprintf(out->destination, sizeof(out->destination), "%s", r.dest_id);
	snprintf(out->form, sizeof(out->form), "%s", pol_form_name(r.form));
	out->sla_wd = r.sla_wd;
	/* REGULATION.md section 5: receipt is day 0 (the next working day after office hours). */
	if (r.sla_wd >= 0) {
		if (pol_wd_due(&cfg->calendar, (int64_t)(now_us / 1000000u), r.sla_wd, &due,
		               &out->calendar_missing) != POL_OK) {
			snprintf(err, errlen, "cannot compute the due date");
			return -1;
		}
		pol_day_to_date(due, &y, &m, &d);
		snprintf(out->due_date, sizeof(out->due_date), "%04d-%02d-%02d", y, m, d);
	}
	rfc3339_ms(now_us, out->created_at);
	if (!gw_recovery_case_id(now_us / 1000u, out->case_id)) {
		snprintf(err, errlen, "no randomness for the case id");
		return -1;
	}
	out->body = gw_recovery_body(t, out->case_id, out->destination, out->form,
	                             out->due_date[0] != '\0' ? out->due_date : NULL,
	                             out->created_at, &out->body_len);
	if (out->body == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
gw_recovery_plan_free(struct gw_recovery_plan *p)
{
	if (p != NULL) {
		free(p->body);
		p->body = NULL;
	}
}

void
gw_recovery_plan_request(const struct gw_recovery_plan *p, const struct db_recovery_target *t,
                         const char *opened_by, const char *txn, struct db_recovery_open_req *req)
{
	memset(req, 0, sizeof(*req));
	req->credential = t->credential;
	req->case_id = p->case_id;
	req->destination = p->destination;
	req->form = p->form;
	req->due_date = p->due_date[0] != '\0' ? p->due_date : NULL;
	req->payload = p->body;
	req->created_at = p->created_at;
	req->opened_by = opened_by;
	req->txn = txn;
}

static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* PROTOCOL.md section 9: {case_id, type, device, credential{serial, subject}, msisdn |
 * token_serial, org, province, destination, form, due_date, created_at}. */
char *
gw_recovery_body(const struct db_recovery_target *t, const char *case_id, const char *destination,
                 const char *form, const char *due_date, const char *created_at, size_t *len)
{
	json_t *o = json_object(), *cred = json_object();
	char *txt = NULL;

	if (o == NULL || cred == NULL)
		goto out;
	json_object_set_new(cred, "serial", str_or_null(t->serial_hex));
	json_object_set_new(cred, "subject", str_or_null(t->subject));
	json_object_set_new(o, "case_id", json_string(case_id));
	json_object_set_new(o, "type", json_string("recover"));
	json_object_set_new(o, "device", json_string(t->device));
	json_object_set_new(o, "credential", cred);
	cred = NULL;
	if (strcmp(t->device, "sim") == 0)
		json_object_set_new(o, "msisdn", str_or_null(t->msisdn));
	else if (strcmp(t->device, "token") == 0)
		json_object_set_new(o, "token_serial", str_or_null(t->token_serial));
	json_object_set_new(o, "org", json_string(t->org));
	json_object_set_new(o, "province", str_or_null(t->province));
	json_object_set_new(o, "destination", json_string(destination));
	json_object_set_new(o, "form", json_string(form));
	json_object_set_new(o, "due_date", str_or_null(due_date));
	json_object_set_new(o, "created_at", json_string(created_at));
	txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (txt != NULL && len != NULL)
		*len = strlen(txt);
out:
	json_decref(cred);
	json_decref(o);
	return txt;
}

bool
gw_recovery_case_id(uint64_t now_ms, char out[GW_RECOVERY_ID_CAP])
{
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* Crockford */
	uint8_t b[16];
	int i, bit;

	for (i = 0; i < 6; i++)
		b[i] = (uint8_t)(now_ms >> (8 * (5 - i)));
	if (RAND_bytes(b + 6, 10) != 1)
		return false;
	memcpy(out, "rc-", 3);
	/* 128 bits as 26 characters of 5 bits, the first carrying only the top 3 bits. */
	for (i = 0; i < 26; i++) {
		unsigned v = 0;

		for (bit = 0; bit < 5; bit++) {
			int pos = i * 5 + bit - 2; /* bit index from the top; -2, -1: padding */

			v <<= 1;
			if (pos >= 0)
				v |= (b[pos / 8] >> (7 - pos % 8)) & 1u;
		}
		out[3 + i] = b32[v];
	}
	out[29] = '\0';
	OPENSSL_cleanse(b, sizeof(b));
	return true;
}

int
gw_recovery_signature(const char *secret, const void *body, size_t len, char out[80])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mlen = 0;
	int i;

	if (secret == NULL ||
	    HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &mlen) == NULL ||
	    mlen != 32)
		return -1;
	memcpy(out, "sha256=", 7);
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

int
gw_recovery_backoff_s(int attempts, int min_s, int max_s)
{
	long long d = min_s < 1 ? 1 : min_s;

	for (int i = 1; i < attempts && d < max_s; i++)
		d *= 2;
	return d > max_s ? max_s : (int)d;
}

const struct pol_connector *
gw_recovery_connector(const struct pol_config *cfg, const char *destination)
{
	const struct pol_province *p;

	if (cfg == NULL || destination == NULL)
		return NULL;
	if (strcmp(destination, "central") == 0)
		return cfg->central.connector.url[0] != '\0' ? &cfg->central.connector : NULL;
	p = pol_province_find(cfg, destination);
	return p != NULL && p->connector.url[0] != '\0' ? &p->connector : NULL;
}

bool
gw_recovery_path_case(const char *path, char out[GW_RECOVERY_ID_CAP])
{
	static const char pre[] = "/v1/recovery/", post[] = "/resolve";
	size_t n, i;

	if (path == NULL || strncmp(path, pre, sizeof(pre) - 1) != 0)
		return false;
	path += sizeof(pre) - 1;
	n = strcspn(path, "/");
	if (n != 29 || strcmp(path + n, post) != 0 || strncmp(path, "rc-", 3) != 0)
		return false;
	for (i = 3; i < n; i++)
		if (strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", path[i]) == NULL || path[i] == '\0')
			return false;
	memcpy(out, path, n);
	out[n] = '\0';
	return true;
}

bool
gw_recovery_callback_parse(const void *body, size_t len, char note[GW_RECOVERY_NOTE_MAX + 1],
                           char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = NULL, *v;
	const char *key, *s;
	bool ok = false;
	size_t i, sl;

	note[0] = '\0';
	if (len == 0)
		return true;
	if (len > GW_RECOVERY_BODY_MAX) {
		snprintf(err, errlen, "body over %d bytes", GW_RECOVERY_BODY_MAX);
		return false;
	}
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL || !json_is_object(o)) {
		snprintf(err, errlen, "body is not a JSON object");
		goto out;
	}
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "note") != 0) {
			snprintf(err, errlen, "unknown key");
			goto out;
		}
		if ((s = json_string_value(v)) == NULL ||
		    (sl = json_string_length(v)) > GW_RECOVERY_NOTE_MAX) {
			snprintf(err, errlen, "note must be a string of at most %d bytes",
			         GW_RECOVERY_NOTE_MAX);
			goto out;
		}
		for (i = 0; i < sl; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
				snprintf(err, errlen, "note holds a control character");
				goto out;
			}
		memcpy(note, s, sl);
		note[sl] = '\0';
	}
	ok = true;
out:
	json_decref(o);
	return ok;
}

/* The file holds the `policy` object itself, or a whole configuration object with a `policy`
 * member (as deploy/policy.example.json and `kysoctl policy load` take it). */
static enum pol_err
policy_parse(const char *text, size_t len, struct pol_config *cfg, struct pol_cfg_error *pe)
{
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *inner = json_is_object(root) ? json_object_get(root, "policy") : NULL;
	enum pol_err rc;
	char *sub;

	if (!json_is_object(inner) || json_object_size(root) != 1) {
		json_decref(root);
		return pol_config_parse(text, len, cfg, pe); /* its errors carry line and column */
	}
	sub = json_dumps(inner, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (sub == NULL)
		return POL_E_NOMEM;
	rc = pol_config_parse(sub, strlen(sub), cfg, pe);
	OPENSSL_cleanse(sub, strlen(sub));
	free(sub);
	return rc;
}

struct pol_config *
gw_policy_load(const char *path, char *err, size_t errlen)
{
	struct pol_config *cfg = calloc(1, sizeof(*cfg));
	struct pol_cfg_error pe;
	char *text = NULL;
	size_t len = 0;
	FILE *f = NULL;
	enum pol_err rc;

	if (cfg == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (path == NULL || path[0] == '\0') {
		pol_config_defaults(cfg);
		return cfg;
	}
	if ((f = fopen(path, "rb")) == NULL || (text = malloc(POLICY_FILE_MAX + 1)) == NULL) {
		snprintf(err, errlen, "policy.file \"%.200s\" cannot be read", path);
		goto fail;
	}
	len = fread(text, 1, POLICY_FILE_MAX + 1, f);
	if (ferror(f) || len > POLICY_FILE_MAX) {
		snprintf(err, errlen, "policy.file \"%.200s\": unreadable or over %u bytes", path,
		         POLICY_FILE_MAX);
		goto fail;
	}
	memset(&pe, 0, sizeof(pe));
	if ((rc = policy_parse(text, len, cfg, &pe)) != POL_OK) {
		snprintf(err, errlen, "policy.file \"%.120s\": %s at %d:%d %s: %s", path,
		         pol_strerror(rc), pe.line, pe.column, pe.path, pe.text);
		goto fail;
	}
	OPENSSL_cleanse(text, len); /* it held the connector secrets */
	free(text);
	fclose(f);
	return cfg;
fail:
	if (text != NULL)
		OPENSSL_cleanse(text, len);
	free(text);
	if (f != NULL)
		fclose(f);
	gw_policy_free(cfg);
	return NULL;
}

void
gw_policy_free(struct pol_config *cfg)
{
	if (cfg != NULL) {
		pol_config_wipe(cfg);
		free(cfg);
	}
}
