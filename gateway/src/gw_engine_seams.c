/* gw_engine_seams.c -- where the engine meets verification, CMS and recovery, each in one
 * place (gw_verify.h / gw_cms.h and the recovery entry point replace the bodies here), and
 * the reload of this node's open transactions after a restart (ARCHITECTURE.md section 6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "gw_cms.h"
#include "gw_engine_int.h"
#include "gw_verify.h"

X509 *
gw_eng_cert(const struct gw_txn *t)
{
	if (t->cert_der == NULL)
		return NULL;
	return gw_cert_cache_get(t->eng->gw->certs, t->cert_der, t->cert_der_len);
}

bool
gw_eng_set_cert(struct gw_txn *t, const uint8_t *der, size_t len)
{
	uint8_t *copy;

	if (der == NULL || len == 0 || (copy = malloc(len)) == NULL)
		return false;
	memcpy(copy, der, len);
	free(t->cert_der);
	t->cert_der = copy;
	t->cert_der_len = len;
	return true;
}

/* The signer's issuing CA when it is an intermediate (not the anchor), so that a verifier
 * holding only the root builds the path from the SignedData alone. NULL: none or unknown. */
static STACK_OF(X509) * issuer_chain(struct gw *gw, X509 *cert)
{
	STACK_OF(X509) *sk = NULL;
	X509 *issuer = NULL;

	/* Through the verifier's path cache: the same path the precheck just verified. */
	if (gw->verifier == NULL ||
	    gw_verifier_path(gw->verifier, cert, time(NULL), &issuer) != GW_VFY_OK ||
	    issuer == NULL)
		return NULL;
	if (X509_check_issued(issuer, issuer) == X509_V_OK || (sk = sk_X509_new_null()) == NULL ||
	    sk_X509_push(sk, issuer) == 0) {
		X509_free(issuer); /* self-signed: the anchor the verifier holds */
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

/* The signed attributes of t at its signing time, kept on t, and their digest: what the device
 * signs. The same inputs give the same bytes, so any node rebuilds them from signing_time. */
static enum gw_cms_err
cms_attrs_build(struct gw_txn *t, X509 *cert, uint8_t tbs[64], size_t *len)
{
	uint8_t *attrs = NULL;
	size_t attrs_len = 0;
	enum gw_cms_err rc = gw_cms_attrs(cert, t->digest, t->digest_len, (time_t)t->signing_time,
	                                  &attrs, &attrs_len, tbs, 64, len);

	if (rc == GW_CMS_OK) {
		OPENSSL_free(t->cms_attrs);
		t->cms_attrs = attrs;
		t->cms_attrs_len = attrs_len;
	}
	return rc;
}

/* What the device signs (PROTOCOL.md 4.1 `format`): pkcs1 the document digest; cms the digest
 * of the DER signed attributes that gw_cms_attrs builds (signing-time from this clock). */
bool
gw_eng_to_sign(struct gw_txn *t, uint8_t out[64], size_t *len, char *why, size_t whylen)
{
	X509 *cert;
	enum gw_cms_err rc;

	if (t->shown == NULL) {
		snprintf(why, whylen, "no display text (out of memory)");
		return false;
	}
	if (strcmp(t->format, "pkcs1") == 0) {
		memcpy(out, t->digest, t->digest_len);
		*len = t->digest_len;
	} else if (t->tbs_len != 0 && t->cms_attrs != NULL) {
		memcpy(out, t->tbs, t->tbs_len); /* a resend: the same attributes */
		*len = t->tbs_len;
	} else {
		if ((cert = gw_eng_cert(t)) == NULL) {
			snprintf(why, whylen, "no certificate to build the signed attributes");
			return false;
		}
		/* The signing-time is recorded before the device is asked (on the reader, ahead
		 * of the counter written ahead), so that any node rebuilds these attributes. */
		if (t->signing_time == 0) {
			t->signing_time = (int64_t)time(NULL);
			/* rebuilt for an answer without a stored time: nothing to record, the
			 * signature will not verify over these attributes (503) */
			if (!t->answer_arrived &&
			    db_txn_signing_time(t->eng->gw->db, t->id, t->signing_time) != DB_OK)
				gw_log(GW_LOG_WARN, "msg=\"signing time not recorded\" txn=%s",
				       t->id);
		}
		rc = cms_attrs_build(t, cert, out, len);
		X509_free(cert);
		if (rc != GW_CMS_OK) {
			snprintf(why, whylen, "signed attributes: %s", gw_cms_strerror(rc));
			return false;
		}
	}
	memcpy(t->tbs, out, *len);
	t->tbs_len = *len;
	return true;
}

static char *
b64(const uint8_t *b, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, b, (int)n);
	return out;
}

static void
set_b64(json_t *r, const char *key, const uint8_t *b, size_t n)
{
	char *txt = b64(b, n);

	if (txt != NULL)
		json_object_set_new(r, key, json_string(txt));
	free(txt);
}

static enum gw_vfy_scheme
scheme_of(X509 *cert)
{
	EVP_PKEY *k = X509_get0_pubkey(cert);

	return k != NULL && EVP_PKEY_base_id(k) == EVP_PKEY_RSA ? GW_SIG_RSA_PKCS1 : GW_SIG_ECDSA;
}

/* The detached SignedData of t's answer: assembled around the attributes kept since dispatch,
 * which must still digest to what the device was given (tbs), then the signature set in. */
static bool
cms_of(struct gw_txn *t, X509 *cert, const uint8_t *sig, size_t sig_len, bool sig_ok, uint8_t **der,
       size_t *der_len)
{
	STACK_OF(X509) *extra = issuer_chain(t->eng->gw, cert);
	struct gw_cms_prep *prep = NULL;
	const uint8_t *tbs;
	size_t len = 0;
	bool ok =
	        t->cms_attrs != NULL &&
	        gw_cms_prepare_from_attrs(cert, extra, t->cms_attrs, t->cms_attrs_len,
	                                  t->digest_len, &prep) == GW_CMS_OK &&
	        (tbs = gw_cms_prep_tbs(prep, &len)) != NULL && len == t->tbs_len &&
	        memcmp(tbs, t->tbs, len) == 0 &&
	        /* sig_ok: verified over t->tbs, the same bytes, with this certificate's key */
	        (sig_ok ? gw_cms_finish_verified(prep, scheme_of(cert), sig, sig_len, der, der_len)
	                : gw_cms_finish(prep, scheme_of(cert), sig, sig_len, der, der_len)) ==
	                GW_CMS_OK;

	sk_X509_pop_free(extra, X509_free);
	gw_cms_prep_free(prep);
	return ok;
}

json_t *
gw_eng_signed_frame(const struct gw_txn *t, const uint8_t *sig, size_t sig_len)
{
	json_t *f = gw_eng_progress(t, GW_TS_SIGNED);

	if (f != NULL)
		set_b64(f, "signature", sig, sig_len);
	return f;
}

/* When the device's signature came: now, or the recorded SIGNED event's time (resume). */
static time_t
signed_time(const struct gw_txn *t)
{
	return t->signed_at > 0 ? (time_t)t->signed_at : time(NULL);
}

/* A signature waiting for its verification (the txn may end meanwhile: found by key). */
struct gw_signed {
	struct gw_engine *eng;
	uint64_t key;
	X509 *cert; /* the one the signature is checked against: the CMS names the same */
	uint8_t *sig;
	size_t sig_len;
	time_t signed_at;
};

/* A certificate's DER as base64 text (OpenSSL keeps the encoding it was parsed from): the
 * member key, or the next item of an open array when key is NULL. */
static void
cert_text(struct gw_jtext *j, const char *key, X509 *cert)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);

	if (n > 0 && key != NULL)
		gw_jtext_b64(j, key, der, (size_t)n);
	else if (n > 0)
		gw_jtext_b64_item(j, der, (size_t)n);
	OPENSSL_free(der);
}

