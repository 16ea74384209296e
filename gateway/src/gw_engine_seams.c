/* gw_engine_seams.c -- where the engine meets verification, CMS and recovery, each in one
 * place (gw_verify.h / gw_cms.h and the recovery entry point replace the bodies here), and
 * the reload of this node's open transactions after a restart (ARCHITECTURE.md section 6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "gw_engine_int.h"

/* What the device signs: pkcs1 the document digest (the device wraps it in DigestInfo);
 * cms the digest of the DER signed attributes, which needs the CMS builder (gw_cms.h). */
bool
gw_eng_to_sign(struct gw_txn *t, uint8_t out[64], size_t *len, char *why, size_t whylen)
{
	if (strcmp(t->format, "pkcs1") == 0) {
		memcpy(out, t->digest, t->digest_len);
		*len = t->digest_len;
		return true;
	}
	snprintf(why, whylen, "format cms needs the CMS builder, not in this gateway build");
	return false;
}

static const EVP_MD *
md_of(const char *hash_alg)
{
	return EVP_get_digestbyname(hash_alg);
}

/* The signature's mathematics against the credential's public key: RSA PKCS#1 v1.5 over the
 * DigestInfo of the digest, or ECDSA (DER) over the digest. 1 valid, 0 invalid, -1 unable. */
static int
check_math(const struct gw_txn *t, const uint8_t *sig, size_t sig_len)
{
	const uint8_t *der = t->cert_der;
	X509 *x = der != NULL ? d2i_X509(NULL, &der, (long)t->cert_der_len) : NULL;
	EVP_PKEY *k = x != NULL ? X509_get0_pubkey(x) : NULL;
	EVP_PKEY_CTX *ctx = k != NULL ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	int rc = -1;

	if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
	    (EVP_PKEY_base_id(k) != EVP_PKEY_RSA ||
	     (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	      EVP_PKEY_CTX_set_signature_md(ctx, md_of(t->hash_alg)) == 1)))
		rc = EVP_PKEY_verify(ctx, sig, sig_len, t->digest, t->digest_len) == 1 ? 1 : 0;
	EVP_PKEY_CTX_free(ctx);
	X509_free(x);
	return rc;
}

static char *
b64(const uint8_t *b, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, b, (int)n);
	return out;
}

/* SIGNED: verify, then the final result. Until the verifier (chain to the trust anchors,
 * OCSP/CRL at signing time) is in this build, a signature whose mathematics hold is 500 with
 * revocation unknown, never 502 (PROTOCOL.md section 5: indeterminate is not valid). */
void
gw_eng_signed(struct gw_txn *t, const uint8_t *sig, size_t sig_len)
{
	int math = strcmp(t->format, "pkcs1") == 0 ? check_math(t, sig, sig_len) : -1;
	char *sig_b64 = b64(sig, sig_len), *cert_b64 = NULL;
	char at[40];
	json_t *r;

	if (t->cert_der != NULL)
		cert_b64 = b64(t->cert_der, t->cert_der_len);
	gw_proto_time(at, sizeof(at), gw_now_us());
	if (math == 0) {
		r = gw_eng_result(t, 503, 0, "the signature does not verify");
	} else {
		r = gw_eng_result(t, 500, 0, "signature not validated: revocation status unknown");
		json_object_set_new(r, "revocation", json_pack("{s:s}", "status", "unknown"));
		json_object_set_new(
		        r, "warnings",
		        json_pack("[{s:s, s:s}]", "rule", "D3", "reason", "STATUS_UNKNOWN"));
	}
	if (sig_b64 != NULL)
		json_object_set_new(r, "signature", json_string(sig_b64));
	if (cert_b64 != NULL)
		json_object_set_new(r, "signer_cert", json_string(cert_b64));
	json_object_set_new(r, "signed_at", json_string(at));
	(void)gw_eng_event(t, GW_TS_DONE, math == 0 ? 503 : 500, 0, r);
	free(sig_b64);
	free(cert_b64);
}

