/* gw_revoke.c -- revocation evidence without I/O (REGULATION.md section 6 step 6): OCSP requests
 * and responses (RFC 6960, nonce RFC 8954), CRLs (RFC 5280), the URLs in a certificate and the
 * cache of OCSP answers. The bytes come from peers: lengths are capped before parsing and every
 * failure maps to a gw_rev_cause. The fuzz target tests/fuzz/verify drives these parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "gw_cache.h"
#include "gw_verify.h"

/* ---- times ------------------------------------------------------------------------------- */

#define asn1_to_time gw_vfy_asn1_time

/* Freshness of an OCSP response or a CRL at now: this/last update not in the future, next
 * update not passed; without a next update, this update no older than max_age_s. */
static bool
fresh(const ASN1_TIME *this_upd, const ASN1_TIME *next_upd, time_t now, const struct gw_rev_opts *o,
      time_t *this_t, time_t *next_t)
{
	*this_t = 0;
	*next_t = 0;
	if (!asn1_to_time(this_upd, this_t) || *this_t > now + o->skew_s)
		return false;
	if (next_upd != NULL) {
		if (!asn1_to_time(next_upd, next_t) || *next_t < *this_t)
			return false;
		return *next_t >= now - o->skew_s;
	}
	return *this_t >= now - o->max_age_s;
}

/* ---- URLs from the certificate ------------------------------------------------------------ */

static bool
url_ok(const char *s, size_t len, size_t cap)
{
	size_t i;

	if (len == 0 || len >= cap || len >= GW_REV_URL_MAX)
		return false;
	if (!(len > 7 && strncmp(s, "http://", 7) == 0) &&
	    !(len > 8 && strncmp(s, "https://", 8) == 0))
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
			return false;
	return true;
}

bool
gw_cert_ocsp_url(X509 *cert, char *url, size_t cap)
{
	STACK_OF(OPENSSL_STRING) *l = X509_get1_ocsp(cert);
	bool found = false;
	int i;

	for (i = 0; l != NULL && i < sk_OPENSSL_STRING_num(l) && !found; i++) {
		const char *s = sk_OPENSSL_STRING_value(l, i);

		if (url_ok(s, strlen(s), cap)) {
			snprintf(url, cap, "%s", s);
			found = true;
		}
	}
	X509_email_free(l); /* frees a STACK_OF(OPENSSL_STRING) */
	ERR_clear_error();
	return found;
}

bool
gw_cert_crl_url(X509 *cert, char *url, size_t cap)
{
	STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	bool found = false;
	int i, j;

	for (i = 0; dps != NULL && i < sk_DIST_POINT_num(dps) && !found; i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(dps, i);

		if (dp->distpoint == NULL || dp->distpoint->type != 0)
			continue;
		for (j = 0; j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname) && !found; j++) {
			GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j);
			const ASN1_IA5STRING *u;

			if (gn->type != GEN_URI)
				continue;
			u = gn->d.uniformResourceIdentifier;
			if (u->length > 0 &&
			    url_ok((const char *)u->data, (size_t)u->length, cap) &&
			    memchr(u->data, '\0', (size_t)u->length) == NULL) {
				memcpy(url, u->data, (size_t)u->length);
				url[u->length] = '\0';
				found = true;
			}
		}
	}
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	ERR_clear_error();
	return found;
}

/* ---- OCSP ------------------------------------------------------------------------------ */

bool
gw_ocsp_request_der(X509 *cert, X509 *issuer, const uint8_t *nonce, size_t nonce_len, uint8_t **der,
                    size_t *der_len)
{
	OCSP_REQUEST *req = NULL;
	OCSP_CERTID *id = NULL;
	unsigned char *out = NULL;
	bool ok = false;
	int n;

	if (nonce_len == 0 || nonce_len > 32)
		return false;
	if ((req = OCSP_REQUEST_new()) == NULL ||
	    (id = OCSP_cert_to_id(EVP_sha1(), cert, issuer)) == NULL)
		goto out;
	if (OCSP_request_add0_id(req, id) == NULL)
		goto out;
	id = NULL;
	if (OCSP_request_add1_nonce(req, (unsigned char *)(uintptr_t)nonce, (int)nonce_len) != 1)
		goto out;
	if ((n = i2d_OCSP_REQUEST(req, &out)) <= 0)
		goto out;
	*der = out;
	*der_len = (size_t)n;
	ok = true;
out:
	OCSP_CERTID_free(id);
	OCSP_REQUEST_free(req);
	ERR_clear_error();
	return ok;
}