/* `signer_cert` and `chain` (the CA certificates the verification went through, issuer
 * first), base64 DER, as members text. */
static void
certs_text(struct gw_jtext *j, X509 *cert, const struct gw_vfy_result *res)
{
	if (cert != NULL)
		cert_text(j, "signer_cert", cert);
	if (res->chain_len <= 0)
		return;
	gw_jtext_array_open(j, "chain");
	for (int i = 0; i < res->chain_len; i++)
		cert_text(j, NULL, res->chain[i]);
	gw_jtext_array_close(j);
}

/* `revocation`: status, source and, when the answer said, when it was produced. */
static json_t *
revocation_obj(const struct gw_rev_result *rev)
{
	char at[40];
	json_t *o = json_pack("{s:s, s:s}", "status", gw_rev_status_name(rev->status), "source",
	                      rev->source == GW_REV_SRC_CRL || rev->source == GW_REV_SRC_CACHE_CRL
	                              ? "crl"
	                              : "ocsp");

	if (o != NULL && rev->produced_at > 0) {
		gw_proto_time(at, sizeof(at), (uint64_t)rev->produced_at * 1000000u);
		json_object_set_new(o, "produced_at", json_string(at));
	}
	return o;
}

/* The final result of a signature: verification outcome, CMS for format cms. */
static void
finish_signed(struct gw_txn *t, X509 *cert, const struct gw_vfy_result *res, const uint8_t *sig,
              size_t sig_len, time_t signed_at)
{
	struct gw_vfy_wire w = gw_vfy_wire(res->reason, true);
	enum gw_txn_state to = GW_TS_DONE;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char at[40];
	struct gw_jtext big = { 0 };
	json_t *r;

	if (strcmp(t->format, "cms") == 0 && t->tbs_len != 0 && cert != NULL &&
	    res->reason != GW_VFY_SIGNATURE_INVALID &&
	    !cms_of(t, cert, sig, sig_len, res->sig_ok, &der, &der_len)) {
		w = gw_vfy_wire(GW_VFY_SIGNATURE_INVALID, true);
		to = GW_TS_DONE;
	}
	if (!gw_txn_final_code_ok(GW_TS_DONE, w.code, w.sub)) {
		to = GW_TS_FAILED; /* 900/9007, 9008, 9001: no valid signature to speak of */
		if (!gw_txn_final_code_ok(to, w.code, w.sub))
			w = gw_vfy_wire(GW_VFY_INTERNAL, true);
	}
	r = gw_eng_result(t, w.code, w.sub, res->detail);
	/* the large members (CMS, certificates) go in as text, encoded once (gw_jtext.h) */
	gw_jtext_b64(&big, "signature", sig, sig_len);
	if (der != NULL)
		gw_jtext_b64(&big, "cms", der, der_len);
	certs_text(&big, cert, res);
	if (res->rev_checked || w.warning)
		json_object_set_new(r, "revocation", revocation_obj(&res->rev));
	if (w.warning)
		json_object_set_new(
		        r, "warnings",
		        json_pack("[{s:s, s:s}]", "rule", "D3", "reason", "STATUS_UNKNOWN"));
	gw_proto_time(at, sizeof(at), (uint64_t)signed_at * 1000000u);
	json_object_set_new(r, "signed_at", json_string(at));
	(void)gw_eng_event_more(t, to, w.code, w.sub, r, &big);
	gw_jtext_free(&big);
	OPENSSL_free(der);
}

