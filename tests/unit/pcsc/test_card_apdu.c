/* APDU engine against a scripted card (PCSC.md §2.1): framing, 61xx chains and their bound,
 * 6Cxx resend once, wrong answer lengths, and the operations' status word handling. */
#include "script.h"

static const uint8_t GETRESP_00[] = { 0x00, 0xC0, 0x00, 0x00, 0x00 };
static const uint8_t GETRESP_10[] = { 0x00, 0xC0, 0x00, 0x00, 0x10 };

static struct card_session *
session(struct script *s, const struct card_profile *p)
{
	struct card_session *sess = card_session_new(script_xfer, s, p);

	assert_non_null(sess);
	return sess;
}

static void
encode_short_and_extended(void **state)
{
	uint8_t out[300], data[300];
	struct card_apdu a = { 0x00, 0xB0, 0x00, 0x00, NULL, 0, 256 };
	size_t len;

	(void)state;
	memset(data, 0xAB, sizeof(data));
	assert_int_equal(card_apdu_encode(&a, false, out, sizeof(out), &len), CARD_OK);
	assert_int_equal(len, 5);
	assert_int_equal(out[4], 0x00); /* Le 256 = 00 */
	a.le = 0;
	assert_int_equal(card_apdu_encode(&a, false, out, sizeof(out), &len), CARD_OK);
	assert_int_equal(len, 4); /* case 1 */
	a.data = data;
	a.lc = 3;
	a.le = 16;
	assert_int_equal(card_apdu_encode(&a, false, out, sizeof(out), &len), CARD_OK);
	assert_int_equal(len, 9); /* case 4: hdr Lc data Le */
	assert_int_equal(out[4], 3);
	assert_int_equal(out[8], 16);
	/* Extended: 00 Lc_hi Lc_lo data Le_hi Le_lo; 65536 = 0000. */
	a.lc = 300;
	a.le = 65536;
	assert_int_equal(card_apdu_encode(&a, false, out, sizeof(out), &len), CARD_E_TOOBIG);
	{
		uint8_t big[400];

		assert_int_equal(card_apdu_encode(&a, true, big, sizeof(big), &len), CARD_OK);
		assert_int_equal(len, 4 + 3 + 300 + 2);
		assert_int_equal(big[4], 0x00);
		assert_int_equal(big[5], 0x01);
		assert_int_equal(big[6], 0x2C);
		assert_int_equal(big[len - 2], 0x00);
		assert_int_equal(big[len - 1], 0x00);
	}
	/* Extended Le alone: 00 Le_hi Le_lo. */
	a.lc = 0;
	a.data = NULL;
	a.le = 1000;
	assert_int_equal(card_apdu_encode(&a, true, out, sizeof(out), &len), CARD_OK);
	assert_int_equal(len, 7);
	assert_int_equal(out[4], 0x00);
	assert_int_equal(out[5], 0x03);
	assert_int_equal(out[6], 0xE8);
	/* Lc without data, oversize values, small buffer. */
	a.lc = 2;
	assert_int_equal(card_apdu_encode(&a, true, out, sizeof(out), &len), CARD_E_INVAL);
	a.lc = 0;
	a.le = 65537;
	assert_int_equal(card_apdu_encode(&a, true, out, sizeof(out), &len), CARD_E_INVAL);
	a.le = 1;
	assert_int_equal(card_apdu_encode(&a, true, out, 4, &len), CARD_E_TOOBIG);
}

