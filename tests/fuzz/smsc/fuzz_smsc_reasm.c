/* libFuzzer: UDH parsing and concatenation reassembly with tight bounds. Input: records of
 * len(1) source(1) time-step(1) then len octets of user data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smsc_reasm *r;
	uint8_t out[2048], iei;
	uint64_t now = 0;
	size_t i = 0;

	if (smsc_reasm_new(3, 600, 5000, &r) != SMSC_OK)
		return 0;
	while (size - i >= 3) {
		size_t len = data[i];
		char src[8];
		struct smsc_udh_info u;
		size_t on;
		bool done;
		uint8_t *ud;

		snprintf(src, sizeof(src), "84%u", data[i + 1] % 4);
		now += data[i + 2] * 50u;
		i += 3;
		if (len > size - i)
			len = size - i;
		if ((ud = malloc(len ? len : 1)) == NULL)
			break;
		memcpy(ud, data + i, len);
		(void)smsc_udh_parse(ud, len, &u);
		(void)smsc_reasm_add(r, src, ud, len, now, out, sizeof(out), &on, &iei, &done);
		free(ud);
		i += len;
		if (smsc_reasm_pending(r) > 3)
			abort(); /* the set bound was exceeded */
	}
	(void)smsc_reasm_expire(r, now + 5000);
	smsc_reasm_free(r);
	return 0;
}
