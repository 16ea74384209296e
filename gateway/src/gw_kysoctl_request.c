/* gw_kysoctl_request.c -- kysoctl route and request: a lifecycle request goes through the
 * policy's lifecycle rules (pol_request_check: A4-A8, B1-B5, B11, B13, B14, B19) and router
 * (pol_route: REGULATION.md section 4) before it is stored; what the rules refuse is printed
 * with its rule id and never stored. Due dates count working days (section 5). */
#include <stdlib.h>
#include <string.h>

#include "gw_kysoctl_int.h"

#define ROUTE_USAGE                                                                                \
	"route --request TYPE --device KIND --province P [--cred-type personal|org|device]\n"      \
	"                 [--received TIME] [--json]"
#define REQUEST_USAGE                                                                              \
	"request create --type TYPE (--credential ID | --org SLUG --cred-type C --device D\n"      \
	"                 [--person ID]) [--filer SLUG] [--signed REF | --draft]\n"                \
	"                 [--not-before T] [--not-after T] [--new-not-after T] [--email E]\n"      \
	"                 [--basis B] [--legal-basis REF] [--loss-minutes REF]\n"                  \
	"                 [--legal-personality] [--has-seal] [--establishment-decision]\n"         \
	"                 [--asset-registered]\n"                                                  \
	"       kysoctl request list [--org SLUG] [--status S] [--json]\n"                         \
	"       kysoctl request show ID [--json]\n"                                                \
	"       kysoctl request advance ID --to filed|accepted|done|rejected|cancelled\n"          \
	"                 [--signed REF] [--reason TEXT] [--note TEXT]"

static const char *const cred_types[] = { "personal", "org", "device" };
static const char *const states[] = { "active", "locked", "revoked", "lost" };
static const char *const bases[] = { "subscriber", "key-exposed",   "device-lost", "device-damaged",
	                             "inactive",   "org-dissolved", "authority" };

