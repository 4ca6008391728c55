/* `peeka-rec -p PID thread` when the agent cannot get in (a thread keeps
 * the GIL in a long C call, so no bootstrap ever runs): on CPython 3.8+
 * the snapshot is read from outside instead (remote_stacks.h) and written
 * as ordinary thread records marked "source": "remote" (docs/format.md). */
#ifndef PEEKA_REMOTE_DUMP_H
#define PEEKA_REMOTE_DUMP_H

#include <stddef.h>

#include "attach.h"
#include "recording.h"

/* Whether o asks for what the outside read can give: one thread probe,
 * one snapshot, a plain recording of one process. */
int remote_dump_applies(const rec_options *o);

/* Whether t's threads can be read from outside: CPython 3.8+ (the offsets
 * come from _Py_DebugOffsets on 3.13+, from the agent's layout table
 * before: docs/architecture.md "Reading stacks from outside"). */
int remote_dump_reads(const peeka_target *t);

/* Reads t's threads from outside and writes the recording r (its
 * session.json, the records, its summary), saying so in one line on
 * stderr.  err holds the attach's failure on entry.  EX_OK_REC; EX_TIMEOUT
 * when nothing could be read (why is appended to err); another EX_* when
 * the archive cannot be written. */
int remote_dump_run(recording *r, const peeka_target *t, char *err, size_t errlen);

#endif
