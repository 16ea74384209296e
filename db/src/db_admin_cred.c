/* db_admin_cred.c -- credentials and SIM cards for kysoctl: import (idempotent), list, state
 * changes. Keys and certificate bytes go in; listings never bring them back out. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* Inserts the credential unless one with the same cert_sha256 exists. A missing person is
 * looked up by msisdn in the credential's organisation (SIM imports carry no person); an
 * existing credential without a person gets the one found now, nothing else changes. */
static enum db_err
credential_upsert(struct db_admin *adm, const struct db_credential_rec *c, int64_t *id,
                  bool *created, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	PGresult *res;
	enum db_err rc;

	db__params_add(&q, c->org);
	db__params_add(&q, c->person);
	db__params_add(&q, c->type);
	db__params_add(&q, c->device);
	db__params_add(&q, c->msisdn);
	db__params_add(&q, c->token_serial);
	if (c->cert_der != NULL)
		db__params_bin(&q, c->cert_der, c->cert_len);
	else
		db__params_add(&q, NULL);
	db__params_add(&q, c->cert_sha256);
	db__params_add(&q, c->subject);
	db__params_add(&q, c->display_name);
	db__params_add(&q, c->serial_hex);
	db__params_add(&q, c->not_before);
	db__params_add(&q, c->not_after);
	db__params_add(&q, c->key_alg);
	rc = db__admin_run(
	        adm,
	        "WITH ins AS (INSERT INTO credential (org, person, type, device, msisdn, "
	        "token_serial, cert_der, cert_sha256, subject, display_name, serial_hex, "
	        "not_before, not_after, key_alg) VALUES ($1, coalesce($2, (SELECT id FROM person "
	        "WHERE org = $1 AND msisdn = $5 ORDER BY id LIMIT 1)), $3, $4, $5, $6, $7, $8, $9, "
	        "$10, $11, $12, $13, $14) ON CONFLICT (cert_sha256) DO UPDATE SET person = "
	        "coalesce(credential.person, EXCLUDED.person) RETURNING id, (xmax = 0)) "
	        "SELECT * FROM ins",
	        &q, &res, errbuf, errlen);
	if (rc != DB_OK)
		return rc;
	if (PQntuples(res) != 1) {
		db__admin_seterr(errbuf, errlen, "credential upsert returned no row", NULL);
		rc = DB_E_QUERY;
	} else {
		*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		*created = PQgetvalue(res, 0, 1)[0] == 't';
	}
	PQclear(res);
	return rc;
}

static bool
credential_valid(const struct db_credential_rec *c)
{
	return c->org != NULL && c->type != NULL && c->device != NULL &&
	       (c->cert_der == NULL || c->cert_sha256 != NULL);
}

enum db_err
db_admin_credential_add(struct db_admin *adm, const struct db_credential_rec *c, int64_t *id,
                        bool *created, char *errbuf, size_t errlen)
{
	int64_t dummy_id;
	bool dummy_created;

	if (adm == NULL || c == NULL || !credential_valid(c))
		return DB_E_INVAL;
	return credential_upsert(adm, c, id != NULL ? id : &dummy_id,
	                         created != NULL ? created : &dummy_created, errbuf, errlen);
}

static enum db_err
card_upsert(struct db_admin *adm, const struct db_sim_rec *s, int64_t cred, bool *created,
            char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char idtxt[24];
	PGresult *res;
	enum db_err rc;

	snprintf(idtxt, sizeof(idtxt), "%" PRId64, cred);
	db__params_add(&q, s->iccid);
	db__params_add(&q, s->msisdn);
	db__params_add(&q, s->carrier);
	db__params_add(&q, s->tar);
	db__params_add(&q, idtxt);
	rc = db__admin_run(adm,
	                   "INSERT INTO sim_card (iccid, msisdn, carrier, tar, credential) "
	                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (iccid) DO UPDATE SET "
	                   "msisdn = EXCLUDED.msisdn, carrier = EXCLUDED.carrier, "
	                   "tar = EXCLUDED.tar, credential = EXCLUDED.credential, "
	                   "updated_at = now() RETURNING (xmax = 0)",
	                   &q, &res, errbuf, errlen);
	if (rc != DB_OK)
		return rc;
	*created = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return DB_OK;
}

/* Keys are replaced; the replay counter only moves forward (TS 102 225: a counter that went
 * back would let the card refuse, or an old message be replayed). */
