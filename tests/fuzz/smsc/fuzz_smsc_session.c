/* libFuzzer: the ESME session fed arbitrary bytes. The first input byte picks the state to
 * start from (binding, bound, bound with submits in flight, stopping); the rest alternates
 * chunks of SMSC bytes with clock steps, takes and acks. Never a crash, never a leak. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct smsc_session *s;
	uint64_t now;
	uint32_t last_mo;
	uint32_t bind_seq; /* of the last bind_transceiver taken */
	bool connect;
};

static void
on_event(void *arg, const struct smsc_event *ev)
{
	struct ctx *c = arg;

	if (ev->kind == SMSC_EV_CONNECT)
		c->connect = true;
	if (ev->kind == SMSC_EV_MO)
		c->last_mo = ev->seq;
}

static void
drain(struct ctx *c)
{
	uint8_t out[4096];
	size_t n;

	for (int i = 0; i < 64; i++) {
		struct smsc_pdu p;

		if (smsc_session_take(c->s, out, sizeof(out), &n, c->now) != SMSC_OK)
			break;
		/* What the session writes must always decode. */
		if (smsc_pdu_decode(out, n, &p) != SMSC_OK)
			abort();
		if (p.command_id == SMSC_CMD_BIND_TRX)
			c->bind_seq = p.sequence;
	}
}

static void
bind(struct ctx *c)
{
	static const uint8_t resp[] = {
		0, 0, 0, 0x11, 0x80, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0, 1, 0
	};

	smsc_session_connected(c->s, c->now);
	drain(c);
	smsc_session_feed(c->s, resp, sizeof(resp), c->now); /* bind_seq is 1 on a fresh session */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smsc_config cfg = {
		.system_id = "gw", .password = "pw", .window = 4, .tps = 50, .seed = 7
	};
	struct smsc_submit m = { .dest_addr = "84900000001",
		                 .sm = (const uint8_t *)"\x02\x70\x00",
		                 .sm_len = 3 };
	struct ctx c = { .now = 1000 };
	size_t i = 1;

	if (size < 1 || smsc_session_new(&cfg, on_event, &c, &c.s) != SMSC_OK)
		return 0;
	(void)smsc_session_start(c.s, c.now);
	if (data[0] % 4 != 0)
		bind(&c);
	if (data[0] % 4 >= 2) {
		for (uint64_t t = 1; t <= 6; t++)
			(void)smsc_session_submit(c.s, t, &m, c.now);
		drain(&c);
	}
	if (data[0] % 4 == 3)
		smsc_session_stop(c.s, c.now);
	while (i < size) {
		uint8_t op = data[i++];
		size_t n = (size_t)(op & 0x3F) + 1;

		if (n > size - i)
			n = size - i;
		switch (op >> 6) {
		case 0:
			smsc_session_feed(c.s, data + i, n, c.now);
			i += n;
			break;
		case 1:
			c.now += (uint64_t)n * n * 100;
			smsc_session_tick(c.s, c.now);
			if (c.connect) {
				c.connect = false;
				bind(&c);
			}
			break;
		case 2:
			drain(&c);
			(void)smsc_session_mo_ack(c.s, c.last_mo, 0, c.now);
			break;
		default:
			(void)smsc_session_submit(c.s, 100 + i, &m, c.now);
			break;
		}
	}
	smsc_session_free(c.s);
	return 0;
}
