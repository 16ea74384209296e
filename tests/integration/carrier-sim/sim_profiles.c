/* Every profile of TELECOM.md 5.3 through the real SIM path: the smsc-adapter ESME session
 * (kyso/smsc.h) over TCP against a running kyso-carrier-sim (deploy/stack component "sim").
 * For each profile it sends a kyso-v1 SIGN request as the gateway would (3DES, SPI 16 39, TAR
 * 4B5953, keys and counter from the provisioning file), then checks what the gateway sees:
 * submit_sm_resp status, DLR state, PoR status, applet status, signature against the SIM's
 * certificate, MO segments and duplicates. Environment: stack.env. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <kyso/smsc.h>

#include "smsc_net.h"

#define SPI1 0x16
#define SPI2 0x39
#define KIC  0x35 /* KVN 3, 3DES two keys */
#define KID  0x35

enum {
	NONE = -1
};

struct kase {
	const char *msisdn;
	int profile;
	bool ucs2;
	/* expected: what the gateway would see */
	int exp_submit; /* command_status of the (first) submit_sm_resp, 0 OK */
	int exp_dlr;    /* SMSC_MS_*, NONE: no DLR */
	int exp_por;    /* final PoR STS, NONE: no complete PoR */
	int exp_applet; /* kyso-v1 status, NONE */
	int exp_sig;    /* 1 verifies, 0 does not, NONE */
	int exp_segs;   /* distinct MO segments of the final PoR, 0: any */
	/* state */
	struct smsc_ota_keys keys;
	uint64_t counter;
	X509 *cert;
	uint8_t hash[32];
	int submit_status, dlr, por, first_por, applet, sig, segs, dups, resyncs, pin_tries;
	uint64_t sent_at, answered_at;
	struct smsc_reasm *reasm;
};

#define K(m, p, u, sub, dlr, por, app, sig, segs)                                                  \
	{                                                                                          \
		.msisdn = m, .profile = p, .ucs2 = u, .exp_submit = sub, .exp_dlr = dlr,           \
		.exp_por = por, .exp_applet = app, .exp_sig = sig, .exp_segs = segs                \
	}
