/* Names of calls and kinds, as they appear in dumps and reports. */
#include "fdleak.h"

#define FDL_NAME(id, name) name,
const char *const fdl_call_names[FDL_CALL_COUNT] = {FDL_CALLS(FDL_NAME)};
const char *const fdl_kind_names[FDL_KIND_COUNT] = {FDL_KINDS(FDL_NAME)};
