/* The table peeka-rec reads out of this agent's file to walk a 3.8-3.12
 * process from outside (common/py_layout.h): offsetof and sizeof of this
 * interpreter's own structures, so the compiler, not a hand-copied
 * number, says where each field is.  The only file of the agent built
 * with Py_BUILD_CORE and the internal headers (mk/agent.mk): the rest
 * keeps to the public API.  3.13+ publish _Py_DebugOffsets instead, so
 * there the table is not built. */
#include <Python.h>

#if PY_VERSION_HEX < 0x030d0000

#include <stddef.h>

#include "py_layout.h"

#if PY_MINOR_VERSION >= 9
#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"
#else
#include "internal/pycore_pystate.h"   /* 3.8 keeps the runtime and interpreter here */
#endif
#if PY_MINOR_VERSION >= 11
#include "internal/pycore_frame.h"
#else
#include <frameobject.h>
#endif

#if PY_MINOR_VERSION >= 11
#define THREADS_HEAD threads.head
#define FRAME_STRUCT _PyInterpreterFrame
#define FR_PREVIOUS previous
#define FR_INSTR prev_instr
#define TS_FRAME cframe
#else
#define THREADS_HEAD tstate_head
#define FRAME_STRUCT PyFrameObject
#define FR_PREVIOUS f_back
#define FR_INSTR f_lasti
#define TS_FRAME frame
#endif
#if PY_MINOR_VERSION >= 10
#define CO_LINETABLE co_linetable
#else
#define CO_LINETABLE co_lnotab
#endif

__attribute__((visibility("default"), used)) const pk_py_layout peeka_py_layout = {
    .magic = PEEKA_PY_LAYOUT_MAGIC,
    .version = PEEKA_PY_LAYOUT_VERSION,
    .size = sizeof(pk_py_layout),
    .py_major = PY_MAJOR_VERSION,
    .py_minor = PY_MINOR_VERSION,
    .rt_interpreters_head = offsetof(_PyRuntimeState, interpreters.head),
#if PY_MINOR_VERSION >= 12
    .in_gil_ptr = offsetof(PyInterpreterState, ceval.gil),
#else
    .rt_gil = offsetof(_PyRuntimeState, ceval.gil),
#endif
    .in_threads_head = offsetof(PyInterpreterState, THREADS_HEAD),
    .gil_locked = offsetof(struct _gil_runtime_state, locked),
    .gil_last_holder = offsetof(struct _gil_runtime_state, last_holder),
    .gil_switch_number = offsetof(struct _gil_runtime_state, switch_number),
    .ts_next = offsetof(PyThreadState, next),
    .ts_thread_id = offsetof(PyThreadState, thread_id),
#if PY_MINOR_VERSION >= 11
    .ts_native_id = offsetof(PyThreadState, native_thread_id),
    .cf_current_frame = offsetof(_PyCFrame, current_frame),
    .fr_owner = offsetof(_PyInterpreterFrame, owner),
    .co_code_adaptive = offsetof(PyCodeObject, co_code_adaptive),
#endif
    .ts_frame = offsetof(PyThreadState, TS_FRAME),
    .fr_previous = offsetof(FRAME_STRUCT, FR_PREVIOUS),
    .fr_code = offsetof(FRAME_STRUCT, f_code),
    .fr_instr = offsetof(FRAME_STRUCT, FR_INSTR),
    .fr_size = sizeof(FRAME_STRUCT),
    .co_filename = offsetof(PyCodeObject, co_filename),
    .co_name = offsetof(PyCodeObject, co_name),
    .co_firstlineno = offsetof(PyCodeObject, co_firstlineno),
    .co_linetable = offsetof(PyCodeObject, CO_LINETABLE),
    .ob_type = offsetof(PyObject, ob_type),
    .tp_name = offsetof(PyTypeObject, tp_name),
    .bytes_size = offsetof(PyVarObject, ob_size),
    .bytes_sval = offsetof(PyBytesObject, ob_sval),
    .str_state = offsetof(PyASCIIObject, state),
    .str_length = offsetof(PyASCIIObject, length),
    .str_ascii_size = sizeof(PyASCIIObject),
    .str_compact_size = sizeof(PyCompactUnicodeObject),
};

#endif
