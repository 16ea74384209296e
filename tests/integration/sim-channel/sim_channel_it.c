/* The gateway's SIM channel against the real kyso-carrier-sim and PostgreSQL (TELECOM.md 5.3):
 * the channel's SMPP link, OTA counter write-ahead and answer handling sign, or fail with the
 * expected code, for profile 00, 02, 06, 09, 12, 13 and 16 numbers. The transaction engine is
 * stood in for by this program: it calls start() and records the events; signatures are
 * checked against the certificates of the provisioning file. Run by run-sim-channel.sh with the
 * stack's stack.env in the environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "gw_channel.h"
#include "gw_int.h"

#define TIMEOUT_MS 60000u

struct expect {
	const char *profile;
	int status, sub; /* 0: SIGNED */
	bool blocked;
	bool want_resent;
	bool want_delivered;
	bool bad_sig; /* profile 26: signed, but the signature does not verify (the engine: 503) */
};

/* TELECOM.md 5.3. Profiles 05, 17 and 19 end at the engine's deadline and 25 at its
 * certificate check: they are the engine's tests. */
static const struct expect cases[] = {
	{ "00", 0, 0, false, false, true, false },
	{ "02", 401, 4011, false, false, false, false },
	{ "03", 401, 4011, false, false, false, false },
	{ "04", 208, 2082, false, false, false, false },
	{ "06", 402, 4021, true, false, false, false },
	{ "07", 402, 4021, true, false, false, false },
	{ "08", 403, 4031, false, false, false, false },
	{ "09", 209, 2093, false, false, false, false },
	{ "10", 0, 0, false, false, false, false },
	{ "11", 209, 2093, false, false, false, false },
	{ "12", 900, 9004, false, false, false, false },
	{ "13", 0, 0, false, true, false, false },
	{ "14", 900, 9004, false, false, false, false },
	{ "15", 105, 1054, false, false, false, false },
	{ "16", 0, 0, false, false, false, false },
	{ "18", 0, 0, false, false, false, false },
	{ "20", 209, 2093, false, false, false, false },
	{ "21", 209, 2093, false, false, false, false },
	{ "22", 0, 0, false, false, false, false },
	{ "23", 0, 0, false, false, false, false }, /* a GSM-7 text: signed */
	{ "24", 404, 4041, false, false, false, false },
	{ "26", 0, 0, false, false, false, true },
	{ "27", 0, 0, false, false, false, false },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct run {
	char msisdn[16];
	int64_t ref;
	uint8_t digest[32];
	X509 *cert;
	bool done, dispatched, delivered, resent, awaiting;
	int status, sub;
	bool blocked;
	uint8_t sig[600];
	size_t sig_len;
	bool signed_;
};

static struct run runs[NCASES];
static struct gw gw;
static uv_timer_t poll_timer;
static uint64_t started_ms;

static struct run *
run_by_ref(int64_t ref)
{
	for (size_t i = 0; i < NCASES; i++)
		if (runs[i].ref == ref)
			return &runs[i];
	return NULL;
}

static void
on_event(void *engine, const struct gw_chan_event *ev)
{
	struct run *r = run_by_ref(ev->ref);

	(void)engine;
	if (r == NULL)
		return;
	switch (ev->kind) {
	case GW_CHAN_DISPATCHED:
		r->dispatched = true;
		break;
	case GW_CHAN_DELIVERED:
		r->delivered = true;
		break;
	case GW_CHAN_RESENT:
		r->resent = true;
		break;
	case GW_CHAN_AWAITING_USER:
		r->awaiting = true;
		break;
	case GW_CHAN_SIGNED:
		r->done = r->signed_ = true;
		if (ev->sig_len <= sizeof(r->sig)) {
			memcpy(r->sig, ev->sig, ev->sig_len);
			r->sig_len = ev->sig_len;
		}
		break;
	case GW_CHAN_FAILED:
		r->done = true;
		r->status = ev->status;
		r->sub = ev->sub;
		r->blocked = ev->device_blocked;
		break;
	case GW_CHAN_BUSY: /* one node only: no card is ever on another node's request */
		r->done = true;
		r->status = -1;
		break;
	case GW_CHAN_LATE:
	case GW_CHAN_PARTIAL:
		break;
	}
}

/* Certificates of the provisioning file (KYSO_PROVISION_FILE, one JSON object a line). */
static int
load_certs(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[16384];

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		json_t *o = json_loads(line, 0, NULL);
		const char *m = o ? json_string_value(json_object_get(o, "msisdn")) : NULL;
		const char *b64 = o ? json_string_value(json_object_get(o, "cert")) : NULL;

		for (size_t i = 0; m != NULL && b64 != NULL && i < NCASES; i++) {
			uint8_t der[8192];
			const unsigned char *p = der;
			int n;

			if (strcmp(runs[i].msisdn, m) != 0)
				continue;
			n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)strlen(b64));
			if (n > 0) {
				/* EVP_DecodeBlock counts the padding octets; d2i stops at the end
				 */
				runs[i].cert = d2i_X509(NULL, &p, n);
			}
		}
		json_decref(o);
	}
	fclose(f);
	return 0;
}

static bool
sig_verifies(const struct run *r)
{
	EVP_PKEY *pk = r->cert ? X509_get0_pubkey(r->cert) : NULL;
	EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
	bool ok = false;

	if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1)
		ok = EVP_PKEY_verify(ctx, r->sig, r->sig_len, r->digest, sizeof(r->digest)) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static bool
