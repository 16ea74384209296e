/* gw_engine_sign.c -- the requests: sign (up to `accepted`), status, cancel, subscribe, and the
 * reload of this node's open transactions after a restart (ARCHITECTURE.md sections 4, 6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <kyso/smsc.h>

#include "gw_engine_int.h"
#include "gw_verify.h"

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char h[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = h[b[i] >> 4];
		out[2 * i + 1] = h[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
org_bound(const char *orgs_json, const char *org, char *only, size_t cap)
{
	json_t *a = json_loads(orgs_json, 0, NULL);
	bool found = false;
	size_t i;
	json_t *v;

	only[0] = '\0';
	if (a != NULL && json_is_array(a)) {
		if (json_array_size(a) == 1 && json_is_string(json_array_get(a, 0)))
			snprintf(only, cap, "%s", json_string_value(json_array_get(a, 0)));
		json_array_foreach(a, i, v) found |=
		        json_is_string(v) && strcmp(json_string_value(v), org) == 0;
	}
	json_decref(a);
	return found;
}

/* What the phone shows: the AP's prefix, the verification code, the display (TELECOM.md 3.3),
 * checked against the SMS budget of the request. */
static bool
compose_display(const struct gw_principal *who, const struct gw_sign_req *r, const char *code,
                int max_sms, char *out, size_t cap, struct gw_status *err)
{
	struct smsc_text_fit fit;
	const char *pre = who->display_prefix;
	size_t plen = strlen(pre);
	int n;

	n = snprintf(out, cap, "%s%s%s: %s", pre, plen > 0 && pre[plen - 1] != ' ' ? " " : "", code,
	             r->display);
	if (n < 0 || (size_t)n >= cap) {
		gw_status_set(err, 103, 0, "display with prefix and code is too long");
		return false;
	}
	/* 3DES keysets (the common case): the card's own keyset is known only at dispatch. */
	if (smsc_text_fit(out, (size_t)n, r->digest_len, SMSC_ALG_3DES2, (unsigned)max_sms, &fit) !=
	    SMSC_OK) {
		gw_status_set(err, 101, 1011, "display has a character no SIM can show");
		return false;
	}
	if (!fit.fits) {
		gw_status_set(err, 103, 0, "display does not fit %d SMS (%s, %zu characters)",
		              max_sms, fit.dcs == SMSC_DCS_UCS2 ? "UCS-2" : "GSM-7", fit.chars);
		return false;
	}
	return true;
}

static void
refuse(struct gw_engine *e, struct gw_pending *p, const struct gw_status *st)
{
	gw_eng_error(e, p->session, p->req_id, st);
}

static void
pending_free(struct gw_pending *p)
{
	if (p == NULL)
		return;
	json_decref(p->request);
	OPENSSL_cleanse(p, sizeof(*p)); /* digests and texts only, but keep nothing around */
	free(p);
}

static void on_signer(void *arg, uint64_t cookie, const struct db_signer_cred *rows, int n,
                      enum db_err rc);

/* A lookup before policy failed: 900 (9001 a query error, 9005 the reader's queue full, else
 * 9002 the database), no transaction, nothing sent to a device. Frees p. */
static void
lookup_refused(struct gw_engine *e, struct gw_pending *p, enum db_err rc, const char *what)
{
	struct gw_status st;

	gw_status_set(&st, 900,
	              rc == DB_E_QUERY  ? 9001
	              : rc == DB_E_BUSY ? 9005
	                                : 9002,
	              "%s lookup: %s", what, db_strerror(rc));
	refuse(e, p, &st);
	pending_free(p);
}

/* The last lookup before policy: the signer's credentials in the directory. */
static void
lookup_signer(struct gw_engine *e, struct gw_pending *p)
{
	enum db_err rc;

	rc = db_signer_lookup(e->gw->db, p->by, p->req.signer, on_signer, (uint64_t)(uintptr_t)p);
	gw_db_sync(e->gw);
	if (rc != DB_OK)
		lookup_refused(e, p, rc, "directory");
}

/* The document a mode depends on was read (ARCHITECTURE.md section 5): issue mode its own
 * (org, digest), attachment mode the ISSUED main document its number names. None is a fact
 * too: a DRAFT, which D9 and the attachment rule refuse. */
