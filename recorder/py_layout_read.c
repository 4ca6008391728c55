#include "py_layout_read.h"
#include "bootstrap.h"
#include "elf_symbols.h"

#include <stdio.h>
#include <string.h>

/* What the table says of itself against what this peeka and the target
 * are: NULL when it fits. */
static const char *misfit(const pk_py_layout *l, int major, int minor)
{
    if (memcmp(l->magic, PEEKA_PY_LAYOUT_MAGIC, sizeof l->magic) != 0)
        return "its layout table is no peeka layout table";
    if (l->version != PEEKA_PY_LAYOUT_VERSION || l->size != sizeof *l)
        return "its layout table is of another version of peeka (rebuild the agents)";
    if (l->py_major != (uint32_t)major || l->py_minor != (uint32_t)minor)
        return "its layout table is of another CPython version";
    return NULL;
}

int pk_py_layout_from(const char *path, int major, int minor, pk_py_layout *out, char *why,
                      size_t whylen)
{
    pk_elf e;
    char err[300];
    if (pk_elf_open(path, &e, err, sizeof err) < 0) {
        snprintf(why, whylen, "%s", err);
        return -1;
    }
    uint64_t size = 0, at = pk_elf_symbol(&e, PEEKA_PY_LAYOUT_SYMBOL, &size);
    const char *bad = NULL;
    if (!at)
        bad = "it has no layout table (an agent older than this peeka: rebuild the agents)";
    else if (size != sizeof *out || pk_elf_read(&e, at, out, sizeof *out) < 0)
        bad = "its layout table cannot be read";
    else
        bad = misfit(out, major, minor);
    pk_elf_close(&e);
    if (bad)
        snprintf(why, whylen, "the agent %s: %s", path, bad);
    return bad ? -1 : 0;
}

int pk_py_layout_read(int major, int minor, pk_py_layout *out, char *why, size_t whylen)
{
    char path[4096];
    if (agent_path_for(major, minor, path, sizeof path, why, whylen) < 0)
        return -1;
    return pk_py_layout_from(path, major, minor, out, why, whylen);
}
