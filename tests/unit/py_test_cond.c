/* Condition expressions, compiled by agent/cond_parse.c and evaluated by
 * agent/cond_eval.c inside an embedded CPython.  Python's own eval() is the
 * oracle for what the accepted subset means. */
#include "cond.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CPython keeps memory alive until exit by design; leaks are measured
 * below with sys.getallocatedblocks() instead. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

static PyObject *g_ns;

static const char *const SETUP =
    "import builtins, gc, sys, warnings\n"
    "warnings.simplefilter('ignore')\n"
    "class Obj:\n"
    "    def __init__(self):\n"
    "        self.name = 'obj'; self.n = 3; self._secret = 1\n"
    "class Bad:\n"
    "    def __eq__(self, o): raise ValueError('bad eq')\n"
    "    def __len__(self): raise RuntimeError('bad len')\n"
    "    def __bool__(self): raise RuntimeError('bad bool')\n"
    "    def __str__(self): raise RuntimeError('bad str')\n"
    "    __hash__ = None\n"
    "class MyStr(str):\n"
    "    def startswith(self, *a): raise AssertionError('override called')\n"
    "class MyList(list):\n"
    "    def __iter__(self):\n"
    "        while True: yield 0\n"
    "    def __len__(self): return 10 ** 9\n"
    "class MyDict(dict):\n"
    "    def get(self, *a): raise AssertionError('override called')\n"
    "def f(x, y, *rest, z=1, **kw): pass\n"
    "def m(self, a, b=2): pass\n"
    "def po(a, /, b, *, c): pass\n"
    "def plain(a, b=0): pass\n"
    "def soft(match, case, print): pass\n"
    "def uni(r\xc3\xa9sum\xc3\xa9): pass\n"
    "def gen(): yield 1\n"
    "G = gen()\n"
    "def E(fn, *args, _self=False, _ret=None, _exc=None, _cost=-1.0, **kwargs):\n"
    "    return (fn.__code__, args, tuple(kwargs) or None, tuple(kwargs.values()),\n"
    "            _self, _ret, _exc, _cost)\n"
    "STD = \"E(f, 5, 6, 7, z=3, extra='q', _ret=[1, 2], _exc=ValueError('bad'), _cost=12.5)\"\n"
    "NS = dict(params=(5, 6, 7), kwargs={'z': 3, 'extra': 'q'}, target=None,\n"
    "          returnObj=[1, 2], throwExp='ValueError: bad', cost=12.5,\n"
    "          x=5, y=6, rest=(7,), z=3, kw={'extra': 'q'})\n"
    "SAFE = {n: getattr(builtins, n) for n in\n"
    "        ('len', 'str', 'int', 'float', 'bool', 'abs', 'min', 'max')}\n"
    "def oracle(src):\n"
    "    try:\n"
    "        return 1 if eval(src, {'__builtins__': SAFE}, dict(NS)) else 0\n"
    "    except Exception:\n"
    "        return -1\n";

#define STD "E(f, 5, 6, 7, z=3, extra='q', _ret=[1, 2], _exc=ValueError('bad'), _cost=12.5)"

/* ---- helpers ---- */

typedef struct {
    peeka_cond_env env;
    PyObject *tuple;            /* what E() returned: keeps the values alive */
    PyObject *argv[32];
} tenv;

static void tenv_init(tenv *t, const char *expr)
{
    memset(t, 0, sizeof *t);
    t->tuple = PyRun_String(expr, Py_eval_input, g_ns, g_ns);
    if (!t->tuple)
        PyErr_Print();
    ck_assert_msg(t->tuple != NULL, "bad environment %s", expr);
    PyObject *args = PyTuple_GET_ITEM(t->tuple, 1);
    PyObject *kwn = PyTuple_GET_ITEM(t->tuple, 2);
    PyObject *kwv = PyTuple_GET_ITEM(t->tuple, 3);
    Py_ssize_t n = PyTuple_GET_SIZE(args), k = PyTuple_GET_SIZE(kwv);
    ck_assert_int_le(n + k, 32);
    for (Py_ssize_t i = 0; i < n; i++)
        t->argv[i] = PyTuple_GET_ITEM(args, i);
    for (Py_ssize_t i = 0; i < k; i++)
        t->argv[n + i] = PyTuple_GET_ITEM(kwv, i);
    PyObject *ret = PyTuple_GET_ITEM(t->tuple, 5), *exc = PyTuple_GET_ITEM(t->tuple, 6);
    t->env.args = t->argv;
    t->env.nargs = n;
    t->env.kwnames = kwn == Py_None ? NULL : kwn;
    t->env.code = PyTuple_GET_ITEM(t->tuple, 0);
    t->env.has_self = PyObject_IsTrue(PyTuple_GET_ITEM(t->tuple, 4));
    t->env.ret = ret == Py_None ? NULL : ret;
    t->env.exc = exc == Py_None ? NULL : exc;
    t->env.cost_ms = PyFloat_AsDouble(PyTuple_GET_ITEM(t->tuple, 7));
}

