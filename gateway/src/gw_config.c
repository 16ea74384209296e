/* gw_config.c -- the gateway's configuration: one key table drives the parser, the checks,
 * the reload, the redacted dump (--check-config) and docs/config.md (STYLE.md 2.11,
 * ARCHITECTURE.md section 8).
 *
 * The file is operator input, parsed with the bounded cursor tokenizer of gw_json_pos.c so that
 * every error can name the line and column of the key or value at fault. Loop thread only.
 */
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_config.h"
#include "gw_json_pos.h"
#include "gw_log.h"

enum cf_type {
	CF_BOOL,
	CF_INT,
	CF_LEVEL, /* a log level name stored as enum gw_log_level */
	CF_STR,
	CF_LIST, /* a JSON array of at most GW_CFG_LIST_MAX non-empty strings */
};

enum cf_check {
	CK_NONE,
	CK_IP,      /* numeric IPv4 or IPv6, no host names: no resolver on the loop */
	CK_NODE_ID, /* [A-Za-z0-9_.-]{1,64}: it goes into MQTT topics and log lines */
};

/* Internal flag beside enum gw_cfg_flag: the value may embed a password (a libpq conninfo), so
 * the dump masks that part. */
#define CF_PASSWORD (1u << 8)

struct cf_key {
	const char *name;
	enum cf_type type;
	size_t off, size; /* of the field in struct gw_config */
	unsigned flags;
	long long def;     /* CF_BOOL, CF_INT, CF_LEVEL */
	const char *def_s; /* CF_STR */
	long long min, max;
	enum cf_check check;
	const char *doc;
};

#define FIELD(f) offsetof(struct gw_config, f), sizeof(((struct gw_config *)NULL)->f)
#define KEY_BOOL(n, f, fl, d, doc)                                                                 \
	{                                                                                          \
		n, CF_BOOL, FIELD(f), fl, d, NULL, 0, 1, CK_NONE, doc                              \
	}
#define KEY_INT(n, f, fl, d, lo, hi, doc)                                                          \
	{                                                                                          \
		n, CF_INT, FIELD(f), fl, d, NULL, lo, hi, CK_NONE, doc                             \
	}
#define KEY_LEVEL(n, f, fl, d, doc)                                                                \
	{                                                                                          \
		n, CF_LEVEL, FIELD(f), fl, d, NULL, GW_LOG_ERR, GW_LOG_DEBUG, CK_NONE, doc         \
	}
#define KEY_LIST(n, f, fl, doc)                                                                    \
	{                                                                                          \
		n, CF_LIST, FIELD(f), fl, 0, NULL, 0, GW_CFG_LIST_MAX, CK_NONE, doc                \
	}
#define KEY_STR(n, f, fl, d, ck, doc)                                                              \
	{                                                                                          \
		n, CF_STR, FIELD(f), fl, 0, d, 0, 0, ck, doc                                       \
	}

/* Reloadable keys are the ones the gateway reads afresh at each use. The rest are copied into
 * other modules or sized buffers at start: limits.frame_bytes sizes each session's receive
 * buffer, so raising it under a live session would overrun that buffer. */
#define NR GW_CF_NO_RELOAD

/* Sorted by name (strcmp): the unit test checks it, and the dump relies on it to group each
 * section's keys into one object. */
