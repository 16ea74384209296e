/* gw_verify_net.c on a real loop with a real HTTP client (gw_httpc) against a scripted OCSP
 * responder and CRL server on loopback, run by the test itself: the order cache -> OCSP ->
 * CRL, the nonce, the cache, asynchronous delivery, cancellation, the codes after signing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include <openssl/ocsp.h>

#include "gw_httpc.h"
#include "gw_verify.h"
#include "pki_fixture.h"

#define DAY (24 * 3600)

enum ocsp_mode {
	OCSP_ECHO,
	OCSP_WRONG_NONCE,
	OCSP_HTTP_500,
	OCSP_SILENT
};

static uv_loop_t loop;
static uv_tcp_t server;
static int port;
static enum ocsp_mode ocsp_mode;
static bool crl_served;
static int ocsp_hits, crl_hits;

static time_t now;
static EVP_PKEY *root_k, *ca_k, *resp_k, *ec_k;
static X509 *root, *ca, *resp, *leaf, *revoked, *stranger, *other_root;
static struct gw_trust *trust;
/* A second hierarchy whose issuing CA names the responder too: root2 -> ca2 -> leaf2. */
static EVP_PKEY *root2_k, *ca2_k;
static X509 *root2, *ca2, *leaf2;
static struct gw_trust *trust2;
static int ca2_status = V_OCSP_CERTSTATUS_GOOD;
static struct gw_httpc *httpc;

/* ---- the scripted server ------------------------------------------------------------------- */

struct conn {
	uv_tcp_t tcp;
	char buf[16384];
	size_t len;
	bool answered;
};

static void
conn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
write_done(uv_write_t *w, int status)
{
	(void)status;
	free(w);
}

static void
send_bytes(struct conn *c, const void *p, size_t n)
{
	uv_write_t *w = malloc(sizeof(*w) + n);
	uv_buf_t b;

	assert_non_null(w);
	memcpy(w + 1, p, n);
	b = uv_buf_init((char *)(w + 1), (unsigned)n);
	uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_done);
}

static void
send_answer(struct conn *c, int status, const char *type, const uint8_t *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", status,
	                 type, len);

	send_bytes(c, head, (size_t)n);
	if (len > 0)
		send_bytes(c, body, len);
}

/* Who answers for which certificate: (certificate, issuer) -> signer and status. */
static void
pick_answer(OCSP_CERTID *id, X509 **signer, EVP_PKEY **skey, int *status)
{
	struct {
		X509 *cert, *issuer, *signer;
		EVP_PKEY *skey;
		int status;
	} rows[] = {
		{ leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD },
		{ revoked, ca, resp, resp_k, V_OCSP_CERTSTATUS_REVOKED },
		{ leaf2, ca2, ca2, ca2_k, V_OCSP_CERTSTATUS_GOOD },
		{ ca2, root2, root2, root2_k, ca2_status },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		OCSP_CERTID *rid = OCSP_cert_to_id(EVP_sha1(), rows[i].cert, rows[i].issuer);
		int same = OCSP_id_cmp(id, rid) == 0;

		OCSP_CERTID_free(rid);
		if (same) {
			*signer = rows[i].signer;
			*skey = rows[i].skey;
			*status = rows[i].status;
			return;
		}
	}
	fail_msg("OCSP request about a certificate the test does not know");
}

/* Answers the OCSP request in body, echoing its nonce. */
static void
answer_ocsp(struct conn *c, const uint8_t *body, size_t blen)
{
	const unsigned char *p = body;
	OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)blen);
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	ASN1_TIME *tu = ASN1_GENERALIZEDTIME_set(NULL, now - 10);
	ASN1_TIME *nu = ASN1_GENERALIZEDTIME_set(NULL, now + 600);
	OCSP_CERTID *id;
	OCSP_RESPONSE *r;
	STACK_OF(X509) *certs = sk_X509_new_null();
	unsigned char *der = NULL;
	X509 *signer = NULL;
	EVP_PKEY *skey = NULL;
	int n, status = -1;

	assert_non_null(req);
	id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0));
	pick_answer(id, &signer, &skey, &status);
	assert_non_null(
	        OCSP_basic_add1_status(bs, id, status, status == V_OCSP_CERTSTATUS_REVOKED ? 1 : 0,
	                               status == V_OCSP_CERTSTATUS_REVOKED ? tu : NULL, tu, nu));
	if (ocsp_mode == OCSP_ECHO)
		assert_int_equal(OCSP_copy_nonce(bs, req), 1);
	else
		assert_int_equal(OCSP_basic_add1_nonce(bs, (unsigned char *)"0123456789abcdef", 16),
		                 1);
	sk_X509_push(certs, signer);
	assert_int_equal(OCSP_basic_sign(bs, signer, skey, EVP_sha256(), certs, 0), 1);
	r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
	n = i2d_OCSP_RESPONSE(r, &der);
	send_answer(c, 200, "application/ocsp-response", der, (size_t)n);
	OPENSSL_free(der);
	OCSP_RESPONSE_free(r);
	OCSP_BASICRESP_free(bs);
	OCSP_REQUEST_free(req);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	sk_X509_free(certs);
}

