/* Differential test against libsmpp34 (Debian libsmpp34-dev, test-only): every PDU type we
 * support, both ways. Ours -> libsmpp34 unpacks it and packs the same bytes back; libsmpp34 ->
 * ours decodes the same fields and re-encodes the same bytes. libsmpp34 gets valid PDUs only
 * (TELECOM.md 5.7: it over-reads unterminated strings and rejects vendor statuses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <smpp34.h>

#include <smpp34_structs.h>

/* after smpp34_structs.h: it uses its typedefs */
#include <smpp34_params.h>
#include <cmocka.h>

#include <kyso/smsc.h>

#include "smsc_test_util.h"

union theirs {
	bind_transceiver_t bind;
	bind_transceiver_resp_t bind_resp;
	submit_sm_t submit;
	submit_sm_resp_t submit_resp;
	deliver_sm_t deliver;
	deliver_sm_resp_t deliver_resp;
	enquire_link_t enq;
	enquire_link_resp_t enq_resp;
	unbind_t unbind;
	unbind_resp_t unbind_resp;
	generic_nack_t nack;
};

/* Byte-identical, except that libsmpp34 keeps TLVs in reverse order (its list prepends):
 * the mandatory part must match exactly and the TLVs as a set. */
static void
same_pdu(const uint8_t *a, const uint8_t *b, size_t n)
{
	struct smsc_pdu pa, pb;
	size_t tl = 0;

	assert_int_equal(smsc_pdu_decode(a, n, &pa), SMSC_OK);
	assert_int_equal(smsc_pdu_decode(b, n, &pb), SMSC_OK);
	assert_int_equal(pa.tlv_count, pb.tlv_count);
	for (size_t i = 0; i < pa.tlv_count; i++) {
		bool found = false;

		tl += 4u + pa.tlv[i].len;
		for (size_t j = 0; j < pb.tlv_count && !found; j++)
			found = pa.tlv[i].tag == pb.tlv[j].tag && pa.tlv[i].len == pb.tlv[j].len &&
			        memcmp(pa.tlv[i].val, pb.tlv[j].val, pa.tlv[i].len) == 0;
		assert_true(found);
	}
	assert_memory_equal(a, b, n - tl);
}

static const tlv_t *
their_tlv(const tlv_t *list, uint16_t tag)
{
	for (; list != NULL; list = list->next)
		if (list->tag == tag)
			return list;
	return NULL;
}

/* Ours encodes; libsmpp34 must unpack it and pack identical bytes. */
static void
ours_to_theirs(const struct smsc_pdu *p, union theirs *t)
{
	uint8_t ours[1024], back[1024];
	size_t n;
	int bn = 0;

	assert_int_equal(smsc_pdu_encode(p, ours, sizeof(ours), &n), SMSC_OK);
	memset(t, 0, sizeof(*t));
	if (smpp34_unpack2(t, ours, (int)n) != 0)
		fail_msg("libsmpp34 unpack: %s", smpp34_strerror);
	if (smpp34_pack2(back, sizeof(back), &bn, t) != 0)
		fail_msg("libsmpp34 pack: %s", smpp34_strerror);
	assert_int_equal((size_t)bn, n);
	same_pdu(back, ours, n);
}

/* libsmpp34 packs t; ours decodes into *p (pointing into buf) and re-encodes the same bytes. */
static void
theirs_to_ours(union theirs *t, struct smsc_pdu *p, uint8_t *buf, size_t cap)
{
	uint8_t again[1024];
	int n = 0;
	size_t an;

	if (smpp34_pack2(buf, (int)cap, &n, t) != 0)
		fail_msg("libsmpp34 pack: %s", smpp34_strerror);
	assert_int_equal(smsc_pdu_decode(buf, (size_t)n, p), SMSC_OK);
	assert_int_equal(smsc_pdu_encode(p, again, sizeof(again), &an), SMSC_OK);
	assert_int_equal(an, (size_t)n);
	same_pdu(again, buf, an);
}

#define SETS(dst, s)    memcpy((dst), (s), strlen(s) + 1)
#define OURS(pdu, f, s) ((pdu).f = (s), (pdu).f##_len = strlen(s))