static const struct cf_key keys[] = {
	KEY_INT("db.batch_ms", db_batch_ms, NR, 2, 0, 1000,
	        "How long a writer lane waits to fill a batch, in milliseconds."),
	KEY_INT("db.batch_rows", db_batch_rows, NR, 50, 1, 1000,
	        "Event rows per batched INSERT on one writer lane."),
	KEY_STR("db.conninfo", db_conninfo, NR | CF_PASSWORD, "", CK_NONE,
	        "libpq connection URI or key=value string; required. Env `KYSO_PG_URL` overrides "
	        "it. A password in it is masked in `--check-config`."),
	KEY_INT("db.lanes", db_lanes, NR, 4, 1, 16,
	        "Writer connections to PostgreSQL; events of one transaction stay on one lane."),
	KEY_INT("db.queue_cap", db_queue_cap, NR, 10000, 1, 1000000,
	        "Events queued for the database before new work is refused (900/9005)."),
	KEY_STR("db.spool_dir", db_spool_dir, NR, "/var/lib/kyso/spool", CK_NONE,
	        "Folder of this node's spool file `<node_id>.spool`: transaction events that "
	        "cannot be committed while PostgreSQL is away are fsync'd there and replayed "
	        "in order when it returns or the gateway starts (docs/database.md). Created "
	        "(mode 0700, with missing parents) when needed; one gateway per file (locked). "
	        "Empty: no spool."),
	KEY_INT("db.spool_max_bytes", db_spool_max_bytes, NR, 67108864, 4096, 1073741824,
	        "Spool file size ceiling; past it (or `db.spool_max_records`) further events of "
	        "transactions in flight are refused until the database is back."),
	KEY_INT("db.spool_max_records", db_spool_max_records, NR, 100000, 1, 1000000,
	        "Records the spool file may hold."),
	KEY_BOOL("dev.exit_after_signed", dev_exit_after_signed, NR, 0,
	         "Fault injection for tests: the node kills itself (SIGKILL) once a device "
	         "answer's `SIGNED` event is committed, before verification and the final event. "
	         "Only with `dev.mode`."),
	KEY_BOOL("dev.mode", dev_mode, NR, 0,
	         "Development mode: allows plain WebSocket and `dev.time_scale` on loopback."),
	KEY_INT("dev.time_scale", dev_time_scale, NR, 1, 1, 1000,
	        "Divides the gateway's timeouts (SIM deadlines, recovery retries) to follow the "
	        "simulator's scaled clock; token deadlines stay real. Above 1 only with `dev.mode` "
	        "on a loopback listener."),
	KEY_INT("limits.auth_failures_per_minute", auth_fail_per_min, 0, 20, 1, 10000,
	        "Failed authentications per source address and minute before it gets 429."),
	KEY_INT("limits.display_chars", display_max, 0, 200, 1, GW_CFG_DISPLAY_HARD,
	        "Longest `display` text of a `sign`, in characters; longer ones get 103 "
	        "WRONG_DATA_LENGTH (PROTOCOL.md section 3). 200 is also the hard cap."),
	KEY_INT("limits.frame_bytes", frame_max, NR, 65536, 1024, 1048576,
	        "Largest WebSocket message answered normally; larger ones get 103 "
	        "WRONG_DATA_LENGTH (PROTOCOL.md section 3)."),
	KEY_INT("limits.frame_hard_cap", frame_hard_cap, NR, 1048576, 1024, 16777216,
	        "Messages above this close the connection with 1009; at least "
	        "`limits.frame_bytes`."),
	KEY_INT("limits.inflight_per_conn", inflight_per_conn, 0, 256, 1, 4096,
	        "Requests one connection may have in flight."),
	KEY_INT("limits.max_sessions", max_sessions, 0, 10000, 1, 1000000,
	        "WebSocket sessions open at once on this node."),
	KEY_INT("limits.rest_polls", rest_polls, 0, 1000, 1, 100000,
	        "REST long polls (`GET /v1/sign/{txn}?wait=`) waiting at once on this node; one "
	        "more is answered 900/9005 (HTTP 503, PROTOCOL.md section 6)."),
	KEY_INT("limits.signer_queue", signer_queue, 0, 16, 1, GW_CFG_SIGNER_QUEUE_HARD,
	        "Pending signatures per signer (on the device and waiting); one more is refused "
	        "406 (PROTOCOL.md section 3). Hard cap 64."),
	KEY_STR("listen.address", listen_address, NR, "127.0.0.1", CK_IP,
	        "Numeric IPv4 or IPv6 address the WebSocket listener binds."),
	KEY_INT("listen.port", listen_port, NR, 8443, 1, 65535, "TCP port of the listener."),
	KEY_BOOL("listen.tls", tls, NR, 1,
	         "TLS on the listener. Off only with `dev.mode` on a loopback address."),
	KEY_LEVEL("log.level", log_level, 0, GW_LOG_INFO,
	          "`error`, `warn`, `info` or `debug`; stored as enum gw_log_level."),
	KEY_STR("mqtt.host", mqtt_host, NR, "127.0.0.1", CK_IP,
	        "Numeric address of the MQTT broker. Env `KYSO_MQTT_HOST` overrides it."),
	KEY_INT("mqtt.inflight", mqtt_inflight, NR, 100, 1, 1000,
	        "QoS 1 messages in flight to the broker."),
	KEY_INT("mqtt.keepalive_s", mqtt_keepalive_s, NR, 30, 5, 600,
	        "MQTT keepalive, in seconds."),
	KEY_INT("mqtt.port", mqtt_port, NR, 1883, 1, 65535,
	        "Broker port. Env `KYSO_MQTT_PORT` overrides it."),
	KEY_STR("node_id", node_id, NR, "node-1", CK_NODE_ID,
	        "This node's name in logs, MQTT topics and the event log; unique per cluster."),
	KEY_STR("policy.file", policy_file, NR | GW_CF_SECRET, "", CK_NONE,
	        "JSON file holding the `policy` object (province profiles, the central profile, "
	        "recovery connectors with their HMAC secrets, the calendar: docs/policy.md); "
	        "empty: "
	        "the shipped profiles. SIGHUP reads the file again (the path itself stays). It "
	        "must not be accessible to other users."),
	KEY_INT("recovery.lease_s", recovery_lease_s, NR, 60, 5, 3600,
	        "How long a node holds a claimed webhook delivery before another node may take "
	        "it."),
	KEY_INT("recovery.poll_ms", recovery_poll_ms, NR, 1000, 50, 60000,
	        "How often a node looks for due recovery webhook deliveries."),
	KEY_INT("recovery.retry_max_s", recovery_retry_max_s, NR, 900, 1, 86400,
	        "Longest wait between two webhook attempts; at least `recovery.retry_min_s`."),
	KEY_INT("recovery.retry_min_s", recovery_retry_min_s, NR, 5, 1, 3600,
	        "Wait after the first failed webhook attempt; it doubles per attempt."),
	KEY_INT("recovery.timeout_ms", recovery_timeout_ms, NR, 10000, 100, 120000,
	        "Time limit of one webhook POST, connection and answer included."),
	KEY_INT("revocation.cache_entries", rev_cache_entries, NR, 10000, 1, 1000000,
	        "OCSP answers kept, each until its nextUpdate."),
	KEY_BOOL("revocation.check", rev_check, NR, 1,
	         "Check revocation (OCSP, then CRL). Off: every result is 500 with revocation "
	         "`unknown` (ONLINE_CHECKING_CERT_DISABLED), never 502."),
	KEY_BOOL("revocation.crl", rev_crl, NR, 1,
	         "Fall back to the CRL of the certificate's distribution point when OCSP gives no "
	         "usable answer."),
	KEY_INT("revocation.max_age_s", rev_max_age_s, NR, 3600, 60, 604800,
	        "Oldest thisUpdate accepted from an OCSP answer without nextUpdate or without the "
	        "nonce echoed, and from a CRL without nextUpdate."),
	KEY_INT("revocation.skew_s", rev_skew_s, NR, 300, 0, 3600,
	        "Clock leeway on thisUpdate and nextUpdate of OCSP answers and CRLs."),
	KEY_INT("revocation.timeout_ms", rev_timeout_ms, NR, 5000, 100, 60000,
	        "One OCSP or CRL fetch, connection included."),
	KEY_INT("shutdown.drain_timeout_s", drain_timeout_s, 0, 10, 1, 300,
	        "How long SIGTERM waits for in-flight work before persisting it and exiting."),
	KEY_INT("sim.cntr_resync_step", sim_resync_step, NR, 1000, 1, 100000,
	        "How far the OTA counter jumps when a card answers PoR 02 to a packet sent once "
	        "(TELECOM.md 2.3); the request is then sent once more."),
	KEY_INT("sim.key_ref", sim_key_ref, NR, 1, 1, 255,
	        "Key reference of the signing key in the kyso-v1 request (tag 10)."),
	KEY_INT("sim.max_sms", sim_max_sms, 0, 2, 1, GW_CFG_SMS_HARD,
	        "SIM display budget: MT SMS one request may take (TELECOM.md 3.3); a display "
	        "that does not fit with the AP's prefix and the code gets 103. Hard cap 8, the OTA "
	        "segment limit."),
	KEY_INT("smsc.enquire_link_s", smsc_enquire_link_s, NR, 30, 5, 600,
	        "Seconds without traffic before an SMPP link sends enquire_link."),
	KEY_STR("smsc.routes", smsc_routes, NR | GW_CF_SECRET, "", CK_NONE,
	        "Carrier and route table of the SIM channel (docs/sim-channel.md): `carrier` lines "
	        "with numeric host, port, system_id, password, window, tps, binds, mo_addr, and "
	        "`route PREFIX CARRIER` lines. Empty: no SIM channel. It holds SMPP passwords, so "
	        "the file must not be accessible to other users."),
	KEY_STR("tls.cert", tls_cert, NR, "", CK_NONE,
	        "PEM certificate chain of the listener; required when `listen.tls` is on."),
	KEY_STR("tls.client_ca", tls_client_ca, NR, "", CK_NONE,
	        "PEM CA file for client certificates (mTLS); empty: no client certificates."),
	KEY_STR("tls.key", tls_key, NR | GW_CF_SECRET, "", CK_NONE,
	        "PEM private key of the listener; required when `listen.tls` is on. The file must "
	        "not be accessible to other users."),
	KEY_LIST(
	        "trust.anchors", trust_anchors, NR,
	        "PEM files of the signing trust anchors (REGULATION.md section 6 step 4), e.g. "
	        "the test PKI's root; not the TLS CA. Empty: signatures are not verified and every "
	        "result is 500."),
	KEY_LIST("trust.intermediates", trust_intermediates, NR,
	         "PEM files of issuing CA certificates used to build paths to an anchor; they are "
	         "not trusted themselves."),
};

#define NKEYS       (sizeof(keys) / sizeof(keys[0]))
#define CF_PATH_MAX 64 /* longest dotted name accepted; the longest key has 31 bytes */
#define CF_SECT_MAX 32
#define CF_MSG_MAX  (GW_CFG_ERR_MAX - 32)
#define REDACTED    "<redacted>"

