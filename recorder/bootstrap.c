#include "bootstrap.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int peeka_libdir(char *out, size_t outlen)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *bin = dirname(exe);           /* PREFIX/bin */
    int k = snprintf(out, outlen, "%s/../lib/peeka", bin);
    if (k < 0 || (size_t)k >= outlen)
        return -1;
    char real[4096];
    if (realpath(out, real))
        snprintf(out, outlen, "%s", real);
    return 0;
}

int agent_path_for(int major, int minor, char *out, size_t outlen, char *err, size_t errlen)
{
    char lib[4096];
    if (peeka_libdir(lib, sizeof lib) < 0) {
        snprintf(err, errlen, "cannot find peeka's install directory from /proc/self/exe");
        return -1;
    }
    snprintf(out, outlen, "%s/agent/cp%d%d/_peeka_agent.so", lib, major, minor);
    if (access(out, R_OK) == 0)
        return 0;
    snprintf(err, errlen, "no agent for Python %d.%d (looked for %s); build it with: "
             "make PYTHONS=/path/to/python%d.%d (needs python%d.%d-dev)",
             major, minor, out, major, minor, major, minor);
    return -1;
}

/* A Python string literal for any bytes: safe whatever the path holds. */
static void py_quote(char *out, size_t outlen, const char *s)
{
    size_t o = 0;
    if (outlen < 4) { out[0] = 0; return; }
    out[o++] = '\'';
    for (; *s && o + 6 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("/._- +:=,", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
    }
    out[o++] = '\'';
    out[o] = 0;
}

/* Runs in the target's __main__ via PyRun_SimpleString: it binds no name
 * there (exec in a fresh dict), prints nothing, and loads the agent by
 * absolute path without touching sys.path.  Re-attaching reuses the module.
 * A pending call (or a PEP 768 script) may run in a thread that is in the
 * middle of an import (a process still starting: --follow-forks adopts
 * those), where importing what that import has half done fails; then a
 * thread of its own (_thread and time are built in: nothing imported) waits
 * until no module is initialising any more, 2 s at most (a program may run
 * inside an import for ever; module locks still keep that thread out of
 * half-imported modules), and loads the agent. */
char *bootstrap_attach_code(const char *agent_path, const rundir *r, size_t buffer)
{
    char qa[8192], qs[1024], qt[200];
    py_quote(qa, sizeof qa, agent_path);
    py_quote(qs, sizeof qs, r->sock);
    py_quote(qt, sizeof qt, r->token);
    const char *fmt =
        "exec(\"import sys\\n"
        "def load():\\n"
        " try:\\n"
        "  m = sys.modules.get('_peeka_agent')\\n"
        "  if m is None:\\n"
        "   import importlib.machinery as im, importlib.util as iu\\n"
        "   l = im.ExtensionFileLoader('_peeka_agent', P)\\n"
        "   m = iu.module_from_spec(iu.spec_from_file_location('_peeka_agent', P, loader=l))\\n"
        "   l.exec_module(m)\\n"
        "   sys.modules['_peeka_agent'] = m\\n"
        "  m.start(S, T, B)\\n"
        " except BaseException:\\n"
        "  pass\\n"
        "def importing():\\n"
        " for v in list(sys.modules.values()):\\n"
        "  s = v.__dict__.get('__spec__') if isinstance(v, type(sys)) else None\\n"
        "  if s is not None and s.__dict__.get('_initializing') is True:\\n"
        "   return True\\n"
        " return False\\n"
        "def later():\\n"
        " import time\\n"
        " for i in range(1000):\\n"
        "  if not importing():\\n"
        "   break\\n"
        "  time.sleep(0.002)\\n"
        " load()\\n"
        "try:\\n"
        " if importing():\\n"
        "  import _thread\\n"
        "  _thread.start_new_thread(later, ())\\n"
        " else:\\n"
        "  load()\\n"
        "except BaseException:\\n"
        " pass\\n\", {'P': %s, 'S': %s, 'T': %s, 'B': %zu})\n";
    size_t n = strlen(fmt) + strlen(qa) + strlen(qs) + strlen(qt) + 32;
    char *code = malloc(n);
    if (code)
        snprintf(code, n, fmt, qa, qs, qt, buffer);
    return code;
}

char *bootstrap_first_frame_code(const char *agent_path, const rundir *r, size_t buffer)
{
    char qa[8192], qs[1024], qt[200], qe[700], errfile[600];
    py_quote(qa, sizeof qa, agent_path);
    py_quote(qs, sizeof qs, r->sock);
    py_quote(qt, sizeof qt, r->token);
    snprintf(errfile, sizeof errfile, "%s/boot-error", r->dir);
    py_quote(qe, sizeof qe, errfile);
    const char *fmt =
        "exec(\"try:\\n"
        " import sys\\n"
        " import importlib.machinery as im, importlib.util as iu\\n"
        " l = im.ExtensionFileLoader('_peeka_agent', P)\\n"
        " m = iu.module_from_spec(iu.spec_from_file_location('_peeka_agent', P, loader=l))\\n"
        " l.exec_module(m)\\n"
        " sys.modules['_peeka_agent'] = m\\n"
        " m.start(S, T, B, 15000)\\n"
        "except Exception as e:\\n"
        " try:\\n"
        "  with open(E, 'w') as f:\\n"
        "   f.write('%%s: %%s' %% (type(e).__name__, e))\\n"
        " except Exception:\\n"
        "  pass\\n\", {'P': %s, 'S': %s, 'T': %s, 'B': %zu, 'E': %s})\n";
    size_t n = strlen(fmt) + strlen(qa) + strlen(qs) + strlen(qt) + strlen(qe) + 32;
    char *code = malloc(n);
    if (code)
        snprintf(code, n, fmt, qa, qs, qt, buffer, qe);
    return code;
}

/* fmt with its one %s replaced by the Python literal of r->dir/leaf. */
static char *code_with_path(const char *fmt, const rundir *r, const char *leaf)
{
    char quoted[700], path[600];
    snprintf(path, sizeof path, "%s/%s", r->dir, leaf);
    py_quote(quoted, sizeof quoted, path);
    size_t n = strlen(fmt) + strlen(quoted) + 1;
    char *code = malloc(n);
    if (code)
        snprintf(code, n, fmt, quoted);
    return code;
}

/* peeka-rec --uninstall by ptrace or PEP 768 (no installed route): the
 * agent's purge(), then the pre-installed agent if there is one; what was
 * removed goes to R, written whole (a rename) for peeka-rec to read. */
char *bootstrap_uninstall_code(const rundir *r)
{
    const char *fmt =
        "exec(\"try:\\n"
        " import os, sys\\n"
        " removed = []\\n"
        " try:\\n"
        "  m = sys.modules.get('_peeka_agent')\\n"
        "  if m is not None and hasattr(m, 'purge'):\\n"
        "   removed += m.purge()\\n"
        "  pa = sys.modules.get('peeka_agent')\\n"
        "  if pa is not None and pa.is_installed():\\n"
        "   pa.uninstall()\\n"
        "   removed.append('the pre-installed agent')\\n"
        " except Exception as e:\\n"
        "  removed.append('ERROR: %%s: %%s' %% (type(e).__name__, e))\\n"
        " with open(R + '.tmp', 'w') as f:\\n"
        "  f.write('; '.join(removed) + '\\\\n')\\n"
        " os.rename(R + '.tmp', R)\\n"
        "except BaseException:\\n"
        " pass\\n\", {'R': %s})\n";
    return code_with_path(fmt, r, "uninstall-report");
}

char *bootstrap_env_restore_code(const rundir *r)
{
    const char *fmt =
        "exec(\"try:\\n"
        " import os\\n"
        " p = os.environ.get('PYTHONPATH', '')\\n"
        " if p == D or p.startswith(D + ':'):\\n"
        "  old = os.environ.pop('PEEKA_SAVED_PYTHONPATH', None)\\n"
        "  if old is None:\\n"
        "   os.environ.pop('PYTHONPATH', None)\\n"
        "  else:\\n"
        "   os.environ['PYTHONPATH'] = old\\n"
        "except Exception:\\n"
        " pass\\n\", {'D': %s})\n";
    return code_with_path(fmt, r, "site");
}

/* Launch mode: found first on PYTHONPATH, runs before the program's first
 * line.  It removes every trace of itself (sys.path entry, environment,
 * module), chains to the real sitecustomize if there is one, and blocks
 * until the recorder has installed the probes, so no call is missed.  A
 * failure is written to boot-error for peeka-rec to report. */
char *bootstrap_sitecustomize(const char *agent_dir, const rundir *r, size_t buffer)
{
    char qa[8192], qs[1024], qt[200], qd[600];
    py_quote(qa, sizeof qa, agent_dir);
    py_quote(qs, sizeof qs, r->sock);
    py_quote(qt, sizeof qt, r->token);
    py_quote(qd, sizeof qd, r->dir);
    const char *fmt =
        "def _peeka_boot():\n"
        "    import os, sys\n"
        "    site_dir = os.path.join(%s, 'site')\n"
        "    sys.path[:] = [p for p in sys.path if p != site_dir]\n"
        "    old = os.environ.pop('PEEKA_SAVED_PYTHONPATH', None)\n"
        "    if old is None:\n"
        "        os.environ.pop('PYTHONPATH', None)\n"
        "    else:\n"
        "        os.environ['PYTHONPATH'] = old\n"
        "    refused = False\n"
        "    try:\n"
        "        if 't' in getattr(sys, 'abiflags', ''):\n"
        "            refused = True\n"
        "            raise RuntimeError('free-threaded CPython %%d.%%d (%%s): the peeka agent relies on the GIL '\n"
        "                               'and does not support free-threaded (Py_GIL_DISABLED) builds; record '\n"
        "                               'the program with a default build instead' %%\n"
        "                               (sys.version_info[0], sys.version_info[1], sys.executable))\n"
        "        tag = 'cp%%d%%d' %% sys.version_info[:2]\n"
        "        path = os.path.join(%s, tag, '_peeka_agent.so')\n"
        "        if not os.path.exists(path):\n"
        "            raise RuntimeError('no agent for Python %%d.%%d (%%s); build it with: make PYTHONS=%%s' %%\n"
        "                               (sys.version_info[0], sys.version_info[1], path, sys.executable))\n"
        "        import importlib.machinery as im, importlib.util as iu\n"
        "        l = im.ExtensionFileLoader('_peeka_agent', path)\n"
        "        m = iu.module_from_spec(iu.spec_from_file_location('_peeka_agent', path, loader=l))\n"
        "        l.exec_module(m)\n"
        "        sys.modules['_peeka_agent'] = m\n"
        "        m.start(%s, %s, %zu, 15000)\n"
        "    except BaseException as e:\n"
        "        try:\n"
        "            with open(os.path.join(%s, 'boot-error'), 'w') as f:\n"
        "                f.write('unsupported: %%s' %% e if refused else '%%s: %%s' %% (type(e).__name__, e))\n"
        "        except OSError:\n"
        "            pass\n"
        "        if refused:\n"
        "            os._exit(70)\n"
        "    import importlib.machinery as im, importlib.util as iu\n"
        "    spec = im.PathFinder.find_spec('sitecustomize', sys.path)\n"
        "    if spec is not None and spec.loader is not None:\n"
        "        real = iu.module_from_spec(spec)\n"
        "        sys.modules['sitecustomize'] = real\n"
        "        spec.loader.exec_module(real)\n"
        "_peeka_boot()\n"
        "del _peeka_boot\n";
    size_t n = strlen(fmt) + 2 * strlen(qd) + strlen(qa) + strlen(qs) + strlen(qt) + 64;
    char *code = malloc(n);
    if (code)
        snprintf(code, n, fmt, qd, qa, qs, qt, buffer, qd);
    return code;
}