static void
on_document(void *arg, void *ctx, enum db_err rc, const struct db_document_row *row)
{
	struct gw *gw = arg;
	struct gw_pending *p = ctx;

	if (gw->engine == NULL) {
		pending_free(p);
		return;
	}
	if (rc != DB_OK) {
		lookup_refused(gw->engine, p, rc, "document");
		return;
	}
	if (strcmp(p->req.mode, "attachment") == 0)
		p->main_state = gw_document_state(row);
	else
		p->doc_state = gw_document_state(row);
	lookup_signer(gw->engine, p);
}

/* Issue mode reads its document, attachment mode the main document; the others go straight
 * to the directory. false: no document to read; else *rc says whether the lookup was queued. */
static bool
lookup_document(struct gw_engine *e, struct gw_pending *p, enum db_err *rc)
{
	if (strcmp(p->req.mode, "issue") == 0)
		*rc = db_document_get(e->gw->db, p->req.org, p->req.digest_b64, on_document, p);
	else if (strcmp(p->req.mode, "attachment") == 0 && p->req.number[0] != '\0')
		*rc = db_document_issued(e->gw->db, p->req.org, p->req.number, on_document, p);
	else
		return false;
	gw_db_sync(e->gw);
	return true;
}

/* The approve txn an issue names was read (PROTOCOL.md 4.1): its facts go to policy with the
 * document's and the directory's, which are asked next. Not found is a fact too: C5 refuses
 * then. */
static void
on_approval(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_pending *p = (struct gw_pending *)(uintptr_t)cookie;

	if (gw->engine == NULL) {
		pending_free(p);
		return;
	}
	if (rc != DB_OK) {
		lookup_refused(gw->engine, p, rc, "approval");
		return;
	}
	gw_approval_from_row(n == 1 ? &rows[0] : NULL, &p->approval);
	if (!lookup_document(gw->engine, p, &rc))
		lookup_signer(gw->engine, p);
	else if (rc != DB_OK)
		lookup_refused(gw->engine, p, rc, "document");
}

void
gw_engine_sign(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root)
{
	static const char *const by[] = { "msisdn", "subscriber", "credential" };
	struct gw_pending *p = calloc(1, sizeof(*p));
	struct gw_status st;
	char only[GW_SLUG_MAX + 1];
	enum db_err rc;

	if (p == NULL) {
		gw_status_set(&st, 900, 9005, "overloaded, retry later");
		gw_session_error(s, id, &st);
		return;
	}
	p->session = gw_session_id(s);
	p->who = *gw_session_who(s);
	snprintf(p->req_id, sizeof(p->req_id), "%s", id);
	if (p->who.role != DB_ROLE_AP) {
		gw_status_set(&st, 104, 0, "only application clients may ask for signatures");
		goto refused;
	}
	if (!gw_sign_parse(root, e->gw->cfg.display_max, &p->req, &st))
		goto refused;
	if (p->req.org[0] == '\0') {
		(void)org_bound(p->who.orgs_json, "", only, sizeof(only));
		if (only[0] == '\0') {
			gw_status_set(&st, 102, 0, "missing field: document.org (several bound)");
			goto refused;
		}
		snprintf(p->req.org, sizeof(p->req.org), "%s", only);
	} else if (!org_bound(p->who.orgs_json, p->req.org, only, sizeof(only))) {
		gw_status_set(&st, 104, 0, "this client is not bound to %s", p->req.org);
		goto refused;
	}
	if (!gw_txn_verification_code(p->code)) {
		gw_status_set(&st, 900, 9001, "no randomness");
		goto refused;
	}
	if (!compose_display(&p->who, &p->req, p->code, e->gw->cfg.sim_max_sms, p->shown,
	                     sizeof(p->shown), &st))
		goto refused;
	if (!db_ready(e->gw->db) || !e->leased) {
		gw_status_set(&st, 900, 9002, "database unavailable, retry later");
		goto refused;
	}
	/* Admission before any database work (PERFORMANCE.md section 3, "Overload"): a request
	 * taken now needs the reader again at dispatch (signing-time, counter), and an accepted
	 * transaction must find room there rather than fail. */
	if (db_reader_crowded(e->gw->db)) {
		gw_status_set(&st, 900, 9005, "overloaded, retry later");
		goto refused;
	}
	p->request = json_deep_copy(root);
	json_object_del(p->request, "id");
	snprintf(p->by, sizeof(p->by), "%s", by[p->req.signer_kind]);
	/* issue: the approve it names first (C5), then its document (D9); attachment: the main
	 * document; then the directory. */
	if (strcmp(p->req.mode, "issue") == 0) {
		rc = db_txn_get(e->gw->db, p->req.approval_txn, on_approval,
		                (uint64_t)(uintptr_t)p);
		gw_db_sync(e->gw);
	} else if (!lookup_document(e, p, &rc)) {
		rc = db_signer_lookup(e->gw->db, p->by, p->req.signer, on_signer,
		                      (uint64_t)(uintptr_t)p);
		gw_db_sync(e->gw);
	}
	if (rc == DB_OK)
		return;
	gw_status_set(&st, 900, rc == DB_E_BUSY ? 9005 : 9002, "directory lookup: %s",
	              db_strerror(rc));
refused:
	gw_session_error(s, id, &st);
	pending_free(p);
}

