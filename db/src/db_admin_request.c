/* db_admin_request.c -- certificate requests for kysoctl (REGULATION.md section 4): the routed
 * request with its first status, listings, and status changes with their history. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "db_int.h"

static void
params_int(struct db__params *q, char *buf, size_t cap, int64_t v, bool present)
{
	snprintf(buf, cap, "%" PRId64, v);
	db__params_add(q, present ? buf : NULL);
}

enum db_err
db_admin_request_add(struct db_admin *adm, const struct db_request_rec *r, int64_t *id,
                     char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char cred[24], form[16], form2[16], legacy[16], sla[16];
	enum db_err rc;

	if (adm == NULL || r == NULL || r->type == NULL || r->org == NULL || r->status == NULL ||
	    r->cred_type == NULL || r->device == NULL || r->province == NULL ||
	    r->destination == NULL || r->channel == NULL || id == NULL)
		return DB_E_INVAL;
	db__params_add(&q, r->type);
	params_int(&q, cred, sizeof(cred), r->credential, r->credential != 0);
	db__params_add(&q, r->org);
	db__params_add(&q, r->person);
	db__params_add(&q, r->cred_type);
	db__params_add(&q, r->device);
	db__params_add(&q, r->province);
	db__params_add(&q, r->destination);
	params_int(&q, form, sizeof(form), r->form, true);
	params_int(&q, form2, sizeof(form2), r->form2, r->form2 != 0);
	params_int(&q, legacy, sizeof(legacy), r->legacy_form, r->legacy_form != 0);
	db__params_add(&q, r->channel);
	db__params_add(&q, r->truc_code);
	params_int(&q, sla, sizeof(sla), r->sla_wd, r->sla_wd >= 0);
	db__params_add(&q, r->due_date);
	db__params_add(&q, r->status);
	db__params_add(&q, r->detail_json != NULL ? r->detail_json : "{}");
	db__params_add(&q, r->note);
	if ((rc = db__admin_begin(adm, errbuf, errlen)) != DB_OK)
		return rc;
	rc = db__admin_id(adm,
	                  "WITH r AS (INSERT INTO cert_request (type, credential, org, person, "
	                  "cred_type, device, province, destination, form, form2, legacy_form, "
	                  "channel, truc_code, sla_wd, due_date, status, detail) VALUES ($1, $2, "
	                  "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) "
	                  "RETURNING id, status) INSERT INTO cert_request_status (request, seq, "
	                  "status, note) SELECT id, 1, status, $18 FROM r RETURNING request",
	                  &q, id, errbuf, errlen);
	return db__admin_end(adm, rc, errbuf, errlen);
}

enum db_err
db_admin_request_list(struct db_admin *adm, const char *org, const char *status, char **json,
                      char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, org);
	db__params_add(&q, status);
	return db__admin_text(adm,
	                      "SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM (SELECT id, "
	                      "type, credential, org, person, device, destination, form, channel, "
	                      "due_date, status, created_at, updated_at FROM cert_request WHERE "
	                      "($1::text IS NULL OR org = $1) AND ($2::text IS NULL OR status = "
	                      "$2)) t",
	                      &q, json, errbuf, errlen);
}

enum db_err
db_admin_request_get(struct db_admin *adm, int64_t id, char **json, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char idtxt[24];

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	params_int(&q, idtxt, sizeof(idtxt), id, true);
	return db__admin_text(
	        adm,
	        "SELECT row_to_json(t) FROM (SELECT r.*, (SELECT coalesce(json_agg(h ORDER BY "
	        "h.seq), '[]') FROM (SELECT seq, status, at, note FROM cert_request_status "
	        "WHERE request = r.id) h) AS history FROM cert_request r WHERE r.id = $1) t",
	        &q, json, errbuf, errlen);
}

/* What a completed request does to its credential (REGULATION.md B2-B3, B11, B13, B14). */
static const char sql_apply_done[] =
        "UPDATE credential c SET updated_at = now(), "
        "renewal_count = c.renewal_count + CASE WHEN r.type = 'renew' THEN 1 ELSE 0 END, "
        "not_after = CASE WHEN r.type = 'renew' AND r.detail ? 'new_not_after' "
        "THEN (r.detail->>'new_not_after')::timestamptz ELSE c.not_after END, "
        "state = CASE r.type WHEN 'revoke' THEN 'revoked' WHEN 'lost' THEN 'lost' "
        "WHEN 'recover' THEN 'active' ELSE c.state END "
        "FROM cert_request r WHERE r.id = $1 AND c.id = r.credential";

enum db_err
db_admin_request_advance(struct db_admin *adm, int64_t id, const char *from, const char *to,
                         const char *note, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 }, qd = { 0 };
	char idtxt[24];
	enum db_err rc;

	if (adm == NULL || from == NULL || to == NULL)
		return DB_E_INVAL;
	params_int(&q, idtxt, sizeof(idtxt), id, true);
	db__params_add(&q, from);
	db__params_add(&q, to);
	db__params_add(&q, note);
	params_int(&qd, idtxt, sizeof(idtxt), id, true);
	if ((rc = db__admin_begin(adm, errbuf, errlen)) != DB_OK)
		return rc;
	rc = db__admin_id(adm,
	                  "WITH r AS (UPDATE cert_request SET status = $3, updated_at = now() "
	                  "WHERE id = $1 AND status = $2 RETURNING id) INSERT INTO "
	                  "cert_request_status (request, seq, status, note) SELECT r.id, "
	                  "(SELECT coalesce(max(seq), 0) + 1 FROM cert_request_status WHERE "
	                  "request = r.id), $3, $4 FROM r RETURNING request",
	                  &q, NULL, errbuf, errlen);
	if (rc == DB_E_NOTFOUND)
		db__admin_seterr(errbuf, errlen, "no such request in that status", NULL);
	if (rc == DB_OK && to[0] == 'd') /* "done" */
		rc = db__admin_cmd(adm, sql_apply_done, &qd, NULL, errbuf, errlen);
	return db__admin_end(adm, rc, errbuf, errlen);
}