static void
rapdu_parse_lengths(void **state)
{
	const uint8_t r[] = { 0x01, 0x02, 0x90, 0x00 };
	size_t dlen = 99;
	uint16_t sw = 0;

	(void)state;
	assert_int_equal(card_rapdu_parse(r, 0, &dlen, &sw), CARD_E_PROTO);
	assert_int_equal(card_rapdu_parse(r, 1, &dlen, &sw), CARD_E_PROTO);
	assert_int_equal(card_rapdu_parse(NULL, 4, &dlen, &sw), CARD_E_PROTO);
	assert_int_equal(card_rapdu_parse(r + 2, 2, &dlen, &sw), CARD_OK);
	assert_int_equal(dlen, 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(card_rapdu_parse(r, 4, &dlen, &sw), CARD_OK);
	assert_int_equal(dlen, 2);
}

/* ---- card_transmit against one script: the cases below differ only in their data ---- */

/* A scripted answer: n data bytes (value i & 0xFF), then sw, `times` times (0 counts as 1).
 * With cmd, the command must start with (exact: be) those bytes. */
struct answer {
	const uint8_t *cmd;
	size_t cmd_len;
	bool exact;
	size_t n;
	uint16_t sw;
	int times;
};

struct out_byte {
	size_t at;
	uint8_t value;
};

struct transmit_case {
	const char *name;
	struct card_apdu apdu;
	size_t out_cap; /* the caller's buffer */
	struct answer answers[3];
	enum card_err rc;
	uint16_t sw;                  /* with rc CARD_OK: the final status word */
	size_t len;                   /* with rc CARD_OK: the bytes returned */
	size_t sent;                  /* commands the card saw; 0: not checked */
	const struct out_byte *bytes; /* with rc CARD_OK: bytes of the answer */
	size_t nbytes;
};

static const uint8_t in51[51];
static const uint8_t LE_00[] = { 0x00, 0xCA, 0x01, 0x01, 0x00 };
static const uint8_t LE_10[] = { 0x00, 0xCA, 0x01, 0x01, 0x10 };

static struct transmit_case transmit_cases[] = {
	/* T=0 case 4: 61 00 -> GET RESPONSE 00 (256 bytes, 61 10) -> GET RESPONSE 10 -> 9000. */
	{ .name = "get_response_chain",
	  .apdu = { 0x00, 0x2A, 0x9E, 0x9A, in51, sizeof(in51), 256 },
	  .out_cap = 600,
	  .answers = { { .sw = 0x6100 },
	               { .cmd = GETRESP_00, .cmd_len = 5, .n = 256, .sw = 0x6110 },
	               { .cmd = GETRESP_10, .cmd_len = 5, .n = 16, .sw = 0x9000 } },
	  .rc = CARD_OK,
	  .sw = 0x9000,
	  .len = 272,
	  .sent = 3,
	  .bytes = (const struct out_byte[]){ { 255, 255 }, { 256, 0 } },
	  .nbytes = 2 },
	/* A card that never stops answering 61 01: 1 + 16 rounds, then a protocol error. */
	{ .name = "get_response_bounded",
	  .apdu = { 0x00, 0xCA, 0x01, 0x01, NULL, 0, 16 },
	  .out_cap = 600,
	  .answers = { { .sw = 0x6101 }, { .n = 1, .sw = 0x6101, .times = CARD_GETRESP_ROUNDS } },
	  .rc = CARD_E_PROTO,
	  .sent = 1 + CARD_GETRESP_ROUNDS },
	/* 140 bytes chained into a buffer of 100. */
	{ .name = "get_response_caller_buffer",
	  .apdu = { 0x00, 0xCA, 0x01, 0x01, NULL, 0, 16 },
	  .out_cap = 100,
	  .answers = { { .n = 60, .sw = 0x6150 }, { .n = 80, .sw = 0x9000 } },
	  .rc = CARD_E_TOOBIG },
	{ .name = "wrong_le_resend_once",
	  .apdu = { 0x00, 0xCA, 0x01, 0x01, NULL, 0, 256 },
	  .out_cap = 300,
	  .answers = { { .cmd = LE_00, .cmd_len = sizeof(LE_00), .exact = true, .sw = 0x6C10 },
	               { .cmd = LE_10,
	                 .cmd_len = sizeof(LE_10),
	                 .exact = true,
	                 .n = 16,
	                 .sw = 0x9000 } },
	  .rc = CARD_OK,
	  .sw = 0x9000,
	  .len = 16 },
	{ .name = "wrong_le_twice_is_an_error",
	  .apdu = { 0x00, 0xCA, 0x01, 0x01, NULL, 0, 256 },
	  .out_cap = 300,
	  .answers = { { .sw = 0x6C10 }, { .sw = 0x6C11 } },
	  .rc = CARD_E_PROTO,
	  .sent = 2 },
};

static void
run_transmit_case(void **state)
{
	const struct transmit_case *c = *state;
	struct script s = { 0 };
	uint8_t out[600];
	struct card_session *sess = session(&s, card_profile_kyso());
	size_t len = 0, i;
	uint16_t sw = 0;

	assert_true(c->out_cap <= sizeof(out));
	for (i = 0; i < sizeof(c->answers) / sizeof(c->answers[0]); i++) {
		const struct answer *a = &c->answers[i];

		for (int k = 0; k < (a->times > 0 ? a->times : 1) && a->sw != 0; k++)
			script_data(&s, a->cmd, a->cmd_len, a->n, a->sw)->exact = a->exact;
	}
	assert_int_equal(card_transmit(sess, &c->apdu, out, c->out_cap, &len, &sw), c->rc);
	if (c->rc == CARD_OK) {
		assert_int_equal(sw, c->sw);
		assert_int_equal(len, c->len);
		for (i = 0; i < c->nbytes; i++)
			assert_int_equal(out[c->bytes[i].at], c->bytes[i].value);
	}
	if (c->sent > 0)
		assert_int_equal(s.pos, c->sent);
	card_session_free(sess);
}

static void
short_answers_are_protocol_errors(void **state)
{
	struct script s = { 0 };
	static const uint8_t one[] = { 0x90 };
	uint8_t out[300];
	struct card_apdu a = { 0x00, 0xCA, 0x01, 0x01, NULL, 0, 16 };
	struct card_session *sess = session(&s, card_profile_kyso());
	size_t len = 0;
	uint16_t sw = 0;

	(void)state;
	script_add(&s, NULL, 0, false, one, 1);
	script_add(&s, NULL, 0, false, NULL, 0);
	assert_int_equal(card_transmit(sess, &a, out, sizeof(out), &len, &sw), CARD_E_PROTO);
	assert_int_equal(card_transmit(sess, &a, out, sizeof(out), &len, &sw), CARD_E_PROTO);
	card_session_free(sess);
}

static void
transport_error_carries_raw_code(void **state)
{
	struct script s = { 0 };
	struct card_status st;
	struct card_session *sess = session(&s, card_profile_kyso());
	struct step *x;

	(void)state;
	x = script_add(&s, NULL, 0, false, NULL, 0);
	x->fail = CARD_E_REMOVED;
	x->raw = 0x80100069u;
	assert_int_equal(card_select(sess, &st), CARD_E_REMOVED);
	assert_int_equal(st.reason, CARD_R_CARD_REMOVED);
	assert_int_equal(st.pcsc, 0x80100069u);
	assert_int_equal(st.sw, 0);
	card_session_free(sess);
}

static void
extended_when_allowed_else_too_big(void **state)
{
	struct script s = { 0 };
	uint8_t data[300], out[600];
	struct card_apdu a = { 0x00, 0x2A, 0x9E, 0x9A, data, sizeof(data), 512 };
	struct card_session *ext = session(&s, NULL); /* no profile: extended allowed */
	struct card_session *kyso = session(&s, card_profile_kyso());
	size_t len = 0;
	uint16_t sw = 0;

	(void)state;
	memset(data, 1, sizeof(data));
	script_data(&s, NULL, 0, 512, 0x9000);
	assert_int_equal(card_transmit(ext, &a, out, sizeof(out), &len, &sw), CARD_OK);
	assert_int_equal(len, 512);
	assert_int_equal(s.last_len, 4 + 3 + 300 + 2);
	/* KYSO-PKI v1 is short-only and has no chaining: refused before anything is sent. */
	assert_int_equal(card_transmit(kyso, &a, out, sizeof(out), &len, &sw), CARD_E_TOOBIG);
	assert_int_equal(s.pos, 1);
	card_session_free(ext);
	card_session_free(kyso);
}

/* READ BINARY: Le 00 first, then exactly the rest announced by the DER header. */
static void
read_cert_uses_der_length(void **state)
{
	struct script s = { 0 };
	static const uint8_t sel[] = { 0x00, 0xA4, 0x02, 0x0C, 0x02, 0xC1, 0x01 };
	static const uint8_t rb0[] = { 0x00, 0xB0, 0x00, 0x00, 0x00 };
	static const uint8_t rb1[] = { 0x00, 0xB0, 0x01, 0x00, 0x30 };
	uint8_t cert[CARD_CERT_MAX];
	struct card_status st;
	struct card_session *sess = session(&s, card_profile_kyso());
	struct step *first;
	size_t len = 0;

	(void)state;
	script_data(&s, sel, sizeof(sel), 0, 0x9000)->exact = true;
	first = script_data(&s, rb0, sizeof(rb0), 256, 0x9000);
	first->exact = true;
	first->resp[0] = 0x30, first->resp[1] = 0x82, first->resp[2] = 0x01, first->resp[3] = 0x2C;
	script_data(&s, rb1, sizeof(rb1), 0x30, 0x9000)->exact = true;
	assert_int_equal(card_read_cert(sess, cert, sizeof(cert), &len, &st), CARD_OK);
	assert_int_equal(len, 4 + 0x12C);
	assert_int_equal(s.pos, 3);
	card_session_free(sess);
}

static void
read_binary_stops_on_eof_and_past_end(void **state)
{
	struct script s = { 0 };
	uint8_t cert[CARD_CERT_MAX];
	struct card_status st;
	struct card_session *sess = session(&s, card_profile_kyso());
	size_t len = 0;

	(void)state;
	script_data(&s, NULL, 0, 0, 0x9000);   /* SELECT EF */
	script_data(&s, NULL, 0, 100, 0x6282); /* short with EOF warning: data valid */
	assert_int_equal(card_read_cert(sess, cert, sizeof(cert), &len, &st), CARD_OK);
	assert_int_equal(len, 100);
	script_data(&s, NULL, 0, 0, 0x9000);   /* SELECT EF */
	script_data(&s, NULL, 0, 256, 0x9000); /* no DER header: read on */
	script_data(&s, NULL, 0, 0, 0x6B00);   /* past the end */
	assert_int_equal(card_read_cert(sess, cert, sizeof(cert), &len, &st), CARD_OK);
	assert_int_equal(len, 256);
	script_data(&s, NULL, 0, 0, 0x6A82); /* no such file */
	assert_int_equal(card_read_cert(sess, cert, sizeof(cert), &len, &st), CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_WRONG_PROFILE);
	card_session_free(sess);
}

struct trace_log {
	char lines[16][128];
	int n;
};

static void
collect(void *arg, const char *line)
{
	struct trace_log *t = arg;

	if (t->n < 16)
		snprintf(t->lines[t->n++], 128, "%s", line);
}

static void
verify_counts_and_hides_pin(void **state)
{
	struct script s = { 0 };
	static const uint8_t verify[] = { 0x00, 0x20, 0x00, 0x81, 0x08, '4', '3',
		                          '2',  '1',  '9',  '8',  0xFF, 0xFF };
	struct card_session *sess = session(&s, card_profile_kyso());
	struct trace_log t = { 0 };
	struct card_status st;
	struct card_pin pin;
	int i;

	(void)state;
	card_session_set_trace(sess, collect, &t);
	script_data(&s, verify, sizeof(verify), 0, 0x63C2)->exact = true;
	assert_int_equal(card_pin_set(&pin, "432198"), CARD_OK);
	assert_int_equal(card_verify(sess, &pin, &st), CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_PIN_INCORRECT);
	assert_int_equal(st.retries_left, 2);
	assert_int_equal(pin.len, 0); /* wiped */
	for (i = 0; i < (int)sizeof(pin.digits); i++)
		assert_int_equal(pin.digits[i], 0);
	assert_true(t.n >= 1);
	for (i = 0; i < t.n; i++) {
		assert_null(strstr(t.lines[i], "34 33"));
		assert_null(strstr(t.lines[i], "FF FF"));
	}
	assert_non_null(strstr(t.lines[0], "data hidden"));
	/* 6983 blocked; 63C0 blocked too; wrong PIN format never reaches the card. */
	script_data(&s, NULL, 0, 0, 0x6983);
	assert_int_equal(card_pin_set(&pin, "1234"), CARD_OK);
	assert_int_equal(card_verify(sess, &pin, &st), CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_PIN_BLOCKED);
	assert_int_equal(st.retries_left, 0);
	assert_int_equal(pin.len, 0); /* wiped when blocked too */
	script_data(&s, NULL, 0, 0, 0x63C0);
	assert_int_equal(card_pin_set(&pin, "1234"), CARD_OK);
	assert_int_equal(card_verify(sess, &pin, &st), CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_PIN_BLOCKED);
	assert_int_equal(pin.len, 0);
	assert_int_equal(card_pin_set(&pin, "123456789"), CARD_OK);
	assert_int_equal(card_verify(sess, &pin, &st), CARD_E_INVAL);
	assert_int_equal(pin.len, 0); /* wiped though refused before the card */
	for (i = 0; i < (int)sizeof(pin.digits); i++)
		assert_int_equal(pin.digits[i], 0);
	assert_int_equal(s.pos, s.n);
	assert_int_equal(card_pin_set(&pin, "12a4"), CARD_E_INVAL);
	assert_int_equal(card_pin_set(&pin, "123"), CARD_E_INVAL);
	card_session_free(sess);
}

static void
assert_pin_wiped(const struct card_pin *pin)
{
	size_t i;

	assert_int_equal(pin->len, 0);
	for (i = 0; i < sizeof(pin->digits); i++)
		assert_int_equal(pin->digits[i], 0);
}

/* The transport failing under VERIFY (card pulled, reader gone, link error): the PIN went into
 * the command, and the PIN buffer is wiped all the same (PCSC.md §4). */
static void
verify_transport_failure_wipes_pin(void **state)
{
	static const uint8_t verify[] = { 0x00, 0x20, 0x00, 0x81, 0x08, '5', '6',
		                          '7',  '8',  '9',  '0',  0xFF, 0xFF };
	static const struct {
		enum card_err err;
		uint32_t raw;
		enum card_reason reason;
	} fails[] = {
		{ CARD_E_REMOVED, 0x80100069u /* SCARD_W_REMOVED_CARD */, CARD_R_CARD_REMOVED },
		{ CARD_E_NO_SERVICE, 0x8010001Du /* SCARD_E_NO_SERVICE */, CARD_R_CARD_REMOVED },
		{ CARD_E_TRANSPORT, 0x80100013u /* SCARD_F_COMM_ERROR */, CARD_R_CARD_ERROR },
	};
	struct script s = { 0 };
	struct card_session *sess = session(&s, card_profile_kyso());
	struct card_status st;
	struct card_pin pin;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
		struct step *x = script_add(&s, verify, sizeof(verify), true, NULL, 0);

		x->fail = fails[i].err;
		x->raw = fails[i].raw;
		assert_int_equal(card_pin_set(&pin, "567890"), CARD_OK);
		assert_int_equal(card_verify(sess, &pin, &st), fails[i].err);
		assert_int_equal(s.pos, i + 1); /* the VERIFY, with the PIN block, was sent */
		assert_int_equal(st.reason, fails[i].reason);
		assert_int_equal(st.pcsc, fails[i].raw);
		assert_pin_wiped(&pin);
	}
	/* The re-VERIFY inside a signature (6982 on PSO) failing the same way: wiped too. */
	{
		uint8_t hash[32], sig[CARD_SIG_MAX];
		size_t len = 0;
		struct step *x;

		memset(hash, 7, sizeof(hash));
		script_data(&s, NULL, 0, 0, 0x9000); /* MSE */
		script_data(&s, NULL, 0, 0, 0x6982); /* PSO: security status not satisfied */
		x = script_add(&s, verify, sizeof(verify), true, NULL, 0);
		x->fail = CARD_E_REMOVED;
		x->raw = 0x80100069u;
		assert_int_equal(card_pin_set(&pin, "567890"), CARD_OK);
		assert_int_equal(card_sign(sess, CARD_ALG_RSA_PKCS1_SHA256, hash, 32, &pin, sig,
		                           sizeof(sig), &len, &st),
		                 CARD_E_REMOVED);
		assert_int_equal(st.reason, CARD_R_CARD_REMOVED);
		assert_pin_wiped(&pin);
	}
	assert_int_equal(s.pos, s.n);
	card_session_free(sess);
}

