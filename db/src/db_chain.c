/* db_chain.c -- the canonical content of event rows and their hash chain (docs/audit.md).
 *
 * Every field is written as a 4-byte big-endian length followed by that many bytes; an absent
 * field (SQL NULL) is the length 0xFFFFFFFF with no bytes. Integers are written as their
 * decimal text, timestamps as decimal microseconds since the Unix epoch. The first field names
 * the table and the encoding version, so a row of one table can never verify as the other.
 * Being length-prefixed, the encoding is unambiguous: no two rows share one byte string. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "db_int.h"

#define NODE_TAG "kyso.node_event.v1"
#define TXN_TAG  "kyso.txn_event.v1"

static void
put_bytes(db__sink_fn *sink, void *ctx, const char *s, size_t n)
{
	uint8_t len[4];

	len[0] = (uint8_t)(n >> 24);
	len[1] = (uint8_t)(n >> 16);
	len[2] = (uint8_t)(n >> 8);
	len[3] = (uint8_t)n;
	sink(ctx, len, sizeof(len));
	if (n > 0)
		sink(ctx, s, n);
}

static void
put_text(db__sink_fn *sink, void *ctx, const char *s)
{
	static const uint8_t absent[4] = { 0xff, 0xff, 0xff, 0xff };

	if (s == NULL) {
		sink(ctx, absent, sizeof(absent));
		return;
	}
	/* Every field is bounded far below 4 GiB by the writers (DB_MAX_*). */
	put_bytes(sink, ctx, s, strlen(s));
}

static void
put_int(db__sink_fn *sink, void *ctx, int64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

	put_bytes(sink, ctx, buf, (size_t)n);
}

void
db__canon_node_event(const struct db__node_canon *c, db__sink_fn *sink, void *ctx)
{
	put_text(sink, ctx, NODE_TAG);
	put_text(sink, ctx, c->chain);
	put_int(sink, ctx, c->pos);
	put_text(sink, ctx, c->node);
	put_text(sink, ctx, c->kind);
	put_text(sink, ctx, c->peer);
	put_text(sink, ctx, c->client_id);
	put_text(sink, ctx, c->txn);
	put_int(sink, ctx, c->at_us);
	put_text(sink, ctx, c->detail);
}

void
db__canon_txn_event(const struct db__txn_canon *c, db__sink_fn *sink, void *ctx)
{
	put_text(sink, ctx, TXN_TAG);
	put_text(sink, ctx, c->chain);
	put_int(sink, ctx, c->pos);
	put_text(sink, ctx, c->txn);
	put_int(sink, ctx, c->seq);
	put_text(sink, ctx, c->state);
	if (c->has_status)
		put_int(sink, ctx, c->status);
	else
		put_text(sink, ctx, NULL);
	if (c->has_sub)
		put_int(sink, ctx, c->sub);
	else
		put_text(sink, ctx, NULL);
	put_text(sink, ctx, c->node);
	put_int(sink, ctx, c->at_us);
	put_text(sink, ctx, c->detail);
}

struct digest_sink {
	EVP_MD_CTX *md;
	bool ok;
};

static void
digest_sink(void *ctx, const void *p, size_t n)
{
	struct digest_sink *d = ctx;

	if (d->ok && EVP_DigestUpdate(d->md, p, n) != 1)
		d->ok = false;
}

/* One place that opens and closes the digest; canon() feeds it. */
static enum db_err
chain_hash(const uint8_t prev[DB_HASH_LEN], void (*canon)(const void *, db__sink_fn *, void *),
           const void *row, uint8_t out[DB_HASH_LEN])
{
	enum db_err rc = DB_E_NOMEM;
	struct digest_sink d = { NULL, true };
	unsigned int len = 0;

	if ((d.md = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestInit_ex(d.md, EVP_sha256(), NULL) != 1)
		goto out;
	digest_sink(&d, prev, DB_HASH_LEN);
	canon(row, digest_sink, &d);
	if (!d.ok || EVP_DigestFinal_ex(d.md, out, &len) != 1 || len != DB_HASH_LEN)
		goto out;
	rc = DB_OK;
out:
	EVP_MD_CTX_free(d.md);
	return rc;
}

static void
canon_node_thunk(const void *row, db__sink_fn *sink, void *ctx)
{
	db__canon_node_event(row, sink, ctx);
}

static void
canon_txn_thunk(const void *row, db__sink_fn *sink, void *ctx)
{
	db__canon_txn_event(row, sink, ctx);
}

enum db_err
db__node_event_hash(const uint8_t prev[DB_HASH_LEN], const struct db__node_canon *c,
                    uint8_t out[DB_HASH_LEN])
{
	return chain_hash(prev, canon_node_thunk, c, out);
}

enum db_err
db__txn_event_hash(const uint8_t prev[DB_HASH_LEN], const struct db__txn_canon *c,
                   uint8_t out[DB_HASH_LEN])
{
	return chain_hash(prev, canon_txn_thunk, c, out);
}

void
db__hex_encode(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool
db__hex_decode(const char *hex, uint8_t *out, size_t n)
{
	size_t i;

	if (hex == NULL || strlen(hex) != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}
