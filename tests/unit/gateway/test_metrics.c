/* Unit tests of the Prometheus text the gateway serves on /metrics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gw_metrics.h"

const double db_lat_bucket_ms[DB_LAT_BUCKETS] = {
	0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 0
};

static void
renders_counters_errors_and_histogram(void **state)
{
	struct gw_metrics m = { .conns_open = 3, .frames_in = 10 };
	struct db_stats s = { .queued = 7,
		              .commit_count = 2,
		              .commit_sum_ms = 3.0,
		              .spool_records = 4,
		              .spool_bytes = 900,
		              .spool_refused = 1 };
	size_t len = 0;
	char *txt;

	(void)state;
	for (int i = 0; i < DB_LAT_BUCKETS; i++)
		s.commit_lat[i] = i < 2 ? 1 : 2;
	gw_metrics_error(&m, 101, 1018);
	gw_metrics_error(&m, 101, 1018);
	gw_metrics_error(&m, 103, 0);
	txt = gw_metrics_render(&m, &s, 5, &len);
	assert_non_null(txt);
	assert_int_equal(strlen(txt), len);
	assert_non_null(strstr(txt, "\nkyso_connections 3\n"));
	assert_non_null(strstr(txt, "# TYPE kyso_connections gauge\n"));
	assert_non_null(strstr(txt, "kyso_frames_received_total 10\n"));
	assert_non_null(strstr(txt, "kyso_errors_total{code=\"101\",sub=\"1018\"} 2\n"));
	assert_non_null(strstr(txt, "kyso_errors_total{code=\"103\",sub=\"0\"} 1\n"));
	assert_non_null(strstr(txt, "kyso_db_queue_depth 7\n"));
	assert_non_null(strstr(txt, "kyso_db_commit_seconds_bucket{le=\"0.0005\"} 1\n"));
	assert_non_null(strstr(txt, "kyso_db_commit_seconds_bucket{le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(txt, "kyso_db_commit_seconds_sum 0.003000\n"));
	assert_non_null(strstr(txt, "kyso_db_commit_seconds_count 2\n"));
	assert_non_null(strstr(txt, "kyso_mqtt_outbox_depth 5\n"));
	assert_non_null(strstr(txt, "kyso_db_spool_records 4\n"));
	assert_non_null(strstr(txt, "kyso_db_spool_bytes 900\n"));
	assert_non_null(strstr(txt, "kyso_db_spool_refused_total 1\n"));
	free(txt);
}

static void
error_table_overflows_into_other(void **state)
{
	struct gw_metrics m = { 0 };
	struct db_stats s = { 0 };
	size_t len;
	char *txt;

	(void)state;
	for (int i = 0; i < GW_METRICS_CODES + 5; i++)
		gw_metrics_error(&m, 900, i);
	assert_int_equal(m.errors_other, 5);
	txt = gw_metrics_render(&m, &s, 0, &len);
	assert_non_null(strstr(txt, "kyso_errors_total{code=\"other\",sub=\"0\"} 5\n"));
	free(txt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(renders_counters_errors_and_histogram),
		cmocka_unit_test(error_table_overflows_into_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