static int
word_index(const char *s, const char *const *words, int n)
{
	for (int i = 0; s != NULL && i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

/* A routing decision and its due date counted from `received`. */
static json_t *
route_json(const struct pol_config *cfg, const struct pol_route *r, int64_t received,
           int32_t *due_day, bool *has_due)
{
	json_t *o = json_object(), *pre = json_array();
	bool missing = false;
	char due[16] = "";

	*has_due = r->sla_wd >= 0 &&
	           pol_wd_due(&cfg->calendar, received, r->sla_wd, due_day, &missing) == POL_OK;
	if (*has_due)
		kc_format_day(*due_day, due, sizeof(due));
	for (unsigned i = 0; i < r->npre && i < POL_PRE_MAX; i++)
		json_array_append_new(pre, json_string(r->pre[i]));
	json_object_set_new(o, "destination", json_string(r->dest_id));
	json_object_set_new(o, "destination_name", json_string(r->dest_name));
	json_object_set_new(o, "form", json_string(pol_form_name(r->form)));
	json_object_set_new(o, "form_number", json_integer(r->form));
	json_object_set_new(o, "form2",
	                    r->form2 ? json_string(pol_form_name(r->form2)) : json_null());
	json_object_set_new(o, "legacy_form",
	                    r->legacy_form ? json_integer(r->legacy_form) : json_null());
	json_object_set_new(o, "channel", json_string(pol_channel_name(r->channel)));
	json_object_set_new(o, "truc_code",
	                    r->truc_code[0] ? json_string(r->truc_code) : json_null());
	json_object_set_new(o, "email", r->email[0] ? json_string(r->email) : json_null());
	json_object_set_new(o, "sla_working_days",
	                    r->sla_wd >= 0 ? json_integer(r->sla_wd) : json_null());
	json_object_set_new(o, "due_date", *has_due ? json_string(due) : json_null());
	json_object_set_new(o, "calendar_missing", json_boolean(missing));
	json_object_set_new(o, "needs_operator", json_boolean(r->needs_operator));
	json_object_set_new(o, "notify_dost", json_boolean(r->notify_dost));
	json_object_set_new(o, "preconditions", pre);
	return o;
}

static int
route_fail(enum pol_err e, const char *province)
{
	if (e == POL_E_NOT_FOUND)
		fprintf(stderr, "kysoctl: no province profile '%s'\n", province);
	else if (e == POL_E_NO_ROUTE)
		fprintf(stderr, "kysoctl: refused: no route: this request does not exist for that "
		                "credential and device (REGULATION.md section 4)\n");
	else
		fprintf(stderr, "kysoctl: route: %s\n", pol_strerror(e));
	return e == POL_E_INVAL ? KC_USAGE : KC_REFUSED;
}

static void
route_print(const json_t *o, const char *req, const char *dev, const char *prov)
{
	const json_t *sla = json_object_get(o, "sla_working_days");
	const char *truc = json_string_value(json_object_get(o, "truc_code"));
	const char *due = json_string_value(json_object_get(o, "due_date"));

	printf("%s %s %s -> %s (%s), %s, channel %s%s%s, ", req, dev, prov,
	       json_string_value(json_object_get(o, "destination")),
	       json_string_value(json_object_get(o, "destination_name")),
	       json_string_value(json_object_get(o, "form")),
	       json_string_value(json_object_get(o, "channel")), truc ? " " : "", truc ? truc : "");
	if (json_is_integer(sla))
		printf("SLA %d working days, due %s\n", (int)json_integer_value(sla),
		       due ? due : "-");
	else
		printf("no SLA (tracked without a due date)\n");
}

int
kc_cmd_route(struct kc *kc, int argc, char **argv)
{
	const char *req = NULL, *dev = NULL, *prov = NULL, *ct = "personal", *recv = NULL;
	struct kc_opt o[] = {
		{ "request", KC_STR, &req, NULL, NULL, true, false },
		{ "device", KC_STR, &dev, NULL, NULL, true, false },
		{ "province", KC_STR, &prov, NULL, NULL, true, false },
		{ "cred-type", KC_STR, &ct, NULL, NULL, false, false },
		{ "received", KC_STR, &recv, NULL, NULL, false, false },
	};
	struct pol_config *cfg = NULL;
	struct pol_route r;
	enum pol_request rq;
	enum pol_device dv;
	char err[256] = "";
	int64_t received = kc->now;
	int32_t due;
	bool loaded, has_due;
	int cti, status;
	enum pol_err e;
	json_t *out;

	if (!kc_parse(argc, argv, 0, o, 5, NULL, 0, &kc->json, err, sizeof(err)))
		return kc_usage(ROUTE_USAGE, err);
	if (!pol_request_parse(req, &rq) || !pol_device_parse(dev, &dv) ||
	    (cti = word_index(ct, cred_types, 3)) < 0 ||
	    (recv != NULL && !kc_parse_time(recv, &received)))
		return kc_usage(ROUTE_USAGE, "unknown request, device, credential type or time");
	if ((cfg = malloc(sizeof(*cfg))) == NULL)
		return KC_DB;
	if ((status = kc_policy_get(kc, cfg, &loaded)) != KC_OK)
		goto out;
	if ((e = pol_route(cfg, rq, (enum pol_cred_type)cti, dv, prov, &r)) != POL_OK) {
		status = route_fail(e, prov);
		goto out;
	}
	out = route_json(cfg, &r, received, &due, &has_due);
	json_object_set_new(out, "request", json_string(req));
	json_object_set_new(out, "device", json_string(dev));
	json_object_set_new(out, "province", json_string(prov));
	json_object_set_new(out, "policy_loaded", json_boolean(loaded));
	if (kc->json) {
		status = kc_print_obj(out);
	} else {
		route_print(out, req, dev, prov);
		json_decref(out);
	}
out:
	pol_config_wipe(cfg);
	free(cfg);
	return status;
}

/* ---- request create ---- */

struct create_in {
	const char *type, *credential, *org, *person, *cred_type, *device, *filer, *signed_ref;
	const char *not_before, *not_after, *new_not_after, *email, *basis, *legal_basis;
	const char *loss_minutes;
	bool draft, legal_personality, has_seal, establishment, asset_registered;
};

/* The facts pol_request_check() reads, kept in cert_request.detail so that filing a draft
 * later re-checks the same request. */
static json_t *
facts_json(const struct pol_lifecycle_req *r)
{
	return json_pack(
	        "{s:i, s:i, s:i, s:b, s:b, s:s, s:b, s:b, s:b, s:b, s:I, s:I, s:I, s:i, "
	        "s:i, s:b, s:b}",
	        "cred_type", r->cred_type, "device", r->device, "state", r->state,
	        "subject_in_managed_tree", r->subject_in_managed_tree, "filer_is_managing_agency",
	        r->filer_is_managing_agency, "email", r->applicant_email ? r->applicant_email : "",
	        "legal_personality", r->org_legal_personality, "has_seal", r->org_has_seal,
	        "establishment_decision", r->org_establishment_decision, "asset_registered",
	        r->asset_registered, "not_before", (json_int_t)r->not_before, "not_after",
	        (json_int_t)r->not_after, "new_not_after", (json_int_t)r->new_not_after,
	        "renewal_count", (int)r->renewal_count, "basis", r->basis, "legal_basis",
	        r->legal_basis_present, "loss_minutes", r->loss_minutes_present);
}

static bool
facts_read(json_t *f, struct pol_lifecycle_req *r)
{
	int ct, dv, st, basis, rc_;
	json_int_t nb, na, nna;
	int tree, managing, lp, seal, est, asset, legal, loss;
	const char *email = NULL;

	if (json_unpack(f,
	                "{s:i, s:i, s:i, s:b, s:b, s:s, s:b, s:b, s:b, s:b, s:I, s:I, s:I, "
	                "s:i, s:i, s:b, s:b}",
	                "cred_type", &ct, "device", &dv, "state", &st, "subject_in_managed_tree",
	                &tree, "filer_is_managing_agency", &managing, "email", &email,
	                "legal_personality", &lp, "has_seal", &seal, "establishment_decision", &est,
	                "asset_registered", &asset, "not_before", &nb, "not_after", &na,
	                "new_not_after", &nna, "renewal_count", &rc_, "basis", &basis,
	                "legal_basis", &legal, "loss_minutes", &loss) != 0 ||
	    ct < 0 || ct > 2 || dv < 0 || dv > 3 || st < 0 || st > 3 || basis < 0 || basis > 6 ||
	    rc_ < 0)
		return false;
	r->cred_type = (enum pol_cred_type)ct;
	r->device = (enum pol_device)dv;
	r->state = (enum pol_cred_state)st;
	r->subject_in_managed_tree = tree;
	r->filer_is_managing_agency = managing;
	r->applicant_email = email != NULL && email[0] != '\0' ? email : NULL;
	r->org_legal_personality = lp;
	r->org_has_seal = seal;
	r->org_establishment_decision = est;
	r->asset_registered = asset;
	r->not_before = nb;
	r->not_after = na;
	r->new_not_after = nna;
	r->renewal_count = (unsigned)rc_;
	r->basis = (enum pol_revoke_basis)basis;
	r->legal_basis_present = legal;
	r->loss_minutes_present = loss;
	return true;
}

/* Organisations as slug -> {parent, province, managing_agency}. */
static json_t *
org_map(struct kc *kc, int *status)
{
	char err[256] = "", *txt = NULL;
	enum db_err rc = db_admin_org_list(kc->adm, &txt, err, sizeof(err));
	json_t *arr, *map = json_object(), *o;
	size_t i;

	if (rc != DB_OK) {
		*status = kc_fail("org list", rc, err);
		json_decref(map);
		return NULL;
	}
	arr = json_loads(txt, 0, NULL);
	free(txt);
	json_array_foreach(arr, i, o)
	{
		const char *slug = json_string_value(json_object_get(o, "slug"));

		if (slug != NULL)
			json_object_set(map, slug, o);
	}
	json_decref(arr);
	return map;
}

/* A4: `org` is `filer` or one of its units (walks org.parent, bounded against cycles). */
static bool
in_tree(const json_t *orgs, const char *org, const char *filer)
{
	for (int depth = 0; org != NULL && depth < 64; depth++) {
		if (strcmp(org, filer) == 0)
			return true;
		org = json_string_value(json_object_get(json_object_get(orgs, org), "parent"));
	}
	return false;
}

struct create_ctx {
	struct kc *kc;
	struct create_in in;
	struct pol_lifecycle_req req;
	enum pol_request type;
	int64_t cred_id;
	const char *org, *person, *province;
	json_t *cred, *orgs;
};

/* Facts of an existing credential (every type but issue). */
static int
load_credential(struct create_ctx *c)
{
	char err[256] = "", *txt = NULL;
	enum db_err rc;
	int i;

	if (!kc_parse_i64(c->in.credential, 1, INT64_MAX, &c->cred_id))
		return kc_usage(REQUEST_USAGE, "--credential: a number");
	if ((rc = db_admin_credential_get(c->kc->adm, c->cred_id, &txt, err, sizeof(err))) != DB_OK)
		return kc_fail("request create: credential", rc, err);
	c->cred = json_loads(txt, 0, NULL);
	free(txt);
	if (c->cred == NULL)
		return KC_DB;
	c->org = json_string_value(json_object_get(c->cred, "org"));
	c->person = json_string_value(json_object_get(c->cred, "person"));
	c->province = json_string_value(json_object_get(c->cred, "province"));
	if ((i = word_index(json_string_value(json_object_get(c->cred, "type")), cred_types, 3)) <
	            0 ||
	    !pol_device_parse(json_string_value(json_object_get(c->cred, "device")),
	                      &c->req.device))
		return KC_DB;
	c->req.cred_type = (enum pol_cred_type)i;
	if ((i = word_index(json_string_value(json_object_get(c->cred, "state")), states, 4)) < 0)
		return KC_DB;
	c->req.state = (enum pol_cred_state)i;
	c->req.not_before = json_integer_value(json_object_get(c->cred, "not_before_s"));
	c->req.not_after = json_integer_value(json_object_get(c->cred, "not_after_s"));
	c->req.renewal_count =
	        (unsigned)json_integer_value(json_object_get(c->cred, "renewal_count"));
	return KC_OK;
}

/* A new certificate (issue): the subject is named by options. */
static int
load_subject(struct create_ctx *c)
{
	int i = word_index(c->in.cred_type, cred_types, 3);

	if (c->in.org == NULL || i < 0 || !pol_device_parse(c->in.device, &c->req.device))
		return kc_usage(REQUEST_USAGE, "issue needs --org, --cred-type and --device");
	c->req.cred_type = (enum pol_cred_type)i;
	c->org = c->in.org;
	c->person = c->in.person;
	c->province =
	        json_string_value(json_object_get(json_object_get(c->orgs, c->org), "province"));
	if (json_object_get(c->orgs, c->org) == NULL) {
		fprintf(stderr, "kysoctl: request create: no organisation '%s'\n", c->org);
		return KC_REFUSED;
	}
	c->req.not_before = c->kc->now;
	if ((c->in.not_before && !kc_parse_time(c->in.not_before, &c->req.not_before)) ||
	    !c->in.not_after || !kc_parse_time(c->in.not_after, &c->req.not_after))
		return kc_usage(REQUEST_USAGE,
		                "issue needs --not-after (and --not-before: a time)");
	return KC_OK;
}

/* The request's own facts from the options. */
static int
fill_request(struct create_ctx *c)
{
	struct pol_lifecycle_req *r = &c->req;
	const char *filer = c->in.filer != NULL ? c->in.filer : c->org;
	int b = c->in.basis != NULL ? word_index(c->in.basis, bases, 7) : 0;

	if (b < 0)
		return kc_usage(REQUEST_USAGE,
		                "--basis: subscriber, key-exposed, device-lost, "
		                "device-damaged, inactive, org-dissolved, authority");
	r->type = c->type;
	r->submit = !c->in.draft;
	r->agency_signed = c->in.signed_ref != NULL;
	r->filer_is_managing_agency =
	        json_is_true(json_object_get(json_object_get(c->orgs, filer), "managing_agency"));
	r->subject_in_managed_tree = in_tree(c->orgs, c->org, filer);
	r->applicant_email = c->in.email;
	r->org_legal_personality = c->in.legal_personality;
	r->org_has_seal = c->in.has_seal;
	r->org_establishment_decision = c->in.establishment;
	r->asset_registered = c->in.asset_registered;
	r->basis = (enum pol_revoke_basis)b;
	r->legal_basis_present = c->in.legal_basis != NULL;
	r->loss_minutes_present = c->in.loss_minutes != NULL;
	if (c->type == POL_REQ_CHANGE)
		r->new_not_after = 0; /* unchanged unless given (B5 warns when it moves) */
	if (c->in.new_not_after != NULL && !kc_parse_time(c->in.new_not_after, &r->new_not_after))
		return kc_usage(REQUEST_USAGE, "--new-not-after: a time");
	if (c->type == POL_REQ_RENEW && c->in.new_not_after == NULL)
		return kc_usage(REQUEST_USAGE, "renew needs --new-not-after");
	return KC_OK;
}

static json_t *
request_detail(const struct create_ctx *c, const struct pol_decision *dec)
{
	json_t *d = json_object();
	char buf[40];

	json_object_set_new(d, "facts", facts_json(&c->req));
	json_object_set_new(d, "decision", kc_decision_json(dec));
	json_object_set_new(d, "filer", json_string(c->in.filer ? c->in.filer : c->org));
	if (c->in.signed_ref)
		json_object_set_new(d, "signed_ref", json_string(c->in.signed_ref));
	if (c->in.legal_basis)
		json_object_set_new(d, "legal_basis", json_string(c->in.legal_basis));
	if (c->in.loss_minutes)
		json_object_set_new(d, "loss_minutes", json_string(c->in.loss_minutes));
	if (c->in.basis)
		json_object_set_new(d, "basis", json_string(c->in.basis));
	if (c->req.new_not_after != 0) {
		kc_format_time(c->req.new_not_after, buf, sizeof(buf));
		json_object_set_new(d, "new_not_after", json_string(buf));
	}
	if (c->type == POL_REQ_ISSUE) {
		kc_format_time(c->req.not_after, buf, sizeof(buf));
		json_object_set_new(d, "not_after", json_string(buf));
	}
	return d;
}

static int
store_request(struct create_ctx *c, const struct pol_config *cfg, const struct pol_route *rt,
              const struct pol_decision *dec)
{
	struct db_request_rec rec = { 0 };
	json_t *route, *detail = request_detail(c, dec);
	char due[16] = "", err[256] = "", *dtxt = json_dumps(detail, JSON_COMPACT);
	int32_t due_day;
	bool has_due;
	int64_t id = 0;
	enum db_err rc;

	route = route_json(cfg, rt, c->kc->now, &due_day, &has_due);
	if (has_due)
		kc_format_day(due_day, due, sizeof(due));
	rec = (struct db_request_rec){ .type = pol_request_name(c->type),
		                       .org = c->org,
		                       .person = c->person,
		                       .cred_type = cred_types[c->req.cred_type],
		                       .device = pol_device_name(c->req.device),
		                       .province = c->province,
		                       .destination = rt->dest_id,
		                       .channel = pol_channel_name(rt->channel),
		                       .credential = c->cred_id,
		                       .form = rt->form,
		                       .form2 = rt->form2,
		                       .legacy_form = rt->legacy_form,
		                       .sla_wd = rt->sla_wd,
		                       .truc_code = rt->truc_code[0] ? rt->truc_code : NULL,
		                       .due_date = has_due ? due : NULL,
		                       .status = c->in.draft ? "draft" : "filed",
		                       .detail_json = dtxt,
		                       .note = c->in.signed_ref };
	rc = dtxt ? db_admin_request_add(c->kc->adm, &rec, &id, err, sizeof(err)) : DB_E_NOMEM;
	free(dtxt);
	json_decref(detail);
	if (rc != DB_OK) {
		json_decref(route);
		return kc_fail("request create", rc, err);
	}
	json_object_set_new(route, "id", json_integer(id));
	json_object_set_new(route, "status", json_string(rec.status));
	json_object_set_new(route, "decision", kc_decision_json(dec));
	if (c->kc->json)
		return kc_print_obj(route);
	printf("request %lld %s: %s to %s, %s, due %s%s%s\n", (long long)id, rec.status, rec.type,
	       rt->dest_id, pol_form_name(rt->form), has_due ? due : "-",
	       dec->cosign != POL_ROLE_NONE ? ", COSIGN:" : "",
	       dec->cosign != POL_ROLE_NONE ? pol_role_name(dec->cosign) : "");
	json_decref(route);
	return KC_OK;
}

/* Profiles are selected by the organisation's province; one that has none uses `default`
 * (national rules). */
static const char *
profile_slug(const struct pol_config *cfg, const char *province)
{
	return province != NULL && pol_province_find(cfg, province) != NULL ? province : "default";
}

static int
decide_and_store(struct create_ctx *c, struct pol_config *cfg)
{
	struct pol_decision dec;
	struct pol_route rt;
	const char *slug = profile_slug(cfg, c->province);
	enum pol_err e;

	if (pol_request_check(cfg, pol_province_find(cfg, slug), &c->req, c->kc->now, &dec) !=
	    POL_OK)
		return kc_usage(REQUEST_USAGE, "bad request");
	if (dec.verdict == POL_DENY)
		return kc_refuse(c->kc, &dec);
	if ((e = pol_route(cfg, c->type, c->req.cred_type, c->req.device, slug, &rt)) != POL_OK)
		return route_fail(e, slug);
	c->province = slug;
	return store_request(c, cfg, &rt, &dec);
}

static int
request_create(struct kc *kc, int argc, char **argv)
{
	struct create_ctx c = { .kc = kc };
	struct create_in *in = &c.in;
	struct kc_opt o[] = {
		{ "type", KC_STR, &in->type, NULL, NULL, true, false },
		{ "credential", KC_STR, &in->credential, NULL, NULL, false, false },
		{ "org", KC_STR, &in->org, NULL, NULL, false, false },
		{ "person", KC_STR, &in->person, NULL, NULL, false, false },
		{ "cred-type", KC_STR, &in->cred_type, NULL, NULL, false, false },
		{ "device", KC_STR, &in->device, NULL, NULL, false, false },
		{ "filer", KC_STR, &in->filer, NULL, NULL, false, false },
		{ "signed", KC_STR, &in->signed_ref, NULL, NULL, false, false },
		{ "draft", KC_FLAG, NULL, &in->draft, NULL, false, false },
		{ "not-before", KC_STR, &in->not_before, NULL, NULL, false, false },
		{ "not-after", KC_STR, &in->not_after, NULL, NULL, false, false },
		{ "new-not-after", KC_STR, &in->new_not_after, NULL, NULL, false, false },
		{ "email", KC_STR, &in->email, NULL, NULL, false, false },
		{ "basis", KC_STR, &in->basis, NULL, NULL, false, false },
		{ "legal-basis", KC_STR, &in->legal_basis, NULL, NULL, false, false },
		{ "loss-minutes", KC_STR, &in->loss_minutes, NULL, NULL, false, false },
		{ "legal-personality", KC_FLAG, NULL, &in->legal_personality, NULL, false, false },
		{ "has-seal", KC_FLAG, NULL, &in->has_seal, NULL, false, false },
		{ "establishment-decision", KC_FLAG, NULL, &in->establishment, NULL, false, false },
		{ "asset-registered", KC_FLAG, NULL, &in->asset_registered, NULL, false, false },
	};
	struct pol_config *cfg = NULL;
	char err[256] = "";
	bool loaded;
	int status;

	if (!kc_parse(argc, argv, 1, o, sizeof(o) / sizeof(o[0]), NULL, 0, &kc->json, err,
	              sizeof(err)))
		return kc_usage(REQUEST_USAGE, err);
	if (!pol_request_parse(in->type, &c.type))
		return kc_usage(REQUEST_USAGE, "--type: issue, renew, change, revoke, recover, "
		                               "return or lost");
	if (in->draft && in->signed_ref != NULL)
		return kc_usage(REQUEST_USAGE, "--draft or --signed, not both");
	if ((c.orgs = org_map(kc, &status)) == NULL)
		return status;
	if (c.type == POL_REQ_ISSUE)
		status = load_subject(&c);
	else if (in->credential != NULL)
		status = load_credential(&c);
	else
		status = kc_usage(REQUEST_USAGE, "this request type needs --credential");
	if (status == KC_OK)
		status = fill_request(&c);
	if (status == KC_OK && (cfg = malloc(sizeof(*cfg))) == NULL)
		status = KC_DB;
	if (status == KC_OK && (status = kc_policy_get(kc, cfg, &loaded)) == KC_OK)
		status = decide_and_store(&c, cfg);
	if (cfg != NULL)
		pol_config_wipe(cfg);
	free(cfg);
	json_decref(c.cred);
	json_decref(c.orgs);
	return status;
}

/* ---- request advance ---- */

/* The statuses a request moves through; anything else is refused. */
static bool
transition_ok(const char *from, const char *to)
{
	static const char *const allowed[][2] = {
		{ "draft", "filed" },    { "draft", "cancelled" },   { "filed", "accepted" },
		{ "filed", "rejected" }, { "filed", "done" },        { "filed", "cancelled" },
		{ "accepted", "done" },  { "accepted", "rejected" },
	};

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcmp(from, allowed[i][0]) == 0 && strcmp(to, allowed[i][1]) == 0)
			return true;
	return false;
}

/* The credential's facts as they are today (state, validity, renewals). */
static int
refresh_facts(struct kc *kc, const json_t *req, struct pol_lifecycle_req *r)
{
	json_int_t cred = json_integer_value(json_object_get(req, "credential"));
	char err[256] = "", *txt = NULL;
	json_t *c;
	int st;
	enum db_err rc;

	if (cred <= 0)
		return KC_OK; /* issue: nothing exists yet */
	if ((rc = db_admin_credential_get(kc->adm, cred, &txt, err, sizeof(err))) != DB_OK)
		return kc_fail("request advance: credential", rc, err);
	c = json_loads(txt, 0, NULL);
	free(txt);
	st = word_index(json_string_value(json_object_get(c, "state")), states, 4);
	if (c == NULL || st < 0) {
		json_decref(c);
		return KC_DB;
	}
	r->state = (enum pol_cred_state)st;
	r->not_before = json_integer_value(json_object_get(c, "not_before_s"));
	r->not_after = json_integer_value(json_object_get(c, "not_after_s"));
	r->renewal_count = (unsigned)json_integer_value(json_object_get(c, "renewal_count"));
	json_decref(c);
	return KC_OK;
}

/* B19: a draft is filed only signed by the agency; the whole request is checked again with
 * today's facts (days left, renewals and state may have moved since it was drafted). */
static int
check_filing(struct kc *kc, const json_t *req, const char *signed_ref, struct pol_decision *dec)
{
	struct pol_lifecycle_req r = { 0 };
	struct pol_config *cfg = malloc(sizeof(*cfg));
	json_t *facts = json_object_get(json_object_get(req, "detail"), "facts");
	bool loaded;
	int status;

	if (cfg == NULL)
		return KC_DB;
	if ((status = kc_policy_get(kc, cfg, &loaded)) == KC_OK) {
		if (!facts_read(facts, &r) ||
		    !pol_request_parse(json_string_value(json_object_get(req, "type")), &r.type)) {
			fprintf(stderr, "kysoctl: request has no readable facts\n");
			status = KC_DB;
		} else if ((status = refresh_facts(kc, req, &r)) == KC_OK) {
			r.submit = true;
			r.agency_signed = signed_ref != NULL;
			if (pol_request_check(
			            cfg,
			            pol_province_find(cfg, json_string_value(json_object_get(
			                                           req, "province"))),
			            &r, kc->now, dec) != POL_OK)
				status = KC_DB;
			else if (dec->verdict == POL_DENY)
				status = kc_refuse(kc, dec);
		}
	}
	pol_config_wipe(cfg);
	free(cfg);
	return status;
}

struct advance_in {
	const char *to, *signed_ref, *reason, *note;
};

static int
advance_checks(struct kc *kc, const json_t *req, const struct advance_in *in, const char **note)
{
	const char *from = json_string_value(json_object_get(req, "status"));
	struct pol_decision dec;
	int status;

	if (from == NULL || !transition_ok(from, in->to)) {
		fprintf(stderr, "kysoctl: refused: a request in status %s cannot move to %s\n",
		        from ? from : "?", in->to);
		return KC_REFUSED;
	}
	if (strcmp(in->to, "rejected") == 0) { /* B16, B24: in writing, with a reason */
		if (pol_rejection_check(in->reason, &dec) != POL_OK)
			return KC_USAGE;
		if (dec.verdict == POL_DENY)
			return kc_refuse(kc, &dec);
		*note = in->reason;
	}
	if (strcmp(from, "draft") == 0 && strcmp(in->to, "filed") == 0) {
		if ((status = check_filing(kc, req, in->signed_ref, &dec)) != KC_OK)
			return status;
		*note = in->signed_ref;
	}
	return KC_OK;
}

static int
request_advance(struct kc *kc, int argc, char **argv)
{
	struct advance_in in = { 0 };
	struct kc_opt o[] = {
		{ "to", KC_STR, &in.to, NULL, NULL, true, false },
		{ "signed", KC_STR, &in.signed_ref, NULL, NULL, false, false },
		{ "reason", KC_STR, &in.reason, NULL, NULL, false, false },
		{ "note", KC_STR, &in.note, NULL, NULL, false, false },
	};
	const char *pos[1] = { NULL }, *note;
	char err[256] = "", *txt = NULL;
	json_t *req = NULL;
	int64_t id;
	int status;
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, o, 4, pos, 1, &kc->json, err, sizeof(err)) ||
	    !kc_parse_i64(pos[0], 1, INT64_MAX, &id))
		return kc_usage(REQUEST_USAGE, err[0] ? err : "advance needs a request id");
	note = in.note;
	if ((rc = db_admin_request_get(kc->adm, id, &txt, err, sizeof(err))) != DB_OK)
		return kc_fail("request advance", rc, err);
	req = json_loads(txt, 0, NULL);
	free(txt);
	if (req == NULL)
		return KC_DB;
	status = advance_checks(kc, req, &in, &note);
	if (status == KC_OK) {
		rc = db_admin_request_advance(kc->adm, id,
		                              json_string_value(json_object_get(req, "status")),
		                              in.to, note, err, sizeof(err));
		status = rc != DB_OK ? kc_fail("request advance", rc, err)
		         : kc->json  ? kc_print_obj(json_pack("{s:I, s:s}", "id", (json_int_t)id,
		                                              "status", in.to))
		                     : (printf("request %lld %s\n", (long long)id, in.to), KC_OK);
	}
	json_decref(req);
	return status;
}