static int run_msg(const char *src, const char *envexpr, char *msg, size_t mlen)
{
    char err[256];
    peeka_cond *c = peeka_cond_compile(src, err, sizeof err);
    ck_assert_msg(c != NULL, "compile '%s': %s", src, err);
    tenv t;
    tenv_init(&t, envexpr);
    int rc = peeka_cond_eval_msg(c, &t.env, msg, mlen);
    ck_assert_msg(!PyErr_Occurred(), "'%s' left an exception set", src);
    ck_assert_msg(rc >= -1 && rc <= 1, "'%s' returned %d", src, rc);
    peeka_cond_free(c);
    Py_DECREF(t.tuple);
    return rc;
}

static int run(const char *src, const char *envexpr)
{
    return run_msg(src, envexpr, NULL, 0);
}

static void expect_error(const char *src, const char *envexpr, const char *msg_part)
{
    char msg[256];
    int rc = run_msg(src, envexpr, msg, sizeof msg);
    ck_assert_msg(rc == -1, "'%s' should fail at run time, gave %d", src, rc);
    ck_assert_msg(strstr(msg, msg_part) != NULL, "'%s': message '%s' lacks '%s'", src, msg, msg_part);
}

static void expect_compile_error(const char *src, const char *want)
{
    char err[256];
    peeka_cond *c = peeka_cond_compile(src, err, sizeof err);
    ck_assert_msg(c == NULL, "'%s' should not compile", src);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "'%s': got '%s', want '%s...'", src, err, want);
}

static int oracle(const char *src)
{
    PyObject *fn = PyDict_GetItemString(g_ns, "oracle");
    PyObject *r = PyObject_CallFunction(fn, "s", src);
    ck_assert_ptr_nonnull(r);
    int v = (int)PyLong_AsLong(r);
    Py_DECREF(r);
    return v;
}

/* ---- the grammar, checked against Python ---- */

