/* gw_verify_net.c -- the verifier on the loop: certificate checks, then the revocation status
 * from the cache, the OCSP responder in the certificate's AIA (POST, nonce), and the CRL from
 * its CDP as the fallback (REGULATION.md section 6 step 6, D1-D3). Loop thread only.
 *
 * A job lives from start to its one done call. Results found at once (a cached answer, a
 * certificate refused) are delivered from a zero timer, never from inside the start call.
 * Freeing the verifier ends its jobs with "cancelled"; a job whose HTTP request is still out
 * stays allocated, detached, until gw_httpc reports that request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <uv.h>

#include "gw_httpc.h"
#include "gw_verify.h"

#define CRL_CACHE_MAX 16

struct crl_ent {
	char url[GW_REV_URL_MAX];
	X509_CRL *crl;
	time_t next_update;
};

struct vjob {
	struct vjob *next, *prev;
	struct gw_verifier *v; /* NULL once detached by gw_verifier_free */
	X509 *cert, *issuer;
	X509 *ca_issuer; /* the issuer's issuer when the issuer is an intermediate, else NULL */
	X509 *target, *target_issuer; /* whose status is being fetched: cert or the issuer */
	bool ca_stage;                /* the end-entity was good; now its issuing CA */
	struct gw_rev_result leaf_rev;
	time_t at;
	gw_vfy_done_fn *done;
	void *arg;
	bool http_out; /* a gw_httpc request for this job is running */
	bool ready;    /* on the ready list, done comes from the zero timer */
	uint8_t nonce[GW_VFY_NONCE_LEN];
	char url[GW_REV_URL_MAX];
	enum gw_vfy_reason cert_reason;
	struct gw_vfy_result res;
};

struct gw_verifier {
	uv_loop_t *loop;
	struct gw_httpc *httpc;
	const struct gw_trust *trust;
	struct gw_rev_opts opts;
	struct gw_rev_cache *cache;
	struct gw_path_cache *paths;
	struct crl_ent crls[CRL_CACHE_MAX];
	struct vjob *jobs;       /* running */
	uv_timer_t *ready_timer; /* heap: outlives uv_close */
};

/* ---- jobs ---------------------------------------------------------------------------------- */

static void
job_unlink(struct vjob *j)
{
	if (j->v == NULL)
		return;
	if (j->prev != NULL)
		j->prev->next = j->next;
	else
		j->v->jobs = j->next;
	if (j->next != NULL)
		j->next->prev = j->prev;
	j->next = j->prev = NULL;
}

static void
job_free(struct vjob *j)
{
	X509_free(j->cert);
	X509_free(j->issuer);
	X509_free(j->ca_issuer);
	free(j);
}

/* A CA certificate the relying party does not hold already: not a self-signed anchor. */
static void
chain_add(struct gw_vfy_result *res, X509 *ca)
{
	if (ca == NULL || res->chain_len >= GW_VFY_CHAIN_MAX ||
	    X509_check_issued(ca, ca) == X509_V_OK)
		return;
	res->chain[res->chain_len++] = ca;
}

/* Calls done once; frees the job unless an HTTP request still refers to it. */
static void
job_finish(struct vjob *j)
{
	gw_vfy_done_fn *done = j->done;

	j->res.chain_len = 0;
	if (j->cert_reason == GW_VFY_OK) {
		chain_add(&j->res, j->issuer);
		chain_add(&j->res, j->ca_issuer);
	}
	job_unlink(j);
	j->v = NULL;
	j->done = NULL;
	if (done != NULL)
		done(j->arg, &j->res);
	if (!j->http_out)
		job_free(j);
}

static void
ready_cb(uv_timer_t *t)
{
	struct gw_verifier *v = t->data;
	struct vjob *j, *next;

	for (j = v->jobs; j != NULL; j = next) {
		next = j->next;
		if (j->ready)
			job_finish(j);
	}
}

/* The result is final: deliver it from the loop, not from the caller's stack. */
static void
job_ready(struct vjob *j)
{
	j->ready = true;
	if (j->v != NULL)
		uv_timer_start(j->v->ready_timer, ready_cb, 0, 0);
}

static void revocation_start(struct vjob *j);

/* REGULATION.md section 6 step 6 asks for every certificate in the path: an intermediate CA
 * that names an OCSP responder or a CRL is checked too (one that names neither cannot be). */