static const struct {
	const char *name;
	int level;
} levels[] = {
	{ "error", GW_LOG_ERR },
	{ "warn", GW_LOG_WARN },
	{ "info", GW_LOG_INFO },
	{ "debug", GW_LOG_DEBUG },
};

/* Environment overrides (ARCHITECTURE.md section 8: database and broker addresses). */
static const struct {
	const char *var;
	const char *key;
} env_map[] = {
	{ "KYSO_PG_URL", "db.conninfo" },
	{ "KYSO_MQTT_HOST", "mqtt.host" },
	{ "KYSO_MQTT_PORT", "mqtt.port" },
};

/* ---- the table ------------------------------------------------------------------------ */

static int *
field_int(struct gw_config *cfg, const struct cf_key *k)
{
	return (int *)(void *)((char *)cfg + k->off);
}

static int
get_int(const struct gw_config *cfg, const struct cf_key *k)
{
	return *(const int *)(const void *)((const char *)cfg + k->off);
}

static bool
get_bool(const struct gw_config *cfg, const struct cf_key *k)
{
	return *(const bool *)(const void *)((const char *)cfg + k->off);
}

static char *
field_str(struct gw_config *cfg, const struct cf_key *k)
{
	return (char *)cfg + k->off;
}

static const char *
get_str(const struct gw_config *cfg, const struct cf_key *k)
{
	return (const char *)cfg + k->off;
}

static const char *
list_item(const struct gw_config *cfg, const struct cf_key *k, int i)
{
	return (const char *)cfg + k->off + (size_t)i * GW_CFG_STR_MAX;
}

static char *
list_item_mut(struct gw_config *cfg, const struct cf_key *k, int i)
{
	return (char *)cfg + k->off + (size_t)i * GW_CFG_STR_MAX;
}

static const struct cf_key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* True when some key lives under name, as "db" is for "db.lanes". */
static bool
key_is_section(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, name, n) == 0 && keys[i].name[n] == '.')
			return true;
	return false;
}

static const char *
level_name(int level)
{
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (levels[i].level == level)
			return levels[i].name;
	return NULL;
}

void
gw_config_defaults(struct gw_config *cfg)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NKEYS; i++) {
		const struct cf_key *k = &keys[i];

		if (k->type == CF_BOOL)
			*(bool *)(void *)((char *)cfg + k->off) = k->def != 0;
		else if (k->type == CF_STR)
			snprintf(field_str(cfg, k), k->size, "%s", k->def_s);
		else if (k->type != CF_LIST) /* a list starts empty (memset above) */
			*field_int(cfg, k) = (int)k->def;
	}
}

/* ---- one key's value: the same checks for the file, the environment and validate ------- */

static bool
addr_numeric(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 (the same loopback seen from an IPv6 socket). */
static bool
addr_loopback(const char *s)
{
	static const unsigned char v6_lo[16] = { [15] = 1 };
	static const unsigned char v4_mapped[12] = { [10] = 0xFF, [11] = 0xFF };
	unsigned char a[16];

	if (inet_pton(AF_INET, s, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, s, a) != 1)
		return false;
	return memcmp(a, v6_lo, 16) == 0 || (memcmp(a, v4_mapped, 12) == 0 && a[12] == 127);
}

static bool
node_id_ok(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");

	return n >= 1 && n <= 64 && s[n] == '\0';
}

static bool
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

static bool
int_in_bounds(const struct cf_key *k, long long v, char *msg, size_t cap)
{
	if (v >= k->min && v <= k->max)
		return true;
	snprintf(msg, cap, "%s is out of range %lld..%lld (got %lld)", k->name, k->min, k->max, v);
	return false;
}

/* Entries are used strings first, then "" to the end; each one as a string key's. */
static bool
list_check(const struct cf_key *k, const struct gw_config *cfg, char *msg, size_t cap)
{
	bool ended = false;
	int i;

	for (i = 0; i < GW_CFG_LIST_MAX; i++) {
		const char *s = list_item(cfg, k, i);

		if (memchr(s, '\0', GW_CFG_STR_MAX) == NULL) {
			snprintf(msg, cap, "%s[%d] is too long: at most %d bytes", k->name, i,
			         GW_CFG_STR_MAX - 1);
			return false;
		}
		if (s[0] == '\0') {
			ended = true;
			continue;
		}
		if (ended) {
			snprintf(msg, cap, "%s[%d] follows an empty entry", k->name, i);
			return false;
		}
		if (has_control(s)) {
			snprintf(msg, cap, "%s[%d] contains a control character", k->name, i);
			return false;
		}
	}
	return true;
}

/* The checks a stored value must pass, whether it came from the file, the environment or code
 * that filled the struct itself. */
static bool
key_check(const struct cf_key *k, const struct gw_config *cfg, char *msg, size_t cap)
{
	const char *s;

	switch (k->type) {
	case CF_BOOL:
		return true;
	case CF_INT:
		return int_in_bounds(k, get_int(cfg, k), msg, cap);
	case CF_LEVEL:
		if (level_name(get_int(cfg, k)) != NULL)
			return true;
		snprintf(msg, cap, "%s takes one of error, warn, info, debug", k->name);
		return false;
	case CF_LIST:
		return list_check(k, cfg, msg, cap);
	case CF_STR:
		break;
	}
	s = get_str(cfg, k);
	if (memchr(s, '\0', k->size) == NULL) {
		snprintf(msg, cap, "%s is too long: at most %zu bytes", k->name, k->size - 1);
		return false;
	}
	if (has_control(s)) {
		snprintf(msg, cap, "%s contains a control character", k->name);
		return false;
	}
	if (k->check == CK_IP && !addr_numeric(s)) {
		snprintf(msg, cap, "%s must be a numeric IPv4 or IPv6 address", k->name);
		return false;
	}
	if (k->check == CK_NODE_ID && !node_id_ok(s)) {
		snprintf(msg, cap, "%s must be 1 to 64 of A-Z a-z 0-9 _ . -", k->name);
		return false;
	}
	return true;
}

/* A value as read from the tokenizer or from an environment variable. */
struct cf_val {
	enum gw__jtok kind;
	bool num_int, num_range;
	int64_t num;
	const char *s;
	size_t slen;
	bool s_long;
};

static const char *
type_name(const struct cf_key *k)
{
	switch (k->type) {
	case CF_BOOL:
		return "true or false";
	case CF_INT:
		return "an integer";
	case CF_LIST:
		return "a list of strings";
	case CF_LEVEL:
	case CF_STR:
		break;
	}
	return "a string";
}

static bool
type_error(const struct cf_key *k, enum gw__jtok got, char *msg, size_t cap)
{
	if (got == GW__J_OBJ)
		snprintf(msg, cap, "nesting where none is expected: %s takes %s, not an object",
		         k->name, type_name(k));
	else
		snprintf(msg, cap, "%s takes %s, not %s", k->name, type_name(k),
		         gw__jtok_name(got));
	return false;
}

static bool
set_str(const struct cf_key *k, struct gw_config *cfg, const struct cf_val *v, char *msg,
        size_t cap)
{
	size_t i;

	if (k->type == CF_LEVEL) {
		for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			if (strcmp(v->s, levels[i].name) == 0) {
				*field_int(cfg, k) = levels[i].level;
				return true;
			}
		}
		snprintf(msg, cap, "%s takes one of error, warn, info, debug", k->name);
		return false;
	}
	if (v->s_long || v->slen >= k->size) {
		snprintf(msg, cap, "%s is too long: at most %zu bytes", k->name, k->size - 1);
		return false;
	}
	memcpy(field_str(cfg, k), v->s, v->slen);
	field_str(cfg, k)[v->slen] = '\0';
	return key_check(k, cfg, msg, cap);
}

