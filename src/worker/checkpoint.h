/* checkpoint.h — a monitor as bytes, and those bytes in Redis.
 *
 * The pure half turns an mdl_monitor into a compact, versioned binary blob
 * and back, so a worker that claims a workflow from a dead one resumes
 * its monitor exactly where it was: same times, same states seen, same
 * events (none repeated, none missing), same counters, same attributes.
 *
 * Blob layout of format 4 (all integers little-endian):
 *   "XTCK" u8 format-version(=4)
 *   str key   i64 submitted created timeout last_sent
 *   u32 version polls poll_errors
 *   u16 max_nodes max_events events_dropped nodes_dropped nnodes
 *   u8 nwords, str × nwords (the monitor's own state words)
 *   node (the root), node × nnodes
 *   u8 queued-delivered
 *   tagged sections, each u8 tag + its bytes, none or once each:
 *     'L' (0x4C): the submitter's span (mdl_monitor.link): 16-byte trace
 *                 id, 8-byte span id, u8 trace flags
 *   u32 FNV-1a of every byte before it
 * where str = u16 length + bytes, and
 *   node = i64 start end  u32 parent  u8 last_word end end_known has_error delivered
 *          u16 length + the string block  u32 length + the attribute blob
 *          u16 nevents, per event: i64 time before after  u8 word source
 * where delivered (0 on the root) and queued-delivered are 1 once the span
 * was exported as it ended and the export confirmed its delivery: a
 * resumed monitor does not send it again (spans.h). Format 3 is format 4
 * without those bytes (read: nothing delivered yet). Formats 1 and 2 (the
 * seed's fixed stages) are still read: checkpoint_v2.c.
 *
 * Pure: no I/O. The stream intake (stream.h) stores the blobs in Redis
 * under WK_CKPT_KEY_PREFIX + workflow key. */
#ifndef EXTRACE_WORKER_CHECKPOINT_H
#define EXTRACE_WORKER_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"

#define WK_CKPT_VERSION    4                /* format version written */
#define WK_CKPT_KEY_PREFIX "extrace:ckpt:"  /* Redis key prefix */

/* Encode m. Returns 0 with *out an owned buffer (ex_free) of *len bytes,
 * or -1 if memory ran out. */
int wk_ckpt_encode(const mdl_monitor *m, uint8_t **out, size_t *len);
/* The same in format fmt (3 or WK_CKPT_VERSION): what an older worker
 * wrote, for tests. -1 for another fmt or without memory. */
int wk_ckpt_encode_format(const mdl_monitor *m, int fmt, uint8_t **out, size_t *len);

/* Decode a blob. Returns a new monitor (owned by the caller), or NULL with
 * a message in why that says what is wrong (not a checkpoint, a newer
 * format version, a bad checksum, a value out of range, out of memory). */
mdl_monitor *wk_ckpt_decode(const uint8_t *blob, size_t len, char *why, size_t whylen);

#endif
