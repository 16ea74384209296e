/* libFuzzer: kyso-carrier-sim's SMPP server side fed arbitrary ESME bytes (TELECOM.md 1.6,
 * 5.6). The first input byte picks the state to start from: bit 0 bound (transceiver), bit 1
 * bound as receiver only, bit 2 a signing request in flight (MO and DLR pending), bits 4-5 the
 * farm's mode. The rest is chunks: a length byte, then that many bytes fed to the connection,
 * then a clock step. Every PDU the simulator writes must decode; never a crash or a leak. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

#include "csim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_send(void *arg, uint32_t conn, const uint8_t *pdu, size_t len)
{
	struct smsc_pdu p;
	size_t n;

	(void)arg;
	(void)conn;
	if (smsc_pdu_frame(pdu, len, SMSC_PDU_MAX_DEF, &n) != SMSC_OK || n != len ||
	    smsc_pdu_decode(pdu, len, &p) != SMSC_OK) {
		/* bind_receiver/transmitter resps are outside the codec's subset: check the header
		 */
		if (len < 16 || (pdu[4] & 0x80) == 0)
			abort();
	}
}

static void
on_close(void *arg, uint32_t conn)
{
	*(bool *)arg = true;
	(void)conn;
}

static void
feed_pdu(struct csim *c, uint32_t conn, const struct smsc_pdu *p, uint64_t now)
{
	uint8_t buf[SMSC_PDU_MAX_DEF];
	size_t n;

	if (smsc_pdu_encode(p, buf, sizeof(buf), &n) == SMSC_OK)
		csim_conn_feed(c, conn, buf, n, now);
}

static void
start_state(struct csim *c, uint32_t conn, uint8_t sel)
{
	struct smsc_pdu b = { .command_id = SMSC_CMD_BIND_TRX,
		              .sequence = 1,
		              .system_id = "kyso",
		              .system_id_len = 4,
		              .password = "kyso",
		              .password_len = 4,
		              .interface_version = 0x34 };
	static const uint8_t ud[] = { 0x02, 0x70, 0x00, 0x00, 0x0d, 0x01, 0x21, 0x00, 0x00,
		                      0x4b, 0x59, 0x53, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00 };
	struct smsc_pdu s = { .command_id = SMSC_CMD_SUBMIT_SM,
		              .sequence = 2,
		              .dest_addr_ton = 1,
		              .dest_addr_npi = 1,
		              .dest_addr = "84900000001",
		              .dest_addr_len = 11,
		              .source_addr = "8490999",
		              .source_addr_len = 7,
		              .esm_class = 0x40,
		              .protocol_id = 0x7F,
		              .data_coding = 0xF6,
		              .registered_delivery = 1,
		              .short_message = ud,
		              .sm_length = sizeof(ud) };

	if (sel & 0x01) {
		feed_pdu(c, conn, &b, 0);
		if (sel & 0x04)
			feed_pdu(c, conn, &s, 0);
	} else if (sel & 0x02) {
		uint8_t buf[64];
		size_t n;

		if (smsc_pdu_encode(&b, buf, sizeof(buf), &n) == SMSC_OK) {
			buf[7] = 0x01; /* bind_receiver */
			csim_conn_feed(c, conn, buf, n, 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum csim_mode modes[] = { CSIM_MODE_INSTANT, CSIM_MODE_ERROR, CSIM_MODE_DELAY,
		                                CSIM_MODE_SILENT };
	struct csim_cfg cfg;
	struct csim *c = NULL;
	bool closed = false;
	uint32_t conn;
	uint64_t now = 0;
	size_t i = 1;

	if (size < 1)
		return 0;
	csim_cfg_default(&cfg);
	cfg.farm.mode = modes[(data[0] >> 4) & 3];
	if (csim_new(&cfg, on_send, on_close, &closed, &c) != CSIM_OK)
		return 0;
	if (csim_conn_open(c, 0, &conn) == CSIM_OK) {
		start_state(c, conn, data[0]);
		while (i < size && !closed) {
			size_t n = data[i++];

			if (n > size - i)
				n = size - i;
			csim_conn_feed(c, conn, data + i, n, now);
			i += n;
			now += 1000u * (n & 0x0F);
			csim_tick(c, now);
		}
		csim_tick(c, now + 200000); /* run every pending timer */
		if (!closed)
			csim_conn_gone(c, conn, now + 200000);
	}
	csim_free(c);
	return 0;
}
