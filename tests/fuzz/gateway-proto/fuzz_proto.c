/* Fuzz target: gw_proto_parse on any bytes, then the error answer built from its result.
 * Invariants: a request is either parsed (root set, id printable) or refused with a defined
 * status (101, 102 or 103 family), and the answer always serialises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_req req;
	struct gw_status err;
	char out[1024];

	if (size > 1 << 16) /* the gateway checks the frame limit first */
		return 0;
	if (gw_proto_parse(data, size, &req, &err)) {
		if (req.root == NULL || req.id[0] == '\0')
			abort();
		gw_req_clear(&req);
		return 0;
	}
	if (err.code != 101 && err.code != 102)
		abort();
	for (const char *p = req.id; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	if (gw_proto_error(out, sizeof(out), req.id, &err) < 0)
		abort();
	return 0;
}
