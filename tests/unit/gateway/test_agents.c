/* Unit tests of the agent registry and the "pcsc" channel (gw_agents.c, gw_chan_token.c) with
 * fake agent connections and a fake clock: sessions, token snapshots, the job lifecycle and its
 * deadline codes (PROTOCOL.md section 7, PCSC.md 5.3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <kyso/card_msg.h>
#include "gw_agents.h"

#define MAXF 32

static uint8_t digest[48]; /* what the jobs sign: the first 32 (sha256) or 48 bytes */

/* A fake connection: the frames the gateway queued on it. */
struct conn {
	char *frames[MAXF];
	int nframes;
	bool closed;
};

static uint64_t now_ms = 1000000;
static struct gw_chan_event evs[32];
static uint8_t ev_sig[32][CARD_MSG_SIG_MAX];
static int nevs;
static char last_kind[32];
static int nnode_events;

static bool
fake_send(void *c, const char *txt, size_t len)
{
	struct conn *k = c;

	if (k->closed || k->nframes == MAXF)
		return false;
	k->frames[k->nframes++] = strndup(txt, len);
	return true;
}

static void
fake_close(void *c, const char *why)
{
	(void)why;
	((struct conn *)c)->closed = true;
}

static void
fake_event(void *arg, const char *kind, const char *agent_id, const char *client_id, json_t *detail)
{
	(void)arg, (void)agent_id, (void)client_id;
	snprintf(last_kind, sizeof(last_kind), "%s", kind);
	nnode_events++;
	json_decref(detail);
}

static uint64_t
fake_now(void *arg)
{
	(void)arg;
	return now_ms;
}

static void
fake_time(void *arg, char *out, size_t cap)
{
	(void)arg;
	snprintf(out, cap, "2026-11-22T10:15:30.123Z");
}

static void
on_event(void *engine, const struct gw_chan_event *ev)
{
	(void)engine;
	assert_true(nevs < 32);
	evs[nevs] = *ev;
	if (ev->sig != NULL) {
		memcpy(ev_sig[nevs], ev->sig, ev->sig_len);
		evs[nevs].sig = ev_sig[nevs];
	}
	evs[nevs].detail = NULL;
	nevs++;
}

/* Real keys and self-signed certificates, made once: the channel verifies every signature
 * against the announced certificate. */
struct testkey {
	EVP_PKEY *key;
	uint8_t *der;
	size_t len;
};
static struct testkey rsa_k, ec_k;
#define cert_rsa (&rsa_k)
#define cert_ec  (&ec_k)

static void
make_cert(struct testkey *k, EVP_PKEY *key)
{
	X509 *x = X509_new();
	unsigned char *der = NULL;
	int n;

	assert_non_null(key);
	k->key = key;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	n = i2d_X509(x, &der);
	assert_true(n > 0);
	k->der = der;
	k->len = (size_t)n;
	X509_free(x);
}

static int
group_setup(void **state)
{
	(void)state;
	make_cert(&rsa_k, EVP_RSA_gen(2048));
	make_cert(&ec_k, EVP_EC_gen("P-256"));
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_k.key);
	EVP_PKEY_free(ec_k.key);
	OPENSSL_free(rsa_k.der);
	OPENSSL_free(ec_k.der);
	return 0;
}

/* A signature over hash as a token makes it (RSA PKCS#1 v1.5 with DigestInfo, ECDSA DER). */
static size_t
sign_hash(const struct testkey *k, const uint8_t *hash, size_t hash_len, uint8_t *sig)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->key, NULL);
	size_t len = CARD_MSG_SIG_MAX;

	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	if (EVP_PKEY_base_id(k->key) == EVP_PKEY_RSA) {
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
		EVP_PKEY_CTX_set_signature_md(ctx, hash_len == 48 ? EVP_sha384() : EVP_sha256());
	}
	assert_int_equal(EVP_PKEY_sign(ctx, sig, &len, hash, hash_len), 1);
	EVP_PKEY_CTX_free(ctx);
	return len;
}