static const struct { const char *src; int want; } ORACLE[] = {
    /* the examples */
    {"x + y > 10", 1}, {"x + y > 11", 0}, {"params[0] > 100", 0}, {"len(params) > 2", 1},
    {"cost > 50", 0}, {"cost > 10", 1}, {"kwargs.get('debug') == True", 0},
    {"str(x).startswith('5')", 1},
    /* literals */
    {"0x10 + 0o17 + 0b101 == 36", 1}, {"0X1f == 31", 1}, {"1_000 == 1000", 1},
    {"123456789012345678901234567890 > 10 ** 29", 1}, {"0xFFFFFFFFFFFFFFFFFF > 0", 1},
    {"9223372036854775807 + 1 == 9223372036854775808", 1},
    {"1.5 * 2 == 3.0", 1}, {".5 == 0.5", 1}, {"1e3 == 1000", 1}, {"1.e2 == 100", 1},
    {"1e999 > 1e308", 1}, {"1_0.5e1_0 > 1", 1}, {"'a' == \"a\"", 1}, {"'ab' 'cd' == 'abcd'", 1},
    {"len('\\x41\\u00e9\\U0001F600') == 3", 1}, {"'\\t\\n\\r' == '\\x09\\x0a\\x0d'", 1},
    {"'\\101' == 'A'", 1}, {"r'\\d' == '\\\\d'", 1}, {"R'\\'' == \"\\\\'\"", 1}, {"r'\\\\' == '\\\\\\\\'", 1},
    {"r'a\\\nb' == 'a\\\\\\nb'", 1}, {"r'\\\xc3\xa9' == '\\\\\\u00e9'", 1},
    {"'''a'b''' == \"a'b\"", 1}, {"\"\"\"x\ny\"\"\" == 'x\\ny'", 1}, {"'\\%' == '\\\\%'", 1},
    {"b'ab' == b'a' + b'b'", 1}, {"b'\\xff'[0] == 255", 1}, {"rb'\\x' == b'\\\\x'", 1},
    {"'\xc3\xa9' == '\\u00e9'", 1}, {"len('\\ud800') == 1", 1}, {"u'x' == 'x'", 1},
    {"'a\\\nb' == 'ab'", 1}, {"True", 1}, {"False", 0}, {"None", 0}, {"not None", 1},
    {"[1, 2] == [1, 2]", 1}, {"(1,) == (1,)", 1}, {"() == ()", 1}, {"[] == []", 1},
    {"{'a': 1}['a'] == 1", 1}, {"{} == {}", 1}, {"(1, 2,) == (1, 2)", 1},
    {"[1, [2, 3]][1][0] == 2", 1}, {"{'a': 1, 'b': [2],}['b'] == [2]", 1}, {"[]", 0},
    {"(x) == 5", 1}, {"x  # a comment", 1},
    /* arithmetic */
    {"7 // 2 == 3", 1}, {"-7 // 2 == -4", 1}, {"7 % 3 == 1", 1}, {"-7 % 3 == 2", 1},
    {"2 ** 10 == 1024", 1}, {"2 ** -1 == 0.5", 1}, {"-2 ** 2 == -4", 1}, {"2 ** 3 ** 2 == 512", 1},
    {"7 / 2 == 3.5", 1}, {"~5 == -6", 1}, {"+x == 5", 1}, {"-x == -5", 1}, {"- -x == 5", 1},
    {"1 + 2 * 3 == 7", 1}, {"(1 + 2) * 3 == 9", 1}, {"10 - 2 - 3 == 5", 1},
    {"100 / 10 / 5 == 2", 1}, {"2 * 3 % 4 == 2", 1}, {"'ab' * 2 == 'abab'", 1},
    {"[0] * 3 == [0, 0, 0]", 1}, {"3 * (1,) == (1, 1, 1)", 1}, {"'a' + 'b' == 'ab'", 1},
    {"1 ** 1000000000 == 1", 1}, {"(-1) ** 1000000001 == -1", 1}, {"0 ** 99999999999 == 0", 1},
    {"2 ** 0.5 > 1.41", 1}, {"x * 1.5 == 7.5", 1},
    /* comparisons */
    {"1 < 2 < 3", 1}, {"1 < 3 < 2", 0}, {"x < y < z", 0}, {"3 > 2 == 2", 1}, {"1 <= 1 >= 1", 1},
    {"1 != 2", 1}, {"5 in params", 1}, {"9 not in params", 1}, {"'extra' in kwargs", 1},
    {"'ell' in 'hello'", 1}, {"None is None", 1}, {"returnObj is not None", 1},
    {"target is None", 1}, {"not 5 in params", 0}, {"1 < 2 < 3 < 4 < 5", 1},
    /* boolean logic */
    {"x == 5 and y == 6", 1}, {"x == 5 and y == 7", 0}, {"x == 4 or y == 6", 1},
    {"not x == 4", 1}, {"not not x", 1}, {"(0 or 'x') == 'x'", 1}, {"(x and 'yes') == 'yes'", 1},
    {"False and 1/0", 0}, {"True or 1/0", 1}, {"x == 5 and y == 6 and z == 3", 1},
    {"0 or 0 or 1", 1}, {"x == 1 or x == 2 and y == 6", 0}, {"(x == 5 or x == 2) and y == 6", 1},
    /* ternary */
    {"('big' if x > 3 else 'small') == 'big'", 1}, {"1 if x > 9 else 0", 0},
    {"0 if x > 9 else 1 if y > 9 else 2", 1}, {"1/0 if False else 1", 1},
    /* subscripts and slices */
    {"params[-1] == 7", 1}, {"params[1:3] == (6, 7)", 1}, {"params[::-1] == (7, 6, 5)", 1},
    {"params[:1] == (5,)", 1}, {"params[1:] == (6, 7)", 1}, {"params[:] == params", 1},
    {"'hello'[1:3] == 'el'", 1}, {"'hello'[::2] == 'hlo'", 1}, {"kwargs['z'] == 3", 1},
    {"returnObj[1] == 2", 1}, {"params[x - 4] == 6", 1}, {"'abc'[-1] == 'c'", 1},
    /* whitelisted methods */
    {"'Hello'.startswith('He')", 1}, {"'Hello'.endswith('lo')", 1},
    {"'Hello'.lower() == 'hello'", 1}, {"'Hello'.upper() == 'HELLO'", 1},
    {"' a '.strip() == 'a'", 1}, {"' a '.lstrip() == 'a '", 1}, {"' a '.rstrip() == ' a'", 1},
    {"'a,b'.split(',') == ['a', 'b']", 1}, {"'a b'.split() == ['a', 'b']", 1},
    {"'hello'.find('l') == 2", 1}, {"'hello'.count('l') == 2", 1},
    {"'hello'.replace('l', 'L') == 'heLLo'", 1}, {"'hello'.replace('l', 'L', 1) == 'heLlo'", 1},
    {"'123'.isdigit()", 1}, {"'abc'.isalpha()", 1}, {"'ab1'.isalpha()", 0},
    {"b'abc'.upper() == b'ABC'", 1}, {"b'abc'.startswith(b'a')", 1},
    {"kwargs.get('nope', 4) == 4", 1}, {"kwargs.get('z') == 3", 1}, {"'z' in kwargs.keys()", 1},
    {"3 in kwargs.values()", 1}, {"('z', 3) in kwargs.items()", 1}, {"params.count(5) == 1", 1},
    {"params.index(6) == 1", 1}, {"returnObj.index(2) == 1", 1}, {"returnObj.count(9) == 0", 1},
    {"throwExp.startswith('ValueError')", 1}, {"'a-b-c'.split('-')[1].upper() == 'B'", 1},
    {"'x'.startswith(('a', 'x'))", 1},
    /* builtins */
    {"len('abc') == 3", 1}, {"len(kwargs) == 2", 1}, {"str(5) == '5'", 1}, {"str() == ''", 1},
    {"str(b'a', 'ascii') == 'a'", 1}, {"int('42') == 42", 1}, {"int('ff', 16) == 255", 1},
    {"int(3.9) == 3", 1}, {"int() == 0", 1}, {"float('1.5') == 1.5", 1}, {"float(x) == 5.0", 1},
    {"bool(1)", 1}, {"bool(0)", 0}, {"bool()", 0}, {"abs(-3) == 3", 1}, {"abs(-2.5) == 2.5", 1},
    {"min(3, 1, 2) == 1", 1}, {"max(3, 1, 2) == 3", 1}, {"min(params) == 5", 1},
    {"max('abc') == 'c'", 1}, {"max(kwargs) == 'z'", 1}, {"min([2.5, 1]) == 1", 1},
    {"max(kwargs.values()) == 'q'", -1}, {"max(returnObj) == 2", 1},
    /* every name */
    {"params == (5, 6, 7)", 1}, {"kwargs == {'z': 3, 'extra': 'q'}", 1}, {"rest == (7,)", 1},
    {"kw == {'extra': 'q'}", 1}, {"z == 3", 1}, {"throwExp == 'ValueError: bad'", 1},
    {"returnObj == [1, 2]", 1}, {"cost == 12.5", 1}, {"x.real == 5", 1},
    /* run-time errors */
    {"1 / 0", -1}, {"1 // 0", -1}, {"1 % 0", -1}, {"0 ** -1", -1}, {"params[10]", -1},
    {"kwargs['nope']", -1}, {"nope > 1", -1}, {"len(5)", -1}, {"'a' + 1", -1}, {"x.nope", -1},
    {"int('x')", -1}, {"max([])", -1}, {"min()", -1}, {"{[]: 1}", -1}, {"abs('a')", -1},
    {"x.lower()", -1}, {"params.get(1)", -1}, {"1 < 'a'", -1}, {"len()", -1}, {"1 in 5", -1},
    {"'a'.startswith()", -1}, {"len(1, 2)", -1},
};

