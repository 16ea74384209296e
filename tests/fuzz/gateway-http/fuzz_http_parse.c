/* Feeds arbitrary bytes to gw_http_parse as a whole answer, then byte by byte as it would
 * arrive, with and without EOF. A complete answer must keep its body inside the buffer, and
 * every prefix of it must have been "more" or the same verdict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 70000)
		return 0;
	unsigned char *buf = malloc(size ? size : 1);
	size_t cap = size ? (size_t)(data[0] % 8) * 1000 : 0;
	for (int eof = 0; eof < 2; eof++) {
		memcpy(buf, data, size);
		struct gw_http_answer a;
		enum gw_http_verdict v = gw_http_parse(buf, size, eof, cap, &a);
		if (v == GW_HTTP_DONE) {
			if (a.head_len > size || a.body_len > size - a.head_len || a.body_len > cap)
				abort();
			if (a.status < 200 || a.status > 599)
				abort();
		}
		if (eof && v == GW_HTTP_MORE)
			abort(); /* at EOF the answer is complete or it is not */
	}
	free(buf);
	return 0;
}
