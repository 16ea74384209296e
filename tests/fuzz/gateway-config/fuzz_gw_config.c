/* fuzz_gw_config.c -- libFuzzer over gw_config_parse() and the tokenizer under it.
 *
 * Properties beyond "no crash, no leak, no sanitizer report": an accepted file dumps to JSON
 * that parses again and dumps the same (the dump is a valid configuration); a refused one has
 * a "name:line:col: " message. The tokenizer is also drained on its own, since the config
 * parser stops at the first array or unknown key and would never reach deep nesting. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_config.h"
#include "gw_json_pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dump1[16384], dump2[16384];

static void
drain_tokens(const uint8_t *data, size_t size)
{
	static struct gw__jpos j;
	enum gw__jtok t;
	size_t n = 0;

	gw__jpos_init(&j, (const char *)data, size);
	/* Every call consumes at least one byte or ends: the count bounds the loop anyway. */
	while ((t = gw__jpos_next(&j)) != GW__J_EOF && t != GW__J_ERR)
		if (++n > size + 2)
			abort();
	if (j.depth < 0 || j.depth > GW__JPOS_DEPTH_MAX || j.str_len >= sizeof(j.str))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_config a, b;
	char err[GW_CFG_ERR_MAX];
	int n1, n2;

	drain_tokens(data, size);
	if (!gw_config_parse((const char *)data, size, "f", &a, err)) {
		if (strncmp(err, "f:", 2) != 0 || strlen(err) >= GW_CFG_ERR_MAX)
			abort();
		return 0;
	}
	n1 = gw_config_dump(&a, dump1, sizeof(dump1));
	if (n1 <= 0 || (size_t)n1 >= sizeof(dump1))
		abort();
	if (!gw_config_parse(dump1, (size_t)n1, "dump", &b, err))
		abort();
	n2 = gw_config_dump(&b, dump2, sizeof(dump2));
	if (n2 != n1 || memcmp(dump1, dump2, (size_t)n1) != 0)
		abort();
	return 0;
}