static void
unblock_counts_puk(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, card_profile_kyso());
	struct card_pin puk, pin;
	struct card_status st;

	(void)state;
	script_data(&s, NULL, 0, 0, 0x63C9);
	assert_int_equal(card_pin_set(&puk, "12345678"), CARD_OK);
	assert_int_equal(card_pin_set(&pin, "1234"), CARD_OK);
	assert_int_equal(card_unblock(sess, &puk, &pin, &st), CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_PUK_INCORRECT);
	assert_int_equal(st.retries_left, 9);
	assert_int_equal(s.last_cmd[1], 0x2C);
	assert_int_equal(s.last_cmd[4], 0x10);
	assert_int_equal(puk.len, 0);
	assert_int_equal(pin.len, 0);
	script_data(&s, NULL, 0, 0, 0x6983);
	assert_int_equal(card_pin_set(&puk, "12345678"), CARD_OK);
	assert_int_equal(card_pin_set(&pin, "1234"), CARD_OK);
	assert_int_equal(card_unblock(sess, &puk, &pin, &st), CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_PUK_BLOCKED);
	assert_int_equal(puk.len, 0);
	assert_int_equal(pin.len, 0);
	card_session_free(sess);
}

/* PSO 6982 (security status not satisfied): VERIFY once in the same transaction, then PSO. */
static void
sign_reverifies_once_on_6982(void **state)
{
	struct script s = { 0 };
	uint8_t hash[32], sig[CARD_SIG_MAX];
	struct card_session *sess = session(&s, card_profile_kyso());
	struct card_status st;
	struct card_pin pin;
	size_t len = 0;

	(void)state;
	memset(hash, 7, sizeof(hash));
	script_data(&s, NULL, 0, 0, 0x9000);   /* MSE */
	script_data(&s, NULL, 0, 0, 0x6982);   /* PSO */
	script_data(&s, NULL, 0, 0, 0x9000);   /* VERIFY */
	script_data(&s, NULL, 0, 256, 0x9000); /* PSO */
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	assert_int_equal(card_sign(sess, CARD_ALG_RSA_PKCS1_SHA256, hash, 32, &pin, sig,
	                           sizeof(sig), &len, &st),
	                 CARD_OK);
	assert_int_equal(len, 256);
	assert_int_equal(s.sent[2][1], 0x20);
	assert_int_equal(pin.len, 0);
	/* MSE data: 80 01 02 84 01 01; PSO input = DigestInfo (51 bytes). */
	assert_int_equal(s.sent[0][7], 0x02);
	assert_int_equal(s.sent[1][4], 51);
	/* A second 6982 after VERIFY is a card error (900/9003), not a loop. */
	script_data(&s, NULL, 0, 0, 0x9000);
	script_data(&s, NULL, 0, 0, 0x6982);
	script_data(&s, NULL, 0, 0, 0x9000);
	script_data(&s, NULL, 0, 0, 0x6982);
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	assert_int_equal(card_sign(sess, CARD_ALG_RSA_PKCS1_SHA256, hash, 32, &pin, sig,
	                           sizeof(sig), &len, &st),
	                 CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_CARD_ERROR);
	assert_int_equal(s.pos, s.n);
	card_session_free(sess);
}

