/* Python stacks for CPython processes.
 *
 * The walk (CPython 3.8 to 3.13; 3.11 from 3.11.1). Every acquisition made by a thread that
 * runs Python code gets that thread's Python stack, read from the interpreter's own frame
 * chain the way out-of-process profilers (py-spy, austin) read it: no API call, no reference
 * taken, no GIL. Up to 3.10 the chain is tstate->frame and each PyFrameObject's f_back, the
 * line from f_lasti and the code's lnotab (3.8, 3.9) or linetable (3.10); from 3.11 it is the
 * current _PyInterpreterFrame (through tstate->cframe in 3.11 and 3.12) and each one's
 * previous, the line from its instruction pointer and the location table; 3.12+ entry frames
 * owned by the C stack (where C called back into Python) are stepped over. The GIL is usually
 * released at that moment (the interpreter drops it around open(), pipe(), accept()), but the
 * chain is this thread's own and the thread is blocked in our wrapper, so it cannot change
 * under us; on 3.11.1+ a frame is unlinked before it is cleared (gh-99729), so every linked
 * frame holds its code object. The thread state comes from PyGILState_GetThisThreadState (a
 * thread-specific key: no GIL needed). Offsets are each minor version's layout (pylayout.h,
 * from its headers; the library needs no Python header and does not link libpython); 3.13
 * publishes its own in _PyRuntime.debug_offsets, and those are used. A version without a
 * layout keeps the audit hook. Loads are direct (process_vm_readv costs ~2 us a call here):
 * every pointer is checked for plausibility, every object for its type (frame, code, str,
 * bytes) before its fields are used, the first frame outside the thread's data stack (every
 * new head frame up to 3.10) and every code object seen for the first time are read through
 * fdl_safemem_read first, and every loop is bounded. Not covered: a thread whose
 * thread-specific key holds another thread's state (an embedder calling PyThreadState_New for
 * a thread from one that has none) reads a chain that can change under it; CPython's own
 * PyGILState calls would misbehave in that thread as well; and free-threaded 3.13 builds
 * (the audit hook).
 *
 * The audit hook (any other CPython from 3.9; and everywhere for the exit dump). It is
 * registered with PySys_AddAuditHook: the "open" and "socket.__new__" events fire with the
 * GIL held just before the system call, and the hook records the Python stack for the next
 * matching wrapper call in the same thread.
 *
 * When the hook is registered matters. Before the interpreter exists (our constructor) the
 * entry is allocated with the default raw allocator, and under -X dev or PYTHONMALLOC=debug
 * the interpreter frees it at exit with the debug one and aborts ("bad ID"). So the hook is
 * registered at the first call into the library made by a thread that holds the GIL: the
 * allocators are final by then. CPython's acquisitions all release the GIL, but its signal
 * set-up (sigaction, during start-up, before any user code) holds it, so signals.c offers
 * every disposition change as well as track.c's acquisitions.
 *
 * The exit dump must come before interpreter teardown, which closes every file object still
 * referenced (a dump at process exit would show no Python leak at all). So when the main
 * program is about to run ("cpython.run_*" events) the hook registers an atexit callback that
 * takes the exit dump: atexit callbacks run first in Py_FinalizeEx, after non-daemon threads
 * are joined, before modules are torn down, and ours, registered first, runs last.
 *
 * CPython is reached through dlsym, so the shim needs no Python headers. Audit hooks exist
 * since 3.8; the frame accessors the hook's capture uses (PyFrame_GetCode, PyFrame_GetBack)
 * since 3.9: 3.8 without the walk (FDLEAK_PY_WALK=0) gets C stacks only. PyFrame_GetLasti
 * (3.11) is used when present. */
#include "fdleak.h"
#include "fdtable.h"
#include "intern.h"
#include "pylayout.h"
#include "safemem.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

typedef struct py_object py_object;
typedef int (*py_audit_hook)(const char *, py_object *, void *);

static struct {
    int (*add_audit_hook)(py_audit_hook, void *);
    py_object *(*eval_get_frame)(void);        /* borrowed */
    py_object *(*frame_get_back)(py_object *); /* new reference */
    py_object *(*frame_get_code)(py_object *); /* new reference */
    int (*frame_get_line)(py_object *);
    int (*frame_get_lasti)(py_object *); /* 3.11+; NULL before */
    py_object *(*get_attr)(py_object *, const char *);
    const char *(*as_utf8)(py_object *);
    void (*incref)(py_object *);
    void (*decref)(py_object *);
    void (*err_clear)(void);
    int (*is_initialized)(void);
    int (*gil_check)(void);
    py_object *(*this_thread_state)(void);    /* PyGILState_GetThisThreadState */
    py_object *(*current_thread_state)(void); /* _PyThreadState_UncheckedGet: the GIL holder */
    py_object *(*import)(const char *);
    py_object *(*call_method)(py_object *, const char *, const char *, ...);
    py_object *(*cfunction_new)(void *def, py_object *self, py_object *module);
    py_object *none;
    int (*is_finalizing)(void); /* _Py_IsFinalizing */
} py;

