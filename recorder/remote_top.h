/* `top --outside`: peeka-rec samples every thread's Python stack itself,
 * from outside the process (remote_stacks.h), on CPython 3.13+.  No agent
 * is loaded and no GIL is taken, so the rate is not bound by the GIL's
 * switch interval and the target's Python threads are never held up;
 * the records are top's (docs/format.md) with "source": "remote". */
#ifndef PEEKA_REMOTE_TOP_H
#define PEEKA_REMOTE_TOP_H

#include <stddef.h>

#include "attach.h"
#include "recording.h"

/* o's one probe is top --outside (options.c let nothing else with it). */
int remote_top_applies(const rec_options *o);

/* Samples t until -d, -c, a signal or the target's end, writing the
 * recording r.  An EX_* code; EX_NOTPYTHON before anything is written
 * when t is older than 3.13 or its offsets cannot be read. */
int remote_top_run(recording *r, const peeka_target *t, char *err, size_t errlen);

#endif