START_TEST(test_grammar_matches_python)
{
    const char *src = ORACLE[_i].src;
    int want = ORACLE[_i].want;
    ck_assert_msg(oracle(src) == want, "oracle('%s') is %d, table says %d", src, oracle(src), want);
    int got = run(src, STD);
    ck_assert_msg(got == want, "'%s' gave %d, Python %d", src, got, want);
}
END_TEST

/* ---- names ---- */

START_TEST(test_target_and_self)
{
    const char *env = "E(m, Obj(), 1, _self=True)";
    ck_assert_int_eq(run("target.name == 'obj'", env), 1);
    ck_assert_int_eq(run("self.n == 3", env), 1);
    ck_assert_int_eq(run("params == (1,)", env), 1);
    ck_assert_int_eq(run("a == 1", env), 1);
    ck_assert_int_eq(run("target is not None", env), 1);
    ck_assert_int_eq(run("target is None", STD), 1);
    /* a method called with its default */
    expect_error("b == 2", env, "parameter 'b' was not passed");
    ck_assert_int_eq(run("b == 5", "E(m, Obj(), 1, b=5, _self=True)"), 1);
    ck_assert_int_eq(run("b == 5", "E(m, Obj(), 1, 5, _self=True)"), 1);
}
END_TEST

START_TEST(test_entry_and_exit_values)
{
    const char *entry = "E(plain, 1)";
    ck_assert_int_eq(run("returnObj is None", entry), 1);
    ck_assert_int_eq(run("throwExp is None", entry), 1);
    expect_error("cost > 1", entry, "cost is not known at function entry");
    ck_assert_int_eq(run("returnObj == 'r'", "E(plain, 1, _ret='r', _cost=0.5)"), 1);
    ck_assert_int_eq(run("cost < 1", "E(plain, 1, _ret='r', _cost=0.5)"), 1);
    ck_assert_int_eq(run("throwExp == 'KeyError: \\'k\\''", "E(plain, 1, _exc=KeyError('k'))"), 1);
    ck_assert_int_eq(run("throwExp == 'RuntimeError: '", "E(plain, 1, _exc=RuntimeError())"), 1);
    ck_assert_int_eq(run("kwargs.get('debug') == True", "E(f, 1, 2, debug=True)"), 1);
    ck_assert_int_eq(run("kwargs == {}", "E(plain, 1)"), 1);
    ck_assert_int_eq(run("params == ()", "E(f)"), 1);
}
END_TEST

START_TEST(test_parameter_names)
{
    ck_assert_int_eq(run("rest == () and kw == {}", "E(f, 1, 2)"), 1);
    expect_error("z == 1", "E(f, 1, 2)", "parameter 'z' was not passed");
    expect_error("y == 1", "E(f, 1)", "parameter 'y' was not passed");
    ck_assert_int_eq(run("x == 1 and y == 2", "E(f, y=2, x=1)"), 1);
    ck_assert_int_eq(run("a + b + c == 6", "E(po, 1, 2, c=3)"), 1);
    ck_assert_int_eq(run("b == 2", "E(po, 1, b=2, c=3)"), 1);
    expect_error("nope", STD, "name 'nope' is not defined");
    /* Soft keywords and builtins' names are ordinary parameter names. */
    ck_assert_int_eq(run("match + case + print == 6", "E(soft, 1, 2, 3)"), 1);
    ck_assert_int_eq(run("r\xc3\xa9sum\xc3\xa9 == 'cv'", "E(uni, 'cv')"), 1);
    /* A local variable that is not a parameter is not visible. */
    ck_assert_int_eq(run("len(params) == 1", "E(plain, 1)"), 1);
    expect_error("x == 1", "(None, (1,), None, (), False, None, None, -1.0)", "not defined");
}
END_TEST

