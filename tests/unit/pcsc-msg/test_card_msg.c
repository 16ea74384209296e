/* Unit tests of the agent message codec (PROTOCOL.md section 7, PCSC.md 5.6): every message
 * built and parsed back in its direction, and every refusal with its defined error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/card_msg.h>

static const uint8_t cert_a[] = { 0x30, 0x82, 0x00, 0x03, 0x01, 0x02, 0x03 };
static const uint8_t cert_b[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };

/* Builds m as sent by `from`, parses the text back as the peer does, returns the copy. */
static void
roundtrip(const struct card_msg *m, enum card_msg_from from, struct card_msg *back)
{
	char *txt = NULL;
	size_t len = 0;
	const char *field = NULL;

	assert_int_equal(card_msg_build(m, from, &txt, &len, &field), CARD_MSG_OK);
	assert_non_null(txt);
	assert_int_equal(strlen(txt), len);
	assert_int_equal(card_msg_parse(txt, len, from, back, &field), CARD_MSG_OK);
	assert_int_equal(back->type, m->type);
	free(txt);
}

static enum card_msg_err
parse_as(const char *txt, enum card_msg_from from, const char **field)
{
	struct card_msg m;
	enum card_msg_err e = card_msg_parse(txt, strlen(txt), from, &m, field);

	if (e != CARD_MSG_OK)
		assert_int_equal(m.type, CARD_MSG_NONE); /* cleared on failure */
	card_msg_clear(&m);
	return e;
}

static void
expect(const char *txt, enum card_msg_from from, enum card_msg_err want, const char *want_field)
{
	const char *field = NULL;
	enum card_msg_err got = parse_as(txt, from, &field);

	if (got != want || (want_field != NULL && strcmp(field, want_field) != 0))
		fail_msg("%s: got %s (%s), want %s (%s)", txt, card_msg_strerror(got), field,
		         card_msg_strerror(want), want_field != NULL ? want_field : "*");
}

static void
token_fill(struct card_msg_token *t, const char *id)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->token_id, sizeof(t->token_id), "%s", id);
	snprintf(t->reader, sizeof(t->reader), "Kyso CI Reader 00 00");
	snprintf(t->serial, sizeof(t->serial), "4b59534f0000000000000000000000%.2s", id);
	assert_int_equal(card_msg_token_add_cert(t, cert_a, sizeof(cert_a)), CARD_MSG_OK);
	assert_int_equal(card_msg_token_add_cert(t, cert_b, sizeof(cert_b)), CARD_MSG_OK);
	card_msg_key_id(cert_a, sizeof(cert_a), t->keys[0].key_id);
	snprintf(t->keys[0].alg, sizeof(t->keys[0].alg), "rsa-pkcs1-sha256");
	card_msg_key_id(cert_a, sizeof(cert_a), t->keys[1].key_id);
	snprintf(t->keys[1].alg, sizeof(t->keys[1].alg), "rsa-pkcs1-sha384");
	t->nkeys = 2;
	t->pin_retries_left = -1;
}

static void
hello_roundtrip(void **state)
{
	struct card_msg m, b;

	(void)state;
	card_msg_init(&m, CARD_MSG_HELLO);
	snprintf(m.agent_id, sizeof(m.agent_id), "pc-clerk-01");
	snprintf(m.version, sizeof(m.version), "0.1.0");
	snprintf(m.os, sizeof(m.os), "linux");
	snprintf(m.backends[0], 17, "apdu");
	m.nbackends = 1;
	snprintf(m.pin_sources[0], 17, "tty");
	snprintf(m.pin_sources[1], 17, "pin-file");
	m.npin_sources = 2;
	roundtrip(&m, CARD_MSG_FROM_AGENT, &b);
	assert_string_equal(b.agent_id, "pc-clerk-01");
	assert_string_equal(b.version, "0.1.0");
	assert_string_equal(b.os, "linux");
	assert_string_equal(b.pcsc, "");
	assert_int_equal(b.nbackends, 1);
	assert_int_equal(b.npin_sources, 2);
	assert_string_equal(b.pin_sources[1], "pin-file");
	card_msg_clear(&b);
}

