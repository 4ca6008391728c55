/* Where CPython 3.8-3.12 keep what peeka-rec reads from outside (the
 * thread list, the frames, the GIL).  Those versions publish no
 * _Py_DebugOffsets, so each per-version agent carries this table,
 * computed by its compiler from that interpreter's own internal headers
 * (agent/py_layout.c), and peeka-rec reads it out of the agent's file
 * (recorder/py_layout_read.c) without loading it.  A field a version does
 * not have is 0; which fields a version has is said per field. */
#ifndef PEEKA_PY_LAYOUT_H
#define PEEKA_PY_LAYOUT_H

#include <stdint.h>

#define PEEKA_PY_LAYOUT_MAGIC "peekaPyL"
#define PEEKA_PY_LAYOUT_VERSION 1u
#define PEEKA_PY_LAYOUT_SYMBOL "peeka_py_layout"

typedef struct pk_py_layout {
    char magic[8];                 /* PEEKA_PY_LAYOUT_MAGIC, no NUL */
    uint32_t version;              /* PEEKA_PY_LAYOUT_VERSION */
    uint32_t size;                 /* sizeof(pk_py_layout) */
    uint32_t py_major, py_minor;   /* of the headers it was computed from */
    /* _PyRuntime */
    uint32_t rt_interpreters_head; /* interpreters.head */
    uint32_t rt_gil;               /* ceval.gil (3.8-3.11; 0 on 3.12) */
    /* PyInterpreterState */
    uint32_t in_threads_head;      /* tstate_head (3.8-3.10), threads.head (3.11+) */
    uint32_t in_gil_ptr;           /* ceval.gil, a pointer (3.12; 0 before) */
    /* struct _gil_runtime_state */
    uint32_t gil_locked, gil_last_holder, gil_switch_number;
    /* PyThreadState */
    uint32_t ts_next, ts_thread_id;
    uint32_t ts_native_id;         /* native_thread_id (3.11+; 0 before) */
    uint32_t ts_frame;             /* frame (3.8-3.10), cframe (3.11+) */
    uint32_t cf_current_frame;     /* _PyCFrame.current_frame (3.11+) */
    /* the frame: PyFrameObject (3.8-3.10), _PyInterpreterFrame (3.11+) */
    uint32_t fr_previous;          /* f_back, previous */
    uint32_t fr_code;              /* f_code */
    uint32_t fr_instr;             /* f_lasti (an int), prev_instr (a pointer) */
    uint32_t fr_owner;             /* owner, a char (3.11+) */
    uint32_t fr_size;              /* sizeof the frame struct */
    /* PyCodeObject */
    uint32_t co_filename, co_name, co_firstlineno;
    uint32_t co_linetable;         /* co_lnotab (3.8, 3.9), co_linetable (3.10+) */
    uint32_t co_code_adaptive;     /* where the instructions start (3.11+) */
    /* objects */
    uint32_t ob_type, tp_name, bytes_size, bytes_sval;
    uint32_t str_state, str_length;
    uint32_t str_ascii_size;       /* sizeof(PyASCIIObject) */
    uint32_t str_compact_size;     /* sizeof(PyCompactUnicodeObject) */
} pk_py_layout;

#endif