START_TEST(test_uses)
{
    char err[128];
    peeka_cond *c = peeka_cond_compile("cost > 5 and returnObj and x", err, sizeof err);
    ck_assert_ptr_nonnull(c);
    ck_assert(peeka_cond_uses(c, "cost"));
    ck_assert(peeka_cond_uses(c, "returnObj"));
    ck_assert(peeka_cond_uses(c, "x"));
    ck_assert(!peeka_cond_uses(c, "params"));
    ck_assert(!peeka_cond_uses(c, "throwExp"));
    peeka_cond_free(c);
    c = peeka_cond_compile("len(throwExp) > 0", err, sizeof err);
    ck_assert(!peeka_cond_uses(c, "len"));
    ck_assert(peeka_cond_uses(c, "throwExp"));
    peeka_cond_free(c);
}
END_TEST

/* ---- user code and run-time errors ---- */

START_TEST(test_user_code_errors_are_swallowed)
{
    expect_error("a == 1", "E(plain, Bad())", "ValueError: bad eq");
    expect_error("len(a) > 0", "E(plain, Bad())", "RuntimeError: bad len");
    expect_error("a", "E(plain, Bad())", "RuntimeError: bad bool");
    expect_error("str(a) == ''", "E(plain, Bad())", "RuntimeError: bad str");
    expect_error("not a", "E(plain, Bad())", "bad bool");
    expect_error("a and 1", "E(plain, Bad())", "bad bool");
    expect_error("{a: 1}", "E(plain, Bad())", "unhashable");
    expect_error("1 / 0", STD, "ZeroDivisionError: division by zero");
    expect_error("params[10]", STD, "IndexError");
}
END_TEST

START_TEST(test_subclass_methods_are_the_builtins)
{
    const char *env = "E(plain, MyStr('abc'), MyDict(k=1))";
    ck_assert_int_eq(run("a.startswith('a')", env), 1);
    ck_assert_int_eq(run("b.get('k') == 1", env), 1);
    /* min/max go through the list's items, not an endless __iter__. */
    ck_assert_int_eq(run("max(a) == 3 and min(a) == 1", "E(plain, MyList([1, 3, 2]))"), 1);
    expect_error("target.lower()", "E(m, Obj(), 1, _self=True)", "method 'lower' is not allowed on 'Obj'");
}
END_TEST

START_TEST(test_in_never_iterates)
{
    expect_error("1 in a", "E(plain, G)", "'in' needs a container");
    expect_error("max(a) == 1", "E(plain, G)", "min()/max() take");
    PyObject *r = PyRun_String("next(G)", Py_eval_input, g_ns, g_ns);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(PyLong_AsLong(r), 1);
    Py_DECREF(r);
}
END_TEST

START_TEST(test_pending_exception_is_preserved)
{
    char err[128];
    peeka_cond *bad = peeka_cond_compile("1 / 0", err, sizeof err);
    peeka_cond *good = peeka_cond_compile("x == 5", err, sizeof err);
    tenv t;
    tenv_init(&t, STD);
    PyErr_SetString(PyExc_KeyError, "pending");
    ck_assert_int_eq(peeka_cond_eval(bad, &t.env), -1);
    ck_assert(PyErr_ExceptionMatches(PyExc_KeyError));
    ck_assert_int_eq(peeka_cond_eval(good, &t.env), 1);
    ck_assert(PyErr_ExceptionMatches(PyExc_KeyError));
    PyErr_Clear();
    ck_assert_int_eq(peeka_cond_eval(bad, &t.env), -1);
    ck_assert(!PyErr_Occurred());
    Py_DECREF(t.tuple);
    peeka_cond_free(bad);
    peeka_cond_free(good);
}
END_TEST

/* ---- compile errors ---- */

