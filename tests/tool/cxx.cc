// Test fixture: a descriptor leaked from a C++ member function and a function template, whose
// names fdleak must show demangled: ns::Opener::open_it(char const*) and ns::twice<...>.
#include <fcntl.h>

namespace ns
{
struct Opener {
    __attribute__((noinline)) int open_it(const char *path)
    {
        int fd = ::open(path, O_RDONLY); // MARK:cxx_open
        __asm__ volatile("" ::: "memory");
        return fd;
    }
};

template <typename T> __attribute__((noinline)) int twice(T &o, const char *path)
{
    o.open_it(path);
    int fd = o.open_it(path);
    __asm__ volatile("" ::: "memory");
    return fd;
}
} // namespace ns

int main(int, char **argv)
{
    ns::Opener o;
    int fd = ns::twice(o, argv[0]);
    __asm__ volatile("" ::: "memory");
    return fd < 0;
}