struct fx {
	struct gw_agents *a;
	struct gw_channel *ch;
	struct conn c1, c2;
	struct gw_agent_peer *p1, *p2;
};

static int
setup(void **state)
{
	struct gw_agents_hooks h = { fake_send, fake_close, fake_event, fake_now, fake_time, NULL };
	struct fx *f = calloc(1, sizeof(*f));

	now_ms = 1000000;
	nevs = nnode_events = 0;
	f->a = gw_agents_new(&h);
	f->ch = gw_agents_channel(f->a);
	f->ch->on_event = on_event;
	f->ch->engine = f;
	*state = f;
	return 0;
}

static void
conn_reset(struct conn *c)
{
	for (int i = 0; i < c->nframes; i++)
		free(c->frames[i]);
	c->nframes = 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	gw_agents_free(f->a);
	conn_reset(&f->c1);
	conn_reset(&f->c2);
	free(f);
	return 0;
}

static enum gw_agent_rx
rx(struct fx *f, struct gw_agent_peer *p, const struct card_msg *m)
{
	char *txt;
	size_t len;
	enum gw_agent_rx r;

	assert_int_equal(card_msg_build(m, CARD_MSG_FROM_AGENT, &txt, &len, NULL), CARD_MSG_OK);
	r = gw_agents_receive(f->a, p, txt, len);
	free(txt);
	return r;
}

static enum gw_agent_rx
rx_text(struct fx *f, struct gw_agent_peer *p, const char *txt)
{
	return gw_agents_receive(f->a, p, txt, strlen(txt));
}

static void
hello(struct fx *f, struct gw_agent_peer *p, const char *id)
{
	struct card_msg m;

	card_msg_init(&m, CARD_MSG_HELLO);
	snprintf(m.agent_id, sizeof(m.agent_id), "%s", id);
	snprintf(m.version, sizeof(m.version), "0.1.0");
	assert_int_equal(rx(f, p, &m), GW_AGENT_RX_OK);
}

/* A snapshot with one token `serial`: RSA key (sha256, sha384) or EC P-256. */
static enum gw_agent_rx
tokens(struct fx *f, struct gw_agent_peer *p, uint64_t seq, const char *serial, bool ec)
{
	struct card_msg m;
	struct card_msg_token t;
	enum gw_agent_rx r;

	card_msg_init(&m, CARD_MSG_TOKENS);
	m.seq = seq;
	if (serial != NULL) {
		memset(&t, 0, sizeof(t));
		snprintf(t.token_id, sizeof(t.token_id), "tok-%s", serial);
		snprintf(t.reader, sizeof(t.reader), "Kyso CI Reader 00 00");
		snprintf(t.serial, sizeof(t.serial), "%s", serial);
		const struct testkey *c = ec ? cert_ec : cert_rsa;
		assert_int_equal(card_msg_token_add_cert(&t, c->der, c->len), CARD_MSG_OK);
		card_msg_key_id(c->der, c->len, t.keys[0].key_id);
		snprintf(t.keys[0].alg, sizeof(t.keys[0].alg),
		         ec ? "ecdsa-p256-sha256" : "rsa-pkcs1-sha256");
		t.nkeys = 1;
		if (!ec) {
			t.keys[1] = t.keys[0];
			snprintf(t.keys[1].alg, sizeof(t.keys[1].alg), "rsa-pkcs1-sha384");
			t.nkeys = 2;
		}
		assert_int_equal(card_msg_add_token(&m, &t), CARD_MSG_OK);
		card_msg_token_clear(&t);
	}
	r = rx(f, p, &m);
	card_msg_clear(&m);
	return r;
}

static void
agent_up(struct fx *f, int which, const char *id, const char *serial)
{
	struct conn *c = which == 1 ? &f->c1 : &f->c2;
	struct gw_agent_peer **pp = which == 1 ? &f->p1 : &f->p2;

	*pp = gw_agents_attach(f->a, c, "agent-client", "127.0.0.1");
	assert_non_null(*pp);
	hello(f, *pp, id);
	assert_int_equal(tokens(f, *pp, 1, serial, false), GW_AGENT_RX_OK);
}

