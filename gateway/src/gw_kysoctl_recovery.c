/* gw_kysoctl_recovery.c -- `kysoctl recovery ...`: list, show, resolve and open recovery cases
 * (REGULATION.md B14-B18, PROTOCOL.md section 9, docs/recovery.md). Blocking database calls;
 * the same SQL functions as the gateway, so a case opened here is the same transaction.
 * Exit codes as every kysoctl command (docs/kysoctl.md): 0 done, 1 refused or not found, 2 usage,
 * 3 the database failed. */
#include <sys/time.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <kyso/db.h>

#include "gw_kysoctl.h"
#include "gw_kysoctl_int.h"
#include "gw_recovery.h"

#define EXIT_OK      KC_OK
#define EXIT_REFUSED KC_REFUSED /* not found, refused by a rule, invalid value */
#define EXIT_USAGE   KC_USAGE
#define EXIT_FAILED  KC_DB /* the database failed */

static void
usage(void)
{
	fprintf(stderr,
	        "usage: kysoctl recovery list [--state open|resolved] [--destination D] [--json]\n"
	        "       kysoctl recovery show CASE_ID [--json]\n"
	        "       kysoctl recovery resolve CASE_ID [--note TEXT] [--json]\n"
	        "       kysoctl recovery open --credential ID [--txn TXN] [--policy FILE] "
	        "[--json]\n"
	        "  open: the \"device blocked\" entry point (locks the credential, opens one "
	        "case);\n"
	        "  routed with --policy FILE (the gateway's policy.file), else with the policy "
	        "loaded by `kysoctl policy load`, else the shipped "
	        "profiles\n");
}

static int
db_fail(const char *what, enum db_err rc, const char *err)
{
	fprintf(stderr, "kysoctl: recovery %s: %s%s%s\n", what, db_strerror(rc), err[0] ? ": " : "",
	        err);
	return rc == DB_E_NOTFOUND || rc == DB_E_STATE || rc == DB_E_INVAL ? EXIT_REFUSED
	                                                                   : EXIT_FAILED;
}

static const char *
jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "-";
}

static void
print_case_line(json_t *c)
{
	printf("%-29s %-8s %-12s %-5s cred %-6lld due %-10s %s\n", jstr(c, "case_id"),
	       jstr(c, "state"), jstr(c, "destination"), jstr(c, "device"),
	       (long long)json_integer_value(json_object_get(c, "credential_id")),
	       jstr(c, "due_date"), jstr(c, "created_at"));
}

/* The policy that routes and dates a case: --policy FILE (the gateway's policy.file), else the
 * copy `kysoctl policy load` keeps in the database, else the shipped profiles. Heap; NULL with
 * the exit code in *status. */
