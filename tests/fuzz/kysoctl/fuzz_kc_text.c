/* libFuzzer target for kysoctl's text parsers: the first byte picks the report period
 * parser, the time parser, or the usage report renderer over any JSON (its input comes from
 * the database, but a bad row must never crash the table). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_kysoctl_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
period(const char *s)
{
	struct kc_period p;

	if (kc_period_parse(s, &p) && p.from > p.to)
		abort();
}

static void
time_text(const char *s)
{
	int64_t t, back;
	char buf[40];

	if (!kc_parse_time(s, &t))
		return;
	kc_format_time(t, buf, sizeof(buf)); /* what we print, we read back to the second */
	if (!kc_parse_time(buf, &back) || back != t)
		abort();
}

static void
report(const uint8_t *data, size_t size)
{
	json_t *rep = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	FILE *f = fopen("/dev/null", "w");

	if (f != NULL) {
		(void)kc_report_render(rep, KC_CSV, f);
		(void)kc_report_render(rep, KC_HTML, f);
		fclose(f);
	}
	json_decref(rep);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1 || size > 4096)
		return 0;
	if (data[0] % 3 == 2) {
		report(data + 1, size - 1);
		return 0;
	}
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] % 3 == 0)
		period(s);
	else
		time_text(s);
	free(s);
	return 0;
}