static void
on_checked(void *arg, const struct gw_vfy_result *res)
{
	struct gw_signed *g = arg;
	struct gw_txn *t = NULL;

	t = gw_eng_txn_by_key(g->eng, g->key);
	if (t != NULL && !t->final_queued)
		finish_signed(t, g->cert, res, g->sig, g->sig_len, g->signed_at);
	X509_free(g->cert);
	free(g->sig);
	free(g);
}

/* SIGNED: verify (gw_verifier_check: the signature over what the device signed, the chain,
 * validity at the signing time, algorithms, revocation), then CMS, then the final result.
 * Without trust anchors verification is off: 500, never 502 (PROTOCOL.md section 5). */
void
gw_eng_signed(struct gw_txn *t, const uint8_t *sig, size_t sig_len)
{
	struct gw_verifier *v = t->eng->gw->verifier;
	struct gw_vfy_result off = { .reason = GW_VFY_STATUS_UNKNOWN };
	struct gw_signed *g = NULL;
	X509 *cert = gw_eng_cert(t);
	int rc = -1;

	snprintf(off.detail, sizeof(off.detail), "verification is off (no trust anchors)");
	off.rev.status = GW_REV_UNKNOWN;
	off.rev.cause = GW_REV_ONLINE_CHECKING_DISABLED;
	if (v == NULL && cert != NULL &&
	    gw_vfy_signature(X509_get0_pubkey(cert), scheme_of(cert), gw_vfy_md_for_len(t->tbs_len),
	                     t->tbs, t->tbs_len, sig, sig_len) == GW_VFY_SIGNATURE_INVALID) {
		off.reason = GW_VFY_SIGNATURE_INVALID; /* the mathematics need no anchor */
		snprintf(off.detail, sizeof(off.detail), "the signature does not verify");
	}
	if (v != NULL && cert != NULL && (g = calloc(1, sizeof(*g))) != NULL &&
	    (g->sig = malloc(sig_len > 0 ? sig_len : 1)) != NULL) {
		memcpy(g->sig, sig, sig_len);
		g->sig_len = sig_len;
		g->eng = t->eng;
		g->key = t->key;
		g->signed_at = signed_time(t);
		g->cert = cert;
		rc = gw_verifier_check(v, cert, scheme_of(cert), t->tbs, t->tbs_len, sig, sig_len,
		                       g->signed_at, on_checked, g);
		if (rc == 0)
			return; /* on_checked finishes, and frees g with the certificate */
	}
	if (g != NULL) {
		free(g->sig);
		free(g);
	}
	if (v != NULL) {
		struct gw_vfy_result err = { .reason = GW_VFY_INTERNAL };

		snprintf(err.detail, sizeof(err.detail), "verification could not start");
		finish_signed(t, cert, &err, sig, sig_len, signed_time(t));
	} else {
		finish_signed(t, cert, &off, sig, sig_len, signed_time(t));
	}
	X509_free(cert);
}

