/* Fuzz target: the resolve callback of a recovery connector (PROTOCOL.md section 9). The first
 * byte picks the parser: even, the body (bounded JSON with an optional note); odd, the request
 * path. Every input must end in a defined answer: accepted with a bounded, NUL-terminated result
 * free of control characters, or refused with an error text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_recovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char note[GW_RECOVERY_NOTE_MAX + 1], err[128], id[GW_RECOVERY_ID_CAP], *path;

	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		err[0] = '\0';
		if (gw_recovery_callback_parse(data + 1, size - 1, note, err, sizeof(err))) {
			size_t n = strlen(note);

			if (n > GW_RECOVERY_NOTE_MAX)
				abort();
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)note[i] < 0x20)
					abort();
		} else if (err[0] == '\0') {
			abort(); /* a refusal always says why */
		}
		return 0;
	}
	if ((path = malloc(size)) == NULL)
		return 0;
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	if (gw_recovery_path_case(path, id) &&
	    (strlen(id) != 29 || strncmp(id, "rc-", 3) != 0 || strstr(path, id) == NULL))
		abort();
	free(path);
	return 0;
}