static char *
row_json(const struct gw_pending *p, const struct gw_txn *t, uint64_t deadline_us, bool queued)
{
	char rh[65];
	char cred[24];
	json_t *row;
	char *txt;

	hex(p->req.request_hash, 32, rh);
	snprintf(cred, sizeof(cred), "%lld", (long long)t->cred_id);
	row = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	                "s:i, s:O, s:b}",
	                "deadline_us", (json_int_t)deadline_us, "ap_client", p->who.client_id,
	                "ap_trans_id", p->req.ap_trans_id, "org", p->req.org, "credential", cred,
	                "mode", p->req.mode, "request_hash", rh, "signer", p->req.signer, "channel",
	                t->device, "format", p->req.format, "digest_alg", p->req.digest_alg,
	                "digest", p->req.digest_b64, "display", p->shown, "verification_code",
	                p->code, "timeout_s", p->req.timeout_s, "request", p->request, "queued",
	                queued);
	txt = row != NULL ? json_dumps(row, JSON_COMPACT) : NULL;
	json_decref(row);
	return txt;
}

/* false: out of memory. */
static bool
txn_fill(struct gw_txn *t, const struct gw_pending *p, const struct db_signer_cred *c)
{
	snprintf(t->ap_client, sizeof(t->ap_client), "%s", p->who.client_id);
	snprintf(t->org, sizeof(t->org), "%s", p->req.org);
	snprintf(t->signer, sizeof(t->signer), "%s", p->req.signer);
	snprintf(t->code, sizeof(t->code), "%s", p->code);
	snprintf(t->device, sizeof(t->device), "%s", c->device);
	snprintf(t->msisdn, sizeof(t->msisdn), "%s", c->msisdn != NULL ? c->msisdn : "");
	snprintf(t->token_serial, sizeof(t->token_serial), "%s",
	         c->token_serial != NULL ? c->token_serial : "");
	snprintf(t->hash_alg, sizeof(t->hash_alg), "%s", p->req.hash_alg);
	snprintf(t->format, sizeof(t->format), "%s", p->req.format);
	t->shown = strdup(p->shown);
	memcpy(t->digest, p->req.digest, p->req.digest_len);
	t->digest_len = p->req.digest_len;
	t->cred_id = c->id;
	if (c->cert_der != NULL && c->cert_der_len > 0 &&
	    !gw_eng_set_cert(t, c->cert_der, c->cert_der_len))
		return false; /* out of memory (no certificate at all: the precheck says so) */
	return t->shown != NULL;
}

/* A sign between its policy check and its accepted commit, while the certificate is checked
 * (D1-D3: chain, validity, revocation before any device contact). */
struct gw_accepting {
	struct gw_pending *p;
	uint64_t txn_key;
	struct pol_decision dec;
	bool queued;
	bool seal_mode; /* issue, copy, attachment: an unknown status refuses (D3) */
};

static void
drop_txn(struct gw_engine *e, uint64_t key)
{
	struct gw_txn *t = gw_eng_txn_by_key(e, key);

	if (t != NULL) {
		gw_eng_queue_drop(e, t);
		gw_eng_txn_discard(e, t);
	}
}

/* dev.time_scale (development only) shrinks a deadline like the simulator's delays
 * (TELECOM.md 5.4), for a SIM only: a token is a real card behind a real agent, whose PIN
 * dialogue and signing run in real time whatever the simulator's clock. */
