/* Internals shared by the pcsc/ sources. */
#ifndef KYSO_CARD_INT_H
#define KYSO_CARD_INT_H

#include <kyso/card.h>

/* Answer buffer of one transport call: extended R-APDU plus SW. */
#define CARD__RBUF (CARD_APDU_MAX + 2)

struct card_profile {
	const char *name;
	unsigned caps;
	const uint8_t *aid;
	size_t aid_len;
};

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