static int
start(struct fx *f, int64_t ref, const char *txn, const char *serial, const char *hash_alg,
      uint64_t timeout_ms, int *status, int *sub)
{
	struct gw_chan_request req = {
		.txn_id = txn,
		.ref = ref,
		.credential_id = 7,
		.token_serial = serial,
		.hash_alg = hash_alg,
		.to_sign = digest,
		.to_sign_len = strcmp(hash_alg, "sha384") == 0 ? 48 : 32,
		.display = "Ký duyệt QĐ 123/QĐ-UBND",
		.verification_code = "4821",
		.deadline_ms = now_ms + timeout_ms,
	};

	*status = *sub = 0;
	return f->ch->start(f->ch->self, &req, status, sub);
}

/* The last frame on a connection, parsed as the agent parses it. */
static void
last_frame(struct conn *c, struct card_msg *m)
{
	assert_true(c->nframes > 0);
	const char *t = c->frames[c->nframes - 1];
	assert_int_equal(card_msg_parse(t, strlen(t), CARD_MSG_FROM_GATEWAY, m, NULL), CARD_MSG_OK);
}

static void
answer(struct fx *f, struct gw_agent_peer *p, enum card_msg_type type, const char *job)
{
	struct card_msg m;

	card_msg_init(&m, type);
	snprintf(m.job, sizeof(m.job), "%s", job);
	assert_int_equal(rx(f, p, &m), GW_AGENT_RX_OK);
}

static enum gw_agent_rx
answer_failed(struct fx *f, struct gw_agent_peer *p, const char *job, int code, int sub,
              int retries)
{
	struct card_msg m;

	card_msg_init(&m, CARD_MSG_FAILED);
	snprintf(m.job, sizeof(m.job), "%s", job);
	m.code = code;
	m.sub = sub;
	m.retries_left = retries;
	return rx(f, p, &m);
}

/* A `signed` answer: the key id of cert, a signature by its key over the job's digest (the
 * tests' jobs sign the first 32 bytes of `digest`), or a broken one. */
static enum gw_agent_rx
answer_signed_as(struct fx *f, struct gw_agent_peer *p, const char *job, const struct testkey *cert,
                 bool good)
{
	struct card_msg m;

	card_msg_init(&m, CARD_MSG_SIGNED);
	snprintf(m.job, sizeof(m.job), "%s", job);
	card_msg_key_id(cert->der, cert->len, m.key_id);
	m.sig_len = sign_hash(cert, digest, 32, m.sig);
	if (!good)
		m.sig[m.sig_len / 2] ^= 0x01;
	return rx(f, p, &m);
}

static enum gw_agent_rx
answer_signed(struct fx *f, struct gw_agent_peer *p, const char *job, const struct testkey *cert)
{
	return answer_signed_as(f, p, job, cert, true);
}

static void
hello_first_and_once(void **state)
{
	struct fx *f = *state;
	struct gw_agent_peer *p = gw_agents_attach(f->a, &f->c1, "agent-client", "127.0.0.1");

	assert_int_equal(rx_text(f, p, "{\"type\":\"taken\",\"job\":\"x\"}"), GW_AGENT_RX_CLOSE);
	assert_int_equal(rx_text(f, p, "not json"), GW_AGENT_RX_CLOSE);
	hello(f, p, "pc-1");
	assert_string_equal(last_kind, "agent.hello");
	assert_int_equal(rx_text(f, p, "{\"type\":\"hello\",\"agent_id\":\"b\",\"version\":\"1\"}"),
	                 GW_AGENT_RX_CLOSE);
	/* After hello a bad frame is recorded and ignored, the session stays. */
	assert_int_equal(rx_text(f, p, "{\"type\":\"sign\",\"job\":\"x\"}"), GW_AGENT_RX_IGNORED);
	assert_string_equal(last_kind, "agent.refused");
	assert_int_equal(gw_agents_peer_count(f->a), 1);
	gw_agents_detach(f->a, p);
	assert_int_equal(gw_agents_peer_count(f->a), 0);
	assert_string_equal(last_kind, "agent.gone");
}

