/* gw_kysoctl_util.c -- what every kysoctl command group shares: options, times, output,
 * exit codes and the loaded policy. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gw_kysoctl_int.h"

#define LOCAL_OFFSET_S (7 * 3600) /* Asia/Ho_Chi_Minh, no daylight saving */

static struct kc_opt *
find_opt(struct kc_opt *opts, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

/* Appends the comma-separated words of v to the list; empty words are skipped. */
static bool
list_add(json_t *list, const char *v)
{
	const char *p = v;

	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t n = e != NULL ? (size_t)(e - p) : strlen(p);

		if (n > 0 && json_array_append_new(list, json_stringn(p, n)) != 0)
			return false;
		p += n + (e != NULL);
	}
	return true;
}

static bool
opt_take(struct kc_opt *o, const char *v)
{
	o->seen = true;
	if (o->kind == KC_STR)
		*o->str = v;
	else if (o->kind == KC_LIST)
		return list_add(o->list, v);
	return true;
}

bool
kc_parse(int argc, char **argv, int first, struct kc_opt *opts, size_t nopts, const char **pos,
         size_t npos, bool *json, char *err, size_t errlen)
{
	size_t k = 0;

	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *eq;
		struct kc_opt *o;
		size_t len;

		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			if (k >= npos) {
				snprintf(err, errlen, "unexpected argument '%s'", a);
				return false;
			}
			pos[k++] = a;
			continue;
		}
		eq = strchr(a + 2, '=');
		len = eq != NULL ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (eq == NULL && strcmp(a + 2, "json") == 0 && json != NULL) {
			*json = true;
			continue;
		}
		if ((o = find_opt(opts, nopts, a + 2, len)) == NULL) {
			snprintf(err, errlen, "unknown option '%.*s'", (int)len + 2, a);
			return false;
		}
		if (o->kind == KC_FLAG) {
			if (eq != NULL) {
				snprintf(err, errlen, "--%s takes no value", o->name);
				return false;
			}
			o->seen = true;
			*o->flag = true;
			continue;
		}
		if (eq == NULL && i + 1 >= argc) {
			snprintf(err, errlen, "--%s needs a value", o->name);
			return false;
		}
		if (!opt_take(o, eq != NULL ? eq + 1 : argv[++i])) {
			snprintf(err, errlen, "out of memory");
			return false;
		}
	}
	for (size_t i = 0; i < nopts; i++)
		if (opts[i].required && !opts[i].seen) {
			snprintf(err, errlen, "--%s is required", opts[i].name);
			return false;
		}
	return true;
}

bool
kc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* n decimal digits at *p, advancing it. */
static bool
digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
lit(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

/* "Z", "+HH:MM", "-HH:MM" or nothing (local time). */
static bool
parse_offset(const char **p, int64_t *off)
{
	int hh, mm, sign;

	*off = LOCAL_OFFSET_S;
	if (**p == '\0')
		return true;
	if (lit(p, 'Z')) {
		*off = 0;
		return **p == '\0';
	}
	if (**p != '+' && **p != '-')
		return false;
	sign = *(*p)++ == '-' ? -1 : 1;
	if (!digits(p, 2, &hh) || !lit(p, ':') || !digits(p, 2, &mm) || hh > 14 || mm > 59)
		return false;
	*off = sign * (hh * 3600 + mm * 60);
	return **p == '\0';
}

bool
kc_parse_time(const char *s, int64_t *out)
{
	const char *p = s;
	int y, mo, d, hh = 0, mi = 0, ss = 0;
	int32_t day;
	int64_t off = LOCAL_OFFSET_S;

	if (s == NULL || !digits(&p, 4, &y) || !lit(&p, '-') || !digits(&p, 2, &mo) ||
	    !lit(&p, '-') || !digits(&p, 2, &d))
		return false;
	if (pol_day_from_date(y, mo, d, &day) != POL_OK)
		return false;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &hh) || !lit(&p, ':') || !digits(&p, 2, &mi))
			return false;
		if (*p == ':' && (p++, !digits(&p, 2, &ss)))
			return false;
		if (hh > 23 || mi > 59 || ss > 59 || !parse_offset(&p, &off))
			return false;
	} else if (*p != '\0') {
		return false;
	}
	*out = (int64_t)day * 86400 + hh * 3600 + mi * 60 + ss - off;
	return true;
}

