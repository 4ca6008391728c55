/* Writes a peeka archive (docs/format.md): tar members, each compressed as
 * one complete zstd frame, into FILE.partial, renamed to FILE when closed.
 * A writer killed at any moment leaves every complete frame readable. */
#ifndef PEEKA_ARCHIVE_WRITE_H
#define PEEKA_ARCHIVE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "peeka_limits.h"   /* PEEKA_CHUNK_BYTES */

#define PEEKA_CHUNK_NS    1000000000LL /* ... or when its first record is this old */

typedef struct peeka_aw peeka_aw;

/* The mode of an archive and of its members, unless peeka_aw_set_mode()
 * says otherwise.  FILE.partial is this mode whatever is set: only the
 * finished archive gets another. */
#define PEEKA_AW_MODE 0600

/* final_path "-" is not accepted here: streaming to stdout is the caller's.
 * stem names the directory inside the archive; NULL derives it from the
 * file name.  On failure returns NULL with a message in err. */
peeka_aw *peeka_aw_open(const char *final_path, const char *stem, int zstd_level,
                        char *err, size_t errlen);
/* The archive's mode once closed (and its members' in their tar headers),
 * set before the first member; the caller validated it (recorder/options.c
 * for --mode). */
void peeka_aw_set_mode(peeka_aw *w, unsigned mode);
/* A whole member under STEM/ (session.json, ...), written at once. */
int peeka_aw_member(peeka_aw *w, const char *name, const void *data, size_t len);
/* Whole JSONL lines (len bytes ending in '\n'), any number of them:
 * buffered into data/NNNNNN.jsonl members of at most PEEKA_CHUNK_BYTES, cut
 * between lines; a line longer than that is a member of its own. */
int peeka_aw_append_records(peeka_aw *w, const void *jsonl, size_t len);
/* How old a chunk's first record may grow before the chunk is written
 * (peeka-rec --flush-period; PEEKA_CHUNK_NS unless set). */
void peeka_aw_set_flush_ns(peeka_aw *w, int64_t ns);
/* Writes the pending chunk if it is big or old enough (now_ns: monotonic). */
int peeka_aw_flush_due(peeka_aw *w, int64_t now_ns);
int peeka_aw_flush(peeka_aw *w);
/* Summary member, end-of-archive blocks, fsync, rename to the final name.
 * Frees w whatever happens. */
int peeka_aw_close(peeka_aw *w, const void *summary_json, size_t len, char *err, size_t errlen);
/* Leaves FILE.partial as it is (everything flushed so far stays readable). */
void peeka_aw_abort(peeka_aw *w);
/* Nothing worth keeping was recorded: removes FILE.partial. */
void peeka_aw_discard(peeka_aw *w);

uint64_t peeka_aw_records(const peeka_aw *w);
uint64_t peeka_aw_chunks(const peeka_aw *w);
uint64_t peeka_aw_bytes_in(const peeka_aw *w);    /* JSONL bytes accepted */
uint64_t peeka_aw_bytes_out(const peeka_aw *w);   /* compressed bytes written */
const char *peeka_aw_partial_path(const peeka_aw *w);
const char *peeka_aw_error(const peeka_aw *w);    /* why the last write failed */

#endif