static void
tokens_register_and_stale_seq_is_ignored(void **state)
{
	struct fx *f = *state;

	agent_up(f, 1, "pc-1", "AB01");
	assert_string_equal(gw_agents_holder(f->a, "ab01"), "pc-1");
	/* Also by certificate: the key id (hex SHA-256 of the DER), any case. */
	char fp[65];
	card_msg_key_id(cert_rsa->der, cert_rsa->len, fp);
	assert_string_equal(gw_agents_holder(f->a, fp), "pc-1");
	for (char *c = fp; *c != '\0'; c++)
		*c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
	assert_string_equal(gw_agents_holder(f->a, fp), "pc-1");
	assert_null(gw_agents_holder(f->a, "CD02"));
	assert_int_equal(tokens(f, f->p1, 1, "CD02", false), GW_AGENT_RX_IGNORED);
	assert_null(gw_agents_holder(f->a, "CD02"));
	assert_int_equal(tokens(f, f->p1, 2, "CD02", false), GW_AGENT_RX_OK);
	assert_string_equal(gw_agents_holder(f->a, "CD02"), "pc-1");
	assert_null(gw_agents_holder(f->a, "AB01"));
	assert_int_equal(tokens(f, f->p1, 3, NULL, false), GW_AGENT_RX_OK); /* card pulled */
	assert_null(gw_agents_holder(f->a, "CD02"));
}

static void
no_agent_is_209_2092_at_once(void **state)
{
	struct fx *f = *state;
	int st, sub;

	assert_int_equal(start(f, 1, "txn-1", "AB01", "sha256", 60000, &st, &sub), -1);
	assert_int_equal(st, 209);
	assert_int_equal(sub, 2092);
	assert_int_equal(gw_agents_job_count(f->a), 0);
}

static void
sign_job_full_lifecycle(void **state)
{
	struct fx *f = *state;
	struct card_msg m;
	char key_id[65];
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	for (size_t i = 0; i < sizeof(digest); i++)
		digest[i] = (uint8_t)i;
	assert_int_equal(start(f, 42, "txn-42", "AB01", "sha256", 60000, &st, &sub), 0);
	last_frame(&f->c1, &m);
	assert_int_equal(m.type, CARD_MSG_SIGN);
	assert_string_equal(m.job, "txn-42");
	card_msg_key_id(cert_rsa->der, cert_rsa->len, key_id);
	assert_string_equal(m.key_id, key_id);
	assert_string_equal(m.alg, "rsa-pkcs1-sha256");
	assert_int_equal(m.hash_len, 32);
	assert_memory_equal(m.hash, digest, 32);
	assert_string_equal(m.display, "4821 Ký duyệt QĐ 123/QĐ-UBND");
	assert_int_equal(m.deadline_ms, 58000); /* the gateway's remaining time minus 2 s */
	card_msg_clear(&m);
	assert_int_equal(nevs, 0);

	answer(f, f->p1, CARD_MSG_TAKEN, "txn-42");
	answer(f, f->p1, CARD_MSG_PROMPT, "txn-42");
	answer(f, f->p1, CARD_MSG_PROMPT, "txn-42"); /* re-prompt after a wrong PIN */
	assert_int_equal(answer_signed(f, f->p1, "txn-42", cert_rsa), GW_AGENT_RX_OK);
	assert_int_equal(nevs, 3);
	assert_int_equal(evs[0].kind, GW_CHAN_DISPATCHED);
	assert_int_equal(evs[1].kind, GW_CHAN_AWAITING_USER);
	assert_int_equal(evs[2].kind, GW_CHAN_SIGNED);
	assert_int_equal(evs[2].ref, 42);
	assert_int_equal(evs[2].sig_len, 256); /* RSA-2048 */
	assert_int_equal(gw_agents_job_count(f->a), 0);
	/* A second answer for the finished job is late: reported by ref, nothing else. */
	assert_int_equal(answer_signed(f, f->p1, "txn-42", cert_rsa), GW_AGENT_RX_IGNORED);
	assert_int_equal(evs[3].kind, GW_CHAN_LATE);
	assert_int_equal(evs[3].ref, 42);
	assert_string_equal(last_kind, "agent.late");
}

