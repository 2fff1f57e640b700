/* The spool: record encoding and decoding (checksum, truncation, bad
 * headers), rotation and size decisions, then the segment files in a
 * temporary directory: append, read back in order, bound, rotation,
 * deletion of consumed segments, reopen after a restart, a record cut
 * short by a crash and a flipped byte. And the batch queue's holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "otel/batch.h"
#include "otel/spool.h"

static void encode_record(const char *name, const char *payload, uint32_t nspans, uint8_t *out, size_t *len)
{
    size_t nl = strlen(name), pl = strlen(payload);
    exo_spool_encode_header(out, name, nl, (const uint8_t *)payload, pl, nspans);
    memcpy(out + EXO_SPOOL_HDR, name, nl);
    memcpy(out + EXO_SPOOL_HDR + nl, payload, pl);
    *len = exo_spool_record_size(nl, pl);
}

static void test_record_roundtrip(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len;
    encode_record("otlp/grpc", "payload-bytes", 7, buf, &len);
    assert_int_equal(len, EXO_SPOOL_HDR + 9 + 13);
    assert_memory_equal(buf, "EXS1", 4);
    exo_spool_rec r;
    assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_OK);
    assert_int_equal(r.size, len);
    assert_int_equal(r.name_len, 9);
    assert_memory_equal(r.name, "otlp/grpc", 9);
    assert_int_equal(r.payload_len, 13);
    assert_memory_equal(r.payload, "payload-bytes", 13);
    assert_int_equal(r.nspans, 7);
    /* Every shorter prefix is truncated, never OK. */
    for (size_t cut = 0; cut < len; cut++) assert_int_equal(exo_spool_decode(buf, cut, &r), EXO_SPOOL_REC_TRUNCATED);
}

static void test_record_corruption(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t len;
    encode_record("console", "abcdef", 2, buf, &len);
    exo_spool_rec r;
    /* A flipped bit anywhere the checksum covers is caught, and the record
     * can still be skipped by its length. */
    for (size_t i = 8; i < len; i++) {
        if (i >= 8 && i < 12) continue; /* the length itself: checked below */
        if (i == 16 || i == 17 || i == 18 || i == 19) continue;
        buf[i] ^= 0x10;
        assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_CORRUPT);
        assert_int_equal(r.size, len);
        buf[i] ^= 0x10;
    }
    buf[4] ^= 1; /* the stored checksum */
    assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_CORRUPT);
    buf[4] ^= 1;
    buf[0] = 'X'; /* magic */
    assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_CORRUPT);
    assert_int_equal(r.size, 0);
    buf[0] = 'E';
    buf[18] = 1; /* reserved must be 0 */
    assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_CORRUPT);
    buf[18] = 0;
    buf[11] = 0x7f; /* absurd length */
    assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_CORRUPT);
    buf[11] = 0;
    buf[16] = 200; /* name longer than the body */
    assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_CORRUPT);
    buf[16] = 7;
    assert_int_equal(exo_spool_decode(buf, len, &r), EXO_SPOOL_REC_OK);
    /* Garbage shorter than a header is corrupt, not a truncated record. */
    assert_int_equal(exo_spool_decode((const uint8_t *)"zz", 2, &r), EXO_SPOOL_REC_CORRUPT);
    assert_int_equal(exo_spool_decode((const uint8_t *)"EXS", 3, &r), EXO_SPOOL_REC_TRUNCATED);
}

static void test_size_decisions(void **state)
{
    (void)state;
    assert_false(exo_spool_should_rotate(0, 5000, 1000)); /* an empty segment takes any record */
    assert_false(exo_spool_should_rotate(500, 500, 1000));
    assert_true(exo_spool_should_rotate(500, 501, 1000));
    assert_true(exo_spool_fits(0, 1000, 1000));
    assert_false(exo_spool_fits(1, 1000, 1000));
    assert_false(exo_spool_fits(0, 1001, 1000));
    assert_true(exo_spool_fits(900, 100, 1000));
    assert_false(exo_spool_fits(UINT64_MAX - 1, 10, UINT64_MAX - 5)); /* no overflow */
}

/* ---- files ---------------------------------------------------------------- */

