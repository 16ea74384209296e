/* A scripted card for unit tests: each step checks the command APDU (exact bytes, or only
 * its first `match` bytes) and answers with fixed bytes or a transport error. */
#ifndef KYSO_TEST_CARD_SCRIPT_H
#define KYSO_TEST_CARD_SCRIPT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/card.h>

#define STEP_MAX 1024

struct step {
	const uint8_t *cmd; /* NULL: any command */
	size_t cmd_len;     /* bytes of cmd to compare */
	bool exact;         /* the whole command must equal cmd */
	uint8_t resp[STEP_MAX];
	size_t resp_len;
	enum card_err fail; /* CARD_OK: answer resp */
	uint32_t raw;
};

struct script {
	struct step steps[64];
	size_t n, pos;
	uint8_t last_cmd[STEP_MAX];
	size_t last_len;
	uint8_t sent[64][16]; /* first bytes of each command seen */
};

static inline struct step *
script_add(struct script *s, const uint8_t *cmd, size_t cmd_len, bool exact, const uint8_t *resp,
           size_t resp_len)
{
	struct step *st = &s->steps[s->n++];

	assert_true(s->n <= 64 && resp_len <= STEP_MAX);
	st->cmd = cmd;
	st->cmd_len = cmd_len;
	st->exact = exact;
	if (resp_len)
		memcpy(st->resp, resp, resp_len);
	st->resp_len = resp_len;
	return st;
}

/* Data of `n` bytes (value i & 0xFF) followed by SW. */
static inline struct step *
script_data(struct script *s, const uint8_t *cmd, size_t cmd_len, size_t n, uint16_t sw)
{
	struct step *st = script_add(s, cmd, cmd_len, false, NULL, 0);
	size_t i;

	for (i = 0; i < n; i++)
		st->resp[i] = (uint8_t)i;
	st->resp[n] = (uint8_t)(sw >> 8);
	st->resp[n + 1] = (uint8_t)sw;
	st->resp_len = n + 2;
	return st;
}

static inline enum card_err
script_xfer(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen, uint32_t *raw)
{
	struct script *s = ctx;
	struct step *st;

	assert_true(s->pos < s->n); /* the engine sent more commands than scripted */
	st = &s->steps[s->pos];
	if (s->pos < 64)
		memcpy(s->sent[s->pos], c, clen < 16 ? clen : 16);
	s->pos++;
	memcpy(s->last_cmd, c, clen < STEP_MAX ? clen : STEP_MAX);
	s->last_len = clen;
	if (st->cmd != NULL) {
		if (st->exact)
			assert_int_equal(clen, st->cmd_len);
		assert_true(clen >= st->cmd_len);
		assert_memory_equal(c, st->cmd, st->cmd_len);
	}
	if (st->fail != CARD_OK) {
		*raw = st->raw;
		return st->fail;
	}
	assert_true(st->resp_len <= *rlen);
	memcpy(r, st->resp, st->resp_len);
	*rlen = st->resp_len;
	return CARD_OK;
}

#endif
