/* Symbolization with elfutils. Each module of the dump is reported to an offline Dwfl on first
 * use, at the dump's load bias, after checking that the file on disk has the build-id the dump
 * recorded (else the matching /usr/lib/debug/.build-id/xx/yyy.debug is used if installed, else
 * the module's frames stay as module+offset). Separate debug info is found by build-id and
 * debuglink through dwfl_standard_find_debuginfo. Function names come from DWARF (which names
 * gcc's .constprop/.isra clones by their source name) or else the ELF symbol table, static
 * functions included; inlined frames from the DW_TAG_inlined_subroutine scopes around the
 * address, each caller's line from DW_AT_call_file/DW_AT_call_line. C++ names are demangled
 * with libstdc++'s __cxa_demangle when that library can be loaded. The dump holds return
 * addresses, so ip - 1 is looked up. Results are cached per ip in an open-addressing table. */
#include "symbolize.h"

#include "util.h"

#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { FDT_MOD_NEW = 0, FDT_MOD_READY, FDT_MOD_NONE };

struct fdt_sym_entry {
    uint64_t ip; /* 0 = empty slot */
    size_t n;
    struct fdt_frame *frames;
};

struct fdt_sym {
    const struct fdt_dump *dump;
    Dwfl *dwfl;
    int *mod_state;         /* per dump module, FDT_MOD_* */
    Dwfl_Module **mod_dwfl; /* per dump module when READY */
    struct fdt_sym_entry *table;
    size_t mask, used;
    char **names; /* demangled names, freed with the symbolizer */
    size_t nnames;
};

static char *fdt_debuginfo_path;

static const Dwfl_Callbacks fdt_callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &fdt_debuginfo_path,
};

struct fdt_sym *fdt_sym_new(const struct fdt_dump *d)
{
    struct fdt_sym *s = fdt_xcalloc(1, sizeof *s);
    s->dump = d;
    elf_version(EV_CURRENT);
    s->dwfl = dwfl_begin(&fdt_callbacks);
    s->mod_state = fdt_xcalloc(d->nmodules, sizeof *s->mod_state);
    s->mod_dwfl = fdt_xcalloc(d->nmodules, sizeof *s->mod_dwfl);
    s->mask = 1023;
    s->table = fdt_xcalloc(s->mask + 1, sizeof *s->table);
    return s;
}

void fdt_sym_free(struct fdt_sym *s)
{
    if (!s)
        return;
    for (size_t i = 0; i <= s->mask; i++)
        free(s->table[i].frames);
    free(s->table);
    for (size_t i = 0; i < s->nnames; i++)
        free(s->names[i]);
    free(s->names);
    free(s->mod_state);
    free(s->mod_dwfl);
    if (s->dwfl)
        dwfl_end(s->dwfl);
    free(s);
}

/* Reads the GNU build-id of an ELF file as lower-case hex into out. 0, or -1 if the file
 * cannot be opened (errno set) or has no build-id (out = ""). */
static int fdt_file_build_id(const char *path, char *out, size_t outlen)
{
    out[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (elf) {
        const void *id;
        ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
        for (ssize_t i = 0; i < n && (size_t)(2 * i + 2) < outlen; i++)
            snprintf(out + 2 * i, 3, "%02x", ((const unsigned char *)id)[i]);
        elf_end(elf);
    }
    close(fd);
    return 0;
}

/* Reports module i of the dump to dwfl, choosing the file to read. */
static void fdt_sym_report(struct fdt_sym *s, size_t i)
{
    const struct fdt_dmodule *m = &s->dump->modules[i];
    s->mod_state[i] = FDT_MOD_NONE;
    if (m->path[0] != '/')
        return; /* [vdso] and other file-less mappings */
    char have[256], debug[512] = "";
    const char *file = m->path;
    int missing = fdt_file_build_id(m->path, have, sizeof have);
    size_t idlen = strlen(m->build_id);
    if (idlen > 2)
        snprintf(debug, sizeof debug, "/usr/lib/debug/.build-id/%.2s/%s.debug", m->build_id,
                 m->build_id + 2);
    if (missing || (idlen && strcmp(have, m->build_id) != 0)) {
        if (debug[0] && access(debug, R_OK) == 0) {
            file = debug;
        } else {
            if (missing)
                fdt_msg("%s: cannot read it; its frames show as module+offset", m->path);
            else
                fdt_msg("%s: build-id differs from the dump (the file changed since); its "
                        "frames show as module+offset",
                        m->path);
            return;
        }
    }
    dwfl_report_begin_add(s->dwfl);
    Dwfl_Module *mod = dwfl_report_elf(s->dwfl, m->path, file, -1, m->base, true);
    dwfl_report_end(s->dwfl, NULL, NULL);
    if (!mod) {
        fdt_msg("%s: %s; its frames show as module+offset", m->path, dwfl_errmsg(-1));
        return;
    }
    s->mod_dwfl[i] = mod;
    s->mod_state[i] = FDT_MOD_READY;
}

typedef char *(*fdt_demangle_fn)(const char *, char *, size_t *, int *);

/* A readable name for a (possibly mangled) symbol: C++ names demangled if libstdc++ is
 * available, anything else unchanged. */
static const char *fdt_sym_name(struct fdt_sym *s, const char *name)
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
    s->names = fdt_xrealloc(s->names, (s->nnames + 1) * sizeof *s->names);
    s->names[s->nnames++] = out;
    return out;
}