static void
tokens_roundtrip(void **state)
{
	struct card_msg m, b;
	struct card_msg_token t;
	char id[65];

	(void)state;
	card_msg_init(&m, CARD_MSG_TOKENS);
	m.seq = 7;
	token_fill(&t, "t1");
	snprintf(t.label, sizeof(t.label), "Nguyễn Văn A");
	snprintf(t.profile, sizeof(t.profile), "KYSO-PKI v1");
	t.has_pin = true;
	snprintf(t.pin_state, sizeof(t.pin_state), "ok");
	t.pin_retries_left = 3;
	assert_int_equal(card_msg_add_token(&m, &t), CARD_MSG_OK);
	card_msg_token_clear(&t);
	token_fill(&t, "t2");
	snprintf(t.atr, sizeof(t.atr), "3B084B59534F56433031");
	assert_int_equal(card_msg_add_token(&m, &t), CARD_MSG_OK);
	card_msg_token_clear(&t);
	roundtrip(&m, CARD_MSG_FROM_AGENT, &b);
	assert_int_equal(b.seq, 7);
	assert_int_equal(b.ntokens, 2);
	assert_string_equal(b.tokens[0].label, "Nguyễn Văn A");
	assert_true(b.tokens[0].has_pin);
	assert_int_equal(b.tokens[0].pin_retries_left, 3);
	assert_false(b.tokens[1].has_pin);
	assert_string_equal(b.tokens[1].atr, "3B084B59534F56433031");
	assert_int_equal(b.tokens[1].ncerts, 2);
	assert_int_equal(b.tokens[1].certs[1].len, sizeof(cert_b));
	assert_memory_equal(b.tokens[1].certs[1].der, cert_b, sizeof(cert_b));
	card_msg_key_id(cert_a, sizeof(cert_a), id);
	assert_string_equal(b.tokens[0].keys[1].key_id, id);
	assert_string_equal(b.tokens[0].keys[1].alg, "rsa-pkcs1-sha384");
	card_msg_clear(&b);
	card_msg_clear(&m);
	/* An empty snapshot (no token, pcscd down) is a valid message. */
	card_msg_init(&m, CARD_MSG_TOKENS);
	roundtrip(&m, CARD_MSG_FROM_AGENT, &b);
	assert_int_equal(b.ntokens, 0);
	card_msg_clear(&b);
}

static void
sign_fill(struct card_msg *m)
{
	card_msg_init(m, CARD_MSG_SIGN);
	snprintf(m->job, sizeof(m->job), "01J9ZQ4X7Y");
	card_msg_key_id(cert_a, sizeof(cert_a), m->key_id);
	snprintf(m->alg, sizeof(m->alg), "ecdsa-p256-sha256");
	for (int i = 0; i < 32; i++)
		m->hash[i] = (uint8_t)(i * 7);
	m->hash_len = 32;
	snprintf(m->display, sizeof(m->display), "4821 Ký duyệt QĐ 123/QĐ-UBND");
	m->deadline_ms = 118000;
}

