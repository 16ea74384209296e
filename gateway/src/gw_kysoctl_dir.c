/* gw_kysoctl_dir.c -- kysoctl org, person and role: the directory the policy reads titles
 * from (REGULATION.md A3, C10: the title comes from here, never from the certificate). */
#include <stdlib.h>
#include <string.h>

#include "gw_kysoctl_int.h"

#define ORG_USAGE                                                                                  \
	"org add --slug S --name N --province P [--parent SLUG] [--managing-agency]\n"             \
	"       kysoctl org list [--json]"
#define PERSON_USAGE                                                                               \
	"person add --id ID --org SLUG --name N [--msisdn DIGITS]\n"                               \
	"       kysoctl person list [--org SLUG] [--json]"
#define ROLE_USAGE                                                                                 \
	"role add --person ID --org SLUG --title T --classes C1,C2|* [--seal-clerk]\n"             \
	"                 [--it-officer] [--from TIME] [--until TIME]\n"                           \
	"       kysoctl role list [--org SLUG] [--person ID] [--current] [--json]"

static int
org_add(struct kc *kc, int argc, char **argv)
{
	const char *slug = NULL, *name = NULL, *province = NULL, *parent = NULL;
	bool managing = false;
	struct kc_opt o[] = {
		{ "slug", KC_STR, &slug, NULL, NULL, true, false },
		{ "name", KC_STR, &name, NULL, NULL, true, false },
		{ "province", KC_STR, &province, NULL, NULL, true, false },
		{ "parent", KC_STR, &parent, NULL, NULL, false, false },
		{ "managing-agency", KC_FLAG, NULL, &managing, NULL, false, false },
	};
	char err[256] = "";
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, o, 5, NULL, 0, &kc->json, err, sizeof(err)))
		return kc_usage(ORG_USAGE, err);
	rc = db_admin_org_add(kc->adm, slug, name, province, parent, managing, err, sizeof(err));
	if (rc != DB_OK)
		return kc_fail("org add", rc, err);
	return kc_show_added(kc, "org", "slug", slug, 0);
}

int
kc_cmd_org(struct kc *kc, int argc, char **argv)
{
	static const char *const keys[] = { "slug", "name", "province", "parent", "managing_agency",
		                            NULL };
	char err[256] = "", *json = NULL;
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return org_add(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (!kc_parse(argc, argv, 1, NULL, 0, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(ORG_USAGE, err);
		rc = db_admin_org_list(kc->adm, &json, err, sizeof(err));
		return kc_show_list(kc, "org list", rc, json, err, keys);
	}
	return kc_usage(ORG_USAGE, NULL);
}

int
kc_cmd_person(struct kc *kc, int argc, char **argv)
{
	static const char *const keys[] = { "id", "org", "full_name", "msisdn", NULL };
	struct db_person_rec p = { 0 };
	const char *org = NULL;
	struct kc_opt add[] = {
		{ "id", KC_STR, &p.id, NULL, NULL, true, false },
		{ "org", KC_STR, &p.org, NULL, NULL, true, false },
		{ "name", KC_STR, &p.full_name, NULL, NULL, true, false },
		{ "msisdn", KC_STR, &p.msisdn, NULL, NULL, false, false },
	};
	struct kc_opt list[] = { { "org", KC_STR, &org, NULL, NULL, false, false } };
	char err[256] = "", *json = NULL;
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "add") == 0) {
		if (!kc_parse(argc, argv, 1, add, 4, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(PERSON_USAGE, err);
		if ((rc = db_admin_person_add(kc->adm, &p, err, sizeof(err))) != DB_OK)
			return kc_fail("person add", rc, err);
		return kc_show_added(kc, "person", "id", p.id, 0);
	}
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (!kc_parse(argc, argv, 1, list, 1, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(PERSON_USAGE, err);
		rc = db_admin_person_list(kc->adm, org, &json, err, sizeof(err));
		return kc_show_list(kc, "person list", rc, json, err, keys);
	}
	return kc_usage(PERSON_USAGE, NULL);
}

static int
role_add(struct kc *kc, int argc, char **argv)
{
	struct db_role_rec r = { 0 };
	const char *from = NULL, *until = NULL;
	json_t *classes = json_array();
	struct kc_opt o[] = {
		{ "person", KC_STR, &r.person, NULL, NULL, true, false },
		{ "org", KC_STR, &r.org, NULL, NULL, true, false },
		{ "title", KC_STR, &r.title, NULL, NULL, true, false },
		{ "classes", KC_LIST, NULL, NULL, classes, true, false },
		{ "seal-clerk", KC_FLAG, NULL, &r.seal_clerk, NULL, false, false },
		{ "it-officer", KC_FLAG, NULL, &r.it_officer, NULL, false, false },
		{ "from", KC_STR, &from, NULL, NULL, false, false },
		{ "until", KC_STR, &until, NULL, NULL, false, false },
	};
	char err[256] = "", fbuf[40], ubuf[40], *txt = NULL;
	int64_t id = 0;
	int status;
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, o, 8, NULL, 0, &kc->json, err, sizeof(err)))
		status = kc_usage(ROLE_USAGE, err);
	else if (!kc_time_opt(from, fbuf, sizeof(fbuf), &r.valid_from) ||
	         !kc_time_opt(until, ubuf, sizeof(ubuf), &r.valid_until))
		status = kc_usage(ROLE_USAGE, "--from/--until: YYYY-MM-DD or YYYY-MM-DDTHH:MM");
	else if ((txt = json_dumps(classes, JSON_COMPACT)) == NULL)
		status = KC_DB;
	else {
		r.classes_json = txt;
		rc = db_admin_role_add(kc->adm, &r, &id, err, sizeof(err));
		status = rc != DB_OK ? kc_fail("role add", rc, err)
		                     : kc_show_added(kc, "role", NULL, NULL, id);
	}
	free(txt);
	json_decref(classes);
	return status;
}

int
kc_cmd_role(struct kc *kc, int argc, char **argv)
{
	static const char *const keys[] = { "id",          "person",     "org",     "title",
		                            "doc_classes", "seal_clerk", "current", NULL };
	const char *org = NULL, *person = NULL;
	bool current = false;
	struct kc_opt list[] = {
		{ "org", KC_STR, &org, NULL, NULL, false, false },
		{ "person", KC_STR, &person, NULL, NULL, false, false },
		{ "current", KC_FLAG, NULL, &current, NULL, false, false },
	};
	char err[256] = "", *json = NULL;
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "add") == 0)
		return role_add(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (!kc_parse(argc, argv, 1, list, 3, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(ROLE_USAGE, err);
		rc = db_admin_role_list(kc->adm, org, person, current, &json, err, sizeof(err));
		return kc_show_list(kc, "role list", rc, json, err, keys);
	}
	return kc_usage(ROLE_USAGE, NULL);
}
