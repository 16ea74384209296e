/* smsc_int.h -- internals shared by the smsc-adapter sources (not installed). */
#ifndef KYSO_SMSC_INT_H
#define KYSO_SMSC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/smsc.h>

#ifdef NDEBUG
#define SMSC_ASSERT(x) ((void)0)
#else
#include <assert.h>
#define SMSC_ASSERT(x) assert(x)
#endif

/* Read cursor over peer bytes: every getter checks what is left first (STYLE.md 2.10). */
struct smsc__cur {
	const uint8_t *p;
	size_t left;
};

static inline bool
smsc__get_u8(struct smsc__cur *c, uint8_t *v)
{
	if (c->left < 1)
		return false;
	*v = c->p[0];
	c->p++;
	c->left--;
	return true;
}

static inline bool
smsc__get_u16(struct smsc__cur *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = (uint16_t)((c->p[0] << 8) | c->p[1]);
	c->p += 2;
	c->left -= 2;
	return true;
}

static inline bool
smsc__get_u32(struct smsc__cur *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	*v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) | ((uint32_t)c->p[2] << 8) |
	     (uint32_t)c->p[3];
	c->p += 4;
	c->left -= 4;
	return true;
}

static inline bool
smsc__get_bytes(struct smsc__cur *c, size_t n, const uint8_t **v)
{
	if (c->left < n)
		return false;
	*v = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

/* Write cursor into a caller buffer. A failed put leaves ok false; callers check once. */
struct smsc__wr {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool ok;
};

static inline void
smsc__put(struct smsc__wr *w, const void *src, size_t n)
{
	if (!w->ok || w->cap - w->len < n) {
		w->ok = false;
		return;
	}
	if (n > 0)
		__builtin_memcpy(w->p + w->len, src, n);
	w->len += n;
}

static inline void
smsc__put_u8(struct smsc__wr *w, uint8_t v)
{
	smsc__put(w, &v, 1);
}

static inline void
smsc__put_u16(struct smsc__wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	smsc__put(w, b, 2);
}

static inline void
smsc__put_u32(struct smsc__wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	smsc__put(w, b, 4);
}

static inline void
smsc__be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static inline uint32_t
smsc__rd32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

/* OTA primitives (smsc_crypto.c). */
enum smsc_err smsc__cbc(enum smsc_ota_alg alg, const uint8_t *key, size_t key_len, bool enc,
                        const uint8_t *in, size_t len, uint8_t *out);
enum smsc_err smsc__mac(enum smsc_ota_alg alg, const uint8_t *key, size_t key_len,
                        const uint8_t *in, size_t len, uint8_t cc[8]);
size_t smsc__block(enum smsc_ota_alg alg);
uint32_t smsc__crc32(const uint8_t *p, size_t n);
uint16_t smsc__crc16(const uint8_t *p, size_t n);

/* Relative validity period "YYMMDDhhmmss000R" (SMPP 3.4 7.1.1.1). */
void smsc__validity_rel(uint32_t secs, char out[17]);

#endif