static const struct { const char *src; const char *want; } COMPILE_ERRORS[] = {
    {"", "col 1: empty condition"},
    {"   ", "col 4: empty condition"},
    {"x +", "col 4: unexpected end of condition"},
    {"x == 1 and", "col 11: unexpected end of condition"},
    {"'abc", "col 1: unterminated string"},
    {"x == 'a\nb'", "col 6: unterminated string"},
    {"x $ 1", "col 3: unexpected character '$'"},
    {"x \x01", "col 3: unexpected byte 0x01"},
    {"'\xff'", "col 2: invalid UTF-8 in string"},
    {"r'\\\xe3\t'", "col 4: invalid UTF-8 in string"},
    {"012", "col 1: leading zeros in decimal integer literals are not permitted"},
    {"1j", "col 1: complex numbers are not supported"},
    {"1__0", "col 1: invalid number literal"},
    {"0x", "col 1: invalid number literal"},
    {"1abc", "col 1: invalid number literal"},
    {"x << 1", "col 3: operator '<<' is not supported"},
    {"x | 1", "col 3: operator '|' is not supported"},
    {"x == 1 ; y", "col 8: only one expression is allowed"},
    {"1 +* 2", "col 4: unexpected '*'"},
    {"2 ** ** 2", "col 6: unexpected '**'"},
    {"params[0", "col 9: expected ']'"},
    {"len(x", "col 6: unexpected end of condition"},
    {"[1 2]", "col 4: unexpected '2'"},
    {"(1, 2", "col 6: unexpected end of condition"},
    {"x[1, 2]", "col 4: tuple subscripts are not supported"},
    {"{1, 2}", "col 3: expected ':' (set literals are not supported)"},
    {"x if y", "col 7: expected 'else'"},
    {"not", "col 4: unexpected end of condition"},
    {"x not y", "col 7: expected 'in' after 'not'"},
    {"x and or y", "col 7: unexpected 'or'"},
    {"f'x'", "col 1: f-strings are not supported"},
    {"ur'x'", "col 1: invalid string prefix"},
    {"b'\xc3\xa9'", "col 3: bytes can only contain ASCII literal characters"},
    {"'a' b'b'", "col 5: cannot mix bytes and str literals"},
    {"'\\N{DASH}'", "col 2: \\N{...} escapes are not supported"},
    {"'\\x4'", "col 2: truncated \\x escape"},
    {"'\\U00110000'", "col 2: illegal Unicode character"},
    {"b'\\777'", "col 3: octal escape out of range"},
    {"x.", "col 3: expected an attribute name after '.'"},
    {"x.format()", "col 3: method 'format' is not allowed"},
    {"len(x, key=1)", "col 11: keyword arguments are not supported"},
    {"params[0](1)", "col 10: only len, str, int, float, bool, abs, min, max"},
    {"yield x", "col 1: 'yield' is not allowed in a condition"},
    {"x if y else", "col 12: unexpected end of condition"},
    {")", "col 1: unexpected ')'"},
    {"x = 1", "col 3: assignment is not allowed (use == to compare)"},
    {"x += 1", "col 3: assignment is not allowed"},
    {"x.if", "col 3: expected an attribute name after '.'"},
    {"x.None", "col 3: expected an attribute name after '.'"},
    {"x # caf\xe9", "col 8: invalid UTF-8 in comment"},
    {"x \xc3\xa9", "col 3: unexpected '\xc3\xa9'"},
};

START_TEST(test_compile_errors)
{
    expect_compile_error(COMPILE_ERRORS[_i].src, COMPILE_ERRORS[_i].want);
}
END_TEST

/* ---- what must never run ---- */

static const struct { const char *src; const char *want; } BLOCKED[] = {
    {"__class__", "col 1: name '__class__' is not allowed"},
    {"x.__class__", "col 3: attribute '__class__' is not allowed (names starting with '_' are blocked)"},
    {"x._y", "col 3: attribute '_y' is not allowed"},
    {"target.__class__.__subclasses__()", "col 8: attribute '__class__'"},
    {"open('f')", "col 1: 'open' cannot be called"},
    {"__import__('os')", "col 1: name '__import__' is not allowed"},
    {"exec('1')", "col 1: 'exec' cannot be called"},
    {"getattr(x, 'y')", "col 1: 'getattr' cannot be called"},
    {"lambda: 1", "col 1: lambda is not allowed"},
    {"(lambda: 1)()", "col 2: lambda is not allowed"},
    {"[a for a in params]", "col 4: comprehensions are not allowed"},
    {"(a for a in params)", "col 4: comprehensions are not allowed"},
    {"{k: v for k, v in kwargs.items()}", "col 7: comprehensions are not allowed"},
    {"(y := 1)", "col 4: assignment expressions (:=) are not allowed"},
    {"x.y = 1", "col 5: assignment is not allowed"},
    {"import os", "col 1: import is not allowed"},
    {"'{}'.format(x)", "col 6: method 'format' is not allowed"},
    {"x.__dict__", "col 3: attribute '__dict__'"},
};

START_TEST(test_blocked)
{
    expect_compile_error(BLOCKED[_i].src, BLOCKED[_i].want);
}
END_TEST

/* A builtin's name as a value is just an unknown name: the function or
 * type object itself is out of reach. */
START_TEST(test_builtins_are_not_values)
{
    expect_error("str.join", STD, "name 'str' is not defined");
    expect_error("len", STD, "name 'len' is not defined");
}
END_TEST

/* ---- limits ---- */

static char *repeat(const char *head, const char *unit, int n, const char *tail)
{
    size_t len = strlen(head) + strlen(unit) * (size_t)n + strlen(tail) + 1;
    char *s = malloc(len);
    ck_assert_ptr_nonnull(s);
    strcpy(s, head);
    for (int i = 0; i < n; i++)
        strcat(s, unit);
    strcat(s, tail);
    return s;
}