/* Type-checks v against k and stores it. On failure msg says why, naming the key. */
static bool
key_set(const struct cf_key *k, struct gw_config *cfg, const struct cf_val *v, char *msg,
        size_t cap)
{
	switch (k->type) {
	case CF_BOOL:
		if (v->kind != GW__J_TRUE && v->kind != GW__J_FALSE)
			return type_error(k, v->kind, msg, cap);
		*(bool *)(void *)((char *)cfg + k->off) = v->kind == GW__J_TRUE;
		return true;
	case CF_INT:
		if (v->kind != GW__J_NUM)
			return type_error(k, v->kind, msg, cap);
		if (!v->num_int) {
			snprintf(msg, cap, "%s takes an integer, not a fraction or exponent",
			         k->name);
			return false;
		}
		if (v->num_range) {
			snprintf(msg, cap, "%s is out of range %lld..%lld", k->name, k->min,
			         k->max);
			return false;
		}
		if (!int_in_bounds(k, (long long)v->num, msg, cap))
			return false;
		*field_int(cfg, k) = (int)v->num;
		return true;
	case CF_LIST: /* read_list reads the array itself */
		return type_error(k, v->kind, msg, cap);
	case CF_LEVEL:
	case CF_STR:
		break;
	}
	if (v->kind != GW__J_STR)
		return type_error(k, v->kind, msg, cap);
	return set_str(k, cfg, v, msg, cap);
}

/* ---- parsing ------------------------------------------------------------------------- */

struct cf_pos {
	unsigned line, col; /* line 0: not seen yet */
};

struct cf_parse {
	struct gw__jpos j;
	const char *name;
	char *err;
	struct gw_config *cfg;
	struct cf_pos seen[NKEYS];
	struct {
		char path[CF_PATH_MAX];
		struct cf_pos at;
	} sect[CF_SECT_MAX];
	int nsect;
	char path[CF_PATH_MAX]; /* the section being read, "" at the top level */
	size_t path_len[GW__JPOS_DEPTH_MAX];
	int depth;
};

__attribute__((format(printf, 4, 5))) static bool
fail_at(struct cf_parse *ps, unsigned line, unsigned col, const char *fmt, ...)
{
	char msg[CF_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, GW_CFG_ERR_MAX, "%s:%u:%u: %s", ps->name, line, col, msg);
	return false;
}

/* Key text for a message: printable ASCII only, shortened, so that a hostile file cannot put
 * terminal escapes or megabytes into the log. */
static void
printable(char *out, size_t cap, const char *in)
{
	size_t i, n = 0;

	for (i = 0; in[i] != '\0' && n + 4 < cap; i++)
		out[n++] = (in[i] >= 0x20 && in[i] < 0x7F) ? in[i] : '?';
	if (in[i] != '\0' && n + 3 < cap) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static bool
unknown_key(struct cf_parse *ps, const char *key)
{
	char shown[CF_PATH_MAX + 8], full[2 * CF_PATH_MAX];

	if (ps->depth > 0)
		snprintf(full, sizeof(full), "%s.%s", ps->path, key);
	else
		snprintf(full, sizeof(full), "%s", key);
	printable(shown, sizeof(shown), full);
	if (strchr(key, '.') != NULL)
		return fail_at(ps, ps->j.tok_line, ps->j.tok_col,
		               "unknown key \"%s\" (write dotted names as nested objects)", shown);
	return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "unknown key \"%s\"", shown);
}

/* The strings of a list key, after its '['. */
static bool
read_list(struct cf_parse *ps, const struct cf_key *k)
{
	char msg[CF_MSG_MAX];
	int n = 0;

	memset((char *)ps->cfg + k->off, 0, k->size);
	for (;;) {
		enum gw__jtok t = gw__jpos_next(&ps->j);
		char *item;

		if (t == GW__J_ARR_END)
			break;
		if (t == GW__J_ERR)
			return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", ps->j.err);
		if (t != GW__J_STR)
			return fail_at(ps, ps->j.tok_line, ps->j.tok_col,
			               "%s takes a list of strings, not %s in it", k->name,
			               gw__jtok_name(t));
		if (n >= GW_CFG_LIST_MAX)
			return fail_at(ps, ps->j.tok_line, ps->j.tok_col,
			               "%s holds at most %d entries", k->name, GW_CFG_LIST_MAX);
		if (ps->j.str_long || ps->j.str_len >= GW_CFG_STR_MAX)
			return fail_at(ps, ps->j.tok_line, ps->j.tok_col,
			               "%s[%d] is too long: at most %d bytes", k->name, n,
			               GW_CFG_STR_MAX - 1);
		if (ps->j.str_len == 0)
			return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s[%d] is empty",
			               k->name, n);
		item = list_item_mut(ps->cfg, k, n);
		memcpy(item, ps->j.str, ps->j.str_len);
		item[ps->j.str_len] = '\0';
		n++;
	}
	if (!key_check(k, ps->cfg, msg, sizeof(msg)))
		return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", msg);
	return true;
}

static bool
read_leaf(struct cf_parse *ps, const struct cf_key *k, unsigned kline, unsigned kcol)
{
	struct cf_pos *seen = &ps->seen[k - keys];
	struct cf_val v = { 0 };
	char msg[CF_MSG_MAX];

	if (seen->line != 0)
		return fail_at(ps, kline, kcol, "duplicate key \"%s\" (first at %u:%u)", k->name,
		               seen->line, seen->col);
	seen->line = kline;
	seen->col = kcol;
	v.kind = gw__jpos_next(&ps->j);
	if (v.kind == GW__J_ERR)
		return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", ps->j.err);
	if (k->type == CF_LIST && v.kind == GW__J_ARR)
		return read_list(ps, k);
	v.num_int = ps->j.num_int;
	v.num_range = ps->j.num_range;
	v.num = ps->j.num;
	v.s = ps->j.str;
	v.slen = ps->j.str_len;
	v.s_long = ps->j.str_long;
	if (!key_set(k, ps->cfg, &v, msg, sizeof(msg)))
		return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", msg);
	return true;
}

static bool
open_section(struct cf_parse *ps, const char *full, unsigned kline, unsigned kcol)
{
	int i;

	for (i = 0; i < ps->nsect; i++)
		if (strcmp(ps->sect[i].path, full) == 0)
			return fail_at(ps, kline, kcol, "duplicate key \"%s\" (first at %u:%u)",
			               full, ps->sect[i].at.line, ps->sect[i].at.col);
	/* Sections are prefixes of table names, so there are fewer than CF_SECT_MAX. */
	if (ps->nsect >= CF_SECT_MAX || ps->depth >= GW__JPOS_DEPTH_MAX)
		return fail_at(ps, kline, kcol, "too many sections");
	snprintf(ps->sect[ps->nsect].path, CF_PATH_MAX, "%s", full);
	ps->sect[ps->nsect].at.line = kline;
	ps->sect[ps->nsect].at.col = kcol;
	ps->nsect++;
	switch (gw__jpos_next(&ps->j)) {
	case GW__J_OBJ:
		break;
	case GW__J_ERR:
		return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", ps->j.err);
	default:
		return fail_at(ps, ps->j.tok_line, ps->j.tok_col,
		               "\"%s\" is a section: it takes an object", full);
	}
	ps->path_len[ps->depth++] = strlen(ps->path);
	snprintf(ps->path, sizeof(ps->path), "%s", full);
	return true;
}

