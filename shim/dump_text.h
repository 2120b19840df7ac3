/* The text report on stderr (dump_text.c), beyond fdl_write_text in dump.h: whether there is
 * anything to say at all. */
#ifndef FDL_DUMP_TEXT_H
#define FDL_DUMP_TEXT_H

#include "dump.h"

/* 1 when the collected descriptors hold no leaked and no unknown-origin one: the text report
 * would only list inherited descriptors (fdc_report_nothing, the command's rule too). */
int fdl_text_nothing_to_report(const struct fdl_scratch *s) FDL_HIDDEN;

#endif
