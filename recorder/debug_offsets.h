/* Where CPython 3.13+ keeps what peeka reads from outside, as published in
 * its _Py_DebugOffsets (the struct at the start of _PyRuntime that tells
 * debuggers every other offset).  That struct's own layout is fixed per
 * minor version, so it is one table row per version here. */
#ifndef PEEKA_DEBUG_OFFSETS_H
#define PEEKA_DEBUG_OFFSETS_H

#include <stdint.h>

/* Offsets inside _Py_DebugOffsets of the fields peeka reads, for one
 * CPython minor version.  The struct is the interpreter's published
 * contract with debuggers: stable within a minor version, so one row per
 * version, checked against the headers by tests/fixtures/debug_offsets_check.c.
 * The PEP 768 columns (eval_breaker .. script_path_size) are 0 on 3.13,
 * which has no such route. */
typedef struct rx_layout {
    int minor;
    uint32_t size;                /* sizeof(_Py_DebugOffsets) */
    uint32_t interpreters_head;   /* runtime_state.interpreters_head */
    uint32_t threads_head;        /* interpreter_state.threads_head */
    uint32_t ts_next;             /* thread_state.next */
    uint32_t ts_native_id;        /* thread_state.native_thread_id */
    uint32_t eval_breaker;        /* debugger_support.eval_breaker */
    uint32_t support;             /* debugger_support.remote_debugger_support */
    uint32_t enabled;             /* debugger_support.remote_debugging_enabled */
    uint32_t pending;             /* debugger_support.debugger_pending_call */
    uint32_t script_path;         /* debugger_support.debugger_script_path */
    uint32_t script_path_size;    /* debugger_support.debugger_script_path_size */
    uint32_t gil_locked;          /* interpreter_state.gil_runtime_state_locked */
    uint32_t gil_holder;          /* interpreter_state.gil_runtime_state_holder */
    /* not in _Py_DebugOffsets: where _gil.switch_number is, from _gil.locked
     * (struct _gil_runtime_state of internal/pycore_gil.h) */
    uint32_t gil_switches_after_locked;
    /* for the stacks (remote_stacks.c) */
    uint32_t ts_thread_id;        /* thread_state.thread_id */
    uint32_t ts_current_frame;    /* thread_state.current_frame */
    uint32_t fr_previous;         /* interpreter_frame.previous */
    uint32_t fr_executable;       /* interpreter_frame.executable */
    uint32_t fr_instr_ptr;        /* interpreter_frame.instr_ptr */
    uint32_t fr_owner;            /* interpreter_frame.owner */
    uint32_t co_filename;         /* code_object.filename */
    uint32_t co_name;             /* code_object.name */
    uint32_t co_linetable;        /* code_object.linetable */
    uint32_t co_firstlineno;      /* code_object.firstlineno */
    uint32_t co_code_adaptive;    /* code_object.co_code_adaptive */
    uint32_t ob_type;             /* pyobject.ob_type */
    uint32_t tp_name;             /* type_object.tp_name */
    uint32_t bytes_size;          /* bytes_object.ob_size */
    uint32_t bytes_sval;          /* bytes_object.ob_sval */
    uint32_t str_state;           /* unicode_object.state */
    uint32_t str_length;          /* unicode_object.length */
    uint32_t str_ascii_size;      /* unicode_object.asciiobject_size */
    /* not in _Py_DebugOffsets before 3.15: sizeof(PyCompactUnicodeObject),
     * where a compact string's characters start when it is not ASCII */
    uint32_t str_compact_size;
} rx_layout;

/* The row for 3.minor, or NULL when peeka does not know that version's. */
const rx_layout *rx_layout_for(int major, int minor);

#endif
