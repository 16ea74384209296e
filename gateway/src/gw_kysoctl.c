/* gw_kysoctl.c -- kysoctl, the administration tool: global options, the connection and the
 * dispatch to each command group (gw_kysoctl_<group>.c). Blocking database calls are fine
 * here: it is a short-lived command, never the gateway's loop. Exit codes (docs/kysoctl.md):
 * 0 ok, 1 refused or not found (or audit verify found a break), 2 usage, 3 database. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <kyso/db.h>
#include <kyso/gw.h>

#include "gw_kysoctl_int.h"

#define MAX_ORGS 32

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: kysoctl [--db CONNINFO] COMMAND ...   (or KYSO_PG_URL in the environment)\n"
	        "  db migrate                       apply the migrations this build carries\n"
	        "  audit verify                     check every event hash chain end to end\n"
	        "  client add --id ID --role ap|agent|operator|connector [--org SLUG]...\n"
	        "             [--display-prefix TEXT] [--destination D] [--quota N]\n"
	        "                                   prints the new API key once, on stdout\n"
	        "  client list [--json] | client revoke ID\n"
	        "  org add|list        person add|list        role add|list\n"
	        "  delegation grant|revoke|list     seal assign|handover|list\n"
	        "  credential add|import|list|lock|revoke\n"
	        "  request create|list|show|advance route --request T --device D --province P\n"
	        "  report usage --org O --period P --format csv|html\n"
	        "  policy load FILE\n"
	        "Every command takes --json for machine output; `kysoctl COMMAND` alone shows its\n"
	        "options. Exit codes: 0 ok, 1 refused or not found, 2 usage, 3 database.\n");
}

static int
fail(const char *what, enum db_err rc, const char *err)
{
	return kc_fail(what, rc, err);
}

static int
cmd_migrate(struct db_admin *adm)
{
	char err[256] = "";
	int applied = 0;
	enum db_err rc = db_admin_migrate(adm, &applied, err, sizeof(err));

	if (rc != DB_OK)
		return fail("db migrate", rc, err);
	printf("migrations applied: %d, schema version %d\n", applied, db_schema_version());
	return 0;
}

static int
cmd_audit(struct db_admin *adm)
{
	struct db_audit_report rep;
	char err[256] = "";
	enum db_err rc = db_admin_audit_verify(adm, &rep, err, sizeof(err));

	if (rc == DB_OK) {
		printf("audit OK: %lld rows in %d chains\n", (long long)rep.rows_checked,
		       rep.chains);
		return 0;
	}
	if (rc == DB_E_AUDIT) {
		printf("audit BROKEN: table %s chain %s position %lld: %s\n", rep.table, rep.chain,
		       (long long)rep.pos, rep.reason);
		return 1;
	}
	return fail("audit verify", rc, err);
}

static bool
client_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') ||
		      id[i] == '-'))
			return false;
	return true;
}

/* The key is printed once and never stored: PostgreSQL keeps SHA-256 of the secret only. */
static int
client_add_key(struct db_admin *adm, struct db_client *cl)
{
	uint8_t secret[32], hash[32];
	char hex[65], err[256] = "";
	enum db_err rc;
	int status = 1;

	if (RAND_bytes(secret, sizeof(secret)) != 1) {
		fprintf(stderr, "kysoctl: no randomness available\n");
		goto out;
	}
	SHA256(secret, sizeof(secret), hash);
	cl->key_hash = hash;
	rc = db_admin_client_add(adm, cl, err, sizeof(err));
	if (rc != DB_OK) {
		status = fail("client add", rc, err);
		goto out;
	}
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", secret[i]);
	printf("kyso_%s_%s\n", cl->client_id, hex);
	status = 0;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(hex, sizeof(hex));
	return status;
}

static int
cmd_client_add(struct db_admin *adm, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "role", required_argument, NULL, 'r' },
		{ "org", required_argument, NULL, 'o' },
		{ "display-prefix", required_argument, NULL, 'p' },
		{ "destination", required_argument, NULL, 'd' },
		{ "quota", required_argument, NULL, 'q' },
		{ "cert-sha256", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct db_client cl = { .display_prefix = "" };
	json_t *orgs = json_array();
	char *orgs_txt = NULL;
	const char *role = NULL;
	int c, status = 2;
	long q;
	char *end;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			cl.client_id = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'o':
			json_array_append_new(orgs, json_string(optarg));
			break;
		case 'p':
			cl.display_prefix = optarg;
			break;
		case 'd':
			cl.destination = optarg;
			break;
		case 'c':
			cl.cert_sha256 = optarg;
			break;
		case 'q':
			q = strtol(optarg, &end, 10);
			if (*end != '\0' || q < 0 || q > 100000)
				goto out;
			cl.quota_inflight = (int)q;
			break;
		default:
			goto out;
		}
	}
	if (cl.client_id == NULL || !client_id_valid(cl.client_id)) {
		fprintf(stderr, "kysoctl: --id must be [a-z0-9-]{1,32}\n");
		goto out;
	}
	if (role == NULL || !db_role_parse(role, &cl.role)) {
		fprintf(stderr, "kysoctl: --role must be ap, agent, operator or connector\n");
		goto out;
	}
	if (json_array_size(orgs) > MAX_ORGS || (orgs_txt = json_dumps(orgs, JSON_COMPACT)) == NULL)
		goto out;
	cl.orgs_json = orgs_txt;
	status = client_add_key(adm, &cl);
