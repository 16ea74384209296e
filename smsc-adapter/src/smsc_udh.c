/* smsc_udh.c -- UDH, OTA concatenation and bounded reassembly (TS 23.040 9.2.3.24,
 * TS 31.115 4.2 / 6, TELECOM.md 2.4). Header once, in segment 1; CPL spans the whole packet. */
#include <stdlib.h>
#include <string.h>

#include "smsc_int.h"

#define SEG1_ROOM 132u /* 140 - 07 00 03 ref tot 01 70 00 */
#define SEGN_ROOM 134u /* 140 - 05 00 03 ref tot seq */
#define ONE_ROOM  137u /* 140 - 02 70 00 */

enum smsc_err
smsc_ota_segment(uint8_t iei, const uint8_t *pkt, size_t len, uint8_t ref, struct smsc_seg *segs,
                 size_t segs_cap, size_t *n)
{
	size_t tot, off, i;

	if ((iei != 0x70 && iei != 0x71) || len == 0 || pkt == NULL)
		return SMSC_E_INVAL;
	if (len <= ONE_ROOM) {
		if (segs_cap < 1)
			return SMSC_E_SPACE;
		segs[0].ud[0] = 0x02;
		segs[0].ud[1] = iei;
		segs[0].ud[2] = 0x00;
		memcpy(segs[0].ud + 3, pkt, len);
		segs[0].len = 3 + len;
		*n = 1;
		return SMSC_OK;
	}
	tot = 1 + (len - SEG1_ROOM + SEGN_ROOM - 1) / SEGN_ROOM;
	if (tot > SMSC_SEG_MAX)
		return SMSC_E_TOOBIG;
	if (segs_cap < tot)
		return SMSC_E_SPACE;
	for (i = 0, off = 0; i < tot; i++) {
		uint8_t *u = segs[i].ud;
		size_t h = i == 0 ? 8 : 6, room = i == 0 ? SEG1_ROOM : SEGN_ROOM;
		size_t take = len - off < room ? len - off : room;

		u[0] = (uint8_t)(h - 1);
		u[1] = 0x00; /* IEI 00: concatenated SMS, 8-bit reference */
		u[2] = 0x03;
		u[3] = ref;
		u[4] = (uint8_t)tot;
		u[5] = (uint8_t)(i + 1);
		if (i == 0) {
			u[6] = iei;
			u[7] = 0x00;
		}
		memcpy(u + h, pkt + off, take);
		segs[i].len = h + take;
		off += take;
	}
	*n = tot;
	return SMSC_OK;
}

static bool
udh_ie(struct smsc_udh_info *u, uint8_t iei, const uint8_t *v, uint8_t iel)
{
	switch (iei) {
	case 0x00:
		if (iel != 3 || v[1] == 0 || v[2] == 0 || v[2] > v[1])
			return false;
		u->concat = true;
		u->ref = v[0];
		u->total = v[1];
		u->seq = v[2];
		return true;
	case 0x08:
		if (iel != 4 || v[2] == 0 || v[3] == 0 || v[3] > v[2])
			return false;
		u->concat = true;
		u->ref = (uint16_t)((v[0] << 8) | v[1]);
		u->total = v[2];
		u->seq = v[3];
		return true;
	case 0x70:
	case 0x71:
		u->ota_iei = iei;
		return true;
	default:
		return true; /* other IEs are skipped */
	}
}

enum smsc_err
smsc_udh_parse(const uint8_t *ud, size_t len, struct smsc_udh_info *out)
{
	struct smsc_udh_info u;
	struct smsc__cur c;
	uint8_t udhl;

	if (len < 1)
		return SMSC_E_STRUCT;
	udhl = ud[0];
	if ((size_t)udhl + 1 > len)
		return SMSC_E_STRUCT;
	memset(&u, 0, sizeof(u));
	c.p = ud + 1;
	c.left = udhl;
	while (c.left > 0) {
		uint8_t iei, iel;
		const uint8_t *v;

		if (!smsc__get_u8(&c, &iei) || !smsc__get_u8(&c, &iel) ||
		    !smsc__get_bytes(&c, iel, &v) || !udh_ie(&u, iei, v, iel))
			return SMSC_E_STRUCT;
	}
	u.body = ud + 1 + udhl;
	u.body_len = len - 1 - udhl;
	*out = u;
	return SMSC_OK;
}

/* ---- reassembly ------------------------------------------------------------------------ */

struct reasm_set {
	bool used;
	char source[24];
	uint16_t ref;
	uint8_t total;
	uint8_t iei;
	uint32_t have; /* bitmap of segments received */
	uint64_t first_ms;
	size_t bytes;
	uint8_t *seg[SMSC_SEG_MAX];
	size_t seg_len[SMSC_SEG_MAX];
};

struct smsc_reasm {
	struct reasm_set *sets;
	size_t max_sets, max_bytes, bytes;
	uint32_t ttl_ms;
};

enum smsc_err
smsc_reasm_new(size_t max_sets, size_t max_bytes, uint32_t ttl_ms, struct smsc_reasm **out)
{
	struct smsc_reasm *r;

	if (max_sets == 0 || max_sets > 100000 || max_bytes < SMSC_UD_MAX)
		return SMSC_E_INVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SMSC_E_NOMEM;
	if ((r->sets = calloc(max_sets, sizeof(*r->sets))) == NULL) {
		free(r);
		return SMSC_E_NOMEM;
	}
	r->max_sets = max_sets;
	r->max_bytes = max_bytes;
	r->ttl_ms = ttl_ms;
	*out = r;
	return SMSC_OK;
}