static struct kase cases[] = {
	K("84900000000", 0, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84900100000", 1, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84900200000", 2, false, 0, SMSC_MS_DELIVERED, 0, 0x01, NONE, 1),
	K("84900300000", 3, false, 0, SMSC_MS_DELIVERED, 0, 0x0C, NONE, 1),
	K("84900400000", 4, false, 0, SMSC_MS_DELIVERED, 0, 0x02, NONE, 1),
	K("84900500000", 5, false, 0, SMSC_MS_DELIVERED, NONE, NONE, NONE, 0),
	K("84900600000", 6, false, 0, SMSC_MS_DELIVERED, 0, 0x03, NONE, 1),
	K("84900700000", 7, false, 0, SMSC_MS_DELIVERED, 0, 0x03, NONE, 1),
	K("84900800000", 8, false, 0, SMSC_MS_DELIVERED, 0, 0x04, NONE, 1),
	K("84900900000", 9, false, 0, SMSC_MS_UNDELIVERABLE, NONE, NONE, NONE, 0),
	K("84901000000", 10, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84901100000", 11, false, 0, SMSC_MS_UNDELIVERABLE, NONE, NONE, NONE, 0),
	K("84901200000", 12, false, 0, SMSC_MS_DELIVERED, 0x01, NONE, NONE, 1),
	K("84901300000", 13, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84901400000", 14, false, 0, SMSC_MS_DELIVERED, 0x04, NONE, NONE, 1),
	K("84901500000", 15, false, 0, SMSC_MS_DELIVERED, 0x09, NONE, NONE, 1),
	K("84901600000", 16, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 3),
	K("84901700000", 17, false, 0, SMSC_MS_DELIVERED, NONE, NONE, NONE, 2),
	K("84901800000", 18, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84901900000", 19, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84902000000", 20, false, 0, SMSC_MS_UNDELIVERABLE, NONE, NONE, NONE, 0),
	K("84902100000", 21, false, 0, SMSC_MS_UNDELIVERABLE, NONE, NONE, NONE, 0),
	K("84902200000", 22, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84902300000", 23, true, 0, SMSC_MS_DELIVERED, 0, 0x08, NONE, 1),
	K("84902300001", 23, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84902400000", 24, false, 0, SMSC_MS_DELIVERED, 0, 0x05, NONE, 1),
	K("84902500000", 25, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 1),
	K("84902600000", 26, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 0, 1),
	K("84902700000", 27, false, 0, SMSC_MS_DELIVERED, 0, 0x00, 1, 3),
	K("84999000000", -1, false, SMSC_ST_RINVDSTADR, NONE, NONE, NONE, NONE, 0),
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static struct smsc_net net;
static uint64_t scale = 1000, next_tag = 1;
static int bound;
static const char *mo_addr = "8490999";

static struct kase *
by_msisdn(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < NCASES; i++)
		if (strlen(cases[i].msisdn) == len && memcmp(cases[i].msisdn, s, len) == 0)
			return &cases[i];
	return NULL;
}

static int
unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	size_t i, len = strlen(s);

	if (len % 2 || len / 2 > cap)
		return -1;
	for (i = 0; i < len / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

static X509 *
cert_from_b64(const char *b64)
{
	size_t len = strlen(b64);
	unsigned char *der = malloc(len);
	const unsigned char *p = der;
	int n;
	X509 *x;

	n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)len);
	while (n > 0 && len > 0 && b64[len - 1] == '=') {
		n--;
		len--;
	}
	x = n > 0 ? d2i_X509(NULL, &p, n) : NULL;
	free(der);
	return x;
}

/* The provisioning file (TELECOM.md 5.2): keys, counter and certificate of each SIM. */
static int
load_provisioning(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (fp == NULL)
		return -1;
	while ((len = getline(&line, &cap, fp)) > 0) {
		json_t *o = json_loadb(line, (size_t)len, 0, NULL), *ks;
		const char *m = json_string_value(json_object_get(o, "msisdn"));
		struct kase *k = m ? by_msisdn(m, strlen(m)) : NULL;

		if (k != NULL) {
			ks = json_array_get(json_object_get(o, "keysets"), 0);
			if (unhex(json_string_value(json_object_get(ks, "kic")), k->keys.kic, 32,
			          &k->keys.kic_len) != 0 ||
			    unhex(json_string_value(json_object_get(ks, "kid")), k->keys.kid, 32,
			          &k->keys.kid_len) != 0)
				return -1;
			k->counter = (uint64_t)json_integer_value(json_object_get(ks, "counter"));
			k->cert = cert_from_b64(json_string_value(json_object_get(o, "cert")));
		}
		json_decref(o);
	}
	free(line);
	fclose(fp);
	return 0;
}

static bool
verify(struct kase *k, const uint8_t *sig, size_t len)
{
	EVP_PKEY *pk = X509_get0_pubkey(k->cert);
	EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
	uint8_t der[600];
	unsigned char *p = der;
	size_t dlen = len;
	bool ok = false;

	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1)
		goto out;
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) { /* raw r||s -> DER */
		ECDSA_SIG *es = ECDSA_SIG_new();

		if (len != 64 || es == NULL ||
		    ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)) !=
		            1) {
			ECDSA_SIG_free(es);
			goto out;
		}
		dlen = (size_t)i2d_ECDSA_SIG(es, &p);
		ECDSA_SIG_free(es);
		sig = der;
	} else if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) {
		goto out;
	}
	ok = EVP_PKEY_verify(ctx, sig, dlen, k->hash, 32) == 1;