int
kc_cmd_request(struct kc *kc, int argc, char **argv)
{
	static const char *const keys[] = { "id",   "type",     "org",    "device", "destination",
		                            "form", "due_date", "status", NULL };
	static const char *const show_keys[] = { "id",       "type",    "status", "destination",
		                                 "due_date", "history", NULL };
	const char *org = NULL, *st = NULL, *pos[1] = { NULL };
	struct kc_opt list[] = {
		{ "org", KC_STR, &org, NULL, NULL, false, false },
		{ "status", KC_STR, &st, NULL, NULL, false, false },
	};
	char err[256] = "", *json = NULL;
	int64_t id;
	enum db_err rc;

	if (argc >= 1 && strcmp(argv[0], "create") == 0)
		return request_create(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "advance") == 0)
		return request_advance(kc, argc, argv);
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		if (!kc_parse(argc, argv, 1, list, 2, NULL, 0, &kc->json, err, sizeof(err)))
			return kc_usage(REQUEST_USAGE, err);
		rc = db_admin_request_list(kc->adm, org, st, &json, err, sizeof(err));
		return kc_show_list(kc, "request list", rc, json, err, keys);
	}
	if (argc >= 1 && strcmp(argv[0], "show") == 0) {
		if (!kc_parse(argc, argv, 1, NULL, 0, pos, 1, &kc->json, err, sizeof(err)) ||
		    !kc_parse_i64(pos[0], 1, INT64_MAX, &id))
			return kc_usage(REQUEST_USAGE, err[0] ? err : "show needs a request id");
		rc = db_admin_request_get(kc->adm, id, &json, err, sizeof(err));
		return kc_show_list(kc, "request show", rc, json, err, show_keys);
	}
	return kc_usage(REQUEST_USAGE, NULL);
}
