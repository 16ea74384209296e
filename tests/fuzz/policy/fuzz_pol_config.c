/* libFuzzer target for the `policy` configuration parser (REGULATION.md §4, §5, §9). Any
 * input must either load a configuration whose invariants hold or fail with the struct
 * wiped; then the loaded profiles are exercised through the router and the calendar. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <kyso/pol.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
exercise(const struct pol_config *cfg)
{
	struct pol_route r;
	int32_t due;
	int n;

	if (cfg->nprovinces == 0 || cfg->nprovinces > POL_PROVINCES_MAX ||
	    cfg->calendar.nyears > POL_YEARS_MAX)
		abort();
	for (unsigned i = 0; i < cfg->nprovinces; i++) {
		const struct pol_province *p = &cfg->provinces[i];

		if (memchr(p->slug, 0, sizeof(p->slug)) == NULL || p->slug[0] == '\0' ||
		    pol_province_find(cfg, p->slug) != p)
			abort(); /* slugs are terminated, non-empty and unique */
		for (int q = POL_REQ_ISSUE; q <= POL_REQ_LOST; q++)
			for (int d = POL_DEV_SIM; d <= POL_DEV_SOFT; d++) {
				enum pol_err rc =
				        pol_route(cfg, (enum pol_request)q, POL_CRED_PERSONAL,
				                  (enum pol_device)d, p->slug, &r);

				if (rc != POL_OK && rc != POL_E_NO_ROUTE)
					abort();
			}
	}
	for (unsigned i = 1; i < cfg->calendar.nyears; i++)
		if (cfg->calendar.years[i - 1].year >= cfg->calendar.years[i].year)
			abort(); /* sorted, distinct */
	if (cfg->calendar.nyears > 0) {
		int32_t d0;

		if (pol_day_from_date(cfg->calendar.years[0].year, 1, 1, &d0) != POL_OK ||
		    pol_wd_add(&cfg->calendar, d0, 30, &due, NULL) != POL_OK ||
		    pol_wd_between(&cfg->calendar, d0, due, &n, NULL) != POL_OK || n < 29)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pol_config cfg;
	struct pol_cfg_error err;
	enum pol_err rc = pol_config_parse((const char *)data, size, &cfg, &err);

	if (rc == POL_OK) {
		exercise(&cfg);
	} else {
		static const struct pol_config zero;

		if (memcmp(&cfg, &zero, sizeof(cfg)) != 0 || err.text[0] == '\0')
			abort(); /* a failure leaves nothing behind and says why */
	}
	pol_config_wipe(&cfg);
	return 0;
}
