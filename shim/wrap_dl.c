/* dlsym and dlvsym: FFI callers (ctypes.CDLL("libc.so.6").open, cffi's ABI mode, JNA,
 * P/Invoke, LuaJIT) look functions up through a library handle, whose scope does not include
 * the preload, and would reach libc's own open. A lookup through a handle that finds exactly
 * the libc definition one of our wrappers forwards to gets the wrapper instead; any other
 * lookup is the real one's answer, dlerror state included. A lookup of Py_Initialize* through
 * a handle also tells python.c where an embedded interpreter is.
 *
 * glibc resolves RTLD_NEXT and RTLD_DEFAULT relative to its caller's return address, so those
 * never run here: the entry points (dl.S) jump straight to the real function with the
 * program's return address still on the stack. Only an explicit handle, whose lookup does
 * not depend on the caller, comes to fdl_dl_handle.
 *
 * The real functions cannot be found with dlsym (ours would answer, from our own frame) nor
 * with a versioned reference (an unversioned definition such as ours satisfies it): they are
 * read from libc's own dynamic symbol table, with its GNU hash table, default versions only. */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>

#define HIDDEN __attribute__((visibility("hidden")))

typedef void *(*dlsym_fn)(void *, const char *);
typedef void *(*dlvsym_fn)(void *, const char *, const char *);
HIDDEN dlsym_fn fdl_real_dlsym;   /* read by dl.S */
HIDDEN dlvsym_fn fdl_real_dlvsym; /* read by dl.S */
void *fdl_dl_resolve(void) HIDDEN;
void *fdl_dl_handle(void *handle, const char *name, const char *version) HIDDEN;
void fdl_python_embedded(void *handle) HIDDEN; /* python.c */

/* Every libc function the library exports a wrapper for (exports.map, less dlsym/dlvsym). */
/* clang-format off */
#define WRAPPED(X)                                                                                 \
    X(open) X(open64) X(openat) X(openat64) X(__open_2) X(__open64_2) X(__openat_2)                \
    X(__openat64_2) X(creat) X(creat64) X(open_by_handle_at) X(mkstemp) X(mkstemp64)               \
    X(mkostemp) X(mkostemp64) X(mkstemps) X(mkstemps64) X(mkostemps) X(mkostemps64) X(fopen)      \
    X(fopen64)                                                                                     \
    X(freopen) X(freopen64) X(fdopen) X(tmpfile) X(tmpfile64) X(fclose) X(popen) X(pclose)         \
    X(opendir) X(fdopendir) X(closedir) X(socket) X(socketpair) X(accept) X(accept4)               \
    X(recvmsg) X(recvmmsg) X(pipe) X(pipe2) X(eventfd) X(timerfd_create) X(epoll_create)           \
    X(epoll_create1) X(inotify_init) X(inotify_init1) X(fanotify_init) X(posix_openpt)             \
    X(getpt) X(pidfd_open) X(pidfd_getfd) X(fsopen) X(fsmount) X(fspick) X(open_tree)              \
    X(memfd_create) X(signalfd) X(shm_open) X(mq_open) X(mq_close) X(openpty) X(forkpty)           \
    X(close) X(close_range) X(closefrom) X(dup) X(dup2) X(dup3) X(fcntl) X(fcntl64) X(ioctl)       \
    X(vfork) X(_Fork) X(_exit) X(_Exit) X(sigaction) X(signal) X(__sigaction) X(bsd_signal)        \
    X(ssignal) X(sysv_signal) X(__sysv_signal) X(sigset) X(sigignore) X(siginterrupt) X(clone)     \
    X(syscall) X(read) X(write) X(pread) X(pread64) X(pwrite) X(pwrite64)                          \
    X(readv) X(writev) X(send) X(recv) X(sendto) X(recvfrom) X(sendmsg)                            \
    X(fstat) X(fstat64) X(__fxstat) X(__fxstat64) X(lseek) X(lseek64) X(mmap) X(mmap64) X(epoll_ctl)
/* clang-format on */

/* Our wrappers by their assembler names: no libc prototype is needed (or clashes). */
#define DECLARE(fn) extern const char fdl_wrapper_##fn __asm__(#fn);
WRAPPED(DECLARE)
static const struct wrapped {
    const char *name;
    const void *wrapper;
} wrapped[] = {
#define ENTRY(fn) {#fn, &fdl_wrapper_##fn},
    WRAPPED(ENTRY)};

