/* The request router (REGULATION.md §4; B15, B16, B18, B20): every row of the routing table
 * for every device and every shipped province, with and without the Sở's authorisation.
 * The oracle below is §4's table transcribed cell by cell; the province authorisations are
 * §4's shipped profiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/pol.h>

static struct pol_config cfg;

enum cell {
	X,         /* "—": no such request */
	C,         /* the Cục */
	S_RENEW,   /* Sở* if `renew` is authorised, else the Cục */
	S_CHANGE,  /* Sở* if `change` is authorised */
	S_RECOVER, /* Sở* if `recover_token` is authorised */
};

struct table_row {
	const char *name;
	enum pol_request req;
	enum pol_cred_type cred;
	int form, form2;
	int sla_central; /* -1: no due date */
	int sla_dost;
	const char *pre0;
	enum cell dev[4]; /* sim, token, hsm, soft */
};

/* §4, in the table's order. */
static const struct table_row table[] = {
	{ "issue personal", POL_REQ_ISSUE, POL_CRED_PERSONAL, 1, 0, 3, 3, "A4", { C, C, C, C } },
	{ "issue org", POL_REQ_ISSUE, POL_CRED_ORG, 2, 0, 3, 3, "A5", { X, C, C, C } },
	{ "issue device", POL_REQ_ISSUE, POL_CRED_DEVICE, 3, 0, 3, 3, "A6", { X, C, C, C } },
	{ "renew",
	  POL_REQ_RENEW,
	  POL_CRED_PERSONAL,
	  4,
	  0,
	  -1,
	  -1,
	  "B2",
	  { C, S_RENEW, S_RENEW, S_RENEW } },
	{ "change",
	  POL_REQ_CHANGE,
	  POL_CRED_PERSONAL,
	  4,
	  0,
	  -1,
	  -1,
	  "B5",
	  { C, S_CHANGE, S_CHANGE, S_CHANGE } },
	{ "revoke", POL_REQ_REVOKE, POL_CRED_PERSONAL, 5, 0, 3, 3, "B8", { C, C, C, C } },
	{ "return", POL_REQ_RETURN, POL_CRED_PERSONAL, 8, 0, 5, 5, "B12", { C, C, C, C } },
	{ "lost", POL_REQ_LOST, POL_CRED_PERSONAL, 9, 5, 0, 0, "B13", { C, C, X, X } },
	{ "recover",
	  POL_REQ_RECOVER,
	  POL_CRED_PERSONAL,
	  6,
	  0,
	  3,
	  1,
	  "B14",
	  { C, S_RECOVER, C, C } },
};

struct prov {
	const char *slug;
	unsigned auth;
	const char *truc;
	bool legacy;
	enum pol_channel dost_channel;
};
static const struct prov provs[] = {
	{ "default", 0, "", false, POL_CH_TRUC },
	{ "dong-nai", POL_AUTH_RENEW | POL_AUTH_CHANGE | POL_AUTH_RECOVER_TOKEN, "H19.5", false,
	  POL_CH_TRUC },
	{ "hai-phong", POL_AUTH_RECOVER_TOKEN, "", false, POL_CH_QLVB },
	{ "ninh-binh", POL_AUTH_RENEW | POL_AUTH_CHANGE | POL_AUTH_RECOVER_TOKEN, "", false,
	  POL_CH_QLVB /* Trục code unpublished (O12) */ },
	{ "quang-nam", 0, "", true, POL_CH_TRUC },
};

static bool
to_dost(enum cell c, unsigned auth)
{
	return (c == S_RENEW && (auth & POL_AUTH_RENEW)) ||
	       (c == S_CHANGE && (auth & POL_AUTH_CHANGE)) ||
	       (c == S_RECOVER && (auth & POL_AUTH_RECOVER_TOKEN));
}

static void
check_cell(const struct table_row *t, const struct prov *p, enum pol_device dev)
{
	enum cell c = t->dev[dev];
	struct pol_route r;
	enum pol_err rc = pol_route(&cfg, t->req, t->cred, dev, p->slug, &r);
	bool dost;

	if (c == X) {
		if (rc != POL_E_NO_ROUTE)
			fail_msg("%s/%s/%s: expected no route", t->name, pol_device_name(dev),
			         p->slug);
		return;
	}
	if (rc != POL_OK)
		fail_msg("%s/%s/%s: %s", t->name, pol_device_name(dev), p->slug, pol_strerror(rc));
	dost = to_dost(c, p->auth);
	if (r.dest != (dost ? POL_DEST_DOST : POL_DEST_CENTRAL))
		fail_msg("%s/%s/%s: wrong destination", t->name, pol_device_name(dev), p->slug);
	assert_string_equal(r.dest_id, dost ? p->slug : "central");
	assert_int_equal(r.form, t->form);
	assert_int_equal(r.form2, t->form2);
	assert_int_equal(r.sla_wd, dost ? t->sla_dost : t->sla_central);
	assert_int_equal(r.legacy_form, pol_form_legacy(t->form));
	assert_true(r.npre >= 1);
	assert_string_equal(r.pre[0], t->pre0);
	if (dost) {
		assert_int_equal(r.channel, p->dost_channel);
		assert_string_equal(r.truc_code, p->truc);
	} else if (t->req == POL_REQ_RETURN && (dev == POL_DEV_HSM || dev == POL_DEV_SOFT)) {
		assert_int_equal(r.channel, POL_CH_DESTRUCTION);
	} else if (p->legacy) { /* B20: e-mail to the Cục, copy to the Sở */
		assert_int_equal(r.channel, POL_CH_EMAIL);
		assert_string_equal(r.email, "ca@bcy.gov.vn");
		assert_true(r.notify_dost);
	} else {
		assert_int_equal(r.channel, POL_CH_PORTAL);
		assert_string_equal(r.truc_code, "G11.07.05");
	}
	assert_int_equal(r.needs_operator, t->req == POL_REQ_ISSUE && dev == POL_DEV_SIM);
}

