/* Test fixture: a shared library built stripped (no .symtab, no DWARF), so the frame of its
 * local function has no name and fdleak must show it as libfdlstripped.so+0xOFFSET. */
#include <fcntl.h>

__attribute__((noinline)) static int fdl_hidden_open(const char *path)
{
    int fd = open(path, O_RDONLY);
    __asm__ volatile("" ::: "memory"); /* keep the call from becoming a tail call */
    return fd;
}

int fdl_stripped_open(const char *path);
int fdl_stripped_open(const char *path)
{
    int fd = fdl_hidden_open(path);
    __asm__ volatile("" ::: "memory");
    return fd;
}
