/* gw_config.h -- the gateway's configuration: one JSON file, one table of keys.
 *
 * Every key has a type, a default, bounds and flags (GW_CF_NO_RELOAD, GW_CF_SECRET); the table
 * (gw_config.c) drives the parser, --check-config, the redacted dump and docs/config.md.
 * Unknown keys, wrong types and values out of bounds are errors that name the file, line and
 * column. Loop thread only (SIGHUP builds a new struct and swaps it in after validation).
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_CFG_STR_MAX  512 /* every string value, paths included */
#define GW_CFG_LIST_MAX 8   /* entries of a list of strings; unused ones are "" */
#define GW_CFG_ERR_MAX  256

/* Hard upper bounds in code of the configurable limits (PROTOCOL.md section 3): the engine
 * checks at compile time that they match the sizes they protect (gw_sign.h GW_DISPLAY_HARD,
 * gw_txn.h GW_QUEUE_CAP_HARD, smsc.h SMSC_SEG_MAX). */
#define GW_CFG_DISPLAY_HARD      200 /* characters of `display` */
#define GW_CFG_SIGNER_QUEUE_HARD 64  /* pending signatures per signer */
#define GW_CFG_SMS_HARD          8   /* MT SMS per request: the OTA segment cap */

struct gw_config {
	char node_id[65]; /* "node_id" [A-Za-z0-9_.-]{1,64}, default "node-1" */
	/* listener */
	char listen_address[64]; /* "listen.address": numeric IPv4/IPv6, default "127.0.0.1" */
	int listen_port;         /* "listen.port": 1..65535, default 8443 */
	bool tls;                /* "listen.tls": default true */
	char tls_cert[GW_CFG_STR_MAX]; /* "tls.cert": PEM chain file */
	char tls_key[GW_CFG_STR_MAX];  /* "tls.key": PEM key, SECRET: must not be world-readable */
	char tls_client_ca[GW_CFG_STR_MAX]; /* "tls.client_ca": CA for mTLS clients, "" = none */
	/* development */
	bool dev_mode;      /* "dev.mode": default false; plain ws only with this on loopback */
	int dev_time_scale; /* "dev.time_scale": 1..1000, default 1; >1 needs loopback */
	bool dev_exit_after_signed; /* "dev.exit_after_signed": SIGKILL after a SIGNED commit */
	/* database */
	char db_conninfo[GW_CFG_STR_MAX];  /* "db.conninfo": libpq URI; env KYSO_PG_URL overrides */
	int db_lanes;                      /* "db.lanes": 1..16, default 4 */
	int db_batch_rows;                 /* "db.batch_rows": 1..1000, default 50 */
	int db_batch_ms;                   /* "db.batch_ms": 0..1000, default 2 */
	int db_queue_cap;                  /* "db.queue_cap": 1..1000000, default 10000 */
	char db_spool_dir[GW_CFG_STR_MAX]; /* "db.spool_dir": "" = no spool */
	int db_spool_max_bytes;            /* "db.spool_max_bytes": 4096..2^30, default 64 MiB */
	int db_spool_max_records;          /* "db.spool_max_records": 1..1000000, default 100000 */
	/* broker */
	char mqtt_host[64];   /* "mqtt.host": numeric, default "127.0.0.1"; env KYSO_MQTT_HOST */
	int mqtt_port;        /* "mqtt.port": 1..65535, default 1883; env KYSO_MQTT_PORT */
	int mqtt_inflight;    /* "mqtt.inflight": 1..1000, default 100 */
	int mqtt_keepalive_s; /* "mqtt.keepalive_s": 5..600, default 30 */
	/* limits (PROTOCOL.md section 3) */
	int frame_max;         /* "limits.frame_bytes": 1024..1048576, default 65536 */
	int frame_hard_cap;    /* "limits.frame_hard_cap": frame_max..16777216, default 1048576 */
	int inflight_per_conn; /* "limits.inflight_per_conn": 1..4096, default 256 */
	int max_sessions;      /* "limits.max_sessions": 1..1000000, default 10000 */
	int auth_fail_per_min; /* "limits.auth_failures_per_minute": 1..10000, default 20 */
	int display_max;       /* "limits.display_chars": 1..GW_CFG_DISPLAY_HARD, default 200 */
	int signer_queue;      /* "limits.signer_queue": 1..GW_CFG_SIGNER_QUEUE_HARD, default 16 */
	int rest_polls;        /* "limits.rest_polls": 1..100000, default 1000 (long polls) */
	/* policy and recovery connectors (REGULATION.md section 4, PROTOCOL.md section 9) */
	char policy_file[GW_CFG_STR_MAX]; /* "policy.file": the `policy` JSON; SECRET (HMAC keys) */
	int recovery_lease_s;             /* "recovery.lease_s": 5..3600, default 60 */
	int recovery_poll_ms;             /* "recovery.poll_ms": 50..60000, default 1000 */
	int recovery_retry_max_s;         /* "recovery.retry_max_s": 1..86400, default 900 */
	int recovery_retry_min_s;         /* "recovery.retry_min_s": 1..3600, default 5 */
	int recovery_timeout_ms;          /* "recovery.timeout_ms": 100..120000, default 10000 */
	/* SIM channel (TELECOM.md) */
	char smsc_routes[GW_CFG_STR_MAX]; /* "smsc.routes": carrier and route table file, SECRET */
	int smsc_enquire_link_s;          /* "smsc.enquire_link_s": 5..600, default 30 */
	int sim_resync_step;              /* "sim.cntr_resync_step": 1..100000, default 1000 */
	int sim_key_ref;                  /* "sim.key_ref": 1..255, default 1 */
	int sim_max_sms;                  /* "sim.max_sms": 1..GW_CFG_SMS_HARD, default 2 */
	/* lifecycle */
	int drain_timeout_s; /* "shutdown.drain_timeout_s": 1..300, default 10 */
	int log_level;       /* "log.level": "error"|"warn"|"info"|"debug", default "info" */
	/* verification (REGULATION.md section 6, docs/verification.md) */
	char trust_anchors[GW_CFG_LIST_MAX][GW_CFG_STR_MAX];       /* "trust.anchors": PEM files */
	char trust_intermediates[GW_CFG_LIST_MAX][GW_CFG_STR_MAX]; /* "trust.intermediates" */
	bool rev_check;        /* "revocation.check": default true */
	bool rev_crl;          /* "revocation.crl": CRL fallback, default true */
	int rev_timeout_ms;    /* "revocation.timeout_ms": 100..60000, default 5000 */
	int rev_skew_s;        /* "revocation.skew_s": 0..3600, default 300 */
	int rev_max_age_s;     /* "revocation.max_age_s": 60..604800, default 3600 */
	int rev_cache_entries; /* "revocation.cache_entries": 1..1000000, default 10000 */
};

