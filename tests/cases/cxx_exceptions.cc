// C++ exceptions through the shim: throws across several frames (one of which opened a file),
// RAII closes on unwind, rethrow, nested try, exceptions from many threads; prints what it
// caught and which object provides _Unwind_RaiseException. Same output with and without the
// shim is expected, and std::terminate is never reached.
#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

struct Fd {
    int fd;
    explicit Fd(const char *p) : fd(open(p, O_RDONLY)) {}
    ~Fd()
    {
        if (fd >= 0)
            close(fd);
    }
};

static int leaked = -1;
static int raii_fd = -1;

__attribute__((noinline)) static void opener_that_throws(int depth)
{
    Fd guard("/etc/hostname");
    raii_fd = guard.fd;
    leaked = open("/dev/null", O_RDONLY);
    if (depth >= 0)
        throw std::runtime_error("from opener depth " + std::to_string(depth));
}

__attribute__((noinline)) static void descend(int depth)
{
    if (depth == 0)
        opener_that_throws(depth);
    else
        descend(depth - 1);
    std::printf("not reached\n");
}

__attribute__((noinline)) static int rethrower()
{
    try {
        descend(5);
    } catch (const std::runtime_error &e) {
        std::printf("inner caught: %s\n", e.what());
        throw;
    }
    return 0;
}

static void thread_body(int i, int *ok)
{
    // throws while the other threads open and close descriptors (and the shim unwinds them)
    int good = 0;
    for (int k = 0; k < 200; k++) {
        try {
            Fd f("/dev/null");
            if (f.fd >= 0)
                throw k + i;
        } catch (int v) {
            good += (v == k + i);
        }
    }
    *ok = (good == 200);
}

int main()
{
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    std::set_terminate([] {
        std::printf("terminate called\n");
        std::_Exit(42);
    });
    try {
        rethrower();
    } catch (const std::exception &e) {
        std::printf("outer caught: %s\n", e.what());
    }
    int caught = 0;
    for (int i = 0; i < 100; i++) {
        try {
            try {
                throw std::logic_error("nested");
            } catch (const std::logic_error &) {
                throw 42;
            }
        } catch (int v) {
            caught += (v == 42);
        }
    }
    std::printf("nested caught %d\n", caught);
    std::vector<int> ok(4, 0);
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; i++)
        ts.emplace_back(thread_body, i, &ok[i]);
    for (auto &t : ts)
        t.join();
    std::printf("threads ok %d %d %d %d\n", ok[0], ok[1], ok[2], ok[3]);
    Dl_info info;
    void *sym = dlsym(RTLD_DEFAULT, "_Unwind_RaiseException");
    if (sym && dladdr(sym, &info) && info.dli_fname)
        std::printf("unwinder %s\n", info.dli_fname);
    void *frames[16];
    int n = backtrace(frames, 16);
    void *bt = dlsym(RTLD_DEFAULT, "backtrace");
    if (bt && dladdr(bt, &info) && info.dli_fname)
        std::printf("backtrace %s %s\n", info.dli_fname, n > 2 ? "ok" : "short");
    std::printf("leak open %d\n", leaked);
    std::printf("closed close %d\n", raii_fd);
    return 0;
}
