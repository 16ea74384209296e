/* gw_kysoctl_policy.c -- kysoctl policy load: the `policy` section of the gateway's
 * configuration (REGULATION.md sections 4, 5, 9) checked by the policy's own parser, then
 * stored as the database's loaded copy: the text kysoctl routes with, one row per province
 * profile and one per calendar day, so that reports and plain SQL see the same data. */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "gw_kysoctl_int.h"

#define POLICY_USAGE    "policy load FILE   (a gateway configuration, or its policy object)"
#define POLICY_FILE_MAX (1024 * 1024)

/* The connectors' secrets stay in the gateway's configuration, never in the database. */
static void
drop_connectors(json_t *pol)
{
	json_t *provs = json_object_get(pol, "provinces"), *p;
	const char *slug;

	json_object_del(json_object_get(pol, "central"), "connector");
	json_object_foreach(provs, slug, p)
	{
		json_object_del(p, "connector");
	}
}

static const char *
channel_word(enum pol_channel c)
{
	return pol_channel_name(c);
}

static json_t *
authorised_json(unsigned a)
{
	json_t *arr = json_array();

	if (a & POL_AUTH_RENEW)
		json_array_append_new(arr, json_string("renew"));
	if (a & POL_AUTH_CHANGE)
		json_array_append_new(arr, json_string("change"));
	if (a & POL_AUTH_RECOVER_TOKEN)
		json_array_append_new(arr, json_string("recover_token"));
	return arr;
}

/* Profile rows from the parsed configuration: the central CA first, then every province.
 * The JSON texts of dost_authorised_for are kept in `keep` until the rows are stored. */
static int
profile_rows(const struct pol_config *cfg, struct db_profile_rec *rows, json_t *keep)
{
	const struct pol_central *c = &cfg->central;
	int n = 0;

	rows[n++] = (struct db_profile_rec){ .slug = "central",
		                             .kind = "central",
		                             .name = c->name,
		                             .regime = "nd68",
		                             .authorised_json = "[]",
		                             .truc_code = c->truc_code[0] ? c->truc_code : NULL,
		                             .channel = channel_word(c->channel),
		                             .portal = c->portal[0] ? c->portal : NULL,
		                             .sla_recover_wd = c->sla_recover_wd,
		                             .has_connector = c->connector.url[0] != '\0' };
	for (unsigned i = 0; i < cfg->nprovinces && i < POL_PROVINCES_MAX; i++) {
		const struct pol_province *p = &cfg->provinces[i];
		json_t *a = authorised_json(p->authorised);
		char *txt = json_dumps(a, JSON_COMPACT);

		json_decref(a);
		if (txt == NULL)
			return -1;
		json_array_append_new(keep, json_string(txt));
		free(txt);
		rows[n++] = (struct db_profile_rec){
			.slug = p->slug,
			.kind = "province",
			.name = p->name,
			.regime = p->regime == POL_REGIME_LEGACY_TT185 ? "legacy-tt185" : "nd68",
			.authorised_json =
			        json_string_value(json_array_get(keep, json_array_size(keep) - 1)),
			.truc_code = p->truc_code[0] ? p->truc_code : NULL,
			.channel = channel_word(p->channel_to_dost),
			.dost_handles_sim_renew_change = p->dost_handles_sim_renew_change,
			.sim_recovery_override = p->sim_recovery_override,
			.sla_recover_wd = -1,
			.has_connector = p->connector.url[0] != '\0',
		};
	}
	return n;
}

/* Calendar days from the text (the parser validated it; it keeps holidays and days off in
 * one bit set, the rows tell them apart). */
