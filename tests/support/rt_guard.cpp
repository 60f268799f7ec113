#include "tests/support/rt_guard.hpp"

#include <dlfcn.h>
#include <pthread.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace kabel::test {
namespace {
// initial-exec: reading these never allocates (no lazy TLS block).
__attribute__((tls_model("initial-exec"))) thread_local bool tArmed = false;
__attribute__((tls_model("initial-exec"))) thread_local long tAllocations = 0;
__attribute__((tls_model("initial-exec"))) thread_local long tLocks = 0;
}  // namespace

#ifdef KABEL_RT_GUARD
const bool kRtGuardActive = true;
#else
const bool kRtGuardActive = false;
#endif

RtGuard::RtGuard() noexcept {
    tAllocations = 0;
    tLocks = 0;
    tArmed = true;
}
RtGuard::~RtGuard() {
    tArmed = false;
}
RtCounts RtGuard::counts() const noexcept {
    return RtCounts{tAllocations, tLocks};
}

}  // namespace kabel::test

#ifdef KABEL_RT_GUARD
using kabel::test::tAllocations;
using kabel::test::tArmed;
using kabel::test::tLocks;

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void __libc_free(void*);
void* __libc_memalign(std::size_t, std::size_t);

static inline void noteAllocation() noexcept {
    if (tArmed) ++tAllocations;
}

void* malloc(std::size_t n) {
    noteAllocation();
    return __libc_malloc(n);
}
void* calloc(std::size_t a, std::size_t b) {
    noteAllocation();
    return __libc_calloc(a, b);
}
void* realloc(void* p, std::size_t n) {
    noteAllocation();
    return __libc_realloc(p, n);
}
void free(void* p) {
    if (p) noteAllocation();
    __libc_free(p);
}
void* memalign(std::size_t a, std::size_t n) {
    noteAllocation();
    return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
    noteAllocation();
    return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
    noteAllocation();
    void* p = __libc_memalign(a, n);
    if (!p) return 12;  // ENOMEM
    *out = p;
    return 0;
}

using MutexLock = int (*)(pthread_mutex_t*);
static MutexLock realMutexLock() noexcept {
    // Resolved before main() (see the constructor below), never on a counted thread.
    static MutexLock real = reinterpret_cast<MutexLock>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
    return real;
}
__attribute__((constructor)) static void resolveMutexLock() {
    realMutexLock();
}

int pthread_mutex_lock(pthread_mutex_t* m) {
    if (tArmed) ++tLocks;
    return realMutexLock()(m);
}
}
#endif