/* The responder echoes the request's nonce extension: its value is the DER OCTET STRING of the
 * nonce (OCSP_request_add1_nonce). 1 equal, 0 absent, -1 different. */
static int
nonce_compare(OCSP_BASICRESP *bs, const uint8_t *nonce, size_t nonce_len)
{
	int idx = OCSP_BASICRESP_get_ext_by_NID(bs, NID_id_pkix_OCSP_Nonce, -1);
	const ASN1_OCTET_STRING *v;
	uint8_t want[2 + 32];

	if (idx < 0)
		return 0;
	v = X509_EXTENSION_get_data(OCSP_BASICRESP_get_ext(bs, idx));
	want[0] = 0x04;
	want[1] = (uint8_t)nonce_len;
	memcpy(want + 2, nonce, nonce_len);
	if (v == NULL || (size_t)ASN1_STRING_length(v) != nonce_len + 2 ||
	    CRYPTO_memcmp(ASN1_STRING_get0_data(v), want, nonce_len + 2) != 0)
		return -1;
	return 1;
}

/* RFC 6960 4.2.2.2: signed by the CA itself or by a responder it certified for OCSPSigning.
 * OpenSSL checks both when the issuer is the only trusted certificate (partial chain). */
static bool
ocsp_signature_ok(OCSP_BASICRESP *bs, X509 *issuer, time_t now)
{
	X509_STORE *st = X509_STORE_new();
	STACK_OF(X509) *certs = sk_X509_new_null();
	bool ok = false;

	if (st == NULL || certs == NULL || X509_STORE_add_cert(st, issuer) != 1 ||
	    !sk_X509_push(certs, issuer))
		goto out;
	X509_STORE_set_flags(st, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(st), now);
	ok = OCSP_basic_verify(bs, certs, st, 0) == 1;
out:
	sk_X509_free(certs); /* the issuer stays the caller's */
	X509_STORE_free(st);
	return ok;
}

static void
rev_unknown(struct gw_rev_result *out, enum gw_rev_cause cause)
{
	out->status = GW_REV_UNKNOWN;
	out->cause = cause;
}