/* PyMethodDef, stable ABI layout */
struct py_method_def {
    const char *name;
    py_object *(*meth)(py_object *, py_object *);
    int flags;
    const char *doc;
};
static int atexit_registered;

enum { PENDING_NONE, PENDING_OPEN, PENDING_SOCKET };
static __thread uint32_t pending;
static __thread int pending_kind;
static int hooked;       /* the audit hook is installed: this is a CPython process */
static int hook_wait;    /* a CPython process whose hook waits for a thread holding the GIL */
static int hook_capture; /* the hook can capture Python stacks itself (3.9+) */

/* accept() runs with the GIL released and raises no event; CPython raises "socket.__new__"
 * right after, to wrap the new fd in a socket object. But the same event also announces a
 * new socket(). Which one it was shows in what follows: a socket() call takes the stack as
 * usual, anything else (another acquisition, another event, exit) means the event wrapped the
 * accepted fd, and the stack is attached to that record. */
static __thread int accepted_fd = -1; /* last fd this thread accepted without a Python stack */
static __thread int deferred_fd = -1; /* accepted fd waiting for the next step to decide */
static __thread uint32_t deferred_stack;

static void commit_deferred(void)
{
    if (deferred_fd >= 0 && deferred_stack)
        fdl_table_set_pystack(deferred_fd, deferred_stack);
    deferred_fd = -1;
}

/* Code object -> interned "file\0function\0" text, so a frame costs a lookup, not two
 * attribute reads; and, per code object, the last few instruction offsets -> interned frame,
 * because PyFrame_GetLineNumber scans the code's line table from its start on every call
 * (~4,000 instructions in a long function: 70% of the capture before this cache). Entries
 * hold a reference, so a cached pointer is never a freed object. */
#define CODE_CACHE 1024
#define SITES 4
static struct {
    py_object *code;
    char text[240];
    uint32_t len;
    int lasti[SITES];
    uint32_t frame[SITES];
    unsigned next;
} code_cache[CODE_CACHE];

/* Where CPython's symbols are: the global scope, or the handle of an interpreter the program
 * loaded with dlopen (fdl_python_embedded). */
static void *py_handle = RTLD_DEFAULT;

/* Many of these are optional (other versions have other names): a failed lookup's error is
 * read back at once, so that the program's next dlerror() does not report it. */
static void *sym(const char *name)
{
    void *p = dlsym(py_handle, name);
    if (!p)
        dlerror();
    return p;
}

void *fdl_python_symbol(const char *name)
{
    return sym(name);
}

static const char *attr_text(py_object *code, const char *attr, char *dst, size_t cap)
{
    py_object *v = py.get_attr(code, attr);
    const char *s = v ? py.as_utf8(v) : NULL;
    if (!s) {
        py.err_clear();
        s = "?";
    }
    size_t l = strlen(s);
    if (l >= cap)
        s += l - (cap - 1), l = cap - 1; /* keep the end of long paths */
    memcpy(dst, s, l);
    dst[l] = 0;
    if (v)
        py.decref(v);
    return dst;
}

static uint32_t frame_id(py_object *code, py_object *frame)
{
    size_t slot = ((uintptr_t)code >> 4) % CODE_CACHE;
    __typeof__(code_cache[0]) *c = &code_cache[slot];
    if (c->code != code) {
        if (c->code)
            py.decref(c->code);
        attr_text(code, "co_filename", c->text, 160);
        size_t fl = strlen(c->text) + 1;
        attr_text(code, "co_name", c->text + fl, sizeof(c->text) - fl);
        c->len = (uint32_t)(fl + strlen(c->text + fl) + 1);
        py.incref(code);
        c->code = code;
        memset(c->frame, 0, sizeof(c->frame));
    }
    int lasti = py.frame_get_lasti ? py.frame_get_lasti(frame) : -1;
    if (lasti >= 0)
        for (int i = 0; i < SITES; i++)
            if (c->frame[i] && c->lasti[i] == lasti)
                return c->frame[i];
    char rec[4 + sizeof(c->text)];
    int line = py.frame_get_line(frame);
    uint32_t l = line > 0 ? (uint32_t)line : 0;
    memcpy(rec, &l, 4);
    memcpy(rec + 4, c->text, c->len);
    uint32_t id = fdl_intern_put(&fdl_pyframes, rec, 4 + c->len);
    if (lasti >= 0 && id) {
        unsigned k = c->next++ % SITES;
        c->lasti[k] = lasti;
        c->frame[k] = id;
    }
    return id;
}

static uint32_t capture(void)
{
    uint32_t frames[FDL_PY_DEPTH_MAX];
    int n = 0, max = fdl_cfg.py_depth;
    py_object *f = py.eval_get_frame();
    if (f)
        py.incref(f);
    while (f && n < max) {
        py_object *code = py.frame_get_code(f);
        if (code) {
            uint32_t id = frame_id(code, f);
            if (id)
                frames[n++] = id;
            py.decref(code);
        }
        py_object *back = py.frame_get_back(f);
        py.decref(f);
        f = back;
    }
    if (f)
        py.decref(f);
    return n ? fdl_intern_put(&fdl_pyframes, frames, (uint32_t)n * 4) : 0;
}