static int
day_rows(json_t *pol, struct db_day_rec **out)
{
	static const char *const lists[3][2] = { { "holidays", "holiday" },
		                                 { "days_off", "day_off" },
		                                 { "makeup_saturdays", "makeup" } };
	json_t *years = json_object_get(json_object_get(pol, "calendar"), "years"), *y, *d;
	const char *key;
	size_t cap = 0, i;
	int n = 0;

	json_object_foreach(years, key, y)
	{
		for (int l = 0; l < 3; l++)
			cap += json_array_size(json_object_get(y, lists[l][0]));
	}
	if ((*out = calloc(cap + 1, sizeof(**out))) == NULL)
		return -1;
	json_object_foreach(years, key, y)
	{
		for (int l = 0; l < 3; l++)
			json_array_foreach(json_object_get(y, lists[l][0]), i, d)
			{
				(*out)[n].day = json_string_value(d);
				(*out)[n++].kind = lists[l][1];
			}
	}
	return n;
}

static int
store(struct kc *kc, const char *text, json_t *pol, const struct pol_config *cfg)
{
	struct db_profile_rec *rows = calloc(POL_PROVINCES_MAX + 1, sizeof(*rows));
	struct db_day_rec *days = NULL;
	json_t *keep = json_array();
	uint8_t md[SHA256_DIGEST_LENGTH];
	char sha[65], err[256] = "";
	int np = rows != NULL ? profile_rows(cfg, rows, keep) : -1, nd = day_rows(pol, &days);
	int status = KC_DB;
	enum db_err rc;

	if (np < 0 || nd < 0)
		goto out;
	SHA256((const uint8_t *)text, strlen(text), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(sha + 2 * i, 3, "%02x", md[i]);
	rc = db_admin_policy_store(kc->adm, text, sha, rows, np, days, nd, err, sizeof(err));
	if (rc != DB_OK) {
		status = kc_fail("policy load", rc, err);
		goto out;
	}
	status = kc->json ? kc_print_obj(json_pack("{s:i, s:i, s:s}", "profiles", np, "days", nd,
	                                           "sha256", sha))
	                  : (printf("policy loaded: %d profiles, %d calendar days, sha256 %s\n", np,
	                            nd, sha),
	                     KC_OK);
out:
	free(rows);
	free(days);
	json_decref(keep);
	return status;
}

static int
policy_load(struct kc *kc, const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr), *pol;
	struct pol_config *cfg = malloc(sizeof(*cfg));
	struct pol_cfg_error perr;
	char *text = NULL;
	int status = KC_REFUSED;

	if (cfg == NULL)
		goto out;
	if (root == NULL || !json_is_object(root)) {
		fprintf(stderr, "kysoctl: %s:%d:%d: %s\n", path, jerr.line, jerr.column,
		        root ? "not a JSON object" : jerr.text);
		goto out;
	}
	pol = json_object_get(root, "policy") ? json_object_get(root, "policy") : root;
	/* Checked as given (the rows say which destinations have a connector), stored without
	 * the connectors. */
	if ((text = json_dumps(pol, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
	    strlen(text) > POLICY_FILE_MAX) {
		fprintf(stderr, "kysoctl: %s: too large\n", path);
		goto out;
	}
	if (pol_config_parse(text, strlen(text), cfg, &perr) != POL_OK) {
		fprintf(stderr, "kysoctl: %s: policy.%s: %s\n", path, perr.path, perr.text);
		goto out;
	}
	explicit_bzero(text, strlen(text));
	free(text);
	drop_connectors(pol);
	if ((text = json_dumps(pol, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		status = KC_DB;
		goto out;
	}
	status = store(kc, text, pol, cfg);
out:
	if (cfg != NULL)
		pol_config_wipe(cfg);
	free(cfg);
	free(text);
	json_decref(root);
	return status;
}

int
kc_cmd_policy(struct kc *kc, int argc, char **argv)
{
	const char *pos[1] = { NULL };
	char err[256] = "";

	if (argc >= 1 && strcmp(argv[0], "load") == 0) {
		if (!kc_parse(argc, argv, 1, NULL, 0, pos, 1, &kc->json, err, sizeof(err)) ||
		    pos[0] == NULL)
			return kc_usage(POLICY_USAGE, err[0] ? err : "load needs a FILE");
		return policy_load(kc, pos[0]);
	}
	return kc_usage(POLICY_USAGE, NULL);
}
