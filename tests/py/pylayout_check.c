/* Compiled by tests/test_python_stacks.py against each installed CPython's own headers: the
 * row of shim/pylayout.h for that version must hold the offsets the headers give, field by
 * field (a CPython release that moved one would make the walk read the wrong field). Prints
 * `unit: all passed` when it does. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#include <stddef.h>
#if PY_VERSION_HEX >= 0x030b0000
#include "internal/pycore_frame.h"
#endif
#if PY_VERSION_HEX >= 0x03090000
#include "internal/pycore_runtime.h"
#else
#include "internal/pycore_pystate.h"
#endif

#include "../../shim/pylayout.h"
#include "../unit/unit.h"

static const struct fdl_py_layout *row(void)
{
    const struct fdl_py_layout *r = NULL;
    for (size_t i = 0; i < sizeof fdl_py_layouts / sizeof fdl_py_layouts[0]; i++)
        if (PY_VERSION_HEX >= fdl_py_layouts[i].min && PY_VERSION_HEX <= fdl_py_layouts[i].max)
            r = &fdl_py_layouts[i];
    return r;
}

static void test_layout(void)
{
    const struct fdl_py_layout *l = row();
    EXPECT(l != NULL);
    if (!l)
        return;
    EXPECT_EQ(l->str_state, offsetof(PyASCIIObject, state));
    EXPECT_EQ(l->str_ascii_data, sizeof(PyASCIIObject));
    EXPECT_EQ(l->str_data, sizeof(PyCompactUnicodeObject));
    EXPECT_EQ(l->co_firstlineno, offsetof(PyCodeObject, co_firstlineno));
    EXPECT_EQ(l->co_filename, offsetof(PyCodeObject, co_filename));
    EXPECT_EQ(l->co_name, offsetof(PyCodeObject, co_name));
#if PY_VERSION_HEX >= 0x030c0000
    EXPECT_EQ(l->rt_audit_head, offsetof(_PyRuntimeState, audit_hooks.head));
#else
    EXPECT_EQ(l->rt_audit_head, offsetof(_PyRuntimeState, audit_hook_head));
#endif
#if PY_VERSION_HEX >= 0x030b0000
    EXPECT_EQ(l->frames, FDL_PY_INTERP_FRAMES);
    EXPECT_EQ(l->lines, FDL_PY_LOCATIONS);
#if PY_VERSION_HEX >= 0x030d0000
    EXPECT_EQ(l->ts_cframe, 0);
    EXPECT_EQ(l->ts_frame, offsetof(PyThreadState, current_frame));
    EXPECT_EQ(l->fr_code, offsetof(_PyInterpreterFrame, f_executable));
    EXPECT_EQ(l->fr_instr, offsetof(_PyInterpreterFrame, instr_ptr));
#else
    EXPECT_EQ(l->ts_cframe, offsetof(PyThreadState, cframe));
    EXPECT_EQ(l->ts_frame, offsetof(_PyCFrame, current_frame));
    EXPECT_EQ(l->fr_code, offsetof(_PyInterpreterFrame, f_code));
    EXPECT_EQ(l->fr_instr, offsetof(_PyInterpreterFrame, prev_instr));
#endif
    EXPECT_EQ(l->ts_chunk, offsetof(PyThreadState, datastack_chunk));
    EXPECT_EQ(l->fr_previous, offsetof(_PyInterpreterFrame, previous));
    EXPECT_EQ(l->fr_size, sizeof(_PyInterpreterFrame));
    EXPECT_EQ(l->has_owner, PY_VERSION_HEX >= 0x030c0000);
#if PY_VERSION_HEX >= 0x030c0000
    EXPECT_EQ(l->fr_owner, offsetof(_PyInterpreterFrame, owner));
    EXPECT_EQ(FDL_PY_OWNED_BY_CSTACK, FRAME_OWNED_BY_CSTACK);
#endif
    EXPECT_EQ(l->co_code, offsetof(PyCodeObject, co_code_adaptive));
    EXPECT_EQ(l->co_firsttraceable, offsetof(PyCodeObject, _co_firsttraceable));
    EXPECT_EQ(l->co_linetable, offsetof(PyCodeObject, co_linetable));
#else
    EXPECT_EQ(l->frames, FDL_PY_FRAME_OBJECTS);
    EXPECT_EQ(l->ts_cframe, 0);
    EXPECT_EQ(l->ts_frame, offsetof(PyThreadState, frame));
    EXPECT_EQ(l->fr_previous, offsetof(PyFrameObject, f_back));
    EXPECT_EQ(l->fr_code, offsetof(PyFrameObject, f_code));
    EXPECT_EQ(l->fr_instr, offsetof(PyFrameObject, f_lasti));
    EXPECT_EQ(l->fr_size, sizeof(PyFrameObject));
    EXPECT_EQ(l->co_code, offsetof(PyCodeObject, co_code));
    EXPECT_EQ(l->co_firsttraceable, 0);
#if PY_VERSION_HEX >= 0x030a0000
    EXPECT_EQ(l->lines, FDL_PY_LINETABLE);
    EXPECT_EQ(l->lasti_bytes, 0);
    EXPECT_EQ(l->co_linetable, offsetof(PyCodeObject, co_linetable));
#else
    EXPECT_EQ(l->lines, FDL_PY_LNOTAB);
    EXPECT_EQ(l->lasti_bytes, 1);
    EXPECT_EQ(l->co_linetable, offsetof(PyCodeObject, co_lnotab));
#endif
#endif
}

int main(void)
{
    RUN(test_layout);
    return UNIT_RESULT();
}
