/* gw_events.c -- node events (ARCHITECTURE.md section 5): one PostgreSQL row each, and through
 * the outbox in the same batch, one MQTT message on kyso/v1/node/<node_id>/<segment>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_hash.h"
#include "gw_int.h"

void
gw_event_done(void *arg, uint64_t tag, enum db_err rc)
{
	struct gw *gw = arg;

	(void)tag;
	if (rc != DB_OK) {
		gw_log(GW_LOG_WARN, "msg=\"node event not stored\" rc=%s", db_strerror(rc));
		return;
	}
	/* Committed: its outbox row may be published now. */
	if (gw->mqtt != NULL)
		gw_mqtt_kick(gw->mqtt);
}

/* Peers and clients are hashed onto lanes so that one peer's events stay in order. */
static uint32_t
lane_key(const char *s)
{
	return gw_hash_str(s);
}

/* One node event with its MQTT topic. */
static void
event_emit(struct gw *gw, const char *kind, const char *topic, const char *peer,
           const char *client_id, json_t *detail)
{
	char at[40];
	char *detail_txt = NULL, *payload = NULL;
	json_t *msg = NULL;
	enum db_err rc;

	if (gw->db == NULL) { /* shutting down: nothing can record it any more */
		gw->metrics.node_events_lost++;
		json_decref(detail);
		return;
	}
	if (detail == NULL)
		detail = json_object();
	gw_proto_time(at, sizeof(at), gw_now_us());
	msg = json_pack("{s:s, s:s, s:s, s:O}", "node", gw->cfg.node_id, "kind", kind, "at", at,
	                "detail", detail);
	if (msg != NULL && peer != NULL)
		json_object_set_new(msg, "peer", json_string(peer));
	if (msg != NULL && client_id != NULL && client_id[0] != '\0')
		json_object_set_new(msg, "client", json_string(client_id));
	detail_txt = json_dumps(detail, JSON_COMPACT);
	payload = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
	if (detail_txt == NULL || payload == NULL) {
		gw->metrics.node_events_lost++;
		goto out;
	}
	struct db_node_event ev = {
		.kind = kind,
		.peer = peer,
		.client_id = client_id != NULL && client_id[0] != '\0' ? client_id : NULL,
		.detail_json = detail_txt,
		.mqtt_topic = topic,
		.mqtt_payload = payload,
		.lane_key = lane_key(peer),
	};
	rc = db_node_event_append(gw->db, ++gw->event_tag, &ev);
	if (rc == DB_OK) {
		gw->metrics.node_events++;
	} else {
		gw->metrics.node_events_lost++;
		gw_log(GW_LOG_WARN, "msg=\"node event refused\" kind=%s rc=%s", kind,
		       db_strerror(rc));
	}
	gw_db_sync(gw);
out:
	free(detail_txt);
	free(payload);
	json_decref(msg);
	json_decref(detail);
}

void
gw_event_node(struct gw *gw, const char *kind, const char *segment, const char *peer,
              const char *client_id, json_t *detail)
{
	char topic[160];

	snprintf(topic, sizeof(topic), "kyso/v1/node/%s/%s", gw->cfg.node_id, segment);
	event_emit(gw, kind, topic, peer, client_id, detail);
}

void
gw_event_agent(struct gw *gw, const char *kind, const char *agent_id, const char *client_id,
               json_t *detail)
{
	char topic[160];
	size_t n;

	/* PROTOCOL.md 8: kyso/v1/agent/<agent_id>. An agent id is printable ASCII: the MQTT
	 * wildcards and the level separator become '_' so that it stays one topic level. */
	n = (size_t)snprintf(topic, sizeof(topic), "kyso/v1/agent/%s", agent_id);
	for (size_t i = strlen("kyso/v1/agent/"); i < n && i < sizeof(topic); i++)
		if (topic[i] == '+' || topic[i] == '#' || topic[i] == '/')
			topic[i] = '_';
	event_emit(gw, kind, topic, NULL, client_id, detail);
}