/* ---- the walk ---- */

#define OB_TYPE 8
#define OB_SIZE 16      /* PyVarObject.ob_size: code units of a code object, bytes of bytes */
#define BYTES_DATA 32   /* PyBytesObject.ob_sval */
#define STR_LENGTH 16   /* PyASCIIObject.length */
#define CHUNK_SIZE 8    /* _PyStackChunk.size */
#define CHUNK_DATA 24   /* _PyStackChunk.data */
#define WALK_EXTRA 4096 /* frames counted (not kept) past the depth limit */

static struct fdl_py_layout layout;     /* this CPython's, when known */
static const struct fdl_py_layout *lay; /* &layout once it is */
static uintptr_t code_type, str_type, bytes_type, frame_type;
static size_t code_span, frame_span; /* bytes of a code object, a frame the walk reads */

static inline uintptr_t ld(uintptr_t a)
{
    uintptr_t v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}

static inline int ld32(uintptr_t a)
{
    int v;
    memcpy(&v, (const void *)a, sizeof v);
    return v;
}

/* A plausible object or frame address: user space, 8-aligned, not in the first page. */
static inline int ptr_ok(uintptr_t p)
{
    return p >= 4096 && p < (1ul << 47) && !(p & 7);
}

static int safe_ok(uintptr_t p, size_t n)
{
    char buf[256];
    return ptr_ok(p) && n <= sizeof buf && fdl_safemem_read(buf, (const void *)p, n) == (ssize_t)n;
}

/* Whether [p, p+n) lies in one of the thread's data stack chunks (its own memory, where
 * non-generator frames live; 3.11+). */
static int in_stack(uintptr_t ts, uintptr_t p, size_t n)
{
    uintptr_t c = ld(ts + lay->ts_chunk);
    for (int i = 0; i < 64 && ptr_ok(c); i++, c = ld(c)) {
        size_t size = ld(c + CHUNK_SIZE);
        if (p >= c + CHUNK_DATA && p + n <= c + size)
            return 1;
    }
    return 0;
}

/* A str object's text as UTF-8 into dst (NUL-terminated), keeping the end of long ones. */
static void str_text(uintptr_t s, char *dst, size_t cap)
{
    strcpy(dst, "?");
    if (!ptr_ok(s) || ld(s + OB_TYPE) != str_type)
        return;
    uint32_t state;
    memcpy(&state, (const void *)(s + lay->str_state), 4);
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    size_t len = ld(s + STR_LENGTH);
    if (!compact || len > (1u << 20))
        return;
    size_t skip = 0, o = 0;
    if (ascii || kind == 1) {
        const unsigned char *d =
            (const unsigned char *)(s + (ascii ? lay->str_ascii_data : lay->str_data));
        if (len > cap / 2)
            skip = len - cap / 2;
        for (size_t i = skip; i < len && o + 3 < cap; i++) {
            unsigned c = d[i];
            if (c < 0x80) {
                dst[o++] = (char)c;
            } else {
                dst[o++] = (char)(0xc0 | c >> 6);
                dst[o++] = (char)(0x80 | (c & 63));
            }
        }
    } else if (kind == 2 || kind == 4) {
        if (len > cap / 4)
            skip = len - cap / 4;
        for (size_t i = skip; i < len && o + 5 < cap; i++) {
            uint32_t c;
            if (kind == 2) {
                uint16_t h;
                memcpy(&h, (const void *)(s + lay->str_data + 2 * i), 2);
                c = h;
            } else {
                memcpy(&c, (const void *)(s + lay->str_data + 4 * i), 4);
            }
            if (c < 0x80) {
                dst[o++] = (char)c;
            } else if (c < 0x800) {
                dst[o++] = (char)(0xc0 | c >> 6);
                dst[o++] = (char)(0x80 | (c & 63));
            } else if (c < 0x10000) {
                dst[o++] = (char)(0xe0 | c >> 12);
                dst[o++] = (char)(0x80 | ((c >> 6) & 63));
                dst[o++] = (char)(0x80 | (c & 63));
            } else if (c < 0x110000) {
                dst[o++] = (char)(0xf0 | c >> 18);
                dst[o++] = (char)(0x80 | ((c >> 12) & 63));
                dst[o++] = (char)(0x80 | ((c >> 6) & 63));
                dst[o++] = (char)(0x80 | (c & 63));
            }
        }
    } else {
        return;
    }
    dst[o] = 0;
}

static unsigned varint(const uint8_t **p, const uint8_t *end)
{
    unsigned b = *p < end ? *(*p)++ : 0, v = b & 63, shift = 0;
    while ((b & 64) && *p < end && shift < 24) {
        b = *(*p)++;
        shift += 6;
        v |= (b & 63) << shift;
    }
    return v;
}

/* The line of the instruction at byte offset `addr` in a 3.11+ location table
 * (Objects/locations.md): entries of a start byte (1, code:4, length-1:3, in code units) and
 * code-dependent data; codes 0-9 keep the line, 10-12 add code-10, 13 and 14 a signed varint,
 * 15 has no line. */
