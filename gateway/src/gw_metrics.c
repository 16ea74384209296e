/* gw_metrics.c -- Prometheus text exposition (version 0.0.4) of the gateway's counters. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gw_metrics.h"

void
gw_metrics_error(struct gw_metrics *m, int code, int sub)
{
	for (int i = 0; i < GW_METRICS_CODES; i++) {
		if (m->errors[i].n != 0 && m->errors[i].code == code && m->errors[i].sub == sub) {
			m->errors[i].n++;
			return;
		}
		if (m->errors[i].n == 0) {
			m->errors[i].code = code;
			m->errors[i].sub = sub;
			m->errors[i].n = 1;
			return;
		}
	}
	m->errors_other++;
}

struct out {
	char *buf;
	size_t len, cap;
	int failed;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->failed = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len)
			break;
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);

		if (nb == NULL) {
			o->failed = 1;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
	o->len += (size_t)n;
}

static void
metric(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
	    (unsigned long long)v);
}

static void
db_figures(struct out *o, const struct db_stats *s, int64_t outbox_depth)
{
	uint64_t cum = 0;

	metric(o, "kyso_db_queue_depth", "gauge", "Events waiting for a database lane.", s->queued);
	metric(o, "kyso_db_inflight", "gauge", "Events in batches awaiting their commit.",
	       s->inflight);
	metric(o, "kyso_db_committed_total", "counter", "Events committed.", s->committed);
	metric(o, "kyso_db_failed_total", "counter", "Events whose statement failed.", s->failed);
	metric(o, "kyso_db_reconnects_total", "counter", "Database reconnections.", s->reconnects);
	put(o, "# HELP kyso_db_commit_seconds Lane batch commit latency (send to sync).\n"
	       "# TYPE kyso_db_commit_seconds histogram\n");
	for (int i = 0; i < DB_LAT_BUCKETS; i++) {
		cum = s->commit_lat[i];
		if (i == DB_LAT_BUCKETS - 1)
			put(o, "kyso_db_commit_seconds_bucket{le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
		else
			put(o, "kyso_db_commit_seconds_bucket{le=\"%g\"} %llu\n",
			    db_lat_bucket_ms[i] / 1000.0, (unsigned long long)cum);
	}
	put(o, "kyso_db_commit_seconds_sum %.6f\nkyso_db_commit_seconds_count %llu\n",
	    s->commit_sum_ms / 1000.0, (unsigned long long)s->commit_count);
	metric(o, "kyso_db_spool_records", "gauge",
	       "Transaction events in the local spool (database away).", s->spool_records);
	metric(o, "kyso_db_spool_bytes", "gauge", "Size of the local spool file.", s->spool_bytes);
	metric(o, "kyso_db_spool_refused_total", "counter",
	       "Transaction events refused because the spool was full.", s->spool_refused);
	metric(o, "kyso_mqtt_outbox_depth", "gauge", "Outbox rows waiting for the broker.",
	       outbox_depth > 0 ? (uint64_t)outbox_depth : 0);
}

static void
smsc_figures(struct out *o, const struct gw_metrics *m)
{
	metric(o, "kyso_smsc_binds_up", "gauge", "SMPP links bound to an SMSC.", m->smsc_binds_up);
	metric(o, "kyso_smsc_binds_total", "counter", "SMPP binds that came up.",
	       m->smsc_bind_events);
	metric(o, "kyso_smsc_submits_total", "counter", "submit_sm queued.", m->smsc_submits);
	metric(o, "kyso_smsc_submit_ok_total", "counter", "submit_sm answered OK.",
	       m->smsc_submit_ok);
	metric(o, "kyso_smsc_submit_failed_total", "counter", "submit_sm failed for good.",
	       m->smsc_submit_fail);
	put(o,
	    "# HELP kyso_smsc_resp_seconds Queueing to submit_sm_resp.\n"
	    "# TYPE kyso_smsc_resp_seconds summary\n"
	    "kyso_smsc_resp_seconds_sum %.3f\nkyso_smsc_resp_seconds_count %llu\n",
	    (double)m->smsc_resp_sum_ms / 1000.0, (unsigned long long)m->smsc_resp_count);
	metric(o, "kyso_smsc_dlrs_total", "counter", "Delivery receipts received.", m->smsc_dlrs);
	metric(o, "kyso_smsc_mos_total", "counter", "MO deliver_sm received.", m->smsc_mos);
}

char *
gw_metrics_render(const struct gw_metrics *m, const struct db_stats *dbs, int64_t outbox_depth,
                  size_t *len)
{
	struct out o = { .buf = malloc(4096), .cap = 4096 };

	if (o.buf == NULL)
		return NULL;
	metric(&o, "kyso_connections", "gauge", "Open authenticated WebSocket sessions.",
	       m->conns_open);
	metric(&o, "kyso_connections_total", "counter", "WebSocket sessions opened.",
	       m->conns_total);
	metric(&o, "kyso_auth_failures_total", "counter", "Refused authentications.",
	       m->auth_failures);
	metric(&o, "kyso_auth_rate_limited_total", "counter",
	       "Requests refused because their address failed too often.", m->auth_limited);
	metric(&o, "kyso_frames_received_total", "counter", "WebSocket text frames received.",
	       m->frames_in);
	metric(&o, "kyso_frames_sent_total", "counter", "WebSocket frames sent.", m->frames_out);
	metric(&o, "kyso_node_events_total", "counter", "Node events appended.", m->node_events);
	metric(&o, "kyso_node_events_refused_total", "counter",
	       "Node events the database queue refused.", m->node_events_lost);
	metric(&o, "kyso_mqtt_published_total", "counter", "Outbox rows acknowledged by MQTT.",
	       m->mqtt_published);
	metric(&o, "kyso_mqtt_connected", "gauge", "1 while the broker session is up.",
	       m->mqtt_connected);
	metric(&o, "kyso_txn_accepted_total", "counter", "Transactions accepted.", m->txn_accepted);
	metric(&o, "kyso_txn_final_total", "counter", "Final results committed.", m->txn_final);
	metric(&o, "kyso_txn_reloaded_total", "counter", "Open transactions reloaded at start.",
	       m->txn_reloaded);
	metric(&o, "kyso_db_ready", "gauge", "1 while the database is connected and current.",
	       m->db_ready);
	smsc_figures(&o, m);
	put(&o, "# HELP kyso_errors_total Error answers by status code and sub-code.\n"
	        "# TYPE kyso_errors_total counter\n");
	for (int i = 0; i < GW_METRICS_CODES && m->errors[i].n != 0; i++)
		put(&o, "kyso_errors_total{code=\"%d\",sub=\"%d\"} %llu\n", m->errors[i].code,
		    m->errors[i].sub, (unsigned long long)m->errors[i].n);
	if (m->errors_other != 0)
		put(&o, "kyso_errors_total{code=\"other\",sub=\"0\"} %llu\n",
		    (unsigned long long)m->errors_other);
	db_figures(&o, dbs, outbox_depth);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}