/* 402/4021: the recovery entry point (lock the credential, open one case: ARCHITECTURE.md 6).
 * Recorded as a node event naming the credential until that entry point is in this build. */
void
gw_eng_device_blocked(struct gw_txn *t)
{
	gw_event_node(t->eng->gw, "device.blocked", "recovery", NULL, t->ap_client,
	              json_pack("{s:s, s:I, s:s}", "txn", t->id, "credential",
	                        (json_int_t)t->cred_id, "device", t->device));
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
	for (struct gw_txn *x = e->all; x != NULL; x = x->next)
		if (x->key == cookie)
			t = x;
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
	if (rows[0].cert_der != NULL && (t->cert_der = malloc(rows[0].cert_der_len)) != NULL) {
		memcpy(t->cert_der, rows[0].cert_der, rows[0].cert_der_len);
		t->cert_der_len = rows[0].cert_der_len;
	}
	if (gw_eng_queue_add(e, t) == GW_Q_RUN_NOW)
		gw_eng_dispatch(t);
}

static void
reload_one(struct gw_engine *e, const struct db_txn_row *r)
{
	struct gw_sign_req req;
	struct gw_status st;
	struct gw_txn *t;
	enum gw_txn_state s;
	json_t *root;
	int64_t left_ms;

	if (gw_eng_find(e, r->id) != NULL || !gw_txn_state_parse(r->state, &s) ||
	    (t = gw_eng_txn_new(e, r->id)) == NULL)
		return;
	t->ref = r->ref;
	t->state = t->want = s;
	t->seq = t->next_seq = r->last_seq;
	t->reached_user = s == GW_TS_DELIVERED || s == GW_TS_AWAITING_USER;
	snprintf(t->ap_client, sizeof(t->ap_client), "%s", r->ap_client);
	snprintf(t->org, sizeof(t->org), "%s", r->org != NULL ? r->org : "");
	snprintf(t->signer, sizeof(t->signer), "%s", r->signer != NULL ? r->signer : "");
	snprintf(t->code, sizeof(t->code), "%s",
	         r->verification_code != NULL ? r->verification_code : "");
	snprintf(t->shown, sizeof(t->shown), "%s", r->display != NULL ? r->display : "");
	snprintf(t->device, sizeof(t->device), "%s", r->channel != NULL ? r->channel : "sim");
	t->cred_id = r->credential != NULL ? strtoll(r->credential, NULL, 10) : 0;
	root = r->request != NULL ? json_loads(r->request, 0, NULL) : NULL;
	if (root != NULL && gw_sign_parse(root, GW_SIGN_DISPLAY_ANY, &req, &st)) {
		memcpy(t->digest, req.digest, req.digest_len);
		t->digest_len = req.digest_len;
		snprintf(t->hash_alg, sizeof(t->hash_alg), "%s", req.hash_alg);
		snprintf(t->format, sizeof(t->format), "%s", req.format);
	}
	json_decref(root);
	left_ms = (r->deadline_us - (int64_t)gw_now_us()) / 1000;
	t->deadline_ms = gw_mono_ms() + (uint64_t)(left_ms > 0 ? left_ms : 0);
	e->gw->metrics.txn_reloaded++;
	gw_eng_arm(t); /* one already past fires at once: expired in the deadline's order */
	if (s > GW_TS_QUEUED) { /* on the device: it holds the signer's slot */
		(void)gw_eng_queue_add(e, t);
		t->dispatched = true;
		return;
	}
	if (left_ms <= 0)
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
gw_engine_db_ready(struct gw_engine *e)
{
	if (e == NULL || e->reloaded)
		return;
	e->reloaded = true;
	if (db_txn_reload(e->gw->db, GW_ENGINE_RELOAD_MAX, on_reload, 0) != DB_OK)
		e->reloaded = false;
}
