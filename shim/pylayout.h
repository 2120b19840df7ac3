/* CPython layouts the Python-stack walk (python.c) reads: byte offsets of the fields it needs
 * in each CPython minor version, from that version's headers (Include/cpython/ and
 * Include/internal/ headers). Fields that matter here did not move within a minor version
 * (checked against 3.8.2/3.8.18, 3.9.2/3.9.18, 3.10.4/3.10.13, 3.11.7, 3.12.1/3.12.3,
 * 3.13.0/3.13.5); tests/unit/pylayout_check.c recompiles these offsets from every installed
 * CPython's headers and fails on any difference. 3.13 publishes its own offsets in
 * _PyRuntime.debug_offsets, and python.c takes them from there; its row here is the
 * fallback and is what the test compares them with. Kept apart from python.c so that the test
 * can include it. */
#ifndef FDL_PYLAYOUT_H
#define FDL_PYLAYOUT_H

#include <stdint.h>

/* How a thread's frames are chained. */
enum {
    FDL_PY_FRAME_OBJECTS = 1, /* 3.8-3.10: tstate->frame, PyFrameObject.f_back, f_lasti */
    FDL_PY_INTERP_FRAMES = 2, /* 3.11+: _PyInterpreterFrame.previous, an instruction pointer */
};

/* How a code object maps an instruction to a line. */
enum {
    FDL_PY_LNOTAB = 1,    /* 3.8, 3.9: co_lnotab, (byte increment, signed line increment) */
    FDL_PY_LINETABLE = 2, /* 3.10: co_linetable, (byte delta, line delta or -128: no line) */
    FDL_PY_LOCATIONS = 3, /* 3.11+: the location table (Objects/locations.md) */
};

struct fdl_py_layout {
    unsigned long min, max; /* PY_VERSION_HEX range */
    uint8_t frames, lines;
    uint8_t lasti_bytes; /* FRAME_OBJECTS: f_lasti counts bytes (3.8, 3.9), not code units */
    uint8_t has_owner;   /* INTERP_FRAMES 3.12+: an owner byte marks C-stack shim frames */
    uint16_t ts_cframe;  /* 3.11, 3.12: tstate->cframe; 0 when the frame hangs off tstate */
    uint16_t ts_frame;   /* the current frame in tstate (or in the cframe) */
    uint16_t ts_chunk;   /* INTERP_FRAMES: tstate->datastack_chunk */
    uint16_t fr_code, fr_previous;
    uint16_t fr_instr; /* prev_instr (3.11, 3.12), instr_ptr (3.13) or f_lasti */
    uint16_t fr_owner, fr_size;
    uint16_t co_firstlineno, co_filename, co_name, co_linetable;
    uint16_t co_firsttraceable; /* 0: not checked */
    uint16_t co_code;           /* co_code_adaptive (inline), or the co_code bytes object */
    uint16_t str_state, str_ascii_data, str_data;
    uint16_t rt_audit_head; /* _PyRuntimeState's audit hook list head */
};

#define FDL_PY_OWNED_BY_CSTACK 3 /* 3.12+: an entry frame on the C stack, not Python code */

/* clang-format off */
static const struct fdl_py_layout fdl_py_layouts[] = {
    /* min         max          frames                lines             lb ow cf   tf  chk */
    {0x030800f0, 0x0308fffful, FDL_PY_FRAME_OBJECTS, FDL_PY_LNOTAB,     1, 0, 0,  24, 0,
     /* code prev instr owner size  firstl  file name ltab  ftrace code  state ascii data audit */
        32,  24,  104,  0,    368,  40,     104, 112, 120,  0,     48,   32,   48,   72,  1456},
    {0x030900f0, 0x0309fffful, FDL_PY_FRAME_OBJECTS, FDL_PY_LNOTAB,     1, 0, 0,  24, 0,
        32,  24,  104,  0,    368,  40,     104, 112, 120,  0,     48,   32,   48,   72,  648},
    {0x030a00f0, 0x030afffful, FDL_PY_FRAME_OBJECTS, FDL_PY_LINETABLE,  0, 0, 0,  24, 0,
        32,  24,  96,   0,    360,  40,     104, 112, 120,  0,     48,   32,   48,   72,  648},
    /* 3.11.1 on (3.11.0 clears a frame before unlinking it: gh-99729) */
    {0x030b01a0, 0x030bfffful, FDL_PY_INTERP_FRAMES, FDL_PY_LOCATIONS,  0, 0, 56, 8,  296,
        32,  48,  56,   0,    80,   72,     112, 120, 136,  168,   184,  32,   48,   72,  656},
    {0x030c00f0, 0x030cfffful, FDL_PY_INTERP_FRAMES, FDL_PY_LOCATIONS,  0, 1, 56, 0,  232,
        0,   8,   56,   70,   80,   68,     112, 120, 136,  176,   192,  32,   40,   56,  3064},
    {0x030d00f0, 0x030dfffful, FDL_PY_INTERP_FRAMES, FDL_PY_LOCATIONS,  0, 1, 0,  72, 232,
        0,   8,   56,   70,   80,   68,     112, 120, 136,  184,   200,  32,   40,   56,  10424},
};
/* clang-format on */

#endif
