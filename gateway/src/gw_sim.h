/* gw_sim.h -- the SIM channel's core: OTA dialogue with the kyso-v1 applet through SMPP
 * (TELECOM.md sections 1-4). No libuv here: the core sees its SMPP links and its key store only
 * through struct gw_sim_ops, so unit tests drive it with sans-I/O sessions and a fake store.
 * gw_smsc_link.c owns the sockets and feeds every session event to gw_sim_on_link_event().
 * Loop thread only. */
#ifndef GW_SIM_H
#define GW_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/smsc.h>

#include "gw_channel.h"

struct gw_sim;

/* A card's OTA keyset with a counter value reserved for one packet: the store has made
 * counter durable (sim_keyset.counter) before handing it out (TELECOM.md 2.3). Secret: the
 * core wipes its copy when the transaction ends. */
struct gw_sim_keyset {
	char iccid[24];
	int kvn; /* 1..15 */
	enum smsc_ota_alg kic_alg, kid_alg;
	struct smsc_ota_keys keys;
	uint8_t tar[3];
	uint64_t counter; /* the value to put in CNTR */
};

/* Store answer codes. */
enum gw_sim_store_rc {
	GW_SIM_STORE_OK = 0,
	GW_SIM_STORE_UNKNOWN = 1, /* no sim_card / sim_keyset row for this number */
	GW_SIM_STORE_DOWN = 2,    /* the counter could not be made durable */
	GW_SIM_STORE_LOCKED = 3,  /* the card is on another node's open transaction */
};

struct gw_sim_ops {
	void *ctx;
	/* Reserve `step` counter values of the card behind msisdn (E.164 digits) and answer with
	 * gw_sim_on_reserved(op, ...) later (or from inside this call); step 0 only reads the
	 * keyset and its counter. lock_txn (NULL: none) also takes the card for that transaction
	 * across nodes; GW_SIM_STORE_LOCKED when another node's holds it (nothing reserved).
	 * 0 queued, -1 refused (database unavailable), -2 refused for now (its queue full). */
	int (*reserve)(void *ctx, uint64_t op, const char *msisdn, uint32_t step,
	               const char *lock_txn);
	/* Queue one submit_sm on the carrier's link. 0 queued, -1 refused (no link, queue full). */
	int (*submit)(void *ctx, const char *carrier, uint64_t tag, const struct smsc_submit *m);
	/* Drop a submit still queued on the carrier's link (abandon). */
	void (*cancel)(void *ctx, const char *carrier, uint64_t tag);
	uint64_t (*now_ms)(void *ctx);
};

struct gw_sim_config {
	uint8_t key_ref;         /* kyso-v1 tag 10 (1) */
	uint32_t resync_step;    /* cntr_resync_step (1000) */
	uint8_t spi1, spi2;      /* 0x16, 0x39 (TELECOM.md 2.1) */
	size_t max_txns;         /* transactions waiting at once (100000) */
	size_t reasm_sets;       /* MO partial sets (1024) */
	uint32_t reasm_ttl_ms;   /* MO partial set lifetime (120000) */
	uint32_t validity_min_s; /* submit_sm validity floor (60) */
	uint32_t time_scale;     /* dev.time_scale: the wire's validity stays unscaled (1) */
};

struct gw_sim_stats {
	uint64_t started, submits, dispatched, delivered, signed_, failed, late, resyncs;
	uint64_t mos, mos_dup, mos_dropped, dlrs, pors_bad;
	uint64_t foreign; /* answers to requests another node sent, handed to the engine */
	uint64_t busy;    /* requests not sent: the card was on another node's request */
};

/* routes is borrowed and must outlive the core. NULL on bad config or no memory. */
struct gw_sim *gw_sim_new(const struct gw_sim_config *cfg, const struct smsc_route_table *routes,
                          const struct gw_sim_ops *ops);
void gw_sim_free(struct gw_sim *sim); /* wipes every keyset still held */

/* The struct gw_channel named "sim" (gw_channel.h) over this core. */
void gw_sim_channel(struct gw_sim *sim, struct gw_channel *out);

/* The store's answer to ops->reserve (step 0 of an answer that arrived for a request this node
 * did not send: ks then holds the value last written ahead). ks is copied (and the caller
 * wipes its own). */
void gw_sim_on_reserved(struct gw_sim *sim, uint64_t op, enum gw_sim_store_rc rc,
                        const struct gw_sim_keyset *ks);

/* Every event of the carrier's session. MOs are acked through session. */
void gw_sim_on_link_event(struct gw_sim *sim, const char *carrier, struct smsc_session *session,
                          const struct smsc_event *ev);

/* Drops MO partial sets past their lifetime. Call now and then (the link's timer). */
void gw_sim_tick(struct gw_sim *sim);

void gw_sim_stats_get(const struct gw_sim *sim, struct gw_sim_stats *out);
size_t gw_sim_waiting(const struct gw_sim *sim);

#endif
