/* The certificate-request router (REGULATION.md §4): (request × credential type × device ×
 * province) → destination, form, channel, SLA and the rules checked before filing. */
#include <string.h>

#include "pol_int.h"

const char *
pol_form_name(int form)
{
	static const char *const names[10] = { "",       "Mẫu 01", "Mẫu 02", "Mẫu 03", "Mẫu 04",
		                               "Mẫu 05", "Mẫu 06", "Mẫu 07", "Mẫu 08", "Mẫu 09" };

	return form >= 1 && form <= 9 ? names[form] : "";
}

/* QN 9.2, HN 6: the agency-level TT185 forms 02, 04, 06, 08, 10, 12, 14, 15 map to Mẫu
 * 01, 02, 03, 04, 05, 06, 08, 09. Mẫu 07 has no counterpart. */
int
pol_form_legacy(int form)
{
	static const int map[10] = { 0, 2, 4, 6, 8, 10, 12, 0, 14, 15 };

	return form >= 1 && form <= 9 ? map[form] : 0;
}

static const char *const req_names[] = { "issue",   "renew",  "change", "revoke",
	                                 "recover", "return", "lost" };
static const char *const dev_names[] = { "sim", "token", "hsm", "soft" };

const char *
pol_request_name(enum pol_request r)
{
	return (unsigned)r <= POL_REQ_LOST ? req_names[r] : "?";
}

const char *
pol_device_name(enum pol_device d)
{
	return (unsigned)d <= POL_DEV_SOFT ? dev_names[d] : "?";
}

const char *
pol_channel_name(enum pol_channel c)
{
	static const char *const names[] = { "portal", "truc", "qlvb", "email", "destruction" };

	return (unsigned)c <= POL_CH_DESTRUCTION ? names[c] : "?";
}

bool
pol_request_parse(const char *s, enum pol_request *out)
{
	for (unsigned i = 0; s != NULL && i <= POL_REQ_LOST; i++)
		if (strcmp(s, req_names[i]) == 0) {
			*out = (enum pol_request)i;
			return true;
		}
	return false;
}

bool
pol_device_parse(const char *s, enum pol_device *out)
{
	for (unsigned i = 0; s != NULL && i <= POL_DEV_SOFT; i++)
		if (strcmp(s, dev_names[i]) == 0) {
			*out = (enum pol_device)i;
			return true;
		}
	return false;
}

static void
add_pre(struct pol_route *r, const char *rule)
{
	if (r->npre < POL_PRE_MAX)
		r->pre[r->npre++] = rule;
}

static void
pre_list(struct pol_route *r, const char *a, const char *b, const char *c)
{
	add_pre(r, a);
	if (b != NULL)
		add_pre(r, b);
	if (c != NULL)
		add_pre(r, c);
}

/* Issuance always goes to the Cục (B18); a SIM only holds personal certificates. */
static enum pol_err
route_issue(const struct pol_config *cfg, enum pol_cred_type cred, enum pol_device dev,
            struct pol_route *r)
{
	if (dev == POL_DEV_SIM && cred != POL_CRED_PERSONAL)
		return POL_E_NO_ROUTE;
	r->needs_operator = dev == POL_DEV_SIM; /* ¹ the mobile operator is required */
	r->sla_wd = cfg->sla_issue;
	if (cred == POL_CRED_PERSONAL) {
		r->form = 1;
		pre_list(r, "A4", "A7", "A8");
	} else if (cred == POL_CRED_ORG) {
		r->form = 2;
		pre_list(r, "A5", "A7", "A8");
	} else {
		r->form = 3;
		pre_list(r, "A6", "A8", NULL);
	}
	return POL_OK;
}

/* B18: renewal and change go to the Sở only where the province lists the service; a SIM
 * stays with the Cục unless dost_handles_sim_renew_change (O3). */
static bool
route_renew_change(const struct pol_config *cfg, const struct pol_province *p, enum pol_request req,
                   enum pol_device dev, struct pol_route *r)
{
	unsigned bit = req == POL_REQ_RENEW ? POL_AUTH_RENEW : POL_AUTH_CHANGE;

	r->form = 4;
	r->sla_wd = cfg->sla_renew_change;
	if (req == POL_REQ_RENEW)
		pre_list(r, "B2", "B3", "B4");
	else
		pre_list(r, "B5", "B6", "B7");
	return (p->authorised & bit) != 0 &&
	       (dev != POL_DEV_SIM || p->dost_handles_sim_renew_change);
}