uint64_t
gw_eng_deadline_scale(const struct gw *gw, const struct gw_txn *t)
{
	if (gw->cfg.dev_time_scale <= 1 || strcmp(t->device, "sim") != 0)
		return 1;
	return (uint64_t)gw->cfg.dev_time_scale;
}

/* The accepted commit (kyso_txn_accept); `accepted` goes out from its callback. false: *st
 * says why nothing was queued. */
static bool
accept_commit(struct gw_engine *e, struct gw_accepting *a, bool status_unknown,
              struct gw_status *st)
{
	struct gw *gw = e->gw;
	struct gw_pending *p = a->p;
	struct gw_commit *c = NULL;
	struct gw_txn *t = NULL;
	json_t *acc = NULL, *policy = NULL, *mq;
	char *detail = NULL, *row = NULL, *payload = NULL;
	char topic[160];
	uint64_t deadline_us;
	enum db_err rc;

	t = gw_eng_txn_by_key(e, a->txn_key);
	if (t == NULL) {
		gw_status_set(st, 900, 9001, "transaction vanished before its commit");
		return false;
	}
	deadline_us = gw_now_us() + (uint64_t)p->req.timeout_s * 1000000u;
	t->deadline_ms =
	        gw_mono_ms() + (uint64_t)p->req.timeout_s * 1000u / gw_eng_deadline_scale(gw, t);
	acc = json_pack("{s:s, s:s, s:i, s:s, s:s, s:{s:i, s:s}}", "type", "accepted", "txn", t->id,
	                "seq", 1, "ap_trans_id", p->req.ap_trans_id, "verification_code", p->code,
	                "status", "code", 100, "name", "REQUEST_OK");
	gw_eng_policy_json(&a->dec, acc, &policy);
	if (status_unknown && acc != NULL) { /* D3 for approve: a warning, never a pass */
		const struct pol_reason_info *ri = pol_reason_info(POL_R_STATUS_UNKNOWN);
		json_t *w = json_object_get(acc, "warnings");

		if (w == NULL) {
			w = json_array();
			json_object_set_new(acc, "warnings", w);
		}
		json_array_append_new(w, json_pack("{s:s, s:s, s:{s:s, s:s}}", "rule", ri->rule,
		                                   "reason", ri->name, "message", "vi", ri->msg_vi,
		                                   "en", ri->msg_en));
		json_object_set_new(policy, "decision", json_string("warn"));
		json_array_append_new(json_object_get(policy, "rules"), json_string(ri->rule));
	}
	t->policy = policy;
	detail = acc != NULL ? json_dumps(acc, JSON_COMPACT) : NULL;
	json_decref(acc); /* the frame lives on as text: stored, then sent with the id added */
	row = row_json(p, t, deadline_us, a->queued);
	mq = json_pack("{s:s, s:s, s:s, s:i}", "txn", t->id, "org", t->org, "state", "accepted",
	               "seq", 1);
	payload = mq != NULL ? json_dumps(mq, JSON_COMPACT) : NULL;
	json_decref(mq);
	if (detail == NULL || row == NULL || payload == NULL ||
	    (c = calloc(1, sizeof(*c))) == NULL) {
		free(detail);
		free(row);
		free(payload);
		gw_status_set(st, 900, 9005, "overloaded, retry later");
		return false;
	}
	snprintf(topic, sizeof(topic), "kyso/v1/txn/%s/accepted", t->org);
	c->kind = GW_COMMIT_ACCEPT;
	c->txn_key = t->key;
	c->seq = 1;
	c->state = GW_TS_PERSISTED;
	c->pending = p;
	c->frame = detail;
	c->row = row;
	struct db_txn_accept da = {
		.txn = t->id,
		.state = gw_txn_state_name(GW_TS_PERSISTED),
		.detail_json = detail,
		.row_json = row,
		.mqtt_topic = topic,
		.mqtt_payload = payload,
		.lane_key = gw_eng_lane_key(t),
	};
	rc = db_txn_accept(gw->db, (uint64_t)(uintptr_t)c, &da);
	gw_db_sync(gw);
	free(payload);
	if (rc != DB_OK) {
		c->pending = NULL; /* the caller still owns p */
		gw_commit_free(c);
		gw_status_set(st, 900, rc == DB_E_BUSY ? 9005 : 9002, "accepted commit: %s",
		              db_strerror(rc));
		return false;
	}
	t->next_seq = 1;
	return true;
}

