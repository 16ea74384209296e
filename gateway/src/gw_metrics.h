/* gw_metrics.h -- the gateway's counters and their Prometheus text (GET /metrics).
 * Loop thread only: plain integers, no atomics. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <kyso/db.h>

#define GW_METRICS_CODES 64 /* distinct (code, sub) pairs counted; more go to "other" */

struct gw_metrics {
	uint64_t conns_open;       /* gauge: authenticated WebSocket sessions */
	uint64_t conns_total;      /* sessions ever opened */
	uint64_t auth_failures;    /* refused upgrades (401) */
	uint64_t auth_limited;     /* refused because the address is rate-limited (429) */
	uint64_t frames_in;        /* text frames received */
	uint64_t frames_out;       /* frames sent */
	uint64_t node_events;      /* node events appended */
	uint64_t node_events_lost; /* node events the database queue refused (full) */
	uint64_t mqtt_published;   /* outbox rows acknowledged by the broker */
	uint64_t mqtt_connected;   /* gauge: 1 while the broker session is up */
	uint64_t db_ready;         /* gauge */
	uint64_t txn_accepted;     /* transactions accepted (committed) on this node */
	uint64_t txn_final;        /* final results committed by this node */
	uint64_t txn_reloaded;     /* open transactions reloaded after a start */
	/* SIM channel: SMPP links (TELECOM.md 1) */
	uint64_t smsc_binds_up;    /* gauge: bound SMPP links */
	uint64_t smsc_bind_events; /* binds that came up */
	uint64_t smsc_submits;     /* submit_sm queued */
	uint64_t smsc_submit_ok;   /* submit_sm_resp OK */
	uint64_t smsc_submit_fail; /* submits that failed for good */
	uint64_t smsc_resp_count;  /* submits with a measured resp latency */
	uint64_t smsc_resp_sum_ms; /* their sum (queue wait included) */
	uint64_t smsc_dlrs;        /* delivery receipts */
	uint64_t smsc_mos;         /* MO deliver_sm */
	struct {
		int code, sub;
		uint64_t n;
	} errors[GW_METRICS_CODES];
	uint64_t errors_other;
};

void gw_metrics_error(struct gw_metrics *m, int code, int sub);

/* Renders everything, plus the database figures, into a malloc'd string. NULL: no memory. */
char *gw_metrics_render(const struct gw_metrics *m, const struct db_stats *dbs,
                        int64_t outbox_depth, size_t *len);

#endif