static int line_locations(const uint8_t *p, const uint8_t *end, int line, long addr)
{
    long at = 0, unit = addr / 2;
    while (p < end) {
        unsigned b = *p++, kind = (b >> 3) & 15;
        long len = (b & 7) + 1;
        if (!(b & 128))
            return 0;
        int delta = 0;
        if (kind == 13 || kind == 14) {
            unsigned v = varint(&p, end);
            delta = (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
            if (kind == 14)
                varint(&p, end), varint(&p, end), varint(&p, end);
        } else if (kind >= 10 && kind <= 12) {
            delta = (int)kind - 10;
            p += 2;
        } else if (kind < 10) {
            p += 1;
        }
        line += delta;
        if (unit < at + len)
            return kind == 15 ? 0 : line;
        at += len;
    }
    return 0;
}

/* 3.10's co_linetable (Objects/lnotab_notes.txt): pairs of a byte delta and a signed line
 * delta, -128 for instructions without a line; empty ranges only move the line. */
static int line_linetable(const uint8_t *p, const uint8_t *end, int line, long addr)
{
    long stop = 0;
    for (; p + 1 < end; p += 2) {
        long start = stop;
        int delta = (int8_t)p[1];
        stop += p[0];
        if (delta != -128)
            line += delta;
        if (stop > start && addr < stop)
            return delta == -128 ? 0 : line;
    }
    return 0;
}

/* 3.8 and 3.9's co_lnotab: pairs of a byte increment and a signed line increment. */
static int line_lnotab(const uint8_t *p, const uint8_t *end, int line, long addr)
{
    long at = 0;
    for (; p + 1 < end; p += 2) {
        at += p[0];
        if (at > addr)
            break;
        line += (int8_t)p[1];
    }
    return line;
}

/* The line of the instruction at byte offset `addr` of a code object; 0 when unknown. */
static int line_of(uintptr_t code, long addr)
{
    uintptr_t lt = ld(code + lay->co_linetable);
    if (!ptr_ok(lt) || ld(lt + OB_TYPE) != bytes_type)
        return 0;
    size_t n = ld(lt + OB_SIZE);
    const uint8_t *p = (const uint8_t *)(lt + BYTES_DATA), *end = p + (n < (1u << 24) ? n : 0);
    int first = ld32(code + lay->co_firstlineno), line;
    if (lay->lines == FDL_PY_LOCATIONS)
        line = line_locations(p, end, first, addr);
    else if (lay->lines == FDL_PY_LINETABLE)
        line = line_linetable(p, end, first, addr);
    else
        line = line_lnotab(p, end, first, addr);
    return line > 0 ? line : 0;
}

/* Code object -> its "file\0function\0" and, per instruction (byte offset), the interned frame.
 * Shared by threads: a slot is taken with a try-lock (a busy slot means no caching). Without
 * the GIL no reference can be taken, so a slot also keeps what identifies its code object
 * (file, name and line-table objects, first line); a new code object at a freed one's address
 * has other ones, in all but the most contrived cases. */
static struct wslot {
    uint8_t lock;
    uintptr_t code, filename, name, linetable;
    int firstlineno;
    char text[240];
    uint32_t len;
    long addr[SITES];
    uint32_t frame[SITES];
    unsigned next;
} wcache[CODE_CACHE];

static uint32_t walk_frame_id(uintptr_t code, long addr)
{
    uintptr_t filename = ld(code + lay->co_filename), name = ld(code + lay->co_name);
    uintptr_t linetable = ld(code + lay->co_linetable);
    int first;
    memcpy(&first, (const void *)(code + lay->co_firstlineno), 4);
    struct wslot *c = &wcache[(code >> 4) % CODE_CACHE], mine;
    int locked = !__atomic_exchange_n(&c->lock, 1, __ATOMIC_ACQUIRE);
    if (!locked) {
        c = &mine;
        memset(c, 0, sizeof *c);
    }
    if (c->code != code || c->filename != filename || c->name != name ||
        c->linetable != linetable || c->firstlineno != first) {
        c->code = 0;
        str_text(filename, c->text, 160);
        size_t fl = strlen(c->text) + 1;
        str_text(name, c->text + fl, sizeof(c->text) - fl);
        c->len = (uint32_t)(fl + strlen(c->text + fl) + 1);
        memset(c->frame, 0, sizeof(c->frame));
        c->filename = filename, c->name = name, c->linetable = linetable;
        c->firstlineno = first;
        c->code = code;
    }
    uint32_t id = 0;
    for (int i = 0; i < SITES && !id; i++)
        if (c->frame[i] && c->addr[i] == addr)
            id = c->frame[i];
    if (!id) {
        char rec[4 + sizeof(c->text)];
        int line = line_of(code, addr);
        uint32_t l = line > 0 ? (uint32_t)line : 0;
        memcpy(rec, &l, 4);
        memcpy(rec + 4, c->text, c->len);
        id = fdl_intern_put(&fdl_pyframes, rec, 4 + c->len);
        if (id) {
            unsigned k = c->next++ % SITES;
            c->addr[k] = addr;
            c->frame[k] = id;
        }
    }
    if (locked)
        __atomic_store_n(&c->lock, 0, __ATOMIC_RELEASE);
    return id;
}

/* Code objects already read through safemem once: checked by a direct load after that. */
static uintptr_t seen_code[CODE_CACHE];

static int code_ok(uintptr_t code)
{
    if (!ptr_ok(code))
        return 0;
    uintptr_t *seen = &seen_code[(code >> 4) % CODE_CACHE];
    if (__atomic_load_n(seen, __ATOMIC_RELAXED) != code) {
        if (!safe_ok(code, code_span))
            return 0;
        __atomic_store_n(seen, code, __ATOMIC_RELAXED);
    }
    return ld(code + OB_TYPE) == code_type;
}

/* 3.8-3.10 frames are heap objects, and the head of the chain is checked once per address
 * through safemem (a per-thread memory of the last few: each code object reuses its frame, so
 * a loop's heads repeat); each frame after it is linked from a live frame, and each is checked
 * to be a frame. */
#define HEADS 8
static __thread uintptr_t heads_seen[HEADS];
static __thread unsigned heads_next;

static int head_ok(uintptr_t ts, uintptr_t f)
{
    if (!ptr_ok(f))
        return 0;
    if (lay->frames == FDL_PY_INTERP_FRAMES)
        /* the data stack, or read once through safemem (a generator's frame, a C-stack shim
         * frame, or a half-set frame seen from a signal handler) */
        return in_stack(ts, f, lay->fr_size) || safe_ok(f, frame_span);
    for (int i = 0; i < HEADS; i++)
        if (heads_seen[i] == f)
            return 1;
    if (!safe_ok(f, frame_span))
        return 0;
    heads_seen[heads_next++ % HEADS] = f;
    return 1;
}

/* A frame's code object and the byte offset of its current instruction; 0 for a frame that
 * runs no Python line (an entry shim, or one being set up). -1 ends the walk (not a frame). */
static int frame_at(uintptr_t f, uintptr_t *code, long *addr)
{
    if (lay->frames == FDL_PY_FRAME_OBJECTS) {
        if (ld(f + OB_TYPE) != frame_type)
            return -1;
        *code = ld(f + lay->fr_code);
        if (!code_ok(*code))
            return -1;
        long lasti = ld32(f + lay->fr_instr);
        *addr = lay->lasti_bytes ? lasti : lasti * 2;
        uintptr_t bytes = ld(*code + lay->co_code);
        if (!ptr_ok(bytes) || ld(bytes + OB_TYPE) != bytes_type)
            return -1;
        return *addr >= 0 && *addr < (long)ld(bytes + OB_SIZE);
    }
    if (lay->has_owner && *(const uint8_t *)(f + lay->fr_owner) == FDL_PY_OWNED_BY_CSTACK)
        return 0;
    *code = ld(f + lay->fr_code);
    if (!code_ok(*code))
        return -1;
    uintptr_t instr = ld(f + lay->fr_instr);
    long lasti = ((long)instr - (long)(*code + lay->co_code)) / 2;
    long first = lay->co_firsttraceable ? ld32(*code + lay->co_firsttraceable) : 0;
    *addr = lasti * 2;
    /* before the first traceable instruction: being set up, not a Python line yet */
    return lasti >= first && lasti < (long)ld(*code + OB_SIZE);
}

/* The calling thread's Python stack, innermost first: its id, 0 if the thread runs no Python
 * code (or this is not a thread the interpreter knows). Frames past the depth limit are
 * counted, up to WALK_EXTRA, into a last word FDL_PY_TRUNCATED | count. */
static uint32_t walk(void)
{
    /* Finalization frees other threads' states and data stacks (a daemon thread returning
     * from a blocking call would walk freed memory): from then on, C stacks. The check and
     * the freeing can still race by the length of one walk. */
    if (py.is_finalizing && py.is_finalizing())
        return 0;
    uintptr_t ts = (uintptr_t)py.this_thread_state();
    if (!ptr_ok(ts))
        return 0;
    uintptr_t holder = lay->ts_cframe ? ld(ts + lay->ts_cframe) : ts;
    if (!ptr_ok(holder))
        return 0;
    uintptr_t f = ld(holder + lay->ts_frame);
    if (!head_ok(ts, f))
        return 0;
    uint32_t frames[FDL_PY_DEPTH_MAX + 1];
    int n = 0, max = fdl_cfg.py_depth;
    uint32_t dropped = 0;
    for (int steps = 0; ptr_ok(f) && steps < FDL_PY_DEPTH_MAX + WALK_EXTRA; steps++) {
        uintptr_t code = 0;
        long addr = 0;
        int at = frame_at(f, &code, &addr);
        f = ld(f + lay->fr_previous);
        if (at < 0)
            break;
        if (!at)
            continue;
        if (n >= max) {
            dropped++;
            continue;
        }
        uint32_t id = walk_frame_id(code, addr);
        if (id)
            frames[n++] = id;
    }
    if (!n)
        return 0;
    if (dropped)
        frames[n++] = FDL_PY_TRUNCATED | dropped;
    return fdl_intern_put(&fdl_pyframes, frames, (uint32_t)n * 4);
}

/* This CPython's version as PY_VERSION_HEX: Py_Version (3.11+), else the text of
 * Py_GetVersion ("3.9.18 (main, ...)"), a static string it formats without the GIL. */
static unsigned long py_version(void)
{
    const unsigned long *v = sym("Py_Version");
    if (v)
        return safe_ok((uintptr_t)v & ~7ul, 16) ? *v : 0;
    const char *(*get)(void) = (const char *(*)(void))sym("Py_GetVersion");
    const char *s = get ? get() : NULL;
    unsigned long part[3] = {0, 0, 0};
    for (int i = 0; s && i < 3; i++) {
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            part[i] = part[i] * 10 + (unsigned long)(*s++ - '0');
        if (i < 2 && *s++ != '.')
            return 0;
    }
    /* a release's text has no suffix; a pre-release ("3.10.0rc1") is not a known layout */
    if (!s || (*s != ' ' && *s != '+' && *s != 0) || part[1] > 255 || part[2] > 255)
        return 0;
    return part[0] << 24 | part[1] << 16 | part[2] << 8 | 0xf0;
}

/* 3.13's own description of its layout, at the start of _PyRuntime (_Py_DebugOffsets): the
 * cookie, the version, whether free-threaded, then sections of 8-byte offsets, each led by
 * its struct's size. The indexes below are that struct's in 3.13 (a later version lays it out
 * differently and is not read). */
enum {
    DO_VERSION = 1,
    DO_FREE_THREADED = 2,
    DO_TS_FRAME = 3 + 3 + 13 + 4,
    DO_TS_CHUNK = 3 + 3 + 13 + 7,
    DO_FR = 3 + 3 + 13 + 9, /* size, previous, executable, instr_ptr, localsplus, owner */
    DO_CO = DO_FR + 6,      /* size, filename, name, qualname, linetable, firstlineno, ... */
    DO_CO_CODE = DO_CO + 9,
    DO_STR = DO_CO + 10 + 2 + 4 + 3 + 3 + 3 + 2 + 3 + 3, /* size, state, length, ascii size */
};

static int debug_offsets(struct fdl_py_layout *l, unsigned long version)
{
    const void *rt = sym("_PyRuntime");
    uint64_t d[DO_STR + 4];
    if (!rt || fdl_safemem_read(d, rt, sizeof d) != (ssize_t)sizeof d || memcmp(d, "xdebugpy", 8) ||
        d[DO_VERSION] != version || d[DO_FREE_THREADED])
        return 0;
    uint64_t v[] = {d[DO_TS_FRAME], d[DO_TS_CHUNK], d[DO_FR],      d[DO_FR + 1], d[DO_FR + 2],
                    d[DO_FR + 3],   d[DO_FR + 5],   d[DO_CO + 1],  d[DO_CO + 2], d[DO_CO + 4],
                    d[DO_CO + 5],   d[DO_CO_CODE],  d[DO_STR + 1], d[DO_STR + 3]};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i] >= 4096)
            return 0;
    struct fdl_py_layout o = *l;
    l->ts_cframe = 0;
    l->ts_frame = (uint16_t)v[0], l->ts_chunk = (uint16_t)v[1], l->fr_size = (uint16_t)v[2];
    l->fr_previous = (uint16_t)v[3], l->fr_code = (uint16_t)v[4], l->fr_instr = (uint16_t)v[5];
    l->fr_owner = (uint16_t)v[6], l->co_filename = (uint16_t)v[7], l->co_name = (uint16_t)v[8];
    l->co_linetable = (uint16_t)v[9], l->co_firstlineno = (uint16_t)v[10];
    l->co_code = (uint16_t)v[11], l->str_state = (uint16_t)v[12];
    l->str_ascii_data = (uint16_t)v[13], l->str_data = (uint16_t)(v[13] + 16);
    /* Not published: where the first traceable instruction is kept. Trusted only while the
     * published fields are where this version's headers put them. */
    if (memcmp(&o, l, sizeof o))
        l->co_firsttraceable = 0;
    return 1;
}