static void
answer(struct conn *c, const uint8_t *body, size_t blen)
{
	if (strncmp(c->buf, "POST /ocsp ", 11) == 0) {
		ocsp_hits++;
		if (ocsp_mode == OCSP_SILENT)
			return;
		if (ocsp_mode == OCSP_HTTP_500) {
			send_answer(c, 500, "text/plain", (const uint8_t *)"no", 2);
			return;
		}
		answer_ocsp(c, body, blen);
	} else if (strncmp(c->buf, "GET /crl ", 9) == 0) {
		size_t len;
		uint8_t *der;

		crl_hits++;
		if (!crl_served) {
			send_answer(c, 404, "text/plain", NULL, 0);
			return;
		}
		der = fx_crl(ca, ca_k, revoked, now - 60, now + DAY, &len);
		send_answer(c, 200, "application/pkix-crl", der, len);
		OPENSSL_free(der);
	} else {
		send_answer(c, 400, "text/plain", NULL, 0);
	}
}

static void
conn_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
	struct conn *c = h->data;

	(void)sz;
	*b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof(c->buf) - 1 - c->len));
}

static void
conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = s->data;
	char *end, *cl;
	size_t want = 0, have;

	(void)b;
	if (n < 0) {
		if (!uv_is_closing((uv_handle_t *)s))
			uv_close((uv_handle_t *)s, conn_closed);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if ((end = strstr(c->buf, "\r\n\r\n")) == NULL || c->answered)
		return;
	if ((cl = strstr(c->buf, "Content-Length: ")) != NULL)
		want = strtoul(cl + 16, NULL, 10);
	have = c->len - (size_t)(end + 4 - c->buf);
	if (have < want)
		return;
	c->answered = true;
	answer(c, (const uint8_t *)end + 4, have);
}

static void
on_conn(uv_stream_t *srv, int status)
{
	struct conn *c = calloc(1, sizeof(*c));

	assert_int_equal(status, 0);
	assert_non_null(c);
	uv_tcp_init(&loop, &c->tcp);
	c->tcp.data = c;
	assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
	uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
}

/* ---- setup ------------------------------------------------------------------------------ */

