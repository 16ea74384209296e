/* gw_der.h -- a small DER writer (X.690 10) for structures whose shape is fixed, such as the CMS
 * SignedData of gw_cms.c (PERFORMANCE.md G2: cheaper than going through OpenSSL's ASN.1 items).
 *
 * It fills a caller's buffer from the end backwards: a constructed value's length is known once
 * its content is written, so its header is put in front of it without a second pass. Fields are
 * therefore written last to first:
 *
 *     size_t end = d.pos;            // SEQUENCE { a, b }
 *     gw_der_prim(&d, GW_DER_OID, b, blen);
 *     gw_der_put(&d, a_der, alen);
 *     gw_der_close(&d, GW_DER_SEQUENCE, end);
 *
 * A write that does not fit clears ok and every later write does nothing; the result is
 * buf[pos..cap). Pure, no allocation. */
#ifndef GW_DER_H
#define GW_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_DER_INTEGER      0x02
#define GW_DER_OCTET_STRING 0x04
#define GW_DER_NULL         0x05
#define GW_DER_OID          0x06
#define GW_DER_UTC_TIME     0x17
#define GW_DER_GEN_TIME     0x18
#define GW_DER_SEQUENCE     0x30
#define GW_DER_SET          0x31
#define GW_DER_CTX0         0xA0 /* [0] constructed: IMPLICIT SET OF / EXPLICIT content */
#define GW_DER_CTX4         0xA4 /* [4] constructed, e.g. GeneralName directoryName */

struct gw_der {
	uint8_t *buf;
	size_t pos; /* what is written so far is buf[pos..cap); start with pos = cap */
	bool ok;    /* false once something did not fit */
};

/* An encoding already made (one TLV), e.g. a component of a SET OF. */
struct gw_der_span {
	const uint8_t *p;
	size_t len;
};

/* Bytes as they are (complete encodings). */
void gw_der_put(struct gw_der *d, const void *p, size_t n);
/* Tag and definite length in the shortest form (X.690 8.1.3, 10.1). */
void gw_der_header(struct gw_der *d, uint8_t tag, size_t len);
/* Size of that header for a content of len bytes. */
size_t gw_der_header_len(size_t len);
/* Closes a constructed value: end is pos before its content (its last field) was written. */
void gw_der_close(struct gw_der *d, uint8_t tag, size_t end);
/* A primitive value: content p[0..n) under tag. */
void gw_der_prim(struct gw_der *d, uint8_t tag, const void *p, size_t n);
/* AlgorithmIdentifier { oid } with absent parameters (e.g. SHA-2, ECDSA: RFC 5754). */
void gw_der_alg(struct gw_der *d, const uint8_t *oid, size_t oid_len);
/* INTEGER v, for 0 <= v < 128 (versions). */
void gw_der_small_int(struct gw_der *d, uint8_t v);
/* A SET OF (tag: GW_DER_SET or an IMPLICIT one) with its components in ascending order of their
 * encodings (X.690 11.6); s is reordered. */
void gw_der_set_of(struct gw_der *d, uint8_t tag, struct gw_der_span *s, size_t n);

#endif
