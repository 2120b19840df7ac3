/* Suppressions (suppress.h): a line-oriented format modelled on valgrind's, read with fnmatch(3)
 * globs, matched innermost first against the stack the text report shows (fdt_proc_xstack).
 * The files are the invoking user's choice, so they are opened as given; what they say is
 * still escaped before it reaches a terminal. Generated entries come from dump data, so every
 * byte a terminal could act on, and every glob character, is neutralised before it is written. */
#include "suppress.h"

#include "safefile.h"
#include "utf8.h"
#include "util.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

enum fdt_ftype { FDT_F_FUN, FDT_F_SRC, FDT_F_OBJ, FDT_F_PY, FDT_F_ANY };

struct fdt_fpat {
    enum fdt_ftype type;
    char *pat, *pat2; /* py: file and function */
};

struct fdt_rule {
    char *name, *file;
    int line;
    char *call, *kind, *path; /* NULL: any */
    size_t nframes;
    struct fdt_fpat *frames;
    size_t used; /* descriptors taken, all processes */
};

struct fdt_supp {
    size_t n;
    struct fdt_rule *rules;
};

/* ------------------------------------------------------------------------------- reading */

static char *fdt_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* The value after "key:" (trimmed), or NULL if s does not start with it. */
static char *fdt_keyval(char *s, const char *key)
{
    size_t n = strlen(key);
    if (strncmp(s, key, n) || s[n] != ':')
        return NULL;
    return fdt_trim(s + n + 1);
}

static void fdt_rule_free(struct fdt_rule *r)
{
    free(r->name);
    free(r->file);
    free(r->call);
    free(r->kind);
    free(r->path);
    for (size_t i = 0; i < r->nframes; i++) {
        free(r->frames[i].pat);
        free(r->frames[i].pat2);
    }
    free(r->frames);
}

void fdt_supp_free(struct fdt_supp *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        fdt_rule_free(&s->rules[i]);
    free(s->rules);
    free(s);
}

static void fdt_supp_error(const char *file, int line, const char *what, const char *text)
{
    char ef[1024], et[256];
    fdt_escape(file, ef, sizeof ef);
    if (text)
        fdt_msg("%s:%d: %s '%s'", ef, line, what, fdt_escape(text, et, sizeof et));
    else
        fdt_msg("%s:%d: %s", ef, line, what);
}

/* One line inside an entry, after its name. Returns NULL or why it is refused. */
static const char *fdt_rule_line(struct fdt_rule *r, char *s)
{
    char *v;
    char **filter = NULL;
    if ((v = fdt_keyval(s, "call")))
        filter = &r->call;
    else if ((v = fdt_keyval(s, "kind")))
        filter = &r->kind;
    else if ((v = fdt_keyval(s, "path")))
        filter = &r->path;
    if (filter) {
        if (r->nframes)
            return "call:, kind: and path: must come before the frames";
        if (*filter)
            return "repeated filter";
        if (!*v)
            return "empty pattern";
        *filter = fdt_xstrdup(v);
        return NULL;
    }
    struct fdt_fpat f = {0};
    if (!strcmp(s, "...")) {
        f.type = FDT_F_ANY;
    } else if ((v = fdt_keyval(s, "fun"))) {
        f.type = FDT_F_FUN;
    } else if ((v = fdt_keyval(s, "src"))) {
        f.type = FDT_F_SRC;
    } else if ((v = fdt_keyval(s, "obj"))) {
        f.type = FDT_F_OBJ;
    } else if ((v = fdt_keyval(s, "py"))) {
        f.type = FDT_F_PY;
        char *colon = strrchr(v, ':');
        if (!colon)
            return "expected py:FILE:FUNCTION";
        *colon = 0;
        f.pat2 = fdt_xstrdup(fdt_trim(colon + 1));
        v = fdt_trim(v);
    } else {
        return "expected fun:, src:, obj:, py:FILE:FUNCTION, '...', call:, kind:, path: or '}'";
    }
    if (f.type != FDT_F_ANY && (!*v || (f.pat2 && !*f.pat2))) {
        free(f.pat2);
        return "empty pattern";
    }
    if (f.type != FDT_F_ANY)
        f.pat = fdt_xstrdup(v);
    r->frames = fdt_xrealloc(r->frames, (r->nframes + 1) * sizeof *r->frames);
    r->frames[r->nframes++] = f;
    return NULL;
}

