/* spool.c — segment files of checksummed records; see spool.h. */
#include "otel/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/log.h"
#include "core/mem.h"

#define COMP "spool"
static const uint8_t MAGIC[4] = {'E', 'X', 'S', '1'};

/* ---- pure ------------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t exo_spool_record_size(size_t name_len, size_t payload_len) { return EXO_SPOOL_HDR + name_len + payload_len; }

/* CRC-32 of header bytes 8..19, then of the body pieces. */
static uint32_t record_crc(const uint8_t *hdr, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, hdr + 8, EXO_SPOOL_HDR - 8);
    if (alen) c = crc32(c, a, (uInt)alen);
    if (blen) c = crc32(c, b, (uInt)blen);
    return (uint32_t)c;
}

void exo_spool_encode_header(uint8_t *hdr, const char *name, size_t name_len, const uint8_t *payload,
                             size_t payload_len, uint32_t nspans)
{
    memcpy(hdr, MAGIC, 4);
    put32(hdr + 8, (uint32_t)(name_len + payload_len));
    put32(hdr + 12, nspans);
    hdr[16] = (uint8_t)name_len;
    hdr[17] = (uint8_t)(name_len >> 8);
    hdr[18] = hdr[19] = 0;
    put32(hdr + 4, record_crc(hdr, (const uint8_t *)name, name_len, payload, payload_len));
}

exo_spool_rec_status exo_spool_decode(const uint8_t *buf, size_t avail, exo_spool_rec *out)
{
    memset(out, 0, sizeof *out);
    if (avail < EXO_SPOOL_HDR) return avail && memcmp(buf, MAGIC, avail < 4 ? avail : 4) ? EXO_SPOOL_REC_CORRUPT
                                                                                       : EXO_SPOOL_REC_TRUNCATED;
    if (memcmp(buf, MAGIC, 4) != 0) return EXO_SPOOL_REC_CORRUPT;
    uint32_t body = get32(buf + 8);
    size_t name_len = (size_t)buf[16] | (size_t)buf[17] << 8;
    if (body > EXO_SPOOL_MAX_BODY || name_len > EXO_SPOOL_MAX_NAME || name_len > body || buf[18] || buf[19])
        return EXO_SPOOL_REC_CORRUPT;
    size_t size = EXO_SPOOL_HDR + body;
    if (avail < size) return EXO_SPOOL_REC_TRUNCATED;
    out->size = size;
    const uint8_t *b = buf + EXO_SPOOL_HDR;
    if (record_crc(buf, b, body, NULL, 0) != get32(buf + 4)) return EXO_SPOOL_REC_CORRUPT;
    out->name = (const char *)b;
    out->name_len = name_len;
    out->payload = b + name_len;
    out->payload_len = body - name_len;
    out->nspans = get32(buf + 12);
    return EXO_SPOOL_REC_OK;
}

int exo_spool_should_rotate(uint64_t seg_bytes, uint64_t rec_bytes, uint64_t seg_max)
{
    return seg_bytes > 0 && seg_bytes + rec_bytes > seg_max;
}

int exo_spool_fits(uint64_t total_bytes, uint64_t rec_bytes, uint64_t max_bytes)
{
    return rec_bytes <= max_bytes && total_bytes <= max_bytes - rec_bytes;
}

/* ---- the spool ------------------------------------------------------------- */

/* One waiting record. */
typedef struct spool_entry {
    uint64_t seg;    /* segment number */
    uint64_t off;    /* offset of the record in it */
    uint32_t size;   /* bytes of the record */
    uint32_t nspans; /* spans in its payload */
    char *name;      /* exporter name, owned */
    void *tag;       /* the caller's */
} spool_entry;

/* One segment file still on disk. */
typedef struct spool_seg {
    uint64_t id;    /* number in the file name */
    uint64_t bytes; /* file size */
    size_t live;    /* records in it still waiting */
} spool_seg;