/* One member: the key is in ps->j.str. */
static bool
read_member(struct cf_parse *ps)
{
	unsigned kline = ps->j.tok_line, kcol = ps->j.tok_col;
	const char *key = ps->j.str;
	const struct cf_key *k;
	char full[CF_PATH_MAX];
	int n;

	if (ps->j.str_long || key[0] == '\0' || strchr(key, '.') != NULL)
		return unknown_key(ps, key);
	if (ps->depth > 0)
		n = snprintf(full, sizeof(full), "%s.%s", ps->path, key);
	else
		n = snprintf(full, sizeof(full), "%s", key);
	if (n < 0 || (size_t)n >= sizeof(full))
		return unknown_key(ps, key);
	if ((k = key_find(full)) != NULL)
		return read_leaf(ps, k, kline, kcol);
	if (key_is_section(full))
		return open_section(ps, full, kline, kcol);
	return unknown_key(ps, key);
}

static bool
parse_members(struct cf_parse *ps)
{
	for (;;) {
		enum gw__jtok t = gw__jpos_next(&ps->j);

		switch (t) {
		case GW__J_KEY:
			if (!read_member(ps))
				return false;
			break;
		case GW__J_OBJ_END:
			if (ps->depth == 0)
				goto end;
			ps->path[ps->path_len[--ps->depth]] = '\0';
			break;
		case GW__J_ERR:
			return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", ps->j.err);
		default: /* the tokenizer's grammar allows nothing else here */
			return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "unexpected %s",
			               gw__jtok_name(t));
		}
	}
end:
	if (gw__jpos_next(&ps->j) != GW__J_EOF)
		return fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", ps->j.err);
	return true;
}

/* Cross-key rule that needs no file: checked here too so that the error has a position. */
static bool
parse_cross_keys(struct cf_parse *ps)
{
	const struct cf_key *hard = key_find("limits.frame_hard_cap");
	const struct cf_key *soft = key_find("limits.frame_bytes");
	const struct cf_pos *at = &ps->seen[hard - keys];

	if (ps->cfg->frame_hard_cap >= ps->cfg->frame_max)
		return true;
	if (at->line == 0)
		at = &ps->seen[soft - keys];
	return fail_at(ps, at->line, at->col,
	               "limits.frame_hard_cap (%d) is below limits.frame_bytes (%d)",
	               ps->cfg->frame_hard_cap, ps->cfg->frame_max);
}

bool
gw_config_parse(const char *text, size_t len, const char *name, struct gw_config *out,
                char err[GW_CFG_ERR_MAX])
{
	struct cf_parse *ps;
	struct gw_config tmp;
	bool ok = false;
	enum gw__jtok t;

	err[0] = '\0';
	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		snprintf(err, GW_CFG_ERR_MAX, "%s: out of memory", name != NULL ? name : "config");
		return false;
	}
	gw_config_defaults(&tmp);
	ps->name = name != NULL ? name : "config";
	ps->err = err;
	ps->cfg = &tmp;
	if (len > GW__JPOS_IN_MAX) {
		fail_at(ps, 1, 1, "larger than 1 MiB (%zu bytes)", len);
		goto out;
	}
	gw__jpos_init(&ps->j, text, len);
	/* A UTF-8 byte order mark is tolerated (RFC 8259 section 8.1 lets parsers skip it). */
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		gw__jpos_init(&ps->j, text + 3, len - 3);
	t = gw__jpos_next(&ps->j);
	if (t == GW__J_ERR) {
		fail_at(ps, ps->j.tok_line, ps->j.tok_col, "%s", ps->j.err);
		goto out;
	}
	if (t != GW__J_OBJ) {
		fail_at(ps, ps->j.tok_line, ps->j.tok_col,
		        "the top level must be an object, not %s", gw__jtok_name(t));
		goto out;
	}
	if (!parse_members(ps) || !parse_cross_keys(ps))
		goto out;
	*out = tmp;
	ok = true;
out:
	/* db.conninfo may carry a password: leave no copy behind. */
	explicit_bzero(ps, sizeof(*ps));
	explicit_bzero(&tmp, sizeof(tmp));
	free(ps);
	return ok;
}

/* ---- load: the file, then the environment, then the cross-key checks ------------------- */

/* Reads at most GW__JPOS_IN_MAX bytes; one more means the file is too large. */
static bool
read_file(const char *path, char **text, size_t *len, char err[GW_CFG_ERR_MAX])
{
	size_t cap = GW__JPOS_IN_MAX + 1, n = 0;
	bool ok = false;
	struct stat st;
	char *buf = NULL;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		e = errno;
		snprintf(err, GW_CFG_ERR_MAX, "%s: cannot open: %s", path, strerror(e));
		return false;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, GW_CFG_ERR_MAX, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)GW__JPOS_IN_MAX) {
		snprintf(err, GW_CFG_ERR_MAX, "%s:1:1: larger than 1 MiB (%lld bytes)", path,
		         (long long)st.st_size);
		goto out;
	}
	if ((buf = malloc(cap)) == NULL) {
		snprintf(err, GW_CFG_ERR_MAX, "%s: out of memory", path);
		goto out;
	}
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			snprintf(err, GW_CFG_ERR_MAX, "%s: cannot read: %s", path, strerror(e));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > GW__JPOS_IN_MAX) { /* it grew after fstat() */
		snprintf(err, GW_CFG_ERR_MAX, "%s:1:1: larger than 1 MiB", path);
		goto out;
	}
	*text = buf;
	*len = n;
	buf = NULL;
	ok = true;
out:
	if (buf != NULL) {
		explicit_bzero(buf, n);
		free(buf);
	}
	close(fd);
	return ok;
}

/* An integer from the environment goes through the same tokenizer as the file, so "8883",
 * " 8883 " pass and "8883x", "0x22b3", "1e3" fail the same way. */
static bool
env_value(const struct cf_key *k, const char *text, struct gw__jpos *j, struct cf_val *v)
{
	memset(v, 0, sizeof(*v));
	if (k->type != CF_INT) {
		v->kind = GW__J_STR;
		v->s = text;
		v->slen = strlen(text);
		v->s_long = v->slen >= GW__JPOS_STR_CAP;
		return true;
	}
	gw__jpos_init(j, text, strlen(text));
	v->kind = gw__jpos_next(j);
	v->num_int = j->num_int;
	v->num_range = j->num_range;
	v->num = j->num;
	return v->kind != GW__J_ERR && gw__jpos_next(j) == GW__J_EOF;
}