static void
job_messages_roundtrip(void **state)
{
	static const enum card_msg_type plain_a[] = { CARD_MSG_TAKEN, CARD_MSG_PROMPT };
	struct card_msg m, b;

	(void)state;
	sign_fill(&m);
	roundtrip(&m, CARD_MSG_FROM_GATEWAY, &b);
	assert_string_equal(b.job, "01J9ZQ4X7Y");
	assert_int_equal(b.hash_len, 32);
	assert_memory_equal(b.hash, m.hash, 32);
	assert_string_equal(b.display, m.display);
	assert_int_equal(b.deadline_ms, 118000);
	for (size_t i = 0; i < 2; i++) {
		card_msg_init(&m, plain_a[i]);
		snprintf(m.job, sizeof(m.job), "j-%zu", i);
		roundtrip(&m, CARD_MSG_FROM_AGENT, &b);
		assert_string_equal(b.job, m.job);
	}
	card_msg_init(&m, CARD_MSG_CANCEL);
	snprintf(m.job, sizeof(m.job), "j-9");
	roundtrip(&m, CARD_MSG_FROM_GATEWAY, &b);
	assert_string_equal(b.job, "j-9");

	card_msg_init(&m, CARD_MSG_SIGNED);
	snprintf(m.job, sizeof(m.job), "j-1");
	card_msg_key_id(cert_a, sizeof(cert_a), m.key_id);
	memset(m.sig, 0xa5, 256);
	m.sig_len = 256;
	m.elapsed_ms = 412;
	roundtrip(&m, CARD_MSG_FROM_AGENT, &b);
	assert_int_equal(b.sig_len, 256);
	assert_memory_equal(b.sig, m.sig, 256);
	assert_int_equal(b.elapsed_ms, 412);

	card_msg_init(&m, CARD_MSG_FAILED);
	snprintf(m.job, sizeof(m.job), "j-2");
	m.code = 401;
	m.sub = 4015;
	snprintf(m.reason, sizeof(m.reason), "PIN_INCORRECT");
	snprintf(m.sw, sizeof(m.sw), "63C2");
	m.retries_left = 2;
	roundtrip(&m, CARD_MSG_FROM_AGENT, &b);
	assert_int_equal(b.code, 401);
	assert_int_equal(b.sub, 4015);
	assert_string_equal(b.sw, "63C2");
	assert_string_equal(b.pcsc_code, "");
	assert_int_equal(b.retries_left, 2);

	card_msg_init(&m, CARD_MSG_FAILED);
	snprintf(m.job, sizeof(m.job), "j-3");
	m.code = 209;
	m.sub = 2092;
	snprintf(m.pcsc_code, sizeof(m.pcsc_code), "0x80100013");
	roundtrip(&m, CARD_MSG_FROM_AGENT, &b);
	assert_string_equal(b.pcsc_code, "0x80100013");
	assert_int_equal(b.retries_left, -1);
}

static void
ping_pong_both_ways(void **state)
{
	static const enum card_msg_from dirs[] = { CARD_MSG_FROM_AGENT, CARD_MSG_FROM_GATEWAY };
	struct card_msg m, b;

	(void)state;
	for (size_t d = 0; d < 2; d++) {
		for (int t = CARD_MSG_PING; t <= CARD_MSG_PONG; t++) {
			card_msg_init(&m, (enum card_msg_type)t);
			snprintf(m.id, sizeof(m.id), "p-%zu", d);
			snprintf(m.time, sizeof(m.time), "2026-11-22T10:15:30.123Z");
			roundtrip(&m, dirs[d], &b);
			assert_string_equal(b.id, m.id);
			assert_string_equal(b.time, m.time);
		}
	}
}

