/* Bounded ring of fixed-size slots: full = CARD_E_BUSY at once (STYLE.md §2.8, anti-pattern 4).
 * Slots are wiped after reading because job slots may carry hashes and results signatures. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "card_int.h"

struct card_ring {
	pthread_mutex_t mu;
	size_t depth, slot_size;
	size_t head, count; /* guarded by mu */
	unsigned char *slots;
};

struct card_ring *
card_ring_new(size_t depth, size_t slot_size)
{
	struct card_ring *r;

	if (depth == 0 || slot_size == 0 || depth > 4096 || slot_size > (1u << 20))
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->slots = calloc(depth, slot_size)) == NULL) {
		free(r);
		return NULL;
	}
	if (pthread_mutex_init(&r->mu, NULL) != 0) {
		free(r->slots);
		free(r);
		return NULL;
	}
	r->depth = depth;
	r->slot_size = slot_size;
	return r;
}

void
card_ring_free(struct card_ring *r)
{
	if (r == NULL)
		return;
	OPENSSL_cleanse(r->slots, r->depth * r->slot_size);
	free(r->slots);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

enum card_err
card_ring_push(struct card_ring *r, const void *item)
{
	enum card_err e = CARD_E_BUSY;

	pthread_mutex_lock(&r->mu);
	if (r->count < r->depth) {
		memcpy(r->slots + ((r->head + r->count) % r->depth) * r->slot_size, item,
		       r->slot_size);
		r->count++;
		e = CARD_OK;
	}
	pthread_mutex_unlock(&r->mu);
	return e;
}

bool
card_ring_pop(struct card_ring *r, void *item)
{
	bool got = false;
	unsigned char *slot;

	pthread_mutex_lock(&r->mu);
	if (r->count > 0) {
		slot = r->slots + r->head * r->slot_size;
		memcpy(item, slot, r->slot_size);
		OPENSSL_cleanse(slot, r->slot_size);
		r->head = (r->head + 1) % r->depth;
		r->count--;
		got = true;
	}
	pthread_mutex_unlock(&r->mu);
	return got;
}

size_t
card_ring_count(struct card_ring *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->count;
	pthread_mutex_unlock(&r->mu);
	return n;
}