/* The name of a function DIE: its linkage name demangled (C++), else DW_AT_name; both looked
 * up through DW_AT_abstract_origin and DW_AT_specification. */
static const char *fdt_die_name(struct fdt_sym *s, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!link)
        link = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    const char *name = link ? fdt_sym_name(s, link) : NULL;
    return name && name != link ? name : dwarf_diename(die);
}

static int fdt_is_function(Dwarf_Die *die)
{
    int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* Appends frames for addr in mod (DWARF scopes, inlined first). Returns the count, 0 if the
 * module has no DWARF for addr. */
static size_t fdt_sym_dwarf(struct fdt_sym *s, Dwfl_Module *mod, Dwarf_Addr addr,
                            struct fdt_frame **out)
{
    Dwarf_Addr bias;
    Dwarf_Die *cudie = dwfl_module_addrdie(mod, addr, &bias);
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
    fr[0].function = fdt_die_name(s, &chain[k]);
    Dwfl_Line *line = dwfl_module_getsrc(mod, addr);
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
        fr[nf].function = fdt_die_name(s, &chain[outer]);
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

static void fdt_sym_lookup(struct fdt_sym *s, struct fdt_sym_entry *e)
{
    uint64_t ip = e->ip, addr = ip ? ip - 1 : 0;
    const struct fdt_dmodule *m = fdt_dump_module(s->dump, ip);
    Dwfl_Module *mod = NULL;
    if (m) {
        size_t i = (size_t)(m - s->dump->modules);
        if (s->mod_state[i] == FDT_MOD_NEW)
            fdt_sym_report(s, i);
        if (s->mod_state[i] == FDT_MOD_READY)
            mod = s->mod_dwfl[i];
    }
    struct fdt_frame *fr = NULL;
    size_t n = mod ? fdt_sym_dwarf(s, mod, addr, &fr) : 0;
    if (n == 0) {
        fr = fdt_xcalloc(1, sizeof *fr);
        n = 1;
    }
    if (mod && !fr[n - 1].function) {
        GElf_Off off;
        GElf_Sym sym;
        fr[n - 1].function =
            fdt_sym_name(s, dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL));
    }
    for (size_t j = 0; j < n; j++) {
        fr[j].ip = ip;
        fr[j].module = m ? m->path : "";
        fr[j].offset = m ? addr - m->base : addr;
    }
    e->frames = fr;
    e->n = n;
}

static size_t fdt_hash(uint64_t ip)
{
    ip ^= ip >> 33;
    ip *= 0xff51afd7ed558ccdULL;
    ip ^= ip >> 33;
    return (size_t)ip;
}

static void fdt_sym_grow(struct fdt_sym *s)
{
    size_t oldmask = s->mask;
    struct fdt_sym_entry *old = s->table;
    s->mask = oldmask * 2 + 1;
    s->table = fdt_xcalloc(s->mask + 1, sizeof *s->table);
    for (size_t i = 0; i <= oldmask; i++) {
        if (!old[i].ip)
            continue;
        size_t h = fdt_hash(old[i].ip) & s->mask;
        while (s->table[h].ip)
            h = (h + 1) & s->mask;
        s->table[h] = old[i];
    }
    free(old);
}

size_t fdt_sym_ip(struct fdt_sym *s, uint64_t ip, const struct fdt_frame **frames)
{
    static struct fdt_frame zero = {.module = ""};
    if (ip == 0) {
        *frames = &zero;
        return 1;
    }
    size_t h = fdt_hash(ip) & s->mask;
    while (s->table[h].ip && s->table[h].ip != ip)
        h = (h + 1) & s->mask;
    if (!s->table[h].ip) {
        if (2 * (s->used + 1) > s->mask) {
            fdt_sym_grow(s);
            return fdt_sym_ip(s, ip, frames);
        }
        s->table[h].ip = ip;
        s->used++;
        fdt_sym_lookup(s, &s->table[h]);
    }
    *frames = s->table[h].frames;
    return s->table[h].n;
}
