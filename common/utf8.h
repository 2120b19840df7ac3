/* UTF-8 as the reports judge it, one definition for the text renderer (report_text.c, which
 * escapes what is not shown as is) and the command's JSON writer (which must never emit an
 * ill-formed string). Allocation-free and async-signal-safe. */
#ifndef FDC_UTF8_H
#define FDC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the well-formed UTF-8 sequence of 2 to 4 bytes at s (NUL-terminated) into *cp and
 * returns its length; returns 0 if s does not start one (ASCII, a stray continuation byte, an
 * overlong form, a surrogate, a value past U+10FFFF, a sequence cut short). */
size_t fdc_utf8_seq(const char *s, uint32_t *cp);

/* 1 for the code points a terminal acts on or that reorder what the reader sees: C1 controls
 * (U+0080-U+009F) and the bidirectional embedding, override and isolate characters. */
int fdc_utf8_unsafe(uint32_t cp);

#endif
