/* kyso-verify-tool -- runs the gateway's verifier (gw_verify_net.c with gw_httpc) on its own
 * loop against real OCSP responders and CRL servers, and prints each result as one JSON line:
 * the integration tests use it on the stack's test PKI. Test tool, never installed.
 *
 * usage: kyso-verify-tool --anchor ROOT.pem [--intermediate CA.pem] [--no-crl]
 *                         [--timeout-ms N] [--repeat N] CERT.pem
 *                         [--sig SIG.bin --doc DOC --scheme pkcs1|pss|ecdsa [--hash sha256]]
 * Without --sig it runs the pre-dispatch check (D1); with it, the check after signing of a
 * signature over the document's digest. --repeat runs it N times in sequence (the cache).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include <uv.h>

#include "gw_httpc.h"
#include "gw_verify.h"

static const char *const source_names[] = { "none", "ocsp", "crl", "cache-ocsp", "cache-crl" };

struct run {
	struct gw_verifier *v;
	X509 *cert;
	bool check;
	enum gw_vfy_scheme scheme;
	uint8_t digest[64];
	size_t digest_len;
	uint8_t sig[1024];
	size_t sig_len;
	int left;
	int failed;
};

static void start_one(struct run *r);

static void
on_done(void *arg, const struct gw_vfy_result *res)
{
	struct run *r = arg;
	struct gw_vfy_wire w = gw_vfy_wire(res->reason, r->check);

	printf("{\"reason\":\"%s\",\"code\":%d,\"sub\":%d,\"name\":\"%s\",\"warning\":%s,"
	       "\"revocation\":\"%s\",\"checked\":%s,\"source\":\"%s\",\"cause\":\"%s\","
	       "\"ocsp_cause\":\"%s\"}\n",
	       gw_vfy_reason_name(res->reason), w.code, w.sub, w.name, w.warning ? "true" : "false",
	       res->rev_checked ? gw_rev_status_name(res->rev.status) : "unchecked",
	       res->rev_checked ? "true" : "false", source_names[res->rev.source % 5],
	       gw_rev_cause_name(res->rev.cause), gw_rev_cause_name(res->rev.ocsp_cause));
	fflush(stdout);
	if (--r->left > 0)
		start_one(r);
}

static void
start_one(struct run *r)
{
	int rc = r->check ? gw_verifier_check(r->v, r->cert, r->scheme, r->digest, r->digest_len,
	                                      r->sig, r->sig_len, time(NULL), on_done, r)
	                  : gw_verifier_precheck(r->v, r->cert, time(NULL), on_done, r);

	if (rc != 0) {
		fprintf(stderr, "kyso-verify-tool: cannot start a check\n");
		r->failed = 1;
	}
}

static bool
read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return false;
	*len = fread(buf, 1, cap, f);
	fclose(f);
	return *len > 0 && *len < cap;
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return x;
}

static bool
digest_file(const char *path, const char *hash, uint8_t *out, size_t *len)
{
	static uint8_t doc[1 << 20];
	const EVP_MD *md = EVP_get_digestbyname(hash);
	unsigned int n = 0;
	size_t dlen;

	if (md == NULL || !read_file(path, doc, sizeof(doc), &dlen) ||
	    EVP_Digest(doc, dlen, out, &n, md, NULL) != 1)
		return false;
	*len = n;
	return true;
}

int
main(int argc, char **argv)
{
	const char *anchors[8], *inter[8], *cert_path = NULL, *sig_path = NULL, *doc = NULL;
	const char *hash = "sha256", *scheme = "ecdsa";
	size_t na = 0, ni = 0;
	struct gw_rev_opts o = { true, true, 3000, 300, 3600, 100 };
	struct run r = { 0 };
	struct gw_trust *t;
	struct gw_httpc *h;
	char err[256];
	uv_loop_t loop;
	int i, repeat = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--anchor") == 0 && i + 1 < argc && na < 8)
			anchors[na++] = argv[++i];
		else if (strcmp(argv[i], "--intermediate") == 0 && i + 1 < argc && ni < 8)
			inter[ni++] = argv[++i];
		else if (strcmp(argv[i], "--no-crl") == 0)
			o.crl_fallback = false;
		else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
			o.timeout_ms = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
			repeat = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--sig") == 0 && i + 1 < argc)
			sig_path = argv[++i];
		else if (strcmp(argv[i], "--doc") == 0 && i + 1 < argc)
			doc = argv[++i];
		else if (strcmp(argv[i], "--scheme") == 0 && i + 1 < argc)
			scheme = argv[++i];
		else if (strcmp(argv[i], "--hash") == 0 && i + 1 < argc)
			hash = argv[++i];
		else if (argv[i][0] != '-' && cert_path == NULL)
			cert_path = argv[i];
		else {
			fprintf(stderr, "kyso-verify-tool: bad argument %s\n", argv[i]);
			return 2;
		}
	}
	if (cert_path == NULL || (r.cert = read_cert(cert_path)) == NULL || repeat < 1) {
		fprintf(stderr, "kyso-verify-tool: need a readable CERT.pem\n");
		return 2;
	}
	if ((t = gw_trust_new(anchors, na, inter, ni, err, sizeof(err))) == NULL) {
		fprintf(stderr, "kyso-verify-tool: %s\n", err);
		return 2;
	}
	if (sig_path != NULL) {
		r.check = true;
		r.scheme = strcmp(scheme, "pkcs1") == 0 ? GW_SIG_RSA_PKCS1
		           : strcmp(scheme, "pss") == 0 ? GW_SIG_RSA_PSS
		                                        : GW_SIG_ECDSA;
		if (doc == NULL || !digest_file(doc, hash, r.digest, &r.digest_len) ||
		    !read_file(sig_path, r.sig, sizeof(r.sig), &r.sig_len)) {
			fprintf(stderr,
			        "kyso-verify-tool: cannot read the signature or document\n");
			return 2;
		}
	}
	uv_loop_init(&loop);
	h = gw_httpc_new(&loop, 8);
	r.v = gw_verifier_new(&loop, h, t, &o);
	if (h == NULL || r.v == NULL)
		return 1;
	r.left = repeat;
	start_one(&r);
	uv_run(&loop, UV_RUN_DEFAULT);
	gw_verifier_free(r.v);
	gw_httpc_free(h);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	gw_trust_free(t);
	X509_free(r.cert);
	return r.failed;
}
