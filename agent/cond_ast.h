/* The compiled form of a condition, shared by cond_parse.c (which builds it
 * without any Python API, so it can be fuzzed alone) and cond_eval.c.
 * Grammar and semantics: docs/conditions.md. */
#ifndef PEEKA_COND_AST_H
#define PEEKA_COND_AST_H

#include <stddef.h>
#include <stdint.h>

#define COND_MAX_SRC   4096   /* bytes of source */
#define COND_MAX_NODES 512
#define COND_MAX_DEPTH 64     /* parser nesting and tree height */

enum cond_kind {
    CN_INT = 1,   /* v.i */
    CN_BIGINT,    /* v.s: digits (prefix kept, no '_'); op = base */
    CN_FLOAT,     /* v.f */
    CN_STR,       /* v.s: UTF-8 (may hold surrogates: decode "surrogatepass") */
    CN_BYTES,     /* v.s */
    CN_CONST,     /* op: CC_TRUE, CC_FALSE, CC_NONE */
    CN_NAME,      /* v.s; op: a cond_name */
    CN_TUPLE,     /* children from a */
    CN_LIST,      /* children from a */
    CN_DICT,      /* children from a: key, value, key, value ... */
    CN_UNARY,     /* op: CU_*; a */
    CN_ARITH,     /* children from a; each child after the first has its CA_* in cop */
    CN_BOOL,      /* op: CB_AND / CB_OR; children from a */
    CN_NOT,       /* a */
    CN_COMPARE,   /* children from a; each child after the first has its CC_* in cop */
    CN_IFEXP,     /* a if b else c */
    CN_SUBSCRIPT, /* a[b] */
    CN_SLICE,     /* a:b:c, each -1 when omitted */
    CN_ATTR,      /* a.v.s */
    CN_CALL,      /* builtin op (CF_*), args from a */
    CN_METHOD,    /* a.v.s(args from b); op: CM_* */
};

enum { CC_TRUE = 1, CC_FALSE, CC_NONE };
enum { CU_NEG = 1, CU_POS, CU_INVERT };
enum { CA_ADD = 1, CA_SUB, CA_MUL, CA_DIV, CA_FLOORDIV, CA_MOD, CA_POW };
enum { CB_AND = 1, CB_OR };
enum { CMP_LT = 1, CMP_LE, CMP_EQ, CMP_NE, CMP_GT, CMP_GE,
       CMP_IN, CMP_NOT_IN, CMP_IS, CMP_IS_NOT };

/* Names with a fixed meaning; anything else is one of the function's
 * parameters, looked up at evaluation time. */
enum cond_name { NM_PARAM = 0, NM_PARAMS, NM_KWARGS, NM_TARGET, NM_RETURN,
                 NM_THROW, NM_COST };

enum cond_func { CF_LEN = 1, CF_STR, CF_INT, CF_FLOAT, CF_BOOL, CF_ABS,
                 CF_MIN, CF_MAX };

/* Whitelisted methods; which builtin types may use each is cond_eval's
 * business (the receiver's type is only known then). */
enum cond_method {
    CM_STARTSWITH = 1, CM_ENDSWITH, CM_LOWER, CM_UPPER, CM_STRIP, CM_LSTRIP,
    CM_RSTRIP, CM_SPLIT, CM_FIND, CM_COUNT, CM_REPLACE, CM_ISDIGIT,
    CM_ISALPHA, CM_GET, CM_KEYS, CM_VALUES, CM_ITEMS, CM_INDEX
};

typedef struct {
    uint8_t kind;
    uint8_t op;
    uint8_t cop;        /* operator joining this node to the previous sibling */
    uint8_t height;
    uint16_t col;       /* 1-based byte column in the source */
    int16_t a, b, c;    /* child node indexes, -1 for none */
    int16_t next;       /* next sibling in a child list, -1 at the end */
    union {
        int64_t i;
        double f;
        struct { uint32_t off, len; } s;   /* into pool, NUL-terminated */
    } v;
} cond_node;

struct peeka_cond {
    const cond_node *nodes;
    int nnodes;
    int root;
    const char *pool;
};

/* Name and method tables, shared so both halves agree on spelling. */
extern const char *const cond_func_names[];     /* indexed by CF_* */
extern const char *const cond_method_names[];   /* indexed by CM_* */

#endif
