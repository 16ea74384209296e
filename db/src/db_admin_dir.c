/* db_admin_dir.c -- the directory for kysoctl: organisations, people and their titles
 * (REGULATION.md A3, C10: titles come from here, never from a certificate). */
#include <stdio.h>
#include <stdlib.h>

#include "db_int.h"

enum db_err
db_admin_org_add(struct db_admin *adm, const char *slug, const char *name, const char *province,
                 const char *parent, bool managing, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || slug == NULL || slug[0] == '\0' || name == NULL)
		return DB_E_INVAL;
	db__params_add(&q, slug);
	db__params_add(&q, name);
	db__params_add(&q, province);
	db__params_add(&q, parent);
	db__params_add(&q, managing ? "t" : "f");
	return db__admin_cmd(adm,
	                     "INSERT INTO org (slug, name, province, parent, managing_agency) "
	                     "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (slug) DO UPDATE SET "
	                     "name = EXCLUDED.name, province = EXCLUDED.province, "
	                     "parent = EXCLUDED.parent, managing_agency = EXCLUDED.managing_agency",
	                     &q, NULL, errbuf, errlen);
}

enum db_err
db_admin_org_list(struct db_admin *adm, char **json, char *errbuf, size_t errlen)
{
	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	return db__admin_text(adm,
	                      "SELECT coalesce(json_agg(t ORDER BY t.slug), '[]') FROM "
	                      "(SELECT slug, name, parent, province, managing_agency, "
	                      "created_at FROM org) t",
	                      NULL, json, errbuf, errlen);
}

enum db_err
db_admin_person_add(struct db_admin *adm, const struct db_person_rec *p, char *errbuf,
                    size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || p == NULL || p->id == NULL || p->org == NULL || p->full_name == NULL)
		return DB_E_INVAL;
	db__params_add(&q, p->id);
	db__params_add(&q, p->org);
	db__params_add(&q, p->full_name);
	db__params_add(&q, p->msisdn);
	return db__admin_cmd(adm,
	                     "INSERT INTO person (id, org, full_name, msisdn) "
	                     "VALUES ($1, $2, $3, $4)",
	                     &q, NULL, errbuf, errlen);
}

enum db_err
db_admin_person_list(struct db_admin *adm, const char *org, char **json, char *errbuf,
                     size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, org);
	return db__admin_text(adm,
	                      "SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM "
	                      "(SELECT id, org, full_name, msisdn, created_at FROM person "
	                      "WHERE $1::text IS NULL OR org = $1) t",
	                      &q, json, errbuf, errlen);
}

enum db_err
db_admin_role_add(struct db_admin *adm, const struct db_role_rec *r, int64_t *id, char *errbuf,
                  size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || r == NULL || r->person == NULL || r->org == NULL || r->title == NULL ||
	    r->classes_json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, r->person);
	db__params_add(&q, r->org);
	db__params_add(&q, r->title);
	db__params_add(&q, r->classes_json);
	db__params_add(&q, r->seal_clerk ? "t" : "f");
	db__params_add(&q, r->it_officer ? "t" : "f");
	db__params_add(&q, r->valid_from);
	db__params_add(&q, r->valid_until);
	return db__admin_id(adm,
	                    "INSERT INTO role_assignment (person, org, title, doc_classes, "
	                    "seal_clerk, it_officer, valid_from, valid_until) VALUES ($1, $2, $3, "
	                    "ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), $5, $6, "
	                    "coalesce($7::timestamptz, now()), $8) RETURNING id",
	                    &q, id, errbuf, errlen);
}

enum db_err
db_admin_role_list(struct db_admin *adm, const char *org, const char *person, bool current,
                   char **json, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, org);
	db__params_add(&q, person);
	db__params_add(&q, current ? "t" : "f");
	return db__admin_text(
	        adm,
	        "SELECT coalesce(json_agg(t ORDER BY t.org, t.person, t.id), '[]') FROM "
	        "(SELECT r.id, r.person, p.full_name, r.org, r.title, r.doc_classes, "
	        "r.seal_clerk, r.it_officer, r.valid_from, r.valid_until, "
	        "(r.valid_from <= now() AND (r.valid_until IS NULL OR r.valid_until > now())) "
	        "AS current FROM role_assignment r JOIN person p ON p.id = r.person "
	        "WHERE ($1::text IS NULL OR r.org = $1) AND ($2::text IS NULL OR r.person = $2) "
	        "AND (NOT $3::boolean OR (r.valid_from <= now() AND "
	        "(r.valid_until IS NULL OR r.valid_until > now())))) t",
	        &q, json, errbuf, errlen);
}
