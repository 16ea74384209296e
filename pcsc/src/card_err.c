/* Error names, status word -> reason -> north mapping (PCSC.md §2.3). */
#include <stddef.h>

#include "card_int.h"

const char *
card_strerror(enum card_err e)
{
	switch (e) {
	case CARD_OK:
		return "ok";
	case CARD_E_NOMEM:
		return "out of memory";
	case CARD_E_INVAL:
		return "invalid argument";
	case CARD_E_BUSY:
		return "queue full";
	case CARD_E_TRANSPORT:
		return "transport error";
	case CARD_E_PROTO:
		return "card broke the APDU rules";
	case CARD_E_SW:
		return "card refused the command";
	case CARD_E_REMOVED:
		return "card removed";
	case CARD_E_NO_SERVICE:
		return "PC/SC service unavailable";
	case CARD_E_NO_READER:
		return "reader unknown or gone";
	case CARD_E_RESET:
		return "card reset repeatedly";
	case CARD_E_TOOBIG:
		return "answer too large";
	case CARD_E_CRYPTO:
		return "crypto or encoding error";
	case CARD_E_CANCELLED:
		return "PIN entry cancelled";
	case CARD_E_DEADLINE:
		return "deadline passed";
	case CARD_E_STOPPED:
		return "engine stopped";
	case CARD_E_NO_PROFILE:
		return "no known applet on the card";
	case CARD_E_ABORTED:
		return "job cancelled";
	}
	return "unknown error";
}

const char *
card_reason_name(enum card_reason r)
{
	static const char *const names[] = {
		[CARD_R_NONE] = "NONE",
		[CARD_R_PIN_INCORRECT] = "PIN_INCORRECT",
		[CARD_R_PIN_BLOCKED] = "PIN_BLOCKED",
		[CARD_R_PUK_INCORRECT] = "PUK_INCORRECT",
		[CARD_R_PUK_BLOCKED] = "PUK_BLOCKED",
		[CARD_R_SECURITY] = "SECURITY_STATUS",
		[CARD_R_KEY_NOT_FOUND] = "KEY_NOT_FOUND",
		[CARD_R_UNSUPPORTED_ALG] = "UNSUPPORTED_ALG",
		[CARD_R_WRONG_PROFILE] = "WRONG_PROFILE",
		[CARD_R_CARD_ERROR] = "CARD_ERROR",
		[CARD_R_CARD_REMOVED] = "CARD_REMOVED",
		[CARD_R_CANCELLED] = "CANCELLED",
		[CARD_R_DEADLINE] = "DEADLINE",
		[CARD_R_BAD_INPUT] = "BAD_INPUT",
		[CARD_R_ABORTED] = "ABORTED",
	};

	if ((size_t)r < sizeof(names) / sizeof(names[0]) && names[r] != NULL)
		return names[r];
	return "UNKNOWN";
}

static bool
ins_is_pin(uint8_t ins)
{
	return ins == 0x20 || ins == 0x24; /* VERIFY, CHANGE REFERENCE DATA */
}

/* 63Cx / 6300 / 6983: the counters of PCSC.md §2.3; the PUK has its own (INS 2C). */
static enum card_reason
counter_reason(uint8_t ins, uint16_t sw, int *retries)
{
	bool blocked = sw == 0x6983 || sw == 0x63C0;

	if (sw != 0x6300)
		*retries = blocked ? 0 : (sw & 0x0F);
	if (ins == 0x2C)
		return blocked ? CARD_R_PUK_BLOCKED : CARD_R_PUK_INCORRECT;
	if (ins_is_pin(ins))
		return blocked ? CARD_R_PIN_BLOCKED : CARD_R_PIN_INCORRECT;
	return CARD_R_CARD_ERROR; /* a counter answer to a non-PIN command: never retried */
}

enum card_reason
card_sw_reason(uint8_t ins, uint16_t sw, int *retries)
{
	*retries = -1;
	if (sw == 0x9000)
		return CARD_R_NONE;
	if ((sw & 0xFFF0) == 0x63C0 || sw == 0x6300 || sw == 0x6983)
		return counter_reason(ins, sw, retries);
	switch (sw) {
	case 0x6982:
		return CARD_R_SECURITY;
	case 0x6A88:
		return CARD_R_KEY_NOT_FOUND;
	case 0x6A81:
		return CARD_R_UNSUPPORTED_ALG;
	case 0x6A82: /* file or application not found */
	case 0x6D00: /* INS not supported */
	case 0x6E00: /* CLA not supported */
	case 0x6A80:
	case 0x6A86:
	case 0x6700:
	case 0x6B00:
		return CARD_R_WRONG_PROFILE;
	default:
		return CARD_R_CARD_ERROR; /* 6984, 6985, 64xx, 65xx, 6F00 and the rest */
	}
}

void
card_reason_north(enum card_reason r, int *code, int *sub)
{
	static const int map[][2] = {
		[CARD_R_NONE] = { 0, 0 },
		[CARD_R_PIN_INCORRECT] = { 401, 4015 },
		[CARD_R_PIN_BLOCKED] = { 402, 4021 },
		[CARD_R_PUK_INCORRECT] = { 401, 4015 }, /* local dialog only */
		[CARD_R_PUK_BLOCKED] = { 403, 4031 },
		[CARD_R_SECURITY] = { 900, 9003 },
		[CARD_R_KEY_NOT_FOUND] = { 404, 4041 },
		[CARD_R_UNSUPPORTED_ALG] = { 900, 9008 },
		[CARD_R_WRONG_PROFILE] = { 900, 9003 },
		[CARD_R_CARD_ERROR] = { 900, 9003 },
		[CARD_R_CARD_REMOVED] = { 209, 2092 },
		[CARD_R_CANCELLED] = { 401, 4011 },
		[CARD_R_DEADLINE] = { 208, 2081 },
		[CARD_R_BAD_INPUT] = { 900, 9007 },
		[CARD_R_ABORTED] = { 401, 4014 },
	};

	if ((size_t)r >= sizeof(map) / sizeof(map[0]))
		r = CARD_R_CARD_ERROR;
	*code = map[r][0];
	*sub = map[r][1];
}

enum card_reason
card_err_reason(enum card_err e)
{
	switch (e) {
	case CARD_OK:
		return CARD_R_NONE;
	case CARD_E_REMOVED:
	case CARD_E_NO_SERVICE:
	case CARD_E_NO_READER:
		return CARD_R_CARD_REMOVED;
	case CARD_E_CANCELLED:
		return CARD_R_CANCELLED;
	case CARD_E_DEADLINE:
		return CARD_R_DEADLINE;
	case CARD_E_INVAL:
		return CARD_R_BAD_INPUT;
	case CARD_E_NO_PROFILE:
		return CARD_R_WRONG_PROFILE;
	case CARD_E_ABORTED:
		return CARD_R_ABORTED;
	default:
		return CARD_R_CARD_ERROR;
	}
}

enum card_err
card__status(struct card_session *s, enum card_err e, uint8_t ins, struct card_status *st)
{
	st->sw = s->last_sw;
	st->pcsc = s->last_raw;
	st->retries_left = -1;
	if (e == CARD_E_SW)
		st->reason = card_sw_reason(ins, s->last_sw, &st->retries_left);
	else
		st->reason = card_err_reason(e);
	return e;
}
