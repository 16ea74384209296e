/* gw_verify_setup.c -- the gateway's verifier from its configuration: the trust store
 * (trust.anchors, trust.intermediates), an HTTP client for OCSP and CRL fetches and the
 * revocation settings. Started before the listener, so that a bad trust file stops the start
 * instead of failing the first signature. Loop thread only. */
#include <stdio.h>

#include "gw_httpc.h"
#include "gw_int.h"
#include "gw_verify.h"

/* Fetches of revocation evidence running at once; more wait as GW_HTTPC_EBUSY -> unknown. */
#define VERIFY_HTTP_INFLIGHT 64
/* Signer certificates kept parsed (gw_cert_cache.c): a few KiB each, shared by every request
 * of the same credential. */
#define CERT_CACHE_ENTRIES 1024

static void
rev_opts_from(const struct gw_config *cfg, struct gw_rev_opts *o)
{
	o->check = cfg->rev_check;
	o->crl_fallback = cfg->rev_crl;
	o->timeout_ms = (unsigned)cfg->rev_timeout_ms;
	o->skew_s = cfg->rev_skew_s;
	o->max_age_s = cfg->rev_max_age_s;
	o->cache_entries = cfg->rev_cache_entries;
}

int
gw_verify_start(struct gw *gw, char *err, size_t errlen)
{
	const char *anchors[GW_CFG_LIST_MAX], *inter[GW_CFG_LIST_MAX];
	int na = gw_config_list_len(gw->cfg.trust_anchors);
	int ni = gw_config_list_len(gw->cfg.trust_intermediates);
	struct gw_rev_opts o;
	int i;

	if ((gw->certs = gw_cert_cache_new(CERT_CACHE_ENTRIES)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (na == 0) {
		/* PROTOCOL.md section 5: 500 "verification off by config". */
		gw_log(GW_LOG_WARN, "msg=\"trust.anchors is empty: signatures will not be verified "
		                    "(results 500)\"");
		return 0;
	}
	for (i = 0; i < na; i++)
		anchors[i] = gw->cfg.trust_anchors[i];
	for (i = 0; i < ni; i++)
		inter[i] = gw->cfg.trust_intermediates[i];
	if ((gw->trust = gw_trust_new(anchors, (size_t)na, inter, (size_t)ni, err, errlen)) == NULL)
		return -1;
	rev_opts_from(&gw->cfg, &o);
	if ((gw->httpc = gw_httpc_new(gw->loop, VERIFY_HTTP_INFLIGHT)) == NULL ||
	    (gw->verifier = gw_verifier_new(gw->loop, gw->httpc, gw->trust, &o)) == NULL) {
		snprintf(err, errlen, "out of memory");
		gw_verify_stop(gw);
		return -1;
	}
	gw_log(GW_LOG_INFO, "msg=\"verification ready\" anchors=%d intermediates=%d revocation=%s",
	       na, ni, o.check ? (o.crl_fallback ? "ocsp+crl" : "ocsp") : "off");
	return 0;
}

void
gw_verify_stop(struct gw *gw)
{
	/* The verifier first: its jobs end before the client cancels their requests. */
	gw_verifier_free(gw->verifier);
	gw->verifier = NULL;
	if (gw->httpc != NULL)
		gw_httpc_free(gw->httpc);
	gw->httpc = NULL;
	gw_trust_free(gw->trust);
	gw->trust = NULL;
	gw_cert_cache_free(gw->certs);
	gw->certs = NULL;
}
