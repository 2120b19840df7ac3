/* Python stacks for CPython processes.
 *
 * The walk (CPython 3.11.1 and later 3.11 releases). Every acquisition made by a thread that
 * runs Python code gets that thread's Python stack, read from the interpreter's own frame
 * chain (tstate->cframe->current_frame, then each _PyInterpreterFrame's previous), the way
 * out-of-process profilers (py-spy, austin) read it: no API call, no reference taken, no GIL.
 * The GIL is usually released at that moment (the interpreter drops it around open(), pipe(),
 * accept()), but the chain is this thread's own and the thread is blocked in our wrapper, so
 * it cannot change under us; on 3.11.1+ a frame is unlinked before it is cleared (gh-99729),
 * so every linked frame holds its code object. The thread state comes from
 * PyGILState_GetThisThreadState (a thread-specific key: no GIL needed). Offsets are the
 * layout of one CPython version (table below, from its internal headers; the library needs
 * no Python header and does not link libpython); any other version keeps the audit hook.
 * Loads are direct (process_vm_readv costs ~2 us a call here): every pointer is checked for
 * plausibility, every object for its type (code, str, bytes) before its fields are used, the
 * first frame outside the thread's data stack and every code object seen for the first time
 * are read through fdl_safemem_read first, and every loop is bounded. Not covered: a thread
 * whose thread-specific key holds another thread's state (an embedder calling
 * PyThreadState_New for a thread from one that has none) reads a chain that can change under
 * it; CPython's own PyGILState calls would misbehave in that thread as well.
 *
 * The audit hook (any other CPython from 3.8; and everywhere for the exit dump). It is
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
 * since 3.8; the frame accessors used here (PyFrame_GetCode, PyFrame_GetBack) since 3.9:
 * an older CPython gets C stacks only. PyFrame_GetLasti (3.11) is used when present. */
#include "fdleak.h"
#include "fdtable.h"
#include "intern.h"
#include "safemem.h"

#include <dlfcn.h>
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
static int hooked;    /* the audit hook is installed: this is a CPython process */
static int hook_wait; /* a CPython process whose hook waits for a thread holding the GIL */

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

static void *sym(const char *name)
{
    return dlsym(RTLD_DEFAULT, name);
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

/* One CPython version's layout: byte offsets, from its Include/internal headers
 * (pycore_frame.h, pycore_pystate.h, cpython/code.h, cpython/unicodeobject.h). */
struct py_layout {
    unsigned long min, max; /* Py_Version range */
    uint16_t ts_cframe, ts_chunk, cf_frame;
    uint16_t fr_code, fr_previous, fr_instr, fr_size;
    uint16_t co_firstlineno, co_filename, co_name, co_linetable, co_firsttraceable, co_code;
    uint16_t str_state, str_ascii_data, str_data;
    uint16_t rt_audit_head; /* _PyRuntimeState.audit_hook_head */
};

static const struct py_layout layouts[] = {
    /* 3.11.1 to 3.11.x (3.11.0 clears a frame before unlinking it: gh-99729) */
    {0x030b01a0, 0x030bfffful, 56, 296, 8, 32, 48, 56, 72, 72, 112, 120, 136, 168, 184, 32, 48, 72,
     656},
};

#define OB_TYPE 8
#define OB_SIZE 16      /* PyVarObject.ob_size: code units of a code object, bytes of bytes */
#define BYTES_DATA 32   /* PyBytesObject.ob_sval */
#define STR_LENGTH 16   /* PyASCIIObject.length */
#define CHUNK_SIZE 8    /* _PyStackChunk.size */
#define CHUNK_DATA 24   /* _PyStackChunk.data */
#define WALK_EXTRA 4096 /* frames counted (not kept) past the depth limit */

static const struct py_layout *lay; /* set when this CPython's layout is known */
static uintptr_t code_type, str_type, bytes_type;

static inline uintptr_t ld(uintptr_t a)
{
    uintptr_t v;
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
 * non-generator frames live). */
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

/* The line of code unit `lasti` from a 3.11 location table (Objects/locations.md): entries of
 * a start byte (1, code:4, length-1:3) and code-dependent data; codes 0-9 keep the line,
 * 10-12 add code-10, 13 and 14 a signed varint, 15 has no line. 0 when unknown. */
static int line_of(uintptr_t code, long lasti)
{
    uintptr_t lt = ld(code + lay->co_linetable);
    if (!ptr_ok(lt) || ld(lt + OB_TYPE) != bytes_type)
        return 0;
    size_t n = ld(lt + OB_SIZE);
    const uint8_t *p = (const uint8_t *)(lt + BYTES_DATA), *end = p + (n < (1u << 24) ? n : 0);
    int line;
    memcpy(&line, (const void *)(code + lay->co_firstlineno), 4);
    long addr = 0;
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
        if (lasti < addr + len)
            return kind == 15 || line < 0 ? 0 : line;
        addr += len;
    }
    return 0;
}