/* The certificate checked before any device contact (gw_verify.h, D1-D3). */
static void
on_precheck(void *arg, const struct gw_vfy_result *res)
{
	struct gw_accepting *a = arg;
	struct gw_engine *e = a->p->eng;
	struct gw_vfy_wire w = gw_vfy_wire(res->reason, false);
	const struct pol_reason_info *ri;
	struct gw_status st;

	if (res->reason == GW_VFY_STATUS_UNKNOWN && a->seal_mode) {
		ri = pol_reason_info(POL_R_STATUS_UNKNOWN_SEAL);
		gw_status_set(&st, ri->code, ri->sub, "revocation status unknown: %s", res->detail);
		st.rule = ri->rule;
		st.reason = ri->name;
		st.msg_vi = ri->msg_vi;
		st.msg_en = ri->msg_en;
	} else if (res->reason != GW_VFY_OK && res->reason != GW_VFY_STATUS_UNKNOWN) {
		gw_status_set(&st, w.code, w.sub, "%s", res->detail);
		st.reason = w.reason;
	} else if (accept_commit(e, a, res->reason == GW_VFY_STATUS_UNKNOWN, &st)) {
		free(a);
		return;
	}
	drop_txn(e, a->txn_key);
	refuse(e, a->p, &st);
	pending_free(a->p);
	free(a);
}

/* The directory answered: credential and policy, the queue, the certificate, then the
 * accepted commit. */
static void
on_signer(void *arg, uint64_t cookie, const struct db_signer_cred *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;
	struct gw_pending *p = (struct gw_pending *)(uintptr_t)cookie;
	struct gw_accepting *a = NULL;
	struct gw_choice ch;
	struct gw_status st;
	struct gw_txn *t = NULL;
	char id[37];
	enum gw_queue_rc q;
	X509 *cert = NULL;

	if (e == NULL) {
		pending_free(p);
		return;
	}
	p->eng = e;
	if (rc != DB_OK) {
		gw_status_set(&st, 900, rc == DB_E_QUERY ? 9001 : 9002, "directory lookup: %s",
		              db_strerror(rc));
		goto refused;
	}
	if (n == 0) {
		gw_status_set(&st, 105, 1052, "signer unknown");
		goto refused;
	}
	if (!gw_eng_choose(e, p, rows, n, &ch, &st))
		goto refused;
	if (gw_eng_queue_full(e, p->req.signer)) {
		gw_status_set(&st, 406, 0, "the signer's queue is full");
		goto refused;
	}
	if (!gw_txn_new_id(gw_now_us() / 1000, id) || (t = gw_eng_txn_new(e, id)) == NULL ||
	    (a = calloc(1, sizeof(*a))) == NULL || !txn_fill(t, p, ch.cred)) {
		gw_status_set(&st, 900, 9005, "overloaded, retry later");
		goto refused;
	}
	t->state = t->want = GW_TS_AUTHORISED;
	q = gw_eng_queue_add(e, t);
	if (q == GW_Q_FULL) {
		gw_status_set(&st, 406, 0, "the signer's queue is full");
		goto refused;
	}
	a->p = p;
	a->txn_key = t->key;
	a->dec = ch.dec;
	a->queued = q == GW_Q_WAIT;
	a->seal_mode = strcmp(p->req.mode, "approve") != 0 && strcmp(p->req.mode, "system") != 0;
	if (gw->verifier != NULL) {
		cert = gw_eng_cert(t);
		if (cert != NULL &&
		    gw_verifier_precheck(gw->verifier, cert, time(NULL), on_precheck, a) == 0) {
			X509_free(cert); /* the verifier up-referenced what it keeps */
			return;
		}
		X509_free(cert);
		gw_status_set(&st, 900, 9001, "certificate check could not start");
		goto refused;
	}
	if (accept_commit(e, a, false, &st)) { /* no trust anchors: verification is off */
		free(a);
		return;
	}
refused:
	if (t != NULL) {
		gw_eng_queue_drop(e, t);
		gw_eng_txn_discard(e, t);
	}
	free(a);
	refuse(e, p, &st);
	pending_free(p);
}

/* ---- idempotent repeat (PROTOCOL.md 4.1) ---- */