static bool
apply_env(struct gw_config *cfg, char err[GW_CFG_ERR_MAX])
{
	struct gw__jpos *j = NULL;
	char msg[CF_MSG_MAX];
	struct cf_val v;
	bool ok = false;
	size_t i;

	if ((j = malloc(sizeof(*j))) == NULL) {
		snprintf(err, GW_CFG_ERR_MAX, "environment: out of memory");
		return false;
	}
	for (i = 0; i < sizeof(env_map) / sizeof(env_map[0]); i++) {
		const struct cf_key *k = key_find(env_map[i].key);
		const char *text = getenv(env_map[i].var);

		if (text == NULL || text[0] == '\0') /* empty is the same as unset */
			continue;
		if (!env_value(k, text, j, &v)) {
			snprintf(err, GW_CFG_ERR_MAX, "%s: %s takes an integer", env_map[i].var,
			         k->name);
			goto out;
		}
		if (!key_set(k, cfg, &v, msg, sizeof(msg))) {
			snprintf(err, GW_CFG_ERR_MAX, "%s: %s", env_map[i].var, msg);
			goto out;
		}
	}
	ok = true;
out:
	explicit_bzero(j, sizeof(*j));
	free(j);
	return ok;
}

bool
gw_config_load(const char *path, struct gw_config *out, char err[GW_CFG_ERR_MAX])
{
	char *text = NULL, msg[GW_CFG_ERR_MAX];
	struct gw_config tmp;
	size_t len = 0;
	bool ok = false;

	err[0] = '\0';
	if (!read_file(path, &text, &len, err))
		return false;
	if (!gw_config_parse(text, len, path, &tmp, err) || !apply_env(&tmp, err))
		goto out;
	if (!gw_config_validate(&tmp, msg)) {
		snprintf(err, GW_CFG_ERR_MAX, "%s: %.200s", path, msg);
		goto out;
	}
	*out = tmp;
	ok = true;
out:
	explicit_bzero(text, len);
	free(text);
	explicit_bzero(&tmp, sizeof(tmp));
	return ok;
}

/* ---- validate ------------------------------------------------------------------------- */

/* The gateway opens these files at start; checking them here makes --check-config and SIGHUP
 * refuse what would fail later. Secret files must not be open to other users
 * (ARCHITECTURE.md section 7: the gateway refuses to start otherwise). */
