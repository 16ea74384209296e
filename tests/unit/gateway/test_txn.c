/* Unit tests of the transaction's state machine (ARCHITECTURE.md section 4): the transition
 * table, terminal states, final codes, the deadline's order, the per-signer queue, codes and
 * ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw_txn.h"

static void
names_round_trip(void **state)
{
	enum gw_txn_state s;

	(void)state;
	for (int i = 0; i < GW_TS_COUNT; i++) {
		assert_true(gw_txn_state_parse(gw_txn_state_name((enum gw_txn_state)i), &s));
		assert_int_equal(s, i);
	}
	assert_false(gw_txn_state_parse("done", &s));
	assert_string_equal(gw_txn_state_ap(GW_TS_DISPATCHED), "submitted");
	assert_string_equal(gw_txn_state_ap(GW_TS_SIGNED), "verifying");
	assert_null(gw_txn_state_ap(GW_TS_PERSISTED)); /* that is `accepted` */
	assert_null(gw_txn_state_ap(GW_TS_DONE));      /* that is `result` */
	assert_string_equal(gw_txn_state_mqtt(GW_TS_PERSISTED), "accepted");
	assert_string_equal(gw_txn_state_mqtt(GW_TS_CANCELLED), "cancelled");
	assert_null(gw_txn_state_mqtt(GW_TS_AUTHORISED));
}

/* Every pair against the table's rules: down the table with skips, the one resend step back,
 * terminal states sticky, nothing final before PERSISTED. */
static void
transition_table(void **state)
{
	(void)state;
	for (int f = 0; f < GW_TS_COUNT; f++) {
		for (int t = 0; t < GW_TS_COUNT; t++) {
			bool want;

			if (gw_txn_state_final((enum gw_txn_state)f))
				want = false;
			else if (t == GW_TS_DISPATCHED &&
			         (f == GW_TS_DISPATCHED || f == GW_TS_DELIVERED))
				want = true;
			else if (gw_txn_state_final((enum gw_txn_state)t))
				want = f >= GW_TS_PERSISTED;
			else
				want = t > f;
			assert_int_equal(
			        gw_txn_transition_ok((enum gw_txn_state)f, (enum gw_txn_state)t),
			        want);
		}
	}
	/* the cases the text names */
	assert_true(gw_txn_transition_ok(GW_TS_PERSISTED, GW_TS_DELIVERED)); /* skipped */
	assert_false(gw_txn_transition_ok(GW_TS_AWAITING_USER, GW_TS_DISPATCHED));
	assert_false(gw_txn_transition_ok(GW_TS_DONE, GW_TS_FAILED));
	assert_false(gw_txn_transition_ok(GW_TS_EXPIRED, GW_TS_DONE));
	assert_false(gw_txn_transition_ok(GW_TS_RECEIVED, GW_TS_FAILED));
	assert_false(gw_txn_transition_ok(GW_TS_COUNT, GW_TS_DONE));
}

static void
final_codes(void **state)
{
	(void)state;
	assert_true(gw_txn_final_code_ok(GW_TS_DONE, 502, 0));
	assert_true(gw_txn_final_code_ok(GW_TS_DONE, 500, 0));
	assert_false(gw_txn_final_code_ok(GW_TS_DONE, 208, 2081));
	assert_true(gw_txn_final_code_ok(GW_TS_DONE, 425, 0)); /* signed, certificate failed */
	assert_false(gw_txn_final_code_ok(GW_TS_DONE, 900, 9007));
	assert_true(gw_txn_final_code_ok(GW_TS_EXPIRED, 208, 2082));
	assert_false(gw_txn_final_code_ok(GW_TS_EXPIRED, 208, 0));
	assert_true(gw_txn_final_code_ok(GW_TS_CANCELLED, 401, 4014));
	assert_false(gw_txn_final_code_ok(GW_TS_FAILED, 401, 4014));
	assert_true(gw_txn_final_code_ok(GW_TS_FAILED, 401, 4011));
	assert_true(gw_txn_final_code_ok(GW_TS_FAILED, 402, 4021));
	assert_true(gw_txn_final_code_ok(GW_TS_FAILED, 209, 2093));
	assert_true(gw_txn_final_code_ok(GW_TS_FAILED, 900, 9003));
	assert_true(gw_txn_final_code_ok(GW_TS_FAILED, 105, 1054));
	assert_false(gw_txn_final_code_ok(GW_TS_FAILED, 105, 1052));
	assert_false(gw_txn_final_code_ok(GW_TS_QUEUED, 100, 0));
}

