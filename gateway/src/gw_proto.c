/* gw_proto.c -- /v1/ws request parsing and answers (PROTOCOL.md sections 3-5). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "gw_proto.h"

static const struct {
	int code;
	const char *name;
} status_names[] = {
	{ 100, "REQUEST_OK" },
	{ 101, "WRONG_PARAM" },
	{ 102, "MISSING_PARAM" },
	{ 103, "WRONG_DATA_LENGTH" },
	{ 104, "UNAUTHORIZED_ACCESS" },
	{ 105, "UNKNOWN_CLIENT" },
	{ 107, "INAPPROPRIATE_DATA" },
	{ 208, "EXPIRED_TRANSACTION" },
	{ 209, "OTA_ERROR" },
	{ 401, "USER_CANCEL" },
	{ 402, "PIN_NR_BLOCKED" },
	{ 403, "CARD_BLOCKED" },
	{ 404, "NO_KEY_FOUND" },
	{ 406, "PB_SIGNATURE_PROCESS" },
	{ 422, "NO_CERT_FOUND" },
	{ 425, "ERROR_CERTIFICATE" },
	{ 500, "SIGNATURE" },
	{ 501, "REVOKED_CERTIFICATE" },
	{ 502, "VALID_SIGNATURE" },
	{ 503, "INVALID_SIGNATURE" },
	{ 504, "OUTSTANDING_TRANSACTION" },
	{ 505, "CONSTRAINT_MISMATCH" },
	{ 900, "INTERNAL_ERROR" },
};

static const struct {
	const char *name;
	enum gw_req_type type;
} req_types[] = {
	{ "ping", GW_REQ_PING },     { "sign", GW_REQ_SIGN },           { "status", GW_REQ_STATUS },
	{ "cancel", GW_REQ_CANCEL }, { "subscribe", GW_REQ_SUBSCRIBE },
};

const char *
gw_status_name(int code)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (status_names[i].code == code)
			return status_names[i].name;
	return "UNKNOWN";
}

void
gw_status_set(struct gw_status *st, int code, int sub, const char *fmt, ...)
{
	va_list ap;

	st->code = code;
	st->sub = sub;
	st->rule = st->reason = st->msg_vi = st->msg_en = NULL;
	va_start(ap, fmt);
	vsnprintf(st->detail, sizeof(st->detail), fmt, ap);
	va_end(ap);
}

/* Request ids are echoed into answers, so only 1-64 printable ASCII is accepted (section 3). */
static bool
id_valid(const char *s, size_t len)
{
	if (len < 1 || len > GW_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* Reads "id" when present and valid; an invalid one is an error of its own. */
static bool
parse_id(json_t *root, struct gw_req *req, struct gw_status *err)
{
	json_t *id = json_object_get(root, "id");

	if (id == NULL)
		return true;
	if (!json_is_string(id) || !id_valid(json_string_value(id), json_string_length(id))) {
		gw_status_set(err, 101, 1011, "id must be 1-64 printable ASCII characters");
		return false;
	}
	memcpy(req->id, json_string_value(id), json_string_length(id) + 1);
	return true;
}

bool
gw_proto_parse(const uint8_t *buf, size_t len, struct gw_req *req, struct gw_status *err)
{
	json_error_t jerr;
	json_t *root, *type;
	const char *tname;

	memset(req, 0, sizeof(*req));
	/* JSON_REJECT_DUPLICATES: a duplicate key could mean two things to two readers. */
	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		gw_status_set(err, 101, 1018, "malformed JSON at column %d", jerr.column);
		return false;
	}
	if (!json_is_object(root)) {
		gw_status_set(err, 101, 1018, "a frame must hold one JSON object");
		goto fail;
	}
	if (!parse_id(root, req, err))
		goto fail;
	type = json_object_get(root, "type");
	if (type == NULL) {
		gw_status_set(err, 102, 0, "missing field: type");
		goto fail;
	}
	tname = json_string_value(type);
	for (size_t i = 0; tname != NULL && i < sizeof(req_types) / sizeof(req_types[0]); i++) {
		if (strcmp(tname, req_types[i].name) == 0) {
			req->type = req_types[i].type;
			if (req->id[0] == '\0') {
				gw_status_set(err, 102, 0, "missing field: id");
				goto fail;
			}
			req->root = root;
			return true;
		}
	}
	gw_status_set(err, 101, 1011, "unknown request type");
fail:
	json_decref(root);
	return false;
}

void
gw_req_clear(struct gw_req *req)
{
	json_decref(req->root);
	req->root = NULL;
}

void
gw_proto_time(char *out, size_t cap, uint64_t now_us)
{
	time_t secs = (time_t)(now_us / 1000000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(now_us % 1000000 / 1000));
}

/* Serialises obj into out and releases obj. */
static int
dump_into(json_t *obj, char *out, size_t cap)
{
	size_t n;

	if (obj == NULL)
		return -1;
	n = json_dumpb(obj, out, cap > 0 ? cap - 1 : 0, JSON_COMPACT);
	json_decref(obj);
	if (n == 0 || n >= cap)
		return -1;
	out[n] = '\0';
	return (int)n;
}

int
gw_proto_error(char *out, size_t cap, const char *id, const struct gw_status *st)
{
	json_t *status =
	        json_pack("{s:i, s:s}", "code", st->code, "name", gw_status_name(st->code));
	json_t *obj;

	if (status == NULL)
		return -1;
	if (st->sub != 0)
		json_object_set_new(status, "sub", json_integer(st->sub));
	if (st->detail[0] != '\0')
		json_object_set_new(status, "detail", json_string(st->detail));
	obj = json_pack("{s:s, s:o}", "type", "error", "status", status);
	if (obj != NULL && id != NULL && id[0] != '\0')
		json_object_set_new(obj, "id", json_string(id));
	if (obj != NULL)
		gw_proto_add_refusal(obj, st);
	return dump_into(obj, out, cap);
}

void
gw_proto_add_refusal(json_t *obj, const struct gw_status *st)
{
	if (st->rule != NULL)
		json_object_set_new(obj, "rule", json_string(st->rule));
	if (st->reason != NULL)
		json_object_set_new(obj, "reason", json_string(st->reason));
	if (st->msg_vi != NULL && st->msg_en != NULL)
		json_object_set_new(obj, "message",
		                    json_pack("{s:s, s:s}", "vi", st->msg_vi, "en", st->msg_en));
}

int
gw_proto_pong(char *out, size_t cap, const char *id, uint64_t now_us)
{
	char t[40];

	gw_proto_time(t, sizeof(t), now_us);
	return dump_into(json_pack("{s:s, s:s, s:s}", "type", "pong", "id", id, "time", t), out,
	                 cap);
}
