/* gw_kysoctl_custody.c -- kysoctl delegation and seal: signing on behalf (REGULATION.md C8,
 * C9) and custody of the org seal (C1, C3). Each record passes the policy's creation check
 * first (pol_delegation_check, pol_handover_check): what the rules refuse is never stored. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw_kysoctl_int.h"

#define DELEGATION_USAGE                                                                           \
	"delegation grant --grantor ID --grantee ID --label KT.|TL.|TUQ.|Q.|TM.\n"                 \
	"                 --classes C1,C2|* [--from TIME] [--until TIME] [--basis REF]\n"          \
	"       kysoctl delegation revoke ID\n"                                                    \
	"       kysoctl delegation list [--person ID] [--active] [--json]"
#define SEAL_USAGE                                                                                 \
	"seal assign --credential ID --clerk ID --decision REF [--from TIME] [--until TIME]\n"     \
	"       kysoctl seal handover --assignment ID --holder ID --permission REF\n"              \
	"                 --minutes REF --from TIME --until TIME\n"                                \
	"       kysoctl seal list [--org SLUG] [--json]"

static const struct {
	const char *word;
	enum pol_label label;
} labels[] = {
	{ "KT.", POL_LABEL_KT }, { "TL.", POL_LABEL_TL }, { "TUQ.", POL_LABEL_TUQ },
	{ "Q.", POL_LABEL_Q },   { "TM.", POL_LABEL_TM },
};

/* "KT." or "KT" (ND30 13), any case; the canonical word with its dot. */
static const char *
label_parse(const char *s, enum pol_label *out)
{
	for (size_t i = 0; s != NULL && i < sizeof(labels) / sizeof(labels[0]); i++) {
		size_t n = strlen(labels[i].word) - 1;

		if (strncasecmp(s, labels[i].word, n) == 0 &&
		    (s[n] == '\0' || (s[n] == '.' && s[n + 1] == '\0'))) {
			*out = labels[i].label;
			return labels[i].word;
		}
	}
	return NULL;
}

/* C9: the grantor holds his own power by an active TUQ., so he may not pass it on. */
static int
grantor_is_delegate(struct kc *kc, const char *grantor, bool *out)
{
	char err[256] = "", *txt = NULL;
	enum db_err rc = db_admin_delegation_list(kc->adm, grantor, true, &txt, err, sizeof(err));
	json_t *arr, *d;
	size_t i;

	*out = false;
	if (rc != DB_OK)
		return kc_fail("delegation grant", rc, err);
	arr = json_loads(txt, 0, NULL);
	free(txt);
	json_array_foreach(arr, i, d)
	{
		const char *lab = json_string_value(json_object_get(d, "label"));
		const char *gee = json_string_value(json_object_get(d, "grantee"));

		if (lab != NULL && gee != NULL && strcmp(lab, "TUQ.") == 0 &&
		    strcmp(gee, grantor) == 0 && json_is_true(json_object_get(d, "active")))
			*out = true;
	}
	json_decref(arr);
	return KC_OK;
}

/* The policy's view of the record: scope words borrowed from the JSON array. */
static int
delegation_decide(struct kc *kc, const struct db_delegation_rec *r, enum pol_label label,
                  json_t *classes, int64_t from, int64_t until, struct pol_decision *dec)
{
	const char *words[64];
	size_t n = json_array_size(classes) < 64 ? json_array_size(classes) : 64;
	struct pol_delegation d = { .label = label,
		                    .principal = r->grantor,
		                    .delegate = r->grantee,
		                    .classes = words,
		                    .nclasses = n,
		                    .valid_from = from,
		                    .valid_until = until,
		                    .granted_by_delegate = r->granted_by_delegate };

	for (size_t i = 0; i < n; i++)
		words[i] = json_string_value(json_array_get(classes, i));
	(void)kc;
	return pol_delegation_check(&d, r->basis_ref, dec) == POL_OK ? KC_OK : KC_USAGE;
}

static int
show_decided(const struct kc *kc, const char *what, int64_t id, const struct pol_decision *dec)
{
	if (kc->json) {
		json_t *o = kc_decision_json(dec);

		json_object_set_new(o, "id", json_integer(id));
		return kc_print_obj(o);
	}
	printf("%s %lld added", what, (long long)id);
	if (dec->cosign != POL_ROLE_NONE)
		printf(" (COSIGN:%s, %s)", pol_role_name(dec->cosign), dec->cosign_rule);
	putchar('\n');
	return KC_OK;
}