static void
test_bind(void **state)
{
	struct smsc_pdu p, q;
	union theirs t;
	uint8_t buf[1024];

	(void)state;
	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_BIND_TRX;
	p.sequence = 1;
	OURS(p, system_id, "kysogw");
	OURS(p, password, "secret1");
	OURS(p, system_type, "OTA");
	p.interface_version = 0x34;
	p.addr_ton = 1;
	p.addr_npi = 1;
	OURS(p, address_range, "8490");
	ours_to_theirs(&p, &t);
	assert_int_equal(t.bind.command_id, BIND_TRANSCEIVER);
	assert_string_equal((char *)t.bind.system_id, "kysogw");
	assert_string_equal((char *)t.bind.password, "secret1");
	assert_string_equal((char *)t.bind.address_range, "8490");
	assert_int_equal(t.bind.interface_version, 0x34);
	/* and back */
	memset(&t, 0, sizeof(t));
	t.bind.command_id = BIND_TRANSCEIVER;
	t.bind.sequence_number = 77;
	SETS(t.bind.system_id, "gw");
	SETS(t.bind.password, "pw");
	t.bind.interface_version = 0x34;
	theirs_to_ours(&t, &q, buf, sizeof(buf));
	assert_int_equal(q.sequence, 77);
	assert_int_equal(q.system_id_len, 2);
	assert_memory_equal(q.password, "pw", 2);

	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_BIND_TRX_RESP;
	p.sequence = 1;
	OURS(p, system_id, "SIMSMSC");
	ours_to_theirs(&p, &t);
	assert_string_equal((char *)t.bind_resp.system_id, "SIMSMSC");
	destroy_tlv(t.bind_resp.tlv);
	memset(&t, 0, sizeof(t));
	t.bind_resp.command_id = BIND_TRANSCEIVER_RESP;
	t.bind_resp.sequence_number = 3;
	SETS(t.bind_resp.system_id, "SMSC");
	theirs_to_ours(&t, &q, buf, sizeof(buf));
	assert_int_equal(q.command_id, SMSC_CMD_BIND_TRX_RESP);
	assert_memory_equal(q.system_id, "SMSC", 4);
}

static void
fill_sm(struct smsc_pdu *p, uint32_t id, const uint8_t *sm, size_t n)
{
	memset(p, 0, sizeof(*p));
	p->command_id = id;
	p->sequence = 0x7FFFFFFF;
	p->source_addr_ton = 1;
	p->source_addr_npi = 1;
	OURS(*p, source_addr, "8490999");
	p->dest_addr_ton = 1;
	p->dest_addr_npi = 1;
	OURS(*p, dest_addr, "84900000001");
	p->esm_class = 0x40;
	p->protocol_id = 0x7F;
	p->registered_delivery = 1;
	p->data_coding = 0xF6;
	p->short_message = sm;
	p->sm_length = n;
}