/* 402/4021: a node event names the credential, and the recovery entry point locks it and opens
 * its case in one transaction (ARCHITECTURE.md section 6). Later requests get 402/4021 from
 * policy (B14) with no device contact: from the database once that transaction commits, from
 * gw_recovery_blocking() until then. */
void
gw_eng_device_blocked(struct gw_txn *t)
{
	gw_event_node(t->eng->gw, "device.blocked", "recovery", NULL, t->ap_client,
	              json_pack("{s:s, s:I, s:s}", "txn", t->id, "credential",
	                        (json_int_t)t->cred_id, "device", t->device));
	/* The case: routed by device kind and province (REGULATION.md B15), at most one open per
	 * credential; the recovery module keeps retrying while the database is away. */
	int rc = gw_recovery_device_blocked(t->eng->gw, t->cred_id, t->id, NULL, NULL);
	if (rc != DB_OK)
		gw_log(GW_LOG_WARN, "msg=\"recovery case not opened\" credential=%lld err=\"%s\"",
		       (long long)t->cred_id, db_strerror(rc));
}

/* ---- reload after a restart ---- */

static void
on_cred(void *arg, uint64_t cookie, const struct db_signer_cred *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;
	struct gw_txn *t = NULL;

	if (e == NULL)
		return;
	t = gw_eng_txn_by_key(e, cookie);
	if (t == NULL || t->final_queued)
		return;
	if (rc != DB_OK || n < 1) {
		(void)gw_eng_finish(t, GW_TS_FAILED, 900, 9002,
		                    "credential not found after restart");
		return;
	}
	snprintf(t->msisdn, sizeof(t->msisdn), "%s", rows[0].msisdn != NULL ? rows[0].msisdn : "");
	snprintf(t->token_serial, sizeof(t->token_serial), "%s",
	         rows[0].token_serial != NULL ? rows[0].token_serial : "");
	(void)gw_eng_set_cert(t, rows[0].cert_der, rows[0].cert_der_len);
	if (gw_eng_queue_add(e, t) == GW_Q_RUN_NOW)
		gw_eng_dispatch(t);
}

