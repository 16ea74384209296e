/* Token operations of kyso/card.h section 3, through the session's card profile (PCSC.md §2.1):
 * the registry of profiles, their detection on a card, and the public operations, which check
 * the profile and its capability flags and call the profile's own function. */
#include "card_int.h"

/* Detection order. A new profile (PIV, OpenPGP, PKCS#15) is one more entry here. */
static const struct card_profile *(*const registry[])(void) = { card_profile_kyso };

#define REGISTRY_LEN (sizeof(registry) / sizeof(registry[0]))

size_t
card_profile_count(void)
{
	return REGISTRY_LEN;
}

const struct card_profile *
card_profile_at(size_t i)
{
	return i < REGISTRY_LEN ? registry[i]() : NULL;
}

const char *
card_profile_name(const struct card_profile *p)
{
	return p->name;
}

unsigned
card_profile_caps(const struct card_profile *p)
{
	return p->caps;
}

const struct card_profile *
card_session_profile(const struct card_session *s)
{
	return s->prof;
}

static bool
atr_names(const struct card_profile *p, const uint8_t *atr, size_t atr_len)
{
	return atr != NULL && p->atr_match != NULL && p->atr_match(atr, atr_len);
}

/* Tries p by SELECT: CARD_OK keeps it on the session. */
static enum card_err
try_profile(struct card_session *s, const struct card_profile *p, struct card_status *st)
{
	enum card_err e;

	s->prof = p;
	if ((e = card_select(s, st)) != CARD_OK)
		s->prof = NULL;
	return e;
}

enum card_err
card__profile_detect_in(struct card_session *s, const struct card_profile *const *list, size_t n,
                        const uint8_t *atr, size_t atr_len, struct card_status *st)
{
	enum card_err e = card__status(s, CARD_E_NO_PROFILE, 0xA4, st);

	s->prof = NULL;
	/* Two passes: the profiles the ATR names, then the rest; each profile is tried once. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			if (atr_names(list[i], atr, atr_len) != (pass == 0))
				continue;
			e = try_profile(s, list[i], st);
			if (e != CARD_E_SW) /* selected, or the card or transport failed */
				return e;
		}
	}
	return e;
}

enum card_err
card_profile_detect(struct card_session *s, const uint8_t *atr, size_t atr_len,
                    struct card_status *st)
{
	const struct card_profile *list[REGISTRY_LEN];

	for (size_t i = 0; i < REGISTRY_LEN; i++)
		list[i] = registry[i]();
	return card__profile_detect_in(s, list, REGISTRY_LEN, atr, atr_len, st);
}

/* The profile's function for an operation, or NULL: then *st says CARD_E_NO_PROFILE. */
#define PROFILE_OP(s, op) ((s)->prof != NULL ? (s)->prof->ops->op : NULL)

enum card_err
card_select(struct card_session *s, struct card_status *st)
{
	if (PROFILE_OP(s, select) == NULL)
		return card__status(s, CARD_E_NO_PROFILE, 0, st);
	return s->prof->ops->select(s, st);
}

enum card_err
card_read_serial(struct card_session *s, uint8_t serial[CARD_SERIAL_LEN], struct card_status *st)
{
	if (PROFILE_OP(s, read_serial) == NULL)
		return card__status(s, CARD_E_NO_PROFILE, 0, st);
	return s->prof->ops->read_serial(s, serial, st);
}

enum card_err
card_read_label(struct card_session *s, char *label, size_t cap, struct card_status *st)
{
	if (PROFILE_OP(s, read_label) == NULL)
		return card__status(s, CARD_E_NO_PROFILE, 0, st);
	return s->prof->ops->read_label(s, label, cap, st);
}

enum card_err
card_read_cert(struct card_session *s, uint8_t *out, size_t cap, size_t *out_len,
               struct card_status *st)
{
	if (PROFILE_OP(s, read_cert) == NULL)
		return card__status(s, CARD_E_NO_PROFILE, 0, st);
	return s->prof->ops->read_cert(s, out, cap, out_len, st);
}

enum card_err
card_pin_status(struct card_session *s, bool puk, bool *verified, struct card_status *st)
{
	if (PROFILE_OP(s, pin_status) == NULL)
		return card__status(s, CARD_E_NO_PROFILE, 0, st);
	/* An empty VERIFY costs a try on some cards (P14): only where the profile says free. */
	if (!(s->prof->caps & CARD_CAP_PIN_STATUS))
		return card__status(s, CARD_E_INVAL, 0x20, st);
	return s->prof->ops->pin_status(s, puk, verified, st);
}

enum card_err
card_verify(struct card_session *s, struct card_pin *pin, struct card_status *st)
{
	if (PROFILE_OP(s, verify) == NULL) {
		card_pin_wipe(pin);
		return card__status(s, CARD_E_NO_PROFILE, 0x20, st);
	}
	return s->prof->ops->verify(s, pin, st);
}

enum card_err
card_sign(struct card_session *s, enum card_alg alg, const uint8_t *hash, size_t hash_len,
          struct card_pin *pin, uint8_t *sig, size_t cap, size_t *sig_len, struct card_status *st)
{
	if (PROFILE_OP(s, sign) == NULL) {
		card_pin_wipe(pin);
		return card__status(s, CARD_E_NO_PROFILE, 0x2A, st);
	}
	return s->prof->ops->sign(s, alg, hash, hash_len, pin, sig, cap, sig_len, st);
}

/* Change and unblock: offered only where the profile's flag says so. */
static enum card_err
two_pins_refused(struct card_session *s, uint8_t ins, struct card_pin *first,
                 struct card_pin *second, struct card_status *st)
{
	card_pin_wipe(first);
	card_pin_wipe(second);
	return card__status(s, CARD_E_NO_PROFILE, ins, st);
}

enum card_err
card_change_pin(struct card_session *s, struct card_pin *old_pin, struct card_pin *new_pin,
                struct card_status *st)
{
	if (PROFILE_OP(s, change_pin) == NULL || !(s->prof->caps & CARD_CAP_CHANGE_PIN))
		return two_pins_refused(s, 0x24, old_pin, new_pin, st);
	return s->prof->ops->change_pin(s, old_pin, new_pin, st);
}

enum card_err
card_unblock(struct card_session *s, struct card_pin *puk, struct card_pin *new_pin,
             struct card_status *st)
{
	if (PROFILE_OP(s, unblock) == NULL || !(s->prof->caps & CARD_CAP_UNBLOCK))
		return two_pins_refused(s, 0x2C, puk, new_pin, st);
	return s->prof->ops->unblock(s, puk, new_pin, st);
}
