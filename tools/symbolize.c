/* Symbolization with elfutils, shared across dumps. The files a dump names are opened once per
 * process, whatever the number of dumps: a process-wide cache holds one entry per module file
 * (keyed by the dump's path and build-id and by the file's identity on disk), each reported at
 * bias 0 in an offline Dwfl of its own, with its results cached per file address. A dump's
 * symbolizer only translates its ips to (module, file address) with the dump's load bias and
 * copies cached results; so 1,000 dumps of one program cost one set of debug info, not 1,000
 * (item 19: one Dwfl per dump took 16 MB each with libc6-dbg installed).
 *
 * Dumps may be hostile, and the command runs as root: a module path may name a FIFO (opening
 * it would block for ever), a device or a planted file. Every file handed to libdwfl (the
 * binary, a debug file found by build-id or by .gnu_debuglink, a dwz file) is opened here,
 * non-blocking, checked to be a regular file, and given to libdwfl as a descriptor; libdwfl
 * opens nothing by name itself (both of its callbacks are ours).
 *
 * A module is read from its own file when that has the build-id the dump recorded, else from
 * /usr/lib/debug/.build-id/xx/yyy.debug if installed, else its frames stay as module+offset
 * (one warning per module and process). Function names come from DWARF (which names gcc's
 * .constprop/.isra clones by their source name) or else the ELF symbol table, static functions
 * included; inlined frames from the DW_TAG_inlined_subroutine scopes around the address, each
 * caller's line from DW_AT_call_file/DW_AT_call_line. C++ names are demangled with libstdc++'s
 * __cxa_demangle when that library can be loaded. Dumps hold return addresses, so ip - 1 is
 * looked up. */
#include "symbolize.h"

#include "util.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FDT_DEBUG_DIR "/usr/lib/debug"

/* Results by key (a file address in a module, or an ip in a dump): open addressing. */
struct fdt_res {
    uint64_t key;
    bool used;
    size_t n;
    struct fdt_frame *frames;
};

struct fdt_restab {
    struct fdt_res *slots;
    size_t mask, used;
};

/* One module file, shared by every dump that names it. */
struct fdt_smod {
    struct fdt_smod *next;   /* all modules */
    struct fdt_smod *bucket; /* next in the same hash bucket */
    char *path, *build_id;   /* as the dump named them */
    bool exists;             /* stat() of path succeeded: st_* below identify the file */
    dev_t st_dev;
    ino_t st_ino;
    off_t st_size;
    struct timespec st_mtim;
    Dwfl *dwfl;       /* NULL when the module cannot be read: frames show module+offset */
    Dwfl_Module *mod; /* at bias 0: addresses are the file's own */
    bool no_dwarf;    /* names from the symbol table only (see fdt_altlink_safe) */
    struct fdt_restab results;
    char **names; /* demangled names, freed with the module */
    size_t nnames;
};

#define FDT_SMOD_BUCKETS 4096

static struct {
    struct fdt_smod *mods;
    struct fdt_smod **buckets; /* by path and build-id: a dump may name 65,536 modules */
    size_t users; /* live symbolizers; the cache is emptied when the last one is freed */
} fdt_cache;

struct fdt_sym {
    const struct fdt_dump *dump;
    struct fdt_smod **mods; /* per dump module, on first use */
    bool *looked;
    struct fdt_restab results; /* per ip: copies of the module's results with ip and module */
};

/* ------------------------------------------------------------------------ result tables */

static size_t fdt_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k;
}

static void fdt_restab_init(struct fdt_restab *t)
{
    t->mask = 255;
    t->used = 0;
    t->slots = fdt_xcalloc(t->mask + 1, sizeof *t->slots);
}

static void fdt_restab_free(struct fdt_restab *t)
{
    for (size_t i = 0; t->slots && i <= t->mask; i++)
        free(t->slots[i].frames);
    free(t->slots);
}