out:
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* kyso-v1 SIGN request -> OTA command -> one submit_sm per segment (TELECOM.md 1.2, 2, 3.3). */
static int
send_sign(struct kase *k)
{
	static const uint8_t ucs2[] = { 0x00, 'K', 0x00, 'y', 0x1E, 0xF3, 0x00, ' ', 0x00, '4' };
	struct smsc_kv1_req q = { .txn_ref = 0x1000u + (uint64_t)(k - cases),
		                  .key_ref = 1,
		                  .hash_alg = 1 };
	uint8_t payload[400], pkt[600];
	struct smsc_seg segs[SMSC_SEG_MAX];
	struct smsc_ota_cmd cmd = { .spi1 = SPI1, .spi2 = SPI2, .kic = KIC, .kid = KID };
	size_t plen, n, nseg, i;

	SHA256((const uint8_t *)k->msisdn, strlen(k->msisdn), k->hash);
	q.hash = k->hash;
	q.hash_len = 32;
	q.dcs = k->ucs2 ? SMSC_DCS_UCS2 : SMSC_DCS_GSM7;
	q.text = k->ucs2 ? ucs2 : (const uint8_t *)"Ky HD 42 gia 10tr";
	q.text_len = k->ucs2 ? sizeof(ucs2) : 17;
	memcpy(cmd.tar, "KYS", 3);
	cmd.cntr = ++k->counter;
	if (smsc_kv1_req_encode(&q, payload, sizeof(payload), &plen) != SMSC_OK) {
		printf("%s: kv1 encode\n", k->msisdn);
		return -1;
	}
	cmd.data = payload;
	cmd.data_len = plen;
	if (smsc_ota_cmd_build(&cmd, &k->keys, pkt, sizeof(pkt), &n) != SMSC_OK ||
	    smsc_ota_segment(0x70, pkt, n, (uint8_t)(k - cases), segs, SMSC_SEG_MAX, &nseg) !=
	            SMSC_OK) {
		printf("%s: OTA build (key %zu octets)\n", k->msisdn, k->keys.kic_len);
		return -1;
	}
	k->sent_at = smsc_net_now_ms();
	for (i = 0; i < nseg; i++) {
		struct smsc_submit m = { .dest_addr = k->msisdn,
			                 .source_addr = mo_addr,
			                 .source_ton = 1,
			                 .source_npi = 1,
			                 .esm_class = 0x40,
			                 .protocol_id = 0x7F,
			                 .data_coding = 0xF6,
			                 .registered_delivery = 1,
			                 .validity_s = 120,
			                 .sm = segs[i].ud,
			                 .sm_len = segs[i].len };
		uint64_t tag = ((uint64_t)(k - cases) << 16) | next_tag++;

		enum smsc_err e = smsc_session_submit(net.s, tag, &m, smsc_net_now_ms());

		if (e != SMSC_OK) {
			printf("%s: submit: %s\n", k->msisdn, smsc_strerror(e));
			return -1;
		}
	}
	return 0;
}

static void
on_por(struct kase *k, const uint8_t *pkt, size_t n)
{
	/* A security failure comes back in clear (RHL 0A): open it without CC or cipher. */
	uint8_t spi2 =
	        n > 2 && pkt[2] == 0x0A ? (SPI2 & ~(SMSC_SPI2_POR_CC | SMSC_SPI2_POR_CIPH)) : SPI2;
	struct smsc_ota_rsp r;
	struct smsc_kv1_rsp a;
	uint8_t work[700];

	if (smsc_ota_rsp_open(pkt, n, spi2, KIC, KID, &k->keys, work, sizeof(work), &r) !=
	    SMSC_OK) {
		printf("%s: PoR does not open\n", k->msisdn);
		k->por = 0xEE;
		return;
	}
	if (k->first_por == NONE)
		k->first_por = r.sts;
	k->por = r.sts;
	k->answered_at = smsc_net_now_ms();
	if (r.sts == 0x02 && k->resyncs == 0) { /* TELECOM.md 2.3: jump 1000, resend once */
		k->resyncs++;
		k->counter += 1000;
		if (send_sign(k) != 0)
			printf("%s: resend failed\n", k->msisdn);
		return;
	}
	if (r.sts != 0 || r.data_len == 0 || smsc_kv1_rsp_decode(r.data, r.data_len, &a) != SMSC_OK)
		return;
	k->applet = a.status;
	k->pin_tries = a.has_pin_tries ? a.pin_tries : NONE;
	if (a.status == SMSC_KV1_SIGNED)
		k->sig = verify(k, a.sig, a.sig_len) ? 1 : 0;
}