static char *make_dir(void)
{
    char *d = strdup("/tmp/extrace-spool-XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static void remove_dir(char *d)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    char path[512];
    while (dd && (de = readdir(dd))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", d, de->d_name);
        unlink(path);
    }
    if (dd) closedir(dd);
    rmdir(d);
    free(d);
}

static int count_segments(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    int n = 0;
    while (dd && (de = readdir(dd)))
        if (strncmp(de->d_name, "seg-", 4) == 0) n++;
    if (dd) closedir(dd);
    return n;
}

static void append(exo_spool *s, const char *payload, uint32_t nspans, void *tag, int expect)
{
    char err[256] = "";
    assert_int_equal(exo_spool_append(s, "otlp/http", (const uint8_t *)payload, strlen(payload), nspans, tag, err,
                                      sizeof err),
                     expect);
}

static void expect_head(exo_spool *s, const char *payload, uint32_t nspans)
{
    const char *name;
    uint32_t n;
    void *tag;
    assert_int_equal(exo_spool_head(s, &name, &n, &tag), 0);
    assert_string_equal(name, "otlp/http");
    assert_int_equal(n, nspans);
    uint8_t *buf;
    size_t len;
    char err[256];
    assert_int_equal(exo_spool_read_head(s, &buf, &len, err, sizeof err), 0);
    assert_int_equal(len, strlen(payload));
    assert_memory_equal(buf, payload, len);
    ex_free(buf);
}

static void test_files_order_rotation_bound(void **state)
{
    (void)state;
    char *d = make_dir();
    char err[256];
    /* Records of 20 + 9 + 10 = 39 bytes; segments of 100 bytes hold 2. */
    exo_spool *s = exo_spool_open(d, 200, 100, err, sizeof err);
    assert_non_null(s);
    int tags[6];
    append(s, "record-000", 1, &tags[0], 0);
    append(s, "record-001", 2, &tags[1], 0);
    append(s, "record-002", 3, &tags[2], 0);
    append(s, "record-003", 4, &tags[3], 0);
    assert_int_equal(count_segments(d), 2);
    exo_spool_stats st;
    exo_spool_get_stats(s, &st);
    assert_int_equal(st.bytes, 4 * 39);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.spans, 10);
    append(s, "record-004", 5, &tags[4], 0); /* 5 * 39 = 195 fits … */
    exo_spool_get_stats(s, &st);
    assert_int_equal(st.records, 5);
    append(s, "record-005", 6, &tags[5], -1); /* … 234 does not */
    exo_spool_get_stats(s, &st);
    assert_int_equal(st.refused_full, 1);
    assert_int_equal(st.records, 5);
    assert_int_equal(exo_spool_count(s), 5);
    assert_ptr_equal(*exo_spool_tag(s, 2), &tags[2]);
    for (int i = 0; i < 5; i++) {
        char want[16];
        snprintf(want, sizeof want, "record-%03d", i);
        expect_head(s, want, (uint32_t)i + 1);
        exo_spool_pop(s);
        if (i == 1) assert_int_equal(count_segments(d), 2); /* the first segment is gone */
    }
    assert_int_equal(count_segments(d), 0);
    exo_spool_get_stats(s, &st);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.records, 0);
    const char *name;
    uint32_t n;
    void *tag;
    assert_int_equal(exo_spool_head(s, &name, &n, &tag), -1);
    exo_spool_close(s);
    remove_dir(d);
}

/* Cut the last `cut` bytes off the newest segment, or flip one byte at `flip`
 * of the oldest. */
static void damage(const char *d, int newest, long cut, long flip)
{
    DIR *dd = opendir(d);
    struct dirent *de;
    char pick[256] = "";
    while ((de = readdir(dd)))
        if (strncmp(de->d_name, "seg-", 4) == 0 &&
            (!pick[0] || (newest ? strcmp(de->d_name, pick) > 0 : strcmp(de->d_name, pick) < 0)))
            snprintf(pick, sizeof pick, "%s", de->d_name);
    closedir(dd);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", d, pick);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    if (cut) assert_int_equal(truncate(path, sb.st_size - cut), 0);
    if (flip >= 0) {
        int fd = open(path, O_RDWR);
        uint8_t c;
        assert_int_equal(pread(fd, &c, 1, flip), 1);
        c ^= 0x40;
        assert_int_equal(pwrite(fd, &c, 1, flip), 1);
        close(fd);
    }
}

static void test_reopen_skips_damage(void **state)
{
    (void)state;
    char *d = make_dir();
    char err[256];
    exo_spool *s = exo_spool_open(d, 10000, 100, err, sizeof err);
    assert_non_null(s);
    for (int i = 0; i < 6; i++) {
        char p[16];
        snprintf(p, sizeof p, "record-%03d", i);
        append(s, p, (uint32_t)i + 1, NULL, 0);
    }
    exo_spool_close(s); /* three segments of two records stay on disk */
    assert_int_equal(count_segments(d), 3);
    damage(d, 1, 5, -1);                  /* record 5 cut short, as by a crash */
    damage(d, 0, 0, 39 + EXO_SPOOL_HDR + 3); /* a payload byte of record 1 flipped */
    s = exo_spool_open(d, 10000, 100, err, sizeof err);
    assert_non_null(s);
    exo_spool_stats st;
    exo_spool_get_stats(s, &st);
    assert_int_equal(st.records, 4);
    assert_int_equal(st.corrupt_records, 2);
    int want[] = {0, 2, 3, 4};
    for (int i = 0; i < 4; i++) {
        char p[16];
        snprintf(p, sizeof p, "record-%03d", want[i]);
        expect_head(s, p, (uint32_t)want[i] + 1);
        void *tag;
        const char *name;
        uint32_t n;
        exo_spool_head(s, &name, &n, &tag);
        assert_null(tag); /* nobody waits for records from before */
        exo_spool_pop(s);
    }
    /* New records go to a new segment, after the old ones. */
    append(s, "record-new", 9, NULL, 0);
    expect_head(s, "record-new", 9);
    exo_spool_pop(s);
    exo_spool_close(s);
    assert_int_equal(count_segments(d), 0);
    remove_dir(d);
}