/* The bytes an object's six fields at these offsets reach. */
static size_t span(const uint16_t f[6])
{
    size_t n = 0;
    for (int i = 0; i < 6; i++)
        if ((size_t)f[i] + 8 > n)
            n = (size_t)f[i] + 8;
    return n;
}

static void walk_init(void)
{
    py.is_finalizing = (int (*)(void))sym("_Py_IsFinalizing");
    if (!py.is_finalizing)
        py.is_finalizing = (int (*)(void))sym("Py_IsFinalizing"); /* 3.13 */
    code_type = (uintptr_t)sym("PyCode_Type");
    str_type = (uintptr_t)sym("PyUnicode_Type");
    bytes_type = (uintptr_t)sym("PyBytes_Type");
    frame_type = (uintptr_t)sym("PyFrame_Type");
    unsigned long version = py_version();
    if (!version || !py.is_finalizing || !code_type || !str_type || !bytes_type || !frame_type)
        return;
    const struct fdl_py_layout *known = NULL;
    for (size_t i = 0; i < sizeof fdl_py_layouts / sizeof fdl_py_layouts[0]; i++)
        if (version >= fdl_py_layouts[i].min && version <= fdl_py_layouts[i].max)
            known = &fdl_py_layouts[i];
    if (!known)
        return;
    layout = *known;
    if (version >= 0x030d0000 && !debug_offsets(&layout, version))
        return; /* 3.13 without its offsets (a free-threaded build): the audit hook */
    code_span = span((uint16_t[]){layout.co_firstlineno, layout.co_filename, layout.co_name,
                                  layout.co_linetable, layout.co_firsttraceable, layout.co_code});
    frame_span = span(
        (uint16_t[]){layout.fr_code, layout.fr_previous, layout.fr_instr, layout.fr_owner, 0, 0});
    if (code_span > 256 || frame_span > 256)
        return;
    __atomic_store_n(&lay, &layout, __ATOMIC_RELEASE); /* an embedded one: threads may run */
}

