/* gw_engine_card.c -- one request on a device at a time across nodes (ARCHITECTURE.md
 * section 6). The per-signer queue orders a signer's requests on this node; a card that
 * another node's open transaction holds (sim_card.locked_txn, taken with the OTA counter in
 * db_sim_counter_reserve) makes the SIM channel answer GW_CHAN_BUSY instead of sending. The
 * transaction then waits here, `queued` for its AP, still at the head of its signer's queue
 * on this node, and is started again every CARD_RETRY_MS until the card is free or its
 * deadline ends it. Real time: the other node's request ends on its own clock. */
#include <stdlib.h>

#include "gw_engine_int.h"

#define CARD_RETRY_MS 1000

static void
card_tick(uv_timer_t *h)
{
	struct gw_engine *e = h->data;
	struct gw_txn *t, *next;
	int waiting = 0;

	for (t = e->all; t != NULL; t = next) {
		next = t->next; /* a dispatch may end t at once */
		if (!t->card_wait)
			continue;
		t->card_wait = false;
		if (!t->final_queued && !t->adopted) {
			waiting++;
			gw_eng_dispatch(t);
		}
	}
	if (waiting == 0)
		uv_timer_stop(h);
}

void
gw_eng_card_busy(struct gw_txn *t)
{
	struct gw_engine *e = t->eng;

	t->dispatched = false;
	t->card_wait = true;
	if (!t->card_waited)
		gw_log(GW_LOG_INFO, "msg=\"card on another node's request, waiting\" txn=%s",
		       t->id);
	t->card_waited = true;
	if (t->want < GW_TS_QUEUED)
		(void)gw_eng_event(t, GW_TS_QUEUED, 0, 0, gw_eng_progress(t, GW_TS_QUEUED));
	if (e->card_timer == NULL && e->gw->loop != NULL &&
	    (e->card_timer = malloc(sizeof(*e->card_timer))) != NULL) {
		uv_timer_init(e->gw->loop, e->card_timer);
		e->card_timer->data = e;
	}
	if (e->card_timer != NULL && !uv_is_active((uv_handle_t *)e->card_timer))
		uv_timer_start(e->card_timer, card_tick, CARD_RETRY_MS, CARD_RETRY_MS);
}

void
gw_eng_card_stop(struct gw_engine *e)
{
	gw_eng_timer_free(&e->card_timer);
}