void
kc_format_day(int32_t day, char *out, size_t cap)
{
	int y, m, d;

	pol_day_to_date(day, &y, &m, &d);
	snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
}

void
kc_format_time(int64_t t, char *out, size_t cap)
{
	int minute;
	int32_t day = pol_day_of_time(t, &minute);
	int64_t local = t + LOCAL_OFFSET_S;
	int sec = (int)(((local % 60) + 60) % 60);
	char date[16];

	kc_format_day(day, date, sizeof(date));
	snprintf(out, cap, "%sT%02d:%02d:%02d+07:00", date, minute / 60, minute % 60, sec);
}

int
kc_db_exit(enum db_err rc)
{
	switch (rc) {
	case DB_OK:
		return KC_OK;
	case DB_E_EXISTS:
	case DB_E_NOTFOUND:
	case DB_E_INVAL:
		return KC_REFUSED;
	default:
		return KC_DB;
	}
}

int
kc_fail(const char *what, enum db_err rc, const char *err)
{
	fprintf(stderr, "kysoctl: %s: %s%s%s\n", what, db_strerror(rc),
	        err != NULL && err[0] ? ": " : "", err != NULL ? err : "");
	return kc_db_exit(rc);
}

int
kc_usage(const char *usage_text, const char *err)
{
	if (err != NULL && err[0] != '\0')
		fprintf(stderr, "kysoctl: %s\n", err);
	fprintf(stderr, "usage: kysoctl %s\n", usage_text);
	return KC_USAGE;
}

int
kc_print_obj(json_t *obj)
{
	char *txt = json_dumps(obj, JSON_INDENT(2));
	int rc = KC_OK;

	if (txt == NULL)
		rc = KC_DB;
	else
		puts(txt);
	free(txt);
	json_decref(obj);
	return rc;
}

static void
print_cell(const json_t *v)
{
	if (json_is_string(v))
		fputs(json_string_value(v), stdout);
	else if (json_is_integer(v))
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_true(v))
		fputs("yes", stdout);
	else if (json_is_false(v))
		fputs("no", stdout);
	else if (json_is_null(v) || v == NULL)
		fputs("-", stdout);
	else {
		char *t = json_dumps(v, JSON_COMPACT);

		fputs(t != NULL ? t : "?", stdout);
		free(t);
	}
}

int
kc_print_rows(const struct kc *kc, const char *json_text, const char *const *keys)
{
	json_error_t jerr;
	json_t *v = json_loads(json_text, JSON_REJECT_DUPLICATES, &jerr), *row;
	size_t i;

	if (v == NULL) {
		fprintf(stderr, "kysoctl: the database answered something that is not JSON\n");
		return KC_DB;
	}
	if (kc->json)
		return kc_print_obj(v);
	if (!json_is_array(v)) {
		json_t *one = json_array();

		json_array_append_new(one, v);
		v = one;
	}
	json_array_foreach(v, i, row)
	{
		for (size_t k = 0; keys[k] != NULL; k++) {
			if (k > 0)
				putchar('\t');
			print_cell(json_object_get(row, keys[k]));
		}
		putchar('\n');
	}
	json_decref(v);
	return KC_OK;
}