/* ARCHITECTURE.md section 4, "Deadlines", in its order. */
static void
deadline_order(void **state)
{
	struct gw_deadline_facts f;
	enum gw_txn_state to;
	int st = 0, sub = 0;

	(void)state;
	/* 1. an answer that arrived wins, even over a job never taken */
	f = (struct gw_deadline_facts){ .state = GW_TS_DISPATCHED,
		                        .answer_arrived = true,
		                        .token_job = true };
	assert_false(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	f = (struct gw_deadline_facts){ .state = GW_TS_SIGNED };
	assert_false(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	f = (struct gw_deadline_facts){ .state = GW_TS_DONE };
	assert_false(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	/* 2. a token job never taken, no agent: 209/2092 */
	f = (struct gw_deadline_facts){ .state = GW_TS_PERSISTED, .token_job = true };
	assert_true(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	assert_int_equal(to, GW_TS_FAILED);
	assert_int_equal(st, 209);
	assert_int_equal(sub, 2092);
	/* ... with an agent present it is an ordinary expiry */
	f.agent_present = true;
	assert_true(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	assert_int_equal(to, GW_TS_EXPIRED);
	assert_int_equal(st, 208);
	assert_int_equal(sub, 2081);
	/* 3. part of the answer arrived, never the whole (an MO segment lost): the device
	 * answered, the answer's delivery failed: 209/2093 (TELECOM.md 4), also after DELIVERED */
	f = (struct gw_deadline_facts){ .state = GW_TS_AWAITING_USER,
		                        .reached_user = true,
		                        .answer_partial = true };
	assert_true(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	assert_int_equal(to, GW_TS_FAILED);
	assert_int_equal(st, 209);
	assert_int_equal(sub, 2093);
	f = (struct gw_deadline_facts){ .state = GW_TS_DISPATCHED, .answer_partial = true };
	assert_true(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	assert_int_equal(sub, 2093);
	/* ... but a whole answer that arrived still wins */
	f.answer_arrived = true;
	assert_false(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	/* 4. the user had it: 2082, also when a resend stepped back to DISPATCHED */
	f = (struct gw_deadline_facts){ .state = GW_TS_AWAITING_USER };
	assert_true(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	assert_int_equal(to, GW_TS_EXPIRED);
	assert_int_equal(st, 208);
	assert_int_equal(sub, 2082);
	f = (struct gw_deadline_facts){ .state = GW_TS_DISPATCHED, .reached_user = true };
	assert_true(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	assert_int_equal(to, GW_TS_EXPIRED);
	assert_int_equal(st, 208);
	assert_int_equal(sub, 2082);
	/* 5. anything else: 2081 */
	f = (struct gw_deadline_facts){ .state = GW_TS_QUEUED };
	assert_true(gw_txn_deadline_outcome(&f, &to, &st, &sub));
	assert_int_equal(to, GW_TS_EXPIRED);
	assert_int_equal(st, 208);
	assert_int_equal(sub, 2081);
}

static void
queue_one_at_a_time(void **state)
{
	struct gw_signer_queue q = { 0 };

	(void)state;
	assert_int_equal(gw_queue_add(&q, 3, 11), GW_Q_RUN_NOW);
	assert_int_equal(gw_queue_add(&q, 3, 12), GW_Q_WAIT);
	assert_int_equal(gw_queue_add(&q, 3, 13), GW_Q_WAIT);
	assert_int_equal(gw_queue_add(&q, 3, 14), GW_Q_FULL); /* 406 */
	assert_int_equal(gw_queue_position(&q, 13), 2);
	/* a waiting one leaves: the device's request is unchanged */
	assert_int_equal(gw_queue_remove(&q, 12), 0);
	assert_int_equal(gw_queue_position(&q, 13), 1);
	/* the device's request ends: the oldest waiting runs next */
	assert_int_equal(gw_queue_remove(&q, 11), 13);
	assert_true(q.busy);
	assert_int_equal(gw_queue_remove(&q, 13), 0);
	assert_false(q.busy);
	assert_int_equal(gw_queue_remove(&q, 99), 0);
	assert_int_equal(gw_queue_add(&q, 3, 15), GW_Q_RUN_NOW);
	/* a cap beyond the hard bound is clamped */
	for (uint64_t i = 0; i < GW_QUEUE_CAP_HARD - 1; i++)
		assert_int_equal(gw_queue_add(&q, 100000, 100 + i), GW_Q_WAIT); /* 15 runs */
	assert_int_equal(gw_queue_add(&q, 100000, 1), GW_Q_FULL);
}

static void
codes_and_ids(void **state)
{
	char code[5], a[37], b[37];

	(void)state;
	for (int i = 0; i < 200; i++) {
		assert_true(gw_txn_verification_code(code));
		assert_int_equal(strlen(code), 4);
		assert_int_equal(strspn(code, "0123456789"), 4);
	}
	assert_true(gw_txn_new_id(0x0123456789abULL, a));
	assert_true(gw_txn_new_id(0x0123456789acULL, b));
	assert_int_equal(strlen(a), 36);
	assert_memory_equal(a, "01234567-89ab-7", 15); /* time first, version 7 */
	assert_true(strchr("89ab", a[19]) != NULL);    /* RFC 9562 variant */
	assert_true(strcmp(a, b) < 0);                 /* sorts by creation */
}

/* The signature a SIGNED event's detail holds, read back after a restart: exact bytes, and a
 * defined refusal for anything else. */
static void
signed_sig_read_back(void **state)
{
	uint8_t sig[GW_TXN_SIG_MAX];
	size_t len = 0;
	char big[2000];

	(void)state;
	assert_true(gw_txn_signed_sig("{\"type\":\"progress\",\"state\":\"verifying\","
	                              "\"signature\":\"MEUCIQ==\"}",
	                              sig, sizeof(sig), &len));
	assert_int_equal(len, 4);
	assert_memory_equal(sig, "\x30\x45\x02\x21", 4);
	assert_true(gw_txn_signed_sig("{\"signature\":\"AAECAw==\"}", sig, sizeof(sig), &len));
	assert_int_equal(len, 4);
	assert_true(gw_txn_signed_sig("{\"signature\":\"AAECAwQ=\"}", sig, sizeof(sig), &len));
	assert_int_equal(len, 5);
	assert_true(gw_txn_signed_sig("{\"signature\":\"AAECAwQF\"}", sig, sizeof(sig), &len));
	assert_int_equal(len, 6);
	assert_memory_equal(sig, "\x00\x01\x02\x03\x04\x05", 6);
	/* refused: no detail, not JSON, no field, wrong type, empty, not base64, too long */
	assert_false(gw_txn_signed_sig(NULL, sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"state\":\"verifying\"}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":12}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":\"\"}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":\"====\"}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":\"AA=A\"}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":\" AAA\"}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":\"AAE\"}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":\"AA\\nA\"}", sig, sizeof(sig), &len));
	assert_false(gw_txn_signed_sig("{\"signature\":\"AAECAwQF\"}", sig, 5, &len));
	memset(big, 'A', sizeof(big));
	memcpy(big, "{\"signature\":\"", 14);
	memcpy(big + 14 + 1368, "\"}", 3); /* 1026 bytes */
	assert_false(gw_txn_signed_sig(big, sig, sizeof(sig), &len));
	memcpy(big + 14 + 1364, "\"}", 3); /* 1023 bytes */
	assert_true(gw_txn_signed_sig(big, sig, sizeof(sig), &len));
	assert_int_equal(len, 1023);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_round_trip),     cmocka_unit_test(transition_table),
		cmocka_unit_test(final_codes),          cmocka_unit_test(deadline_order),
		cmocka_unit_test(queue_one_at_a_time),  cmocka_unit_test(codes_and_ids),
		cmocka_unit_test(signed_sig_read_back),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