static int
grant_store(struct kc *kc, struct db_delegation_rec *r, enum pol_label label, json_t *classes,
            int64_t from, int64_t until)
{
	struct pol_decision dec;
	char err[256] = "", *scope = NULL;
	int64_t id = 0;
	int status;
	enum db_err rc;

	if ((status = grantor_is_delegate(kc, r->grantor, &r->granted_by_delegate)) != KC_OK)
		return status;
	if ((status = delegation_decide(kc, r, label, classes, from, until, &dec)) != KC_OK)
		return kc_usage(DELEGATION_USAGE, "bad delegation");
	if (dec.verdict == POL_DENY)
		return kc_refuse(kc, &dec);
	if ((scope = json_dumps(classes, JSON_COMPACT)) == NULL)
		return KC_DB;
	r->scope_json = scope;
	rc = db_admin_delegation_grant(kc->adm, r, &id, err, sizeof(err));
	free(scope);
	if (rc != DB_OK)
		return kc_fail("delegation grant", rc, err);
	return show_decided(kc, "delegation", id, &dec);
}

static int
delegation_grant(struct kc *kc, int argc, char **argv)
{
	struct db_delegation_rec r = { 0 };
	const char *label_in = NULL, *from = NULL, *until = NULL;
	json_t *classes = json_array();
	struct kc_opt o[] = {
		{ "grantor", KC_STR, &r.grantor, NULL, NULL, true, false },
		{ "grantee", KC_STR, &r.grantee, NULL, NULL, true, false },
		{ "label", KC_STR, &label_in, NULL, NULL, true, false },
		{ "classes", KC_LIST, NULL, NULL, classes, true, false },
		{ "from", KC_STR, &from, NULL, NULL, false, false },
		{ "until", KC_STR, &until, NULL, NULL, false, false },
		{ "basis", KC_STR, &r.basis_ref, NULL, NULL, false, false },
	};
	char err[256] = "", fbuf[40], ubuf[40];
	int64_t t_from = kc->now, t_until = 0;
	enum pol_label label = POL_LABEL_NONE;
	int status;

	if (!kc_parse(argc, argv, 1, o, 7, NULL, 0, &kc->json, err, sizeof(err)))
		status = kc_usage(DELEGATION_USAGE, err);
	else if ((r.label = label_parse(label_in, &label)) == NULL)
		status = kc_usage(DELEGATION_USAGE, "--label: KT., TL., TUQ., Q. or TM.");
	else if ((from != NULL && !kc_parse_time(from, &t_from)) ||
	         (until != NULL && !kc_parse_time(until, &t_until)) ||
	         !kc_time_opt(from, fbuf, sizeof(fbuf), &r.valid_from) ||
	         !kc_time_opt(until, ubuf, sizeof(ubuf), &r.valid_until))
		status = kc_usage(DELEGATION_USAGE, "--from/--until: YYYY-MM-DD[THH:MM]");
	else
		status = grant_store(kc, &r, label, classes, t_from, t_until);
	json_decref(classes);
	return status;
}

int
kc_cmd_delegation(struct kc *kc, int argc, char **argv)
{
	static const char *const keys[] = { "id",    "grantor",     "grantee", "label",
		                            "scope", "valid_until", "active",  NULL };
	const char *person = NULL;
	bool active = false;
	struct kc_opt list[] = {
		{ "person", KC_STR, &person, NULL, NULL, false, false },
		{ "active", KC_FLAG, NULL, &active, NULL, false, false },
	};
	const char *pos[1] = { NULL };
	char err[256] = "", *json = NULL;
	int64_t id;
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "grant") == 0)
		return delegation_grant(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "revoke") == 0) {
		if (!kc_parse(argc, argv, 1, NULL, 0, pos, 1, &kc->json, err, sizeof(err)) ||
		    !kc_parse_i64(pos[0], 1, INT64_MAX, &id))
			return kc_usage(DELEGATION_USAGE, err[0] ? err : "revoke needs an id");
		if ((rc = db_admin_delegation_revoke(kc->adm, id, err, sizeof(err))) != DB_OK)
			return kc_fail("delegation revoke", rc, err);
		if (kc->json)
			return kc_print_obj(
			        json_pack("{s:I, s:b}", "id", (json_int_t)id, "revoked", 1));
		printf("delegation %lld revoked\n", (long long)id);
		return KC_OK;
	}
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (!kc_parse(argc, argv, 1, list, 2, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(DELEGATION_USAGE, err);
		rc = db_admin_delegation_list(kc->adm, person, active, &json, err, sizeof(err));
		return kc_show_list(kc, "delegation list", rc, json, err, keys);
	}
	return kc_usage(DELEGATION_USAGE, NULL);
}