const uint32_t *fdl_python_frames(uint32_t pystack, uint32_t *n, uint32_t *dropped)
{
    uint32_t len;
    const uint32_t *w = fdl_intern_get(&fdl_pyframes, pystack, &len);
    *n = w ? len / 4 : 0;
    *dropped = 0;
    if (*n && (w[*n - 1] & FDL_PY_TRUNCATED))
        *dropped = w[--*n] & ~FDL_PY_TRUNCATED;
    return w;
}

static py_object *exit_callback(py_object *self, py_object *unused)
{
    (void)self;
    (void)unused;
    commit_deferred();
    fdl_exit_dump();
    py.incref(py.none);
    return py.none;
}

/* With the walk, the audit hook is needed only until the exit dump is registered; but while
 * any C hook is installed, CPython builds the arguments of every audit event (~2,000
 * instructions an iteration of bench row 1b). So ours, once done, is unlinked from the
 * runtime's list if it is its head; never freed (PySys_Audit may be reading its next). */
static int hook(const char *event, py_object *args, void *data);

static void unhook(void)
{
    struct entry {
        struct entry *next;
        py_audit_hook fn;
        void *data;
    };
    uintptr_t rt = (uintptr_t)sym("_PyRuntime");
    struct entry **head = (struct entry **)(rt + lay->rt_audit_head);
    if (!rt || !safe_ok((uintptr_t)head, sizeof *head))
        return;
    struct entry *e = *head;
    if (e && safe_ok((uintptr_t)e, sizeof *e) && e->fn == hook)
        __atomic_store_n(head, e->next, __ATOMIC_RELEASE);
}