void
gw_ocsp_response_check(const uint8_t *der, size_t len, X509 *cert, X509 *issuer,
                       const uint8_t *nonce, size_t nonce_len, time_t now,
                       const struct gw_rev_opts *opts, struct gw_rev_result *out)
{
	const unsigned char *p = der;
	OCSP_RESPONSE *resp = NULL;
	OCSP_BASICRESP *bs = NULL;
	OCSP_CERTID *id = NULL;
	ASN1_GENERALIZEDTIME *rev_t = NULL, *this_upd = NULL, *next_upd = NULL;
	int status = -1, reason = -1, nc;

	memset(out, 0, sizeof(*out));
	out->source = GW_REV_SRC_OCSP;
	out->crl_reason = -1;
	rev_unknown(out, GW_REV_OCSP_INVALID);
	if (der == NULL || len == 0 || len > GW_REV_OCSP_MAX || nonce_len > 32)
		goto out;
	if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	if (OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
	    (bs = OCSP_response_get1_basic(resp)) == NULL)
		goto out;
	if (!ocsp_signature_ok(bs, issuer, now)) {
		rev_unknown(out, GW_REV_OCSP_BAD_SIGNATURE);
		goto out;
	}
	nc = nonce != NULL ? nonce_compare(bs, nonce, nonce_len) : 0;
	if (nc < 0) {
		rev_unknown(out, GW_REV_OCSP_NONCE_MISMATCH);
		goto out;
	}
	if ((id = OCSP_cert_to_id(EVP_sha1(), cert, issuer)) == NULL ||
	    OCSP_resp_find_status(bs, id, &status, &reason, &rev_t, &this_upd, &next_upd) != 1)
		goto out;
	if (!fresh(this_upd, next_upd, now, opts, &out->this_update, &out->next_update)) {
		rev_unknown(out, GW_REV_OCSP_STALE);
		goto out;
	}
	if (!asn1_to_time(OCSP_resp_get0_produced_at(bs), &out->produced_at))
		out->produced_at = 0;
	/* A responder that ignores the nonce (RFC 8954 allows it) must at least be recent. */
	if (nonce != NULL && nc == 0 && out->this_update < now - opts->max_age_s) {
		rev_unknown(out, GW_REV_OCSP_STALE);
		goto out;
	}
	switch (status) {
	case V_OCSP_CERTSTATUS_GOOD:
		out->status = GW_REV_GOOD;
		out->cause = GW_REV_CAUSE_NONE;
		break;
	case V_OCSP_CERTSTATUS_REVOKED:
		out->status = GW_REV_REVOKED;
		out->cause = GW_REV_CAUSE_NONE;
		out->crl_reason = reason;
		if (!asn1_to_time(rev_t, &out->revoked_at))
			out->revoked_at = 0;
		break;
	default:
		rev_unknown(out, GW_REV_OCSP_RESP_UNKNOWN);
		break;
	}
out:
	out->ocsp_cause = out->cause;
	OCSP_CERTID_free(id);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	ERR_clear_error();
}

/* ---- CRL --------------------------------------------------------------------------------- */

X509_CRL *
gw_crl_parse(const uint8_t *data, size_t len, X509 *issuer, time_t now,
             const struct gw_rev_opts *opts, enum gw_rev_cause *cause)
{
	X509_CRL *crl = NULL;
	const unsigned char *p = data;
	time_t t1, t2;

	*cause = GW_REV_INVALID_CRL;
	if (data == NULL || len == 0 || len > GW_REV_CRL_MAX)
		goto fail;
	if (len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
		BIO *b = BIO_new_mem_buf(data, (int)len);

		crl = b != NULL ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	} else {
		crl = d2i_X509_CRL(NULL, &p, (long)len);
		if (crl != NULL && p != data + len)
			goto fail;
	}
	if (crl == NULL)
		goto fail;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 ||
	    X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1)
		goto fail;
	if (!fresh(X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_nextUpdate(crl), now, opts, &t1,
	           &t2))
		goto fail;
	ERR_clear_error();
	*cause = GW_REV_CAUSE_NONE;
	return crl;
fail:
	X509_CRL_free(crl);
	ERR_clear_error();
	return NULL;
}

void
gw_crl_lookup(X509_CRL *crl, X509 *cert, struct gw_rev_result *out)
{
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *r;
	time_t t;

	memset(out, 0, sizeof(*out));
	out->source = GW_REV_SRC_CRL;
	out->crl_reason = -1;
	if (asn1_to_time(X509_CRL_get0_lastUpdate(crl), &t))
		out->this_update = out->produced_at = t;
	if (asn1_to_time(X509_CRL_get0_nextUpdate(crl), &t))
		out->next_update = t;
	/* 2 is an entry with reason removeFromCRL: not revoked (RFC 5280 5.3.1). */
	if (X509_CRL_get0_by_cert(crl, &rev, cert) != 1) {
		out->status = GW_REV_GOOD;
		ERR_clear_error();
		return;
	}
	out->status = GW_REV_REVOKED;
	if (asn1_to_time(X509_REVOKED_get0_revocationDate(rev), &t))
		out->revoked_at = t;
	if ((r = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL)) != NULL) {
		out->crl_reason = (int)ASN1_ENUMERATED_get(r);
		ASN1_ENUMERATED_free(r);
	}
	ERR_clear_error();
}