static void
refuses_garbage_and_direction(void **state)
{
	(void)state;
	expect("", CARD_MSG_FROM_AGENT, CARD_MSG_E_JSON, NULL);
	expect("[1]", CARD_MSG_FROM_AGENT, CARD_MSG_E_JSON, NULL);
	expect("{\"type\":\"taken\",\"job\":\"a\"", CARD_MSG_FROM_AGENT, CARD_MSG_E_JSON, NULL);
	expect("{\"type\":\"taken\",\"job\":\"a\",\"job\":\"b\"}", CARD_MSG_FROM_AGENT,
	       CARD_MSG_E_JSON, NULL);
	expect("{\"job\":\"a\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_TYPE, "type");
	expect("{\"type\":\"apdu\",\"job\":\"a\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_TYPE, "type");
	expect("{\"type\":7}", CARD_MSG_FROM_AGENT, CARD_MSG_E_TYPE, "type");
	/* A gateway never receives sign/cancel; an agent never receives hello/taken/signed. */
	expect("{\"type\":\"cancel\",\"job\":\"a\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_DIRECTION,
	       "type");
	expect("{\"type\":\"taken\",\"job\":\"a\"}", CARD_MSG_FROM_GATEWAY, CARD_MSG_E_DIRECTION,
	       "type");
	expect("{\"type\":\"hello\",\"agent_id\":\"a\",\"version\":\"1\"}", CARD_MSG_FROM_GATEWAY,
	       CARD_MSG_E_DIRECTION, "type");
	expect("{\"type\":\"taken\",\"job\":\"a\",\"apdu\":\"00A4\"}", CARD_MSG_FROM_AGENT,
	       CARD_MSG_E_UNKNOWN, NULL);
	expect("{\"type\":\"taken\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_MISSING, "job");
	expect("{\"type\":\"taken\",\"job\":\"\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD, "job");
	expect("{\"type\":\"taken\",\"job\":\"a\\u0001\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD,
	       "job");
	/* jansson refuses \\u0000 itself (no JSON_ALLOW_NUL). */
	expect("{\"type\":\"taken\",\"job\":\"a\\u0000b\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_JSON,
	       NULL);
	expect("{\"type\":\"taken\",\"job\":"
	       "\"0123456789012345678901234567890123456789012345678901234567890123X\"}",
	       CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD, "job");
	expect("{\"type\":\"taken\",\"job\":5}", CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD, "job");
	expect("{\"type\":\"ping\",\"id\":\"1\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_MISSING, "time");
	expect("{\"type\":\"hello\",\"agent_id\":\"a\"}", CARD_MSG_FROM_AGENT, CARD_MSG_E_MISSING,
	       "version");
	expect("{\"type\":\"hello\",\"agent_id\":\"a\",\"version\":\"1\",\"pin_sources\":"
	       "[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
	       CARD_MSG_FROM_AGENT, CARD_MSG_E_LIMIT, "pin_sources");
	expect("{\"type\":\"hello\",\"agent_id\":\"a\",\"version\":\"1\",\"pin_sources\":[\"TTY\"]"
	       "}",
	       CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD, "pin_sources");
}

static void
too_big_is_refused_before_parsing(void **state)
{
	size_t n = CARD_MSG_TEXT_MAX + 1;
	char *big = malloc(n);
	struct card_msg m;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', n);
	assert_int_equal(card_msg_parse(big, n, CARD_MSG_FROM_AGENT, &m, NULL), CARD_MSG_E_TOOBIG);
	free(big);
}

static char *
sign_text(const char *alg, const char *hash_b64, const char *display, const char *deadline)
{
	static char buf[4096];
	char key_id[65];

	card_msg_key_id(cert_a, sizeof(cert_a), key_id);
	snprintf(
	        buf, sizeof(buf),
	        "{\"type\":\"sign\",\"job\":\"j\",\"key_id\":\"%s\",\"alg\":\"%s\",\"hash\":\"%s\","
	        "\"display\":\"%s\",\"deadline_ms\":%s}",
	        key_id, alg, hash_b64, display, deadline);
	return buf;
}

static void
sign_refusals(void **state)
{
	/* 32 zero bytes and 48 zero bytes in base64. */
	const char *h32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	const char *h48 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char longdisp[CARD_MSG_DISPLAY_CHARS + 2];
	enum card_msg_from g = CARD_MSG_FROM_GATEWAY;

	(void)state;
	expect(sign_text("rsa-pkcs1-sha256", h32, "x", "1000"), g, CARD_MSG_OK, NULL);
	expect(sign_text("rsa-pkcs1-sha384", h48, "x", "1000"), g, CARD_MSG_OK, NULL);
	/* PCSC.md 5.5: closed algorithm list, hash length of the algorithm. */
	expect(sign_text("rsa-raw", h32, "x", "1000"), g, CARD_MSG_E_FIELD, "alg");
	expect(sign_text("rsa-pkcs1-sha1", h32, "x", "1000"), g, CARD_MSG_E_FIELD, "alg");
	expect(sign_text("rsa-pkcs1-sha384", h32, "x", "1000"), g, CARD_MSG_E_FIELD, "hash");
	expect(sign_text("rsa-pkcs1-sha256", h48, "x", "1000"), g, CARD_MSG_E_FIELD, "hash");
	/* Strict base64: padding, alphabet, canonical trailing bits. */
	expect(sign_text("rsa-pkcs1-sha256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x",
	                 "1000"),
	       g, CARD_MSG_E_FIELD, "hash");
	expect(sign_text("rsa-pkcs1-sha256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=", "x",
	                 "1000"),
	       g, CARD_MSG_E_FIELD, "hash");
	expect(sign_text("rsa-pkcs1-sha256", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-A=", "x",
	                 "1000"),
	       g, CARD_MSG_E_FIELD, "hash");
	expect(sign_text("rsa-pkcs1-sha256", "AAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "x",
	                 "1000"),
	       g, CARD_MSG_E_FIELD, "hash");
	expect(sign_text("rsa-pkcs1-sha256", h32, "x", "0"), g, CARD_MSG_E_FIELD, "deadline_ms");
	expect(sign_text("rsa-pkcs1-sha256", h32, "x", "600001"), g, CARD_MSG_E_FIELD,
	       "deadline_ms");
	expect(sign_text("rsa-pkcs1-sha256", h32, "x", "1.5"), g, CARD_MSG_E_FIELD, "deadline_ms");
	expect(sign_text("rsa-pkcs1-sha256", h32, "x", "\"1000\""), g, CARD_MSG_E_FIELD,
	       "deadline_ms");
	expect(sign_text("rsa-pkcs1-sha256", h32, "a\\nb", "1000"), g, CARD_MSG_E_FIELD, "display");
	memset(longdisp, 'x', sizeof(longdisp) - 1);
	longdisp[sizeof(longdisp) - 1] = '\0';
	expect(sign_text("rsa-pkcs1-sha256", h32, longdisp, "1000"), g, CARD_MSG_E_FIELD,
	       "display");
	longdisp[sizeof(longdisp) - 2] = '\0'; /* exactly the limit */
	expect(sign_text("rsa-pkcs1-sha256", h32, longdisp, "1000"), g, CARD_MSG_OK, NULL);
}

static void
failed_and_signed_refusals(void **state)
{
	enum card_msg_from a = CARD_MSG_FROM_AGENT;
	char key_id[65], txt[512];

	(void)state;
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":401,\"sub\":4015}", a, CARD_MSG_OK,
	       NULL);
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":402,\"sub\":0}", a, CARD_MSG_OK, NULL);
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":401,\"sub\":2092}", a, CARD_MSG_E_FIELD,
	       "sub");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":99,\"sub\":0}", a, CARD_MSG_E_FIELD,
	       "code");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":401}", a, CARD_MSG_E_MISSING, "sub");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":401,\"sub\":4015,\"sw\":\"63c2\"}", a,
	       CARD_MSG_E_FIELD, "sw");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":401,\"sub\":4015,\"sw\":\"63C\"}", a,
	       CARD_MSG_E_FIELD, "sw");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":209,\"sub\":2092,\"pcsc\":"
	       "\"80100013\"}",
	       a, CARD_MSG_E_FIELD, "pcsc");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":209,\"sub\":2092,\"pcsc\":"
	       "\"0x8010001g\"}",
	       a, CARD_MSG_E_FIELD, "pcsc");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":401,\"sub\":4015,\"retries_left\":16}",
	       a, CARD_MSG_E_FIELD, "retries_left");
	expect("{\"type\":\"failed\",\"job\":\"j\",\"code\":401,\"sub\":4015,\"reason\":\"pin\"}",
	       a, CARD_MSG_E_FIELD, "reason");
	card_msg_key_id(cert_a, sizeof(cert_a), key_id);
	snprintf(txt, sizeof(txt),
	         "{\"type\":\"signed\",\"job\":\"j\",\"key_id\":\"%s\",\"signature\":\"AQID\"}",
	         key_id);
	expect(txt, a, CARD_MSG_OK, NULL);
	snprintf(txt, sizeof(txt),
	         "{\"type\":\"signed\",\"job\":\"j\",\"key_id\":\"%s\",\"signature\":\"\"}",
	         key_id);
	expect(txt, a, CARD_MSG_E_FIELD, "signature");
	snprintf(txt, sizeof(txt),
	         "{\"type\":\"signed\",\"job\":\"j\",\"key_id\":\"%s\",\"signature\":\"AQID\","
	         "\"elapsed_ms\":-1}",
	         key_id);
	expect(txt, a, CARD_MSG_E_FIELD, "elapsed_ms");
	key_id[0] = 'G';
	snprintf(txt, sizeof(txt),
	         "{\"type\":\"signed\",\"job\":\"j\",\"key_id\":\"%s\",\"signature\":\"AQID\"}",
	         key_id);
	expect(txt, a, CARD_MSG_E_FIELD, "key_id");
}

