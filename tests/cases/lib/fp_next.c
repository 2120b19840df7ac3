/* RTLD_NEXT from a program's own shared libraries (issue 8), built by
 * tests/test_false_positives.py: libfpa.so (-DFP_NAME='"a"' -DFP_ASK) and libfpb.so
 * (-DFP_NAME='"b"'), both defining fp_which(); the program links a before b. From a, RTLD_NEXT
 * must find b's fp_which; from the program, a's. */
#include <dlfcn.h>

const char *fp_which(void);
const char *fp_which(void)
{
    return FP_NAME;
}

#ifdef FP_ASK
void *fp_next_from_a(void);
void *fp_next_from_a(void)
{
    return dlsym(RTLD_NEXT, "fp_which");
}
#endif