struct exo_spool {
    char *dir;               /* owned */
    uint64_t max_bytes;      /* bound on the sum of segment sizes */
    uint64_t seg_max;        /* segment size that triggers rotation */
    spool_entry *ents;       /* owned array; waiting records are [head, nents) */
    size_t head, nents, cap; /* first waiting, end, allocated */
    spool_seg *segs;         /* owned array, oldest first */
    size_t nsegs, segcap;    /* in use, allocated */
    int wfd;                 /* open segment being appended to (the last one), or -1 */
    uint64_t next_id;        /* number of the next new segment */
    exo_spool_stats st;      /* counters (bytes, records, spans kept in step) */
};

static void seg_path(const exo_spool *s, uint64_t id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/seg-%020" PRIu64 ".exs", s->dir, id);
}

static spool_seg *find_seg(exo_spool *s, uint64_t id)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].id == id) return &s->segs[i];
    return NULL;
}

static int add_seg(exo_spool *s, uint64_t id, uint64_t bytes)
{
    if (s->nsegs == s->segcap) {
        size_t cap = s->segcap ? s->segcap * 2 : 8;
        spool_seg *n = ex_realloc(s->segs, cap * sizeof *n);
        if (!n) return -1;
        s->segs = n;
        s->segcap = cap;
    }
    s->segs[s->nsegs++] = (spool_seg){id, bytes, 0};
    s->st.bytes += bytes;
    return 0;
}

/* Delete segment i from disk and from the list. */
static void drop_seg(exo_spool *s, size_t i)
{
    char path[4096];
    seg_path(s, s->segs[i].id, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT) ex_warn(COMP, "%s: cannot delete: %s", path, strerror(errno));
    if (i == s->nsegs - 1 && s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
    }
    s->st.bytes -= s->segs[i].bytes;
    memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof *s->segs);
    s->nsegs--;
}

static int add_entry(exo_spool *s, uint64_t seg, uint64_t off, uint32_t size, uint32_t nspans, const char *name,
                     size_t name_len, void *tag)
{
    if (s->head > 0 && s->head == s->nents) s->head = s->nents = 0;
    if (s->nents == s->cap) {
        if (s->head > 0) { /* reuse the consumed front first */
            memmove(s->ents, s->ents + s->head, (s->nents - s->head) * sizeof *s->ents);
            s->nents -= s->head;
            s->head = 0;
        } else {
            size_t cap = s->cap ? s->cap * 2 : 64;
            spool_entry *n = ex_realloc(s->ents, cap * sizeof *n);
            if (!n) return -1;
            s->ents = n;
            s->cap = cap;
        }
    }
    char *nm = ex_malloc(name_len + 1);
    if (!nm) return -1;
    memcpy(nm, name, name_len);
    nm[name_len] = '\0';
    s->ents[s->nents++] = (spool_entry){seg, off, size, nspans, nm, tag};
    find_seg(s, seg)->live++;
    s->st.records++;
    s->st.spans += nspans;
    return 0;
}

/* Read a whole file into memory. 0 or -1 (errno-style message in err). */
static int slurp(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    int rc = -1;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) goto out;
    buf = ex_malloc((size_t)sb.st_size + 1);
    if (!buf) goto out;
    size_t got = 0;
    while (got < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) goto out;
        got += (size_t)r;
    }
    *out = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    if (rc != 0) snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : EIO));
    ex_free(buf);
    if (fd >= 0) close(fd);
    return rc;
}

