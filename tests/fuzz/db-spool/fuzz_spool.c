/* Fuzz target: the spool record decoder (db_spool.h), run over the input the way a spool file
 * is read at start: record after record until one does not verify. Every accepted record must
 * lie inside the input, carry its required strings, and encode back to exactly the bytes it
 * was read from (the format has one spelling per record). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db_spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, used;
	struct db_spool_rec r;
	uint8_t *again;

	while (off < size) {
		enum db_spool_dec rc = db_spool_decode(data + off, size - off, &r, &used);

		if (rc != DB_SPOOL_REC) {
			if (used != 0 || (rc != DB_SPOOL_SHORT && rc != DB_SPOOL_BAD))
				abort();
			break;
		}
		if (used < DB_SPOOL_HDR || used > size - off || r.txn == NULL || r.state == NULL)
			abort();
		if ((again = malloc(used)) == NULL)
			return 0;
		if (db_spool_encode(&r, again, used) != used ||
		    memcmp(again, data + off, used) != 0)
			abort();
		free(again);
		off += used;
	}
	return 0;
}
