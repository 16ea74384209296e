/* Fuzz target: gw_proto_parse on any bytes, then the field checks of the parsed request
 * (sign, status, cancel, subscribe: gw_sign.c) and the error answer built from the result;
 * the same bytes as a REST long poll's query (gw_poll_args_parse).
 * Invariants: a request is either parsed (root set, id printable) or refused with a defined
 * status (101, 102, 103, 107 or 900/9001 for no memory), and the answer always serialises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_proto.h"
#include "gw_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
answer_ok(const char *id, const struct gw_status *st)
{
	char out[2048];

	if (st->code != 101 && st->code != 102 && st->code != 103 && st->code != 107 &&
	    !(st->code == 900 && st->sub == 9001))
		abort();
	if (gw_proto_error(out, sizeof(out), id, st) < 0)
		abort();
}

static void
check_fields(struct gw_req *req)
{
	static struct gw_sign_req sr;
	static struct gw_since since[GW_SUBSCRIBE_MAX];
	char txn[GW_TXN_ID_MAX + 1];
	struct gw_status st;
	int n;

	memset(&st, 0, sizeof(st));
	switch (req->type) {
	case GW_REQ_SIGN:
		if (!gw_sign_parse(req->root, 200, &sr, &st))
			answer_ok(req->id, &st);
		else if (sr.digest_len != 32 && sr.digest_len != 48 && sr.digest_len != 64)
			abort();
		else if (sr.display_chars < 1 || sr.display_chars > 200)
			abort();
		break;
	case GW_REQ_STATUS:
	case GW_REQ_CANCEL:
		if (!gw_txn_ref_parse(req->root, txn, &st))
			answer_ok(req->id, &st);
		else if (!gw_txn_id_valid(txn))
			abort();
		break;
	case GW_REQ_SUBSCRIBE:
		if (!gw_subscribe_parse(req->root, since, &n, &st))
			answer_ok(req->id, &st);
		else if (n < 0 || n > GW_SUBSCRIBE_MAX)
			abort();
		break;
	case GW_REQ_PING:
		break;
	}
}

/* The same bytes as the query of a REST long poll, split at '&' like lws splits it: parsed,
 * or refused 101/1011; a parsed wait is 0-60 and since -1 or a seq. */
static void
check_poll_args(const uint8_t *data, size_t size)
{
	static char buf[1 << 16];
	const char *args[GW_POLL_ARGS_MAX];
	struct gw_poll_args pa;
	struct gw_status st;
	size_t i, start = 0;
	int n = 0;

	memcpy(buf, data, size);
	buf[size] = '\0';
	for (i = 0; i <= size && n < GW_POLL_ARGS_MAX; i++) {
		if (i < size && buf[i] != '&')
			continue;
		buf[i] = '\0';
		args[n++] = buf + start;
		start = i + 1;
	}
	memset(&st, 0, sizeof(st));
	if (!gw_poll_args_parse(args, n, &pa, &st)) {
		if (st.code != 101 || st.sub != 1011)
			abort();
		return;
	}
	if (pa.wait_s < 0 || pa.wait_s > GW_POLL_WAIT_MAX || pa.since < -1 || pa.since > 1000000)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_req req;
	struct gw_status err;
	char out[1024];

	if (size >= 1 << 16) /* the gateway checks the frame limit first */
		return 0;
	check_poll_args(data, size);
	if (gw_proto_parse(data, size, &req, &err)) {
		if (req.root == NULL || req.id[0] == '\0')
			abort();
		check_fields(&req);
		gw_req_clear(&req);
		return 0;
	}
	if (err.code != 101 && err.code != 102)
		abort();
	for (const char *p = req.id; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	if (gw_proto_error(out, sizeof(out), req.id, &err) < 0)
		abort();
	return 0;
}