json_t *
kc_decision_json(const struct pol_decision *d)
{
	static const char *const verdicts[] = { "allow", "warn", "cosign", "deny" };
	json_t *o = json_object(), *hits = json_array(), *tasks = json_array();

	for (unsigned i = 0; i < d->nhit && i < POL_HITS_MAX; i++) {
		const struct pol_reason_info *ri = pol_reason_info(d->hit[i].reason);

		json_array_append_new(hits,
		                      json_pack("{s:s, s:s, s:s, s:s, s:s}", "verdict",
		                                verdicts[d->hit[i].verdict & 3], "rule",
		                                d->hit[i].rule ? d->hit[i].rule : "", "reason",
		                                ri->name, "vi", ri->msg_vi, "en", ri->msg_en));
	}
	for (unsigned i = 0; i < d->ntask && i < POL_TASKS_MAX; i++)
		json_array_append_new(tasks, json_pack("{s:s, s:s}", "kind",
		                                       pol_task_name(d->task[i].kind), "rule",
		                                       d->task[i].rule ? d->task[i].rule : ""));
	json_object_set_new(o, "decision", json_string(verdicts[d->verdict & 3]));
	if (d->verdict == POL_DENY) {
		json_object_set_new(o, "rule", json_string(d->rule ? d->rule : ""));
		json_object_set_new(o, "reason", json_string(pol_reason_info(d->reason)->name));
	}
	if (d->cosign != POL_ROLE_NONE)
		json_object_set_new(o, "cosign",
		                    json_pack("{s:s, s:s}", "role", pol_role_name(d->cosign),
		                              "rule", d->cosign_rule ? d->cosign_rule : ""));
	json_object_set_new(o, "rules", hits);
	json_object_set_new(o, "tasks", tasks);
	return o;
}

int
kc_refuse(const struct kc *kc, const struct pol_decision *d)
{
	const struct pol_reason_info *ri = pol_reason_info(d->reason);

	if (kc->json)
		(void)kc_print_obj(kc_decision_json(d));
	fprintf(stderr, "kysoctl: refused: %s %s: %s\n", d->rule ? d->rule : "?", ri->name,
	        ri->msg_en);
	for (unsigned i = 0; i < d->nhit && i < POL_HITS_MAX; i++) {
		const struct pol_reason_info *h = pol_reason_info(d->hit[i].reason);

		if (d->hit[i].reason != d->reason)
			fprintf(stderr, "kysoctl:   also %s %s: %s\n",
			        d->hit[i].rule ? d->hit[i].rule : "?", h->name, h->msg_en);
	}
	return KC_REFUSED;
}

int
kc_policy_get(struct kc *kc, struct pol_config *cfg, bool *loaded)
{
	char err[256] = "", *text = NULL;
	struct pol_cfg_error perr;
	enum db_err rc = db_admin_policy_text(kc->adm, &text, err, sizeof(err));

	*loaded = false;
	if (rc == DB_E_NOTFOUND) {
		pol_config_defaults(cfg);
		return KC_OK;
	}
	if (rc != DB_OK)
		return kc_fail("policy", rc, err);
	/* The text was validated when it was loaded; a failure now means a newer format. */
	if (pol_config_parse(text, strlen(text), cfg, &perr) != POL_OK) {
		fprintf(stderr, "kysoctl: the loaded policy no longer parses: %s: %s\n", perr.path,
		        perr.text);
		free(text);
		return KC_DB;
	}
	free(text);
	*loaded = true;
	return KC_OK;
}

/* Prints a JSON list from the database, or fails with the right exit code. */
int
kc_show_list(struct kc *kc, const char *what, enum db_err rc, char *json, const char *err,
             const char *const *keys)
{
	int status;

	if (rc != DB_OK)
		return kc_fail(what, rc, err);
	status = kc_print_rows(kc, json, keys);
	free(json);
	return status;
}

/* "added" output: {"id": ..., plus the given key} with --json, else one line. */
int
kc_show_added(const struct kc *kc, const char *what, const char *key, const char *val, int64_t id)
{
	if (kc->json) {
		json_t *o = json_object();

		if (id > 0)
			json_object_set_new(o, "id", json_integer(id));
		if (key != NULL)
			json_object_set_new(o, key, json_string(val));
		return kc_print_obj(o);
	}
	if (id > 0)
		printf("%s %lld added\n", what, (long long)id);
	else
		printf("%s %s ready\n", what, val);
	return KC_OK;
}

/* Normalises an optional time option to ISO 8601 (+07:00) in buf; false when unreadable. */
bool
kc_time_opt(const char *in, char *buf, size_t cap, const char **out)
{
	int64_t t;

	*out = NULL;
	if (in == NULL)
		return true;
	if (!kc_parse_time(in, &t))
		return false;
	kc_format_time(t, buf, cap);
	*out = buf;
	return true;
}
