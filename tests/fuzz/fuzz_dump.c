/* The fuzz target for the dump reader: one input is one dump file's bytes, parsed and checked by
 * fdt_dump_parse (the code `fdleak report` runs on every dump), then walked with the lookups the
 * renderer uses (stacks by id, modules by ip), so that a dump the reader accepts is also one the
 * rest of the command can index safely. Built with libFuzzer for `make fuzz` and, with replay.c
 * as its main, as an ordinary program that replays the corpus in the test suite. Symbolization
 * is not exercised: it opens the files a dump names. */
#include "dumpfile.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so that ASan sees any read past the input's end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    char err[1024];
    struct fdt_dump *d = fdt_dump_parse(buf, size, "fuzz", err, sizeof err);
    free(buf);
    if (!d) {
        /* every error is one line naming the input */
        if (strncmp(err, "fuzz: ", 6) != 0 || strchr(err, '\n'))
            abort();
        return 0;
    }
    volatile uint64_t sink = 0;
    for (size_t i = 0; i < d->nfds; i++) {
        const struct fdt_dstack *st = fdt_dump_stack(d, d->fds[i].stack);
        for (size_t j = 0; st && j < st->nips; j++) {
            const struct fdt_dmodule *m = fdt_dump_module(d, st->ips[j]);
            if (m && (st->ips[j] < m->start || st->ips[j] >= m->end))
                abort();
            sink += m ? strlen(m->path) + strlen(m->build_id) : 0;
        }
        const struct fdt_dpystack *ps = fdt_dump_pystack(d, d->fds[i].pystack);
        for (size_t j = 0; ps && j < ps->nframes; j++)
            sink += strlen(ps->frames[j].file) + strlen(ps->frames[j].function);
        sink += strlen(d->fds[i].path) + strlen(d->fds[i].kind) + strlen(d->fds[i].call);
        if (d->fds[i].fd < 0 || (i && d->fds[i].fd <= d->fds[i - 1].fd))
            abort();
    }
    for (size_t i = 0; i < d->ncmdline; i++)
        sink += strlen(d->cmdline[i]);
    sink += strlen(d->exe) + strlen(d->trigger) + strlen(d->trigger_call);
    (void)sink;
    fdt_dump_free(d);
    return 0;
}