/* prefix * n + middle + suffix * n compiles at n = 60, not at n = 70. */
static void expect_nesting(const char *prefix, const char *middle, const char *suffix)
{
    static const int ns[2] = { 60, 70 };
    for (int k = 0; k < 2; k++) {
        char err[256];
        char *tail = repeat(middle, suffix, ns[k], "");
        char *s = repeat("", prefix, ns[k], tail);
        peeka_cond *c = peeka_cond_compile(s, err, sizeof err);
        if (k == 0)
            ck_assert_msg(c != NULL, "%d levels of '%s' should compile: %s", ns[k], s, err);
        else
            ck_assert_msg(c == NULL && strstr(err, "nested too deeply (limit 64)"),
                          "%d levels of '%s': got '%s'", ns[k], s, c ? "compiled" : err);
        peeka_cond_free(c);
        free(s);
        free(tail);
    }
}

START_TEST(test_nesting_limit)
{
    expect_nesting("(", "1", ")");
    expect_nesting("[", "1", "]");
    expect_nesting("{1: ", "1", "}");
    expect_nesting("not ", "x", "");
    expect_nesting("-", "1", "");
    expect_nesting("2 ** ", "2", "");
    expect_nesting("", "x", ".a");
    expect_nesting("", "x", "[0]");
    expect_nesting("x[", "0", "]");
    expect_nesting("len(", "x", ")");
    expect_nesting("x.count(", "x", ")");
    expect_nesting("x if x else ", "x", "");
    char err[256];
    char *s = repeat("", "(", 10000, "");
    ck_assert_ptr_null(peeka_cond_compile(s, err, sizeof err));
    ck_assert_msg(strstr(err, "col 4097: condition longer than 4096 bytes"), "got '%s'", err);
    free(s);
}
END_TEST