/* Entries in use of a list key (they come first, the rest are ""). */
static inline int
gw_config_list_len(const char (*list)[GW_CFG_STR_MAX])
{
	int n = 0;

	while (n < GW_CFG_LIST_MAX && list[n][0] != '\0')
		n++;
	return n;
}

enum gw_cfg_flag {
	GW_CF_NO_RELOAD = 1 << 0, /* SIGHUP keeps the running value and warns if it changed */
	GW_CF_SECRET = 1 << 1,    /* a path to a secret file: checked for mode, never dumped */
};

/* Sets every key to its default. */
void gw_config_defaults(struct gw_config *cfg);

/* Parses JSON text (len bytes, at most 1 MiB) into *out (defaults first, then the file).
 * On error returns false and writes "NAME:LINE:COL: message" into err. Does not touch files
 * named by the keys. */
bool gw_config_parse(const char *text, size_t len, const char *name, struct gw_config *out,
                     char err[GW_CFG_ERR_MAX]);

/* Reads and parses a file, then applies the environment overrides (KYSO_PG_URL, KYSO_MQTT_HOST,
 * KYSO_MQTT_PORT) and the cross-key checks below. */
bool gw_config_load(const char *path, struct gw_config *out, char err[GW_CFG_ERR_MAX]);

/* Cross-key and file checks: TLS on a non-loopback listener; dev.time_scale only on loopback;
 * tls.cert/tls.key readable when TLS is on; secret files not world-readable. */
bool gw_config_validate(const struct gw_config *cfg, char err[GW_CFG_ERR_MAX]);

/* What SIGHUP may change: copies reloadable keys from next into cur; for NO_RELOAD keys that
 * differ, writes their names (comma separated) into ignored. */
void gw_config_apply_reload(struct gw_config *cur, const struct gw_config *next, char *ignored,
                            size_t ignored_len);

/* Writes the effective configuration as JSON with secrets redacted (--check-config). */
int gw_config_dump(const struct gw_config *cfg, char *buf, size_t len);

/* Writes docs/config.md's table (Markdown) from the key table. */
int gw_config_doc(char *buf, size_t len);

#endif
