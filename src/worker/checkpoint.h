/* checkpoint.h — a monitor as bytes, and those bytes in Redis.
 *
 * The pure half turns a wm_monitor into a compact, versioned binary blob
 * and back, so a worker that claims a workflow from a dead one resumes
 * its monitor exactly where it was: same times, same statuses seen, same
 * events (none repeated, none missing), same counters.
 *
 * Blob layout (all integers little-endian):
 *   "XTCK" u8 format-version(=2)
 *   str workflow_id
 *   i64 submitted created timeout start end last_sent
 *   u32 version polls poll_errors   u16 events_dropped stages_dropped
 *   u8 last_status end nstages nevents   nstr error
 *   per stage:  i64 start end  str type  str id  nstr error  u8 last_status end
 *   per event:  i64 time before after  u8 owner status source
 *   u32 FNV-1a of every byte before it
 * where str = u16 length + bytes, nstr = str or the length 0xFFFF (NULL).
 * Version 1 had the same layout with the last poll's receive time in
 * place of last_sent; it is read with last_sent = created (the monitor's
 * creation, before every poll's send), which widens the next event's
 * window instead of making it wrong.
 *
 * Pure: no I/O. The stream intake (stream.h) stores the blobs in Redis
 * under WK_CKPT_KEY_PREFIX + workflow id. */
#ifndef EXTRACE_WORKER_CHECKPOINT_H
#define EXTRACE_WORKER_CHECKPOINT_H
#include <stddef.h>
#include <stdint.h>

#include "worker/monitor.h"

#define WK_CKPT_VERSION    2                /* format version written */
#define WK_CKPT_KEY_PREFIX "extrace:ckpt:"  /* Redis key prefix */

/* Encode m. Returns 0 with *out an owned buffer (ex_free) of *len bytes,
 * or -1 if memory ran out. */
int wk_ckpt_encode(const wm_monitor *m, uint8_t **out, size_t *len);

/* Decode a blob. Returns a new monitor (owned by the caller), or NULL with
 * a message in why that says what is wrong (not a checkpoint, a newer
 * format version, a bad checksum, a value out of range, out of memory). */
wm_monitor *wk_ckpt_decode(const uint8_t *blob, size_t len, char *why, size_t whylen);

#endif
