/* Fault injection for aldesk's fault tests, loaded with LD_PRELOAD into a child process.
 *
 * Counts the write calls (write, pwrite, pwrite64, writev, ftruncate, fallocate) on files whose
 * path contains FAULT_MATCH, and makes them fail with errno FAULT_ERRNO (default ENOSPC) from
 * the FAULT_AFTER-th call on (a disk that stays full), or only at that call when FAULT_ONCE is
 * set (a transient I/O error). FAULT_AFTER unset or 0: only count. At exit the number of
 * matching calls is written to FAULT_COUNT_FILE, so a test can sweep every fault point.
 * SQLite's own test suite injects I/O errors the same way, one call at a time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long fault_after = 0, calls = 0;
static int fault_errno = ENOSPC, fault_once = 0, ready = 0;
static const char *fault_match = NULL, *count_file = NULL;

static void setup(void) {
    if (ready) return;
    ready = 1;
    const char *v = getenv("FAULT_AFTER");
    fault_after = v ? atol(v) : 0;
    v = getenv("FAULT_ERRNO");
    if (v) fault_errno = atoi(v);
    fault_once = getenv("FAULT_ONCE") != NULL;
    fault_match = getenv("FAULT_MATCH");
    count_file = getenv("FAULT_COUNT_FILE");
}

static int matches(int fd) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    return strstr(target, fault_match) != NULL;
}

/* 1 when this call must fail (errno is set). */
static int inject(int fd) {
    setup();
    if (!fault_match || !matches(fd)) return 0;
    calls++;
    if (fault_after <= 0) return 0;
    if (fault_once ? calls == fault_after : calls >= fault_after) {
        errno = fault_errno;
        return 1;
    }
    return 0;
}

#define REAL(name) static __typeof__(name) *real = NULL; if (!real) real = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *buf, size_t n) { REAL(write); if (inject(fd)) return -1; return real(fd, buf, n); }
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) { REAL(pwrite); if (inject(fd)) return -1; return real(fd, buf, n, off); }
ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) { REAL(pwrite64); if (inject(fd)) return -1; return real(fd, buf, n, off); }
ssize_t writev(int fd, const struct iovec *iov, int cnt) { REAL(writev); if (inject(fd)) return -1; return real(fd, iov, cnt); }
int ftruncate(int fd, off_t len) { REAL(ftruncate); if (inject(fd)) return -1; return real(fd, len); }
int ftruncate64(int fd, off64_t len) { REAL(ftruncate64); if (inject(fd)) return -1; return real(fd, len); }
int fallocate(int fd, int mode, off_t off, off_t len) { REAL(fallocate); if (inject(fd)) return -1; return real(fd, mode, off, len); }
int posix_fallocate(int fd, off_t off, off_t len) { REAL(posix_fallocate); setup(); if (fault_match && matches(fd) && fault_after > 0 && calls >= fault_after) return fault_errno; return real(fd, off, len); }

__attribute__((destructor)) static void report(void) {
    if (!count_file) return;
    FILE *f = fopen(count_file, "w");
    if (f) { fprintf(f, "%ld\n", calls); fclose(f); }
}