/* ---- libc's dynamic symbol table ---- */

static struct {
    ElfW(Addr) base;
    const ElfW(Sym) * sym;
    const char *str;
    const ElfW(Half) * versym;
    const uint32_t *gnu_hash;
} libc;

static const void *dyn_ptr(ElfW(Addr) p)
{
    /* glibc relocates these entries in place on x86_64; an unrelocated one is an offset. */
    return (const void *)(p < libc.base ? p + libc.base : p);
}

static int find_libc(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size, (void)arg;
    const char *slash = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
    if (!slash || strcmp(slash + 1, "libc.so.6") != 0)
        return 0;
    libc.base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type != PT_DYNAMIC)
            continue;
        for (const ElfW(Dyn) *d = (const void *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
             d->d_tag != DT_NULL; d++) {
            if (d->d_tag == DT_SYMTAB)
                libc.sym = dyn_ptr(d->d_un.d_ptr);
            else if (d->d_tag == DT_STRTAB)
                libc.str = dyn_ptr(d->d_un.d_ptr);
            else if (d->d_tag == DT_VERSYM)
                libc.versym = dyn_ptr(d->d_un.d_ptr);
            else if (d->d_tag == DT_GNU_HASH)
                libc.gnu_hash = dyn_ptr(d->d_un.d_ptr);
        }
    }
    return 1;
}

/* The default version of name in libc, or NULL. */
static void *libc_lookup(const char *name)
{
    if (!libc.sym || !libc.str || !libc.gnu_hash)
        return NULL;
    uint32_t h = 5381;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = h * 33 + *p;
    const uint32_t *gh = libc.gnu_hash;
    uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2];
    const uint32_t *buckets = gh + 4 + bloom_size * (sizeof(ElfW(Addr)) / 4);
    const uint32_t *chain = buckets + nbuckets;
    if (!nbuckets)
        return NULL;
    for (uint32_t i = buckets[h % nbuckets]; i >= symoffset; i++) {
        uint32_t ch = chain[i - symoffset];
        const ElfW(Sym) *s = &libc.sym[i];
        if ((ch | 1) == (h | 1) && !strcmp(libc.str + s->st_name, name) && s->st_shndx &&
            (!libc.versym || !(libc.versym[i] & 0x8000)))
            return (void *)(libc.base + s->st_value);
        if (ch & 1)
            break;
    }
    return NULL;
}

/* Stand-ins if libc's table could not be read: every lookup fails, nothing crashes. */
static void *no_dlsym(void *handle, const char *name)
{
    (void)handle, (void)name;
    return NULL;
}

static void *no_dlvsym(void *handle, const char *name, const char *version)
{
    (void)handle, (void)name, (void)version;
    return NULL;
}

/* First call of either entry point (from dl.S, with the caller's arguments saved). Racing
 * threads store the same values. */
void *fdl_dl_resolve(void)
{
    if (!fdl_real_dlsym) {
        dl_iterate_phdr(find_libc, NULL);
        void *s = libc_lookup("dlsym"), *v = libc_lookup("dlvsym");
        __atomic_store_n(&fdl_real_dlvsym, v ? (dlvsym_fn)v : no_dlvsym, __ATOMIC_RELEASE);
        __atomic_store_n(&fdl_real_dlsym, s ? (dlsym_fn)s : no_dlsym, __ATOMIC_RELEASE);
    }
    return (void *)fdl_real_dlsym;
}

void *fdl_dl_handle(void *handle, const char *name, const char *version)
{
    if (!fdl_real_dlsym)
        fdl_dl_resolve();
    void *r = version ? fdl_real_dlvsym(handle, name, version) : fdl_real_dlsym(handle, name);
    if (!r || !name)
        return r;
    if (name[0] == 'P' && name[1] == 'y' && !strncmp(name, "Py_Initialize", 13))
        fdl_python_embedded(handle); /* an embedded interpreter, loaded with dlopen */
    for (size_t i = 0; i < sizeof(wrapped) / sizeof(wrapped[0]); i++)
        if (wrapped[i].name[0] == name[0] && !strcmp(wrapped[i].name, name))
            return r == libc_lookup(name) ? (void *)wrapped[i].wrapper : r;
    return r;
}
