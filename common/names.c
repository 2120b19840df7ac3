/* Names of calls, kinds, origins, triggers, misuse kinds and owners as written in dumps (see
 * contract.h). */
#include "contract.h"

#include <string.h>

#define FDC_NAME(id, name) name,
static const char *const call_names[FDC_CALL_COUNT] = {FDC_CALLS(FDC_NAME)};
static const char *const kind_names[FDC_KIND_COUNT] = {FDC_KINDS(FDC_NAME)};
static const char *const misuse_names[FDC_MISUSE_COUNT] = {FDC_MISUSES(FDC_NAME)};
static const char *const owner_names[FDC_OWNER_COUNT] = {"", "FILE", "DIR"};
static const char *const origin_names[FDC_ORIGIN_COUNT] = {"tracked", "inherited", "unknown"};
static const char *const trigger_names[FDC_TRIG_COUNT] = {
    "exit", "fatal-signal", "signal", "emfile", "threshold", "peak", "api"};

const char *fdc_call_name(unsigned call)
{
    return call < FDC_CALL_COUNT ? call_names[call] : "";
}

const char *fdc_kind_name(unsigned kind)
{
    return kind < FDC_KIND_COUNT ? kind_names[kind] : kind_names[FDC_KIND_unknown];
}

const char *fdc_origin_name(unsigned origin)
{
    return origin < FDC_ORIGIN_COUNT ? origin_names[origin] : origin_names[FDC_ORIGIN_UNKNOWN];
}

const char *fdc_trigger_name(unsigned trigger)
{
    return trigger < FDC_TRIG_COUNT ? trigger_names[trigger] : "";
}

const char *fdc_misuse_name(unsigned misuse)
{
    return misuse < FDC_MISUSE_COUNT ? misuse_names[misuse] : "";
}

const char *fdc_owner_name(unsigned owner)
{
    return owner < FDC_OWNER_COUNT ? owner_names[owner] : "";
}

static int lookup(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

int fdc_origin_from_name(const char *name)
{
    return lookup(origin_names, FDC_ORIGIN_COUNT, name);
}

int fdc_trigger_from_name(const char *name)
{
    return lookup(trigger_names, FDC_TRIG_COUNT, name);
}

int fdc_misuse_from_name(const char *name)
{
    return lookup(misuse_names, FDC_MISUSE_COUNT, name);
}

int fdc_owner_from_name(const char *name)
{
    return lookup(owner_names, FDC_OWNER_COUNT, name);
}

int fdc_call_from_name(const char *name)
{
    return lookup(call_names, FDC_CALL_COUNT, name);
}