static void
failed_codes_and_blocked_pin(void **state)
{
	struct fx *f = *state;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	assert_int_equal(start(f, 1, "t1", "AB01", "sha256", 60000, &st, &sub), 0);
	answer(f, f->p1, CARD_MSG_TAKEN, "t1");
	assert_int_equal(answer_failed(f, f->p1, "t1", 401, 4015, 2), GW_AGENT_RX_OK);
	assert_int_equal(evs[1].kind, GW_CHAN_FAILED);
	assert_int_equal(evs[1].status, 401);
	assert_int_equal(evs[1].sub, 4015);
	assert_int_equal(evs[1].retries_left, 2);
	assert_false(evs[1].device_blocked);

	assert_int_equal(start(f, 2, "t2", "AB01", "sha256", 60000, &st, &sub), 0);
	answer(f, f->p1, CARD_MSG_TAKEN, "t2");
	assert_int_equal(answer_failed(f, f->p1, "t2", 402, 4021, 0), GW_AGENT_RX_OK);
	assert_int_equal(evs[3].kind, GW_CHAN_FAILED);
	assert_int_equal(evs[3].status, 402);
	assert_int_equal(evs[3].sub, 4021);
	assert_true(evs[3].device_blocked); /* REGULATION.md B15: lock + recovery case */
}

static void
own_deadline_codes(void **state)
{
	struct fx *f = *state;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	agent_up(f, 2, "pc-2", "CD02");
	assert_int_equal(start(f, 1, "t1", "AB01", "sha256", 30000, &st, &sub), 0);
	assert_int_equal(start(f, 2, "t2", "CD02", "sha256", 30000, &st, &sub), 0);
	answer(f, f->p1, CARD_MSG_TAKEN, "t1");
	answer(f, f->p1, CARD_MSG_PROMPT, "t1");
	answer(f, f->p2, CARD_MSG_TAKEN, "t2");
	nevs = 0;
	now_ms += 28999; /* before the channel's end (engine deadline - 1 s) */
	gw_agents_tick(f->a);
	assert_int_equal(nevs, 0);
	now_ms += 1;
	gw_agents_tick(f->a);
	assert_int_equal(nevs, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(evs[i].kind, GW_CHAN_FAILED);
		assert_int_equal(evs[i].status, 208);
		assert_int_equal(evs[i].sub, evs[i].ref == 1 ? 2082 : 2081);
	}
	assert_int_equal(gw_agents_job_count(f->a), 0);
}

static void
agent_gone_before_taken_is_209_2092(void **state)
{
	struct fx *f = *state;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	assert_int_equal(start(f, 5, "t5", "AB01", "sha256", 30000, &st, &sub), 0);
	gw_agents_detach(f->a, f->p1);
	now_ms += 29000;
	gw_agents_tick(f->a);
	assert_int_equal(nevs, 1);
	assert_int_equal(evs[0].status, 209);
	assert_int_equal(evs[0].sub, 2092);
}

