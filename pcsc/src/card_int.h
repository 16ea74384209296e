/* Internals shared by the pcsc/ sources. */
#ifndef KYSO_CARD_INT_H
#define KYSO_CARD_INT_H

#include <stdbool.h>

#include <kyso/card.h>

/* Answer buffer of one transport call: extended R-APDU plus SW. */
#define CARD__RBUF (CARD_APDU_MAX + 2)

/* What a profile does for each operation of kyso/card.h section 3 (PCSC.md §2.1). The public
 * functions check that the session has a profile, that the profile offers the operation (NULL
 * here: CARD_E_NO_PROFILE) and its capability flags where one gates it, then call these with
 * the same arguments and the same duties (write *st, wipe every PIN passed). */
struct card_profile_ops {
	enum card_err (*select)(struct card_session *s, struct card_status *st);
	enum card_err (*read_serial)(struct card_session *s, uint8_t serial[CARD_SERIAL_LEN],
	                             struct card_status *st);
	enum card_err (*read_label)(struct card_session *s, char *label, size_t cap,
	                            struct card_status *st);
	enum card_err (*read_cert)(struct card_session *s, uint8_t *out, size_t cap,
	                           size_t *out_len, struct card_status *st);
	enum card_err (*pin_status)(struct card_session *s, bool puk, bool *verified,
	                            struct card_status *st);
	enum card_err (*verify)(struct card_session *s, struct card_pin *pin,
	                        struct card_status *st);
	enum card_err (*sign)(struct card_session *s, enum card_alg alg, const uint8_t *hash,
	                      size_t hash_len, struct card_pin *pin, uint8_t *sig, size_t cap,
	                      size_t *sig_len, struct card_status *st);
	enum card_err (*change_pin)(struct card_session *s, struct card_pin *old_pin,
	                            struct card_pin *new_pin, struct card_status *st);
	enum card_err (*unblock)(struct card_session *s, struct card_pin *puk,
	                         struct card_pin *new_pin, struct card_status *st);
};

/* A card profile: one applet family (our KYSO-PKI applet first; PIV, OpenPGP or PKCS#15 later
 * are each one more of these and one more registry entry in card_ops.c). Static, immutable. */
struct card_profile {
	const char *name;
	unsigned caps; /* CARD_CAP_* */
	const uint8_t *aid;
	size_t aid_len;
	/* True when the ATR names this profile's cards; NULL: found by SELECT only. */
	bool (*atr_match)(const uint8_t *atr, size_t atr_len);
	const struct card_profile_ops *ops;
};

/* card_profile_detect over the given list instead of the registry (unit tests). */
enum card_err card__profile_detect_in(struct card_session *s,
                                      const struct card_profile *const *list, size_t n,
                                      const uint8_t *atr, size_t atr_len, struct card_status *st);

/* One connection's engine state. Owned by the thread that created it. */
struct card_session {
	card_xfer_fn *xfer;
	void *ctx;
	const struct card_profile *prof;
	card_trace_fn *trace;
	void *trace_arg;
	uint16_t last_sw;
	uint32_t last_raw;
	uint8_t cbuf[CARD_APDU_MAX];
	uint8_t rbuf[CARD__RBUF];
};

/* Sets *st from an error and the session's last SW/raw code; returns e. */
enum card_err card__status(struct card_session *s, enum card_err e, uint8_t ins,
                           struct card_status *st);
void card__trace_apdu(struct card_session *s, const uint8_t *c, size_t len);
void card__trace_rapdu(struct card_session *s, uint16_t sw, size_t data_len);

#endif