static int register_atexit(void)
{
    static struct py_method_def def = {"fdleak_exit_dump", exit_callback, 0x4 /* METH_NOARGS */,
                                       NULL};
    atexit_registered = 1;
    if (!py.import || !py.call_method || !py.cfunction_new || !py.none || !py.err_clear ||
        !fdl_cfg.on_exit)
        return 0;
    py_object *fn = py.cfunction_new(&def, NULL, NULL);
    py_object *mod = fn ? py.import("atexit") : NULL;
    py_object *r = mod ? py.call_method(mod, "register", "O", fn) : NULL;
    if (!r) {
        py.err_clear();
        static int said;
        fdl_msg_once(&said, "cannot register the Python exit dump", "",
                     "; leaks closed by interpreter teardown will not show");
    }
    if (r)
        py.decref(r);
    if (mod)
        py.decref(mod);
    if (fn)
        py.decref(fn);
    return r != NULL;
}

static int hook(const char *event, py_object *args, void *data)
{
    (void)args;
    (void)data;
    int kind;
    if (event[0] == 'o' && !strcmp(event, "open"))
        kind = PENDING_OPEN;
    else if (event[0] == 's' && !strcmp(event, "socket.__new__"))
        kind = PENDING_SOCKET;
    else if (event[0] == 'c' && !strncmp(event, "cpython.run_", 12))
        kind = PENDING_NONE;
    else
        return 0;
    if (!atexit_registered && !fdl_vfork_child && py.is_initialized && py.is_initialized()) {
        int ok = register_atexit();
        if (lay && (ok || !fdl_cfg.on_exit))
            unhook();
    }
    if (kind == PENDING_NONE || lay || !hook_capture)
        return 0;
    if (!fdl_ready || fdl_tls.busy || fdl_vfork_child)
        return 0;
    int busy = fdl_busy_begin();
    commit_deferred();
    pending = capture();
    pending_kind = kind;
    if (kind == PENDING_SOCKET && accepted_fd >= 0) {
        deferred_fd = accepted_fd;
        deferred_stack = pending;
    }
    accepted_fd = -1;
    fdl_busy_end(busy);
    return 0;
}