static bool
ca_needs_check(struct vjob *j)
{
	char url[GW_REV_URL_MAX];

	return j->ca_issuer != NULL && (gw_cert_ocsp_url(j->issuer, url, sizeof(url)) ||
	                                gw_cert_crl_url(j->issuer, url, sizeof(url)));
}

/* Revoked after the signing time T means good at T (ND68 31.1c: status at T). */
static void
job_conclude(struct vjob *j, const struct gw_rev_result *rev)
{
	struct gw_rev_result r = *rev;

	if (r.status == GW_REV_REVOKED && r.revoked_at != 0 && r.revoked_at > j->at)
		r.status = GW_REV_GOOD;
	j->res.rev_checked = true;
	if (!j->ca_stage && r.status == GW_REV_GOOD && ca_needs_check(j)) {
		j->leaf_rev = r;
		j->ca_stage = true;
		j->target = j->issuer;
		j->target_issuer = j->ca_issuer;
		revocation_start(j);
		return;
	}
	if (!j->ca_stage) {
		j->res.rev = r;
		j->res.reason = gw_vfy_combine(j->cert_reason, &r);
	} else if (r.status == GW_REV_GOOD) {
		j->res.rev = j->leaf_rev;
		j->res.reason = gw_vfy_combine(j->cert_reason, &j->leaf_rev);
	} else {
		/* The CA's outcome is the one to show: revoked, or why it is unknown. */
		j->res.rev = r;
		j->res.reason = r.status == GW_REV_REVOKED ? GW_VFY_CA_CERT_IS_REVOKED
		                                           : GW_VFY_STATUS_UNKNOWN;
	}
	if (j->res.reason == GW_VFY_STATUS_UNKNOWN)
		snprintf(j->res.detail, sizeof(j->res.detail), "revocation status%s unknown: %s",
		         j->ca_stage ? " of the issuing CA" : "", gw_rev_cause_name(r.cause));
	else if (j->res.reason == GW_VFY_CA_CERT_IS_REVOKED)
		snprintf(j->res.detail, sizeof(j->res.detail), "the issuing CA is revoked");
	job_ready(j);
}

static void
job_unknown(struct vjob *j, enum gw_rev_cause ocsp_cause, enum gw_rev_cause cause)
{
	struct gw_rev_result r = {
		.status = GW_REV_UNKNOWN, .cause = cause, .ocsp_cause = ocsp_cause, .crl_reason = -1
	};

	job_conclude(j, &r);
}

/* ---- CRL fallback ------------------------------------------------------------------------ */

static struct crl_ent *
crl_cached(struct gw_verifier *v, const char *url, time_t now)
{
	int i;

	for (i = 0; i < CRL_CACHE_MAX; i++) {
		struct crl_ent *e = &v->crls[i];

		if (e->crl != NULL && strcmp(e->url, url) == 0) {
			if (e->next_update >= now)
				return e;
			X509_CRL_free(e->crl);
			e->crl = NULL;
		}
	}
	return NULL;
}

static void
crl_keep(struct gw_verifier *v, const char *url, X509_CRL *crl, time_t next_update)
{
	struct crl_ent *slot = &v->crls[0];
	int i;

	if (next_update == 0) {
		X509_CRL_free(crl);
		return;
	}
	for (i = 0; i < CRL_CACHE_MAX; i++) {
		if (v->crls[i].crl == NULL || strcmp(v->crls[i].url, url) == 0) {
			slot = &v->crls[i];
			break;
		}
		if (v->crls[i].next_update < slot->next_update)
			slot = &v->crls[i];
	}
	X509_CRL_free(slot->crl);
	snprintf(slot->url, sizeof(slot->url), "%s", url);
	slot->crl = crl;
	slot->next_update = next_update;
}

static void
crl_done(void *arg, int status, const unsigned char *body, size_t len)
{
	struct vjob *j = arg;
	enum gw_rev_cause cause = GW_REV_COULDNOT_DOWNLOAD_CRL;
	struct gw_rev_result r;
	X509_CRL *crl;
	time_t now = time(NULL);

	j->http_out = false;
	if (j->v == NULL) { /* the verifier went away: done was called already */
		job_free(j);
		return;
	}
	if (status == 200 &&
	    (crl = gw_crl_parse(body, len, j->target_issuer, now, &j->v->opts, &cause)) != NULL) {
		gw_crl_lookup(crl, j->target, &r);
		r.ocsp_cause = j->res.rev.ocsp_cause;
		crl_keep(j->v, j->url, crl, r.next_update);
		job_conclude(j, &r);
		return;
	}
	job_unknown(j, j->res.rev.ocsp_cause, cause);
}

