/* libFuzzer: TS 102 225 command and response packet parsers (card and gateway sides), with
 * the pySim SJA5 keys for the algorithm the first octet picks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t kkv[] = { 0x35, 0x22, 0x39, 0x31, 0x25 };
	struct smsc_ota_keys k;
	struct smsc_ota_cmd c;
	struct smsc_ota_rsp r;
	uint8_t work[4096], kk, spi2;
	uint8_t *copy;

	if (size < 2)
		return 0;
	kk = kkv[data[0] % sizeof(kkv)];
	spi2 = data[1];
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 32; i++) {
		k.kic[i] = (uint8_t)(0x30 + i);
		k.kid[i] = (uint8_t)(0x31 + i);
	}
	k.kic_len = k.kid_len = (kk & 0x0F) == 0x1 ? 8 : (kk & 0x0F) == 0x9 ? 24 : 16;
	data += 2;
	size -= 2;
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if (smsc_ota_cmd_peek(copy, size, &c) == SMSC_OK) {
		k.kic_len = (c.kic & 0x0F) == 0x1 ? 8 : (c.kic & 0x0F) == 0x9 ? 24 : 16;
		k.kid_len = (c.kid & 0x0F) == 0x1 ? 8 : (c.kid & 0x0F) == 0x9 ? 24 : 16;
		(void)smsc_ota_cmd_open(copy, size, &k, work, sizeof(work), &c);
	}
	(void)smsc_ota_rsp_open(copy, size, spi2, kk, kk, &k, work, sizeof(work), &r);
	free(copy);
	smsc_ota_keys_wipe(&k);
	return 0;
}
