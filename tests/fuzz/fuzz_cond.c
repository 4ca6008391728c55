/* libFuzzer target for condition expressions (agent/cond_parse.c and
 * agent/cond_eval.c), with an embedded CPython.
 *
 * Every input is compiled; a refusal must name a column inside the source.
 * What compiles is evaluated against three fixed calls (entry, return,
 * exception) and must answer 1/0/-1 with no exception left set and no
 * reference gained or lost on the call's objects.  Where it answers 1 or 0,
 * Python's own eval() of the same text over the same values must agree:
 * the accepted language is a subset of Python with the same meaning. */
#include "cond.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...) do { if (!(cond)) { \
    fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

static const char *const SETUP =
    "import warnings\n"
    "warnings.simplefilter('ignore')\n"
    "import builtins, gc\n"
    "gc.disable()\n"
    "class T:\n"
    "    def __init__(self):\n"
    "        self.name = 't'; self.n = 3; self.items = [1, 2]\n"
    "    def __repr__(self): return 'T()'\n"
    "def f(self, x, y, *rest, s='', **kw): pass\n"
    "CODE = f.__code__\n"
    "TGT = T()\n"
    "def fresh(s): return ''.join(list(s))\n"
    "ARGS = (TGT, 5, fresh('hello'), 7.5, [1, 'a', None], (2, 3), b'xy', -3)\n"
    "KW = {'s': fresh('str'), 'd': {'a': 1, 'b': [2]}, 'flag': True}\n"
    "KWN = tuple(KW)\n"
    "KWV = tuple(KW.values())\n"
    "RET = {'k': [1, 2], 'v': 'x'}\n"
    "EXC = ValueError('bad')\n"
    "SAFE = {n: getattr(builtins, n) for n in\n"
    "        ('len', 'str', 'int', 'float', 'bool', 'abs', 'min', 'max')}\n"
    "def names(i):\n"
    "    ns = dict(params=ARGS[1:], kwargs=dict(KW), target=TGT, self=TGT, x=5,\n"
    "              y='hello', rest=ARGS[3:], s='str',\n"
    "              kw={k: v for k, v in KW.items() if k != 's'})\n"
    "    ns['returnObj'] = RET if i == 1 else None\n"
    "    ns['throwExp'] = 'ValueError: bad' if i == 2 else None\n"
    "    if i:\n"
    "        ns['cost'] = 12.5 if i == 1 else 3.0\n"
    "    return ns\n"
    "def oracle(src, i):\n"
    "    try:\n"
    "        return 1 if eval(src, {'__builtins__': SAFE}, names(i)) else 0\n"
    "    except BaseException:\n"
    "        return -1\n";

static PyObject *g_ns, *g_oracle;
static peeka_cond_env g_env[3];
static PyObject *g_argv[16];
static PyObject *g_watch[24];
static int g_nwatch;

static PyObject *get(const char *name)
{
    PyObject *o = PyDict_GetItemString(g_ns, name);
    CHECK(o != NULL, "%s missing", name);
    return o;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The system allocator lets AddressSanitizer see every object. */
    setenv("PYTHONMALLOC", "malloc", 1);
    Py_InitializeEx(0);
    g_ns = PyDict_New();
    PyDict_SetItemString(g_ns, "__builtins__", PyEval_GetBuiltins());
    PyObject *r = PyRun_String(SETUP, Py_file_input, g_ns, g_ns);
    if (!r) {
        PyErr_Print();
        abort();
    }
    Py_DECREF(r);
    g_oracle = get("oracle");
    PyObject *args = get("ARGS"), *kwv = get("KWV");
    Py_ssize_t n = PyTuple_GET_SIZE(args), k = PyTuple_GET_SIZE(kwv);
    for (Py_ssize_t i = 0; i < n; i++)
        g_argv[i] = PyTuple_GET_ITEM(args, i);
    for (Py_ssize_t i = 0; i < k; i++)
        g_argv[n + i] = PyTuple_GET_ITEM(kwv, i);
    for (int i = 0; i < 3; i++) {
        peeka_cond_env *e = &g_env[i];
        e->args = g_argv;
        e->nargs = n;
        e->kwnames = get("KWN");
        e->code = get("CODE");
        e->has_self = 1;
        e->ret = i == 1 ? get("RET") : NULL;
        e->exc = i == 2 ? get("EXC") : NULL;
        e->cost_ms = i == 0 ? -1.0 : i == 1 ? 12.5 : 3.0;
    }
    /* Watched: objects only this call refers to.  Small ints, True and
     * interned strings are shared with interpreter caches that take and
     * drop references at any time (the type attribute cache does). */
    for (Py_ssize_t i = 0; i < n + k; i++)
        if (!PyLong_Check(g_argv[i]))
            g_watch[g_nwatch++] = g_argv[i];
    g_watch[g_nwatch++] = get("RET");
    g_watch[g_nwatch++] = get("EXC");
    g_watch[g_nwatch++] = get("CODE");
    g_watch[g_nwatch++] = get("KWN");
    return 0;
}