static void test_foreign_files_ignored(void **state)
{
    (void)state;
    char *d = make_dir();
    char err[256], path[512];
    const char *names[] = {"seg-00000000000000000001.exs.tmp", "seg-1.exs", "notes.txt",
                           "seg-0000000000000000000x.exs"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("not a record", f);
        fclose(f);
    }
    exo_spool *s = exo_spool_open(d, 10000, 100, err, sizeof err);
    assert_non_null(s);
    exo_spool_stats st;
    exo_spool_get_stats(s, &st);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.corrupt_records, 0);
    assert_int_equal(st.bytes, 0);
    exo_spool_close(s);
    for (size_t i = 0; i < 4; i++) { /* left alone */
        snprintf(path, sizeof path, "%s/%s", d, names[i]);
        assert_int_equal(access(path, F_OK), 0);
    }
    remove_dir(d);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(exo_spool_open("/proc/no-such-dir/spool", 1000, 100, err, sizeof err));
    assert_non_null(strstr(err, "/proc/no-such-dir/spool"));
}

/* ---- holds in the batch queue ---------------------------------------------- */

typedef struct outcome {
    int calls, delivered;
} outcome;

static void record_cb(void *arg, int delivered)
{
    outcome *o = arg;
    o->calls++;
    o->delivered = delivered;
}

static int drain(exo_batch_queue *q)
{
    exo_bq_done_cb cb;
    void *arg;
    int delivered, n = 0;
    while (exo_bq_next_due(q, &cb, &arg, &delivered)) {
        if (cb) cb(arg, delivered);
        n++;
    }
    return n;
}

static void submit(exo_batch_queue *q, size_t n, outcome *o)
{
    exo_span *spans[8];
    for (size_t i = 0; i < n; i++) spans[i] = exo_span_new("s", 0);
    exo_bq_submit(q, spans, n, record_cb, o);
}

static void test_holds(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 100, 1);
    outcome a = {0}, b = {0}, c = {0};
    submit(&q, 3, &a);
    submit(&q, 2, &b);
    submit(&q, 2, &c);
    exo_batch *b1 = exo_bq_take(&q, 4); /* a's 3 spans + one of b */
    int released;
    exo_bq_hold *h1 = exo_bq_batch_hold(&q, b1, &released);
    assert_non_null(h1);
    assert_true(released);
    assert_int_equal(q.held, 4);
    assert_int_equal(q.in_batches, 0);
    assert_int_equal(drain(&q), 0); /* nobody is done while held */
    exo_batch *b2 = exo_bq_take(&q, 4);
    exo_bq_hold *h2 = exo_bq_batch_hold(&q, b2, &released);
    exo_bq_hold_done(&q, h1, 1, 0, 0);
    assert_int_equal(drain(&q), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.delivered, 1);
    assert_int_equal(b.calls, 0);
    exo_bq_hold_done(&q, h2, 0, 0, 0); /* dropped: b and c fail */
    assert_int_equal(drain(&q), 2);
    assert_int_equal(b.delivered, 0);
    assert_int_equal(c.delivered, 0);
    assert_int_equal(q.exported, 4);
    assert_int_equal(q.dropped, 3);
    assert_int_equal(q.held, 0);
    /* Abandon: the submission fails, nothing is counted. */
    outcome d = {0};
    submit(&q, 2, &d);
    exo_bq_hold *h3 = exo_bq_batch_hold(&q, exo_bq_take(&q, 10), &released);
    exo_bq_hold_done(&q, h3, 0, 0, 1);
    assert_int_equal(drain(&q), 1);
    assert_int_equal(d.delivered, 0);
    assert_int_equal(q.exported, 4);
    assert_int_equal(q.dropped, 3);
    exo_bq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_roundtrip),   cmocka_unit_test(test_record_corruption),
        cmocka_unit_test(test_size_decisions),     cmocka_unit_test(test_files_order_rotation_bound),
        cmocka_unit_test(test_reopen_skips_damage), cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_foreign_files_ignored),
        cmocka_unit_test(test_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