/* A tokens message as text with n tokens and the given key_id for each. */
static char *
tokens_text(int n, const char *key_id, const char *certs)
{
	size_t cap = 4096 + (size_t)n * 512;
	char *buf = malloc(cap);
	size_t o;

	assert_non_null(buf);
	o = (size_t)snprintf(buf, cap, "{\"type\":\"tokens\",\"seq\":1,\"tokens\":[");
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, cap - o,
		                      "%s{\"token_id\":\"t%d\",\"reader\":\"R\",\"serial\":\"s%d\","
		                      "\"certs\":%s,\"keys\":[{\"key_id\":\"%s\",\"alg\":"
		                      "\"ecdsa-p256-sha256\"}]}",
		                      i ? "," : "", i, i, certs, key_id);
	snprintf(buf + o, cap - o, "]}");
	return buf;
}

static void
tokens_refusals(void **state)
{
	enum card_msg_from a = CARD_MSG_FROM_AGENT;
	char key_id[65], other[65];
	char *t;

	(void)state;
	card_msg_key_id(cert_a, sizeof(cert_a), key_id); /* cert_a = "MIIAAwECAw==" */
	card_msg_key_id(cert_b, sizeof(cert_b), other);
	t = tokens_text(CARD_MSG_TOKENS_MAX, key_id, "[\"MIIAAwECAw==\"]");
	expect(t, a, CARD_MSG_OK, NULL);
	free(t);
	t = tokens_text(CARD_MSG_TOKENS_MAX + 1, key_id, "[\"MIIAAwECAw==\"]");
	expect(t, a, CARD_MSG_E_LIMIT, "tokens");
	free(t);
	/* A key must belong to one of the token's own certificates. */
	t = tokens_text(1, other, "[\"MIIAAwECAw==\"]");
	expect(t, a, CARD_MSG_E_FIELD, "key_id");
	free(t);
	t = tokens_text(1, key_id, "[]");
	expect(t, a, CARD_MSG_E_FIELD, "certs");
	free(t);
	t = tokens_text(1, key_id,
	                "[\"MIIAAwECAw==\",\"MIIAAwECAw==\",\"MIIAAwECAw==\",\"MIIAAwECAw==\","
	                "\"MIIAAwECAw==\"]");
	expect(t, a, CARD_MSG_E_LIMIT, "certs");
	free(t);
	t = tokens_text(1, key_id, "[\"MIIAAwECAw=\"]");
	expect(t, a, CARD_MSG_E_FIELD, "certs");
	free(t);
	t = tokens_text(1, key_id, "[7]");
	expect(t, a, CARD_MSG_E_FIELD, "certs");
	free(t);
	expect("{\"type\":\"tokens\",\"seq\":1}", a, CARD_MSG_E_MISSING, "tokens");
	expect("{\"type\":\"tokens\",\"seq\":-1,\"tokens\":[]}", a, CARD_MSG_E_FIELD, "seq");
	expect("{\"type\":\"tokens\",\"seq\":1,\"tokens\":{}}", a, CARD_MSG_E_FIELD, "tokens");
	expect("{\"type\":\"tokens\",\"seq\":1,\"tokens\":[1]}", a, CARD_MSG_E_FIELD, "tokens");
}

