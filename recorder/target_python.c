#include "target_python.h"
#include "pyversions.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DELETED_SUFFIX " (deleted)"

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int pk_image_open(pid_t pid, const pk_map *m, pk_elf *e, char *err, size_t errlen)
{
    char fn[PK_PATH_MAX + 64];
    size_t len = strlen(m->path), sl = strlen(DELETED_SUFFIX);
    int deleted = len > sl && strcmp(m->path + len - sl, DELETED_SUFFIX) == 0;
    if (!deleted) {
        snprintf(fn, sizeof fn, "/proc/%d/root%s", (int)pid, m->path);
        if (pk_elf_open(fn, e, err, errlen) == 0)
            return 0;
    }
    /* The exact file the target mapped, even if replaced on disk since. */
    snprintf(fn, sizeof fn, "/proc/%d/map_files/%llx-%llx", (int)pid,
             (unsigned long long)m->start, (unsigned long long)m->end);
    return pk_elf_open(fn, e, err, errlen);
}

/* "python3.13" or "libpython3.13t.so.1.0": the version, and whether the
 * name carries the free-threaded ABI tag `t` right after it. */
static int version_from_name(const char *path, int *major, int *minor, int *ft)
{
    const char *b = base_name(path);
    const char *p = strstr(b, "python");
    if (!p)
        return -1;
    p += 6;
    char *end;
    long ma = strtol(p, &end, 10);
    if (end == p || *end != '.')
        return -1;
    const char *q = end + 1;
    long mi = strtol(q, &end, 10);
    if (end == q || ma < 2 || ma > 9 || mi < 0 || mi > 99)
        return -1;
    *major = (int)ma;
    *minor = (int)mi;
    if (ft)
        *ft = *end == 't';
    return 0;
}

int pk_version_from_name(const char *path, int *major, int *minor)
{
    return version_from_name(path, major, minor, NULL);
}

static int is_libpython(const char *path)
{
    return strncmp(base_name(path), "libpython", 9) == 0;
}

static int is_libc(const char *path)
{
    const char *b = base_name(path);
    return strcmp(b, "libc.so.6") == 0 ||
           (strncmp(b, "libc-", 5) == 0 && strstr(b, ".so") != NULL);
}

/* Decodes PY_VERSION_HEX. */
static void set_hexversion(peeka_target *t, uint64_t hex)
{
    t->major = (int)((hex >> 24) & 0xff);
    t->minor = (int)((hex >> 16) & 0xff);
    t->micro = (int)((hex >> 8) & 0xff);
}

/* 3.13+: _PyRuntime starts with _Py_DebugOffsets {"xdebugpy", version,
 * free_threaded}; 3.11+: const unsigned long Py_Version; else the file name.
 * The name's `t` tag says free-threaded too, where there are no offsets. */
static int detect_version(peeka_target *t, const pk_elf *e, const char *exe)
{
    int ma, mi, ft = 0;
    if (version_from_name(t->python_image, &ma, &mi, &ft) == 0 ||
        version_from_name(exe, &ma, &mi, &ft) == 0)
        t->free_threaded = ft;
    uint64_t rt = pk_elf_symbol(e, "_PyRuntime", NULL);
    uint8_t dbg[24];
    if (rt && pk_elf_read(e, rt, dbg, sizeof dbg) == 0 && memcmp(dbg, "xdebugpy", 8) == 0) {
        uint64_t hex, free_threaded;
        memcpy(&hex, dbg + 8, sizeof hex);
        memcpy(&free_threaded, dbg + 16, sizeof free_threaded);
        set_hexversion(t, hex);
        t->free_threaded |= free_threaded != 0;
        return 0;
    }
    uint64_t pv = pk_elf_symbol(e, "Py_Version", NULL);
    uint64_t hex = 0;
    if (pv && pk_elf_read(e, pv, &hex, sizeof hex) == 0 && hex) {
        set_hexversion(t, hex);
        return 0;
    }
    t->micro = -1;
    if (version_from_name(t->python_image, &t->major, &t->minor, NULL) == 0)
        return 0;
    return version_from_name(exe, &t->major, &t->minor, NULL);
}

struct want {
    const char *name;
    size_t off;
};

static const struct want PY_SYMS[] = {
    {"PyGILState_Ensure", offsetof(peeka_target, gilstate_ensure)},
    {"PyGILState_Release", offsetof(peeka_target, gilstate_release)},
    {"PyRun_SimpleString", offsetof(peeka_target, run_simple_string)},
    {"Py_AddPendingCall", offsetof(peeka_target, add_pending_call)},
    {"PyThread_start_new_thread", offsetof(peeka_target, start_new_thread)},
};

