/* Python stacks for CPython processes. Unwinding C through the 3.11 interpreter shows about
 * one C frame per Python call, never a Python file:line, and reading Python frames from a
 * wrapper is unsafe: the interpreter releases the GIL around open(), accept(), pipe(). So the
 * shim registers a C audit hook (PySys_AddAuditHook): the "open" and "socket.__new__" events
 * fire with the GIL held just before the system call, and the hook records the Python stack
 * for the next matching wrapper call in the same thread.
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
    uint32_t frames[FDC_DEPTH_MAX];
    int n = 0, max = fdl_cfg.depth;
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

static py_object *exit_callback(py_object *self, py_object *unused)
{
    (void)self;
    (void)unused;
    commit_deferred();
    fdl_exit_dump();
    py.incref(py.none);
    return py.none;
}

static void register_atexit(void)
{
    static struct py_method_def def = {"fdleak_exit_dump", exit_callback, 0x4 /* METH_NOARGS */,
                                       NULL};
    atexit_registered = 1;
    if (!py.import || !py.call_method || !py.cfunction_new || !py.none || !fdl_cfg.on_exit)
        return;
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
    if (!atexit_registered && !fdl_vfork_child && py.is_initialized && py.is_initialized())
        register_atexit();
    if (kind == PENDING_NONE)
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
    if (!hooked)
        return;
    accepted_fd = !pystack && (call == FDC_CALL_accept || call == FDC_CALL_accept4) ? fd : -1;
}

uint32_t fdl_python_stack(enum fdc_call call)
{
    fdl_python_hook_point();
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