/* ---- cache of OCSP answers (PERFORMANCE.md G12: a lookup costs a hash, not a fetch) -------- */

/* gw_rev_cache is a gw_cache under another name (gw_verify.h keeps the type of its callers).
 * Values are struct gw_rev_result; the key is the issuer key's SHA-1, the serial's sign and
 * length, then its bytes. */
struct gw_rev_cache *
gw_rev_cache_new(int entries)
{
	return (struct gw_rev_cache *)gw_cache_new(entries, sizeof(struct gw_rev_result),
	                                           GW_CACHE_KEYS_BYTES, NULL);
}

void
gw_rev_cache_free(struct gw_rev_cache *c)
{
	gw_cache_free((struct gw_cache *)c);
}

int
gw_rev_cache_count(const struct gw_rev_cache *c)
{
	return gw_cache_count((const struct gw_cache *)c);
}

static bool
cache_key(X509 *cert, X509 *issuer, uint8_t *key, size_t *len)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(cert);
	unsigned int n = 0;
	int sl = ASN1_STRING_length(serial);

	if (X509_pubkey_digest(issuer, EVP_sha1(), key, &n) != 1 || n != 20 || sl <= 0 || sl > 64)
		return false;
	key[20] = (uint8_t)(serial->type == V_ASN1_NEG_INTEGER);
	key[21] = (uint8_t)sl;
	memcpy(key + 22, ASN1_STRING_get0_data(serial), (size_t)sl);
	*len = 22 + (size_t)sl;
	return true;
}

bool
gw_rev_cache_get(struct gw_rev_cache *rc, X509 *cert, X509 *issuer, time_t now,
                 struct gw_rev_result *out)
{
	struct gw_cache *c = (struct gw_cache *)rc;
	uint8_t key[GW_CACHE_KEY_MAX];
	struct gw_rev_result *r;
	size_t len;

	if (c == NULL || !cache_key(cert, issuer, key, &len))
		return false;
	if ((r = gw_cache_find(c, key, len)) == NULL)
		return false;
	if (r->next_update < now) {
		gw_cache_drop(c, r);
		return false;
	}
	*out = *r;
	out->source = r->source == GW_REV_SRC_CRL ? GW_REV_SRC_CACHE_CRL : GW_REV_SRC_CACHE_OCSP;
	return true;
}

struct room {
	time_t now;
	struct gw_rev_result *victim; /* the live answer that expires first */
};

static bool
expired_or_victim(void *value, void *arg)
{
	struct gw_rev_result *r = value;
	struct room *m = arg;

	if (r->next_update < m->now)
		return true;
	if (m->victim == NULL || r->next_update < m->victim->next_update)
		m->victim = r;
	return false;
}

/* Full: drop what expired, else the entry that expires first. Rare, so a scan is fine. */
static void
cache_make_room(struct gw_cache *c, time_t now)
{
	struct room m = { .now = now };

	gw_cache_sweep(c, expired_or_victim, &m);
	if (gw_cache_full(c) && m.victim != NULL)
		gw_cache_drop(c, m.victim);
}

void
gw_rev_cache_put(struct gw_rev_cache *rc, X509 *cert, X509 *issuer, time_t now,
                 const struct gw_rev_result *r)
{
	struct gw_cache *c = (struct gw_cache *)rc;
	uint8_t key[GW_CACHE_KEY_MAX];
	struct gw_rev_result *v;
	size_t len;

	/* Only answers that say until when they hold (RFC 5019 2.2.4: nextUpdate). */
	if (c == NULL || r->status == GW_REV_UNKNOWN || r->next_update <= now ||
	    !cache_key(cert, issuer, key, &len))
		return;
	if ((v = gw_cache_find(c, key, len)) == NULL) {
		if (gw_cache_full(c))
			cache_make_room(c, now);
		if ((v = gw_cache_add(c, key, len)) == NULL)
			return;
	}
	*v = *r;
}