#define TOK                                                                                        \
	"{\"token_id\":\"t\",\"reader\":\"R\",\"serial\":\"s\",\"certs\":[\"MIIAAwECAw==\"],"      \
	"\"keys\":[{\"key_id\":\"%s\",\"alg\":\"rsa-pkcs1-sha256\"}]%s}"

static void
duplicate_token_and_bad_pin(void **state)
{
	char key_id[65], txt[2048];
	char one[700], two[700];

	(void)state;
	card_msg_key_id(cert_a, sizeof(cert_a), key_id);
	snprintf(one, sizeof(one), TOK, key_id, "");
	snprintf(txt, sizeof(txt), "{\"type\":\"tokens\",\"seq\":1,\"tokens\":[%s,%s]}", one, one);
	expect(txt, CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD, "token_id");
	snprintf(two, sizeof(two), TOK, key_id, ",\"pin\":{\"state\":\"ok\",\"retries_left\":99}");
	snprintf(txt, sizeof(txt), "{\"type\":\"tokens\",\"seq\":1,\"tokens\":[%s]}", two);
	expect(txt, CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD, "retries_left");
	snprintf(two, sizeof(two), TOK, key_id, ",\"pin\":{\"state\":\"ok\",\"puk\":1}");
	snprintf(txt, sizeof(txt), "{\"type\":\"tokens\",\"seq\":1,\"tokens\":[%s]}", two);
	expect(txt, CARD_MSG_FROM_AGENT, CARD_MSG_E_UNKNOWN, NULL);
	snprintf(two, sizeof(two), TOK, key_id, ",\"atr\":\"3B0\"");
	snprintf(txt, sizeof(txt), "{\"type\":\"tokens\",\"seq\":1,\"tokens\":[%s]}", two);
	expect(txt, CARD_MSG_FROM_AGENT, CARD_MSG_E_FIELD, "atr");
}