all_done(void)
{
	for (size_t i = 0; i < NCASES; i++)
		if (!runs[i].done)
			return false;
	return true;
}

static void
on_poll(uv_timer_t *t)
{
	(void)t;
	if (all_done() || gw_mono_ms() - started_ms > TIMEOUT_MS) {
		uv_timer_stop(&poll_timer);
		uv_close((uv_handle_t *)&poll_timer, NULL);
		gw_smsc_stop(&gw);
		gw_db_stop(&gw);
	}
}

static bool
bound(void)
{
	return gw.metrics.smsc_binds_up > 0 && db_ready(gw.db);
}

static void
start_all(uv_timer_t *t)
{
	struct gw_channel *ch = gw_smsc_channel(&gw);

	if (!bound()) {
		if (gw_mono_ms() - started_ms > 20000) {
			fprintf(stderr, "FAIL: no SMPP bind or no database within 20 s\n");
			uv_timer_stop(t);
			uv_close((uv_handle_t *)t, NULL);
			started_ms = 0; /* on_poll ends the run at once */
			uv_timer_start(&poll_timer, on_poll, 0, 50);
		}
		return;
	}
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, NULL);
	ch->on_event = on_event;
	ch->engine = NULL;
	started_ms = gw_mono_ms();
	for (size_t i = 0; i < NCASES; i++) {
		struct run *r = &runs[i];
		char display[64];
		struct gw_chan_request req = {
			.txn_id = "it",
			.ref = r->ref,
			.msisdn = r->msisdn,
			.hash_alg = "sha256",
			.to_sign = r->digest,
			.to_sign_len = sizeof(r->digest),
			.display = display,
			.verification_code = "1234",
			.deadline_ms = gw_mono_ms() + TIMEOUT_MS,
		};
		int st = 0, sub = 0;

		snprintf(display, sizeof(display), "Ky thu profile %s", cases[i].profile);
		if (ch->start(ch->self, &req, &st, &sub) != 0) {
			r->done = true;
			r->status = st;
			r->sub = sub;
		}
	}
	uv_timer_start(&poll_timer, on_poll, 50, 50);
}

static int
check(size_t i)
{
	const struct expect *e = &cases[i];
	const struct run *r = &runs[i];
	bool ok;

	if (!r->done) {
		printf("FAIL profile %s (%s): no final event\n", e->profile, r->msisdn);
		return 1;
	}
	if (e->status == 0)
		ok = r->signed_ && sig_verifies(r) == !e->bad_sig;
	else
		ok = !r->signed_ && r->status == e->status && r->sub == e->sub &&
		     r->blocked == e->blocked;
	ok = ok && r->dispatched && (!e->want_resent || r->resent) &&
	     (!e->want_delivered || r->delivered);
	printf("%s profile %s (%s): %s %d/%d%s%s%s sig=%zu\n", ok ? "ok  " : "FAIL", e->profile,
	       r->msisdn, r->signed_ ? "SIGNED" : "FAILED", r->status, r->sub,
	       r->dispatched ? " dispatched" : "", r->delivered ? " delivered" : "",
	       r->resent ? " resent" : "", r->sig_len);
	return ok ? 0 : 1;
}

int
main(void)
{
	const char *pg = getenv("KYSO_PG_URL"), *prov = getenv("KYSO_PROVISION_FILE");
	const char *routes = getenv("KYSO_IT_ROUTES");
	char err[256];
	uv_loop_t loop;
	uv_timer_t wait_timer;
	int bad = 0;

	if (pg == NULL || prov == NULL || routes == NULL) {
		fprintf(stderr, "needs KYSO_PG_URL, KYSO_PROVISION_FILE and KYSO_IT_ROUTES\n");
		return 2;
	}
	for (size_t i = 0; i < NCASES; i++) {
		snprintf(runs[i].msisdn, sizeof(runs[i].msisdn), "8490%s00001", cases[i].profile);
		runs[i].ref = 900000 + (int64_t)i;
		SHA256((const unsigned char *)runs[i].msisdn, strlen(runs[i].msisdn),
		       runs[i].digest);
	}
	if (load_certs(prov) != 0) {
		fprintf(stderr, "cannot read %s\n", prov);
		return 2;
	}
	gw_config_defaults(&gw.cfg);
	snprintf(gw.cfg.db_conninfo, sizeof(gw.cfg.db_conninfo), "%s", pg);
	snprintf(gw.cfg.smsc_routes, sizeof(gw.cfg.smsc_routes), "%s", routes);
	gw.cfg.db_lanes = 1;
	gw.cfg.db_spool_dir[0] = '\0'; /* no spool: PostgreSQL stays up here */
	if ((gw.auth = gw_auth_new(gw.cfg.auth_fail_per_min)) == NULL)
		return 2;
	uv_loop_init(&loop);
	gw.loop = &loop;
	if (gw_db_start(&gw, err, sizeof(err)) != 0 || gw_smsc_start(&gw, err, sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return 2;
	}
	started_ms = gw_mono_ms();
	uv_timer_init(&loop, &poll_timer);
	uv_timer_init(&loop, &wait_timer);
	uv_timer_start(&wait_timer, start_all, 50, 50);
	uv_run(&loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < NCASES; i++) {
		bad |= check(i);
		X509_free(runs[i].cert);
	}
	(void)uv_loop_close(&loop);
	gw_auth_free(gw.auth);
	return bad;
}
