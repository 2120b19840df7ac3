/* The module map of a dump: every ELF object with code mapped in the process, from
 * /proc/self/maps, with load bias and GNU build-id read from the headers in memory (copied
 * out with fdl_safemem_read, which cannot fault). No dl_iterate_phdr: it takes the loader
 * lock, which the thread a signal interrupted may hold. */
#include "dump.h"
#include "safemem.h"

#include <elf.h>
#include <link.h>
#include <string.h>

#define MAX_MODULES 4096
#define MAX_PHDRS 64 /* ELF objects have about 12; more are ignored */
#define PAGE_4K 4096
static struct fdl_module mods[MAX_MODULES];
static int nmods;
static struct fdl_module cur;
static int have_cur;
static char modpaths[1 << 18];
static size_t modpaths_used;
static char iobuf[1 << 16];

static uintptr_t parse_hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uintptr_t)d;
    }
}

/* The GNU build-id note in the PT_NOTE segment ph, copied out through fdl_safemem_read. */
static void read_build_id(struct fdl_module *m, const ElfW(Phdr) * ph)
{
    static unsigned char notes[4096]; /* under the dump lock */
    uintptr_t a = m->base + ph->p_vaddr, e = a + ph->p_memsz;
    if (a < m->start || e > m->first_end || e < a)
        return;
    size_t len = e - a < sizeof(notes) ? e - a : sizeof(notes);
    ssize_t got = fdl_safemem_read(notes, (const void *)a, len);
    if (got <= 0)
        return;
    size_t off = 0, end = (size_t)got;
    while (off + 12 <= end) {
        uint32_t nh[3];
        memcpy(nh, notes + off, sizeof(nh));
        uint32_t namesz = nh[0], descsz = nh[1], type = nh[2];
        size_t name = off + 12, desc = name + ((namesz + 3u) & ~3u);
        size_t next = desc + ((descsz + 3u) & ~3u);
        if (next > end || next <= off)
            return;
        if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(notes + name, "GNU", 4)) {
            const unsigned char *d = notes + desc;
            unsigned n = descsz > 20 ? 20 : descsz;
            for (unsigned i = 0; i < n; i++) {
                m->build_id[2 * i] = "0123456789abcdef"[d[i] >> 4];
                m->build_id[2 * i + 1] = "0123456789abcdef"[d[i] & 15];
            }
            m->build_id[2 * n] = 0;
            return;
        }
        off = next;
    }
}

/* Headers are copied out of the mapping, never read in place: the file behind it may have
 * been truncated (SIGBUS) or the range unmapped by another thread (SIGSEGV). Without a
 * fault-free read (process_vm_readv refused by a seccomp filter) the module keeps its
 * mapping address as base and goes without a build-id. */
static void finish_module(void)
{
    if (!have_cur)
        return;
    have_cur = 0;
    /* Only objects with code: data files mapped at offset 0 are not looked at. */
    if (!cur.has_x || nmods >= MAX_MODULES)
        return;
    cur.base = cur.start;
    cur.build_id[0] = 0;
    ElfW(Ehdr) eh;
    ssize_t got = fdl_safemem_read(&eh, (const void *)cur.start, sizeof(eh));
    if (got < 0 && !fdl_safemem_usable()) {
        mods[nmods++] = cur;
        return;
    }
    if (got != (ssize_t)sizeof(eh) || cur.first_end - cur.start < sizeof(eh) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_phentsize != sizeof(ElfW(Phdr)) ||
        eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(ElfW(Phdr)) > cur.first_end - cur.start)
        return;
    static ElfW(Phdr) ph[MAX_PHDRS]; /* under the dump lock */
    int nph = eh.e_phnum < MAX_PHDRS ? eh.e_phnum : MAX_PHDRS;
    size_t bytes = (size_t)nph * sizeof(ElfW(Phdr));
    if (fdl_safemem_read(ph, (const void *)(cur.start + eh.e_phoff), bytes) != (ssize_t)bytes)
        return;
    for (int i = 0; i < nph; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
            cur.base = cur.start - (ph[i].p_vaddr & ~(uintptr_t)(PAGE_4K - 1));
            break;
        }
    }
    for (int i = 0; i < nph && !cur.build_id[0]; i++)
        if (ph[i].p_type == PT_NOTE)
            read_build_id(&cur, &ph[i]);
    mods[nmods++] = cur;
}

static void maps_line(const char *l)
{
    const char *p = l;
    uintptr_t start = parse_hex(&p);
    if (*p++ != '-')
        return;
    uintptr_t end = parse_hex(&p);
    if (*p++ != ' ' || strlen(p) < 5)
        return;
    char r = p[0], x = p[2];
    p += 5;
    uintptr_t off = parse_hex(&p);
    /* dev and inode, then the path after spaces */
    for (int field = 0; field < 2; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    while (*p == ' ')
        p++;
    if (*p != '/' && strcmp(p, "[vdso]") != 0)
        return;
    if (have_cur && !strcmp(modpaths + cur.path, p) && start >= cur.start) {
        cur.end = end;
        cur.has_x |= x == 'x';
        return;
    }
    finish_module();
    size_t len = strlen(p) + 1;
    if (off != 0 || r != 'r' || modpaths_used + len > sizeof(modpaths))
        return;
    memcpy(modpaths + modpaths_used, p, len);
    cur.path = (uint32_t)modpaths_used;
    modpaths_used += len;
    cur.start = start;
    cur.end = end;
    cur.first_end = end;
    cur.has_x = x == 'x';
    have_cur = 1;
}

void fdl_maps_read(void)
{
    nmods = 0;
    modpaths_used = 0;
    have_cur = 0;
    fdl_dest_read_proc(FDL_PROC_SELF "/maps", iobuf, sizeof(iobuf), maps_line);
    finish_module();
}

const struct fdl_module *fdl_maps_find(uintptr_t ip)
{
    int lo = 0, hi = nmods - 1;
    /* maps is sorted by address, so mods is too */
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (ip < mods[mid].start)
            hi = mid - 1;
        else if (ip >= mods[mid].end)
            lo = mid + 1;
        else
            return &mods[mid];
    }
    return NULL;
}

int fdl_maps_count(void)
{
    return nmods;
}

const struct fdl_module *fdl_maps_get(int i)
{
    return &mods[i];
}

const char *fdl_maps_path(const struct fdl_module *mod)
{
    return modpaths + mod->path;
}