static void
builder_refuses_what_the_peer_would(void **state)
{
	struct card_msg m;
	char *txt = (char *)1;
	size_t len = 1;
	const char *field = NULL;

	(void)state;
	sign_fill(&m);
	m.hash_len = 20; /* SHA-1 sized: never on the socket (REGULATION.md D10) */
	assert_int_equal(card_msg_build(&m, CARD_MSG_FROM_GATEWAY, &txt, &len, &field),
	                 CARD_MSG_E_FIELD);
	assert_null(txt);
	assert_string_equal(field, "hash");
	sign_fill(&m);
	assert_int_equal(card_msg_build(&m, CARD_MSG_FROM_AGENT, &txt, &len, &field),
	                 CARD_MSG_E_DIRECTION);
	card_msg_init(&m, CARD_MSG_NONE);
	assert_int_equal(card_msg_build(&m, CARD_MSG_FROM_AGENT, &txt, &len, &field),
	                 CARD_MSG_E_TYPE);
	card_msg_init(&m, CARD_MSG_FAILED);
	snprintf(m.job, sizeof(m.job), "j");
	m.code = 401;
	m.sub = 4021;
	assert_int_equal(card_msg_build(&m, CARD_MSG_FROM_AGENT, &txt, &len, &field),
	                 CARD_MSG_E_FIELD);
	assert_string_equal(field, "sub");
}

static void
alg_table(void **state)
{
	(void)state;
	assert_int_equal(card_msg_alg_hash_len("rsa-pkcs1-sha512"), 64);
	assert_int_equal(card_msg_alg_hash_len("ecdsa-p384-sha384"), 48);
	assert_int_equal(card_msg_alg_hash_len("rsa-pss-sha256"), 32);
	assert_int_equal(card_msg_alg_hash_len("rsa-pkcs1-sha1"), 0);
	assert_false(card_msg_alg_known(NULL));
	assert_string_equal(card_msg_type_name(CARD_MSG_FAILED), "failed");
	assert_string_equal(card_msg_type_name(CARD_MSG_NONE), "none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hello_roundtrip),
		cmocka_unit_test(tokens_roundtrip),
		cmocka_unit_test(job_messages_roundtrip),
		cmocka_unit_test(ping_pong_both_ways),
		cmocka_unit_test(refuses_garbage_and_direction),
		cmocka_unit_test(too_big_is_refused_before_parsing),
		cmocka_unit_test(sign_refusals),
		cmocka_unit_test(failed_and_signed_refusals),
		cmocka_unit_test(tokens_refusals),
		cmocka_unit_test(duplicate_token_and_bad_pin),
		cmocka_unit_test(builder_refuses_what_the_peer_would),
		cmocka_unit_test(alg_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