static struct pol_config *
open_policy(struct kc *kc, const char *file, int *status)
{
	struct pol_config *cfg;
	char err[256];
	bool loaded;

	if (file != NULL) {
		if ((cfg = gw_policy_load(file, err, sizeof(err))) == NULL) {
			fprintf(stderr, "kysoctl: %s\n", err);
			*status = EXIT_REFUSED;
		}
		return cfg;
	}
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		*status = EXIT_FAILED;
		return NULL;
	}
	if ((*status = kc_policy_get(kc, cfg, &loaded)) != KC_OK) {
		gw_policy_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Prints JSON text from the database: pretty with --json, a summary otherwise. */
static int
print_json(const char *text, bool as_json, bool is_list)
{
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	char *out;
	size_t i;
	json_t *e;

	if (v == NULL) {
		fprintf(stderr, "kysoctl: recovery: the database answered malformed JSON\n");
		return EXIT_FAILED;
	}
	if (as_json) {
		if ((out = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) != NULL)
			puts(out);
		free(out);
	} else if (is_list) {
		json_array_foreach(v, i, e) print_case_line(e);
	} else {
		json_t *d = json_object_get(v, "delivery");

		print_case_line(v);
		printf("credential state %s; webhook %s after %lld attempt(s)%s%s\n",
		       jstr(v, "credential_state"), d != NULL ? jstr(d, "state") : "-",
		       d != NULL ? (long long)json_integer_value(json_object_get(d, "attempts"))
		                 : 0,
		       json_is_string(json_object_get(v, "resolved_by")) ? "; resolved by " : "",
		       json_is_string(json_object_get(v, "resolved_by")) ? jstr(v, "resolved_by")
		                                                         : "");
	}
	json_decref(v);
	return EXIT_OK;
}

static int
cmd_list(struct db_admin *adm, int argc, char **argv)
{
	static const struct option opts[] = { { "state", required_argument, NULL, 's' },
		                              { "destination", required_argument, NULL, 'd' },
		                              { "json", no_argument, NULL, 'j' },
		                              { NULL, 0, NULL, 0 } };
	const char *state = NULL, *dest = NULL;
	char err[256] = "", *json = NULL;
	bool as_json = false;
	enum db_err rc;
	int c, status;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			state = optarg;
		else if (c == 'd')
			dest = optarg;
		else if (c == 'j')
			as_json = true;
		else
			return usage(), EXIT_USAGE;
	}
	if (optind != argc ||
	    (state != NULL && strcmp(state, "open") != 0 && strcmp(state, "resolved") != 0))
		return usage(), EXIT_USAGE;
	if ((rc = db_admin_recovery_list(adm, state, dest, &json, err, sizeof(err))) != DB_OK)
		return db_fail("list", rc, err);
	status = print_json(json, as_json, true);
	free(json);
	return status;
}

static int
cmd_show(struct db_admin *adm, int argc, char **argv)
{
	char err[256] = "", *json = NULL;
	enum db_err rc;
	int status;

	if (argc < 2 || argv[1][0] == '-' || argc > 3 || (argc == 3 && strcmp(argv[2], "--json")))
		return usage(), EXIT_USAGE;
	if ((rc = db_admin_recovery_show(adm, argv[1], &json, err, sizeof(err))) != DB_OK) {
		if (rc == DB_E_NOTFOUND)
			snprintf(err, sizeof(err), "no case %.64s", argv[1]);
		return db_fail("show", rc, err);
	}
	status = print_json(json, argc == 3, false);
	free(json);
	return status;
}

struct resolve_ctx {
	bool as_json;
	int status;
	const char *id;
};

static void
on_resolved(void *arg, void *ctx, enum db_err rc, enum db_recovery_outcome out,
            const char *case_json)
{
	struct resolve_ctx *r = ctx;

	(void)arg;
	(void)rc;
	if (out == DB_RECOVERY_NOT_FOUND || case_json == NULL) {
		fprintf(stderr, "kysoctl: recovery resolve: no case %.64s\n", r->id);
		r->status = EXIT_REFUSED;
		return;
	}
	if (!r->as_json)
		printf("%s %s: the credential is active again\n", r->id,
		       out == DB_RECOVERY_RESOLVED ? "resolved" : "was resolved already");
	r->status = print_json(case_json, r->as_json, false);
}

static int
cmd_resolve(struct db_admin *adm, int argc, char **argv)
{
	static const struct option opts[] = { { "note", required_argument, NULL, 'n' },
		                              { "json", no_argument, NULL, 'j' },
		                              { NULL, 0, NULL, 0 } };
	struct resolve_ctx r = { .status = EXIT_FAILED };
	const char *note = NULL;
	char err[256] = "";
	enum db_err rc;
	int c;

	if (argc < 2 || argv[1][0] == '-')
		return usage(), EXIT_USAGE;
	r.id = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n')
			note = optarg;
		else if (c == 'j')
			r.as_json = true;
		else
			return usage(), EXIT_USAGE;
	}
	if (optind != argc || (note != NULL && strlen(note) > GW_RECOVERY_NOTE_MAX))
		return usage(), EXIT_USAGE;
	rc = db_admin_recovery_resolve(adm, r.id, "kysoctl", note, on_resolved, &r, err,
	                               sizeof(err));
	return rc != DB_OK ? db_fail("resolve", rc, err) : r.status;
}