/* The slot for key: found (used set) or new (filled by the caller, used already set). */
static struct fdt_res *fdt_restab_slot(struct fdt_restab *t, uint64_t key, bool *fresh)
{
    if (2 * (t->used + 1) > t->mask) {
        size_t oldmask = t->mask;
        struct fdt_res *old = t->slots;
        t->mask = oldmask * 2 + 1;
        t->slots = fdt_xcalloc(t->mask + 1, sizeof *t->slots);
        for (size_t i = 0; i <= oldmask; i++) {
            if (!old[i].used)
                continue;
            size_t h = fdt_hash(old[i].key) & t->mask;
            while (t->slots[h].used)
                h = (h + 1) & t->mask;
            t->slots[h] = old[i];
        }
        free(old);
    }
    size_t h = fdt_hash(key) & t->mask;
    while (t->slots[h].used && t->slots[h].key != key)
        h = (h + 1) & t->mask;
    *fresh = !t->slots[h].used;
    if (*fresh) {
        t->slots[h].used = true;
        t->slots[h].key = key;
        t->used++;
    }
    return &t->slots[h];
}

/* ---------------------------------------------------------------------- opening files */

/* Opens path read-only as a regular file, following symlinks (module paths come from
 * /proc/PID/maps, already canonical; build-id debug files are symlinks by design) but never
 * blocking on a FIFO nor opening a device: stat() first, then a non-blocking open whose
 * result must be the same regular file. Returns the fd, or -1 with errno (EINVAL: not a
 * regular file). */
static int fdt_open_file(const char *path)
{
    struct stat st, fst;
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &fst) != 0 || !S_ISREG(fst.st_mode) || fst.st_dev != st.st_dev ||
        fst.st_ino != st.st_ino) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

static const char *fdt_open_error(int err)
{
    return err == EINVAL ? "not a regular file" : strerror(err);
}

/* The GNU build-id of the ELF file open on fd, as lower-case hex in out ("" if none). */
static void fdt_fd_build_id(int fd, char *out, size_t outlen)
{
    out[0] = 0;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf)
        return;
    const void *id;
    ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    for (ssize_t i = 0; i < n && (size_t)(2 * i + 2) < outlen; i++)
        snprintf(out + 2 * i, 3, "%02x", ((const unsigned char *)id)[i]);
    elf_end(elf);
}