static void
set_drop(struct smsc_reasm *r, struct reasm_set *s)
{
	for (size_t i = 0; i < SMSC_SEG_MAX; i++)
		free(s->seg[i]);
	r->bytes -= s->bytes;
	memset(s, 0, sizeof(*s));
}

void
smsc_reasm_free(struct smsc_reasm *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->max_sets; i++)
		if (r->sets[i].used)
			set_drop(r, &r->sets[i]);
	free(r->sets);
	free(r);
}

size_t
smsc_reasm_expire(struct smsc_reasm *r, uint64_t now_ms)
{
	size_t n = 0;

	for (size_t i = 0; i < r->max_sets; i++) {
		struct reasm_set *s = &r->sets[i];

		if (s->used && now_ms - s->first_ms >= r->ttl_ms) {
			set_drop(r, s);
			n++;
		}
	}
	return n;
}

size_t
smsc_reasm_pending(const struct smsc_reasm *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->max_sets; i++)
		n += r->sets[i].used;
	return n;
}

static struct reasm_set *
set_oldest(struct smsc_reasm *r)
{
	struct reasm_set *o = NULL;

	for (size_t i = 0; i < r->max_sets; i++)
		if (r->sets[i].used && (o == NULL || r->sets[i].first_ms < o->first_ms))
			o = &r->sets[i];
	return o;
}

/* Finds the set for (source, ref, total) or makes room for a new one. */
static struct reasm_set *
set_find(struct smsc_reasm *r, const char *src, const struct smsc_udh_info *u, uint64_t now_ms)
{
	struct reasm_set *free_set = NULL;

	for (size_t i = 0; i < r->max_sets; i++) {
		struct reasm_set *s = &r->sets[i];

		if (!s->used) {
			if (free_set == NULL)
				free_set = s;
		} else if (s->ref == u->ref && s->total == u->total &&
		           strcmp(s->source, src) == 0) {
			return s;
		}
	}
	if (free_set == NULL) {
		free_set = set_oldest(r);
		set_drop(r, free_set); /* bounded: the oldest partial set goes */
	}
	free_set->used = true;
	memcpy(free_set->source, src, strlen(src) + 1);
	free_set->ref = u->ref;
	free_set->total = u->total;
	free_set->first_ms = now_ms;
	return free_set;
}

static enum smsc_err
set_join(struct smsc_reasm *r, struct reasm_set *s, uint8_t *out, size_t cap, size_t *out_len,
         uint8_t *iei)
{
	size_t n = 0;

	for (size_t i = 0; i < s->total; i++)
		n += s->seg_len[i];
	if (n > cap) {
		set_drop(r, s);
		return SMSC_E_SPACE;
	}
	n = 0;
	for (size_t i = 0; i < s->total; i++) {
		memcpy(out + n, s->seg[i], s->seg_len[i]);
		n += s->seg_len[i];
	}
	*out_len = n;
	*iei = s->iei;
	set_drop(r, s);
	return SMSC_OK;
}

enum smsc_err
smsc_reasm_add(struct smsc_reasm *r, const char *source, const uint8_t *ud, size_t len,
               uint64_t now_ms, uint8_t *out, size_t cap, size_t *out_len, uint8_t *iei, bool *done)
{
	struct smsc_udh_info u;
	struct reasm_set *s;
	enum smsc_err rc;
	size_t slen = strnlen(source, 24);

	if (slen >= sizeof(s->source) || len > SMSC_UD_MAX * 2)
		return SMSC_E_INVAL;
	if ((rc = smsc_udh_parse(ud, len, &u)) != SMSC_OK)
		return rc;
	if (!u.concat || u.total == 1) {
		if (u.body_len > cap)
			return SMSC_E_SPACE;
		memcpy(out, u.body, u.body_len);
		*out_len = u.body_len;
		*iei = u.ota_iei;
		*done = true;
		return SMSC_OK;
	}
	if (u.total > SMSC_SEG_MAX)
		return SMSC_E_TOOBIG;
	smsc_reasm_expire(r, now_ms);
	s = set_find(r, source, &u, now_ms);
	if (s->have & (1u << (u.seq - 1)))
		return SMSC_E_DUP; /* a redelivered segment: ignored */
	while (r->bytes + u.body_len > r->max_bytes) {
		struct reasm_set *o = set_oldest(r);

		if (o == s || o == NULL)
			break;
		set_drop(r, o);
	}
	if (r->bytes + u.body_len > r->max_bytes) {
		set_drop(r, s);
		return SMSC_E_FULL;
	}
	if ((s->seg[u.seq - 1] = malloc(u.body_len ? u.body_len : 1)) == NULL)
		return SMSC_E_NOMEM;
	memcpy(s->seg[u.seq - 1], u.body, u.body_len);
	s->seg_len[u.seq - 1] = u.body_len;
	s->bytes += u.body_len;
	r->bytes += u.body_len;
	s->have |= 1u << (u.seq - 1);
	if (u.seq == 1)
		s->iei = u.ota_iei;
	*done = false;
	if (s->have != (1u << s->total) - 1)
		return SMSC_OK;
	if ((rc = set_join(r, s, out, cap, out_len, iei)) != SMSC_OK)
		return rc;
	*done = true;
	return SMSC_OK;
}
