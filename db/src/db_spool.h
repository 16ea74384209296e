/* db_spool.h -- the local spool of transaction items (ARCHITECTURE.md section 6, "PostgreSQL
 * down"; docs/database.md "Spool"). Internal to kyso_db; the unit tests and the fuzz target
 * include it.
 *
 * One file of length-prefixed, checksummed records, appended and fsync'd while a writer lane
 * cannot commit, emptied once every spooled item has committed. At start its records are
 * replayed in file order. A record that does not verify (a torn tail after a crash, or damage)
 * ends the replay: it and everything after it are dropped, and the file is cut back to the
 * last good record before anything new is written.
 *
 * Record v1 (integers little-endian):
 *   u8 version (1) | u8 kind (1 accept, 2 event) | u16 zero | u32 body length |
 *   u32 CRC32C over the 8 bytes before it and the body | body
 *   body: u32 lane_key | i32 seq | i32 status | i32 sub | i64 at_us |
 *         7 strings (txn, state, detail, topic, payload, row, result), each u32 n then n
 *         bytes: n == 0 is absent, else n - 1 characters and a NUL, no NUL before it.
 *         result is written absent since migration 0008 (the final event's detail is the
 *         result); a record from before carries the same bytes again there and it is ignored. */
#ifndef KYSO_DB_SPOOL_H
#define KYSO_DB_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyso/db.h"

#define DB_SPOOL_VERSION  1
#define DB_SPOOL_HDR      12
#define DB_SPOOL_BODY_MAX (1024 * 1024) /* above every item's ceilings (db_int.h) */
#define DB_SPOOL_NSTR     7
#define DB_SPOOL_FILE_MAX ((int64_t)1 << 30) /* the ceiling of db.spool_max_bytes */

enum db_spool_kind {
	DB_SPOOL_ACCEPT = 1,
	DB_SPOOL_EVENT = 2,
};

/* Strings are NUL-terminated; NULL is absent. Decoded records point into the input. */
struct db_spool_rec {
	enum db_spool_kind kind;
	uint32_t lane_key;
	int32_t seq, status, sub;
	int64_t at_us;
	const char *txn, *state, *detail, *topic, *payload, *row;
	const char *legacy_result; /* decoded, never replayed: see "result" above */
};

enum db_spool_dec {
	DB_SPOOL_REC = 0, /* one good record, *used bytes */
	DB_SPOOL_SHORT,   /* fewer bytes than the record announces: a torn tail */
	DB_SPOOL_BAD,     /* version, kind, length, checksum or strings wrong */
};

/* Bytes the record needs, 0 when it breaks the format's rules (txn or state missing, a body
 * over DB_SPOOL_BODY_MAX). */
size_t db_spool_rec_size(const struct db_spool_rec *r);
/* Writes the record into out (cap >= db_spool_rec_size()); returns its size or 0. */
size_t db_spool_encode(const struct db_spool_rec *r, uint8_t *out, size_t cap);
/* Reads one record from p[0..n): bounded, never reads past n. The record's strings point into
 * p, so p must outlive *r. */
enum db_spool_dec db_spool_decode(const uint8_t *p, size_t n, struct db_spool_rec *r, size_t *used);
uint32_t db_spool_crc32c(uint32_t crc, const void *p, size_t n);

/* ---- the file ---- */
struct db_spool;

struct db_spool_limits {
	int64_t max_bytes; /* file size ceiling */
	int max_records;   /* records in the file ceiling */
};

/* Called once per good record at open, in file order. false stops the replay: that record and
 * the rest stay in the file (db_new() then fails). */
typedef bool db_spool_rec_fn(void *ctx, const struct db_spool_rec *r);

struct db_spool_open_info {
	int records;           /* good records handed to fn */
	int64_t dropped_bytes; /* bytes after the last good record, cut off */
};

/* Opens (creating it, mode 0600) and locks (flock) the spool file, replays its good records to
 * fn and cuts the file back to them. NULL on an I/O error, a file another process holds, or no
 * memory (errbuf says why). */
struct db_spool *db_spool_open(const char *path, const struct db_spool_limits *lim,
                               db_spool_rec_fn *fn, void *ctx, struct db_spool_open_info *info,
                               char *errbuf, size_t errlen);
void db_spool_close(struct db_spool *s);
/* Appends one record (not yet durable). DB_E_BUSY when it would pass a limit, DB_E_INVAL for a
 * record the format refuses, DB_E_QUERY on an I/O error (the file is cut back to its previous
 * size). */
enum db_err db_spool_put(struct db_spool *s, const struct db_spool_rec *r) DB_MUSTCHECK;
/* db_spool_put(), then fdatasync. A failed sync takes the record out again: DB_E_QUERY. */
enum db_err db_spool_put_sync(struct db_spool *s, const struct db_spool_rec *r) DB_MUSTCHECK;
/* fdatasync: every record put so far is durable. DB_E_QUERY on an I/O error. */
enum db_err db_spool_sync(struct db_spool *s) DB_MUSTCHECK;
/* Empties the file (every record in it has committed) and syncs. */
enum db_err db_spool_reset(struct db_spool *s) DB_MUSTCHECK;
int db_spool_records(const struct db_spool *s);
int64_t db_spool_bytes(const struct db_spool *s);

#endif