static int
setup(void **state)
{
	struct sockaddr_in a;
	struct sockaddr_storage got;
	int len = sizeof(got);
	char ocsp_url[64], crl_url[64];

	(void)state;
	now = time(NULL);
	uv_loop_init(&loop);
	uv_tcp_init(&loop, &server);
	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&a, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&server, 16, on_conn), 0);
	uv_tcp_getsockname(&server, (struct sockaddr *)&got, &len);
	port = ntohs(((struct sockaddr_in *)&got)->sin_port);
	snprintf(ocsp_url, sizeof(ocsp_url), "http://127.0.0.1:%d/ocsp", port);
	snprintf(crl_url, sizeof(crl_url), "http://127.0.0.1:%d/crl", port);
	root_k = fx_key("ec");
	ca_k = fx_key("ec");
	resp_k = fx_key("ec");
	ec_k = fx_key("ec");
	root = fx_cert(NULL, root_k, root_k, "root", now - DAY, now + 30 * DAY, FX_CA, NULL, NULL);
	ca = fx_cert(root, root_k, ca_k, "issuing", now - DAY, now + 30 * DAY, FX_CA, NULL, NULL);
	resp = fx_cert(ca, ca_k, resp_k, "ocsp", now - DAY, now + 30 * DAY, FX_OCSP_SIGN, NULL,
	               NULL);
	leaf = fx_cert(ca, ca_k, ec_k, "leaf", now - DAY, now + 30 * DAY, 0, ocsp_url, crl_url);
	revoked =
	        fx_cert(ca, ca_k, ec_k, "revoked", now - DAY, now + 30 * DAY, 0, ocsp_url, crl_url);
	other_root =
	        fx_cert(NULL, resp_k, resp_k, "other", now - DAY, now + DAY, FX_CA, NULL, NULL);
	stranger = fx_cert(other_root, resp_k, ec_k, "stranger", now - DAY, now + DAY, 0, ocsp_url,
	                   crl_url);
	trust = gw_trust_new_certs(&root, 1, &ca, 1);
	root2_k = fx_key("ec");
	ca2_k = fx_key("ec");
	root2 = fx_cert(NULL, root2_k, root2_k, "root 2", now - DAY, now + 30 * DAY, FX_CA, NULL,
	                NULL);
	ca2 = fx_cert(root2, root2_k, ca2_k, "issuing 2", now - DAY, now + 30 * DAY, FX_CA,
	              ocsp_url, crl_url);
	leaf2 = fx_cert(ca2, ca2_k, ec_k, "leaf 2", now - DAY, now + 30 * DAY, 0, ocsp_url,
	                crl_url);
	trust2 = gw_trust_new_certs(&root2, 1, &ca2, 1);
	httpc = gw_httpc_new(&loop, 8);
	return trust != NULL && trust2 != NULL && httpc != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	gw_httpc_free(httpc);
	uv_close((uv_handle_t *)&server, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	gw_trust_free(trust);
	gw_trust_free(trust2);
	X509_free(root2);
	X509_free(ca2);
	X509_free(leaf2);
	EVP_PKEY_free(root2_k);
	EVP_PKEY_free(ca2_k);
	X509_free(root);
	X509_free(ca);
	X509_free(resp);
	X509_free(leaf);
	X509_free(revoked);
	X509_free(stranger);
	X509_free(other_root);
	EVP_PKEY_free(root_k);
	EVP_PKEY_free(ca_k);
	EVP_PKEY_free(resp_k);
	EVP_PKEY_free(ec_k);
	return 0;
}

/* ---- helpers ---------------------------------------------------------------------------- */

struct got {
	int calls;
	struct gw_vfy_result res;
	X509 *chain0; /* the first CA certificate the result named (borrowed during done only) */
};

static void
on_done(void *arg, const struct gw_vfy_result *res)
{
	struct got *g = arg;

	g->calls++;
	g->res = *res;
	g->chain0 = res->chain_len > 0 ? res->chain[0] : NULL;
	uv_stop(&loop);
}

static struct gw_verifier *
verifier_on(const struct gw_trust *t, bool check, bool crl)
{
	struct gw_rev_opts o = { check, crl, 2000, 300, 3600, 100 };
	struct gw_verifier *v = gw_verifier_new(&loop, httpc, t, &o);

	assert_non_null(v);
	return v;
}

static struct gw_verifier *
verifier(bool check, bool crl)
{
	struct gw_rev_opts o = { check, crl, 2000, 300, 3600, 100 };
	struct gw_verifier *v = gw_verifier_new(&loop, httpc, trust, &o);

	assert_non_null(v);
	return v;
}