/* B15: a token to the Sở where authorised; a SIM to the Cục unless overridden; others to
 * the Cục. B16: the Sở has 1 working day; the Cục's SLA is configured (assumed 3, O2). */
static bool
route_recover(const struct pol_config *cfg, const struct pol_province *p, enum pol_device dev,
              struct pol_route *r)
{
	bool dost = (dev == POL_DEV_TOKEN && (p->authorised & POL_AUTH_RECOVER_TOKEN) != 0) ||
	            (dev == POL_DEV_SIM && p->sim_recovery_override);

	r->form = 6;
	r->sla_wd = dost ? cfg->sla_recover_token_dost : cfg->central.sla_recover_wd;
	add_pre(r, "B14");
	return dost;
}

static void
set_dest(const struct pol_config *cfg, const struct pol_province *p, bool dost, struct pol_route *r)
{
	if (dost) {
		r->dest = POL_DEST_DOST;
		r->dest_id = p->slug;
		r->dest_name = p->name;
		r->truc_code = p->truc_code;
		r->channel = p->channel_to_dost;
		/* A Sở whose Trục code is unpublished is reached through the provincial
		 * document system until the code is configured. */
		if (r->channel == POL_CH_TRUC && p->truc_code[0] == '\0')
			r->channel = POL_CH_QLVB;
		return;
	}
	r->dest = POL_DEST_CENTRAL;
	r->dest_id = "central";
	r->dest_name = cfg->central.name;
	r->truc_code = cfg->central.truc_code;
	r->channel = cfg->central.channel;
	if (p->regime == POL_REGIME_LEGACY_TT185) { /* B20: QN 6, 9 */
		r->channel = POL_CH_EMAIL;
		r->email = cfg->central.email;
		r->notify_dost = true;
	}
}

static enum pol_err
route_cell(const struct pol_config *cfg, const struct pol_province *p, enum pol_request req,
           enum pol_cred_type cred, enum pol_device dev, struct pol_route *r, bool *dost)
{
	*dost = false;
	switch (req) {
	case POL_REQ_ISSUE:
		return route_issue(cfg, cred, dev, r);
	case POL_REQ_RENEW:
	case POL_REQ_CHANGE:
		*dost = route_renew_change(cfg, p, req, dev, r);
		return POL_OK;
	case POL_REQ_REVOKE: /* B18: always the Cục */
		r->form = 5;
		r->sla_wd = cfg->sla_revoke;
		pre_list(r, "B8", "B9", "B10");
		add_pre(r, "B11");
		return POL_OK;
	case POL_REQ_RETURN: /* B12: NB 10.6c; DN 12.3, Mẫu 08 within 5 working days */
		r->form = 8;
		r->sla_wd = cfg->sla_device_return;
		add_pre(r, "B12");
		return POL_OK;
	case POL_REQ_LOST: /* B13: Mẫu 09 with Mẫu 05, same day; no physical device to lose */
		if (dev == POL_DEV_HSM || dev == POL_DEV_SOFT)
			return POL_E_NO_ROUTE;
		r->form = 9;
		r->form2 = 5;
		r->sla_wd = 0;
		add_pre(r, "B13");
		return POL_OK;
	case POL_REQ_RECOVER:
		*dost = route_recover(cfg, p, dev, r);
		return POL_OK;
	}
	return POL_E_INVAL;
}

enum pol_err
pol_route(const struct pol_config *cfg, enum pol_request req, enum pol_cred_type cred,
          enum pol_device dev, const char *province, struct pol_route *out)
{
	const struct pol_province *p;
	struct pol_route r;
	enum pol_err rc;
	bool dost;

	if (cfg == NULL || out == NULL || province == NULL || (unsigned)req > POL_REQ_LOST ||
	    (unsigned)cred > POL_CRED_DEVICE || (unsigned)dev > POL_DEV_SOFT)
		return POL_E_INVAL;
	if ((p = pol_province_find(cfg, province)) == NULL)
		return POL_E_NOT_FOUND;
	memset(&r, 0, sizeof(r));
	r.email = "";
	if ((rc = route_cell(cfg, p, req, cred, dev, &r, &dost)) != POL_OK)
		return rc;
	set_dest(cfg, p, dost, &r);
	if (req == POL_REQ_RETURN && (dev == POL_DEV_HSM || dev == POL_DEV_SOFT))
		r.channel = POL_CH_DESTRUCTION; /* (U) no device to hand back */
	r.legacy_form = pol_form_legacy(r.form);
	*out = r;
	return POL_OK;
}
