/* spool.h — a bounded on-disk FIFO of encoded export payloads.
 *
 * When an OTLP backend stays unreachable beyond the export timeout, the
 * pipeline writes the batch's encoded payload here instead of dropping
 * it, and sends the records back out, oldest first, once the backend
 * answers again. Records live in append-only segment files
 * `<dir>/seg-<20-digit number>.exs`; each record is
 *
 *   offset size
 *   0      4    magic "EXS1"
 *   4      4    CRC-32 (zlib) of bytes 8..19 and of the body
 *   8      4    body length (name + payload), little-endian
 *   12     4    spans in the payload
 *   16     2    exporter name length
 *   18     2    reserved, 0
 *   20     …    exporter name, then the payload bytes
 *
 * A segment is closed when the next record would make it exceed the
 * segment size, and deleted once every record in it has been consumed.
 * The spool's size is the sum of its segment files; a record that would
 * take it above max_bytes is refused (the caller drops and counts it).
 * On open, existing segments are read in order; a record whose checksum
 * does not match, or that was cut short (crash mid-write), is skipped
 * with a warning and counted. Writes go to the file system with write(2)
 * on the loop thread (no fsync: a process crash loses nothing written,
 * a power loss may).
 *
 * The record codec and the size decisions are pure and unit-tested. */
#ifndef EXTRACE_OTEL_SPOOL_H
#define EXTRACE_OTEL_SPOOL_H
#include <stddef.h>
#include <stdint.h>

#define EXO_SPOOL_HDR 20u            /* bytes of a record header */
#define EXO_SPOOL_MAX_NAME 255u      /* longest exporter name */
#define EXO_SPOOL_MAX_BODY (256u << 20) /* larger body lengths mark a corrupt header */

/* ---- pure: records and size decisions ----------------------------------- */

/* Bytes a record takes on disk. */
size_t exo_spool_record_size(size_t name_len, size_t payload_len);

/* Write the header of a record for (name, payload, nspans) into hdr
 * (EXO_SPOOL_HDR bytes), checksum included. name_len <= EXO_SPOOL_MAX_NAME. */
void exo_spool_encode_header(uint8_t *hdr, const char *name, size_t name_len, const uint8_t *payload,
                             size_t payload_len, uint32_t nspans);

/* What exo_spool_decode found at the start of a buffer. */
typedef enum {
    EXO_SPOOL_REC_OK,        /* a whole, valid record */
    EXO_SPOOL_REC_TRUNCATED, /* the buffer ends inside the record */
    EXO_SPOOL_REC_CORRUPT,   /* bad magic, bad length or checksum mismatch */
} exo_spool_rec_status;

/* A decoded record; pointers into the caller's buffer. */
typedef struct exo_spool_rec {
    const char *name;       /* exporter name (not NUL-terminated) */
    size_t name_len;        /* its length */
    const uint8_t *payload; /* the encoded batch */
    size_t payload_len;     /* its length */
    uint32_t nspans;        /* spans in the payload */
    size_t size;            /* bytes of the whole record; for CORRUPT with a sane length, how far to skip; else 0 */
} exo_spool_rec;

/* Decode the record at buf[0..avail). */
exo_spool_rec_status exo_spool_decode(const uint8_t *buf, size_t avail, exo_spool_rec *out);

/* 1 if a record of rec_bytes must start a new segment: the current one
 * (seg_bytes long) is not empty and would exceed seg_max with it. */
int exo_spool_should_rotate(uint64_t seg_bytes, uint64_t rec_bytes, uint64_t seg_max);

/* 1 if a record of rec_bytes fits in a spool of total_bytes bounded by max_bytes. */
int exo_spool_fits(uint64_t total_bytes, uint64_t rec_bytes, uint64_t max_bytes);

/* ---- the spool ------------------------------------------------------------ */

typedef struct exo_spool exo_spool;

/* Counters of a spool. */
typedef struct exo_spool_stats {
    uint64_t bytes;           /* size of the segment files now */
    uint64_t records;         /* records waiting */
    uint64_t spans;           /* spans in the waiting records */
    uint64_t corrupt_records; /* records skipped: bad checksum, cut short, unreadable */
    uint64_t refused_full;    /* appends refused because the spool was full */
} exo_spool_stats;

/* Open (creating it if needed) the spool in `dir`, bounded by max_bytes,
 * with segments of at most seg_bytes (a single larger record still gets
 * a segment of its own). Existing segments are scanned: their valid
 * records wait in order, with a NULL tag. NULL with err set (naming the
 * directory) on failure. */
exo_spool *exo_spool_open(const char *dir, uint64_t max_bytes, uint64_t seg_bytes, char *err, size_t errlen);

/* Append a record; `tag` is the caller's and comes back with the record.
 * 0; -1 when it does not fit (nothing written, counted in refused_full);
 * -2 on an I/O error (err set). */
int exo_spool_append(exo_spool *s, const char *name, const uint8_t *payload, size_t len, uint32_t nspans,
                     void *tag, char *err, size_t errlen);

/* Records waiting. */
size_t exo_spool_count(const exo_spool *s);

/* The tag of the i-th waiting record (0 = oldest), as a settable slot. */
void **exo_spool_tag(exo_spool *s, size_t i);

/* The exporter name of the i-th waiting record (owned by the spool). */
const char *exo_spool_name(const exo_spool *s, size_t i);

/* The oldest record: its exporter name (NUL-terminated, owned by the
 * spool), span count and tag. 0, or -1 when the spool is empty. */
int exo_spool_head(const exo_spool *s, const char **name, uint32_t *nspans, void **tag);

/* Read the oldest record's payload into a new buffer (*out, ex_free by
 * the caller). 0; -1 when the spool is empty; -2 when the record can no
 * longer be read or its checksum fails (err set: skip it with
 * exo_spool_pop, counted in corrupt_records). */
int exo_spool_read_head(exo_spool *s, uint8_t **out, size_t *len, char *err, size_t errlen);

/* Forget the oldest record; delete its segment once nothing in it waits. */
void exo_spool_pop(exo_spool *s);

/* Count a record skipped after exo_spool_read_head failed. */
void exo_spool_count_corrupt(exo_spool *s);

/* The spool's counters now. */
void exo_spool_get_stats(const exo_spool *s, exo_spool_stats *out);

/* Close the files and free the spool; the segments stay on disk for the
 * next open. NULL is ignored. */
void exo_spool_close(exo_spool *s);

#endif
