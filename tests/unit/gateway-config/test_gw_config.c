/* test_gw_config.c -- the gateway configuration: table, parser errors with positions, the
 * environment, cross-key and file checks, reload, redacted dump and the generated doc. */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw_config.h"
#include "gw_json_pos.h"
#include "gw_log.h"

#define MIB (1024u * 1024u)

static char tmpdir[256];

static bool
parse(const char *json, struct gw_config *cfg, char err[GW_CFG_ERR_MAX])
{
	return gw_config_parse(json, strlen(json), "t.json", cfg, err);
}

/* The parse fails with exactly this message, and leaves *out untouched. */
static void
expect_error(const char *json, const char *want)
{
	struct gw_config cfg, before;
	char err[GW_CFG_ERR_MAX];

	memset(&cfg, 0x5A, sizeof(cfg));
	before = cfg;
	assert_false(parse(json, &cfg, err));
	assert_string_equal(err, want);
	assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
tmp_path(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* A configuration that passes gw_config_validate(): TLS on, with readable files. */
static void
valid_cfg(struct gw_config *cfg)
{
	gw_config_defaults(cfg);
	tmp_path(cfg->tls_cert, sizeof(cfg->tls_cert), "cert.pem");
	tmp_path(cfg->tls_key, sizeof(cfg->tls_key), "key.pem");
	snprintf(cfg->db_conninfo, sizeof(cfg->db_conninfo), "postgresql:///kyso");
}

static int
setup_dir(void **state)
{
	char p[512];

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/gwcfg-XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	tmp_path(p, sizeof(p), "cert.pem");
	write_file(p, "cert\n", 5, 0644);
	tmp_path(p, sizeof(p), "key.pem");
	write_file(p, "key\n", 4, 0600);
	unsetenv("KYSO_PG_URL");
	unsetenv("KYSO_MQTT_HOST");
	unsetenv("KYSO_MQTT_PORT");
	return 0;
}

static int
teardown_dir(void **state)
{
	static const char *names[] = { "cert.pem", "key.pem",  "key-open.pem",
		                       "gw.json",  "big.json", "ca.pem" };
	char p[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		tmp_path(p, sizeof(p), names[i]);
		unlink(p);
	}
	tmp_path(p, sizeof(p), "dir");
	rmdir(p);
	rmdir(tmpdir);
	return 0;
}

/* ---- defaults and valid files --------------------------------------------------------- */

static void
test_defaults(void **state)
{
	struct gw_config c;

	(void)state;
	memset(&c, 0x5A, sizeof(c));
	gw_config_defaults(&c);
	assert_string_equal(c.node_id, "node-1");
	assert_string_equal(c.listen_address, "127.0.0.1");
	assert_int_equal(c.listen_port, 8443);
	assert_true(c.tls);
	assert_string_equal(c.tls_cert, "");
	assert_string_equal(c.tls_key, "");
	assert_string_equal(c.tls_client_ca, "");
	assert_false(c.dev_mode);
	assert_int_equal(c.dev_time_scale, 1);
	assert_string_equal(c.db_conninfo, "");
	assert_int_equal(c.db_lanes, 4);
	assert_int_equal(c.db_batch_rows, 50);
	assert_int_equal(c.db_batch_ms, 2);
	assert_int_equal(c.db_queue_cap, 10000);
	assert_string_equal(c.mqtt_host, "127.0.0.1");
	assert_int_equal(c.mqtt_port, 1883);
	assert_int_equal(c.mqtt_inflight, 100);
	assert_int_equal(c.mqtt_keepalive_s, 30);
	assert_int_equal(c.frame_max, 65536);
	assert_int_equal(c.frame_hard_cap, 1048576);
	assert_int_equal(c.inflight_per_conn, 256);
	assert_int_equal(c.max_sessions, 10000);
	assert_int_equal(c.auth_fail_per_min, 20);
	assert_int_equal(c.display_max, 200);
	assert_int_equal(c.signer_queue, 16);
	assert_int_equal(c.rest_polls, 1000);
	assert_int_equal(c.sim_max_sms, 2);
	assert_int_equal(c.drain_timeout_s, 10);
	assert_int_equal(c.log_level, GW_LOG_INFO);
}

static void
test_empty_object_gives_defaults(void **state)
{
	struct gw_config c, d;
	char err[GW_CFG_ERR_MAX];

	(void)state;
	gw_config_defaults(&d);
	assert_true(parse(" {\n}\n", &c, err));
	assert_memory_equal(&c, &d, sizeof(c));
	/* A UTF-8 byte order mark is skipped. */
	assert_true(parse("\xEF\xBB\xBF{}", &c, err));
	assert_memory_equal(&c, &d, sizeof(c));
}

static void
test_full_file(void **state)
{
	char path[1024], err[GW_CFG_ERR_MAX], *text;
	struct gw_config c;
	FILE *f;
	long n;

	(void)state;
	snprintf(path, sizeof(path), "%s/full.json", GWCFG_SAMPLES);
	assert_non_null(f = fopen(path, "rb"));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	assert_non_null(text = malloc((size_t)n));
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	assert_true(gw_config_parse(text, (size_t)n, "full.json", &c, err));
	free(text);
	assert_string_equal(c.node_id, "hn-gw-2");
	assert_string_equal(c.listen_address, "::1");
	assert_int_equal(c.listen_port, 9443);
	assert_true(c.tls);
	assert_string_equal(c.tls_cert, "/etc/kyso/tls/gateway.crt");
	assert_string_equal(c.tls_key, "/etc/kyso/tls/gateway.key");
	assert_string_equal(c.tls_client_ca, "/etc/kyso/tls/clients-ca.pem");
	assert_true(c.dev_mode);
	assert_int_equal(c.dev_time_scale, 60);
	assert_string_equal(c.db_conninfo, "postgresql://kyso@127.0.0.1:5432/kyso");
	assert_int_equal(c.db_lanes, 8);
	assert_int_equal(c.db_batch_rows, 200);
	assert_int_equal(c.db_batch_ms, 0);
	assert_int_equal(c.db_queue_cap, 50000);
	assert_string_equal(c.mqtt_host, "10.0.0.7");
	assert_int_equal(c.mqtt_port, 8883);
	assert_int_equal(c.mqtt_inflight, 500);
	assert_int_equal(c.mqtt_keepalive_s, 60);
	assert_int_equal(c.frame_max, 131072);
	assert_int_equal(c.frame_hard_cap, 2097152);
	assert_int_equal(c.inflight_per_conn, 64);
	assert_int_equal(c.max_sessions, 200000);
	assert_int_equal(c.auth_fail_per_min, 5);
	assert_int_equal(c.drain_timeout_s, 45);
	assert_int_equal(c.log_level, GW_LOG_DEBUG);
}

static void
test_bounds_inclusive(void **state)
{
	struct gw_config c;
	char err[GW_CFG_ERR_MAX];

	(void)state;
	assert_true(
	        parse("{\"db\":{\"lanes\":1,\"batch_ms\":0},\"mqtt\":{\"port\":65535}}", &c, err));
	assert_int_equal(c.db_lanes, 1);
	assert_int_equal(c.db_batch_ms, 0);
	assert_int_equal(c.mqtt_port, 65535);
	assert_true(parse("{\"db\":{\"lanes\":16},\"dev\":{\"time_scale\":1000}}", &c, err));
	assert_int_equal(c.db_lanes, 16);
	assert_int_equal(c.dev_time_scale, 1000);
	assert_true(parse("{\"log\":{\"level\":\"error\"}}", &c, err));
	assert_int_equal(c.log_level, GW_LOG_ERR);
	assert_true(parse("{\"log\":{\"level\":\"warn\"}}", &c, err));
	assert_int_equal(c.log_level, GW_LOG_WARN);
}

/* ---- syntax ---------------------------------------------------------------------------- */

static void
test_syntax_errors(void **state)
{
	(void)state;
	expect_error("", "t.json:1:1: unexpected end of input: expected a value");
	expect_error("{\"db\": {\"lanes\": 4,}}",
	             "t.json:1:20: unexpected '}': expected a string key");
	expect_error("{\"node_id\" \"x\"}", "t.json:1:12: unexpected '\"': expected ':'");
	expect_error("{\"node_id\": \"x\"",
	             "t.json:1:16: unexpected end of input: expected ',' or '}'");
	expect_error("{\"node_id\": \"x\" \"y\"}",
	             "t.json:1:17: unexpected '\"': expected ',' or '}'");
	expect_error("{\n  \"node_id\": \"abc", "t.json:2:14: unterminated string");
	expect_error("{} x", "t.json:1:4: unexpected data after the top-level value");
	expect_error("{}{}", "t.json:1:3: unexpected data after the top-level value");
	expect_error("{\"db\":{\"lanes\":01}}",
	             "t.json:1:17: leading zeros are not allowed in numbers");
	expect_error("{\"db\":{\"lanes\":-}}", "t.json:1:17: unexpected '}': expected a digit");
	expect_error("{\"db\":{\"lanes\":1.}}", "t.json:1:18: unexpected '}': expected a digit");
	expect_error("{\"listen\":{\"tls\":tru}}", "t.json:1:18: unexpected 't': expected a value");
	expect_error("{'node_id': 1}", "t.json:1:2: unexpected ''': expected a string key");
	expect_error("{\"node_id\":\x01}", "t.json:1:12: unexpected byte 0x01: expected a value");
}

static void
test_string_errors(void **state)
{
	(void)state;
	expect_error("{\"node_id\": \"a\\x\"}", "t.json:1:15: invalid escape");
	expect_error("{\"node_id\": \"a\\u12\"}", "t.json:1:15: \\u needs four hex digits");
	expect_error("{\"node_id\": \"\\udc00\"}",
	             "t.json:1:14: unpaired UTF-16 surrogate in \\u escape");
	expect_error("{\"node_id\": \"\\ud83dx\"}",
	             "t.json:1:14: unpaired UTF-16 surrogate in \\u escape");
	expect_error("{\"node_id\": \"\\ud83d\\u0041\"}",
	             "t.json:1:14: unpaired UTF-16 surrogate in \\u escape");
	expect_error("{\"node_id\": \"a\\u0000\"}", "t.json:1:15: \\u0000 is not allowed");
	expect_error("{\"node_id\": \"a\tb\"}",
	             "t.json:1:15: control character in string (escape it)");
	/* Overlong '/', an encoded surrogate, a stray continuation byte, a truncated sequence. */
	expect_error("{\"node_id\": \"\xC0\xAF\"}", "t.json:1:14: invalid UTF-8 in string");
	expect_error("{\"node_id\": \"\xED\xA0\x80\"}", "t.json:1:14: invalid UTF-8 in string");
	expect_error("{\"node_id\": \"a\x80\"}", "t.json:1:15: invalid UTF-8 in string");
	expect_error("{\"node_id\": \"\xE2\x82\"}", "t.json:1:14: invalid UTF-8 in string");
	/* A control character that arrives through an escape is refused as a value. */
	expect_error("{\"tls\": {\"cert\": \"a\\nb\"}}",
	             "t.json:1:18: tls.cert contains a control character");
}

static void
test_escapes_decode(void **state)
{
	struct gw_config c;
	char err[GW_CFG_ERR_MAX];

	(void)state;
	assert_true(parse("{\"node_id\": \"\\u0041b\\u002dc\"}", &c, err));
	assert_string_equal(c.node_id, "Ab-c");
	/* U+1F600 from a surrogate pair, U+1EA1 (a with dot below) raw and escaped. */
	assert_true(parse("{\"tls\": {\"cert\": \"\\ud83d\\ude00\xE1\xBA\xA1\\u1ea1\\\"\\\\\\/\"}}",
	                  &c, err));
	assert_string_equal(c.tls_cert, "\xF0\x9F\x98\x80\xE1\xBA\xA1\xE1\xBA\xA1\"\\/");
}

static void
test_positions_count_lines_and_characters(void **state)
{
	(void)state;
	/* CRLF ends a line once; a three-byte character is one column. */
	expect_error("{\r\n  \"db\": {\r\n    \"lanez\": 1\r\n  }\r\n}",
	             "t.json:3:5: unknown key \"db.lanez\"");
	expect_error("{\"tls\": {\"cert\": \"\xE1\xBA\xA1\xE1\xBA\xA1\", \"x\": 1}}",
	             "t.json:1:24: unknown key \"tls.x\"");
	expect_error("{\n\t\"log\": {\"level\": 3}\n}",
	             "t.json:2:19: log.level takes a string, not a number");
}

/* ---- keys and values ------------------------------------------------------------------- */

static void
test_unknown_keys(void **state)
{
	(void)state;
	expect_error("{\"nodeid\": \"x\"}", "t.json:1:2: unknown key \"nodeid\"");
	expect_error("{\n  \"mqtt\": {\n    \"port\": 1,\n    \"hots\": \"x\"\n  }\n}",
	             "t.json:4:5: unknown key \"mqtt.hots\"");
	expect_error("{\"db.lanes\": 4}",
	             "t.json:1:2: unknown key \"db.lanes\" (write dotted names as nested objects)");
	expect_error("{\"\": 4}", "t.json:1:2: unknown key \"\"");
	/* Non-printable bytes are not echoed. */
	expect_error("{\"a\\u001bb\": 4}", "t.json:1:2: unknown key \"a?b\"");
}

static void
test_wrong_types(void **state)
{
	(void)state;
	expect_error("{\"db\": {\"lanes\": \"4\"}}",
	             "t.json:1:18: db.lanes takes an integer, not a string");
	expect_error("{\"listen\": {\"tls\": 1}}",
	             "t.json:1:20: listen.tls takes true or false, not a number");
	expect_error("{\"listen\": {\"tls\": \"true\"}}",
	             "t.json:1:20: listen.tls takes true or false, not a string");
	expect_error("{\"node_id\": 7}", "t.json:1:13: node_id takes a string, not a number");
	expect_error("{\"node_id\": true}", "t.json:1:13: node_id takes a string, not a boolean");
	expect_error("{\"node_id\": null}", "t.json:1:13: node_id takes a string, not null");
	expect_error("{\"db\": {\"lanes\": [4]}}",
	             "t.json:1:18: db.lanes takes an integer, not an array");
	expect_error("{\"log\": {\"level\": \"verbose\"}}",
	             "t.json:1:19: log.level takes one of error, warn, info, debug");
}

static void
test_integers_only(void **state)
{
	(void)state;
	expect_error("{\"db\": {\"lanes\": 4.0}}",
	             "t.json:1:18: db.lanes takes an integer, not a fraction or exponent");
	expect_error("{\"db\": {\"lanes\": 4e0}}",
	             "t.json:1:18: db.lanes takes an integer, not a fraction or exponent");
	expect_error("{\"db\": {\"lanes\": -1E+2}}",
	             "t.json:1:18: db.lanes takes an integer, not a fraction or exponent");
}

static void
test_out_of_range(void **state)
{
	(void)state;
	expect_error("{\"db\": {\"lanes\": 0}}",
	             "t.json:1:18: db.lanes is out of range 1..16 (got 0)");
	expect_error("{\"db\": {\"lanes\": 17}}",
	             "t.json:1:18: db.lanes is out of range 1..16 (got 17)");
	expect_error("{\"listen\": {\"port\": -443}}",
	             "t.json:1:21: listen.port is out of range 1..65535 (got -443)");
	/* Beyond int, then beyond int64: no wrap-around. */
	expect_error("{\"listen\": {\"port\": 4294975739}}",
	             "t.json:1:21: listen.port is out of range 1..65535 (got 4294975739)");
	expect_error("{\"listen\": {\"port\": 99999999999999999999999}}",
	             "t.json:1:21: listen.port is out of range 1..65535");
	expect_error("{\"limits\": {\"frame_bytes\": 1023}}",
	             "t.json:1:28: limits.frame_bytes is out of range 1024..1048576 (got 1023)");
	expect_error("{\"dev\": {\"time_scale\": 1001}}",
	             "t.json:1:24: dev.time_scale is out of range 1..1000 (got 1001)");
}

/* The request limits of PROTOCOL.md section 3 and the SIM display budget: every bound is
 * inclusive, the hard caps in code are the upper bounds, and they reload. */
static void
test_limits_bounds(void **state)
{
	struct gw_config c, next;
	char err[GW_CFG_ERR_MAX], ignored[256];

	(void)state;
	assert_true(parse("{\"limits\":{\"display_chars\":1,\"signer_queue\":1,\"rest_polls\":1},"
	                  "\"sim\":{\"max_sms\":1}}",
	                  &c, err));
	assert_int_equal(c.display_max, 1);
	assert_int_equal(c.signer_queue, 1);
	assert_int_equal(c.rest_polls, 1);
	assert_int_equal(c.sim_max_sms, 1);
	assert_true(parse("{\"limits\":{\"display_chars\":200,\"signer_queue\":64,"
	                  "\"rest_polls\":100000},\"sim\":{\"max_sms\":8}}",
	                  &next, err));
	assert_int_equal(next.display_max, GW_CFG_DISPLAY_HARD);
	assert_int_equal(next.signer_queue, GW_CFG_SIGNER_QUEUE_HARD);
	assert_int_equal(next.rest_polls, 100000);
	assert_int_equal(next.sim_max_sms, GW_CFG_SMS_HARD);
	expect_error("{\"limits\": {\"display_chars\": 0}}",
	             "t.json:1:30: limits.display_chars is out of range 1..200 (got 0)");
	expect_error("{\"limits\": {\"display_chars\": 201}}",
	             "t.json:1:30: limits.display_chars is out of range 1..200 (got 201)");
	expect_error("{\"limits\": {\"signer_queue\": 0}}",
	             "t.json:1:29: limits.signer_queue is out of range 1..64 (got 0)");
	expect_error("{\"limits\": {\"signer_queue\": 65}}",
	             "t.json:1:29: limits.signer_queue is out of range 1..64 (got 65)");
	expect_error("{\"limits\": {\"rest_polls\": 0}}",
	             "t.json:1:27: limits.rest_polls is out of range 1..100000 (got 0)");
	expect_error("{\"limits\": {\"rest_polls\": 100001}}",
	             "t.json:1:27: limits.rest_polls is out of range 1..100000 (got 100001)");
	expect_error("{\"sim\": {\"max_sms\": 0}}",
	             "t.json:1:21: sim.max_sms is out of range 1..8 (got 0)");
	expect_error("{\"sim\": {\"max_sms\": 9}}",
	             "t.json:1:21: sim.max_sms is out of range 1..8 (got 9)");
	/* Read at each use: SIGHUP takes the new values, none is reported as ignored. */
	ignored[0] = '\0';
	gw_config_apply_reload(&c, &next, ignored, sizeof(ignored));
	assert_int_equal(c.display_max, 200);
	assert_int_equal(c.signer_queue, 64);
	assert_int_equal(c.rest_polls, 100000);
	assert_int_equal(c.sim_max_sms, 8);
	assert_string_equal(ignored, "");
}

static void
test_cross_key_frame_cap(void **state)
{
	(void)state;
	expect_error(
	        "{\"limits\": {\"frame_hard_cap\": 4096}}",
	        "t.json:1:13: limits.frame_hard_cap (4096) is below limits.frame_bytes (65536)");
	expect_error(
	        "{\"limits\": {\n  \"frame_bytes\": 1048576, \"frame_hard_cap\": 2048}}",
	        "t.json:2:27: limits.frame_hard_cap (2048) is below limits.frame_bytes (1048576)");
}

static void
test_duplicates(void **state)
{
	(void)state;
	expect_error("{\"node_id\": \"a\",\n \"node_id\": \"b\"}",
	             "t.json:2:2: duplicate key \"node_id\" (first at 1:2)");
	expect_error("{\"db\": {\"lanes\": 2, \"lanes\": 2}}",
	             "t.json:1:21: duplicate key \"db.lanes\" (first at 1:9)");
	/* The same section twice is a duplicate even when the members differ. */
	expect_error("{\"db\": {\"lanes\": 2}, \"db\": {\"batch_ms\": 3}}",
	             "t.json:1:22: duplicate key \"db\" (first at 1:2)");
}

static void
test_string_lengths(void **state)
{
	char json[2048], want[GW_CFG_ERR_MAX], err[GW_CFG_ERR_MAX];
	struct gw_config c;

	(void)state;
	/* node_id: 64 characters pass, 65 do not. */
	snprintf(json, sizeof(json), "{\"node_id\": \"%s\"}",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_true(parse(json, &c, err));
	assert_int_equal(strlen(c.node_id), 64);
	snprintf(json, sizeof(json), "{\"node_id\": \"%s\"}",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	expect_error(json, "t.json:1:13: node_id is too long: at most 64 bytes");
	/* Paths: 511 bytes pass, 512 and 2000 do not. */
	snprintf(json, sizeof(json), "{\"tls\": {\"cert\": \"%0511d\"}}", 0);
	assert_true(parse(json, &c, err));
	assert_int_equal(strlen(c.tls_cert), 511);
	snprintf(json, sizeof(json), "{\"tls\": {\"cert\": \"%0512d\"}}", 0);
	snprintf(want, sizeof(want), "t.json:1:18: tls.cert is too long: at most 511 bytes");
	expect_error(json, want);
	snprintf(json, sizeof(json), "{\"tls\": {\"cert\": \"%02000d\"}}", 0);
	expect_error(json, want);
	/* Counted in bytes: 32 two-byte characters are 64 bytes but fail the charset. */
	snprintf(json, sizeof(json), "{\"listen\": {\"address\": \"%064d\"}}", 0);
	expect_error(json, "t.json:1:24: listen.address is too long: at most 63 bytes");
}

static void
test_validators(void **state)
{
	struct gw_config c;
	char err[GW_CFG_ERR_MAX];

	(void)state;
	expect_error("{\"listen\": {\"address\": \"localhost\"}}",
	             "t.json:1:24: listen.address must be a numeric IPv4 or IPv6 address");
	expect_error("{\"mqtt\": {\"host\": \"broker.example\"}}",
	             "t.json:1:19: mqtt.host must be a numeric IPv4 or IPv6 address");
	expect_error("{\"mqtt\": {\"host\": \"fe80::1%eth0\"}}",
	             "t.json:1:19: mqtt.host must be a numeric IPv4 or IPv6 address");
	expect_error("{\"node_id\": \"gw 1\"}",
	             "t.json:1:13: node_id must be 1 to 64 of A-Z a-z 0-9 _ . -");
	expect_error("{\"node_id\": \"\"}",
	             "t.json:1:13: node_id must be 1 to 64 of A-Z a-z 0-9 _ . -");
	expect_error("{\"node_id\": \"n\xC3\xBAt\"}",
	             "t.json:1:13: node_id must be 1 to 64 of A-Z a-z 0-9 _ . -");
	assert_true(parse("{\"listen\": {\"address\": \"::\"}, \"mqtt\": {\"host\": \"192.0.2.1\"},"
	                  "\"node_id\": \"a_B.9-z\"}",
	                  &c, err));
	assert_string_equal(c.listen_address, "::");
	assert_string_equal(c.mqtt_host, "192.0.2.1");
	assert_string_equal(c.node_id, "a_B.9-z");
}

static void
test_top_level_and_nesting(void **state)
{
	(void)state;
	expect_error("[]", "t.json:1:1: the top level must be an object, not an array");
	expect_error("  42", "t.json:1:3: the top level must be an object, not a number");
	expect_error("\"x\"", "t.json:1:1: the top level must be an object, not a string");
	expect_error("null", "t.json:1:1: the top level must be an object, not null");
	expect_error(
	        "{\"db\": {\"lanes\": {}}}",
	        "t.json:1:18: nesting where none is expected: db.lanes takes an integer, not an "
	        "object");
	expect_error("{\"node_id\": {\"x\": 1}}",
	             "t.json:1:13: nesting where none is expected: node_id takes a string, not an "
	             "object");
	expect_error("{\"db\": 4}", "t.json:1:8: \"db\" is a section: it takes an object");
	expect_error("{\"db\": {\"db\": {}}}", "t.json:1:9: unknown key \"db.db\"");
}

/* The tokenizer itself, with arrays, which no key takes: the depth bound holds. */
static void
test_tokenizer_depth_limit(void **state)
{
	struct gw__jpos *j;
	enum gw__jtok t;
	int n = 0;

	(void)state;
	assert_non_null(j = malloc(sizeof(*j)));
	gw__jpos_init(j, "[[[[{\"a\":[[[1]]]}]]]]", 21);
	while ((t = gw__jpos_next(j)) != GW__J_EOF && t != GW__J_ERR)
		n++;
	assert_int_equal(t, GW__J_EOF);
	assert_int_equal(n, 18);
	gw__jpos_init(j, "[[[[[[[[[1]]]]]]]]]", 19);
	while ((t = gw__jpos_next(j)) == GW__J_ARR)
		;
	assert_int_equal(t, GW__J_ERR);
	assert_string_equal(j->err, "nested deeper than 8 levels");
	assert_int_equal(j->tok_col, 9);
	/* Sticky: nothing after an error. */
	assert_int_equal(gw__jpos_next(j), GW__J_ERR);
	/* Mismatched brackets and trailing commas in arrays. */
	gw__jpos_init(j, "[1,]", 4);
	assert_int_equal(gw__jpos_next(j), GW__J_ARR);
	assert_int_equal(gw__jpos_next(j), GW__J_NUM);
	assert_int_equal(gw__jpos_next(j), GW__J_ERR);
	assert_string_equal(j->err, "unexpected ']': expected a value");
	gw__jpos_init(j, "[1}", 3);
	assert_int_equal(gw__jpos_next(j), GW__J_ARR);
	assert_int_equal(gw__jpos_next(j), GW__J_NUM);
	assert_int_equal(gw__jpos_next(j), GW__J_ERR);
	assert_string_equal(j->err, "unexpected '}': expected ',' or ']'");
	/* int64 bounds. */
	gw__jpos_init(j, "-9223372036854775808", 20);
	assert_int_equal(gw__jpos_next(j), GW__J_NUM);
	assert_false(j->num_range);
	assert_true(j->num == INT64_MIN);
	gw__jpos_init(j, "9223372036854775808", 19);
	assert_int_equal(gw__jpos_next(j), GW__J_NUM);
	assert_true(j->num_range);
	free(j);
}

static void
test_deep_config_is_refused_cleanly(void **state)
{
	char json[4096];
	size_t i, n = 0;

	(void)state;
	for (i = 0; i < 500; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"a\":");
	assert_true(n < sizeof(json));
	expect_error(json, "t.json:1:2: unknown key \"a\"");
}

/* ---- the 1 MiB bound -------------------------------------------------------------------- */

static void
test_size_limit(void **state)
{
	char *big, err[GW_CFG_ERR_MAX], path[512];
	struct gw_config c;

	(void)state;
	assert_non_null(big = malloc(MIB + 1));
	/* Exactly 1 MiB: an object padded with spaces passes. */
	memset(big, ' ', MIB + 1);
	memcpy(big, "{\"node_id\": \"big\"", 17);
	big[MIB - 1] = '}';
	assert_true(gw_config_parse(big, MIB, "big.json", &c, err));
	assert_string_equal(c.node_id, "big");
	/* One byte more fails before any parsing. */
	big[MIB - 1] = ' ';
	big[MIB] = '}';
	assert_false(gw_config_parse(big, MIB + 1, "big.json", &c, err));
	assert_string_equal(err, "big.json:1:1: larger than 1 MiB (1048577 bytes)");
	/* The file reader enforces it too. */
	tmp_path(path, sizeof(path), "big.json");
	write_file(path, big, MIB + 1, 0600);
	assert_false(gw_config_load(path, &c, err));
	assert_non_null(strstr(err, ":1:1: larger than 1 MiB (1048577 bytes)"));
	free(big);
}

/* ---- load and the environment ------------------------------------------------------------ */

static void
write_config(const char *path, const char *extra)
{
	char text[4096], cert[512], key[512];

	tmp_path(cert, sizeof(cert), "cert.pem");
	tmp_path(key, sizeof(key), "key.pem");
	snprintf(text, sizeof(text),
	         "{\"tls\": {\"cert\": \"%s\", \"key\": \"%s\"},\n"
	         " \"db\": {\"conninfo\": \"postgresql:///kyso\"}%s}\n",
	         cert, key, extra);
	write_file(path, text, strlen(text), 0600);
}

static void
test_load_ok_and_io_errors(void **state)
{
	char path[512], err[GW_CFG_ERR_MAX];
	struct gw_config c;

	(void)state;
	tmp_path(path, sizeof(path), "gw.json");
	write_config(path, ", \"mqtt\": {\"port\": 1884}");
	assert_true(gw_config_load(path, &c, err));
	assert_int_equal(c.mqtt_port, 1884);
	assert_string_equal(c.db_conninfo, "postgresql:///kyso");
	tmp_path(path, sizeof(path), "missing.json");
	assert_false(gw_config_load(path, &c, err));
	assert_non_null(strstr(err, "missing.json: cannot open: No such file or directory"));
	assert_false(gw_config_load(tmpdir, &c, err));
	assert_non_null(strstr(err, ": not a regular file"));
	/* A parse error names the file by its path. */
	tmp_path(path, sizeof(path), "gw.json");
	write_file(path, "{\"x\": 1}", 8, 0600);
	assert_false(gw_config_load(path, &c, err));
	assert_non_null(strstr(err, "/gw.json:1:2: unknown key \"x\""));
}

static void
test_env_overrides(void **state)
{
	char path[512], err[GW_CFG_ERR_MAX];
	struct gw_config c;

	(void)state;
	tmp_path(path, sizeof(path), "gw.json");
	write_config(path, ", \"mqtt\": {\"host\": \"127.0.0.2\", \"port\": 1884}");
	setenv("KYSO_PG_URL", "postgresql://kyso@127.0.0.1:6432/kyso", 1);
	setenv("KYSO_MQTT_HOST", "::1", 1);
	setenv("KYSO_MQTT_PORT", " 8883 ", 1);
	assert_true(gw_config_load(path, &c, err));
	assert_string_equal(c.db_conninfo, "postgresql://kyso@127.0.0.1:6432/kyso");
	assert_string_equal(c.mqtt_host, "::1");
	assert_int_equal(c.mqtt_port, 8883);
	/* Empty means unset: the file's values stay. */
	setenv("KYSO_MQTT_HOST", "", 1);
	setenv("KYSO_MQTT_PORT", "", 1);
	assert_true(gw_config_load(path, &c, err));
	assert_string_equal(c.mqtt_host, "127.0.0.2");
	assert_int_equal(c.mqtt_port, 1884);
	unsetenv("KYSO_PG_URL");
	unsetenv("KYSO_MQTT_HOST");
	unsetenv("KYSO_MQTT_PORT");
}

static void
expect_env_error(const char *var, const char *value, const char *want)
{
	char path[512], err[GW_CFG_ERR_MAX];
	struct gw_config c;

	tmp_path(path, sizeof(path), "gw.json");
	write_config(path, "");
	setenv(var, value, 1);
	assert_false(gw_config_load(path, &c, err));
	unsetenv(var);
	assert_string_equal(err, want);
}

static void
test_env_errors(void **state)
{
	char longurl[600];

	(void)state;
	expect_env_error("KYSO_MQTT_PORT", "70000",
	                 "KYSO_MQTT_PORT: mqtt.port is out of range 1..65535 (got 70000)");
	expect_env_error("KYSO_MQTT_PORT", "0",
	                 "KYSO_MQTT_PORT: mqtt.port is out of range 1..65535 (got 0)");
	expect_env_error("KYSO_MQTT_PORT", "1883x", "KYSO_MQTT_PORT: mqtt.port takes an integer");
	expect_env_error("KYSO_MQTT_PORT", "0x75b", "KYSO_MQTT_PORT: mqtt.port takes an integer");
	expect_env_error("KYSO_MQTT_PORT", "1e3",
	                 "KYSO_MQTT_PORT: mqtt.port takes an integer, not a fraction or exponent");
	expect_env_error("KYSO_MQTT_HOST", "mqtt.internal",
	                 "KYSO_MQTT_HOST: mqtt.host must be a numeric IPv4 or IPv6 address");
	memset(longurl, 'u', sizeof(longurl) - 1);
	longurl[sizeof(longurl) - 1] = '\0';
	expect_env_error("KYSO_PG_URL", longurl,
	                 "KYSO_PG_URL: db.conninfo is too long: at most 511 bytes");
	expect_env_error("KYSO_PG_URL", "host=a\nb",
	                 "KYSO_PG_URL: db.conninfo contains a control character");
}

/* ---- validate ----------------------------------------------------------------------------- */

static void
expect_invalid(const struct gw_config *c, const char *want)
{
	char err[GW_CFG_ERR_MAX];

	assert_false(gw_config_validate(c, err));
	assert_string_equal(err, want);
}

static void
test_validate_plain_ws(void **state)
{
	struct gw_config c;
	char err[GW_CFG_ERR_MAX];

	(void)state;
	valid_cfg(&c);
	assert_true(gw_config_validate(&c, err));
	c.tls = false;
	expect_invalid(&c, "listen.tls: plain WebSocket only on loopback in dev.mode");
	c.dev_mode = true;
	assert_true(gw_config_validate(&c, err));
	snprintf(c.listen_address, sizeof(c.listen_address), "127.255.0.9");
	assert_true(gw_config_validate(&c, err));
	snprintf(c.listen_address, sizeof(c.listen_address), "::1");
	assert_true(gw_config_validate(&c, err));
	snprintf(c.listen_address, sizeof(c.listen_address), "::ffff:127.0.0.1");
	assert_true(gw_config_validate(&c, err));
	snprintf(c.listen_address, sizeof(c.listen_address), "0.0.0.0");
	expect_invalid(&c, "listen.tls: plain WebSocket only on loopback in dev.mode");
	snprintf(c.listen_address, sizeof(c.listen_address), "128.0.0.1");
	expect_invalid(&c, "listen.tls: plain WebSocket only on loopback in dev.mode");
	snprintf(c.listen_address, sizeof(c.listen_address), "::2");
	expect_invalid(&c, "listen.tls: plain WebSocket only on loopback in dev.mode");
	/* Without TLS the certificate files are not needed. */
	snprintf(c.listen_address, sizeof(c.listen_address), "127.0.0.1");
	c.tls_cert[0] = '\0';
	c.tls_key[0] = '\0';
	assert_true(gw_config_validate(&c, err));
}

static void
test_validate_time_scale(void **state)
{
	struct gw_config c;
	char err[GW_CFG_ERR_MAX];

	(void)state;
	valid_cfg(&c);
	c.dev_time_scale = 10;
	expect_invalid(&c, "dev.time_scale: above 1 only on loopback in dev.mode");
	c.dev_mode = true;
	assert_true(gw_config_validate(&c, err));
	snprintf(c.listen_address, sizeof(c.listen_address), "192.0.2.10");
	expect_invalid(&c, "dev.time_scale: above 1 only on loopback in dev.mode");
	c.dev_time_scale = 1;
	assert_true(gw_config_validate(&c, err));
}

/* The fault injection that kills the node after a SIGNED commit exists only in dev.mode. */
static void
test_validate_exit_after_signed(void **state)
{
	struct gw_config c;
	char err[GW_CFG_ERR_MAX];

	(void)state;
	valid_cfg(&c);
	c.dev_exit_after_signed = true;
	expect_invalid(&c, "dev.exit_after_signed: only in dev.mode");
	c.dev_mode = true;
	assert_true(gw_config_validate(&c, err));
}

static void
test_validate_tls_files(void **state)
{
	char p[512], want[1024], err[GW_CFG_ERR_MAX];
	struct gw_config c;

	(void)state;
	valid_cfg(&c);
	c.tls_cert[0] = '\0';
	expect_invalid(&c, "tls.cert is required when listen.tls is on");
	valid_cfg(&c);
	c.tls_key[0] = '\0';
	expect_invalid(&c, "tls.key is required when listen.tls is on");
	valid_cfg(&c);
	tmp_path(c.tls_cert, sizeof(c.tls_cert), "nope.pem");
	snprintf(want, sizeof(want), "tls.cert \"%s\" cannot be read: No such file or directory",
	         c.tls_cert);
	expect_invalid(&c, want);
	valid_cfg(&c);
	tmp_path(c.tls_client_ca, sizeof(c.tls_client_ca), "ca.pem");
	snprintf(want, sizeof(want),
	         "tls.client_ca \"%s\" cannot be read: No such file or directory", c.tls_client_ca);
	expect_invalid(&c, want);
	write_file(c.tls_client_ca, "ca\n", 3, 0644);
	assert_true(gw_config_validate(&c, err));
	valid_cfg(&c);
	tmp_path(p, sizeof(p), "dir");
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(c.tls_cert, sizeof(c.tls_cert), "%s", p);
	snprintf(want, sizeof(want), "tls.cert \"%s\" is not a regular file", p);
	expect_invalid(&c, want);
}

static void
test_validate_secret_mode(void **state)
{
	char want[1024], err[GW_CFG_ERR_MAX];
	static const mode_t bad[] = { 0604, 0602, 0601, 0644 };
	struct gw_config c;
	size_t i;

	(void)state;
	valid_cfg(&c);
	tmp_path(c.tls_key, sizeof(c.tls_key), "key-open.pem");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(c.tls_key, "key\n", 4, bad[i]);
		snprintf(want, sizeof(want),
		         "tls.key \"%s\" is accessible to other users (mode %04o): chmod o-rwx",
		         c.tls_key, (unsigned)bad[i]);
		expect_invalid(&c, want);
		/* A secret file is checked even when TLS is off. */
		c.tls = false;
		c.dev_mode = true;
		expect_invalid(&c, want);
		c.tls = true;
		c.dev_mode = false;
	}
	write_file(c.tls_key, "key\n", 4, 0640);
	assert_true(gw_config_validate(&c, err));
	/* A public certificate may be world-readable. */
	valid_cfg(&c);
	assert_true(gw_config_validate(&c, err));
}

static void
test_validate_struct_keys(void **state)
{
	struct gw_config c;

	(void)state;
	valid_cfg(&c);
	snprintf(c.mqtt_host, sizeof(c.mqtt_host), "broker");
	expect_invalid(&c, "mqtt.host must be a numeric IPv4 or IPv6 address");
	valid_cfg(&c);
	c.db_conninfo[0] = '\0';
	expect_invalid(&c, "db.conninfo is empty: set it or KYSO_PG_URL");
	valid_cfg(&c);
	c.db_lanes = 99;
	expect_invalid(&c, "db.lanes is out of range 1..16 (got 99)");
	valid_cfg(&c);
	c.log_level = 9;
	expect_invalid(&c, "log.level takes one of error, warn, info, debug");
	valid_cfg(&c);
	memset(c.node_id, 'a', sizeof(c.node_id));
	expect_invalid(&c, "node_id is too long: at most 64 bytes");
	valid_cfg(&c);
	c.frame_hard_cap = 2048;
	expect_invalid(&c, "limits.frame_hard_cap (2048) is below limits.frame_bytes (65536)");
}

static void
test_load_runs_validate(void **state)
{
	char path[512], err[GW_CFG_ERR_MAX];
	struct gw_config c;

	(void)state;
	tmp_path(path, sizeof(path), "gw.json");
	write_config(path, ", \"listen\": {\"address\": \"0.0.0.0\", \"tls\": false}");
	assert_false(gw_config_load(path, &c, err));
	assert_non_null(strstr(err, "/gw.json: listen.tls: plain WebSocket only on loopback in "
	                            "dev.mode"));
	setenv("KYSO_PG_URL", "", 1);
	write_file(path, "{\"listen\": {\"tls\": false}, \"dev\": {\"mode\": true}}", 49, 0600);
	assert_false(gw_config_load(path, &c, err));
	assert_non_null(strstr(err, "/gw.json: db.conninfo is empty: set it or KYSO_PG_URL"));
	setenv("KYSO_PG_URL", "dbname=kyso", 1);
	assert_true(gw_config_load(path, &c, err));
	assert_string_equal(c.db_conninfo, "dbname=kyso");
	unsetenv("KYSO_PG_URL");
}

/* ---- reload ------------------------------------------------------------------------------- */

static void
test_reload(void **state)
{
	struct gw_config cur, next, orig;
	char ignored[256];

	(void)state;
	gw_config_defaults(&cur);
	orig = cur;
	next = cur;
	next.log_level = GW_LOG_DEBUG;                         /* reloadable */
	next.max_sessions = 5;                                 /* reloadable */
	next.drain_timeout_s = 30;                             /* reloadable */
	next.db_lanes = 9;                                     /* NO_RELOAD */
	snprintf(next.node_id, sizeof(next.node_id), "other"); /* NO_RELOAD */
	next.tls = false;                                      /* NO_RELOAD */
	gw_config_apply_reload(&cur, &next, ignored, sizeof(ignored));
	assert_string_equal(ignored, "db.lanes,listen.tls,node_id");
	assert_int_equal(cur.log_level, GW_LOG_DEBUG);
	assert_int_equal(cur.max_sessions, 5);
	assert_int_equal(cur.drain_timeout_s, 30);
	assert_int_equal(cur.db_lanes, orig.db_lanes);
	assert_string_equal(cur.node_id, orig.node_id);
	assert_true(cur.tls);
	/* Nothing changed: nothing ignored, nothing touched. */
	next = cur;
	gw_config_apply_reload(&cur, &next, ignored, sizeof(ignored));
	assert_string_equal(ignored, "");
	/* A short buffer is cut, never overrun; NULL is allowed. */
	next.db_lanes = 2;
	next.listen_port = 1;
	memset(ignored, 'X', sizeof(ignored));
	gw_config_apply_reload(&cur, &next, ignored, 6);
	assert_string_equal(ignored, "db.la");
	assert_int_equal(ignored[6], 'X');
	gw_config_apply_reload(&cur, &next, NULL, 0);
	assert_int_equal(cur.db_lanes, orig.db_lanes);
}

/* ---- dump --------------------------------------------------------------------------------- */

static void
test_dump_redacts_and_round_trips(void **state)
{
	static const struct {
		const char *in, *shown;
	} cases[] = {
		{ "postgresql://kyso:s3cr3t@127.0.0.1:5432/kyso",
		  "postgresql://kyso:<redacted>@127.0.0.1:5432/kyso" },
		{ "postgres://u:p%40ss@[::1]/kyso?sslmode=require",
		  "postgres://u:<redacted>@[::1]/kyso?sslmode=require" },
		{ "postgresql://u@h/kyso?password=s3cr3t&sslmode=disable",
		  "postgresql://u@h/kyso?password=<redacted>&sslmode=disable" },
		{ "host=127.0.0.1 password='s3 cr\\'3t' dbname=kyso",
		  "host=127.0.0.1 password=<redacted> dbname=kyso" },
		{ "host=h PASSWORD = s3cr3t", "host=h PASSWORD = <redacted>" },
		/* Found by the fuzzer: an empty quoted part followed by more of the value. */
		{ "host=h password=''s3cr3t dbname=k", "host=h password=<redacted> dbname=k" },
		{ "password=a\\ s3cr3t'x y's3cr3t&z=1", "password=<redacted>&z=1" },
		{ "host=h mypassword=x dbname=kyso", "host=h mypassword=x dbname=kyso" },
		{ "postgresql://kyso@h/db", "postgresql://kyso@h/db" },
		/* Found by the fuzzer: an empty password once looped for ever. */
		{ "postgresql://u:@h/db", "postgresql://u:<redacted>@h/db" },
		/* Found by the fuzzer: a keyword inside the userinfo hid the rest of it. */
		{ "postgres://a b password=x:s3cr3t s3cr3t@h/d?password=s3cr3t",
		  "postgres://a b password=x:<redacted>@h/d?password=<redacted>" },
	};
	char buf[8192], again[8192], err[GW_CFG_ERR_MAX], want[512];
	struct gw_config c, back;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		valid_cfg(&c);
		snprintf(c.db_conninfo, sizeof(c.db_conninfo), "%s", cases[i].in);
		snprintf(c.tls_key, sizeof(c.tls_key), "/etc/kyso/tls/gateway.key");
		n = gw_config_dump(&c, buf, sizeof(buf));
		assert_true(n > 0 && (size_t)n < sizeof(buf));
		assert_int_equal(strlen(buf), (size_t)n);
		assert_null(strstr(buf, "s3cr3t"));
		assert_null(strstr(buf, "s3 cr"));
		snprintf(want, sizeof(want), "\"conninfo\": \"%s\"", cases[i].shown);
		assert_non_null(strstr(buf, want));
		/* A secret key is a path: shown, as the file's contents never are. */
		assert_non_null(strstr(buf, "\"key\": \"/etc/kyso/tls/gateway.key\""));
		/* The dump is itself a valid configuration, and dumps the same again. */
		assert_true(gw_config_parse(buf, (size_t)n, "dump", &back, err));
		assert_string_equal(back.db_conninfo, cases[i].shown);
		assert_string_equal(back.tls_key, c.tls_key);
		assert_int_equal(gw_config_dump(&back, again, sizeof(again)), n);
		assert_string_equal(again, buf);
	}
}

/* trust.anchors and trust.intermediates: arrays of non-empty strings, at most
 * GW_CFG_LIST_MAX, checked files, dumped as arrays. */
static void
test_lists(void **state)
{
	struct gw_config c;
	char err[GW_CFG_ERR_MAX], buf[16384], p[512];

	(void)state;
	assert_true(parse("{\"trust\": {\"anchors\": [\"/a.pem\", \"/b.pem\"],"
	                  " \"intermediates\": []}}",
	                  &c, err));
	assert_int_equal(gw_config_list_len(c.trust_anchors), 2);
	assert_string_equal(c.trust_anchors[1], "/b.pem");
	assert_int_equal(gw_config_list_len(c.trust_intermediates), 0);
	assert_true(gw_config_dump(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"anchors\": [\"/a.pem\", \"/b.pem\"]"));
	expect_error("{\"trust\": {\"anchors\": \"/a.pem\"}}",
	             "t.json:1:23: trust.anchors takes a list of strings, not a string");
	expect_error("{\"trust\": {\"anchors\": [1]}}",
	             "t.json:1:24: trust.anchors takes a list of strings, not a number in it");
	expect_error("{\"trust\": {\"anchors\": [\"\"]}}",
	             "t.json:1:24: trust.anchors[0] is empty");
	expect_error("{\"trust\": {\"anchors\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\","
	             "\"9\"]}}",
	             "t.json:1:56: trust.anchors holds at most 8 entries");
	/* The files must exist when the configuration is validated. */
	valid_cfg(&c);
	tmp_path(c.trust_anchors[0], sizeof(c.trust_anchors[0]), "no-such-root.pem");
	assert_false(gw_config_validate(&c, err));
	assert_non_null(strstr(err, "trust.anchors"));
	tmp_path(p, sizeof(p), "cert.pem");
	snprintf(c.trust_anchors[0], sizeof(c.trust_anchors[0]), "%s", p);
	assert_true(gw_config_validate(&c, err));
}

static void
test_dump_shape_and_truncation(void **state)
{
	char buf[8192], small[16];
	struct gw_config c;
	int n;

	(void)state;
	gw_config_defaults(&c);
	snprintf(c.tls_cert, sizeof(c.tls_cert), "a\"b\\c");
	n = gw_config_dump(&c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "{\n  \"db\": {\n    \"batch_ms\": 2,\n"));
	assert_non_null(strstr(
	        buf, "\"queue_cap\": 10000,\n    \"spool_dir\": \"/var/lib/kyso/spool\",\n"));
	assert_non_null(strstr(buf, "\"spool_max_records\": 100000\n  },\n  \"dev\": {\n"));
	assert_non_null(strstr(buf, "\"port\": 1883\n  },\n  \"node_id\": \"node-1\",\n"
	                            "  \"policy\": {\n"));
	assert_non_null(strstr(buf, "\"timeout_ms\": 10000\n  },\n  \"revocation\": {\n"));
	assert_non_null(strstr(buf, "\"trust\": {\n    \"anchors\": [],\n"));
	assert_non_null(strstr(buf, "\"level\": \"info\""));
	/* Found by the fuzzer: an empty conninfo once dumped uninitialised bytes. */
	assert_non_null(strstr(buf, "\"conninfo\": \"\",\n"));
	assert_non_null(strstr(buf, "\"tls\": true"));
	assert_non_null(strstr(buf, "\"cert\": \"a\\\"b\\\\c\""));
	/* snprintf semantics: the full length comes back and the buffer ends in NUL. */
	memset(small, 'X', sizeof(small));
	assert_int_equal(gw_config_dump(&c, small, sizeof(small)), n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(gw_config_dump(&c, NULL, 0), n);
}

/* Masking that would not fit the key masks the whole value, and the dump stays loadable. */
static void
test_dump_redaction_overflow(void **state)
{
	char buf[8192], err[GW_CFG_ERR_MAX];
	struct gw_config c, back;
	size_t n = 0;

	(void)state;
	gw_config_defaults(&c);
	while (n + 12 < sizeof(c.db_conninfo))
		n += (size_t)snprintf(c.db_conninfo + n, sizeof(c.db_conninfo) - n, "password=q ");
	assert_true(gw_config_dump(&c, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"conninfo\": \"<redacted>\",\n"));
	assert_null(strstr(buf, "=q"));
	assert_true(gw_config_parse(buf, strlen(buf), "dump", &back, err));
	assert_string_equal(back.db_conninfo, "<redacted>");
}

/* ---- the doc ------------------------------------------------------------------------------ */

static void
test_doc_matches_docs_config_md(void **state)
{
	char path[1024], *doc, *file;
	size_t cap = 64 * 1024, got;
	FILE *f;
	int n;

	(void)state;
	assert_non_null(doc = malloc(cap));
	assert_non_null(file = calloc(1, cap));
	n = gw_config_doc(doc, cap);
	assert_true(n > 0 && (size_t)n < cap);
	snprintf(path, sizeof(path), "%s/docs/config.md", KYSO_SOURCE_DIR);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s: regenerate it with gw-config-doc", path);
	got = fread(file, 1, cap - 1, f);
	fclose(f);
	if (got != (size_t)n || memcmp(file, doc, got) != 0)
		fail_msg("docs/config.md differs from gw_config_doc(): regenerate it with the "
		         "gw-config-doc program");
	free(doc);
	free(file);
}

/* Every key row, in strcmp order (the table must stay sorted), marks reload and secret. */
static void
test_doc_rows(void **state)
{
	char *doc, *p, prev[64] = "", name[64];
	size_t cap = 64 * 1024;
	int rows = 0;

	(void)state;
	assert_non_null(doc = malloc(cap));
	assert_true(gw_config_doc(doc, cap) > 0);
	p = strstr(doc, "|---|---|---|---|---|---|---|\n");
	assert_non_null(p);
	for (p = strchr(p, '\n') + 1; *p == '|'; p = strchr(p, '\n') + 1) {
		assert_int_equal(sscanf(p, "| `%63[^`]`", name), 1);
		assert_true(strcmp(prev, name) < 0);
		snprintf(prev, sizeof(prev), "%s", name);
		rows++;
	}
	assert_int_equal(rows, 51);
	assert_non_null(
	        strstr(doc, "| `policy.file` | path | (empty) | at most 511 bytes | no | yes |"));
	assert_non_null(
	        strstr(doc, "| `tls.key` | path | (empty) | at most 511 bytes | no | yes |"));
	assert_non_null(strstr(doc,
	                       "| `log.level` | log level | `info` | error, warn, info, debug | "
	                       "yes | no |"));
	assert_non_null(strstr(doc, "| `db.lanes` | int | `4` | 1..16 | no | no |"));
	assert_non_null(strstr(doc, "| `limits.max_sessions` | int | `10000` | 1..1000000 | yes | "
	                            "no |"));
	assert_non_null(strstr(doc, "| `limits.signer_queue` | int | `16` | 1..64 | yes | no |"));
	assert_non_null(strstr(doc, "| `sim.max_sms` | int | `2` | 1..8 | yes | no |"));
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_object_gives_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_bounds_inclusive),
		cmocka_unit_test(test_limits_bounds),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_escapes_decode),
		cmocka_unit_test(test_positions_count_lines_and_characters),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_integers_only),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_cross_key_frame_cap),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_string_lengths),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_top_level_and_nesting),
		cmocka_unit_test(test_tokenizer_depth_limit),
		cmocka_unit_test(test_deep_config_is_refused_cleanly),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_load_ok_and_io_errors),
		cmocka_unit_test(test_env_overrides),
		cmocka_unit_test(test_env_errors),
		cmocka_unit_test(test_validate_plain_ws),
		cmocka_unit_test(test_validate_time_scale),
		cmocka_unit_test(test_validate_exit_after_signed),
		cmocka_unit_test(test_validate_tls_files),
		cmocka_unit_test(test_validate_secret_mode),
		cmocka_unit_test(test_validate_struct_keys),
		cmocka_unit_test(test_load_runs_validate),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_dump_redacts_and_round_trips),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_dump_shape_and_truncation),
		cmocka_unit_test(test_dump_redaction_overflow),
		cmocka_unit_test(test_doc_matches_docs_config_md),
		cmocka_unit_test(test_doc_rows),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
