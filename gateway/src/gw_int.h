/* gw_int.h -- the gateway's internals shared between its files. Everything here belongs to
 * the loop thread. */
#ifndef GW_INT_H
#define GW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <uv.h>

#include <kyso/db.h>

#include "gw_auth.h"
#include "gw_config.h"
#include "gw_log.h"
#include "gw_metrics.h"
#include "gw_proto.h"

#define GW_REST_POLL_BUCKETS 256  /* waiting long polls by txn id */
#define GW_SESSION_BUCKETS   1024 /* sessions by id: the engine finds one per frame it sends */

/* One uv_poll on a socket some library owns (STYLE.md 2.2). */
struct gw_fdwatch {
	uv_poll_t *poll; /* heap: must outlive uv_close() */
	int fd;          /* fd the handle was made for, -1 if none */
	int events;      /* what it was last started with */
	int idx;         /* which of the owner's sockets, e.g. a db connection */
	uv_poll_cb cb;   /* finds this watch in handle->data */
	void *owner;
};
int gw_fdwatch_sync(struct gw_fdwatch *w, uv_loop_t *loop, int fd, int events);
void gw_fdwatch_stop(struct gw_fdwatch *w);

/* An outgoing frame, LWS_PRE bytes of headroom before the payload. */
struct gw_outmsg {
	struct gw_outmsg *next;
	size_t len;
	unsigned char buf[];
};

/* Per-connection data of /v1/ws, allocated and zeroed by lws (per_session_data_size). */
struct gw_session {
	struct gw_session *next, *prev; /* gw->sessions: to close them all on drain */
	struct gw_session *hnext;       /* gw->session_by bucket */
	struct lws *wsi;
	uint64_t id;
	struct gw_principal who;
	char peer[64];
	uint8_t *rx;     /* the frame being assembled, at most cfg.frame_max bytes */
	size_t rx_len;   /* bytes kept in rx */
	size_t rx_total; /* bytes of this message so far, kept or not */
	bool rx_binary;
	struct gw_outmsg *out_head, *out_tail;
	int out_count;
	bool rx_paused; /* lws_rx_flow_control(0) while our output queue is full */
	bool closing;   /* close with close_code at the next WRITEABLE */
	int close_code;
	bool rest; /* a REST request's stand-in (gw_rest.c): its first answer is the response */
};

/* Per-request data of plain HTTP (protocols[0]), allocated and zeroed by lws. */
struct gw_http {
	uint8_t *buf; /* LWS_PRE bytes of headroom, then the body */
	size_t len;
	bool sent;
	struct gw_rec_http
	        *rec; /* POST /v1/recovery/{id}/resolve in progress (gw_recovery_http.c) */
	/* REST (gw_rest.c) */
	bool rest;      /* this request is on /v1/sign */
	bool linked;    /* sess is in gw->sessions */
	bool answered;  /* the response has been started */
	bool body_over; /* the body passed the frame limit */
	int method;     /* LWSHUMETH_* */
	uint8_t *body;  /* POST body, at most cfg.frame_max bytes */
	size_t body_len;
	struct gw_session sess;    /* what the engine answers through */
	struct gw_rest_poll *poll; /* GET ?wait=: the long poll this request is (gw_rest.c) */
};

struct gw_rest_poll;
struct gw_mqtt;
struct gw_recovery;
struct gw_rec_http;
struct pol_config;
struct gw_engine;
struct gw_smsc;
struct gw_agentsrv;
struct gw_channel;

