/* gw_mqtt.c -- libmosquitto in single-threaded mode on the gateway's loop (STYLE.md 2.7),
 * publishing this node's outbox rows with QoS 1 and deleting each batch after its PUBACKs.
 *
 * Delivery is at-least-once: a row is deleted only after the broker acknowledged it; after a
 * lost connection the client object is rebuilt and the rows still in the outbox go out again.
 * The broker being down never blocks the loop: connects are asynchronous to a numeric
 * address, and events keep accumulating in PostgreSQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <openssl/rand.h>

#include "gw_int.h"

/* Rows per outbox fetch, and so the bound on rows handed to libmosquitto and not yet
 * acknowledged: at most mqtt.inflight of them are on the wire, the rest wait in its queue.
 * Each fetch and delete is a statement on the reader connection, in line with the signer
 * lookups and counter reservations: 100 rows a round let the outbox fall behind five events
 * per signature under load (docs/performance.md). */
#define FETCH_MAX 500

struct inflight {
	int mid;
	int64_t id;
	bool acked;
};

struct gw_mqtt {
	struct gw *gw;
	struct mosquitto *mosq;
	struct gw_fdwatch watch;
	uv_timer_t timer; /* 1 s: loop_misc, reconnects, outbox sweep */
	bool connected;
	bool fetching; /* an outbox fetch is in flight */
	bool kicked;   /* rows were committed while we were busy */
	bool stopping;
	int backoff_ms;
	uint64_t next_connect_ms;
	struct inflight batch[FETCH_MAX];
	int nbatch, nacked;
	int ack_hint;    /* where the next PUBACK's row probably is: they come in order */
	bool batch_full; /* the last fetch filled FETCH_MAX: more may wait */
	char health_topic[128];
};

static void mqtt_sync(struct gw_mqtt *m);
static void mqtt_fetch(struct gw_mqtt *m);

static void
mqtt_drop_client(struct gw_mqtt *m)
{
	gw_fdwatch_sync(&m->watch, m->gw->loop, -1, 0); /* before the socket closes */
	if (m->mosq != NULL)
		mosquitto_destroy(m->mosq);
	m->mosq = NULL;
	m->connected = false;
	m->gw->metrics.mqtt_connected = 0;
	m->nbatch = m->nacked = m->ack_hint =
	        0; /* unacknowledged rows stay in the outbox: sent again */
}

static void
schedule_reconnect(struct gw_mqtt *m)
{
	uint32_t jitter = 0;

	m->backoff_ms = m->backoff_ms == 0 ? 250 : m->backoff_ms * 2;
	if (m->backoff_ms > 5000)
		m->backoff_ms = 5000;
	RAND_bytes((unsigned char *)&jitter, sizeof(jitter));
	m->next_connect_ms = gw_mono_ms() + (uint64_t)m->backoff_ms / 2 +
	                     jitter % (uint32_t)(m->backoff_ms / 2 + 1);
}

static void
on_connect(struct mosquitto *mosq, void *arg, int rc)
{
	struct gw_mqtt *m = arg;

	(void)mosq;
	if (rc != 0) {
		gw_log(GW_LOG_WARN, "msg=\"broker refused the connection\" rc=%d", rc);
		return;
	}
	m->connected = true;
	m->backoff_ms = 0;
	m->gw->metrics.mqtt_connected = 1;
	gw_log(GW_LOG_INFO, "msg=\"broker connected\"");
	mosquitto_publish(m->mosq, NULL, m->health_topic, 2, "up", 1, true);
	m->kicked = true;
}

static void
on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
	struct gw_mqtt *m = arg;

	(void)mosq;
	if (m->connected)
		gw_log(GW_LOG_WARN, "msg=\"broker connection lost\" rc=%d", rc);
	m->connected = false;
	m->gw->metrics.mqtt_connected = 0;
}

static void
on_publish(struct mosquitto *mosq, void *arg, int mid)
{
	struct gw_mqtt *m = arg;
	int64_t ids[FETCH_MAX];

	(void)mosq;
	for (int k = 0; k < m->nbatch; k++) {
		int i = (m->ack_hint + k) % m->nbatch;

		if (m->batch[i].mid == mid && !m->batch[i].acked) {
			m->batch[i].acked = true;
			m->nacked++;
			m->gw->metrics.mqtt_published++;
			m->ack_hint = i + 1;
			break;
		}
	}
	if (m->nbatch == 0 || m->nacked < m->nbatch)
		return;
	for (int i = 0; i < m->nbatch; i++)
		ids[i] = m->batch[i].id;
	if (db_outbox_delete(m->gw->db, ids, m->nbatch) != DB_OK)
		gw_log(GW_LOG_WARN, "msg=\"outbox delete not queued\" rows=%d", m->nbatch);
	gw_db_sync(m->gw);
	m->nbatch = m->nacked = m->ack_hint = 0;
	if (m->batch_full)
		m->kicked = true;
}

static void
outbox_rows(void *arg, const struct db_outbox_row *rows, int n, enum db_err rc)
{
	struct gw_mqtt *m = ((struct gw *)arg)->mqtt;

	m->fetching = false;
	if (m->stopping || rc != DB_OK || !m->connected || m->nbatch != 0)
		return;
	m->batch_full = n == FETCH_MAX;
	for (int i = 0; i < n && i < FETCH_MAX; i++) {
		int mid = 0;
		int prc = mosquitto_publish(m->mosq, &mid, rows[i].topic, (int)rows[i].payload_len,
		                            rows[i].payload, 1, false);

		if (prc != MOSQ_ERR_SUCCESS) {
			gw_log(GW_LOG_WARN, "msg=\"publish failed\" err=\"%s\"",
			       mosquitto_strerror(prc));
			break; /* the rest stays in the outbox */
		}
		m->batch[m->nbatch++] = (struct inflight){ .mid = mid, .id = rows[i].id };
	}
	mqtt_sync(m);
}