void fdl_python_init(void)
{
    py.add_audit_hook = (int (*)(py_audit_hook, void *))sym("PySys_AddAuditHook");
    if (!py.add_audit_hook)
        return; /* not a Python process */
    py.eval_get_frame = (py_object * (*)(void)) sym("PyEval_GetFrame");
    py.frame_get_back = (py_object * (*)(py_object *)) sym("PyFrame_GetBack");
    py.frame_get_code = (py_object * (*)(py_object *)) sym("PyFrame_GetCode");
    py.frame_get_line = (int (*)(py_object *))sym("PyFrame_GetLineNumber");
    py.frame_get_lasti = (int (*)(py_object *))sym("PyFrame_GetLasti");
    py.get_attr = (py_object * (*)(py_object *, const char *)) sym("PyObject_GetAttrString");
    py.as_utf8 = (const char *(*)(py_object *))sym("PyUnicode_AsUTF8");
    py.incref = (void (*)(py_object *))sym("Py_IncRef");
    py.decref = (void (*)(py_object *))sym("Py_DecRef");
    py.err_clear = (void (*)(void))sym("PyErr_Clear");
    py.is_initialized = (int (*)(void))sym("Py_IsInitialized");
    py.import = (py_object * (*)(const char *)) sym("PyImport_ImportModule");
    py.call_method =
        (py_object * (*)(py_object *, const char *, const char *, ...)) sym("PyObject_CallMethod");
    py.cfunction_new = (py_object * (*)(void *, py_object *, py_object *)) sym("PyCFunction_NewEx");
    py.none = (py_object *)sym("_Py_NoneStruct");
    py.gil_check = (int (*)(void))sym("PyGILState_Check");
    py.this_thread_state = (py_object * (*)(void)) sym("PyGILState_GetThisThreadState");
    py.current_thread_state = (py_object * (*)(void)) sym("_PyThreadState_UncheckedGet");
    if (!py.current_thread_state) /* renamed in 3.13 */
        py.current_thread_state = (py_object * (*)(void)) sym("PyThreadState_GetUnchecked");
    if (!py.incref || !py.decref || !py.gil_check || !py.this_thread_state)
        return;
    /* The audit hook's own capture needs the frame accessors of 3.9+; 3.8 without a known
     * layout gets C stacks only, and the hook just registers the exit dump. */
    hook_capture = py.eval_get_frame && py.frame_get_back && py.frame_get_code &&
                   py.frame_get_line && py.get_attr && py.as_utf8 && py.err_clear;
    if (fdl_cfg.py_walk)
        walk_init();
    __atomic_store_n(&hook_wait, 1, __ATOMIC_RELEASE);
}

/* An interpreter loaded with dlopen after start-up, as embedding programs load it (vim's
 * dynamic Python, plug-in hosts): its symbols are not in the global scope, and it is found
 * when the program looks Py_Initialize* up through the library's handle (wrap_dl.c). */
void fdl_python_embedded(void *handle)
{
    static int once;
    if (!fdl_cfg.python || py.add_audit_hook || __atomic_exchange_n(&once, 1, __ATOMIC_ACQ_REL))
        return;
    int err = errno; /* inside the program's dlsym */
    py_handle = handle;
    fdl_python_init();
    errno = err;
}

/* Registers the audit hook if the calling thread holds the GIL, once. PyGILState_Check alone
 * answers 1 to everyone before the interpreter has set up its thread states, and to every
 * thread once a subinterpreter exists; a thread state of this thread that is also the one
 * running (the GIL holder; 3.13 renamed the accessor, then Check is trusted) says it holds
 * the GIL, and that the runtime, its allocators included, is set up. */
void fdl_python_hook_point(void)
{
    if (likely(!__atomic_load_n(&hook_wait, __ATOMIC_RELAXED)) || fdl_vfork_child)
        return;
    if (!py.gil_check())
        return;
    py_object *mine = py.this_thread_state();
    if (!mine || (py.current_thread_state && py.current_thread_state() != mine))
        return;
    if (!__atomic_exchange_n(&hook_wait, 0, __ATOMIC_ACQ_REL))
        return;
    fdl_tls.busy++;
    hooked = py.add_audit_hook(hook, NULL) == 0;
    fdl_tls.busy--;
}

void fdl_python_acquired(int fd, enum fdc_call call, uint32_t pystack)
{
    if (!hooked || lay)
        return;
    accepted_fd = !pystack && (call == FDC_CALL_accept || call == FDC_CALL_accept4) ? fd : -1;
}

uint32_t fdl_python_stack(enum fdc_call call)
{
    fdl_python_hook_point();
    if (__atomic_load_n(&lay, __ATOMIC_ACQUIRE))
        return walk();
    if (unlikely(deferred_fd >= 0)) {
        if (call == FDC_CALL_socket || call == FDC_CALL_socketpair)
            deferred_fd = -1; /* the event announced this new socket */
        else
            commit_deferred();
    }
    if (likely(!pending_kind))
        return 0;
    uint32_t id = pending;
    int kind = pending_kind;
    pending = 0;
    pending_kind = PENDING_NONE;
    /* The stack belongs to this call only if the event announced this kind of call; any other
     * acquisition in between (accept, then the socket object wrapping it) drops it. */
    int open_call = call >= FDC_CALL_open && call <= FDC_CALL_openat64;
    int sock_call = call == FDC_CALL_socket || call == FDC_CALL_socketpair;
    return (kind == PENDING_OPEN && open_call) || (kind == PENDING_SOCKET && sock_call) ? id : 0;
}
