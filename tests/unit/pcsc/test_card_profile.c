/* The card-profile seam (PCSC.md §2.1): the registry (the KYSO-PKI applet first), detection by
 * ATR and then by SELECT in registry order against scripted cards, and the public operations
 * reaching the session's profile's functions, with NULL functions and missing capability
 * flags refused before any APDU. Fake profiles stand for PIV/OpenPGP-like ones. */
#include "script.h"

#include "card_int.h"

static const uint8_t KYSO_SELECT[] = { 0x00, 0xA4, 0x04, 0x0C, 0x09, 0xF0, 0x4B,
	                               0x59, 0x53, 0x4F, 0x50, 0x4B, 0x49, 0x01 };
static const uint8_t AID_A[] = { 0xA0, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t AID_B[] = { 0xA0, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t SELECT_A[] = { 0x00, 0xA4, 0x04, 0x0C, 0x05, 0xA0, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t SELECT_B[] = { 0x00, 0xA4, 0x04, 0x0C, 0x05, 0xA0, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t ATR_B[] = { 0x3B, 0x88, 0x80, 0x01, 0x42 };
static const uint8_t ATR_OTHER[] = { 0x3B, 0x80, 0x80, 0x01, 0x01 };

static int serial_calls;

static enum card_err
select_aid(struct card_session *s, const uint8_t *aid, size_t len, struct card_status *st)
{
	struct card_apdu a = { 0x00, 0xA4, 0x04, 0x0C, aid, len, 0 };
	uint8_t buf[8];
	size_t n = 0;
	uint16_t sw = 0;
	enum card_err e = card_transmit(s, &a, buf, sizeof(buf), &n, &sw);

	if (e == CARD_OK && sw != 0x9000)
		e = CARD_E_SW;
	return card__status(s, e, 0xA4, st);
}

static enum card_err
select_a(struct card_session *s, struct card_status *st)
{
	return select_aid(s, AID_A, sizeof(AID_A), st);
}

static enum card_err
select_b(struct card_session *s, struct card_status *st)
{
	return select_aid(s, AID_B, sizeof(AID_B), st);
}

static enum card_err
serial_b(struct card_session *s, uint8_t serial[CARD_SERIAL_LEN], struct card_status *st)
{
	serial_calls++;
	memset(serial, 0xB0, CARD_SERIAL_LEN);
	return card__status(s, CARD_OK, 0xCA, st);
}

static bool
atr_is_b(const uint8_t *atr, size_t len)
{
	return len == sizeof(ATR_B) && memcmp(atr, ATR_B, len) == 0;
}

/* A: SELECT only, no other operation, no flags. B: named by its ATR, reads a serial. */
static const struct card_profile_ops ops_a = { .select = select_a };
static const struct card_profile_ops ops_b = { .select = select_b, .read_serial = serial_b };
static const struct card_profile prof_a = {
	.name = "FAKE-A", .caps = 0, .aid = AID_A, .aid_len = sizeof(AID_A), .ops = &ops_a
};
static const struct card_profile prof_b = { .name = "FAKE-B",
	                                    .caps = CARD_CAP_PIN_STATUS,
	                                    .aid = AID_B,
	                                    .aid_len = sizeof(AID_B),
	                                    .atr_match = atr_is_b,
	                                    .ops = &ops_b };
static const struct card_profile *const both[] = { &prof_a, &prof_b };

static struct card_session *
session(struct script *s, const struct card_profile *p)
{
	struct card_session *sess = card_session_new(script_xfer, s, p);

	assert_non_null(sess);
	return sess;
}

static void
registry_holds_kyso_first(void **state)
{
	(void)state;
	assert_true(card_profile_count() >= 1);
	assert_ptr_equal(card_profile_at(0), card_profile_kyso());
	assert_null(card_profile_at(card_profile_count()));
	assert_string_equal(card_profile_name(card_profile_kyso()), "KYSO-PKI-v1");
	assert_int_equal(card_profile_caps(card_profile_kyso()),
	                 CARD_CAP_PIN_STATUS | CARD_CAP_DIGESTINFO | CARD_CAP_ECDSA_RS |
	                         CARD_CAP_SERIAL_DATA | CARD_CAP_CHANGE_PIN | CARD_CAP_UNBLOCK);
}

static void
detect_kyso_card(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, NULL);
	struct card_status st;

	(void)state;
	script_data(&s, KYSO_SELECT, sizeof(KYSO_SELECT), 0, 0x9000)->exact = true;
	assert_int_equal(card_profile_detect(sess, NULL, 0, &st), CARD_OK);
	assert_ptr_equal(card_session_profile(sess), card_profile_kyso());
	assert_int_equal(s.pos, 1); /* one SELECT, as before the seam */
	card_session_free(sess);
}

static void
detect_unknown_card(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, NULL);
	struct card_status st;

	(void)state;
	script_data(&s, KYSO_SELECT, sizeof(KYSO_SELECT), 0, 0x6A82);
	assert_int_equal(card_profile_detect(sess, ATR_OTHER, sizeof(ATR_OTHER), &st), CARD_E_SW);
	assert_int_equal(st.reason, CARD_R_WRONG_PROFILE);
	assert_int_equal(st.sw, 0x6A82);
	assert_null(card_session_profile(sess));
	card_session_free(sess);
}

static void
detect_by_atr_first(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, NULL);
	struct card_status st;

	(void)state;
	script_data(&s, SELECT_B, sizeof(SELECT_B), 0, 0x9000); /* B before A: its ATR */
	assert_int_equal(card__profile_detect_in(sess, both, 2, ATR_B, sizeof(ATR_B), &st),
	                 CARD_OK);
	assert_ptr_equal(card_session_profile(sess), &prof_b);
	assert_int_equal(s.pos, 1);
	card_session_free(sess);
}

static void
detect_by_select_in_order(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, NULL);
	struct card_status st;

	(void)state;
	script_data(&s, SELECT_A, sizeof(SELECT_A), 0, 0x6A82);
	script_data(&s, SELECT_B, sizeof(SELECT_B), 0, 0x9000);
	assert_int_equal(card__profile_detect_in(sess, both, 2, ATR_OTHER, sizeof(ATR_OTHER), &st),
	                 CARD_OK);
	assert_ptr_equal(card_session_profile(sess), &prof_b);
	assert_int_equal(s.pos, 2);
	card_session_free(sess);
}