void
gw_eng_fill_from_row(struct gw_txn *t, const struct db_txn_row *r)
{
	struct gw_sign_req req;
	struct gw_status st;
	json_t *root;
	int64_t left_ms;
	bool parsed;

	gw_eng_set_ref(t, r->ref);
	t->seq = t->next_seq = r->last_seq;
	if (gw_txn_state_parse(r->state, &t->state))
		t->want = t->state;
	t->reached_user = t->state == GW_TS_DELIVERED || t->state == GW_TS_AWAITING_USER;
	snprintf(t->ap_client, sizeof(t->ap_client), "%s", r->ap_client);
	snprintf(t->org, sizeof(t->org), "%s", r->org != NULL ? r->org : "");
	snprintf(t->signer, sizeof(t->signer), "%s", r->signer != NULL ? r->signer : "");
	snprintf(t->code, sizeof(t->code), "%s",
	         r->verification_code != NULL ? r->verification_code : "");
	t->shown = strdup(r->display != NULL ? r->display : "");
	snprintf(t->device, sizeof(t->device), "%s", r->channel != NULL ? r->channel : "sim");
	t->cred_id = r->credential != NULL ? strtoll(r->credential, NULL, 10) : 0;
	t->signing_time = r->signing_time;
	root = r->request != NULL ? json_loads(r->request, 0, NULL) : NULL;
	parsed = root != NULL && gw_sign_parse(root, GW_SIGN_DISPLAY_ANY, &req, &st);
	if (parsed) {
		memcpy(t->digest, req.digest, req.digest_len);
		t->digest_len = req.digest_len;
		snprintf(t->hash_alg, sizeof(t->hash_alg), "%s", req.hash_alg);
		snprintf(t->format, sizeof(t->format), "%s", req.format);
	}
	/* deadline_at is acceptance + timeout_s; a SIM's timer ran timeout_s / dev.time_scale
	 * from acceptance (development only), so the same share is left here. */
	left_ms = (r->deadline_us - (int64_t)gw_now_us()) / 1000;
	if (parsed && req.timeout_s > 0 && gw_eng_deadline_scale(t->eng->gw, t) > 1) {
		int64_t scale = (int64_t)gw_eng_deadline_scale(t->eng->gw, t);
		int64_t total_ms = (int64_t)req.timeout_s * 1000;

		left_ms = total_ms / scale - (total_ms - left_ms);
	}
	json_decref(root);
	t->deadline_ms = gw_mono_ms() + (uint64_t)(left_ms > 0 ? left_ms : 0);
}

static void
reload_one(struct gw_engine *e, const struct db_txn_row *r)
{
	struct gw_txn *t;
	enum gw_txn_state s;

	if (gw_eng_find(e, r->id) != NULL || !gw_txn_state_parse(r->state, &s) ||
	    (t = gw_eng_txn_new(e, r->id)) == NULL)
		return;
	gw_eng_fill_from_row(t, r);
	e->gw->metrics.txn_reloaded++;
	gw_eng_arm(t); /* one already past fires at once: expired in the deadline's order */
	if (s > GW_TS_QUEUED) { /* on the device: it holds the signer's slot */
		(void)gw_eng_queue_add(e, t);
		t->dispatched = true;
		/* the answer arrived and was recorded, its node died before the final event:
		 * finished here from the recorded signature (ARCHITECTURE.md 4, it wins) */
		if (s == GW_TS_SIGNED)
			gw_eng_resume_signed(t);
		return;
	}
	if (r->deadline_us <= (int64_t)gw_now_us())
		return; /* with the device, or about to expire: its answer or the timer ends it */
	if (db_signer_lookup(e->gw->db, "credential", r->credential != NULL ? r->credential : "0",
	                     on_cred, t->key) != DB_OK)
		(void)gw_eng_finish(t, GW_TS_FAILED, 900, 9002, "credential lookup after restart");
}

static void
on_reload(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;

	(void)cookie;
	if (e == NULL)
		return;
	if (rc != DB_OK) {
		e->reloaded = false; /* try again at the next ready */
		return;
	}
	for (int i = 0; i < n; i++)
		reload_one(e, &rows[i]);
	gw_log(GW_LOG_INFO, "msg=\"open transactions reloaded\" count=%d", n);
	gw_db_sync(gw);
}

void
gw_eng_reload(struct gw_engine *e)
{
	if (db_txn_reload(e->gw->db, GW_ENGINE_RELOAD_MAX, on_reload, 0) != DB_OK)
		gw_log(GW_LOG_WARN, "msg=\"reload of taken transactions not queued\"");
	gw_db_sync(e->gw);
}

bool
gw_engine_leased(const struct gw_engine *e)
{
	return e != NULL && e->leased;
}

void
gw_engine_db_ready(struct gw_engine *e)
{
	if (e != NULL)
		gw_eng_lease_first(e);
	if (e == NULL || e->reloaded)
		return;
	e->reloaded = true;
	if (db_txn_reload(e->gw->db, GW_ENGINE_RELOAD_MAX, on_reload, 0) != DB_OK)
		e->reloaded = false;
}