static void
on_mo(const struct smsc_event *ev)
{
	const struct smsc_pdu *p = ev->pdu;
	struct kase *k = by_msisdn(p->source_addr, p->source_addr_len);
	uint8_t pkt[1200], iei = 0;
	size_t n = 0;
	bool done = false;

	if (ev->duplicate) { /* the session acked it already */
		if (k != NULL)
			k->dups++;
		return;
	}
	if (smsc_session_mo_ack(net.s, ev->seq, 0, smsc_net_now_ms()) != SMSC_OK)
		printf("mo_ack failed\n");
	if (k == NULL)
		return;
	k->segs++;
	if (smsc_reasm_add(k->reasm, k->msisdn, p->short_message, p->sm_length, 0, pkt, sizeof(pkt),
	                   &n, &iei, &done) == SMSC_OK &&
	    done && iei == 0x71) {
		on_por(k, pkt, n);
	}
}

static void
on_event(void *arg, const struct smsc_event *ev)
{
	struct kase *k = NULL;

	(void)arg;
	if (ev->tag != 0 && (ev->tag >> 16) < NCASES)
		k = &cases[ev->tag >> 16];
	switch (ev->kind) {
	case SMSC_EV_BOUND:
		bound = 1;
		break;
	case SMSC_EV_SUBMIT_FAIL:
		if (k != NULL)
			k->submit_status = (int)ev->status;
		break;
	case SMSC_EV_DLR:
		if (k != NULL)
			k->dlr = ev->dlr->state;
		break;
	case SMSC_EV_MO:
		on_mo(ev);
		break;
	default:
		break;
	}
}

static bool
is_bound(void *arg)
{
	(void)arg;
	return bound;
}

/* Every case that must end with something has it. */
static bool
all_settled(void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < NCASES; i++) {
		const struct kase *k = &cases[i];

		if (k->exp_submit != 0 && k->submit_status == 0)
			return false;
		if (k->exp_dlr != NONE && k->dlr == 0)
			return false;
		if (k->exp_applet != NONE && k->applet == NONE)
			return false;
		if (k->exp_applet == NONE && k->exp_por != NONE && k->por == NONE)
			return false;
	}
	return true;
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

static int
check(const struct kase *k)
{
	int bad = 0;

#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			printf("FAIL profile %02d %s: ", k->profile, k->msisdn);                   \
			printf(__VA_ARGS__);                                                       \
			printf("\n");                                                              \
			bad = 1;                                                                   \
		}                                                                                  \
	} while (0)
	EXPECT(k->submit_status == k->exp_submit, "submit status %#x, want %#x", k->submit_status,
	       k->exp_submit);
	EXPECT(k->exp_dlr == NONE ? k->dlr == 0 : k->dlr == k->exp_dlr, "DLR %s, want %s",
	       smsc_msg_state_name(k->dlr), smsc_msg_state_name(k->exp_dlr < 0 ? 0 : k->exp_dlr));
	EXPECT(k->por == k->exp_por, "PoR %d, want %d", k->por, k->exp_por);
	EXPECT(k->applet == k->exp_applet, "applet %d, want %d", k->applet, k->exp_applet);
	EXPECT(k->sig == k->exp_sig, "signature verifies %d, want %d", k->sig, k->exp_sig);
	if (k->exp_segs > 0 && k->profile != 13)
		EXPECT(k->segs == k->exp_segs, "%d MO segments, want %d", k->segs, k->exp_segs);
	switch (k->profile) {
	case 6:
	case 7:
		EXPECT(k->pin_tries == 0, "pin_tries_left %d, want 0", k->pin_tries);
		break;
	case 13:
		EXPECT(k->first_por == 0x02 && k->resyncs == 1, "first PoR %d, want 02 then resync",
		       k->first_por);
		break;
	case 18:
		EXPECT(k->dups >= 1, "no duplicated MO");
		break;
	case 19: /* the answer leaves 30 s after the 120 s validity */
		EXPECT((k->answered_at - k->sent_at) * scale >= 120000, "answered after %llu ms",
		       (unsigned long long)((k->answered_at - k->sent_at) * scale));
		break;
	default:
		break;
	}
	printf("%s profile %02d %s: submit %#x dlr %s por %d applet %d sig %d segs %d dups %d\n",
	       bad ? "FAIL" : "ok  ", k->profile, k->msisdn, k->submit_status,
	       smsc_msg_state_name(k->dlr), k->por, k->applet, k->sig, k->segs, k->dups);
	return bad;