static void
detect_stops_on_transport_failure(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, NULL);
	struct card_status st;

	(void)state;
	script_add(&s, SELECT_A, sizeof(SELECT_A), false, NULL, 0)->fail = CARD_E_REMOVED;
	assert_int_equal(card__profile_detect_in(sess, both, 2, NULL, 0, &st), CARD_E_REMOVED);
	assert_null(card_session_profile(sess));
	assert_int_equal(s.pos, 1); /* B is not tried on a card that left */
	card_session_free(sess);
}

static void
detect_empty_list(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, NULL);
	struct card_status st;

	(void)state;
	assert_int_equal(card__profile_detect_in(sess, both, 0, NULL, 0, &st), CARD_E_NO_PROFILE);
	assert_int_equal(s.pos, 0);
	card_session_free(sess);
}

static void
operations_reach_the_profile(void **state)
{
	struct script s = { 0 };
	struct card_session *sess = session(&s, &prof_b);
	struct card_status st;
	uint8_t serial[CARD_SERIAL_LEN] = { 0 };

	(void)state;
	serial_calls = 0;
	assert_int_equal(card_read_serial(sess, serial, &st), CARD_OK);
	assert_int_equal(serial_calls, 1);
	assert_int_equal(serial[0], 0xB0);
	assert_int_equal(s.pos, 0);
	card_session_free(sess);
}

static void
missing_operations_refused_without_apdu(void **state)
{
	struct script s = { 0 };
	struct card_session *a = session(&s, &prof_a), *none = session(&s, NULL);
	struct card_status st;
	struct card_pin pin, pin2;
	uint8_t hash[32] = { 0 }, sig[CARD_SIG_MAX], serial[CARD_SERIAL_LEN];
	size_t sig_len = 0;
	bool verified = false;

	(void)state;
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	assert_int_equal(card_sign(a, CARD_ALG_ECDSA_P256_SHA256, hash, sizeof(hash), &pin, sig,
	                           sizeof(sig), &sig_len, &st),
	                 CARD_E_NO_PROFILE);
	assert_int_equal(pin.len, 0); /* wiped even though nothing was sent */
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	assert_int_equal(card_verify(a, &pin, &st), CARD_E_NO_PROFILE);
	assert_int_equal(pin.len, 0);
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	assert_int_equal(card_pin_set(&pin2, "654321"), CARD_OK);
	assert_int_equal(card_change_pin(a, &pin, &pin2, &st), CARD_E_NO_PROFILE);
	assert_int_equal(pin.len + pin2.len, 0);
	assert_int_equal(card_read_serial(a, serial, &st), CARD_E_NO_PROFILE);
	/* A offers no PIN status query at all. */
	assert_int_equal(card_pin_status(a, false, &verified, &st), CARD_E_NO_PROFILE);
	assert_int_equal(card_select(none, &st), CARD_E_NO_PROFILE);
	assert_int_equal(st.reason, CARD_R_WRONG_PROFILE);
	assert_int_equal(s.pos, 0);
	card_session_free(a);
	card_session_free(none);
}

static void
pin_status_needs_the_flag(void **state)
{
	struct script s = { 0 };
	struct card_session *kyso = session(&s, card_profile_kyso());
	struct card_profile no_flag = *card_profile_kyso();
	struct card_session *sess;
	struct card_status st;
	bool verified = false;

	(void)state;
	no_flag.caps &= ~CARD_CAP_PIN_STATUS;
	sess = session(&s, &no_flag);
	assert_int_equal(card_pin_status(sess, false, &verified, &st), CARD_E_INVAL);
	assert_int_equal(s.pos, 0); /* no empty VERIFY on a card where it may cost a try */
	script_data(&s, NULL, 0, 0, 0x63C3);
	assert_int_equal(card_pin_status(kyso, false, &verified, &st), CARD_OK);
	assert_int_equal(st.retries_left, 3);
	assert_int_equal(s.pos, 1);
	card_session_free(sess);
	card_session_free(kyso);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registry_holds_kyso_first),
		cmocka_unit_test(detect_kyso_card),
		cmocka_unit_test(detect_unknown_card),
		cmocka_unit_test(detect_by_atr_first),
		cmocka_unit_test(detect_by_select_in_order),
		cmocka_unit_test(detect_stops_on_transport_failure),
		cmocka_unit_test(detect_empty_list),
		cmocka_unit_test(operations_reach_the_profile),
		cmocka_unit_test(missing_operations_refused_without_apdu),
		cmocka_unit_test(pin_status_needs_the_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