static void fdt_hex(const unsigned char *id, size_t n, char *out, size_t outlen)
{
    out[0] = 0;
    for (size_t i = 0; i < n && 2 * i + 2 < outlen; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* Opens /usr/lib/debug/.build-id/xx/yyy.debug for a build-id in hex, checking that the file
 * has that build-id. Returns the fd or -1; *name gets the path (malloc'd) on success. */
static int fdt_open_by_build_id(const char *hex, char **name)
{
    size_t n = strlen(hex);
    if (n <= 2 || n > 256 || strspn(hex, "0123456789abcdef") != n)
        return -1;
    char *path = fdt_xasprintf(FDT_DEBUG_DIR "/.build-id/%.2s/%s.debug", hex, hex + 2);
    int fd = fdt_open_file(path);
    if (fd >= 0) {
        char have[520];
        fdt_fd_build_id(fd, have, sizeof have);
        if (strcmp(have, hex) != 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        free(path);
    else if (name)
        *name = path;
    else
        free(path);
    return fd;
}

/* CRC-32 of a whole file, as .gnu_debuglink records it. */
static int fdt_fd_crc(int fd, uint32_t *crc)
{
    unsigned char buf[65536];
    uLong c = crc32(0L, Z_NULL, 0);
    ssize_t r;
    off_t off = 0;
    while ((r = pread(fd, buf, sizeof buf, off)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c = crc32(c, buf, (uInt)r);
        off += r;
    }
    *crc = (uint32_t)c;
    return 0;
}

/* The .gnu_debugaltlink of the ELF file open on fd (a dwz file's name, absolute or relative to
 * the file's directory) as a path to check, malloc'd; NULL if none. */
static char *fdt_fd_altlink(int fd, const char *file)
{
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    size_t shstrndx;
    char *path = NULL;
    if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0) {
        elf_end(elf);
        return NULL;
    }
    for (Elf_Scn *scn = NULL; !path && (scn = elf_nextscn(elf, scn));) {
        GElf_Shdr sh;
        const char *name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
        if (!name || strcmp(name, ".gnu_debugaltlink") != 0)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        if (!data || !data->d_buf || !memchr(data->d_buf, 0, data->d_size)) {
            path = fdt_xstrdup("");
            break;
        }
        const char *alt = data->d_buf;
        if (alt[0] == '/') {
            path = fdt_xstrdup(alt);
        } else {
            char *real = realpath(file, NULL), *slash = real ? strrchr(real, '/') : NULL;
            if (slash)
                slash[1] = 0;
            path = fdt_xasprintf("%s%s", slash ? real : "", alt);
            free(real);
        }
    }
    elf_end(elf);
    return path;
}

/* False if the ELF file open on fd names a dwz file that is there but not a regular file:
 * libdw opens that name itself (with a blocking open) when no dwz file was given to it. */
static bool fdt_altlink_safe(int fd, const char *file)
{
    char *alt = fdt_fd_altlink(fd, file);
    struct stat st;
    bool ok = !alt || (alt[0] && (stat(alt, &st) != 0 || S_ISREG(st.st_mode)));
    free(alt);
    return ok;
}

/* libdwfl's find_debuginfo callback: separate debug info, and dwz files (asked for with crc 0
 * and the .gnu_debugaltlink name), opened here. Debug info by the module's build-id first, then
 * by the debuglink name in the binary's directory, its .debug/ and under /usr/lib/debug, as
 * elfutils would, each candidate checked by build-id or CRC before use, and refused if it
 * names an unsafe dwz file itself. */
static int fdt_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                              Dwarf_Addr base, const char *file_name, const char *link,
                              GElf_Word crc, char **debuginfo_file_name)
{
    (void)userdata;
    (void)modname;
    (void)base;
    bool alt = link && crc == 0;
    if (!alt) {
        const unsigned char *id;
        GElf_Addr vaddr;
        int idlen = dwfl_module_build_id(mod, &id, &vaddr);
        char hex[520];
        fdt_hex(id, idlen > 0 ? (size_t)idlen : 0, hex, sizeof hex);
        char *name = NULL;
        int fd = fdt_open_by_build_id(hex, &name);
        if (fd >= 0 && !fdt_altlink_safe(fd, name)) {
            close(fd);
            free(name);
            fd = -1;
        }
        if (fd >= 0) {
            *debuginfo_file_name = name;
            return fd;
        }
    }
    if (!link || !link[0])
        return -1;
    char *dir = fdt_xstrdup(file_name ? file_name : "");
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    char *cand[3];
    size_t ncand = 0;
    if (link[0] == '/') {
        cand[ncand++] = fdt_xstrdup(link);
    } else if (dir[0] == '/') {
        cand[ncand++] = fdt_xasprintf("%s%s", dir, link);
        if (!alt) {
            cand[ncand++] = fdt_xasprintf("%s.debug/%s", dir, link);
            cand[ncand++] = fdt_xasprintf(FDT_DEBUG_DIR "%s%s", dir, link);
        }
    }
    free(dir);
    int found = -1;
    for (size_t i = 0; i < ncand; i++) {
        if (found < 0 && (!file_name || strcmp(cand[i], file_name) != 0)) {
            int fd = fdt_open_file(cand[i]);
            uint32_t have;
            if (fd >= 0 && !alt &&
                (fdt_fd_crc(fd, &have) != 0 || have != crc || !fdt_altlink_safe(fd, cand[i]))) {
                close(fd);
                fd = -1;
            }
            if (fd >= 0) {
                found = fd;
                *debuginfo_file_name = cand[i];
                continue;
            }
        }
        free(cand[i]);
    }
    return found;
}

/* libdwfl's find_elf callback: never used, every module is reported with its descriptor. */
static int fdt_find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                        char **file_name, Elf **elfp)
{
    (void)mod;
    (void)userdata;
    (void)modname;
    (void)base;
    (void)file_name;
    *elfp = NULL;
    return -1;
}

static char *fdt_no_debuginfo_path;

static const Dwfl_Callbacks fdt_callbacks = {
    .find_elf = fdt_find_elf,
    .find_debuginfo = fdt_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &fdt_no_debuginfo_path,
};

/* ---------------------------------------------------------------------- the module cache */

/* At most this many warnings about modules per process: a hostile dump may name thousands. */
#define FDT_SYM_MAX_WARNINGS 32

static void fdt_sym_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fdt_sym_warn(const char *fmt, ...)
{
    static unsigned nwarned;
    if (nwarned >= FDT_SYM_MAX_WARNINGS)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* Paths come from the dump: no control character may reach the terminal or split the
     * line (a newline could forge a line of our own). */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (++nwarned == FDT_SYM_MAX_WARNINGS)
        fdt_msg("%s (and no more warnings about modules)", line);
    else
        fdt_msg("%s", line);
}

/* Opens the module's file (or its debug file by build-id) into a Dwfl of its own, at bias 0,
 * or warns once why its frames will show as module+offset. */
static void fdt_smod_open(struct fdt_smod *sm)
{
    char have[520] = "";
    int err = 0, fd = sm->exists ? fdt_open_file(sm->path) : -1;
    if (fd < 0)
        err = sm->exists ? errno : ENOENT;
    else
        fdt_fd_build_id(fd, have, sizeof have);
    char *debug = NULL;
    if (fd < 0 || (sm->build_id[0] && strcmp(have, sm->build_id) != 0)) {
        int dfd = fdt_open_by_build_id(sm->build_id, &debug);
        if (dfd < 0) {
            if (fd < 0)
                fdt_sym_warn("%s: cannot read it (%s); its frames show as module+offset", sm->path,
                             fdt_open_error(err));
            else
                fdt_sym_warn("%s: build-id differs from the dump (the file changed since); its "
                             "frames show as module+offset",
                             sm->path);
            if (fd >= 0)
                close(fd);
            return;
        }
        if (fd >= 0)
            close(fd);
        fd = dfd;
    }
    if (!fdt_altlink_safe(fd, debug ? debug : sm->path)) {
        fdt_sym_warn("%s: its .gnu_debugaltlink names a file that is not a regular file; "
                     "function names from its symbol table only",
                     sm->path);
        sm->no_dwarf = true;
    }
    sm->dwfl = dwfl_begin(&fdt_callbacks);
    if (!sm->dwfl) {
        fdt_sym_warn("%s: %s; its frames show as module+offset", sm->path, dwfl_errmsg(-1));
        close(fd);
        free(debug);
        return;
    }
    dwfl_report_begin(sm->dwfl);
    sm->mod = dwfl_report_elf(sm->dwfl, sm->path, debug ? debug : sm->path, fd, 0, true);
    dwfl_report_end(sm->dwfl, NULL, NULL);
    free(debug);
    if (!sm->mod) {
        fdt_sym_warn("%s: %s; its frames show as module+offset", sm->path, dwfl_errmsg(-1));
        close(fd); /* not consumed on failure */
        dwfl_end(sm->dwfl);
        sm->dwfl = NULL;
    }
}

static size_t fdt_smod_hash(const char *path, const char *build_id)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;
    for (const char *p = build_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return (size_t)(h % FDT_SMOD_BUCKETS);
}

/* The cached module for a dump's module: the same path, build-id and file on disk. */
static struct fdt_smod *fdt_smod_get(const struct fdt_dmodule *m)
{
    struct stat st;
    bool exists = stat(m->path, &st) == 0;
    if (!fdt_cache.buckets)
        fdt_cache.buckets = fdt_xcalloc(FDT_SMOD_BUCKETS, sizeof *fdt_cache.buckets);
    size_t b = fdt_smod_hash(m->path, m->build_id);
    for (struct fdt_smod *sm = fdt_cache.buckets[b]; sm; sm = sm->bucket) {
        if (strcmp(sm->path, m->path) != 0 || strcmp(sm->build_id, m->build_id) != 0 ||
            sm->exists != exists)
            continue;
        if (!exists ||
            (sm->st_dev == st.st_dev && sm->st_ino == st.st_ino && sm->st_size == st.st_size &&
             sm->st_mtim.tv_sec == st.st_mtim.tv_sec && sm->st_mtim.tv_nsec == st.st_mtim.tv_nsec))
            return sm;
    }
    struct fdt_smod *sm = fdt_xcalloc(1, sizeof *sm);
    sm->path = fdt_xstrdup(m->path);
    sm->build_id = fdt_xstrdup(m->build_id);
    sm->exists = exists;
    if (exists) {
        sm->st_dev = st.st_dev;
        sm->st_ino = st.st_ino;
        sm->st_size = st.st_size;
        sm->st_mtim = st.st_mtim;
    }
    fdt_restab_init(&sm->results);
    sm->next = fdt_cache.mods;
    fdt_cache.mods = sm;
    sm->bucket = fdt_cache.buckets[b];
    fdt_cache.buckets[b] = sm;
    fdt_smod_open(sm);
    return sm;
}

static void fdt_cache_free(void)
{
    for (struct fdt_smod *sm = fdt_cache.mods, *next; sm; sm = next) {
        next = sm->next;
        fdt_restab_free(&sm->results);
        for (size_t i = 0; i < sm->nnames; i++)
            free(sm->names[i]);
        free(sm->names);
        if (sm->dwfl)
            dwfl_end(sm->dwfl);
        free(sm->path);
        free(sm->build_id);
        free(sm);
    }
    fdt_cache.mods = NULL;
    free(fdt_cache.buckets);
    fdt_cache.buckets = NULL;
}

/* ------------------------------------------------------------------------- symbolizing */

typedef char *(*fdt_demangle_fn)(const char *, char *, size_t *, int *);

/* A readable name for a (possibly mangled) symbol: C++ names demangled if libstdc++ is
 * available, anything else unchanged. */
static const char *fdt_sym_name(struct fdt_smod *sm, const char *name)
{
    static fdt_demangle_fn demangle;
    static bool looked;
    if (!name || strncmp(name, "_Z", 2) != 0)
        return name;
    if (!looked) {
        looked = true;
        void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
        if (h)
            *(void **)&demangle = dlsym(h, "__cxa_demangle");
    }
    int status = -1;
    char *out = demangle ? demangle(name, NULL, NULL, &status) : NULL;
    if (!out || status != 0) {
        free(out);
        return name;
    }
    sm->names = fdt_xrealloc(sm->names, (sm->nnames + 1) * sizeof *sm->names);
    sm->names[sm->nnames++] = out;
    return out;
}

/* The name of a function DIE: its linkage name demangled (C++), else DW_AT_name; both looked
 * up through DW_AT_abstract_origin and DW_AT_specification. */
static const char *fdt_die_name(struct fdt_smod *sm, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!link)
        link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    const char *name = link ? fdt_sym_name(sm, link) : NULL;
    return name && name != link ? name : dwarf_diename(die);
}

static int fdt_is_function(Dwarf_Die *die)
{
    int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* Frames for addr in the module from DWARF scopes, inlined first. Returns the count, 0 if the
 * module has no DWARF for addr. */
static size_t fdt_sym_dwarf(struct fdt_smod *sm, Dwarf_Addr addr, struct fdt_frame **out)
{
    Dwarf_Addr bias;
    Dwarf_Die *cudie = dwfl_module_addrdie(sm->mod, addr, &bias);
    if (!cudie)
        return 0;
    Dwarf_Die *scopes = NULL, *chain = NULL;
    int n = dwarf_getscopes(cudie, addr - bias, &scopes);
    if (n <= 0) {
        free(scopes);
        return 0;
    }
    int nchain = dwarf_getscopes_die(&scopes[0], &chain);
    free(scopes);
    if (nchain <= 0) {
        free(chain);
        return 0;
    }
    Dwarf_Files *files = NULL;
    if (dwarf_getsrcfiles(cudie, &files, NULL) != 0)
        files = NULL;

    struct fdt_frame *fr = fdt_xcalloc((size_t)nchain, sizeof *fr);
    size_t nf = 0;
    int k = 0;
    while (k < nchain && !fdt_is_function(&chain[k]))
        k++;
    if (k == nchain) {
        free(chain);
        free(fr);
        return 0;
    }
    /* Innermost frame: its line from the line table. */
    fr[0].function = fdt_die_name(sm, &chain[k]);
    Dwfl_Line *line = dwfl_module_getsrc(sm->mod, addr);
    if (line) {
        int ln = 0;
        fr[0].file = dwfl_lineinfo(line, NULL, &ln, NULL, NULL, NULL);
        fr[0].line = ln;
    }
    nf = 1;
    /* Each inlined scope: the next outer function called it at DW_AT_call_file:line. */
    while (k < nchain && dwarf_tag(&chain[k]) == DW_TAG_inlined_subroutine) {
        int outer = k + 1;
        while (outer < nchain && !fdt_is_function(&chain[outer]))
            outer++;
        if (outer == nchain)
            break;
        fr[nf - 1].inlined = true;
        Dwarf_Attribute attr;
        Dwarf_Word val;
        fr[nf].function = fdt_die_name(sm, &chain[outer]);
        if (files && dwarf_formudata(dwarf_attr(&chain[k], DW_AT_call_file, &attr), &val) == 0)
            fr[nf].file = dwarf_filesrc(files, val, NULL, NULL);
        if (dwarf_formudata(dwarf_attr(&chain[k], DW_AT_call_line, &attr), &val) == 0)
            fr[nf].line = (int)val;
        nf++;
        k = outer;
    }
    free(chain);
    *out = fr;
    return nf;
}

/* The module's frames for a file address, looked up once per process. */
static const struct fdt_res *fdt_smod_lookup(struct fdt_smod *sm, uint64_t addr)
{
    bool fresh;
    struct fdt_res *r = fdt_restab_slot(&sm->results, addr, &fresh);
    if (!fresh)
        return r;
    struct fdt_frame *fr = NULL;
    size_t n = sm->no_dwarf ? 0 : fdt_sym_dwarf(sm, addr, &fr);
    if (n == 0) {
        fr = fdt_xcalloc(1, sizeof *fr);
        n = 1;
    }
    if (!fr[n - 1].function) {
        GElf_Off off;
        GElf_Sym sym;
        fr[n - 1].function =
            fdt_sym_name(sm, dwfl_module_addrinfo(sm->mod, addr, &off, &sym, NULL, NULL, NULL));
    }
    r->frames = fr;
    r->n = n;
    return r;
}

struct fdt_sym *fdt_sym_new(const struct fdt_dump *d)
{
    struct fdt_sym *s = fdt_xcalloc(1, sizeof *s);
    s->dump = d;
    elf_version(EV_CURRENT);
    s->mods = fdt_xcalloc(d->nmodules, sizeof *s->mods);
    s->looked = fdt_xcalloc(d->nmodules, sizeof *s->looked);
    fdt_restab_init(&s->results);
    fdt_cache.users++;
    return s;
}

void fdt_sym_free(struct fdt_sym *s)
{
    if (!s)
        return;
    fdt_restab_free(&s->results);
    free(s->mods);
    free(s->looked);
    free(s);
    if (--fdt_cache.users == 0)
        fdt_cache_free();
}

size_t fdt_sym_ip(struct fdt_sym *s, uint64_t ip, const struct fdt_frame **frames)
{
    static struct fdt_frame zero = {.module = ""};
    if (ip == 0) {
        *frames = &zero;
        return 1;
    }
    bool fresh;
    struct fdt_res *r = fdt_restab_slot(&s->results, ip, &fresh);
    if (fresh) {
        uint64_t addr = ip - 1;
        const struct fdt_dmodule *m = fdt_dump_module(s->dump, ip);
        struct fdt_smod *sm = NULL;
        if (m) {
            size_t i = (size_t)(m - s->dump->modules);
            if (!s->looked[i] && m->path[0] == '/') /* not [vdso] and other file-less maps */
                s->mods[i] = fdt_smod_get(m);
            s->looked[i] = true;
            sm = s->mods[i];
            addr -= m->base;
        }
        const struct fdt_res *cached = sm && sm->dwfl ? fdt_smod_lookup(sm, addr) : NULL;
        r->n = cached ? cached->n : 1;
        r->frames = fdt_xcalloc(r->n, sizeof *r->frames);
        if (cached)
            memcpy(r->frames, cached->frames, r->n * sizeof *r->frames);
        for (size_t j = 0; j < r->n; j++) {
            r->frames[j].ip = ip;
            r->frames[j].module = m ? m->path : "";
            r->frames[j].offset = addr;
        }
    }
    *frames = r->frames;
    return r->n;
}