static int resolve_python(peeka_target *t, const pk_elf *e, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof PY_SYMS / sizeof PY_SYMS[0]; i++) {
        uint64_t v = pk_elf_symbol(e, PY_SYMS[i].name, NULL);
        if (!v) {
            snprintf(err, errlen, "pid %d: %s lacks the symbol %s; is it a CPython build?",
                     (int)t->pid, t->python_image, PY_SYMS[i].name);
            return PA_NOTPYTHON;
        }
        *(uint64_t *)((char *)t + PY_SYMS[i].off) = v + t->image_bias;
    }
    uint64_t v = pk_elf_symbol(e, "PyEval_SaveThread", NULL);
    t->save_thread = v ? v + t->image_bias : 0;
    v = pk_elf_symbol(e, "_PyRuntime", NULL);
    t->runtime = v ? v + t->image_bias : 0;
    v = pk_elf_symbol(e, "Py_IsFinalizing", NULL);
    if (!v)
        v = pk_elf_symbol(e, "_Py_IsFinalizing", NULL);
    t->is_finalizing = v ? v + t->image_bias : 0;
    v = pk_elf_symbol(e, "Py_IsInitialized", NULL);
    t->is_initialized = v ? v + t->image_bias : 0;
    v = pk_elf_symbol(e, "_PyEval_EvalFrameDefault", NULL);
    t->eval_frame = v ? v + t->image_bias : 0;
    return PA_OK;
}

/* Finds munmap() and a `syscall` instruction in the target's libc. */
static int resolve_libc(peeka_target *t, const pk_maps *maps, char *err, size_t errlen)
{
    for (size_t i = 0; i < maps->n; i++) {
        const pk_map *m = &maps->v[i];
        if (!is_libc(m->path) || pk_maps_first_of(maps, m->path) != m)
            continue;
        pk_elf e;
        char why[256];
        if (pk_image_open(t->pid, m, &e, why, sizeof why) != 0)
            continue;
        uint64_t bias = pk_elf_bias(&e, m->start);
        uint64_t mu = pk_elf_symbol(&e, "munmap", NULL);
        uint64_t sc = pk_elf_symbol(&e, "syscall", NULL);
        uint8_t code[64];
        uint64_t insn = 0;
        if (sc && pk_elf_read(&e, sc, code, sizeof code) == 0)
            for (size_t k = 0; k + 1 < sizeof code && !insn; k++)
                if (code[k] == 0x0f && code[k + 1] == 0x05)
                    insn = sc + k;
        pk_elf_close(&e);
        if (mu && insn) {
            snprintf(t->libc, sizeof t->libc, "%s", m->path);
            t->libc_munmap = mu + bias;
            t->syscall_insn = insn + bias;
            return PA_OK;
        }
    }
    snprintf(err, errlen,
             "pid %d: no glibc with munmap() and syscall() found in its mappings "
             "(musl and static binaries are not supported)", (int)t->pid);
    return PA_UNSUPPORTED;
}

/* Tries one mapped file as the interpreter image; 1 if it is one. */
static int try_image(peeka_target *t, const pk_map *m, pk_elf *e)
{
    char why[256];
    if (pk_image_open(t->pid, m, e, why, sizeof why) != 0)
        return 0;
    if (pk_elf_symbol(e, "PyGILState_Ensure", NULL) && pk_elf_symbol(e, "Py_AddPendingCall", NULL))
        return 1;
    pk_elf_close(e);
    return 0;
}

static int find_image(peeka_target *t, const pk_maps *maps, pk_elf *e)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < maps->n; i++) {
            const pk_map *m = &maps->v[i];
            if (!m->path[0] || m->path[0] != '/' || pk_maps_first_of(maps, m->path) != m)
                continue;
            int exe_like = strcmp(m->path, t->exe) == 0;
            if ((pass == 0 && !is_libpython(m->path)) || (pass == 1 && !exe_like))
                continue;
            if (try_image(t, m, e)) {
                snprintf(t->python_image, sizeof t->python_image, "%s", m->path);
                t->image_is_exe = exe_like;
                t->image_bias = pk_elf_bias(e, m->start);
                return 1;
            }
        }
    }
    return 0;
}

/* A process in the middle of exiting loses its mm, its root and its exe
 * link before it becomes a zombie: what looks like "not Python" may be
 * that.  Kernel threads have no exe link either but do not exit. */
static int exiting(pid_t pid)
{
    char fn[64], link[16];
    pk_status st;
    if (pk_status_read(pid, 0, &st) != 0 || st.state == 'Z' || st.state == 'X')
        return 1;
    snprintf(fn, sizeof fn, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(fn, "re");
    unsigned long flags = 0;
    int kthread = 0;
    if (f) {
        /* field 9, after the parenthesised command name */
        char line[1024];
        if (fgets(line, sizeof line, f)) {
            char *p = strrchr(line, ')');
            if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) == 1)
                kthread = (flags & 0x00200000UL) != 0; /* PF_KTHREAD */
        }
        fclose(f);
    }
    if (kthread)
        return 0;
    snprintf(fn, sizeof fn, "/proc/%d/exe", (int)pid);
    return readlink(fn, link, sizeof link) < 0 && errno == ENOENT;
}