START_TEST(test_size_limits)
{
    char err[256];
    char *s = repeat("1", " + 1", 200, "");
    peeka_cond *c = peeka_cond_compile(s, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    tenv t;
    tenv_init(&t, STD);
    ck_assert_int_eq(peeka_cond_eval(c, &t.env), 1);
    Py_DECREF(t.tuple);
    peeka_cond_free(c);
    free(s);
    s = repeat("1", "+1", 600, "");
    ck_assert_ptr_null(peeka_cond_compile(s, err, sizeof err));
    ck_assert_msg(strstr(err, "expression too large (limit 512 nodes)"), "got '%s'", err);
    free(s);
    s = repeat("x == '", "a", 4089, "'");
    ck_assert_int_eq(strlen(s), 4096);
    c = peeka_cond_compile(s, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    peeka_cond_free(c);
    free(s);
    s = repeat("x == '", "a", 4090, "'");
    ck_assert_ptr_null(peeka_cond_compile(s, err, sizeof err));
    ck_assert_str_eq(err, "col 4097: condition longer than 4096 bytes");
    free(s);
}
END_TEST

START_TEST(test_work_is_bounded)
{
    expect_error("2 ** 10 ** 9 > 0", STD, "OverflowError: integer result larger than 65536 bits");
    expect_error("10 ** 100000 > 0", STD, "larger than 65536 bits");
    expect_error("(2 ** 60000) * (2 ** 60000) > 0", STD, "larger than 65536 bits");
    expect_error("'a' * 10 ** 9", STD, "MemoryError: condition would build more than");
    expect_error("10 ** 18 * 'a'", STD, "MemoryError");
    expect_error("[0] * 10 ** 7", STD, "MemoryError");
    expect_error("'a' * 10 ** 6 * 10 ** 6", STD, "MemoryError");
    expect_error("('a' * 600000 + 'b' * 600000)", STD, "MemoryError");
    expect_error("('a' * 2000).replace('a', 'a' * 1000)", STD, "MemoryError");
    expect_error("'a'.replace('', 'b' * 2000000)", STD, "MemoryError");
    expect_error("'%0999999999d' % 1", STD, "string formatting with % is not supported");
    expect_error("max('a' * 20000) == 'a'", STD, "exceeded 10000 evaluation steps");
    expect_error("int('1' * 5000) > 0", STD, "int() of a string longer than 4300");
    expect_error("str(2 ** 65536 + 2 ** 65535) > ''", STD, "larger than 65536 bits");
    /* ... while ordinary sizes still work. */
    ck_assert_int_eq(run("len('ab' * 1000) == 2000", STD), 1);
    ck_assert_int_eq(run("2 ** 60000 > 10 ** 15000", STD), 1);
    ck_assert_int_eq(run("('ab' * 1000).replace('a', 'xyz').count('x') == 1000", STD), 1);
    ck_assert_int_eq(run("max('a' * 5000) == 'a'", STD), 1);
    ck_assert_int_eq(run("len(str(2 ** 10000)) > 3000", STD), 1);
}
END_TEST

/* ---- no leaks, no references lost ---- */

static long allocated_blocks(void)
{
    /* Collected first and then kept off, so that garbage from elsewhere
     * does not move the numbers while the conditions run. */
    PyObject *r = PyRun_String("(gc.collect(), gc.disable(), sys.getallocatedblocks())[2]",
                               Py_eval_input, g_ns, g_ns);
    ck_assert_ptr_nonnull(r);
    long n = PyLong_AsLong(r);
    Py_DECREF(r);
    return n;
}

START_TEST(test_no_leaks)
{
    tenv t;
    tenv_init(&t, STD);
    PyObject *watched[40];
    Py_ssize_t refs[40], nw = 0;
    /* Small ints and short strings are shared with interpreter caches,
     * which take and drop references of their own. */
    for (Py_ssize_t k = 0; k < t.env.nargs + PyTuple_GET_SIZE(t.env.kwnames); k++)
        if (!PyLong_Check(t.argv[k]) && !PyUnicode_Check(t.argv[k]))
            watched[nw++] = t.argv[k];
    watched[nw++] = t.env.code;
    watched[nw++] = t.env.ret;
    watched[nw++] = t.env.exc;
    watched[nw++] = t.env.kwnames;
    size_t count = sizeof ORACLE / sizeof ORACLE[0];
    peeka_cond **cs = calloc(count, sizeof *cs);
    char err[256];
    for (size_t i = 0; i < count; i++)
        ck_assert_ptr_nonnull(cs[i] = peeka_cond_compile(ORACLE[i].src, err, sizeof err));
    /* Interpreter caches fill up slowly and then stop (or grow in bursts);
     * a leak of even one block per evaluation of one condition grows every
     * window of `rounds` by at least `rounds`.  So the quietest of three
     * windows tells a leak from a cache, whatever one window's burst. */
    const int warmup = 400, rounds = 200, windows = 3;
    long quietest = -1, last = 0;
    for (int round = 0; round < warmup + windows * rounds; round++) {
        if (round >= warmup && (round - warmup) % rounds == 0) {
            long now = allocated_blocks();
            if (round > warmup && (quietest < 0 || now - last < quietest))
                quietest = now - last;
            last = now;
            if (round == warmup)
                for (Py_ssize_t k = 0; k < nw; k++)
                    refs[k] = Py_REFCNT(watched[k]);
        }
        for (size_t i = 0; i < count; i++)
            peeka_cond_eval(cs[i], &t.env);
    }
    long now = allocated_blocks();
    if (quietest < 0 || now - last < quietest)
        quietest = now - last;
    for (Py_ssize_t k = 0; k < nw; k++)
        ck_assert_msg(Py_REFCNT(watched[k]) == refs[k], "reference count of watched[%zd] changed", k);
    ck_assert_msg(quietest < rounds / 2, "every window of %d rounds of %zu conditions grew the heap "
                  "(the quietest by %ld blocks): a leak", rounds, count, quietest);
    for (size_t i = 0; i < count; i++)
        peeka_cond_free(cs[i]);
    free(cs);
    Py_DECREF(t.tuple);
}
END_TEST

START_TEST(test_error_buffer_bounds)
{
    char err[8];
    ck_assert_ptr_null(peeka_cond_compile("x +", err, sizeof err));
    ck_assert_str_eq(err, "col 4: ");
    ck_assert_ptr_null(peeka_cond_compile("x +", NULL, 0));
    ck_assert_ptr_null(peeka_cond_compile(NULL, err, sizeof err));
    ck_assert_int_eq(peeka_cond_uses(NULL, "x"), 0);
    peeka_cond_free(NULL);
}
END_TEST

static Suite *cond_suite(void)
{
    Suite *s = suite_create("cond");
    TCase *tc = tcase_create("cond");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_grammar_matches_python, 0, (int)(sizeof ORACLE / sizeof ORACLE[0]));
    tcase_add_test(tc, test_target_and_self);
    tcase_add_test(tc, test_entry_and_exit_values);
    tcase_add_test(tc, test_parameter_names);
    tcase_add_test(tc, test_uses);
    tcase_add_test(tc, test_user_code_errors_are_swallowed);
    tcase_add_test(tc, test_subclass_methods_are_the_builtins);
    tcase_add_test(tc, test_in_never_iterates);
    tcase_add_test(tc, test_pending_exception_is_preserved);
    tcase_add_loop_test(tc, test_compile_errors, 0, (int)(sizeof COMPILE_ERRORS / sizeof COMPILE_ERRORS[0]));
    tcase_add_loop_test(tc, test_blocked, 0, (int)(sizeof BLOCKED / sizeof BLOCKED[0]));
    tcase_add_test(tc, test_builtins_are_not_values);
    tcase_add_test(tc, test_nesting_limit);
    tcase_add_test(tc, test_size_limits);
    tcase_add_test(tc, test_work_is_bounded);
    tcase_add_test(tc, test_no_leaks);
    tcase_add_test(tc, test_error_buffer_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    Py_InitializeEx(0);
    g_ns = PyDict_New();
    PyDict_SetItemString(g_ns, "__builtins__", PyEval_GetBuiltins());
    PyObject *r = PyRun_String(SETUP, Py_file_input, g_ns, g_ns);
    if (!r) {
        PyErr_Print();
        return 2;
    }
    Py_DECREF(r);
    SRunner *sr = srunner_create(cond_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