static int
seal_assign(struct kc *kc, int argc, char **argv)
{
	struct db_seal_rec s = { 0 };
	const char *cred = NULL, *from = NULL, *until = NULL;
	struct kc_opt o[] = {
		{ "credential", KC_STR, &cred, NULL, NULL, true, false },
		{ "clerk", KC_STR, &s.clerk, NULL, NULL, true, false },
		{ "decision", KC_STR, &s.decision_ref, NULL, NULL, true, false },
		{ "from", KC_STR, &from, NULL, NULL, false, false },
		{ "until", KC_STR, &until, NULL, NULL, false, false },
	};
	char err[256] = "", fbuf[40], ubuf[40];
	int64_t id = 0;
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, o, 5, NULL, 0, &kc->json, err, sizeof(err)))
		return kc_usage(SEAL_USAGE, err);
	if (!kc_parse_i64(cred, 1, INT64_MAX, &s.credential) ||
	    !kc_time_opt(from, fbuf, sizeof(fbuf), &s.valid_from) ||
	    !kc_time_opt(until, ubuf, sizeof(ubuf), &s.valid_until))
		return kc_usage(SEAL_USAGE, "--credential: a number; --from/--until: times");
	if ((rc = db_admin_seal_assign(kc->adm, &s, &id, err, sizeof(err))) != DB_OK)
		return kc_fail("seal assign", rc, err);
	return kc_show_added(kc, "seal assignment", NULL, NULL, id);
}

/* C3: permission, minutes, holder and window are checked by the policy, so a missing one is
 * refused with the rule's id rather than as a usage error. */
static int
seal_handover(struct kc *kc, int argc, char **argv)
{
	struct db_handover_rec h = { 0 };
	const char *asg = NULL, *from = NULL, *until = NULL;
	struct kc_opt o[] = {
		{ "assignment", KC_STR, &asg, NULL, NULL, true, false },
		{ "holder", KC_STR, &h.holder, NULL, NULL, true, false },
		{ "permission", KC_STR, &h.permission_ref, NULL, NULL, false, false },
		{ "minutes", KC_STR, &h.minutes_ref, NULL, NULL, false, false },
		{ "from", KC_STR, &from, NULL, NULL, false, false },
		{ "until", KC_STR, &until, NULL, NULL, false, false },
	};
	struct pol_seal_handover ph = { 0 };
	struct pol_decision dec;
	char err[256] = "", fbuf[40], ubuf[40];
	int64_t id = 0;
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, o, 6, NULL, 0, &kc->json, err, sizeof(err)))
		return kc_usage(SEAL_USAGE, err);
	if (!kc_parse_i64(asg, 1, INT64_MAX, &h.assignment) ||
	    (from != NULL && !kc_parse_time(from, &ph.valid_from)) ||
	    (until != NULL && !kc_parse_time(until, &ph.valid_until)) ||
	    !kc_time_opt(from, fbuf, sizeof(fbuf), &h.valid_from) ||
	    !kc_time_opt(until, ubuf, sizeof(ubuf), &h.valid_until))
		return kc_usage(SEAL_USAGE, "--assignment: a number; --from/--until: times");
	ph.credential_id = asg;
	ph.holder = h.holder;
	ph.permission_ref = h.permission_ref;
	ph.minutes_ref = h.minutes_ref;
	if (pol_handover_check(&ph, kc->now, &dec) != POL_OK)
		return kc_usage(SEAL_USAGE, "bad hand-over");
	if (dec.verdict == POL_DENY)
		return kc_refuse(kc, &dec);
	if ((rc = db_admin_seal_handover(kc->adm, &h, &id, err, sizeof(err))) != DB_OK)
		return kc_fail("seal handover", rc, err);
	return show_decided(kc, "seal hand-over", id, &dec);
}

int
kc_cmd_seal(struct kc *kc, int argc, char **argv)
{
	static const char *const keys[] = { "id",           "credential", "org",       "clerk",
		                            "decision_ref", "active",     "handovers", NULL };
	const char *org = NULL;
	struct kc_opt list[] = { { "org", KC_STR, &org, NULL, NULL, false, false } };
	char err[256] = "", *json = NULL;
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "assign") == 0)
		return seal_assign(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "handover") == 0)
		return seal_handover(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (!kc_parse(argc, argv, 1, list, 1, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(SEAL_USAGE, err);
		rc = db_admin_seal_list(kc->adm, org, &json, err, sizeof(err));
		return kc_show_list(kc, "seal list", rc, json, err, keys);
	}
	return kc_usage(SEAL_USAGE, NULL);
}