/* Starts a precheck, asserts done did not run inside the call, runs the loop until it ran. */
static struct gw_vfy_result
precheck(struct gw_verifier *v, X509 *cert)
{
	struct got g = { 0 };

	assert_int_equal(gw_verifier_precheck(v, cert, now, on_done, &g), 0);
	assert_int_equal(g.calls, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(g.calls, 1);
	/* The chain names the issuing CA the path went through, never the anchor. */
	if (g.res.chain_len > 0)
		assert_int_equal(X509_cmp(g.chain0, cert == leaf2 ? ca2 : ca), 0);
	return g.res;
}

static void
free_verifier(struct gw_verifier *v)
{
	gw_verifier_free(v);
	uv_run(&loop, UV_RUN_NOWAIT);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void
test_ocsp_good_then_cached(void **state)
{
	struct gw_verifier *v = verifier(true, true);
	struct gw_vfy_result r;
	int hits;

	(void)state;
	ocsp_mode = OCSP_ECHO;
	hits = ocsp_hits;
	r = precheck(v, leaf);
	assert_int_equal(r.reason, GW_VFY_OK);
	assert_int_equal(r.rev.status, GW_REV_GOOD);
	assert_int_equal(r.rev.source, GW_REV_SRC_OCSP);
	assert_int_equal(ocsp_hits, hits + 1);
	/* PROTOCOL.md 4.2: the result names the path's CA (root left out) and producedAt. */
	assert_int_equal(r.chain_len, 1);
	assert_true(r.rev.produced_at > 0 && r.rev.produced_at <= time(NULL) + 1);
	assert_int_equal(gw_verifier_cached(v), 1);
	/* The second check is answered from the cache, still asynchronously. */
	r = precheck(v, leaf);
	assert_int_equal(r.rev.source, GW_REV_SRC_CACHE_OCSP);
	assert_int_equal(ocsp_hits, hits + 1);
	free_verifier(v);
}

static void
test_ocsp_revoked(void **state)
{
	struct gw_verifier *v = verifier(true, true);
	struct gw_vfy_result r;

	(void)state;
	ocsp_mode = OCSP_ECHO;
	r = precheck(v, revoked);
	assert_int_equal(r.reason, GW_VFY_CERT_IS_REVOKED);
	assert_int_equal(gw_vfy_wire(r.reason, false).code, 501);
	free_verifier(v);
}

static void
test_nonce_mismatch_falls_back_to_crl(void **state)
{
	struct gw_verifier *v = verifier(true, true);
	struct gw_vfy_result r;
	int crl_before = crl_hits;

	(void)state;
	ocsp_mode = OCSP_WRONG_NONCE;
	crl_served = true;
	r = precheck(v, leaf);
	assert_int_equal(r.rev.status, GW_REV_GOOD);
	assert_int_equal(r.rev.source, GW_REV_SRC_CRL);
	assert_int_equal(r.rev.ocsp_cause, GW_REV_OCSP_NONCE_MISMATCH);
	assert_int_equal(r.rev.produced_at, r.rev.this_update); /* a CRL's thisUpdate */
	r = precheck(v, revoked);
	assert_int_equal(r.reason, GW_VFY_CERT_IS_REVOKED);
	assert_int_equal(r.rev.source, GW_REV_SRC_CACHE_CRL); /* the CRL was fetched once */
	assert_int_equal(crl_hits, crl_before + 1);
	crl_served = false;
	free_verifier(v);
}

static void
test_nothing_usable_is_unknown_never_valid(void **state)
{
	struct gw_verifier *v = verifier(true, true);
	struct gw_vfy_result r;
	struct gw_vfy_wire w;

	(void)state;
	ocsp_mode = OCSP_HTTP_500;
	crl_served = false;
	r = precheck(v, leaf);
	assert_int_equal(r.reason, GW_VFY_STATUS_UNKNOWN);
	assert_int_equal(r.rev.status, GW_REV_UNKNOWN);
	assert_int_equal(r.rev.ocsp_cause, GW_REV_OCSP_UNREACHABLE);
	assert_int_equal(r.rev.cause, GW_REV_COULDNOT_DOWNLOAD_CRL);
	w = gw_vfy_wire(r.reason, true);
	assert_int_equal(w.code, 500);
	assert_true(w.warning);
	assert_int_equal(gw_verifier_cached(v), 0);
	free_verifier(v);
	/* Without the CRL fallback the OCSP cause is the cause. */
	v = verifier(true, false);
	r = precheck(v, leaf);
	assert_int_equal(r.rev.cause, GW_REV_OCSP_UNREACHABLE);
	free_verifier(v);
	/* Checking off. */
	v = verifier(false, true);
	r = precheck(v, leaf);
	assert_int_equal(r.reason, GW_VFY_STATUS_UNKNOWN);
	assert_int_equal(r.rev.cause, GW_REV_ONLINE_CHECKING_DISABLED);
	free_verifier(v);
}

static void
test_untrusted_needs_no_network(void **state)
{
	struct gw_verifier *v = verifier(true, true);
	struct gw_vfy_result r;
	int hits = ocsp_hits;

	(void)state;
	r = precheck(v, stranger);
	assert_int_equal(r.reason, GW_VFY_UNTRUSTED_ROOT);
	assert_false(r.rev_checked);
	assert_int_equal(ocsp_hits, hits);
	free_verifier(v);
}

static void
test_check_after_signing(void **state)
{
	struct gw_verifier *v = verifier(true, true);
	uint8_t d[32] = { 1, 2, 3 }, sig[128];
	size_t slen = fx_sign(ec_k, "ecdsa-raw", EVP_sha256(), d, sizeof(d), sig, sizeof(sig));
	struct got g = { 0 };
	int hits = ocsp_hits;

	(void)state;
	ocsp_mode = OCSP_ECHO;
	assert_int_equal(
	        gw_verifier_check(v, leaf, GW_SIG_ECDSA, d, sizeof(d), sig, slen, now, on_done, &g),
	        0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(g.calls, 1);
	assert_int_equal(gw_vfy_wire(g.res.reason, true).code, 502);
	assert_true(g.res.sig_ok);
	/* A bad signature is 503 without asking anyone. */
	sig[10] ^= 1;
	hits = ocsp_hits;
	memset(&g, 0, sizeof(g));
	assert_int_equal(
	        gw_verifier_check(v, leaf, GW_SIG_ECDSA, d, sizeof(d), sig, slen, now, on_done, &g),
	        0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(gw_vfy_wire(g.res.reason, true).code, 503);
	assert_false(g.res.sig_ok);
	assert_int_equal(ocsp_hits, hits);
	free_verifier(v);
}

/* REGULATION.md section 6 step 6: the issuing CA's status too, when it names a source. */
static void
test_issuing_ca_status(void **state)
{
	struct gw_verifier *v = verifier_on(trust2, true, true);
	struct gw_vfy_result r;
	int hits = ocsp_hits;

	(void)state;
	ocsp_mode = OCSP_ECHO;
	crl_served = false;
	ca2_status = V_OCSP_CERTSTATUS_GOOD;
	r = precheck(v, leaf2);
	assert_int_equal(r.reason, GW_VFY_OK);
	assert_int_equal(r.rev.status, GW_REV_GOOD);
	assert_int_equal(ocsp_hits, hits + 2); /* the end-entity, then its CA */
	assert_int_equal(r.chain_len, 1);      /* ca2; root2 is the anchor */
	free_verifier(v);

	v = verifier_on(trust2, true, true);
	ca2_status = V_OCSP_CERTSTATUS_REVOKED;
	r = precheck(v, leaf2);
	assert_int_equal(r.reason, GW_VFY_CA_CERT_IS_REVOKED);
	assert_int_equal(gw_vfy_wire(r.reason, false).code, 501);
	free_verifier(v);

	/* The CA's status unobtainable: unknown, never valid. */
	v = verifier_on(trust2, true, true);
	ca2_status = V_OCSP_CERTSTATUS_UNKNOWN;
	r = precheck(v, leaf2);
	assert_int_equal(r.reason, GW_VFY_STATUS_UNKNOWN);
	assert_int_equal(r.rev.ocsp_cause, GW_REV_OCSP_RESP_UNKNOWN);
	assert_int_equal(r.rev.cause, GW_REV_COULDNOT_DOWNLOAD_CRL);
	assert_int_equal(gw_vfy_wire(r.reason, true).code, 500);
	ca2_status = V_OCSP_CERTSTATUS_GOOD;
	free_verifier(v);

	/* An issuing CA that names no source (the first hierarchy) is not asked about. */
	v = verifier(true, true);
	hits = ocsp_hits;
	r = precheck(v, leaf);
	assert_int_equal(r.reason, GW_VFY_OK);
	assert_int_equal(ocsp_hits, hits + 1);
	free_verifier(v);
}

static void
test_free_cancels_pending(void **state)
{
	struct gw_verifier *v = verifier(true, true);
	struct got g = { 0 };
	int hits = ocsp_hits;

	(void)state;
	ocsp_mode = OCSP_SILENT;
	assert_int_equal(gw_verifier_precheck(v, leaf, now, on_done, &g), 0);
	/* Let the request reach the server, which never answers. */
	while (ocsp_hits == hits)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(g.calls, 0);
	gw_verifier_free(v);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.res.reason, GW_VFY_INTERNAL);
	/* The request ends later (timeout, or the client is freed at teardown); the detached job
	 * is freed then and done is not called again. */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(g.calls, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ocsp_good_then_cached),
		cmocka_unit_test(test_ocsp_revoked),
		cmocka_unit_test(test_nonce_mismatch_falls_back_to_crl),
		cmocka_unit_test(test_nothing_usable_is_unknown_never_valid),
		cmocka_unit_test(test_untrusted_needs_no_network),
		cmocka_unit_test(test_check_after_signing),
		cmocka_unit_test(test_issuing_ca_status),
		cmocka_unit_test(test_free_cancels_pending),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