static int fdt_supp_read(struct fdt_supp *s, const char *file)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        char ef[1024];
        fdt_msg("%s: cannot read suppressions: %s", fdt_escape(file, ef, sizeof ef),
                strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0, start = 0;
    struct fdt_rule *r = NULL; /* the entry being read */
    bool named = false;
    while (getline(&buf, &cap, f) >= 0) {
        lineno++;
        char *l = fdt_trim(buf);
        if (!*l || *l == '#')
            continue;
        const char *why = NULL;
        if (!r) {
            if (strcmp(l, "{") != 0) {
                fdt_supp_error(file, lineno, "expected '{' to start an entry, got", l);
                rc = -1;
                break;
            }
            s->rules = fdt_xrealloc(s->rules, (s->n + 1) * sizeof *s->rules);
            r = &s->rules[s->n++];
            memset(r, 0, sizeof *r);
            r->file = fdt_xstrdup(file);
            r->line = start = lineno;
            named = false;
        } else if (!named) {
            if (!strcmp(l, "{") || !strcmp(l, "}"))
                why = "expected the entry's name";
            for (size_t i = 0; !why && i + 1 < s->n; i++)
                if (!strcmp(s->rules[i].name, l))
                    why = "duplicate entry name";
            if (!why) {
                r->name = fdt_xstrdup(l);
                named = true;
            }
        } else if (!strcmp(l, "}")) {
            if (!r->nframes)
                why = "entry has no frame pattern (fun:, src:, obj:, py: or '...')";
            else
                r = NULL;
        } else if (!strcmp(l, "{")) {
            why = "'{' inside an entry: a '}' is missing";
        } else {
            why = fdt_rule_line(r, l);
        }
        if (why) {
            fdt_supp_error(file, lineno, why, NULL);
            rc = -1;
            break;
        }
    }
    if (!rc && r) {
        char why[96];
        snprintf(why, sizeof why,
                 "end of file inside the entry that starts at line %d: '}' missing", start);
        fdt_supp_error(file, lineno, why, NULL);
        rc = -1;
    }
    if (!rc && ferror(f)) {
        char ef[1024];
        fdt_msg("%s: cannot read suppressions: %s", fdt_escape(file, ef, sizeof ef),
                strerror(errno));
        rc = -1;
    }
    free(buf);
    fclose(f);
    return rc;
}

struct fdt_supp *fdt_supp_load(const char *const *files, size_t nfiles)
{
    struct fdt_supp *s = fdt_xcalloc(1, sizeof *s);
    for (size_t i = 0; i < nfiles; i++)
        if (fdt_supp_read(s, files[i])) {
            fdt_supp_free(s);
            return NULL;
        }
    return s;
}

/* ------------------------------------------------------------------------------ matching */

/* A glob without '/' is matched against the base name of a path, one with '/' against all
 * of it; '*' matches '/' too. */
static bool fdt_glob_path(const char *pat, const char *path)
{
    if (!path)
        path = "";
    if (!strchr(pat, '/')) {
        const char *b = strrchr(path, '/');
        path = b ? b + 1 : path;
    }
    return fnmatch(pat, path, 0) == 0;
}

static bool fdt_frame_match(const struct fdt_fpat *f, const struct fdt_xframe *x)
{
    switch (f->type) {
    case FDT_F_FUN:
        return x->c && fnmatch(f->pat, x->c->function ? x->c->function : "", 0) == 0;
    case FDT_F_SRC:
        return x->c && x->c->file && fdt_glob_path(f->pat, x->c->file);
    case FDT_F_OBJ:
        return x->c && *x->c->module && fdt_glob_path(f->pat, x->c->module);
    case FDT_F_PY:
        return x->py && fdt_glob_path(f->pat, x->py->file) &&
               fnmatch(f->pat2, x->py->function, 0) == 0;
    case FDT_F_ANY:
        return true;
    }
    return false;
}

/* Patterns from pi on against frames from si on; the patterns need only match the innermost
 * part of the stack (as in valgrind), '...' any number of frames. */
static bool fdt_stack_match(const struct fdt_rule *r, size_t pi, const struct fdt_xframe *x,
                            size_t si, size_t n)
{
    for (; pi < r->nframes; pi++, si++) {
        if (r->frames[pi].type == FDT_F_ANY) {
            while (pi + 1 < r->nframes && r->frames[pi + 1].type == FDT_F_ANY)
                pi++;
            for (size_t k = si; k <= n; k++)
                if (fdt_stack_match(r, pi + 1, x, k, n))
                    return true;
            return false;
        }
        if (si >= n || !fdt_frame_match(&r->frames[pi], &x[si]))
            return false;
    }
    return true;
}