static void
test_every_row(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		for (size_t p = 0; p < sizeof(provs) / sizeof(provs[0]); p++)
			for (int dev = POL_DEV_SIM; dev <= POL_DEV_SOFT; dev++)
				check_cell(&table[i], &provs[p], (enum pol_device)dev);
}

/* The deploy/stack demo: dong-nai token recovery → the Sở (H19.5), SIM → the Cục. */
static void
test_demo_org_routes(void **state)
{
	struct pol_route r;

	(void)state;
	assert_int_equal(
	        pol_route(&cfg, POL_REQ_RECOVER, POL_CRED_PERSONAL, POL_DEV_TOKEN, "dong-nai", &r),
	        POL_OK);
	assert_int_equal(r.dest, POL_DEST_DOST); /* B15 */
	assert_string_equal(r.truc_code, "H19.5");
	assert_int_equal(r.channel, POL_CH_TRUC);
	assert_int_equal(r.sla_wd, 1); /* B16 */
	assert_string_equal(pol_form_name(r.form), "Mẫu 06");
	assert_int_equal(
	        pol_route(&cfg, POL_REQ_RECOVER, POL_CRED_PERSONAL, POL_DEV_SIM, "dong-nai", &r),
	        POL_OK);
	assert_int_equal(r.dest, POL_DEST_CENTRAL); /* B15: SIM → Cục */
	assert_string_equal(r.truc_code, "G11.07.05");
	assert_int_equal(r.sla_wd, 3);
	assert_int_equal(
	        pol_route(&cfg, POL_REQ_RECOVER, POL_CRED_PERSONAL, POL_DEV_TOKEN, "default", &r),
	        POL_OK);
	assert_int_equal(r.dest, POL_DEST_CENTRAL);
}

/* B15 override, O3 switch, unknown slugs, bad arguments. */
static void
test_overrides_and_errors(void **state)
{
	static struct pol_config c2;
	struct pol_route r;

	(void)state;
	c2 = cfg;
	c2.provinces[1].sim_recovery_override = true; /* dong-nai */
	c2.provinces[1].dost_handles_sim_renew_change = true;
	assert_string_equal(c2.provinces[1].slug, "dong-nai");
	assert_int_equal(
	        pol_route(&c2, POL_REQ_RECOVER, POL_CRED_PERSONAL, POL_DEV_SIM, "dong-nai", &r),
	        POL_OK);
	assert_int_equal(r.dest, POL_DEST_DOST);
	assert_int_equal(
	        pol_route(&c2, POL_REQ_RENEW, POL_CRED_PERSONAL, POL_DEV_SIM, "dong-nai", &r),
	        POL_OK);
	assert_int_equal(r.dest, POL_DEST_DOST);
	/* hai-phong is not authorised for renewal: the override for SIMs does not matter. */
	c2.provinces[2].dost_handles_sim_renew_change = true;
	assert_int_equal(
	        pol_route(&c2, POL_REQ_RENEW, POL_CRED_PERSONAL, POL_DEV_SIM, "hai-phong", &r),
	        POL_OK);
	assert_int_equal(r.dest, POL_DEST_CENTRAL);

	assert_int_equal(
	        pol_route(&cfg, POL_REQ_RENEW, POL_CRED_PERSONAL, POL_DEV_SIM, "atlantis", &r),
	        POL_E_NOT_FOUND);
	assert_int_equal(
	        pol_route(&cfg, (enum pol_request)7, POL_CRED_PERSONAL, POL_DEV_SIM, "default", &r),
	        POL_E_INVAL);
	assert_int_equal(pol_route(&cfg, POL_REQ_RENEW, POL_CRED_PERSONAL, POL_DEV_SIM, NULL, &r),
	                 POL_E_INVAL);
}

/* TT185 legacy forms (QN 9.2, HN 6) and the names used by kysoctl. */
static void
test_legacy_forms_and_names(void **state)
{
	static const int map[][2] = { { 1, 2 },  { 2, 4 },  { 3, 6 },  { 4, 8 }, { 5, 10 },
		                      { 6, 12 }, { 8, 14 }, { 9, 15 }, { 7, 0 }, { 10, 0 } };
	enum pol_request req;
	enum pol_device dev;

	(void)state;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		assert_int_equal(pol_form_legacy(map[i][0]), map[i][1]);
	assert_true(pol_request_parse("recover", &req));
	assert_int_equal(req, POL_REQ_RECOVER);
	assert_false(pol_request_parse("recover_token", &req));
	assert_true(pol_device_parse("token", &dev));
	assert_int_equal(dev, POL_DEV_TOKEN);
	assert_false(pol_device_parse("usb", &dev));
	assert_string_equal(pol_request_name(POL_REQ_LOST), "lost");
	assert_string_equal(pol_channel_name(POL_CH_QLVB), "qlvb");
	assert_string_equal(pol_form_name(9), "Mẫu 09");
	assert_string_equal(pol_form_name(0), "");
}

static int
setup(void **state)
{
	(void)state;
	pol_config_defaults(&cfg);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_row),
		cmocka_unit_test(test_demo_org_routes),
		cmocka_unit_test(test_overrides_and_errors),
		cmocka_unit_test(test_legacy_forms_and_names),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
