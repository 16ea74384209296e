/* db_spool.c -- the local spool of transaction items: its record codec and its file
 * (db_spool.h, ARCHITECTURE.md section 6). The decoder reads a file a crash may have torn or a
 * disk may have damaged, so it is bounded like a peer-facing parser (tests/fuzz/db-spool). */
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_spool.h"

/* ---- CRC32C (Castagnoli, reflected 0x82F63B78), table built on first use ---- */

static uint32_t crc_table[256];
static bool crc_ready;

static void
crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
	crc_ready = true;
}

uint32_t
db_spool_crc32c(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (n-- > 0)
		crc = crc_table[(crc ^ *b++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}

/* ---- codec ---- */

static void
put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
rec_strings(const struct db_spool_rec *r, const char *s[DB_SPOOL_NSTR])
{
	s[0] = r->txn;
	s[1] = r->state;
	s[2] = r->detail;
	s[3] = r->topic;
	s[4] = r->payload;
	s[5] = r->row;
	s[6] = r->legacy_result;
}

#define BODY_FIXED (4 + 4 + 4 + 4 + 8)

static size_t
body_size(const struct db_spool_rec *r)
{
	const char *s[DB_SPOOL_NSTR];
	size_t n = BODY_FIXED;

	rec_strings(r, s);
	for (int i = 0; i < DB_SPOOL_NSTR; i++) {
		n += 4;
		if (s[i] != NULL)
			n += strnlen(s[i], DB_SPOOL_BODY_MAX) + 1;
		if (n > DB_SPOOL_BODY_MAX)
			return 0;
	}
	return n;
}

size_t
db_spool_rec_size(const struct db_spool_rec *r)
{
	size_t body;

	if (r == NULL || (r->kind != DB_SPOOL_ACCEPT && r->kind != DB_SPOOL_EVENT) ||
	    r->txn == NULL || r->state == NULL)
		return 0;
	body = body_size(r);
	return body == 0 ? 0 : DB_SPOOL_HDR + body;
}

size_t
db_spool_encode(const struct db_spool_rec *r, uint8_t *out, size_t cap)
{
	size_t total = db_spool_rec_size(r), off = DB_SPOOL_HDR + BODY_FIXED;
	const char *s[DB_SPOOL_NSTR];
	uint8_t *b = out + DB_SPOOL_HDR;
	uint32_t crc;

	if (total == 0 || cap < total)
		return 0;
	out[0] = DB_SPOOL_VERSION;
	out[1] = (uint8_t)r->kind;
	out[2] = out[3] = 0;
	put_u32(out + 4, (uint32_t)(total - DB_SPOOL_HDR));
	put_u32(b, r->lane_key);
	put_u32(b + 4, (uint32_t)r->seq);
	put_u32(b + 8, (uint32_t)r->status);
	put_u32(b + 12, (uint32_t)r->sub);
	put_u32(b + 16, (uint32_t)((uint64_t)r->at_us & 0xFFFFFFFFu));
	put_u32(b + 20, (uint32_t)((uint64_t)r->at_us >> 32));
	rec_strings(r, s);
	for (int i = 0; i < DB_SPOOL_NSTR; i++) {
		size_t n = s[i] != NULL ? strlen(s[i]) + 1 : 0;

		put_u32(out + off, (uint32_t)n);
		memcpy(out + off + 4, s[i] != NULL ? s[i] : "", n);
		off += 4 + n;
	}
	crc = db_spool_crc32c(0, out, 8);
	crc = db_spool_crc32c(crc, b, total - DB_SPOOL_HDR);
	put_u32(out + 8, crc);
	return total;
}

/* One string field at body[*off]: bounded by end, NUL-terminated exactly at its end. */
static bool
take_str(const uint8_t *body, size_t len, size_t *off, const char **out)
{
	uint32_t n;

	if (len - *off < 4)
		return false;
	n = get_u32(body + *off);
	*off += 4;
	if (n == 0) {
		*out = NULL;
		return true;
	}
	if (n > len - *off || body[*off + n - 1] != '\0' ||
	    memchr(body + *off, '\0', n - 1) != NULL)
		return false;
	*out = (const char *)(body + *off);
	*off += n;
	return true;
}

static bool
body_decode(const uint8_t *b, size_t len, struct db_spool_rec *r)
{
	const char **s[DB_SPOOL_NSTR] = { &r->txn,     &r->state, &r->detail,       &r->topic,
		                          &r->payload, &r->row,   &r->legacy_result };
	size_t off = BODY_FIXED;

	if (len < BODY_FIXED)
		return false;
	r->lane_key = get_u32(b);
	r->seq = (int32_t)get_u32(b + 4);
	r->status = (int32_t)get_u32(b + 8);
	r->sub = (int32_t)get_u32(b + 12);
	r->at_us = (int64_t)((uint64_t)get_u32(b + 16) | (uint64_t)get_u32(b + 20) << 32);
	for (int i = 0; i < DB_SPOOL_NSTR; i++)
		if (!take_str(b, len, &off, s[i]))
			return false;
	return off == len && r->txn != NULL && r->state != NULL;
}

enum db_spool_dec
db_spool_decode(const uint8_t *p, size_t n, struct db_spool_rec *r, size_t *used)
{
	uint32_t len, crc;

	*used = 0;
	memset(r, 0, sizeof(*r));
	if (n < DB_SPOOL_HDR)
		return DB_SPOOL_SHORT;
	len = get_u32(p + 4);
	if (p[0] != DB_SPOOL_VERSION || (p[1] != DB_SPOOL_ACCEPT && p[1] != DB_SPOOL_EVENT) ||
	    p[2] != 0 || p[3] != 0 || len > DB_SPOOL_BODY_MAX)
		return DB_SPOOL_BAD;
	if (len > n - DB_SPOOL_HDR)
		return DB_SPOOL_SHORT;
	crc = db_spool_crc32c(0, p, 8);
	crc = db_spool_crc32c(crc, p + DB_SPOOL_HDR, len);
	if (crc != get_u32(p + 8))
		return DB_SPOOL_BAD;
	r->kind = (enum db_spool_kind)p[1];
	if (!body_decode(p + DB_SPOOL_HDR, len, r)) {
		memset(r, 0, sizeof(*r));
		return DB_SPOOL_BAD;
	}
	*used = DB_SPOOL_HDR + len;
	return DB_SPOOL_REC;
}

/* ---- the file ---- */

struct db_spool {
	int fd;
	int64_t bytes;
	int records;
	struct db_spool_limits lim;
	uint8_t *buf; /* encode scratch */
	size_t buf_cap;
};

static void
seterr(char *errbuf, size_t errlen, const char *what, const char *path)
{
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "spool %s: %s: %s", path, what, strerror(errno));
}

/* A new file's name must survive a crash too: sync its directory. */
static void
sync_dir(const char *path)
{
	char *copy = strdup(path);
	int dfd;

	if (copy == NULL)
		return;
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(copy);
}

static bool
read_all(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(fd, p + got, n - got, (off_t)got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		got += (size_t)k;
	}
	return true;
}

/* Hands the good prefix of p[0..n) to fn; returns its length. */
static size_t
replay(struct db_spool *s, const uint8_t *p, size_t n, db_spool_rec_fn *fn, void *ctx)
{
	size_t off = 0, used;
	struct db_spool_rec r;

	while (off < n && db_spool_decode(p + off, n - off, &r, &used) == DB_SPOOL_REC) {
		if (fn != NULL && !fn(ctx, &r))
			break;
		off += used;
		s->records++;
	}
	return off;
}

static bool
load(struct db_spool *s, const char *path, db_spool_rec_fn *fn, void *ctx,
     struct db_spool_open_info *info, char *errbuf, size_t errlen)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t n, good;

	if (fstat(s->fd, &st) != 0) {
		seterr(errbuf, errlen, "stat", path);
		return false;
	}
	/* The whole file is read even when the limits were lowered since it was written: its
	 * records were accepted under the old ones. Past DB_SPOOL_FILE_MAX it can only be
	 * damage. */
	n = (size_t)st.st_size;
	if ((int64_t)n > DB_SPOOL_FILE_MAX)
		n = (size_t)DB_SPOOL_FILE_MAX;
	if (n > 0 && ((p = malloc(n)) == NULL || !read_all(s->fd, p, n))) {
		seterr(errbuf, errlen, p == NULL ? "no memory" : "read", path);
		free(p);
		return false;
	}
	good = n > 0 ? replay(s, p, n, fn, ctx) : 0;
	free(p);
	info->records = s->records;
	info->dropped_bytes = (int64_t)st.st_size - (int64_t)good;
	s->bytes = (int64_t)good;
	if (info->dropped_bytes > 0 && (ftruncate(s->fd, (off_t)good) != 0 || fsync(s->fd) != 0)) {
		seterr(errbuf, errlen, "cut back", path);
		return false;
	}
	return true;
}