static int oracle(const char *src, size_t len, int i)
{
    PyObject *s = PyUnicode_DecodeUTF8(src, (Py_ssize_t)len, "surrogateescape");
    CHECK(s != NULL, "decode");
    PyObject *r = PyObject_CallFunction(g_oracle, "Oi", s, i);
    Py_DECREF(s);
    CHECK(r != NULL, "oracle raised");
    int v = (int)PyLong_AsLong(r);
    Py_DECREF(r);
    return v;
}

/* Differences from Python that are on purpose: `is` on equal constants
 * (Python's compiler merges them, each evaluation here builds its own),
 * line breaks outside brackets (accepted here, not by eval()), form feeds
 * (Python's tokenizer reads "\f " at the start as an indent) and non-ASCII
 * names (any UTF-8 letter goes here; Python checks Unicode's identifier
 * classes, and `'t' or ts\u05cc` short-circuits before the name matters). */
static int comparable(const char *src)
{
    for (const char *p = src; *p; p++)
        if ((unsigned char)*p >= 0x80)
            return 0;
    return !strstr(src, "is") && !strpbrk(src, "\n\r\f");
}

static void check_compile_error(const char *src, size_t len, const char *err)
{
    unsigned long col;
    char rest;
    CHECK(sscanf(err, "col %lu: %c", &col, &rest) == 2, "error '%s' lacks a column", err);
    CHECK(col >= 1 && (col <= len + 1 || col == 4097), "column %lu outside '%s'", col, src);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = 0;
    size_t len = strlen(src);

    char err[256];
    err[0] = 'x';
    peeka_cond *c = peeka_cond_compile(src, err, sizeof err);
    if (!c) {
        CHECK(memchr(err, 0, sizeof err) != NULL, "unterminated error");
        check_compile_error(src, len, err);
        free(src);
        return 0;
    }
    static const char *const names[] = { "params", "kwargs", "target", "returnObj",
                                         "throwExp", "cost", "x", "", NULL };
    for (int i = 0; names[i]; i++)
        (void)peeka_cond_uses(c, names[i]);

    /* The collector is off (see SETUP): garbage the oracle leaves behind
     * must not drop references in the middle of an evaluation. */
    static unsigned runs;
    if (++runs % 4096 == 0) {
        PyObject *r = PyRun_String("gc.collect()", Py_eval_input, g_ns, g_ns);
        CHECK(r != NULL, "gc.collect");
        Py_DECREF(r);
    }
    for (int i = 0; i < 3; i++) {
        Py_ssize_t refs[24];
        for (int k = 0; k < g_nwatch; k++)
            refs[k] = Py_REFCNT(g_watch[k]);
        char msg[256];
        int rc = peeka_cond_eval_msg(c, &g_env[i], msg, sizeof msg);
        CHECK(rc >= -1 && rc <= 1, "rc %d", rc);
        CHECK(!PyErr_Occurred(), "'%s' left an exception set", src);
        CHECK(rc != -1 || msg[0], "'%s' failed without a reason", src);
        for (int k = 0; k < g_nwatch; k++)
            CHECK(Py_REFCNT(g_watch[k]) == refs[k], "'%s' changed the reference count of watched[%d] (%s) by %zd", src, k, Py_TYPE(g_watch[k])->tp_name, Py_REFCNT(g_watch[k]) - refs[k]);
        if (rc >= 0 && comparable(src)) {
            int want = oracle(src, len, i);
            CHECK(rc == want, "'%s' in call %d gave %d, Python %d", src, i, rc, want);
        }
    }
    peeka_cond_free(c);
    free(src);
    return 0;
}
