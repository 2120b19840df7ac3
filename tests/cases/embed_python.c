/* An embedding program that loads CPython with dlopen, as vim's dynamic Python does: its
 * symbols stay out of the global scope and are looked up through the handle.
 * `embed_python LIBPYTHON`: runs a snippet that leaks os.pipe() from a function at line 3 of
 * "<string>" and exits without finalizing (PYTHONHOME must name the interpreter's prefix). */
#include "fixture.h"

#include <dlfcn.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *py = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!py) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 3;
    }
    /* the dlerror idiom: a lookup that succeeded leaves no error to read */
    dlerror();
    void (*init)(void) = (void (*)(void))dlsym(py, "Py_Initialize");
    const char *err = dlerror();
    int (*run)(const char *) = (int (*)(const char *))dlsym(py, "PyRun_SimpleString");
    if (err || dlerror()) {
        fprintf(stderr, "dlerror after a lookup that succeeded: %s\n", err ? err : "(second)");
        return 6;
    }
    if (!init || !run)
        return 4;
    init();
    return run("import os\ndef make():\n    return os.pipe()\nkept = make()\n") ? 5 : 0;
}