static void
crl_start(struct vjob *j, enum gw_rev_cause ocsp_cause)
{
	struct gw_verifier *v = j->v;
	struct gw_httpc_request req = { 0 };
	struct crl_ent *e;
	struct gw_rev_result r;

	j->res.rev.ocsp_cause = ocsp_cause;
	if (!v->opts.crl_fallback) {
		job_unknown(j, ocsp_cause, ocsp_cause);
		return;
	}
	if (!gw_cert_crl_url(j->target, j->url, sizeof(j->url))) {
		job_unknown(j, ocsp_cause, GW_REV_INVALID_CRL_DIST_POINTS);
		return;
	}
	if ((e = crl_cached(v, j->url, time(NULL))) != NULL) {
		gw_crl_lookup(e->crl, j->target, &r);
		r.source = GW_REV_SRC_CACHE_CRL;
		r.ocsp_cause = ocsp_cause;
		job_conclude(j, &r);
		return;
	}
	req.method = "GET";
	req.url = j->url;
	req.timeout_ms = v->opts.timeout_ms;
	req.max_response = GW_REV_CRL_MAX;
	if (gw_httpc_start(v->httpc, &req, crl_done, j) != 0) {
		job_unknown(j, ocsp_cause, GW_REV_COULDNOT_DOWNLOAD_CRL);
		return;
	}
	j->http_out = true;
}

/* ---- OCSP ------------------------------------------------------------------------------- */

static void
ocsp_done(void *arg, int status, const unsigned char *body, size_t len)
{
	struct vjob *j = arg;
	struct gw_rev_result r;
	time_t now = time(NULL);

	j->http_out = false;
	if (j->v == NULL) {
		job_free(j);
		return;
	}
	if (status != 200) {
		crl_start(j, GW_REV_OCSP_UNREACHABLE);
		return;
	}
	gw_ocsp_response_check(body, len, j->target, j->target_issuer, j->nonce, sizeof(j->nonce),
	                       now, &j->v->opts, &r);
	if (r.status == GW_REV_UNKNOWN) {
		crl_start(j, r.cause);
		return;
	}
	gw_rev_cache_put(j->v->cache, j->target, j->target_issuer, now, &r);
	job_conclude(j, &r);
}

static void
ocsp_start(struct vjob *j)
{
	struct gw_verifier *v = j->v;
	struct gw_httpc_request req = { 0 };
	uint8_t *der = NULL;
	size_t der_len = 0;
	int rc;

	if (!gw_cert_ocsp_url(j->target, j->url, sizeof(j->url))) {
		crl_start(j, GW_REV_OCSP_UNREACHABLE);
		return;
	}
	if (RAND_bytes(j->nonce, sizeof(j->nonce)) != 1 ||
	    !gw_ocsp_request_der(j->target, j->target_issuer, j->nonce, sizeof(j->nonce), &der,
	                         &der_len)) {
		crl_start(j, GW_REV_OCSP_INVALID);
		return;
	}
	req.method = "POST";
	req.url = j->url;
	req.content_type = "application/ocsp-request";
	req.body = der;
	req.body_len = der_len;
	req.timeout_ms = v->opts.timeout_ms;
	req.max_response = GW_REV_OCSP_MAX;
	rc = gw_httpc_start(v->httpc, &req, ocsp_done, j);
	OPENSSL_free(der); /* gw_httpc_start copied it */
	if (rc != 0) {
		crl_start(j, GW_REV_OCSP_UNREACHABLE);
		return;
	}
	j->http_out = true;
}

/* ---- the checks ---------------------------------------------------------------------------- */

static void
revocation_start(struct vjob *j)
{
	struct gw_rev_result r;

	if (!j->v->opts.check) {
		job_unknown(j, GW_REV_CAUSE_NONE, GW_REV_ONLINE_CHECKING_DISABLED);
		return;
	}
	if (gw_rev_cache_get(j->v->cache, j->target, j->target_issuer, time(NULL), &r)) {
		job_conclude(j, &r);
		return;
	}
	ocsp_start(j);
}

static struct vjob *
job_new(struct gw_verifier *v, X509 *cert, time_t at, gw_vfy_done_fn *done, void *arg)
{
	struct vjob *j = calloc(1, sizeof(*j));

	if (j == NULL || !X509_up_ref(cert)) {
		free(j);
		return NULL;
	}
	j->v = v;
	j->cert = cert;
	j->at = at;
	j->done = done;
	j->arg = arg;
	j->next = v->jobs;
	if (v->jobs != NULL)
		v->jobs->prev = j;
	v->jobs = j;
	return j;
}