out:
	if (status == 2)
		usage(stderr);
	free(orgs_txt);
	json_decref(orgs);
	return status;
}

struct list_ctx {
	bool json;
	int status;
};

static void
list_rows(void *arg, const struct db_client_listing *rows, int n)
{
	struct list_ctx *ctx = arg;
	json_t *arr = json_array();

	for (int i = 0; i < n; i++) {
		const struct db_client_listing *r = &rows[i];

		if (ctx->json) {
			json_t *orgs = json_loads(r->c.orgs_json ? r->c.orgs_json : "[]", 0, NULL);

			json_array_append_new(
			        arr,
			        json_pack("{s:s, s:s, s:o, s:s, s:s?, s:s?, s:s?}", "id",
			                  r->c.client_id, "role", db_role_name(r->c.role), "orgs",
			                  orgs != NULL ? orgs : json_array(), "display_prefix",
			                  r->c.display_prefix ? r->c.display_prefix : "",
			                  "destination", r->c.destination, "created_at",
			                  r->created_at, "revoked_at", r->revoked_at));
		} else {
			printf("%-32s %-9s %-8s %s\n", r->c.client_id, db_role_name(r->c.role),
			       r->revoked_at ? "revoked" : "active",
			       r->c.orgs_json ? r->c.orgs_json : "[]");
		}
	}
	if (ctx->json) {
		char *txt = json_dumps(arr, JSON_INDENT(2));

		if (txt != NULL)
			puts(txt);
		else
			ctx->status = 1;
		free(txt);
	}
	json_decref(arr);
}

static int
cmd_client(struct db_admin *adm, int argc, char **argv)
{
	char err[256] = "";
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return cmd_client_add(adm, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		struct list_ctx ctx = { .json = argc >= 2 && strcmp(argv[1], "--json") == 0 };

		rc = db_admin_client_list(adm, list_rows, &ctx, err, sizeof(err));
		return rc != DB_OK ? fail("client list", rc, err) : ctx.status;
	}
	if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
		rc = db_admin_client_revoke(adm, argv[1], err, sizeof(err));
		if (rc != DB_OK)
			return fail("client revoke", rc, err);
		printf("client %s revoked\n", argv[1]);
		return 0;
	}
	usage(stderr);
	return 2;
}

static const struct {
	const char *name;
	int (*run)(struct kc *kc, int argc, char **argv);
} groups[] = {
	{ "org", kc_cmd_org },         { "person", kc_cmd_person },
	{ "role", kc_cmd_role },       { "delegation", kc_cmd_delegation },
	{ "seal", kc_cmd_seal },       { "credential", kc_cmd_credential },
	{ "request", kc_cmd_request }, { "route", kc_cmd_route },
	{ "report", kc_cmd_report },   { "policy", kc_cmd_policy },
};

static int
dispatch(struct kc *kc, int argc, char **argv)
{
	if (strcmp(argv[0], "db") == 0 && argc >= 2 && strcmp(argv[1], "migrate") == 0)
		return cmd_migrate(kc->adm);
	if (strcmp(argv[0], "audit") == 0 && argc >= 2 && strcmp(argv[1], "verify") == 0)
		return cmd_audit(kc->adm);
	if (strcmp(argv[0], "client") == 0)
		return cmd_client(kc->adm, argc - 1, argv + 1);
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		if (strcmp(argv[0], groups[g].name) == 0)
			return groups[g].run(kc, argc - 1, argv + 1);
	usage(stderr);
	return KC_USAGE;
}

int
gw_kysoctl_main(int argc, char **argv)
{
	const char *conninfo = getenv("KYSO_PG_URL");
	struct kc kc = { .now = (int64_t)time(NULL) };
	char err[256] = "";
	int i = 1, status;

	if (i + 1 < argc && strcmp(argv[i], "--db") == 0) {
		conninfo = argv[i + 1];
		i += 2;
	}
	if (i >= argc || strcmp(argv[i], "--help") == 0) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? KC_USAGE : KC_OK;
	}
	if (conninfo == NULL || conninfo[0] == '\0') {
		fprintf(stderr, "kysoctl: no database: give --db CONNINFO or set KYSO_PG_URL\n");
		return KC_USAGE;
	}
	if ((kc.adm = db_admin_open(conninfo, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kysoctl: cannot connect: %s\n", err);
		return KC_DB;
	}
	status = dispatch(&kc, argc - i, argv + i);
	db_admin_close(kc.adm);
	return status;
}
