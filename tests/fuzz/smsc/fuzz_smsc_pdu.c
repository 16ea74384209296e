/* libFuzzer: SMPP framing and PDU decoder, DLR parsing, and encode(decode(x)) == x for every
 * PDU that decodes without dropped TLVs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smsc_pdu p;
	struct smsc_dlr d;
	size_t len = 0;
	uint8_t *copy, out[8192];

	(void)smsc_dlr_parse_text(data, size, &d);
	if (smsc_pdu_frame(data, size, SMSC_PDU_MAX_DEF, &len) != SMSC_OK)
		return 0;
	/* An exact-size heap copy so ASan sees any read past command_length. */
	if ((copy = malloc(len)) == NULL)
		return 0;
	memcpy(copy, data, len);
	if (smsc_pdu_decode(copy, len, &p) == SMSC_OK) {
		size_t n;

		(void)smsc_dlr_parse(&p, &d);
		if (smsc_pdu_encode(&p, out, sizeof(out), &n) == SMSC_OK && p.tlv_dropped == 0 &&
		    p.command_status == 0 && p.command_id != SMSC_CMD_ALERT_NOTIFICATION &&
		    !(len == 16 && (p.command_id == SMSC_CMD_SUBMIT_SM_RESP ||
		                    p.command_id == SMSC_CMD_DELIVER_SM_RESP ||
		                    p.command_id == SMSC_CMD_BIND_TRX_RESP))) {
			if (n != len || memcmp(out, copy, len) != 0)
				abort(); /* the codec is not symmetric */
		}
	}
	free(copy);
	return 0;
}