static int read_exe(peeka_target *t, char *err, size_t errlen)
{
    char fn[64];
    snprintf(fn, sizeof fn, "/proc/%d/exe", (int)t->pid);
    ssize_t k = readlink(fn, t->exe, sizeof t->exe - 1);
    if (k < 0) {
        int e = errno;
        if (e == EACCES || e == EPERM) {
            /* reading another process's /proc entries needs the same
             * permission as ptrace: say so, with the ways to get it */
            snprintf(err, errlen,
                     "pid %d: not allowed to inspect it (%s): attaching needs ptrace permission: "
                     "run peeka-rec as the process's user or as root with CAP_SYS_PTRACE "
                     "(docker: --cap-add SYS_PTRACE), with kernel.yama.ptrace_scope <= 1 "
                     "(sysctl kernel.yama.ptrace_scope=0 for non-root)", (int)t->pid, strerror(e));
            return PA_PERM;
        }
        if (kill(t->pid, 0) != 0 && errno == ESRCH) {
            snprintf(err, errlen, "no process with pid %d", (int)t->pid);
            return PA_NOPROC;
        }
        if (exiting(t->pid)) {
            snprintf(err, errlen, "pid %d has exited", (int)t->pid);
            return PA_EXITED;
        }
        snprintf(err, errlen, "pid %d has no executable (a kernel thread or a zombie)",
                 (int)t->pid);
        return PA_NOTPYTHON;
    }
    t->exe[k] = '\0';
    return PA_OK;
}

static int check_version(const peeka_target *t, char *err, size_t errlen)
{
    if (t->free_threaded) {
        snprintf(err, errlen, "pid %d runs a free-threaded CPython %d.%d (%s): peeka's agent relies "
                 "on the GIL and does not support free-threaded (Py_GIL_DISABLED) builds; "
                 "record a default build of the program instead", (int)t->pid, t->major, t->minor,
                 t->python_image);
        return PA_UNSUPPORTED;
    }
    if (t->major == 3 && t->minor >= PEEKA_PY_MINOR_MIN && t->minor <= PEEKA_PY_MINOR_MAX)
        return PA_OK;
    snprintf(err, errlen, "pid %d runs Python %d.%d (%s); peeka supports CPython " PEEKA_PY_RANGE,
             (int)t->pid, t->major, t->minor, t->python_image);
    return PA_UNSUPPORTED;
}

int peeka_target_inspect(pid_t pid, peeka_target *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->pid = pid;
    if (err && errlen)
        err[0] = '\0';
    if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH)) {
        snprintf(err, errlen, "no process with pid %d", (int)pid);
        return PA_NOPROC;
    }
    int rc = read_exe(t, err, errlen);
    if (rc != PA_OK)
        return rc;
    pk_maps maps;
    int mr = pk_maps_read(pid, &maps);
    if (mr != 0) {
        /* an exiting process's maps read ENOENT, ESRCH, or EIO once its mm is gone */
        if (mr == -ENOENT || mr == -ESRCH || exiting(pid)) {
            snprintf(err, errlen, "pid %d exited while being inspected", (int)pid);
            return PA_EXITED;
        }
        snprintf(err, errlen, "pid %d: cannot read /proc/%d/maps: %s; run peeka-rec as the "
                 "process's user or as root", (int)pid, (int)pid, strerror(-mr));
        return mr == -EACCES || mr == -EPERM ? PA_PERM : PA_FAILED;
    }
    pk_elf e;
    if (!find_image(t, &maps, &e)) {
        pk_maps_free(&maps);
        if (exiting(pid)) {
            snprintf(err, errlen, "pid %d exited while being inspected", (int)pid);
            return PA_EXITED;
        }
        snprintf(err, errlen, "pid %d (%s) is not a Python process: neither the executable "
                 "nor a loaded libpython exports the CPython API", (int)pid, t->exe);
        return PA_NOTPYTHON;
    }
    if (detect_version(t, &e, t->exe) != 0) {
        snprintf(err, errlen, "pid %d: cannot tell the Python version of %s", (int)pid,
                 t->python_image);
        rc = PA_UNSUPPORTED;
    } else {
        rc = check_version(t, err, errlen);
    }
    if (rc == PA_OK)
        rc = resolve_python(t, &e, err, errlen);
    pk_elf_close(&e);
    if (rc == PA_OK)
        rc = resolve_libc(t, &maps, err, errlen);
    pk_maps_free(&maps);
    if (rc != PA_OK && exiting(pid)) {
        snprintf(err, errlen, "pid %d exited while being inspected", (int)pid);
        return PA_EXITED;
    }
    return rc;
}

const char *peeka_attach_status_name(int status)
{
    static const char *const names[] = {"ok", "noproc", "notpython", "unsupported", "perm",
                                        "stopped", "seccomp", "exited", "timeout", "failed"};
    if (status < 0 || status >= (int)(sizeof names / sizeof names[0]))
        return "unknown";
    return names[status];
}