static void
untaken_job_goes_to_the_next_agent(void **state)
{
	struct fx *f = *state;
	struct card_msg m;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	assert_int_equal(start(f, 6, "t6", "AB01", "sha256", 30000, &st, &sub), 0);
	gw_agents_detach(f->a, f->p1);
	now_ms += 5000;
	agent_up(f, 2, "pc-1b", "AB01"); /* the agent restarted and re-announced */
	last_frame(&f->c2, &m);
	assert_int_equal(m.type, CARD_MSG_SIGN);
	assert_string_equal(m.job, "t6");
	assert_int_equal(m.deadline_ms, 23000);
	card_msg_clear(&m);
	answer(f, f->p2, CARD_MSG_TAKEN, "t6");
	assert_int_equal(answer_signed(f, f->p2, "t6", cert_rsa), GW_AGENT_RX_OK);
	assert_int_equal(evs[nevs - 1].kind, GW_CHAN_SIGNED);
}

static void
taken_job_waits_for_the_same_agent(void **state)
{
	struct fx *f = *state;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	assert_int_equal(start(f, 7, "t7", "AB01", "sha256", 30000, &st, &sub), 0);
	answer(f, f->p1, CARD_MSG_TAKEN, "t7");
	gw_agents_detach(f->a, f->p1);
	agent_up(f, 2, "pc-1", "AB01");
	assert_int_equal(f->c2.nframes, 0); /* not sent again: the card may be signing */
	/* The token is still busy with it: a new job for the token waits (no BUSY at the agent). */
	assert_int_equal(start(f, 8, "t8", "AB01", "sha256", 30000, &st, &sub), 0);
	assert_int_equal(f->c2.nframes, 0);
	/* The agent came back with its kept answer (PCSC.md 5.3 link lost). */
	assert_int_equal(answer_signed(f, f->p2, "t7", cert_rsa), GW_AGENT_RX_OK);
	assert_int_equal(evs[nevs - 1].kind, GW_CHAN_SIGNED);
	assert_int_equal(evs[nevs - 1].ref, 7);
	/* Now the waiting job goes out. */
	assert_int_equal(f->c2.nframes, 1);
}

static void
one_job_per_token(void **state)
{
	struct fx *f = *state;
	struct card_msg m;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	assert_int_equal(start(f, 1, "t1", "AB01", "sha256", 60000, &st, &sub), 0);
	assert_int_equal(start(f, 2, "t2", "AB01", "sha256", 60000, &st, &sub), 0);
	assert_int_equal(f->c1.nframes, 1);
	answer(f, f->p1, CARD_MSG_TAKEN, "t1");
	assert_int_equal(answer_failed(f, f->p1, "t1", 401, 4011, -1), GW_AGENT_RX_OK);
	assert_int_equal(f->c1.nframes, 2);
	last_frame(&f->c1, &m);
	assert_string_equal(m.job, "t2");
	card_msg_clear(&m);
}

static void
abandon_sends_cancel_and_answers_are_late(void **state)
{
	struct fx *f = *state;
	struct card_msg m;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	assert_int_equal(start(f, 9, "t9", "AB01", "sha256", 60000, &st, &sub), 0);
	answer(f, f->p1, CARD_MSG_TAKEN, "t9");
	f->ch->abandon(f->ch->self, 9);
	last_frame(&f->c1, &m);
	assert_int_equal(m.type, CARD_MSG_CANCEL);
	assert_string_equal(m.job, "t9");
	card_msg_clear(&m);
	assert_int_equal(gw_agents_job_count(f->a), 0);
	assert_int_equal(answer_failed(f, f->p1, "t9", 401, 4014, -1), GW_AGENT_RX_IGNORED);
	assert_int_equal(evs[nevs - 1].kind, GW_CHAN_LATE);
	assert_int_equal(evs[nevs - 1].ref, 9);
}

static void
other_session_cannot_answer(void **state)
{
	struct fx *f = *state;
	int st, sub;

	agent_up(f, 1, "pc-1", "AB01");
	agent_up(f, 2, "pc-2", "CD02");
	assert_int_equal(start(f, 3, "t3", "AB01", "sha256", 60000, &st, &sub), 0);
	/* REGULATION.md C6: a session signs only with the tokens it announced. */
	assert_int_equal(answer_signed(f, f->p2, "t3", cert_rsa), GW_AGENT_RX_IGNORED);
	assert_int_equal(gw_agents_job_count(f->a), 1);
	/* Signed with another key than the one asked: 503, never passed on as a signature. */
	assert_int_equal(answer_signed(f, f->p1, "t3", cert_ec), GW_AGENT_RX_IGNORED);
	assert_int_equal(evs[nevs - 1].kind, GW_CHAN_FAILED);
	assert_int_equal(evs[nevs - 1].status, 503);
}

