/* gw_engine.h -- the transaction engine on the loop (ARCHITECTURE.md sections 4 and 6): sign,
 * status, cancel and subscribe from /v1/ws, the in-memory transactions of this node, their
 * events committed through db/ before they are pushed, the per-signer queue, deadlines,
 * dispatch through the device channels (gw_channel.h) and the reload after a restart.
 * Loop thread only. */
#ifndef GW_ENGINE_H
#define GW_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <kyso/db.h>

#include "gw_channel.h"
#include "gw_proto.h"

struct gw;
struct gw_session;
struct gw_engine;

/* The limits of PROTOCOL.md section 3 and the SIM display budget (TELECOM.md 3.3) are
 * configuration keys (gw_config.h: limits.display_chars, limits.signer_queue, sim.max_sms),
 * read at each use so that SIGHUP changes them. The open transactions one node reloads after a
 * restart stay a constant: it is the bound of db_txn_reload (db/), not an operator's choice. */
#define GW_ENGINE_RELOAD_MAX 100000

struct gw_engine *gw_engine_new(struct gw *gw);
void gw_engine_free(struct gw_engine *e);
/* Registers a device channel ("sim", "pcsc"); the engine sets its on_event and engine. */
void gw_engine_add_channel(struct gw_engine *e, struct gw_channel *ch);

/* Requests of /v1/ws (gw_server.c): each answers the session by its id later or at once. */
void gw_engine_sign(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root);
void gw_engine_status(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root);
void gw_engine_cancel(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root);
void gw_engine_subscribe(struct gw_engine *e, struct gw_session *s, const char *id, json_t *root);

/* A REST long poll (gw_rest.c) follows txn from seq `since` on: the events it has not seen
 * reach the session like a subscription's. A txn this node runs reaches it through
 * gw_rest_txn_event; for one another node runs, the session is subscribed to its NOTIFYs and
 * the log is read once now, for an event committed before the subscription. */
void gw_engine_watch(struct gw_engine *e, const char *txn, uint64_t session, int since);

/* db/ callbacks (gw_db.c wires them). */
void gw_engine_txn_done(void *arg, uint64_t tag, enum db_err rc, int64_t ref);
/* NOTIFY kyso_txn from any node (gw_engine_notify.c). */
void gw_engine_notify(void *arg, const char *txn, int seq);
/* The database became ready: write this node's lease row (the first time) and reload its
 * open transactions (once). */
void gw_engine_db_ready(struct gw_engine *e);
/* This node's lease row exists: it may accept transactions (gw_engine_lease.c). */
bool gw_engine_leased(const struct gw_engine *e);

/* For /metrics and the drain. */
int gw_engine_pending(const struct gw_engine *e);

#endif
