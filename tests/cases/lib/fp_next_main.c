/* See fp_next.c. Prints `from_a X`, `from_main Y` and `default Z` (fp_which found with
 * RTLD_NEXT from libfpa.so, from the program, with RTLD_DEFAULT), then `missing 1` if a failed
 * RTLD_NEXT lookup left a dlerror() message. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef const char *(*which_fn)(void);
void *fp_next_from_a(void);

int main(void)
{
    which_fn a = (which_fn)fp_next_from_a();
    which_fn m = (which_fn)dlsym(RTLD_NEXT, "fp_which");
    which_fn d = (which_fn)dlsym(RTLD_DEFAULT, "fp_which");
    printf("from_a %s\nfrom_main %s\ndefault %s\n", a ? a() : "-", m ? m() : "-", d ? d() : "-");
    dlerror();
    void *none = dlsym(RTLD_NEXT, "fp_no_such_symbol");
    const char *e = dlerror();
    printf("missing %d\n", !none && e && strstr(e, "fp_no_such_symbol") != NULL);
    return 0;
}