struct open_ctx {
	const struct pol_config *policy;
	const char *txn;
	struct db_admin *adm;
	bool as_json;
	int status;
	char err[256];
	enum db_err rc;
};

static void
on_opened(void *arg, void *ctx, enum db_err rc, const struct db_recovery_opened *o)
{
	struct open_ctx *x = ctx;
	json_t *v;
	char *out;

	(void)arg;
	(void)rc;
	if (!x->as_json) {
		printf("%s %s for destination %s\n", o->case_id,
		       o->created ? "opened" : "was open already", o->destination);
		x->status = EXIT_OK;
		return;
	}
	v = json_pack("{s:s, s:b, s:s, s:o?}", "case_id", o->case_id, "created", o->created,
	              "destination", o->destination, "body", json_loads(o->payload, 0, NULL));
	if (v != NULL && (out = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) != NULL) {
		puts(out);
		free(out);
		x->status = EXIT_OK;
	}
	json_decref(v);
}

static void
on_target(void *arg, void *ctx, enum db_err rc, const struct db_recovery_target *t)
{
	struct open_ctx *x = ctx;
	struct gw_recovery_plan plan;
	struct db_recovery_open_req req;
	struct timeval tv;

	(void)arg;
	(void)rc;
	gettimeofday(&tv, NULL);
	if (gw_recovery_plan_make(x->policy, t,
	                          (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec, &plan,
	                          x->err, sizeof(x->err)) != 0) {
		x->rc = DB_E_INVAL;
		gw_recovery_plan_free(&plan);
		return;
	}
	if (plan.calendar_missing)
		fprintf(stderr, "kysoctl: warning: CALENDAR_MISSING: the due date counts weekends "
		                "only\n");
	gw_recovery_plan_request(&plan, t, "kysoctl", x->txn, &req);
	x->rc = db_admin_recovery_open(x->adm, &req, on_opened, x, x->err, sizeof(x->err));
	gw_recovery_plan_free(&plan);
}

static int
cmd_open(struct kc *kc, int argc, char **argv)
{
	static const struct option opts[] = { { "credential", required_argument, NULL, 'c' },
		                              { "txn", required_argument, NULL, 't' },
		                              { "policy", required_argument, NULL, 'p' },
		                              { "json", no_argument, NULL, 'j' },
		                              { NULL, 0, NULL, 0 } };
	struct open_ctx x = { .adm = kc->adm, .status = EXIT_FAILED };
	const char *policy_file = NULL;
	struct pol_config *policy = NULL;
	int status = EXIT_FAILED;
	long long cred = 0;
	char *end = NULL;
	enum db_err rc;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'c')
			cred = strtoll(optarg, &end, 10);
		else if (c == 't')
			x.txn = optarg;
		else if (c == 'p')
			policy_file = optarg;
		else if (c == 'j')
			x.as_json = true;
		else
			return usage(), EXIT_USAGE;
	}
	if (optind != argc || end == NULL || *end != '\0' || cred < 1)
		return usage(), EXIT_USAGE;
	if ((policy = open_policy(kc, policy_file, &status)) == NULL)
		return status;
	x.policy = policy;
	rc = db_admin_recovery_target(kc->adm, cred, on_target, &x, x.err, sizeof(x.err));
	if (rc == DB_OK)
		rc = x.rc;
	gw_policy_free(policy);
	return rc != DB_OK ? db_fail("open", rc, x.err) : x.status;
}

int
gw_kysoctl_recovery(struct kc *kc, int argc, char **argv)
{
	struct db_admin *adm = kc->adm;

	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return cmd_list(adm, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "show") == 0)
		return cmd_show(adm, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "resolve") == 0)
		return cmd_resolve(adm, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "open") == 0)
		return cmd_open(kc, argc, argv);
	usage();
	return EXIT_USAGE;
}
