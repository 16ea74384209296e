/* libFuzzer: kyso-v1 request and response payload parsers, and the display-text fitting and
 * encoding on arbitrary (mostly invalid) UTF-8. Decoded payloads must re-encode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/smsc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smsc_kv1_req q;
	struct smsc_kv1_rsp p;
	struct smsc_text_fit f;
	uint8_t out[2200];
	size_t n;
	uint8_t *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (smsc_kv1_req_decode(copy, size, &q) == SMSC_OK) {
		enum smsc_err rc = smsc_kv1_req_encode(&q, out, sizeof(out), &n);

		if (rc != SMSC_OK && rc != SMSC_E_TOOBIG)
			abort();
	}
	if (smsc_kv1_rsp_decode(copy, size, &p) == SMSC_OK &&
	    smsc_kv1_rsp_encode(&p, out, sizeof(out), &n) != SMSC_OK)
		abort();
	if (smsc_text_fit((const char *)copy, size, 32, SMSC_ALG_3DES2, 2, &f) == SMSC_OK) {
		if (smsc_text_encode((const char *)copy, size, f.dcs, out, sizeof(out), &n) ==
		            SMSC_OK &&
		    n != f.text_octets)
			abort(); /* the fit must predict the encoded size */
	}
	free(copy);
	return 0;
}