static void
signature_must_verify(void **state)
{
	struct fx *f = *state;
	int st, sub;

	f->p1 = gw_agents_attach(f->a, &f->c1, "agent-client", "127.0.0.1");
	hello(f, f->p1, "pc-1");
	assert_int_equal(tokens(f, f->p1, 1, "EC01", true), GW_AGENT_RX_OK);
	/* PCSC.md 5.6: the gateway verifies every `signed` against the certificate (503). */
	assert_int_equal(start(f, 1, "t1", "EC01", "sha256", 60000, &st, &sub), 0);
	assert_int_equal(answer_signed_as(f, f->p1, "t1", cert_ec, false), GW_AGENT_RX_OK);
	assert_int_equal(evs[nevs - 1].kind, GW_CHAN_FAILED);
	assert_int_equal(evs[nevs - 1].status, 503);
	assert_int_equal(start(f, 2, "t2", "EC01", "sha256", 60000, &st, &sub), 0);
	assert_int_equal(answer_signed_as(f, f->p1, "t2", cert_ec, true), GW_AGENT_RX_OK);
	assert_int_equal(evs[nevs - 1].kind, GW_CHAN_SIGNED);
	assert_int_equal(evs[nevs - 1].ref, 2);
}

static void
key_must_fit_the_digest(void **state)
{
	struct fx *f = *state;
	int st, sub;

	f->p1 = gw_agents_attach(f->a, &f->c1, "agent-client", "127.0.0.1");
	hello(f, f->p1, "pc-1");
	assert_int_equal(tokens(f, f->p1, 1, "EC01", true), GW_AGENT_RX_OK);
	assert_int_equal(start(f, 1, "t1", "EC01", "sha384", 60000, &st, &sub), -1);
	assert_int_equal(st, 900);
	assert_int_equal(sub, 9008);
	assert_int_equal(start(f, 2, "t2", "EC01", "sha256", 60000, &st, &sub), 0);
	assert_int_equal(start(f, 3, "t2", "EC01", "sha256", 60000, &st, &sub), -1); /* same id */
}

static void
pings_and_dead_peers(void **state)
{
	struct fx *f = *state;
	struct card_msg m;

	agent_up(f, 1, "pc-1", "AB01");
	now_ms += 20000;
	gw_agents_tick(f->a);
	last_frame(&f->c1, &m);
	assert_int_equal(m.type, CARD_MSG_PING);
	card_msg_clear(&m);
	assert_int_equal(rx_text(f, f->p1, "{\"type\":\"ping\",\"id\":\"a1\",\"time\":\"t\"}"),
	                 GW_AGENT_RX_OK);
	last_frame(&f->c1, &m);
	assert_int_equal(m.type, CARD_MSG_PONG);
	assert_string_equal(m.id, "a1");
	card_msg_clear(&m);
	now_ms += 59999;
	gw_agents_tick(f->a);
	assert_false(f->c1.closed);
	now_ms += 1;
	gw_agents_tick(f->a);
	assert_true(f->c1.closed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hello_first_and_once, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens_register_and_stale_seq_is_ignored, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(no_agent_is_209_2092_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(sign_job_full_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_codes_and_blocked_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(own_deadline_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(agent_gone_before_taken_is_209_2092, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(untaken_job_goes_to_the_next_agent, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(taken_job_waits_for_the_same_agent, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(one_job_per_token, setup, teardown),
		cmocka_unit_test_setup_teardown(abandon_sends_cancel_and_answers_are_late, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(other_session_cannot_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(key_must_fit_the_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(pings_and_dead_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(signature_must_verify, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