/* Certificate path at T, then revocation. */
static void
job_cert_then_revocation(struct vjob *j)
{
	j->cert_reason = gw_vfy_cert_cached(j->v->paths, j->v->trust, j->cert, j->at, &j->issuer,
	                                    &j->ca_issuer, j->res.detail, sizeof(j->res.detail));
	j->target = j->cert;
	j->target_issuer = j->issuer;
	j->res.reason = j->cert_reason;
	if (j->cert_reason != GW_VFY_OK) {
		job_ready(j);
		return;
	}
	revocation_start(j);
}

int
gw_verifier_precheck(struct gw_verifier *v, X509 *cert, time_t now, gw_vfy_done_fn *done, void *arg)
{
	struct vjob *j = job_new(v, cert, now, done, arg);

	if (j == NULL)
		return -1;
	job_cert_then_revocation(j);
	return 0;
}

int
gw_verifier_check(struct gw_verifier *v, X509 *cert, enum gw_vfy_scheme scheme,
                  const uint8_t *digest, size_t digest_len, const uint8_t *sig, size_t sig_len,
                  time_t signed_at, gw_vfy_done_fn *done, void *arg)
{
	struct vjob *j = job_new(v, cert, signed_at, done, arg);
	int md_nid = gw_vfy_md_for_len(digest_len);

	if (j == NULL)
		return -1;
	if (md_nid == NID_undef) {
		j->res.reason = GW_VFY_UNSUPPORTED_HASH;
		job_ready(j);
		return 0;
	}
	/* Step 2 first: a signature that does not verify is 503 whatever the certificate. */
	j->res.reason = gw_vfy_signature(X509_get0_pubkey(cert), scheme, md_nid, digest, digest_len,
	                                 sig, sig_len);
	if (j->res.reason != GW_VFY_OK) {
		snprintf(j->res.detail, sizeof(j->res.detail), "signature: %s",
		         gw_vfy_reason_name(j->res.reason));
		job_ready(j);
		return 0;
	}
	j->res.sig_ok = true;
	job_cert_then_revocation(j);
	return 0;
}

/* ---- the verifier ---------------------------------------------------------------------- */

struct gw_verifier *
gw_verifier_new(struct uv_loop_s *loop, struct gw_httpc *httpc, const struct gw_trust *trust,
                const struct gw_rev_opts *opts)
{
	struct gw_verifier *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->loop = loop;
	v->httpc = httpc;
	v->trust = trust;
	v->opts = *opts;
	v->cache = gw_rev_cache_new(opts->cache_entries);
	v->paths = gw_path_cache_new(opts->cache_entries);
	v->ready_timer = calloc(1, sizeof(*v->ready_timer));
	if (v->cache == NULL || v->paths == NULL || v->ready_timer == NULL ||
	    uv_timer_init(loop, v->ready_timer) != 0) {
		gw_rev_cache_free(v->cache);
		gw_path_cache_free(v->paths);
		free(v->ready_timer);
		free(v);
		return NULL;
	}
	v->ready_timer->data = v;
	return v;
}

static void
timer_free_cb(uv_handle_t *h)
{
	free(h);
}

void
gw_verifier_free(struct gw_verifier *v)
{
	int i;

	if (v == NULL)
		return;
	while (v->jobs != NULL) {
		struct vjob *j = v->jobs;

		j->res.reason = GW_VFY_INTERNAL;
		snprintf(j->res.detail, sizeof(j->res.detail), "cancelled");
		job_finish(j);
	}
	uv_close((uv_handle_t *)v->ready_timer, timer_free_cb);
	for (i = 0; i < CRL_CACHE_MAX; i++)
		X509_CRL_free(v->crls[i].crl);
	gw_rev_cache_free(v->cache);
	gw_path_cache_free(v->paths);
	free(v);
}

enum gw_vfy_reason
gw_verifier_path(struct gw_verifier *v, X509 *cert, time_t at, X509 **issuer)
{
	if (v == NULL)
		return GW_VFY_INTERNAL;
	return gw_vfy_cert_cached(v->paths, v->trust, cert, at, issuer, NULL, NULL, 0);
}

int
gw_verifier_cached(const struct gw_verifier *v)
{
	return gw_rev_cache_count(v->cache);
}