struct gw {
	uv_loop_t *loop;
	char config_path[GW_CFG_STR_MAX];
	struct gw_config cfg;
	struct lws_context *lws;
	struct db *db;
	struct gw_fdwatch *dbw;
	int ndbw;
	uv_timer_t db_timer;
	uint64_t event_tag;
	struct gw_mqtt *mqtt;
	struct gw_engine *engine; /* transactions (gw_engine.h) */
	struct gw_smsc *smsc;     /* the SIM channel, NULL without smsc.routes */
	struct gw_auth *auth;
	struct pol_config *policy;    /* policy.file, loaded at start (gw_recovery.c) */
	struct gw_recovery *recovery; /* the recovery connector, NULL once stopped */
	struct gw_metrics metrics;
	struct gw_session *sessions;
	struct gw_session *session_by[GW_SESSION_BUCKETS]; /* the same, by id */
	uint64_t next_session_id;
	struct gw_agentsrv *agents; /* /v1/agent sessions and the token channel (gw_agent.c) */
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t drain_timer;
	uv_timer_t health_timer;
	uint64_t drain_deadline_ms;
	bool draining;
	int exit_code;
	/* verification (gw_verify_setup.c): NULL when trust.anchors is empty */
	struct gw_httpc *httpc;
	struct gw_trust *trust;
	struct gw_verifier *verifier;
	/* REST long polls waiting for a change (gw_rest.c), by txn id */
	struct gw_rest_poll *rest_polls[GW_REST_POLL_BUCKETS];
	int rest_npolls;             /* open, waiting or not: bounded by limits.rest_polls */
	int rest_nparked;            /* waiting in rest_polls */
	struct gw_cert_cache *certs; /* parsed signer certificates, also without a verifier */
};

/* gw_db.c: the db object on the loop. */
int gw_db_start(struct gw *gw, char *err, size_t errlen);
void gw_db_sync(struct gw *gw); /* after every db_ call */
void gw_db_stop(struct gw *gw);

/* gw_events.c: node events -> PostgreSQL (and the MQTT outbox in the same batch). detail is
 * consumed (json_decref). segment: the MQTT topic's last part ("conn", "auth", "error"). */
void gw_event_node(struct gw *gw, const char *kind, const char *segment, const char *peer,
                   const char *client_id, json_t *detail);
void gw_event_done(void *arg, uint64_t tag, enum db_err rc);
/* An agent or token change of a named agent: MQTT kyso/v1/agent/<agent_id> (PROTOCOL.md 8). */
void gw_event_agent(struct gw *gw, const char *kind, const char *agent_id, const char *client_id,
                    json_t *detail);

/* gw_mqtt.c: libmosquitto on the loop, draining the outbox. */
struct gw_mqtt *gw_mqtt_new(struct gw *gw);
void gw_mqtt_kick(struct gw_mqtt *m); /* new outbox rows may be waiting */
void gw_mqtt_stop(struct gw_mqtt *m); /* disconnect, close handles; frees after the closes */
/* Publishes a retained health message now (best effort, not through the outbox). */
void gw_mqtt_health(struct gw_mqtt *m, const char *state);

/* gw_recovery.c: recovery cases of locked devices (REGULATION.md B14-B18, PROTOCOL.md 9).
 * done: rc is DB_OK with the case (created false: the credential had an open case already),
 * or a db_err; called once, later, on the loop thread; may be NULL. */
typedef void gw_recovery_done_fn(void *arg, int rc, const char *case_id, bool created);
int gw_recovery_start(struct gw *gw, char *err, size_t errlen); /* loads policy.file too */
void gw_recovery_stop(struct gw *gw);                           /* before gw_db_stop() */
/* SIGHUP: reads policy.file again; a bad file is logged and the running policy kept. */
void gw_recovery_reload(struct gw *gw);
/* The entry point for a device that reported "PIN blocked" (402/4021, gw_chan_event
 * device_blocked): locks the credential and opens its recovery case, in one transaction
 * (SQL kyso_recovery_open). 0 when taken (done follows), else a db_err (done is not called). */
int gw_recovery_device_blocked(struct gw *gw, int64_t credential, const char *txn_id,
                               gw_recovery_done_fn *done, void *arg);
/* True while a block reported for credential waits for its case transaction (parked or in
 * flight): the engine counts the credential as locked meanwhile (B14), so that a request
 * looked up before that transaction commits meets no device either. */
