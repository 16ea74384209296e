/* db_admin_custody.c -- delegations (REGULATION.md C8, C9), org-seal assignments (C1) and
 * hand-overs (C3) for kysoctl. The policy checks a record before it is written
 * (pol_delegation_check, pol_handover_check); the schema's CHECKs repeat the hard limits. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "db_int.h"

static void
params_i64(struct db__params *q, char *buf, size_t cap, int64_t v)
{
	snprintf(buf, cap, "%" PRId64, v);
	db__params_add(q, buf);
}

enum db_err
db_admin_delegation_grant(struct db_admin *adm, const struct db_delegation_rec *d, int64_t *id,
                          char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || d == NULL || d->grantor == NULL || d->grantee == NULL ||
	    d->label == NULL || d->scope_json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, d->grantor);
	db__params_add(&q, d->grantee);
	db__params_add(&q, d->label);
	db__params_add(&q, d->scope_json);
	db__params_add(&q, d->valid_from);
	db__params_add(&q, d->valid_until);
	db__params_add(&q, d->basis_ref);
	db__params_add(&q, d->granted_by_delegate ? "t" : "f");
	return db__admin_id(adm,
	                    "INSERT INTO delegation (grantor, grantee, label, scope, valid_from, "
	                    "valid_until, basis_ref, granted_by_delegate) VALUES ($1, $2, $3, "
	                    "ARRAY(SELECT jsonb_array_elements_text($4::jsonb)), "
	                    "coalesce($5::timestamptz, now()), $6, $7, $8) RETURNING id",
	                    &q, id, errbuf, errlen);
}

enum db_err
db_admin_delegation_revoke(struct db_admin *adm, int64_t id, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char idtxt[24];

	if (adm == NULL)
		return DB_E_INVAL;
	params_i64(&q, idtxt, sizeof(idtxt), id);
	return db__admin_id(adm,
	                    "UPDATE delegation SET revoked_at = now() "
	                    "WHERE id = $1 AND revoked_at IS NULL RETURNING id",
	                    &q, NULL, errbuf, errlen);
}

enum db_err
db_admin_delegation_list(struct db_admin *adm, const char *person, bool active, char **json,
                         char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, person);
	db__params_add(&q, active ? "t" : "f");
	return db__admin_text(
	        adm,
	        "SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM "
	        "(SELECT id, grantor, grantee, label, scope, valid_from, valid_until, basis_ref, "
	        "granted_by_delegate, revoked_at, (revoked_at IS NULL AND valid_from <= now() AND "
	        "(valid_until IS NULL OR valid_until > now())) AS active FROM delegation "
	        "WHERE ($1::text IS NULL OR grantor = $1 OR grantee = $1) AND (NOT $2::boolean "
	        "OR (revoked_at IS NULL AND (valid_until IS NULL OR valid_until > now())))) t",
	        &q, json, errbuf, errlen);
}

enum db_err
db_admin_seal_assign(struct db_admin *adm, const struct db_seal_rec *s, int64_t *id, char *errbuf,
                     size_t errlen)
{
	struct db__params q = { 0 };
	char idtxt[24];
	enum db_err rc;

	if (adm == NULL || s == NULL || s->clerk == NULL || s->decision_ref == NULL)
		return DB_E_INVAL;
	params_i64(&q, idtxt, sizeof(idtxt), s->credential);
	db__params_add(&q, s->clerk);
	db__params_add(&q, s->decision_ref);
	db__params_add(&q, s->valid_from);
	db__params_add(&q, s->valid_until);
	/* C1: only an organisation credential is a seal; the SELECT yields no row otherwise. */
	rc = db__admin_id(adm,
	                  "INSERT INTO seal_assignment (credential, clerk, decision_ref, "
	                  "valid_from, valid_until) SELECT c.id, $2, $3, "
	                  "coalesce($4::timestamptz, now()), $5 FROM credential c "
	                  "WHERE c.id = $1 AND c.type = 'org' RETURNING id",
	                  &q, id, errbuf, errlen);
	if (rc == DB_E_NOTFOUND)
		db__admin_seterr(errbuf, errlen, "no organisation credential with that id", NULL);
	return rc;
}

enum db_err
db_admin_seal_handover(struct db_admin *adm, const struct db_handover_rec *h, int64_t *id,
                       char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char idtxt[24];
	enum db_err rc;

	if (adm == NULL || h == NULL || h->holder == NULL || h->permission_ref == NULL ||
	    h->minutes_ref == NULL || h->valid_from == NULL || h->valid_until == NULL)
		return DB_E_INVAL;
	params_i64(&q, idtxt, sizeof(idtxt), h->assignment);
	db__params_add(&q, h->holder);
	db__params_add(&q, h->permission_ref);
	db__params_add(&q, h->minutes_ref);
	db__params_add(&q, h->valid_from);
	db__params_add(&q, h->valid_until);
	rc = db__admin_id(adm,
	                  "INSERT INTO seal_handover (assignment, holder, permission_ref, "
	                  "minutes_ref, valid_from, valid_until) SELECT a.id, $2, $3, $4, $5, $6 "
	                  "FROM seal_assignment a WHERE a.id = $1 AND a.revoked_at IS NULL "
	                  "RETURNING id",
	                  &q, id, errbuf, errlen);
	if (rc == DB_E_NOTFOUND)
		db__admin_seterr(errbuf, errlen, "no active seal assignment with that id", NULL);
	return rc;
}

enum db_err
db_admin_seal_list(struct db_admin *adm, const char *org, char **json, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, org);
	return db__admin_text(
	        adm,
	        "SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM "
	        "(SELECT a.id, a.credential, c.org, c.display_name, c.serial_hex, c.device, "
	        "a.clerk, a.decision_ref, a.valid_from, a.valid_until, a.revoked_at, "
	        "(a.revoked_at IS NULL AND a.valid_from <= now() AND "
	        "(a.valid_until IS NULL OR a.valid_until > now())) AS active, "
	        "(SELECT coalesce(json_agg(h ORDER BY h.id), '[]') FROM (SELECT id, holder, "
	        "permission_ref, minutes_ref, valid_from, valid_until, "
	        "(valid_from <= now() AND valid_until > now()) AS current "
	        "FROM seal_handover WHERE assignment = a.id) h) AS handovers "
	        "FROM seal_assignment a JOIN credential c ON c.id = a.credential "
	        "WHERE $1::text IS NULL OR c.org = $1) t",
	        &q, json, errbuf, errlen);
}
