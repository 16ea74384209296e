/* Unit tests: the canonical encoding of event rows and the hash chain (docs/audit.md).
 * The expected bytes and digests were computed independently from the written specification
 * (docs/audit.md), not by this code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db_int.h"

struct buf {
	uint8_t b[512];
	size_t n;
};

static void
buf_sink(void *ctx, const void *p, size_t n)
{
	struct buf *b = ctx;

	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static const struct db__node_canon row1 = { "gw-1/0",         1,    "gw-1", "conn.open",
	                                    "192.0.2.7:4431", NULL, NULL,   1700000000123456,
	                                    "{\"a\": 1}" };
static const struct db__node_canon row2 = { "gw-1/0", 2,          "gw-1",  "auth.fail",
	                                    NULL,     "portal-1", "01HZX", 1700000000223456,
	                                    "{}" };

static void
hex_is(const uint8_t *b, size_t n, const char *want)
{
	char hex[1100];

	assert_true(2 * n < sizeof(hex));
	db__hex_encode(b, n, hex);
	assert_string_equal(hex, want);
}

/* Length-prefixed fields, NULL as 0xFFFFFFFF, integers as decimal text. */
static void
test_canon_node_bytes(void **state)
{
	struct buf b = { .n = 0 };

	(void)state;
	db__canon_node_event(&row1, buf_sink, &b);
	assert_int_equal(b.n, 116);
	hex_is(b.b, b.n,
	       "000000126b79736f2e6e6f64655f6576656e742e76310000000667772d312f300000000131000000"
	       "0467772d3100000009636f6e6e2e6f70656e0000000e3139322e302e322e373a34343331ffffffff"
	       "ffffffff0000001031373030303030303030313233343536000000087b2261223a20317d");
}

/* Moving bytes between adjacent fields changes the encoding: no ambiguity. */
static void
test_canon_unambiguous(void **state)
{
	struct db__node_canon a = row1, c = row1;
	struct buf ba = { .n = 0 }, bc = { .n = 0 };

	(void)state;
	a.kind = "conn.open";
	a.peer = "x";
	c.kind = "conn.openx";
	c.peer = "";
	db__canon_node_event(&a, buf_sink, &ba);
	db__canon_node_event(&c, buf_sink, &bc);
	assert_false(ba.n == bc.n && memcmp(ba.b, bc.b, ba.n) == 0);
	/* absent and empty differ too */
	c = row1;
	c.peer = NULL;
	a = row1;
	a.peer = "";
	ba.n = bc.n = 0;
	db__canon_node_event(&a, buf_sink, &ba);
	db__canon_node_event(&c, buf_sink, &bc);
	assert_false(ba.n == bc.n && memcmp(ba.b, bc.b, ba.n) == 0);
}

static void
test_chain_known_vector(void **state)
{
	uint8_t zero[DB_HASH_LEN] = { 0 }, h1[DB_HASH_LEN], h2[DB_HASH_LEN];

	(void)state;
	assert_int_equal(db__node_event_hash(zero, &row1, h1), DB_OK);
	hex_is(h1, sizeof(h1), "2abac35f56941401e5cfadb0bc89487baf40e9da869c790ee231e6897f4ce665");
	assert_int_equal(db__node_event_hash(h1, &row2, h2), DB_OK);
	hex_is(h2, sizeof(h2), "1e4700393f0759b13823c703617fc4b188b172393a011a259adcad3674088187");
}

static void
test_txn_known_vector(void **state)
{
	uint8_t zero[DB_HASH_LEN] = { 0 }, h1[DB_HASH_LEN], h2[DB_HASH_LEN];
	struct db__txn_canon r3 = {
		"gw-1/1", 1,     "01HZY", 1,      "PERSISTED",      false,
		0,        false, 0,       "gw-1", 1700000000000001, "{\"k\":\"v\"}"
	};
	struct db__txn_canon r4 = { "gw-1/1", 2,    "01HZY", 2,      "FAILED", true,
		                    900,      true, 9002,    "gw-1", -5,       "{}" };

	(void)state;
	assert_int_equal(db__txn_event_hash(zero, &r3, h1), DB_OK);
	hex_is(h1, sizeof(h1), "8948975330c4e67c9525ed7ae4b8d833ebd983da98de0c0d2618a9e79f961164");
	assert_int_equal(db__txn_event_hash(h1, &r4, h2), DB_OK);
	hex_is(h2, sizeof(h2), "39ce1bd9d077691b1177dfe6192cbf8530b8f5c274d3a49b32186ab41952540f");
}

static void
test_hex(void **state)
{
	uint8_t out[2];

	(void)state;
	assert_true(db__hex_decode("aB0f", out, 2));
	assert_int_equal(out[0], 0xab);
	assert_int_equal(out[1], 0x0f);
	assert_false(db__hex_decode("ab0", out, 2));
	assert_false(db__hex_decode("ab0g", out, 2));
	assert_false(db__hex_decode(NULL, out, 2));
}

static void
test_roles_and_errors(void **state)
{
	enum db_client_role r;

	(void)state;
	assert_true(db_role_parse("connector", &r));
	assert_int_equal(r, DB_ROLE_CONNECTOR);
	assert_false(db_role_parse("admin", &r));
	assert_string_equal(db_role_name(DB_ROLE_AGENT), "agent");
	assert_string_equal(db_strerror(DB_E_BUSY), "queue full");
	/* The newest migration this build carries (a number may wait for a later file). */
	assert_int_equal(db_schema_version(), db__migrations[db__migration_count - 1].version);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canon_node_bytes),
		cmocka_unit_test(test_canon_unambiguous),
		cmocka_unit_test(test_chain_known_vector),
		cmocka_unit_test(test_txn_known_vector),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_roles_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