bool gw_recovery_blocking(const struct gw *gw, int64_t credential);

/* gw_sessions.c: the node's sessions, listed and by id. link gives s its id; unlink leaves
 * s out of both and may be called for a session that was never linked only when zeroed. */
void gw_session_link(struct gw *gw, struct gw_session *s);
void gw_session_unlink(struct gw *gw, struct gw_session *s);
/* The open session with that id, NULL when gone or closing. */
struct gw_session *gw_session_find(struct gw *gw, uint64_t id);

/* gw_server.c: lws on the loop, HTTP endpoints and /v1/ws. */
/* A complete HTTP response from WRITEABLE: status, JSON or text body (consumed), and one
 * optional extra header (name with its colon). 0 ok, 1 failed (close). */
int gw_http_begin(struct lws *wsi, struct gw_http *h, unsigned int status, const char *ctype,
                  char *body, size_t len, const char *extra_name, const char *extra_value);
void gw_http_auth_refused(struct lws *wsi, const char *why, const char *path);

/* gw_rest.c: the REST binding of PROTOCOL.md section 6 on /v1/sign. */
int gw_rest_request(struct lws *wsi, struct gw_http *h, const char *uri);
int gw_rest_body(struct lws *wsi, struct gw_http *h, const void *in, size_t len);
int gw_rest_body_done(struct lws *wsi, struct gw_http *h);
void gw_rest_answer(struct gw_session *s, const char *txt, size_t len);
void gw_rest_closed(struct lws *wsi, struct gw_http *h);
/* A committed event of a txn this node runs (gw_eng_push): long polls waiting on it answer. */
void gw_rest_txn_event(struct gw *gw, const char *txn, int seq, const char *frame);
/* Drain: every waiting long poll answers now with the latest event it has. */
void gw_rest_drain(struct gw *gw);
int gw_server_start(struct gw *gw, char *err, size_t errlen);
void gw_server_close_all(struct gw *gw, int close_code);
bool gw_server_ready(const struct gw *gw);

/* Authenticates an upgrade request (API key header or mTLS) against the directory. */
enum gw_auth_result gw_server_auth(struct lws *wsi, struct gw_principal *who);

/* gw_agent.c: /v1/agent (PROTOCOL.md section 7) and the "pcsc" device channel. */
#define GW_AGENT_PROTOCOL "kyso.agent.v1"
int gw_agent_start(struct gw *gw); /* before the listener */
void gw_agent_stop(struct gw *gw); /* closes the tick timer (finish) */
void gw_agent_free(struct gw *gw); /* after lws is destroyed and the loop closed */
void gw_agent_close_all(struct gw *gw, int close_code);
struct gw_channel *gw_agent_channel(struct gw *gw); /* the engine's "pcsc" channel */
int gw_agent_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                size_t len);

/* gw_verify_setup.c: trust store, HTTP client and verifier from the configuration. */
int gw_verify_start(struct gw *gw, char *err, size_t errlen);
void gw_verify_stop(struct gw *gw);

/* gw_smsc_link.c: the SIM channel (SMPP links to the carriers, OTA dialogue). */
int gw_smsc_start(struct gw *gw, char *err, size_t errlen); /* 0 also without smsc.routes */
/* --check-config: the carrier table parses (0), or err says where it does not. */
int gw_smsc_check(const struct gw_config *cfg, char *err, size_t errlen);
void gw_smsc_drain(struct gw *gw); /* graceful unbind, started with the drain */
void gw_smsc_stop(struct gw *gw);
/* The "sim" channel for the transaction engine; NULL when this node has none. */
struct gw_channel *gw_smsc_channel(struct gw *gw);

/* gw_clock.c */
uint64_t gw_now_us(void);  /* wall clock */
uint64_t gw_mono_ms(void); /* monotonic */

#endif