/* Index the valid records of one existing segment. */
static int scan_seg(exo_spool *s, uint64_t id)
{
    char path[4096], why[4400];
    uint8_t *buf = NULL;
    size_t len = 0;
    seg_path(s, id, path, sizeof path);
    if (slurp(path, &buf, &len, why, sizeof why) != 0) {
        ex_warn(COMP, "cannot read spool segment %s; skipped", why);
        s->st.corrupt_records++;
        return 0;
    }
    if (add_seg(s, id, len) != 0) {
        ex_free(buf);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        exo_spool_rec r;
        exo_spool_rec_status st = exo_spool_decode(buf + off, len - off, &r);
        if (st == EXO_SPOOL_REC_OK) {
            if (add_entry(s, id, off, (uint32_t)r.size, r.nspans, r.name, r.name_len, NULL) != 0) {
                ex_free(buf);
                return -1;
            }
            off += r.size;
            continue;
        }
        s->st.corrupt_records++;
        if (st == EXO_SPOOL_REC_CORRUPT && r.size > 0) {
            ex_warn(COMP, "%s: record at offset %zu fails its checksum; skipped", path, off);
            off += r.size;
            continue;
        }
        ex_warn(COMP, "%s: %s record at offset %zu (%zu bytes left); the rest of the segment is skipped", path,
                st == EXO_SPOOL_REC_TRUNCATED ? "truncated" : "unreadable", off, len - off);
        break;
    }
    ex_free(buf);
    spool_seg *sg = find_seg(s, id);
    if (sg->live == 0) drop_seg(s, (size_t)(sg - s->segs));
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Segment numbers found in the directory, sorted. */
static int list_segs(const char *dir, uint64_t **ids, size_t *n, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "spool directory %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        /* Exactly "seg-" + 20 digits + ".exs": anything else is not ours. */
        const char *nm = de->d_name;
        if (strlen(nm) != 28 || strncmp(nm, "seg-", 4) != 0 || strcmp(nm + 24, ".exs") != 0 ||
            strspn(nm + 4, "0123456789") != 20)
            continue;
        uint64_t id = strtoull(nm + 4, NULL, 10);
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *g = ex_realloc(*ids, cap * sizeof *g);
            if (!g) {
                closedir(d);
                snprintf(err, errlen, "out of memory listing %s", dir);
                return -1;
            }
            *ids = g;
        }
        (*ids)[(*n)++] = id;
    }
    closedir(d);
    if (*n) qsort(*ids, *n, sizeof **ids, cmp_u64);
    return 0;
}

exo_spool *exo_spool_open(const char *dir, uint64_t max_bytes, uint64_t seg_bytes, char *err, size_t errlen)
{
    exo_spool *s = ex_calloc(1, sizeof *s);
    uint64_t *ids = NULL;
    size_t n = 0;
    if (!s || !(s->dir = ex_strdup(dir))) {
        snprintf(err, errlen, "out of memory opening the spool in %s", dir);
        goto fail;
    }
    s->wfd = -1;
    s->max_bytes = max_bytes;
    s->seg_max = seg_bytes ? seg_bytes : 1;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "spool directory %s: cannot create: %s", dir, strerror(errno));
        goto fail;
    }
    if (list_segs(dir, &ids, &n, err, errlen) != 0) goto fail;
    for (size_t i = 0; i < n; i++) {
        if (scan_seg(s, ids[i]) != 0) {
            snprintf(err, errlen, "out of memory reading the spool in %s", dir);
            goto fail;
        }
    }
    s->next_id = n ? ids[n - 1] + 1 : 1;
    ex_free(ids);
    if (s->st.records)
        ex_info(COMP, "%s: %" PRIu64 " records (%" PRIu64 " spans, %" PRIu64 " bytes) waiting from before", dir,
                s->st.records, s->st.spans, s->st.bytes);
    return s;
fail:
    ex_free(ids);
    exo_spool_close(s);
    return NULL;
}

/* Write all of buf at the end of the open segment. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Make sure a segment is open that can take rec bytes. */
static int open_for(exo_spool *s, uint64_t rec, char *err, size_t errlen)
{
    spool_seg *last = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;
    if (s->wfd >= 0 && !exo_spool_should_rotate(last->bytes, rec, s->seg_max)) return 0;
    if (s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
    }
    char path[4096];
    uint64_t id = s->next_id;
    seg_path(s, id, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || add_seg(s, id, 0) != 0) {
        snprintf(err, errlen, "%s: cannot create: %s", path, fd < 0 ? strerror(errno) : "out of memory");
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        return -1;
    }
    s->next_id++;
    s->wfd = fd;
    return 0;
}

