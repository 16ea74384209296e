/* gw_kysoctl_report.c -- kysoctl report usage: the agency's report on the use of its
 * certificates (REGULATION.md F3: every six months, yearly or on request; QN 17.6 and its
 * appendix table). The rows come from the database, the table from gw_kysoctl_render.c. */
#include <stdlib.h>
#include <string.h>

#include "gw_kysoctl_int.h"

#define REPORT_USAGE                                                                               \
	"report usage --org SLUG --period 2026H1|2026H2|2026|FROM..TO --format csv|html\n"         \
	"                 [--out FILE]"

static int
report_usage(struct kc *kc, int argc, char **argv)
{
	const char *org = NULL, *period = NULL, *format = NULL, *outpath = NULL;
	struct kc_opt o[] = {
		{ "org", KC_STR, &org, NULL, NULL, true, false },
		{ "period", KC_STR, &period, NULL, NULL, true, false },
		{ "format", KC_STR, &format, NULL, NULL, false, false },
		{ "out", KC_STR, &outpath, NULL, NULL, false, false },
	};
	struct kc_period p;
	char err[256] = "", from[16], to[16], *txt = NULL;
	json_t *rep;
	FILE *f;
	bool ok;
	enum db_err rc;

	if (!kc_parse(argc, argv, 1, o, 4, NULL, 0, &kc->json, err, sizeof(err)))
		return kc_usage(REPORT_USAGE, err);
	if (!kc_period_parse(period, &p))
		return kc_usage(REPORT_USAGE, "--period: 2026H1, 2026H2, 2026 or "
		                              "2026-01-01..2026-03-31");
	if (kc->json
	            ? format != NULL
	            : format == NULL || (strcmp(format, "csv") != 0 && strcmp(format, "html") != 0))
		return kc_usage(REPORT_USAGE, "--format: csv or html (or --json alone)");
	kc_format_day(p.from, from, sizeof(from));
	kc_format_day(p.to, to, sizeof(to));
	if ((rc = db_admin_usage_report(kc->adm, org, from, to, &txt, err, sizeof(err))) != DB_OK) {
		if (rc == DB_E_NOTFOUND)
			snprintf(err, sizeof(err), "no organisation '%s'", org);
		return kc_fail("report usage", rc, err);
	}
	if (kc->json) { /* the rows as the database gave them, for other tools */
		json_t *rows = json_loads(txt, 0, NULL);

		free(txt);
		return rows != NULL ? kc_print_obj(rows) : KC_DB;
	}
	rep = json_loads(txt, 0, NULL);
	free(txt);
	if ((f = outpath != NULL ? fopen(outpath, "w") : stdout) == NULL) {
		json_decref(rep);
		fprintf(stderr, "kysoctl: %s: cannot write\n", outpath);
		return KC_REFUSED;
	}
	ok = kc_report_render(rep, format[0] == 'h' ? KC_HTML : KC_CSV, f);
	if (outpath != NULL && fclose(f) != 0)
		ok = false;
	json_decref(rep);
	return ok ? KC_OK : KC_DB;
}

int
kc_cmd_report(struct kc *kc, int argc, char **argv)
{
	if (argc >= 1 && strcmp(argv[0], "usage") == 0)
		return report_usage(kc, argc, argv);
	return kc_usage(REPORT_USAGE, NULL);
}
