/* gw_kysoctl_int.h -- what kysoctl's command groups share: exit codes, the option parser,
 * times, output in JSON or columns, and the pure parsers and renderers that the unit and fuzz
 * tests reach directly (provisioning lines, report periods, the usage report). */
#ifndef KYSO_GW_KYSOCTL_INT_H
#define KYSO_GW_KYSOCTL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <kyso/db.h>
#include <kyso/pol.h>

/* Exit codes (docs/kysoctl.md). */
enum kc_exit {
	KC_OK = 0,
	KC_REFUSED = 1, /* refused by a rule, not found, exists already, invalid value */
	KC_USAGE = 2,
	KC_DB = 3, /* the database failed or is unreachable */
};

struct kc {
	struct db_admin *adm;
	bool json;   /* --json: machine output on stdout */
	int64_t now; /* Unix seconds, read once per command */
};

/* ---- options (gw_kysoctl_util.c) ---- */
enum kc_opt_kind {
	KC_STR = 0, /* --name VALUE or --name=VALUE; *str */
	KC_FLAG,    /* --name; *flag = true */
	KC_LIST,    /* repeatable or comma-separated words, appended to the JSON array *list */
};
struct kc_opt {
	const char *name; /* without the dashes */
	enum kc_opt_kind kind;
	const char **str;
	bool *flag;
	json_t *list;
	bool required;
	bool seen;
};
/* Parses argv[first..argc-1] against opts. A bare word is an error unless `pos` takes it
 * (at most npos positionals, in order). "--json" is always accepted and sets *json.
 * false: err says why (an unknown option, a missing value or required option). */
bool kc_parse(int argc, char **argv, int first, struct kc_opt *opts, size_t nopts, const char **pos,
              size_t npos, bool *json, char *err, size_t errlen);

bool kc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);
/* "YYYY-MM-DD" (local midnight, UTC+07:00) or "YYYY-MM-DDTHH:MM[:SS]" with an optional "Z"
 * or "+HH:MM"/"-HH:MM" (local when absent). Unix seconds. */
bool kc_parse_time(const char *s, int64_t *out);
/* ISO 8601 in local time: "2026-01-02T08:00:00+07:00" (cap >= 26). */
void kc_format_time(int64_t t, char *out, size_t cap);
/* "2026-01-02" from a day number (cap >= 11). */
void kc_format_day(int32_t day, char *out, size_t cap);

/* ---- output and errors ---- */
int kc_db_exit(enum db_err rc);
int kc_fail(const char *what, enum db_err rc, const char *err);
int kc_usage(const char *usage_text, const char *err);
/* Prints a JSON text from the database: indented with --json, else one line per element
 * with the given keys in columns. Returns an exit code. */
int kc_print_rows(const struct kc *kc, const char *json_text, const char *const *keys);
/* Prints obj (stolen) indented. Returns KC_OK. */
int kc_print_obj(json_t *obj);
/* A refusal by the policy: "refused: <RULE> <REASON>: <message>" on stderr, or with --json the
 * decision on stdout. Returns KC_REFUSED. */
int kc_refuse(const struct kc *kc, const struct pol_decision *d);
/* Prints a JSON list the database built (freeing it), or fails with the exit code of rc. */
int kc_show_list(struct kc *kc, const char *what, enum db_err rc, char *json, const char *err,
                 const char *const *keys);
/* "<what> <id> added" (id > 0) or "<what> <val> ready"; with --json {"id"} or {key: val}. */
int kc_show_added(const struct kc *kc, const char *what, const char *key, const char *val,
                  int64_t id);
/* An optional time option (NULL stays NULL) normalised to ISO 8601 +07:00 in buf. */
bool kc_time_opt(const char *in, char *buf, size_t cap, const char **out);
/* The decision's rules (hits, cosign, tasks) as JSON. */
json_t *kc_decision_json(const struct pol_decision *d);

/* The policy kysoctl routes with: the text loaded last (policy_source), else the shipped
 * defaults (*loaded false). cfg is large: the caller gives heap memory. */
int kc_policy_get(struct kc *kc, struct pol_config *cfg, bool *loaded);

/* ---- command groups ---- */
int kc_cmd_org(struct kc *kc, int argc, char **argv);
int kc_cmd_person(struct kc *kc, int argc, char **argv);
int kc_cmd_role(struct kc *kc, int argc, char **argv);
int kc_cmd_delegation(struct kc *kc, int argc, char **argv);
int kc_cmd_seal(struct kc *kc, int argc, char **argv);
int kc_cmd_credential(struct kc *kc, int argc, char **argv);
int kc_cmd_request(struct kc *kc, int argc, char **argv);
int kc_cmd_route(struct kc *kc, int argc, char **argv);
int kc_cmd_report(struct kc *kc, int argc, char **argv);
int kc_cmd_policy(struct kc *kc, int argc, char **argv);

/* ---- provisioning file (gw_kysoctl_prov.c, TELECOM.md section 5.2): pure, fuzzed ---- */
#define KC_PROV_LINE_MAX (64 * 1024)
#define KC_PROV_CERT_MAX 8192
#define KC_PROV_KEYSETS  8
#define KC_PROV_KEY_MAX  32
struct kc_prov_keyset {
	int kvn;
	char kic_alg[16], kid_alg[16];
	uint8_t kic[KC_PROV_KEY_MAX], kid[KC_PROV_KEY_MAX]; /* secrets: kc_prov_wipe() */
	size_t kic_len, kid_len;
	char tar[7];
	int64_t counter;
};
struct kc_prov_sim {
	char msisdn[16], iccid[24], carrier[33], key_alg[16];
	uint8_t cert[KC_PROV_CERT_MAX];
	size_t cert_len;
	int nkeysets;
	struct kc_prov_keyset keysets[KC_PROV_KEYSETS];
};
/* One line (without its newline). false: err says what is wrong; *out is wiped either way
 * before parsing, and holds keys only on success. */
bool kc_prov_parse(const char *line, size_t len, struct kc_prov_sim *out, char *err, size_t errlen);
void kc_prov_wipe(struct kc_prov_sim *sim);

/* ---- usage report (gw_kysoctl_render.c, REGULATION.md F3): pure ---- */
struct kc_period {
	int32_t from, to; /* day numbers, inclusive */
};
/* "2026H1", "2026H2", "2026", "2026-01-01..2026-03-31". */
bool kc_period_parse(const char *s, struct kc_period *out);
enum kc_format {
	KC_CSV = 0,
	KC_HTML = 1
};
/* report: the object from db_admin_usage_report(). Writes the whole document to f.
 * false when report lacks what the table needs. */
bool kc_report_render(const json_t *report, enum kc_format fmt, FILE *f);
const char *kc_device_label(const char *device); /* "SIM PKI", "PKI Token", ... */

#endif