int exo_spool_append(exo_spool *s, const char *name, const uint8_t *payload, size_t len, uint32_t nspans,
                     void *tag, char *err, size_t errlen)
{
    size_t name_len = strlen(name);
    if (name_len > EXO_SPOOL_MAX_NAME || len > EXO_SPOOL_MAX_BODY - name_len) {
        snprintf(err, errlen, "record of %zu bytes is larger than a spool record can be", len);
        return -2;
    }
    uint64_t rec = exo_spool_record_size(name_len, len);
    if (!exo_spool_fits(s->st.bytes, rec, s->max_bytes)) {
        s->st.refused_full++;
        return -1;
    }
    if (open_for(s, rec, err, errlen) != 0) return -2;
    spool_seg *sg = &s->segs[s->nsegs - 1];
    uint8_t hdr[EXO_SPOOL_HDR];
    exo_spool_encode_header(hdr, name, name_len, payload, len, nspans);
    if (write_all(s->wfd, hdr, sizeof hdr) != 0 || write_all(s->wfd, (const uint8_t *)name, name_len) != 0 ||
        write_all(s->wfd, payload, len) != 0) {
        snprintf(err, errlen, "spool segment %" PRIu64 " in %s: write failed: %s", sg->id, s->dir, strerror(errno));
        /* A partial record would hide the ones after it: start a new segment. */
        struct stat sb;
        if (fstat(s->wfd, &sb) == 0) {
            s->st.bytes += (uint64_t)sb.st_size - sg->bytes;
            sg->bytes = (uint64_t)sb.st_size;
        }
        close(s->wfd);
        s->wfd = -1;
        if (sg->live == 0) drop_seg(s, s->nsegs - 1);
        return -2;
    }
    uint64_t off = sg->bytes;
    sg->bytes += rec;
    s->st.bytes += rec;
    if (add_entry(s, sg->id, off, (uint32_t)rec, nspans, name, name_len, tag) != 0) {
        snprintf(err, errlen, "out of memory indexing a spool record");
        return -2; /* written but not indexed: sent again after a restart */
    }
    return 0;
}

size_t exo_spool_count(const exo_spool *s) { return s->nents - s->head; }

void **exo_spool_tag(exo_spool *s, size_t i) { return &s->ents[s->head + i].tag; }

const char *exo_spool_name(const exo_spool *s, size_t i) { return s->ents[s->head + i].name; }

int exo_spool_head(const exo_spool *s, const char **name, uint32_t *nspans, void **tag)
{
    if (s->head == s->nents) return -1;
    const spool_entry *e = &s->ents[s->head];
    *name = e->name;
    *nspans = e->nspans;
    *tag = e->tag;
    return 0;
}

int exo_spool_read_head(exo_spool *s, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    if (s->head == s->nents) return -1;
    const spool_entry *e = &s->ents[s->head];
    char path[4096];
    seg_path(s, e->seg, path, sizeof path);
    uint8_t *buf = ex_malloc(e->size);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = (buf && fd >= 0) ? pread(fd, buf, e->size, (off_t)e->off) : -1;
    if (fd >= 0) close(fd);
    exo_spool_rec r;
    if (got != (ssize_t)e->size || exo_spool_decode(buf, e->size, &r) != EXO_SPOOL_REC_OK) {
        snprintf(err, errlen, "%s: record at offset %" PRIu64 " %s", path, e->off,
                 got < 0 ? strerror(errno) : "no longer matches its checksum");
        ex_free(buf);
        return -2;
    }
    memmove(buf, r.payload, r.payload_len);
    *out = buf;
    *len = r.payload_len;
    return 0;
}

void exo_spool_pop(exo_spool *s)
{
    if (s->head == s->nents) return;
    spool_entry *e = &s->ents[s->head++];
    spool_seg *sg = find_seg(s, e->seg);
    s->st.records--;
    s->st.spans -= e->nspans;
    ex_free(e->name);
    if (sg && --sg->live == 0) drop_seg(s, (size_t)(sg - s->segs));
}

void exo_spool_count_corrupt(exo_spool *s) { s->st.corrupt_records++; }

void exo_spool_get_stats(const exo_spool *s, exo_spool_stats *out) { *out = s->st; }

void exo_spool_close(exo_spool *s)
{
    if (!s) return;
    for (size_t i = s->head; i < s->nents; i++) ex_free(s->ents[i].name);
    if (s->wfd >= 0) close(s->wfd);
    ex_free(s->ents);
    ex_free(s->segs);
    ex_free(s->dir);
    ex_free(s);
}
