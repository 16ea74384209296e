/* Fuzz target: the agent message parser on any bytes, from the side named by the build
 * (FUZZ_FROM: 1 = the gateway parsing agent messages, 2 = the agent parsing gateway messages).
 * Invariants: a refusal is one of the defined errors and leaves the message cleared; an accepted
 * message re-encodes with the same rules and parses back to the same type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/card_msg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum card_msg_from from = (enum card_msg_from)FUZZ_FROM;
	struct card_msg m, back;
	enum card_msg_err e;
	const char *field = NULL;
	char *txt = NULL;
	size_t len = 0;

	e = card_msg_parse((const char *)data, size, from, &m, &field);
	if (e != CARD_MSG_OK) {
		if (e > CARD_MSG_E_NOMEM || m.type != CARD_MSG_NONE || m.tokens != NULL ||
		    field == NULL)
			abort();
		return 0;
	}
	if (card_msg_build(&m, from, &txt, &len, &field) != CARD_MSG_OK)
		abort();
	if (card_msg_parse(txt, len, from, &back, &field) != CARD_MSG_OK || back.type != m.type)
		abort();
	free(txt);
	card_msg_clear(&back);
	card_msg_clear(&m);
	return 0;
}