#undef EXPECT
}

/* Profile 25: the certificate is revoked in the CA index the OCSP responder reads. */
static int
check_revoked(const char *pki_dir)
{
	char path[512], line[512];
	FILE *fp;
	int found = 0;

	snprintf(path, sizeof(path), "%s/index.txt", pki_dir);
	if ((fp = fopen(path, "r")) == NULL)
		return 1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strstr(line, "CN=84902500000\n") != NULL)
			found = line[0] == 'R' ? 1 : -1;
	fclose(fp);
	printf("%s profile 25 certificate %s in the CA index\n", found == 1 ? "ok  " : "FAIL",
	       found == 1 ? "revoked" : "not revoked");
	return found == 1 ? 0 : 1;
}

int
main(void)
{
	const char *port = getenv("KYSO_SMSC_PORT"), *sid = getenv("KYSO_SMSC_SYSTEM_ID");
	const char *pw = getenv("KYSO_SMSC_PASSWORD"), *prov = getenv("KYSO_PROVISION_FILE");
	const char *pki = getenv("KYSO_PKI_DIR"), *sc = getenv("KYSO_SIM_TIME_SCALE");
	struct smsc_config cfg = { 0 };
	size_t i;
	int bad = 0;

	if (!port || !sid || !pw || !prov || !pki) {
		fprintf(stderr, "needs stack.env: KYSO_SMSC_PORT, _SYSTEM_ID, _PASSWORD, "
		                "KYSO_PROVISION_FILE, KYSO_PKI_DIR\n");
		return 2;
	}
	if (sc != NULL)
		scale = strtoull(sc, NULL, 10);
	for (i = 0; i < NCASES; i++) {
		cases[i].dlr = 0;
		cases[i].por = cases[i].first_por = cases[i].applet = cases[i].sig = NONE;
		cases[i].pin_tries = NONE;
		if (smsc_reasm_new(4, 8192, 600000, &cases[i].reasm) != SMSC_OK)
			return 2;
	}
	if (load_provisioning(prov) != 0)
		return 2;
	for (i = 0; i < NCASES; i++)
		if (cases[i].profile < 0) { /* not provisioned: any keys, the SMSC refuses it */
			memset(cases[i].keys.kic, 0x11, 16);
			memset(cases[i].keys.kid, 0x22, 16);
			cases[i].keys.kic_len = cases[i].keys.kid_len = 16;
		}
	cfg.system_id = sid;
	cfg.password = pw;
	cfg.window = 10;
	cfg.tps = UINT32_MAX;
	net.port = (uint16_t)strtoul(port, NULL, 10);
	net.fd = -1;
	net.user_cb = on_event;
	if (smsc_session_new(&cfg, smsc_net_event, &net, &net.s) != SMSC_OK ||
	    smsc_session_start(net.s, smsc_net_now_ms()) != SMSC_OK ||
	    !smsc_net_run(&net, is_bound, NULL, 10000)) {
		printf("FAIL: no bind\n");
		return 1;
	}
	for (i = 0; i < NCASES; i++)
		if (send_sign(&cases[i]) != 0) {
			printf("FAIL: cannot send to %s\n", cases[i].msisdn);
			return 1;
		}
	if (!smsc_net_run(&net, all_settled, NULL, 60000))
		printf("not every case settled within 60 s\n");
	/* Quiet time for what must NOT happen (profile 05 answers, 17's lost segment): 300
	 * simulated seconds, past the validity period. */
	smsc_net_run(&net, never, NULL, 300000 / scale + 200);
	for (i = 0; i < NCASES; i++) {
		bad |= check(&cases[i]);
		smsc_reasm_free(cases[i].reasm);
		X509_free(cases[i].cert);
	}
	bad |= check_revoked(pki);
	smsc_session_free(net.s);
	printf(bad ? "carrier-sim profiles: FAILED\n" : "carrier-sim profiles: all passed\n");
	return bad;
}