struct gw_repeat {
	uint64_t session;
	char req_id[GW_ID_MAX + 1];
	char hash[65];
};

static void
on_repeat(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_repeat *r = (struct gw_repeat *)(uintptr_t)cookie;
	struct gw_engine *e = gw->engine;
	struct gw_status st;
	struct gw_txn *t;
	json_t *acc, *cur = NULL;

	if (e == NULL)
		goto out;
	if (rc != DB_OK || n != 1) {
		gw_status_set(&st, 900, 9002, "idempotency lookup failed, retry later");
		gw_eng_error(e, r->session, r->req_id, &st);
		goto out;
	}
	if (rows[0].request_hash == NULL || strcmp(rows[0].request_hash, r->hash) != 0) {
		gw_status_set(&st, 101, 1019, "ap_trans_id reused with another body");
		gw_eng_error(e, r->session, r->req_id, &st);
		goto out;
	}
	/* The same transaction: its `accepted`, then its current or final state. */
	acc = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:{s:i, s:s}}", "type", "accepted", "id",
	                r->req_id, "txn", rows[0].id, "seq", 1, "ap_trans_id", rows[0].ap_trans_id,
	                "verification_code",
	                rows[0].verification_code != NULL ? rows[0].verification_code : "",
	                "status", "code", 100, "name", "REQUEST_OK");
	gw_eng_send_json(e, r->session, acc);
	json_decref(acc);
	if ((t = gw_eng_find(e, rows[0].id)) != NULL) {
		gw_eng_subscribe(t, r->session);
		if (t->seq > 1 && t->last_frame != NULL &&
		    (cur = json_loads(t->last_frame, 0, NULL)) != NULL)
			gw_eng_send_json(e, r->session, cur);
	} else if (rows[0].result != NULL && (cur = json_loads(rows[0].result, 0, NULL)) != NULL) {
		gw_eng_send_json(e, r->session, cur);
	}
	json_decref(cur);
out:
	free(r);
}

/* The `accepted` frame is the stored one with the request's id added: its one serialisation
 * at the commit serves here too. */
static void
accepted_to_session(struct gw_engine *e, const struct gw_txn *t, const struct gw_pending *p)
{
	struct gw_session *s = gw_session_find(e->gw, p->session);
	struct gw_jtext id = { 0 };
	char *txt;

	if (s == NULL)
		return;
	gw_jtext_str(&id, "id", p->req_id);
	if ((txt = gw_jtext_splice(strdup(t->last_frame), &id)) != NULL)
		gw_session_send(s, txt, strlen(txt));
	free(txt);
	gw_jtext_free(&id);
}

void
gw_eng_accept_done(struct gw_engine *e, struct gw_commit *c, enum db_err rc, int64_t ref)
{
	struct gw_txn *t = NULL;
	struct gw_pending *p = c->pending;
	struct gw_status st;
	struct gw_repeat *r;
	struct gw_signer_slot *q;

	t = gw_eng_txn_by_key(e, c->txn_key);
	if (t == NULL)
		return;
	if (rc != DB_OK) {
		gw_eng_queue_drop(e, t);
		gw_eng_txn_discard(e, t);
		if (rc == DB_E_EXISTS && (r = calloc(1, sizeof(*r))) != NULL) {
			r->session = p->session;
			snprintf(r->req_id, sizeof(r->req_id), "%s", p->req_id);
			hex(p->req.request_hash, 32, r->hash);
			if (db_txn_get_by_ap(e->gw->db, p->who.client_id, p->req.ap_trans_id,
			                     on_repeat, (uint64_t)(uintptr_t)r) == DB_OK) {
				gw_db_sync(e->gw);
				return;
			}
			free(r);
		}
		gw_status_set(&st, 900, 9002, "not recorded: %s", db_strerror(rc));
		gw_eng_error(e, p->session, p->req_id, &st);
		return;
	}
	gw_eng_set_ref(t, ref);
	t->seq = 1;
	t->state = t->want = GW_TS_PERSISTED;
	t->last_frame = c->frame;
	c->frame = NULL;
	gw_eng_arm(t);
	gw_eng_subscribe(t, p->session);
	accepted_to_session(e, t, p);
	if (gw_mqtt_kick_ok(e->gw))
		gw_mqtt_kick(e->gw->mqtt);
	e->gw->metrics.txn_accepted++;
	q = gw_eng_signer_slot(e, t->signer, false);
	if (q != NULL && q->q.n > 0 && q->q.item[0] == t->key)
		gw_eng_dispatch(t);
	else
		(void)gw_eng_event(t, GW_TS_QUEUED, 0, 0, gw_eng_progress(t, GW_TS_QUEUED));
}