static bool
file_check(const struct cf_key *k, const char *path, char err[GW_CFG_ERR_MAX])
{
	struct stat st;
	bool ok = false;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
		e = errno;
		snprintf(err, GW_CFG_ERR_MAX, "%s \"%.160s\" cannot be read: %s", k->name, path,
		         strerror(e));
		return false;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, GW_CFG_ERR_MAX, "%s \"%.160s\" is not a regular file", k->name, path);
		goto out;
	}
	if ((k->flags & GW_CF_SECRET) && (st.st_mode & 0007) != 0) {
		snprintf(err, GW_CFG_ERR_MAX,
		         "%s \"%.160s\" is accessible to other users (mode %04o): chmod o-rwx",
		         k->name, path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	ok = true;
out:
	close(fd);
	return ok;
}

static bool
validate_files(const struct gw_config *cfg, char err[GW_CFG_ERR_MAX])
{
	size_t i;
	int j;

	/* Every trust file is read at start: a missing one is refused now, not at the first
	 * signature. */
	for (i = 0; i < NKEYS; i++) {
		if (keys[i].type != CF_LIST)
			continue;
		for (j = 0; j < GW_CFG_LIST_MAX; j++) {
			const char *path = list_item(cfg, &keys[i], j);

			if (path[0] != '\0' && !file_check(&keys[i], path, err))
				return false;
		}
	}
	for (i = 0; i < NKEYS; i++) {
		const struct cf_key *k = &keys[i];
		const char *path;
		bool tls_file = strncmp(k->name, "tls.", 4) == 0;

		if (k->type != CF_STR || !(tls_file || (k->flags & GW_CF_SECRET)))
			continue;
		path = get_str(cfg, k);
		if (path[0] == '\0') {
			if (cfg->tls && tls_file && strcmp(k->name, "tls.client_ca") != 0) {
				snprintf(err, GW_CFG_ERR_MAX,
				         "%s is required when listen.tls is on", k->name);
				return false;
			}
			continue;
		}
		/* With TLS off the files are not used, but a secret one is still checked. */
		if ((cfg->tls || (k->flags & GW_CF_SECRET)) && !file_check(k, path, err))
			return false;
	}
	return true;
}

bool
gw_config_validate(const struct gw_config *cfg, char err[GW_CFG_ERR_MAX])
{
	bool lo = addr_loopback(cfg->listen_address);
	size_t i;

	err[0] = '\0';
	for (i = 0; i < NKEYS; i++)
		if (!key_check(&keys[i], cfg, err, GW_CFG_ERR_MAX))
			return false;
	if (cfg->frame_hard_cap < cfg->frame_max) {
		snprintf(err, GW_CFG_ERR_MAX,
		         "limits.frame_hard_cap (%d) is below limits.frame_bytes (%d)",
		         cfg->frame_hard_cap, cfg->frame_max);
		return false;
	}
	/* PROTOCOL.md: clients authenticate with API keys, which must not cross a network in
	 * clear; plain ws:// exists only for the local demo stack. */
	if (!cfg->tls && !(cfg->dev_mode && lo)) {
		snprintf(err, GW_CFG_ERR_MAX,
		         "listen.tls: plain WebSocket only on loopback in dev.mode");
		return false;
	}
	/* ARCHITECTURE.md section 8: a scaled clock is refused unless every listener is on
	 * loopback. */
	if (cfg->dev_time_scale > 1 && !(cfg->dev_mode && lo)) {
		snprintf(err, GW_CFG_ERR_MAX,
		         "dev.time_scale: above 1 only on loopback in dev.mode");
		return false;
	}
	/* A node that dies on purpose has no place outside a development stack. */
	if (cfg->dev_exit_after_signed && !cfg->dev_mode) {
		snprintf(err, GW_CFG_ERR_MAX, "dev.exit_after_signed: only in dev.mode");
		return false;
	}
	/* A lease shorter than one POST would let another node send the same case meanwhile. */
	if ((long long)cfg->recovery_lease_s * 1000 <= cfg->recovery_timeout_ms) {
		snprintf(err, GW_CFG_ERR_MAX,
		         "recovery.lease_s (%d s) must be longer than recovery.timeout_ms (%d ms)",
		         cfg->recovery_lease_s, cfg->recovery_timeout_ms);
		return false;
	}
	if (cfg->recovery_retry_max_s < cfg->recovery_retry_min_s) {
		snprintf(err, GW_CFG_ERR_MAX,
		         "recovery.retry_max_s (%d) is below recovery.retry_min_s (%d)",
		         cfg->recovery_retry_max_s, cfg->recovery_retry_min_s);
		return false;
	}
	if (cfg->db_conninfo[0] == '\0') {
		snprintf(err, GW_CFG_ERR_MAX, "db.conninfo is empty: set it or KYSO_PG_URL");
		return false;
	}
	return validate_files(cfg, err);
}

/* ---- reload --------------------------------------------------------------------------- */

static bool
key_equal(const struct cf_key *k, const struct gw_config *a, const struct gw_config *b)
{
	if (k->type == CF_BOOL)
		return get_bool(a, k) == get_bool(b, k);
	if (k->type == CF_STR)
		return strncmp(get_str(a, k), get_str(b, k), k->size) == 0;
	if (k->type == CF_LIST) {
		int i;

		for (i = 0; i < GW_CFG_LIST_MAX; i++)
			if (strncmp(list_item(a, k, i), list_item(b, k, i), GW_CFG_STR_MAX) != 0)
				return false;
		return true;
	}
	return get_int(a, k) == get_int(b, k);
}

void
gw_config_apply_reload(struct gw_config *cur, const struct gw_config *next, char *ignored,
                       size_t ignored_len)
{
	size_t i, used = 0;

	if (ignored != NULL && ignored_len > 0)
		ignored[0] = '\0';
	for (i = 0; i < NKEYS; i++) {
		const struct cf_key *k = &keys[i];

		if (key_equal(k, cur, next))
			continue;
		if (!(k->flags & GW_CF_NO_RELOAD)) {
			memcpy((char *)cur + k->off, (const char *)next + k->off, k->size);
			continue;
		}
		if (ignored != NULL && used < ignored_len) {
			int n = snprintf(ignored + used, ignored_len - used, "%s%s",
			                 used > 0 ? "," : "", k->name);

			used = n < 0 ? ignored_len : used + (size_t)n;
		}
	}
}

/* ---- output: dump and doc ------------------------------------------------------------- */

/* snprintf-style accumulation: n counts what the whole text needs, buf gets what fits. */
struct cf_out {
	char *buf;
	size_t cap, n;
};

__attribute__((format(printf, 2, 3))) static void
out_put(struct cf_out *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (o->n < o->cap)
		r = vsnprintf(o->buf + o->n, o->cap - o->n, fmt, ap);
	else
		r = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (r > 0)
		o->n += (size_t)r;
}

static int
out_end(struct cf_out *o)
{
	/* Terminated even when nothing was written (an empty conninfo to redact). */
	if (o->cap > 0)
		o->buf[o->n < o->cap ? o->n : o->cap - 1] = '\0';
	return o->n > INT_MAX ? -1 : (int)o->n;
}

static void
out_json_str(struct cf_out *o, const char *s)
{
	out_put(o, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			out_put(o, "\\%c", c);
		else if (c < 0x20 || c == 0x7F)
			out_put(o, "\\u%04x", c);
		else
			out_put(o, "%c", c);
	}
	out_put(o, "\"");
}

/* At s: "password" as a conninfo keyword or URI query parameter, then '='. Returns the length
 * up to the value, 0 if s is not such a keyword. */
static size_t
password_kw(const char *start, const char *s)
{
	size_t n = 8;

	if (strncasecmp(s, "password", 8) != 0)
		return 0;
	if (s > start && !(s[-1] == ' ' || s[-1] == '\t' || s[-1] == '?' || s[-1] == '&'))
		return 0;
	while (s[n] == ' ' || s[n] == '\t')
		n++;
	if (s[n] != '=')
		return 0;
	n++;
	while (s[n] == ' ' || s[n] == '\t')
		n++;
	return n;
}

/* Length of a conninfo value at s, up to a space or '&': quoted parts ('...' with backslash
 * escapes) and backslash escapes outside them belong to it, so no piece of it is left shown. */
static size_t
password_value_len(const char *s)
{
	size_t n = 0;
	bool quoted = false;

	for (; s[n] != '\0'; n++) {
		if (s[n] == '\\' && s[n + 1] != '\0')
			n++;
		else if (s[n] == '\'')
			quoted = !quoted;
		else if (!quoted && (s[n] == ' ' || s[n] == '\t' || s[n] == '&'))
			break;
	}
	return n;
}

/* The password in a libpq conninfo, both forms (libpq "Connection Strings"): the userinfo of
 * postgres[ql]://user:password@host and any password=... keyword or parameter. */
static size_t
redact_conninfo(const char *in, char *out, size_t cap)
{
	const char *pw = NULL, *at = NULL, *auth = NULL, *kw_from = in, *s;
	struct cf_out o = { out, cap, 0 };

	if (strncmp(in, "postgresql://", 13) == 0)
		auth = in + 13;
	else if (strncmp(in, "postgres://", 11) == 0)
		auth = in + 11;
	if (auth != NULL) {
		size_t alen = strcspn(auth, "/?#");

		for (s = auth; s < auth + alen; s++)
			if (*s == '@')
				at = s;
		if (at != NULL && (pw = memchr(auth, ':', (size_t)(at - auth))) != NULL)
			pw++;
		/* In a URI, keywords count only after the authority: one found inside the
		 * userinfo must not skip past the password. */
		kw_from = auth + alen;
	}
	for (s = in; *s != '\0';) {
		size_t kw;

		if (s == pw) {
			out_put(&o, REDACTED);
			s = at;
			pw = NULL; /* once: with an empty password pw == at */
		} else if (s >= kw_from && (kw = password_kw(in, s)) != 0) {
			out_put(&o, "%.*s" REDACTED, (int)kw, s);
			s += kw;
			s += password_value_len(s);
		} else {
			out_put(&o, "%c", *s++);
		}
	}
	out_end(&o);
	return o.n;
}

static void
dump_list(struct cf_out *o, const struct gw_config *cfg, const struct cf_key *k)
{
	char item[GW_CFG_STR_MAX];
	int i;

	out_put(o, "[");
	for (i = 0; i < GW_CFG_LIST_MAX; i++) {
		const char *s = list_item(cfg, k, i);

		if (s[0] == '\0')
			break;
		snprintf(item, sizeof(item), "%.*s", GW_CFG_STR_MAX - 1, s);
		out_put(o, "%s", i > 0 ? ", " : "");
		out_json_str(o, item);
	}
	out_put(o, "]");
}

static void
dump_value(struct cf_out *o, const struct gw_config *cfg, const struct cf_key *k)
{
	char red[GW_CFG_STR_MAX + 64];
	const char *lv;

	switch (k->type) {
	case CF_BOOL:
		out_put(o, "%s", get_bool(cfg, k) ? "true" : "false");
		return;
	case CF_INT:
		out_put(o, "%d", get_int(cfg, k));
		return;
	case CF_LEVEL:
		lv = level_name(get_int(cfg, k));
		out_json_str(o, lv != NULL ? lv : "invalid");
		return;
	case CF_LIST:
		dump_list(o, cfg, k);
		return;
	case CF_STR:
		break;
	}
	/* A GW_CF_SECRET key holds a path: the path is shown, the file is never read here. */
	if (!(k->flags & CF_PASSWORD)) {
		snprintf(red, sizeof(red), "%.*s", (int)(k->size - 1), get_str(cfg, k));
		out_json_str(o, red);
		return;
	}
	/* Masking may lengthen the text: if it no longer fits the key, all of it is masked, so
	 * that the dump stays a loadable configuration. */
	if (redact_conninfo(get_str(cfg, k), red, sizeof(red)) >= k->size)
		snprintf(red, sizeof(red), REDACTED);
	out_json_str(o, red);
	explicit_bzero(red, sizeof(red));
}

/* Number of leading dotted components that a and b share, excluding their last ones. */
static size_t
common_sections(const char *a, const char *b)
{
	size_t i, n = 0;

	for (i = 0; a[i] != '\0' && a[i] == b[i]; i++)
		if (a[i] == '.')
			n++;
	return n;
}

static size_t
count_dots(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '.';
	return n;
}

/* Nested JSON in the file's own shape, so the dump can be edited and loaded again. Sections
 * come out grouped because the table is sorted. */
int
gw_config_dump(const struct gw_config *cfg, char *buf, size_t len)
{
	struct cf_out o = { buf, len, 0 };
	const char *prev = "";
	size_t i, d, open = 0;

	out_put(&o, "{");
	for (i = 0; i < NKEYS; i++) {
		const char *name = keys[i].name, *comp = name;
		size_t keep = common_sections(prev, name), want = count_dots(name);

		for (; open > keep; open--)
			out_put(&o, "\n%*s}", (int)(2 * open), "");
		out_put(&o, "%s", i > 0 ? "," : "");
		for (d = 0; d < open; d++)
			comp = strchr(comp, '.') + 1;
		for (; open < want; open++) {
			size_t n = strcspn(comp, ".");

			out_put(&o, "\n%*s\"%.*s\": {", (int)(2 * open + 2), "", (int)n, comp);
			comp += n + 1;
		}
		out_put(&o, "\n%*s\"%s\": ", (int)(2 * open + 2), "", comp);
		dump_value(&o, cfg, &keys[i]);
		prev = name;
	}
	for (; open > 0; open--)
		out_put(&o, "\n%*s}", (int)(2 * open), "");
	out_put(&o, "\n}\n");
	return out_end(&o);
}

static const char doc_head[] =
        "# Gateway configuration\n"
        "\n"
        "`kyso-gateway` reads one JSON file. This page is generated from the key table in\n"
        "`gateway/src/gw_config.c` by `gw_config_doc()`; a unit test fails when the two differ.\n"
        "\n"
        "## The file\n"
        "\n"
        "- One JSON object (RFC 8259, UTF-8), at most 1 MiB. A section is a nested object:\n"
        "  `{\"db\": {\"lanes\": 4}}` sets `db.lanes`. Dotted names are not accepted as keys.\n"
        "- Keys left out keep their defaults. Unknown keys, duplicate keys, wrong types,\n"
        "  fractions or exponents for integers, values out of bounds, strings over their length,\n"
        "  `null`, arrays and objects where a value is expected are errors (a list key takes an\n"
        "  array of non-empty strings). Each error names\n"
        "  `file:line:column` of the offending key or value (columns count characters from 1).\n"
        "- Strings take every JSON escape, `\\u` surrogate pairs included. Control characters and\n"
        "  `\\u0000` are refused. Nesting deeper than 8 levels is refused.\n"
        "\n"
        "## Environment\n"
        "\n"
        "| Variable | Overrides |\n"
        "|---|---|\n"
        "| `KYSO_PG_URL` | `db.conninfo` |\n"
        "| `KYSO_MQTT_HOST` | `mqtt.host` |\n"
        "| `KYSO_MQTT_PORT` | `mqtt.port` |\n"
        "\n"
        "A value goes through the same checks as in the file, and an error names the variable.\n"
        "An empty variable counts as unset.\n"
        "\n"
        "## Checks before the configuration is used\n"
        "\n"
        "- `listen.tls` off only with `dev.mode` on and a loopback `listen.address`\n"
        "  (127.0.0.0/8 or ::1): \"plain WebSocket only on loopback in dev.mode\".\n"
        "- `dev.time_scale` above 1 only with `dev.mode` on and a loopback `listen.address`.\n"
        "- `dev.exit_after_signed` only with `dev.mode` on.\n"
        "- With `listen.tls` on, `tls.cert` and `tls.key` are required, and they and "
        "`tls.client_ca`\n"
        "  (when set) must be readable regular files.\n"
        "- A secret file (`tls.key`, `policy.file`) must not be accessible to other users: a mode\n"
        "  with any of the bits 0007 is refused, naming the file and its mode.\n"
        "- Every file named in `trust.anchors` and `trust.intermediates` must be a readable\n"
        "  regular file (its certificates are read when the gateway starts).\n"
        "- `listen.address` and `mqtt.host` are numeric addresses; `db.conninfo` is not empty;\n"
        "  `limits.frame_hard_cap` is at least `limits.frame_bytes`.\n"
        "- `recovery.lease_s` is longer than `recovery.timeout_ms`; `recovery.retry_max_s` is at\n"
        "  least `recovery.retry_min_s`. `kyso-gateway --check-config` also parses\n"
        "  `policy.file` (docs/policy.md), and the gateway does not start with a bad one.\n"
        "\n"
        "## Reload and dump\n"
        "\n"
        "SIGHUP reads the file again and runs every check. Only a valid file is used: keys marked\n"
        "reload \"yes\" take their new values; the others keep the running value and their names\n"
        "are logged as ignored until a restart.\n"
        "\n"
        "`kyso-gateway --check-config` prints the effective configuration as JSON in the file's\n"
        "shape. The password inside `db.conninfo` is shown as `<redacted>`. A secret key holds a\n"
        "path: the path is printed, the file's contents never are.\n"
        "\n"
        "## Keys\n"
        "\n"
        "| Key | Type | Default | Bounds | Reload | Secret | Meaning |\n"
        "|---|---|---|---|---|---|---|\n";

static void
doc_row(struct cf_out *o, const struct cf_key *k)
{
	const char *type = "string", *lv;

	out_put(o, "| `%s` | ", k->name);
	switch (k->type) {
	case CF_BOOL:
		out_put(o, "bool | `%s` | | ", k->def ? "true" : "false");
		break;
	case CF_INT:
		out_put(o, "int | `%lld` | %lld..%lld | ", k->def, k->min, k->max);
		break;
	case CF_LEVEL:
		lv = level_name((int)k->def);
		out_put(o, "log level | `%s` | error, warn, info, debug | ", lv != NULL ? lv : "");
		break;
	case CF_LIST:
		out_put(o, "list of paths | `[]` | at most %d of at most %d bytes | ",
		        GW_CFG_LIST_MAX, GW_CFG_STR_MAX - 1);
		break;
	case CF_STR:
		if (k->check == CK_IP)
			type = "IP address";
		else if (k->check == CK_NODE_ID)
			type = "node id";
		else if (k->flags & GW_CF_SECRET || strncmp(k->name, "tls.", 4) == 0)
			type = "path";
		if (k->def_s[0] != '\0')
			out_put(o, "%s | `%s` | ", type, k->def_s);
		else
			out_put(o, "%s | (empty) | ", type);
		if (k->check == CK_NODE_ID)
			out_put(o, "1..64 of `A-Z a-z 0-9 _ . -` | ");
		else
			out_put(o, "at most %zu bytes | ", k->size - 1);
		break;
	}
	out_put(o, "%s | %s | %s |\n", (k->flags & GW_CF_NO_RELOAD) ? "no" : "yes",
	        (k->flags & GW_CF_SECRET) ? "yes" : "no", k->doc);
}

int
gw_config_doc(char *buf, size_t len)
{
	struct cf_out o = { buf, len, 0 };
	size_t i;

	out_put(&o, "%s", doc_head);
	for (i = 0; i < NKEYS; i++)
		doc_row(&o, &keys[i]);
	return out_end(&o);
}
