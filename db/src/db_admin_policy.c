/* db_admin_policy.c -- the loaded copy of the policy configuration (province profiles,
 * holidays: REGULATION.md sections 4, 5) and the usage report's rows (F3), for kysoctl. */
#include <stdio.h>
#include <stdlib.h>

#include "db_int.h"

static enum db_err
profile_insert(struct db_admin *adm, const struct db_profile_rec *p, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char sla[16];

	snprintf(sla, sizeof(sla), "%d", p->sla_recover_wd);
	db__params_add(&q, p->slug);
	db__params_add(&q, p->kind);
	db__params_add(&q, p->name);
	db__params_add(&q, p->regime);
	db__params_add(&q, p->authorised_json != NULL ? p->authorised_json : "[]");
	db__params_add(&q, p->truc_code);
	db__params_add(&q, p->channel);
	db__params_add(&q, p->dost_handles_sim_renew_change ? "t" : "f");
	db__params_add(&q, p->sim_recovery_override ? "t" : "f");
	db__params_add(&q, p->portal);
	db__params_add(&q, p->sla_recover_wd >= 0 ? sla : NULL);
	db__params_add(&q, p->has_connector ? "t" : "f");
	return db__admin_cmd(adm,
	                     "INSERT INTO province_profile (slug, kind, name, regime, "
	                     "dost_authorised_for, truc_code, channel, "
	                     "dost_handles_sim_renew_change, sim_recovery_override, portal, "
	                     "sla_recover_wd, has_connector) VALUES ($1, $2, $3, $4, "
	                     "ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6, $7, $8, $9, "
	                     "$10, $11, $12)",
	                     &q, NULL, errbuf, errlen);
}

enum db_err
db_admin_policy_store(struct db_admin *adm, const char *text, const char *sha256,
                      const struct db_profile_rec *profiles, int nprofiles,
                      const struct db_day_rec *days, int ndays, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	enum db_err rc;

	if (adm == NULL || text == NULL || sha256 == NULL || nprofiles < 0 || ndays < 0 ||
	    (nprofiles > 0 && profiles == NULL) || (ndays > 0 && days == NULL))
		return DB_E_INVAL;
	db__params_add(&q, text);
	db__params_add(&q, sha256);
	if ((rc = db__admin_begin(adm, errbuf, errlen)) != DB_OK)
		return rc;
	rc = db__admin_cmd(adm, "INSERT INTO policy_source (text, sha256) VALUES ($1, $2)", &q,
	                   NULL, errbuf, errlen);
	if (rc == DB_OK)
		rc = db__admin_cmd(adm, "DELETE FROM province_profile", NULL, NULL, errbuf, errlen);
	if (rc == DB_OK)
		rc = db__admin_cmd(adm, "DELETE FROM holiday", NULL, NULL, errbuf, errlen);
	for (int i = 0; rc == DB_OK && i < nprofiles; i++)
		rc = profile_insert(adm, &profiles[i], errbuf, errlen);
	for (int i = 0; rc == DB_OK && i < ndays; i++) {
		struct db__params d = { 0 };

		db__params_add(&d, days[i].day);
		db__params_add(&d, days[i].kind);
		rc = db__admin_cmd(adm, "INSERT INTO holiday (day, kind) VALUES ($1, $2)", &d, NULL,
		                   errbuf, errlen);
	}
	return db__admin_end(adm, rc, errbuf, errlen);
}

enum db_err
db_admin_policy_text(struct db_admin *adm, char **text, char *errbuf, size_t errlen)
{
	enum db_err rc;

	if (adm == NULL || text == NULL)
		return DB_E_INVAL;
	rc = db__admin_text(adm, "SELECT text FROM policy_source ORDER BY id DESC LIMIT 1", NULL,
	                    text, errbuf, errlen);
	if (rc == DB_E_NOTFOUND)
		db__admin_seterr(errbuf, errlen, "no policy loaded (kysoctl policy load FILE)",
		                 NULL);
	return rc;
}

/* The organisation and its units (org.parent), then every credential of the tree whose
 * validity meets [from, to + 1 day) in local time: "every certificate valid in the period". */
enum db_err
db_admin_usage_report(struct db_admin *adm, const char *org, const char *from, const char *to,
                      char **json, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || org == NULL || from == NULL || to == NULL || json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, org);
	db__params_add(&q, from);
	db__params_add(&q, to);
	return db__admin_text(
	        adm,
	        "WITH RECURSIVE tree AS (SELECT slug, name FROM org WHERE slug = $1 UNION ALL "
	        "SELECT o.slug, o.name FROM org o JOIN tree t ON o.parent = t.slug) "
	        "SELECT json_build_object('org', o.slug, 'org_name', o.name, 'province', "
	        "o.province, 'province_name', (SELECT p.name FROM province_profile p WHERE "
	        "p.slug = o.province), 'from', $2::date, 'to', $3::date, 'rows', (SELECT "
	        "coalesce(json_agg(r ORDER BY r.org_name, r.display_name, r.id), '[]') FROM "
	        "(SELECT c.id, coalesce(c.display_name, c.subject, '') AS display_name, "
	        "t.name AS org_name, coalesce(c.serial_hex, '') AS serial_hex, c.device, c.type, "
	        "c.state, c.renewal_count, c.not_before, c.not_after FROM credential c "
	        "JOIN tree t ON t.slug = c.org WHERE c.not_before IS NOT NULL AND "
	        "c.not_after IS NOT NULL AND c.not_before < ($3::date + 1)::timestamptz AND "
	        "c.not_after >= $2::date::timestamptz) r)) FROM org o WHERE o.slug = $1",
	        &q, json, errbuf, errlen);
}