/* ---- status, cancel, subscribe ---- */

enum gw_lookup_kind {
	GW_LK_STATUS,
	GW_LK_CANCEL,
	GW_LK_SUBSCRIBE
};
struct gw_lookup {
	enum gw_lookup_kind kind;
	uint64_t session;
	char req_id[GW_ID_MAX + 1];
	char client[33];
	int since;
	bool final; /* the txn row had its result when looked up */
};

static bool
owns(const struct gw_txn *t, const struct gw_principal *who)
{
	return strcmp(t->ap_client, who->client_id) == 0;
}

static void
send_with_id(struct gw_engine *e, uint64_t session, const char *frame_txt, const char *id)
{
	json_t *f = json_loads(frame_txt, 0, NULL);

	if (f == NULL)
		return;
	if (id != NULL)
		json_object_set_new(f, "id", json_string(id));
	gw_eng_send_json(e, session, f);
	json_decref(f);
}

static bool
last_final(const struct db_txn_event_row *rows, int n)
{
	enum gw_txn_state s;

	return n > 0 && gw_txn_state_parse(rows[n - 1].state, &s) && gw_txn_state_final(s);
}

static void
on_events(void *arg, uint64_t cookie, const char *txn, const struct db_txn_event_row *rows, int n,
          enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_lookup *l = (struct gw_lookup *)(uintptr_t)cookie;
	struct gw_engine *e = gw->engine;
	struct gw_txn *t;

	if (e != NULL && rc == DB_OK) {
		for (int i = 0; i < n; i++)
			send_with_id(e, l->session, rows[i].detail, NULL);
		/* then live: from this node's commits when it runs the txn, else from the
		 * NOTIFY of the node that does (gw_engine_notify.c) */
		if ((t = gw_eng_find(e, txn)) != NULL)
			gw_eng_subscribe(t, l->session);
		else if (!l->final && !last_final(rows, n))
			gw_eng_remote_subscribe(e, txn, l->session,
			                        n > 0 ? rows[n - 1].seq : l->since);
	}
	free(l);
}

static void
on_lookup(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_lookup *l = (struct gw_lookup *)(uintptr_t)cookie;
	struct gw_engine *e = gw->engine;
	struct gw_status st;
	json_t *f;

	if (e == NULL)
		goto out;
	if (rc != DB_OK) {
		gw_status_set(&st, 900, 9002, "database unavailable, retry later");
		gw_eng_error(e, l->session, l->req_id, &st);
		goto out;
	}
	if (n != 1 || strcmp(rows[0].ap_client, l->client) != 0) {
		gw_status_set(&st, 101, 1013, "unknown transaction");
		gw_eng_error(e, l->session, l->req_id, &st);
		goto out;
	}
	if (l->kind == GW_LK_SUBSCRIBE) {
		l->final = rows[0].result != NULL;
		if (db_txn_events(gw->db, rows[0].id, l->since, on_events, cookie) == DB_OK) {
			gw_db_sync(gw);
			return; /* l travels on */
		}
		gw_status_set(&st, 900, 9002, "database unavailable, retry later");
		gw_eng_error(e, l->session, l->req_id, &st);
		goto out;
	}
	if (rows[0].result != NULL) { /* final: the real result, for status and cancel alike */
		send_with_id(e, l->session, rows[0].result, l->req_id);
		goto out;
	}
	if (l->kind == GW_LK_CANCEL) {
		/* Open, run by another node: that node holds its timers and device dialogue. */
		gw_status_set(&st, 900, 9002, "transaction run by node %s, retry there or later",
		              rows[0].owner_node);
		gw_eng_error(e, l->session, l->req_id, &st);
		goto out;
	}
	f = json_pack("{s:s, s:s, s:s, s:i, s:s, s:{s:i, s:s}}", "type", "progress", "id",
	              l->req_id, "txn", rows[0].id, "seq", rows[0].last_seq, "state", rows[0].state,
	              "status", "code", 504, "name", "OUTSTANDING_TRANSACTION");
	gw_eng_send_json(e, l->session, f);
	json_decref(f);
out:
	free(l);
}

