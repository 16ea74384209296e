/* gw_recovery_http.c -- POST /v1/recovery/{case_id}/resolve (PROTOCOL.md section 9): a
 * `connector` client of the case's destination says the device was unblocked. The case closes
 * and the credential is active again (REGULATION.md B14: the gateway itself never unblocks).
 * A repeat answers 200 with the closed case; an unknown case 404; another destination's 403.
 *
 * gw_server.c owns the lws side (authentication, headers, WRITEABLE); this file keeps one
 * request's state across the body and the database call. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "gw_recovery.h"
#include "gw_recovery_http.h"

struct gw_rec_http {
	struct lws *wsi; /* NULL once the connection closed: the db answer is then dropped */
	char client_id[33];
	char destination[65];
	char case_id[GW_RECOVERY_ID_CAP];
	uint8_t body[GW_RECOVERY_BODY_MAX];
	size_t body_len;
	bool too_big;
	unsigned
	        refuse_status; /* refused before the body (401, 403, ...): answered at complete() */
	const char *refuse_text;
	bool started;    /* complete() ran */
	bool db_pending; /* the resolve is in the database */
	bool ready;      /* status and answer are set */
	unsigned status;
	char *answer;
	size_t answer_len;
};

static void
rec_free(struct gw_rec_http *q)
{
	free(q->answer);
	free(q);
}

struct gw_rec_http *
gw_rec_http_new(struct lws *wsi, const char *client_id, const char *destination,
                const char *case_id)
{
	struct gw_rec_http *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->wsi = wsi;
	snprintf(q->client_id, sizeof(q->client_id), "%s", client_id);
	snprintf(q->destination, sizeof(q->destination), "%s", destination);
	snprintf(q->case_id, sizeof(q->case_id), "%s", case_id);
	return q;
}

void
gw_rec_http_refuse(struct gw_rec_http *q, unsigned status, const char *text)
{
	q->refuse_status = status;
	q->refuse_text = text;
}

void
gw_rec_http_body(struct gw_rec_http *q, const void *in, size_t len)
{
	if (len == 0 || in == NULL)
		return; /* lws may report an empty piece with no buffer */
	if (q->too_big || len > sizeof(q->body) - q->body_len) {
		q->too_big = true; /* counted out, answered 413 at the end */
		return;
	}
	memcpy(q->body + q->body_len, in, len);
	q->body_len += len;
}

static void
answer(struct gw_rec_http *q, unsigned status, const char *text)
{
	q->status = status;
	q->answer = strdup(text);
	q->answer_len = q->answer != NULL ? strlen(q->answer) : 0;
	q->ready = true;
	if (q->wsi != NULL)
		lws_callback_on_writable(q->wsi);
}

static void
on_resolved(void *arg, void *ctx, enum db_err rc, enum db_recovery_outcome out,
            const char *case_json)
{
	struct gw *gw = arg;
	struct gw_rec_http *q = ctx;

	q->db_pending = false;
	if (q->wsi == NULL) { /* the client left; the outcome stands and a repeat shows it */
		rec_free(q);
		return;
	}
	if (rc != DB_OK) {
		answer(q, 503, "{\"error\":\"database unavailable, retry later\"}");
		return;
	}
	gw_log(GW_LOG_INFO, "msg=\"recovery resolve\" case=%s client=%s outcome=%s", q->case_id,
	       q->client_id, db_recovery_outcome_name(out));
	switch (out) {
	case DB_RECOVERY_RESOLVED:
	case DB_RECOVERY_ALREADY:
		answer(q, 200, case_json != NULL ? case_json : "{}");
		if (out == DB_RECOVERY_RESOLVED && gw->mqtt != NULL)
			gw_mqtt_kick(gw->mqtt); /* the resolution on kyso/v1/recovery/<dest> */
		break;
	case DB_RECOVERY_NOT_FOUND:
		answer(q, 404, "{\"error\":\"no such recovery case\"}");
		break;
	case DB_RECOVERY_FORBIDDEN:
		answer(q, 403, "{\"error\":\"the case belongs to another destination\"}");
		break;
	}
}

void
gw_rec_http_complete(struct gw *gw, struct gw_rec_http *q)
{
	char note[GW_RECOVERY_NOTE_MAX + 1], err[128], by[48];
	enum db_err rc;

	if (q->started)
		return;
	q->started = true;
	if (q->refuse_status != 0) {
		answer(q, q->refuse_status, q->refuse_text);
		return;
	}
	if (q->too_big) {
		answer(q, 413, "{\"error\":\"body too large\"}");
		return;
	}
	if (!gw_recovery_callback_parse(q->body, q->body_len, note, err, sizeof(err))) {
		answer(q, 400, "{\"error\":\"body must be {} or {\\\"note\\\":\\\"...\\\"}\"}");
		return;
	}
	snprintf(by, sizeof(by), "connector:%s", q->client_id);
	rc = db_recovery_resolve(gw->db, q->case_id, q->destination, by,
	                         note[0] != '\0' ? note : NULL, on_resolved, q);
	gw_db_sync(gw);
	if (rc != DB_OK) {
		answer(q, 503, "{\"error\":\"database unavailable, retry later\"}");
		return;
	}
	q->db_pending = true;
}

bool
gw_rec_http_take_answer(struct gw_rec_http *q, unsigned *status, char **body, size_t *len)
{
	if (!q->ready || q->answer == NULL)
		return false;
	*status = q->status;
	*body = q->answer;
	*len = q->answer_len;
	q->answer = NULL;
	return true;
}

void
gw_rec_http_detach(struct gw_rec_http *q)
{
	if (q == NULL)
		return;
	q->wsi = NULL;
	if (!q->db_pending)
		rec_free(q);
}
