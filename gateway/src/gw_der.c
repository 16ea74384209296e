/* gw_der.c -- the DER writer of gw_der.h. */
#include <stdlib.h>
#include <string.h>

#include "gw_der.h"

void
gw_der_put(struct gw_der *d, const void *p, size_t n)
{
	if (!d->ok || n > d->pos) {
		d->ok = false;
		return;
	}
	d->pos -= n;
	memcpy(d->buf + d->pos, p, n);
}

size_t
gw_der_header_len(size_t len)
{
	size_t n = 2;

	if (len < 0x80)
		return n;
	for (; len > 0; len >>= 8)
		n++;
	return n;
}

/* Tag and definite length (X.690 8.1.3, shortest form as DER requires, 10.1). */
void
gw_der_header(struct gw_der *d, uint8_t tag, size_t len)
{
	uint8_t h[2 + sizeof(size_t)];
	size_t n = 0, l;

	if (len < 0x80) {
		h[0] = tag;
		h[1] = (uint8_t)len;
		gw_der_put(d, h, 2);
		return;
	}
	for (l = len; l > 0; l >>= 8)
		n++;
	h[0] = tag;
	h[1] = (uint8_t)(0x80 | n);
	for (size_t i = 0; i < n; i++)
		h[2 + i] = (uint8_t)(len >> (8 * (n - 1 - i)));
	gw_der_put(d, h, 2 + n);
}

/* Closes a constructed value whose content began (was written down to) at end. */
void
gw_der_close(struct gw_der *d, uint8_t tag, size_t end)
{
	if (d->ok)
		gw_der_header(d, tag, end - d->pos);
}

void
gw_der_prim(struct gw_der *d, uint8_t tag, const void *p, size_t n)
{
	gw_der_put(d, p, n);
	gw_der_header(d, tag, n);
}

void
gw_der_alg(struct gw_der *d, const uint8_t *oid, size_t oid_len)
{
	size_t end = d->pos;

	gw_der_prim(d, GW_DER_OID, oid, oid_len);
	gw_der_close(d, GW_DER_SEQUENCE, end);
}

void
gw_der_small_int(struct gw_der *d, uint8_t v)
{
	gw_der_prim(d, GW_DER_INTEGER, &v, 1);
}

/* X.690 11.6: encodings compared as octet strings, the shorter padded with zeros at its end
 * (so a prefix sorts first; equal ones may come in any order). */
static int
span_cmp(const void *a, const void *b)
{
	const struct gw_der_span *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c != 0 || x->len == y->len)
		return c;
	return x->len < y->len ? -1 : 1;
}

void
gw_der_set_of(struct gw_der *d, uint8_t tag, struct gw_der_span *s, size_t n)
{
	size_t end = d->pos;

	qsort(s, n, sizeof(*s), span_cmp);
	for (size_t i = n; i-- > 0;)
		gw_der_put(d, s[i].p, s[i].len);
	gw_der_close(d, tag, end);
}