static void
lookup_db(struct gw_engine *e, struct gw_session *s, const char *id, const char *txn,
          enum gw_lookup_kind kind, int since)
{
	struct gw_lookup *l = calloc(1, sizeof(*l));
	struct gw_status st;
	enum db_err rc = DB_E_NOMEM;

	if (l != NULL) {
		l->kind = kind;
		l->session = gw_session_id(s);
		l->since = since;
		snprintf(l->req_id, sizeof(l->req_id), "%s", id != NULL ? id : "");
		snprintf(l->client, sizeof(l->client), "%s", gw_session_who(s)->client_id);
		rc = db_txn_get(e->gw->db, txn, on_lookup, (uint64_t)(uintptr_t)l);
		gw_db_sync(e->gw);
		if (rc == DB_OK)
			return;
	}
	free(l);
	gw_status_set(&st, 900, rc == DB_E_BUSY ? 9005 : 9002, "database unavailable, retry later");
	gw_session_error(s, id, &st);
}

void
gw_engine_status(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root)
{
	char txn[GW_TXN_ID_MAX + 1];
	struct gw_status st;
	struct gw_txn *t;

	if (!gw_txn_ref_parse(root, txn, &st)) {
		gw_session_error(s, id, &st);
		return;
	}
	t = gw_eng_find(e, txn);
	if (t != NULL && !owns(t, gw_session_who(s))) {
		gw_status_set(&st, 101, 1013, "unknown transaction");
		gw_session_error(s, id, &st);
		return;
	}
	if (t != NULL && t->last_frame != NULL) {
		send_with_id(e, gw_session_id(s), t->last_frame, id);
		return;
	}
	lookup_db(e, s, id, txn, GW_LK_STATUS, 0);
}

void
gw_engine_cancel(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root)
{
	char txn[GW_TXN_ID_MAX + 1];
	struct gw_status st;
	struct gw_txn *t;
	json_t *f;

	if (!gw_txn_ref_parse(root, txn, &st)) {
		gw_session_error(s, id, &st);
		return;
	}
	t = gw_eng_find(e, txn);
	if (t == NULL) {
		lookup_db(e, s, id, txn, GW_LK_CANCEL, 0);
		return;
	}
	if (!owns(t, gw_session_who(s))) {
		gw_status_set(&st, 101, 1013, "unknown transaction");
		gw_session_error(s, id, &st);
		return;
	}
	gw_eng_subscribe(t, gw_session_id(s));
	if (t->answer_arrived || t->final_queued) {
		/* The device has answered: the real result follows (PROTOCOL.md 4.3). */
		f = json_pack("{s:s, s:s, s:s, s:b}", "type", "cancelled", "id", id, "txn", t->id,
		              "effective", 0);
		gw_eng_send_json(e, gw_session_id(s), f);
		json_decref(f);
		return;
	}
	if (t->chan != NULL && t->dispatched)
		t->chan->abandon(t->chan->self, t->ref);
	t->dispatched = false;
	f = json_pack("{s:s, s:s, s:s, s:b}", "type", "cancelled", "id", id, "txn", t->id,
	              "effective", 1);
	if (!gw_eng_finish(t, GW_TS_CANCELLED, 401, 4014, "cancelled by the application")) {
		json_decref(f);
		gw_status_set(&st, 900, 9002, "cancel not recorded, retry later");
		gw_session_error(s, id, &st);
		return;
	}
	gw_eng_send_json(e, gw_session_id(s), f);
	json_decref(f);
}

void
gw_engine_subscribe(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root)
{
	static struct gw_since since[GW_SUBSCRIBE_MAX];
	struct gw_status st;
	json_t *ok;
	int n;

	if (!gw_subscribe_parse(root, since, &n, &st)) {
		gw_session_error(s, id, &st);
		return;
	}
	ok = json_pack("{s:s, s:s, s:i}", "type", "subscribed", "id", id, "count", n);
	gw_eng_send_json(e, gw_session_id(s), ok);
	json_decref(ok);
	for (int i = 0; i < n; i++)
		lookup_db(e, s, NULL, since[i].txn, GW_LK_SUBSCRIBE, since[i].seq);
}