static void
test_submit(void **state)
{
	struct smsc_pdu p, q;
	union theirs t;
	uint8_t sm[200], buf[1024]; /* libsmpp34 refuses to pack 254 octets (its bound) */

	(void)state;
	for (size_t i = 0; i < sizeof(sm); i++)
		sm[i] = (uint8_t)(i ^ 0x5A);
	sm[7] = 0; /* binary data with NULs */
	fill_sm(&p, SMSC_CMD_SUBMIT_SM, sm, sizeof(sm));
	OURS(p, validity_period, "000000000200000R");
	ours_to_theirs(&p, &t);
	assert_int_equal(t.submit.sm_length, sizeof(sm));
	assert_memory_equal(t.submit.short_message, sm, sizeof(sm));
	assert_string_equal((char *)t.submit.destination_addr, "84900000001");
	assert_string_equal((char *)t.submit.validity_period, "000000000200000R");
	assert_int_equal(t.submit.esm_class, 0x40);
	assert_int_equal(t.submit.data_coding, 0xF6);
	destroy_tlv(t.submit.tlv);
	/* theirs -> ours */
	memset(&t, 0, sizeof(t));
	t.submit.command_id = SUBMIT_SM;
	t.submit.sequence_number = 5;
	t.submit.dest_addr_ton = 1;
	t.submit.dest_addr_npi = 1;
	SETS(t.submit.destination_addr, "84912345678");
	t.submit.esm_class = 0x40;
	t.submit.protocol_id = 0x7F;
	t.submit.data_coding = 0xF6;
	t.submit.sm_length = 37;
	memcpy(t.submit.short_message, sm, 37);
	theirs_to_ours(&t, &q, buf, sizeof(buf));
	assert_int_equal(q.sm_length, 37);
	assert_memory_equal(q.short_message, sm, 37);
	assert_memory_equal(q.dest_addr, "84912345678", 11);

	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_SUBMIT_SM_RESP;
	p.sequence = 9;
	OURS(p, message_id, "1A2B3C");
	ours_to_theirs(&p, &t);
	assert_string_equal((char *)t.submit_resp.message_id, "1A2B3C");
	memset(&t, 0, sizeof(t));
	t.submit_resp.command_id = SUBMIT_SM_RESP;
	t.submit_resp.sequence_number = 10;
	SETS(t.submit_resp.message_id,
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd");
	theirs_to_ours(&t, &q, buf, sizeof(buf));
	assert_int_equal(q.message_id_len, 62);
}

static void
test_deliver(void **state)
{
	struct smsc_pdu p, q;
	union theirs t;
	struct smsc_dlr d;
	uint8_t ud[64], buf[1024];
	const char *txt =
	        "id:1715004 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
	        "stat:DELIVRD err:000 text:";
	static const uint8_t rid[] = "1A2B3C";
	static const uint8_t st = 2;
	tlv_t tl;
	size_t n = hex2bin("027100000e0ab0001100000000000000016132", ud, sizeof(ud));

	(void)state;
	fill_sm(&p, SMSC_CMD_DELIVER_SM, ud, n);
	ours_to_theirs(&p, &t);
	assert_int_equal(t.deliver.sm_length, n);
	assert_memory_equal(t.deliver.short_message, ud, n);
	destroy_tlv(t.deliver.tlv);
	/* DLR with receipted_message_id and message_state TLVs */
	fill_sm(&p, SMSC_CMD_DELIVER_SM, (const uint8_t *)txt, strlen(txt));
	p.esm_class = 0x04;
	p.tlv_count = 2;
	p.tlv[0].tag = SMSC_TLV_RECEIPTED_MESSAGE_ID;
	p.tlv[0].len = 7;
	p.tlv[0].val = rid;
	p.tlv[1].tag = SMSC_TLV_MESSAGE_STATE;
	p.tlv[1].len = 1;
	p.tlv[1].val = &st;
	ours_to_theirs(&p, &t);
	assert_non_null(their_tlv(t.deliver.tlv, TLVID_receipted_message_id));
	assert_string_equal(
	        (const char *)their_tlv(t.deliver.tlv, TLVID_receipted_message_id)->value.octet,
	        "1A2B3C");
	assert_non_null(their_tlv(t.deliver.tlv, TLVID_message_state));
	assert_int_equal(their_tlv(t.deliver.tlv, TLVID_message_state)->value.val08, 2);
	destroy_tlv(t.deliver.tlv);
	/* theirs -> ours, TLVs built with libsmpp34 */
	memset(&t, 0, sizeof(t));
	t.deliver.command_id = DELIVER_SM;
	t.deliver.sequence_number = 7;
	t.deliver.esm_class = 0x04;
	SETS(t.deliver.source_addr, "84900000001");
	t.deliver.sm_length = (uint8_t)strlen(txt);
	memcpy(t.deliver.short_message, txt, strlen(txt));
	memset(&tl, 0, sizeof(tl));
	tl.tag = TLVID_receipted_message_id;
	tl.length = 7;
	memcpy(tl.value.octet, "1A2B3C", 7);
	build_tlv(&t.deliver.tlv, &tl);
	memset(&tl, 0, sizeof(tl));
	tl.tag = TLVID_message_state;
	tl.length = 1;
	tl.value.val08 = 5;
	build_tlv(&t.deliver.tlv, &tl);
	theirs_to_ours(&t, &q, buf, sizeof(buf));
	destroy_tlv(t.deliver.tlv);
	assert_int_equal(q.tlv_count, 2);
	assert_int_equal(smsc_dlr_parse(&q, &d), SMSC_OK);
	assert_string_equal(d.id, "1A2B3C");
	assert_int_equal(d.state, SMSC_MS_UNDELIVERABLE);

	memset(&p, 0, sizeof(p));
	p.command_id = SMSC_CMD_DELIVER_SM_RESP;
	p.sequence = 7;
	ours_to_theirs(&p, &t);
	assert_int_equal(t.deliver_resp.sequence_number, 7);
	memset(&t, 0, sizeof(t));
	t.deliver_resp.command_id = DELIVER_SM_RESP;
	t.deliver_resp.sequence_number = 8;
	theirs_to_ours(&t, &q, buf, sizeof(buf));
	assert_int_equal(q.message_id_len, 0);
}

/* Header-only PDUs, both directions. */
static void
test_header_only(void **state)
{
	static const uint32_t ids[] = { SMSC_CMD_ENQUIRE_LINK, SMSC_CMD_ENQUIRE_LINK_RESP,
		                        SMSC_CMD_UNBIND, SMSC_CMD_UNBIND_RESP,
		                        SMSC_CMD_GENERIC_NACK };
	uint8_t buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct smsc_pdu p, q;
		union theirs t;

		memset(&p, 0, sizeof(p));
		p.command_id = ids[i];
		p.sequence = (uint32_t)(100 + i);
		p.command_status = ids[i] == SMSC_CMD_GENERIC_NACK ? SMSC_ST_RINVCMDID : 0;
		ours_to_theirs(&p, &t);
		assert_int_equal(t.enq.command_id, ids[i]);
		assert_int_equal(t.enq.sequence_number, 100 + i);
		assert_int_equal(t.enq.command_status, p.command_status);
		memset(&t, 0, sizeof(t));
		t.enq.command_id = ids[i];
		t.enq.sequence_number = (uint32_t)(200 + i);
		theirs_to_ours(&t, &q, buf, sizeof(buf));
		assert_int_equal(q.command_id, ids[i]);
		assert_int_equal(q.sequence, 200 + i);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_submit),
		cmocka_unit_test(test_deliver),
		cmocka_unit_test(test_header_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