static void
sign_maps_mse_and_pso_errors(void **state)
{
	struct script s = { 0 };
	uint8_t hash[64], sig[CARD_SIG_MAX];
	struct card_session *sess = session(&s, card_profile_kyso());
	struct card_status st;
	size_t len = 0;

	(void)state;
	memset(hash, 1, sizeof(hash));
	script_data(&s, NULL, 0, 0, 0x6A88);
	assert_int_equal(card_sign(sess, CARD_ALG_ECDSA_P256_SHA256, hash, 32, NULL, sig,
	                           sizeof(sig), &len, &st),
	                 CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_KEY_NOT_FOUND);
	script_data(&s, NULL, 0, 0, 0x6A81);
	assert_int_equal(card_sign(sess, CARD_ALG_ECDSA_P256_SHA256, hash, 32, NULL, sig,
	                           sizeof(sig), &len, &st),
	                 CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_UNSUPPORTED_ALG);
	/* ECDSA answer of the wrong length is a protocol error. */
	script_data(&s, NULL, 0, 0, 0x9000);
	script_data(&s, NULL, 0, 63, 0x9000);
	assert_int_equal(card_sign(sess, CARD_ALG_ECDSA_P256_SHA256, hash, 32, NULL, sig,
	                           sizeof(sig), &len, &st),
	                 CARD_E_PROTO);
	/* Wrong hash length: refused before any APDU. */
	assert_int_equal(card_sign(sess, CARD_ALG_RSA_PKCS1_SHA384, hash, 32, NULL, sig,
	                           sizeof(sig), &len, &st),
	                 CARD_E_INVAL);
	assert_int_equal(st.reason, CARD_R_BAD_INPUT);
	assert_int_equal(s.pos, s.n);
	card_session_free(sess);
}