/* Code object -> its "file\0function\0" and, per instruction offset, the interned frame.
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
    long lasti[SITES];
    uint32_t frame[SITES];
    unsigned next;
} wcache[CODE_CACHE];

static uint32_t walk_frame_id(uintptr_t code, long lasti)
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
        if (c->frame[i] && c->lasti[i] == lasti)
            id = c->frame[i];
    if (!id) {
        char rec[4 + sizeof(c->text)];
        int line = line_of(code, lasti);
        uint32_t l = line > 0 ? (uint32_t)line : 0;
        memcpy(rec, &l, 4);
        memcpy(rec + 4, c->text, c->len);
        id = fdl_intern_put(&fdl_pyframes, rec, 4 + c->len);
        if (id) {
            unsigned k = c->next++ % SITES;
            c->lasti[k] = lasti;
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
        if (!safe_ok(code, lay->co_code))
            return 0;
        __atomic_store_n(seen, code, __ATOMIC_RELAXED);
    }
    return ld(code + OB_TYPE) == code_type;
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
    uintptr_t cf = ld(ts + lay->ts_cframe);
    if (!ptr_ok(cf))
        return 0;
    uintptr_t f = ld(cf + lay->cf_frame);
    /* The head is checked against the thread's data stack, or read once through safemem (a
     * generator's frame, or a half-set cframe seen from a signal handler); each frame after
     * it is linked from a live frame. */
    if (!ptr_ok(f) || (!in_stack(ts, f, lay->fr_size) && !safe_ok(f, lay->fr_size)))
        return 0;
    uint32_t frames[FDL_PY_DEPTH_MAX + 1];
    int n = 0, max = fdl_cfg.py_depth;
    uint32_t dropped = 0;
    for (int steps = 0; ptr_ok(f) && steps < FDL_PY_DEPTH_MAX + WALK_EXTRA; steps++) {
        uintptr_t code = ld(f + lay->fr_code), instr = ld(f + lay->fr_instr);
        f = ld(f + lay->fr_previous);
        if (!code_ok(code))
            break;
        long units = (long)ld(code + OB_SIZE);
        long lasti = ((long)instr - (long)(code + lay->co_code)) / 2;
        int first;
        memcpy(&first, (const void *)(code + lay->co_firsttraceable), 4);
        if (lasti < first || lasti >= units)
            continue; /* incomplete (being set up) or a shim frame: not a Python line yet */
        if (n >= max) {
            dropped++;
            continue;
        }
        uint32_t id = walk_frame_id(code, lasti);
        if (id)
            frames[n++] = id;
    }
    if (!n)
        return 0;
    if (dropped)
        frames[n++] = FDL_PY_TRUNCATED | dropped;
    return fdl_intern_put(&fdl_pyframes, frames, (uint32_t)n * 4);
}

static void walk_init(void)
{
    const unsigned long *version = sym("Py_Version");
    py.is_finalizing = (int (*)(void))sym("_Py_IsFinalizing");
    code_type = (uintptr_t)sym("PyCode_Type");
    str_type = (uintptr_t)sym("PyUnicode_Type");
    bytes_type = (uintptr_t)sym("PyBytes_Type");
    if (!version || !py.is_finalizing || !code_type || !str_type || !bytes_type ||
        !safe_ok((uintptr_t)version, 8))
        return;
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (*version >= layouts[i].min && *version <= layouts[i].max)
            lay = &layouts[i];
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
    if (!py.import || !py.call_method || !py.cfunction_new || !py.none || !fdl_cfg.on_exit)
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
    if (kind == PENDING_NONE || lay)
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
    if (!py.eval_get_frame || !py.frame_get_back || !py.frame_get_code || !py.frame_get_line ||
        !py.get_attr || !py.as_utf8 || !py.incref || !py.decref || !py.err_clear || !py.gil_check ||
        !py.this_thread_state)
        return; /* older than 3.9: C stacks only */
    if (fdl_cfg.py_walk)
        walk_init();
    __atomic_store_n(&hook_wait, 1, __ATOMIC_RELEASE);
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
    if (lay)
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