struct db_spool *
db_spool_open(const char *path, const struct db_spool_limits *lim, db_spool_rec_fn *fn, void *ctx,
              struct db_spool_open_info *info, char *errbuf, size_t errlen)
{
	struct db_spool *s = calloc(1, sizeof(*s));
	struct db_spool_open_info dummy;

	if (info == NULL)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	if (s == NULL || path == NULL || lim == NULL || lim->max_bytes < DB_SPOOL_HDR ||
	    lim->max_records < 1) {
		errno = s == NULL ? ENOMEM : EINVAL;
		seterr(errbuf, errlen, "open", path != NULL ? path : "(none)");
		free(s);
		return NULL;
	}
	s->lim = *lim;
	s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		seterr(errbuf, errlen, "open", path);
		free(s);
		return NULL;
	}
	/* One writer per file: a second gateway with the same node_id and folder would replay
	 * and truncate the first one's records. Released when the process ends, however. */
	if (flock(s->fd, LOCK_EX | LOCK_NB) != 0) {
		seterr(errbuf, errlen, "in use by another process", path);
		db_spool_close(s);
		return NULL;
	}
	sync_dir(path);
	if (!load(s, path, fn, ctx, info, errbuf, errlen)) {
		db_spool_close(s);
		return NULL;
	}
	return s;
}