static void
pin_status_query(void **state)
{
	struct script s = { 0 };
	static const uint8_t q[] = { 0x00, 0x20, 0x00, 0x81 };
	struct card_session *sess = session(&s, card_profile_kyso());
	struct card_status st;
	bool verified = true;

	(void)state;
	script_data(&s, q, sizeof(q), 0, 0x63C3)->exact = true;
	assert_int_equal(card_pin_status(sess, false, &verified, &st), CARD_OK);
	assert_false(verified);
	assert_int_equal(st.retries_left, 3);
	assert_int_equal(st.reason, CARD_R_NONE);
	script_data(&s, NULL, 0, 0, 0x9000);
	assert_int_equal(card_pin_status(sess, false, &verified, &st), CARD_OK);
	assert_true(verified);
	script_data(&s, NULL, 0, 0, 0x6983);
	assert_int_equal(card_pin_status(sess, false, &verified, &st), CARD_OK);
	assert_int_equal(st.reason, CARD_R_PIN_BLOCKED);
	assert_int_equal(st.retries_left, 0);
	card_session_free(sess);
}

#define N_TRANSMIT (sizeof(transmit_cases) / sizeof(transmit_cases[0]))

int
main(void)
{
	const struct CMUnitTest others[] = {
		cmocka_unit_test(encode_short_and_extended),
		cmocka_unit_test(rapdu_parse_lengths),
		cmocka_unit_test(short_answers_are_protocol_errors),
		cmocka_unit_test(transport_error_carries_raw_code),
		cmocka_unit_test(extended_when_allowed_else_too_big),
		cmocka_unit_test(read_cert_uses_der_length),
		cmocka_unit_test(read_binary_stops_on_eof_and_past_end),
		cmocka_unit_test(verify_counts_and_hides_pin),
		cmocka_unit_test(verify_transport_failure_wipes_pin),
		cmocka_unit_test(unblock_counts_puk),
		cmocka_unit_test(sign_reverifies_once_on_6982),
		cmocka_unit_test(sign_maps_mse_and_pso_errors),
		cmocka_unit_test(pin_status_query),
	};
	struct CMUnitTest tests[N_TRANSMIT + sizeof(others) / sizeof(others[0])];
	size_t i, n = 0;

	/* Each transmit case runs as a test of its own name. */
	for (i = 0; i < N_TRANSMIT; i++)
		tests[n++] = (struct CMUnitTest){ .name = transmit_cases[i].name,
			                          .test_func = run_transmit_case,
			                          .initial_state = &transmit_cases[i] };
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		tests[n++] = others[i];
	return _cmocka_run_group_tests("test_card_apdu", tests, n, NULL, NULL);
}