static enum db_err
keyset_upsert(struct db_admin *adm, const char *iccid, const struct db_keyset_rec *k, char *errbuf,
              size_t errlen)
{
	struct db__params q = { 0 };
	char kvn[16], counter[24];

	snprintf(kvn, sizeof(kvn), "%d", k->kvn);
	snprintf(counter, sizeof(counter), "%" PRId64, k->counter);
	db__params_add(&q, iccid);
	db__params_add(&q, kvn);
	db__params_add(&q, k->kic_alg);
	db__params_bin(&q, k->kic, k->kic_len);
	db__params_add(&q, k->kid_alg);
	db__params_bin(&q, k->kid, k->kid_len);
	db__params_add(&q, k->tar);
	db__params_add(&q, counter);
	return db__admin_cmd(adm,
	                     "INSERT INTO sim_keyset (iccid, kvn, kic_alg, kic, kid_alg, kid, tar, "
	                     "counter) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
	                     "ON CONFLICT (iccid, kvn) DO UPDATE SET kic_alg = EXCLUDED.kic_alg, "
	                     "kic = EXCLUDED.kic, kid_alg = EXCLUDED.kid_alg, kid = EXCLUDED.kid, "
	                     "tar = EXCLUDED.tar, "
	                     "counter = GREATEST(sim_keyset.counter, EXCLUDED.counter)",
	                     &q, NULL, errbuf, errlen);
}

enum db_err
db_admin_sim_import(struct db_admin *adm, const struct db_sim_rec *s, struct db_sim_result *res,
                    char *errbuf, size_t errlen)
{
	enum db_err rc;

	if (adm == NULL || s == NULL || res == NULL || s->iccid == NULL || s->msisdn == NULL ||
	    !credential_valid(&s->cred) || s->nkeysets < 0 || (s->nkeysets > 0 && !s->keysets))
		return DB_E_INVAL;
	memset(res, 0, sizeof(*res));
	if ((rc = db__admin_begin(adm, errbuf, errlen)) != DB_OK)
		return rc;
	rc = credential_upsert(adm, &s->cred, &res->credential, &res->credential_created, errbuf,
	                       errlen);
	if (rc == DB_OK)
		rc = card_upsert(adm, s, res->credential, &res->card_created, errbuf, errlen);
	for (int i = 0; rc == DB_OK && i < s->nkeysets; i++)
		rc = keyset_upsert(adm, s->iccid, &s->keysets[i], errbuf, errlen);
	return db__admin_end(adm, rc, errbuf, errlen);
}

enum db_err
db_admin_directory_analyze(struct db_admin *adm, char *errbuf, size_t errlen)
{
	if (adm == NULL)
		return DB_E_INVAL;
	return db__admin_exec(adm,
	                      "ANALYZE person, credential, sim_card, sim_keyset, role_assignment, "
	                      "seal_assignment, delegation",
	                      errbuf, errlen);
}

#define CREDENTIAL_COLUMNS                                                                         \
	"c.id, c.org, c.person, c.type, c.device, c.msisdn, c.token_serial, c.subject, "           \
	"c.display_name, c.serial_hex, c.not_before, c.not_after, c.key_alg, c.state, "            \
	"c.renewal_count, c.cert_sha256, (c.cert_der IS NOT NULL) AS has_cert, "                   \
	"(SELECT s.iccid FROM sim_card s WHERE s.credential = c.id LIMIT 1) AS iccid, "            \
	"c.created_at, c.updated_at"

enum db_err
db_admin_credential_list(struct db_admin *adm, const char *org, char **json, char *errbuf,
                         size_t errlen)
{
	struct db__params q = { 0 };

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	db__params_add(&q, org);
	return db__admin_text(
	        adm,
	        "SELECT coalesce(json_agg(t ORDER BY t.id), '[]') FROM (SELECT " CREDENTIAL_COLUMNS
	        " FROM credential c WHERE $1::text IS NULL OR c.org = $1) t",
	        &q, json, errbuf, errlen);
}

enum db_err
db_admin_credential_get(struct db_admin *adm, int64_t id, char **json, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char idtxt[24];

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	db__params_add(&q, idtxt);
	return db__admin_text(adm,
	                      "SELECT row_to_json(t) FROM (SELECT " CREDENTIAL_COLUMNS
	                      ", extract(epoch FROM c.not_before)::bigint AS not_before_s, "
	                      "extract(epoch FROM c.not_after)::bigint AS not_after_s, "
	                      "o.province, o.managing_agency FROM credential c "
	                      "JOIN org o ON o.slug = c.org WHERE c.id = $1) t",
	                      &q, json, errbuf, errlen);
}

enum db_err
db_admin_credential_set_state(struct db_admin *adm, int64_t id, const char *state,
                              const char *from_json, char *errbuf, size_t errlen)
{
	struct db__params q = { 0 };
	char idtxt[24];

	if (adm == NULL || state == NULL || from_json == NULL)
		return DB_E_INVAL;
	snprintf(idtxt, sizeof(idtxt), "%" PRId64, id);
	db__params_add(&q, idtxt);
	db__params_add(&q, state);
	db__params_add(&q, from_json);
	return db__admin_id(adm,
	                    "UPDATE credential SET state = $2, updated_at = now() WHERE id = $1 "
	                    "AND state IN (SELECT jsonb_array_elements_text($3::jsonb)) "
	                    "RETURNING id",
	                    &q, NULL, errbuf, errlen);
}