/* Runs when nothing is in flight: the outbox is read oldest first, so rows being published
 * must be acknowledged and deleted before the next read, or they would come back. */
static void
mqtt_fetch(struct gw_mqtt *m)
{
	enum db_err rc;

	if (m->stopping || !m->connected || m->fetching || m->nbatch != 0 || !m->kicked)
		return;
	m->kicked = false;
	rc = db_outbox_fetch(m->gw->db, FETCH_MAX, outbox_rows);
	if (rc == DB_OK)
		m->fetching = true;
	else
		m->kicked = true; /* try again on the next tick */
	gw_db_sync(m->gw);
}

static void
mqtt_poll_cb(uv_poll_t *h, int status, int events)
{
	struct gw_mqtt *m = ((struct gw_fdwatch *)h->data)->owner;
	int rc = MOSQ_ERR_SUCCESS;

	if (m->mosq == NULL)
		return;
	if (status < 0 || (events & UV_READABLE))
		rc = mosquitto_loop_read(m->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && status >= 0 && (events & UV_WRITABLE))
		rc = mosquitto_loop_write(m->mosq, 1);
	if (rc != MOSQ_ERR_SUCCESS) {
		mqtt_drop_client(m);
		schedule_reconnect(m);
		return;
	}
	mqtt_sync(m);
}

static void
mqtt_sync(struct gw_mqtt *m)
{
	int fd = m->mosq != NULL ? mosquitto_socket(m->mosq) : -1;
	int ev = UV_READABLE | (m->mosq != NULL && mosquitto_want_write(m->mosq) ? UV_WRITABLE : 0);

	gw_fdwatch_sync(&m->watch, m->gw->loop, fd, ev);
	mqtt_fetch(m);
}

static int
mqtt_connect(struct gw_mqtt *m)
{
	const struct gw_config *c = &m->gw->cfg;
	char client_id[96];
	int rc;

	snprintf(client_id, sizeof(client_id), "kyso-gw-%s", c->node_id);
	m->mosq = mosquitto_new(client_id, true, m);
	if (m->mosq == NULL)
		return -1;
	mosquitto_threaded_set(m->mosq, false);
	mosquitto_int_option(m->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, c->mqtt_inflight);
	mosquitto_connect_callback_set(m->mosq, on_connect);
	mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
	mosquitto_publish_callback_set(m->mosq, on_publish);
	mosquitto_will_set(m->mosq, m->health_topic, 4, "down", 1, true);
	/* Numeric host only (config-checked): 2.0's connect calls getaddrinfo(). */
	rc = mosquitto_connect_async(m->mosq, c->mqtt_host, c->mqtt_port, c->mqtt_keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		gw_log(GW_LOG_DEBUG, "msg=\"broker connect failed\" err=\"%s\"",
		       mosquitto_strerror(rc));
		mqtt_drop_client(m);
		return -1;
	}
	mqtt_sync(m);
	return 0;
}

static void
mqtt_timer_cb(uv_timer_t *t)
{
	struct gw_mqtt *m = t->data;

	if (m->mosq == NULL) {
		if (gw_mono_ms() >= m->next_connect_ms && mqtt_connect(m) != 0)
			schedule_reconnect(m);
		return;
	}
	if (mosquitto_loop_misc(m->mosq) != MOSQ_ERR_SUCCESS && !m->connected) {
		mqtt_drop_client(m);
		schedule_reconnect(m);
		return;
	}
	/* The sweep: rows from before this start, or kicks lost to a full batch. */
	m->kicked = true;
	mqtt_sync(m);
}

struct gw_mqtt *
gw_mqtt_new(struct gw *gw)
{
	struct gw_mqtt *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->gw = gw;
	m->watch = (struct gw_fdwatch){ .fd = -1, .cb = mqtt_poll_cb, .owner = m };
	snprintf(m->health_topic, sizeof(m->health_topic), "kyso/v1/node/%s/health",
	         gw->cfg.node_id);
	mosquitto_lib_init();
	uv_timer_init(gw->loop, &m->timer);
	m->timer.data = m;
	uv_timer_start(&m->timer, mqtt_timer_cb, 0, 1000);
	return m;
}

void
gw_mqtt_kick(struct gw_mqtt *m)
{
	m->kicked = true;
	mqtt_fetch(m);
}

void
gw_mqtt_health(struct gw_mqtt *m, const char *state)
{
	if (m->mosq != NULL && m->connected) {
		mosquitto_publish(m->mosq, NULL, m->health_topic, (int)strlen(state), state, 1,
		                  true);
		mqtt_sync(m);
	}
}

static void
mqtt_free_cb(uv_handle_t *h)
{
	free(h->data);
}

void
gw_mqtt_stop(struct gw_mqtt *m)
{
	m->stopping = true;
	if (m->mosq != NULL && m->connected) {
		mosquitto_publish(m->mosq, NULL, m->health_topic, 4, "down", 1, true);
		mosquitto_disconnect(m->mosq);
		mosquitto_loop_write(m->mosq, 1);
	}
	mqtt_drop_client(m);
	mosquitto_lib_cleanup();
	uv_close((uv_handle_t *)&m->timer, mqtt_free_cb);
}