static bool fdt_fd_match(const struct fdt_rule *r, const struct fdt_dfd *f)
{
    if (r->kind && fnmatch(r->kind, f->kind, 0) != 0)
        return false;
    if (!r->path)
        return true;
    const char *path = *f->path ? f->path : f->target;
    return fnmatch(r->path, path, 0) == 0 || (*f->local && fnmatch(r->path, f->local, 0) == 0) ||
           (*f->peer && fnmatch(r->path, f->peer, 0) == 0);
}

void fdt_supp_apply(struct fdt_supp *s, struct fdt_proc *p)
{
    if (!s || !s->n || !p->ngroups)
        return;
    const struct fdt_dump *d = p->dump;
    bool *removed = fdt_xcalloc(d->nfds ? d->nfds : 1, sizeof *removed);
    size_t *count = fdt_xcalloc(s->n, sizeof *count), *groups = fdt_xcalloc(s->n, sizeof *groups);
    size_t *cand = fdt_xcalloc(s->n, sizeof *cand), *took = fdt_xcalloc(s->n, sizeof *took);
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        const struct fdt_group *g = &p->groups[gi];
        struct fdt_xframe *x;
        size_t n = fdt_proc_xstack(p, g, &x), nc = 0, py = 0;
        while (py < n && !x[py].py)
            py++;
        for (size_t ri = 0; ri < s->n; ri++) {
            const struct fdt_rule *r = &s->rules[ri];
            /* An entry starting with py: starts at the innermost Python frame: the C frames
             * below a Python line (its C extension's path to the call) are not its business. */
            size_t from = r->nframes && r->frames[0].type == FDT_F_PY && py < n ? py : 0;
            if ((!r->call || fnmatch(r->call, g->call, 0) == 0) &&
                fdt_stack_match(r, 0, x, from, n))
                cand[nc++] = ri;
        }
        free(x);
        bool any = false;
        memset(took, 0, s->n * sizeof *took);
        for (size_t i = 0; nc && i < g->count; i++)
            for (size_t k = 0; k < nc; k++)
                if (fdt_fd_match(&s->rules[cand[k]], &d->fds[g->fds[i]])) {
                    removed[g->fds[i]] = true;
                    took[cand[k]]++;
                    any = true;
                    break;
                }
        for (size_t ri = 0; any && ri < s->n; ri++)
            if (took[ri]) {
                count[ri] += took[ri];
                groups[ri]++;
            }
        if (any)
            p->nsupp_groups++;
    }
    for (size_t ri = 0; ri < s->n; ri++) {
        if (!count[ri])
            continue;
        p->hits = fdt_xrealloc(p->hits, (p->nhits + 1) * sizeof *p->hits);
        p->hits[p->nhits++] = (struct fdt_supp_hit){s->rules[ri].name, count[ri], groups[ri]};
        p->nsuppressed += count[ri];
        s->rules[ri].used += count[ri];
    }
    if (p->nsuppressed)
        fdt_proc_remove_fds(p, removed);
    free(removed);
    free(count);
    free(groups);
    free(cand);
    free(took);
}

void fdt_supp_print_unused(const struct fdt_supp *s, FILE *out)
{
    char en[512], ef[1024];
    for (size_t i = 0; s && i < s->n; i++)
        if (!s->rules[i].used)
            fprintf(out, "fdleak: unused suppression %s (%s:%d)\n",
                    fdt_escape(s->rules[i].name, en, sizeof en),
                    fdt_escape(s->rules[i].file, ef, sizeof ef), s->rules[i].line);
}

/* ---------------------------------------------------------------------------- generating */

struct fdt_supp_gen {
    size_t n;
    char **names, **bodies;
};

struct fdt_supp_gen *fdt_supp_gen_new(void)
{
    return fdt_xcalloc(1, sizeof(struct fdt_supp_gen));
}

void fdt_supp_gen_free(struct fdt_supp_gen *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->names[i]);
        free(g->bodies[i]);
    }
    free(g->names);
    free(g->bodies);
    free(g);
}

/* Writes s so that the line cannot fool a terminal or the reader, and, as a glob, matches
 * exactly s: glob characters get a backslash; what a terminal could act on (controls, C1,
 * bidirectional overrides, ill-formed UTF-8), leading and trailing blanks, and the characters
 * in `also` become '?', which matches them. */