void
db_spool_close(struct db_spool *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	free(s->buf);
	free(s);
}

static bool
write_all(int fd, const uint8_t *p, size_t n, off_t at)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = pwrite(fd, p + done, n - done, at + (off_t)done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return false;
		done += (size_t)k;
	}
	return true;
}

enum db_err
db_spool_put(struct db_spool *s, const struct db_spool_rec *r)
{
	size_t need = db_spool_rec_size(r);

	if (s == NULL || need == 0)
		return DB_E_INVAL;
	if (s->records >= s->lim.max_records || s->bytes + (int64_t)need > s->lim.max_bytes)
		return DB_E_BUSY;
	if (need > s->buf_cap) {
		uint8_t *nb = realloc(s->buf, need);

		if (nb == NULL)
			return DB_E_NOMEM;
		s->buf = nb;
		s->buf_cap = need;
	}
	if (db_spool_encode(r, s->buf, s->buf_cap) != need)
		return DB_E_INVAL;
	if (!write_all(s->fd, s->buf, need, (off_t)s->bytes)) {
		/* A partial record must not stay ahead of the next one; if even the cut fails, the
		 * next start drops it as a torn record. */
		if (ftruncate(s->fd, (off_t)s->bytes) != 0)
			return DB_E_QUERY;
		return DB_E_QUERY;
	}
	s->bytes += (int64_t)need;
	s->records++;
	return DB_OK;
}

enum db_err
db_spool_put_sync(struct db_spool *s, const struct db_spool_rec *r)
{
	int64_t before = s != NULL ? s->bytes : 0;
	enum db_err rc = db_spool_put(s, r);

	if (rc != DB_OK || fdatasync(s->fd) == 0)
		return rc;
	/* Not durable: the caller refuses the item, so the record must not replay either. */
	if (ftruncate(s->fd, (off_t)before) == 0) {
		s->bytes = before;
		s->records--;
	}
	return DB_E_QUERY;
}

enum db_err
db_spool_sync(struct db_spool *s)
{
	if (s == NULL)
		return DB_E_INVAL;
	return fdatasync(s->fd) == 0 ? DB_OK : DB_E_QUERY;
}

enum db_err
db_spool_reset(struct db_spool *s)
{
	if (s == NULL)
		return DB_E_INVAL;
	if (s->bytes == 0)
		return DB_OK;
	if (ftruncate(s->fd, 0) != 0 || fsync(s->fd) != 0)
		return DB_E_QUERY;
	s->bytes = 0;
	s->records = 0;
	return DB_OK;
}

int
db_spool_records(const struct db_spool *s)
{
	return s != NULL ? s->records : 0;
}

int64_t
db_spool_bytes(const struct db_spool *s)
{
	return s != NULL ? s->bytes : 0;
}