static void fdt_put_safe(FILE *f, const char *str, bool glob, const char *also)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t len = strlen((const char *)s);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        uint32_t cp;
        size_t n;
        if (c >= 0x80) {
            n = fdc_utf8_seq((const char *)s + i, &cp);
            if (n && !fdc_utf8_unsafe(cp)) {
                fwrite(s + i, 1, n, f);
                i += n;
            } else {
                fputc('?', f);
                i++;
            }
            continue;
        }
        bool edge = (c == ' ' || c == '\t') && (i == 0 || i + 1 == len);
        if (c < 0x20 || c == 0x7f || edge || (also && strchr(also, c)))
            fputc('?', f);
        else if (glob && strchr("*?[\\", c))
            fprintf(f, "\\%c", c);
        else
            fputc(c, f);
        i++;
    }
}

static const char *fdt_base(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

char *fdt_supp_gen_entry(struct fdt_supp_gen *gen, struct fdt_proc *p, const struct fdt_group *g,
                         bool *dup)
{
    struct fdt_xframe *x;
    size_t n = fdt_proc_xstack(p, g, &x);
    char *body = NULL, *base = NULL;
    size_t blen = 0, nlen = 0;
    FILE *f = open_memstream(&body, &blen);
    FILE *nf = open_memstream(&base, &nlen);
    if (!f || !nf)
        abort();
    /* The name: CALL-FUNCTION of the innermost frame that has a name. */
    const char *call = *g->call ? g->call : "leak";
    fdt_put_safe(nf, call, false, "{}#");
    fputc('-', nf);
    size_t named = 0;
    while (named < n && !(x[named].py || (x[named].c->function && *x[named].c->function)))
        named++;
    if (named == n)
        fputs("unknown", nf);
    else if (x[named].py) {
        fdt_put_safe(nf, fdt_base(x[named].py->file), false, NULL);
        fputc(':', nf);
        fdt_put_safe(nf, x[named].py->function, false, NULL);
    } else {
        fdt_put_safe(nf, x[named].c->function, false, NULL);
    }
    fclose(nf);

    fputs("   call: ", f);
    fdt_put_safe(f, g->call, true, NULL);
    fputc('\n', f);
    if (strcmp(g->kind, "mixed") != 0) {
        fputs("   kind: ", f);
        fdt_put_safe(f, g->kind, true, NULL);
        fputc('\n', f);
    }
    for (size_t i = 0; i < n; i++) {
        if (x[i].py) {
            fputs("   py:", f);
            fdt_put_safe(f, fdt_base(x[i].py->file), true, ":");
            fputc(':', f);
            fdt_put_safe(f, x[i].py->function, true, NULL);
        } else if (x[i].c->function && *x[i].c->function) {
            fputs("   fun:", f);
            fdt_put_safe(f, x[i].c->function, true, NULL);
        } else if (*x[i].c->module) {
            fputs("   obj:", f);
            fdt_put_safe(f, fdt_base(x[i].c->module), true, NULL);
        } else {
            fputs("   fun:*", f);
        }
        fputc('\n', f);
    }
    if (!n)
        fputs("   ...\n", f);
    fclose(f);
    free(x);

    /* The same entry again (the same leak in another process) keeps its name; another entry
     * with the same name gets -2, -3... */
    const char *name = NULL;
    *dup = false;
    for (size_t i = 0; i < gen->n && !name; i++)
        if (!strcmp(gen->bodies[i], body) && !strncmp(gen->names[i], base, strlen(base))) {
            name = gen->names[i];
            *dup = true;
        }
    char *unique = NULL;
    for (unsigned k = 1; !name; k++) {
        free(unique);
        unique = k == 1 ? fdt_xstrdup(base) : fdt_xasprintf("%s-%u", base, k);
        bool taken = false;
        for (size_t i = 0; i < gen->n && !taken; i++)
            taken = !strcmp(gen->names[i], unique);
        if (!taken) {
            gen->names = fdt_xrealloc(gen->names, (gen->n + 1) * sizeof *gen->names);
            gen->bodies = fdt_xrealloc(gen->bodies, (gen->n + 1) * sizeof *gen->bodies);
            gen->names[gen->n] = unique;
            gen->bodies[gen->n] = fdt_xstrdup(body);
            name = gen->names[gen->n++];
            unique = NULL;
        }
    }
    free(unique);
    char *entry = fdt_xasprintf("{\n   %s\n%s}\n", name, body);
    free(body);
    free(base);
    return entry;
}
