/*
 * wskx.h: the cooperative checkpoint protocol for the example workloads.
 *
 * A job run by the cooperative engine gets WSKX_STATE_DIR. SIGUSR1 asks it
 * to save its state there and go on; SIGTERM asks it to save and exit with
 * WSKX_EXIT_CHECKPOINTED. After each save the job replaces
 * $WSKX_STATE_DIR/.saved with a counter that changes with every save; the
 * engine waits for that change. On a restored hop WSKX_RESTORED=1 and the
 * job resumes from the saved state.
 *
 * A job whose save drops work in progress (count's interrupted pause,
 * which it does again after resuming) calls wskx_progress() whenever its
 * state advances; each save then also writes "behind_ms N" to .saved: how
 * long before the save the saved state was current, the work a later hop
 * does again.
 *
 * Without WSKX_STATE_DIR (for example under DMTCP) no handler is installed
 * and the job runs as a plain program. Sleeps always retry on EINTR: DMTCP's
 * checkpoint signal interrupts them.
 */
#ifndef WSKX_H
#define WSKX_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WSKX_EXIT_CHECKPOINTED 85

static volatile sig_atomic_t wskx_want_save;
static volatile sig_atomic_t wskx_want_stop;
static unsigned long wskx_saves;
static struct timespec wskx_progress_at;
static int wskx_progress_known;

/* wskx_progress marks that the job's state is current now. */
static inline void wskx_progress(void)
{
    clock_gettime(CLOCK_MONOTONIC, &wskx_progress_at);
    wskx_progress_known = 1;
}

static inline void wskx_on_signal(int sig)
{
    if (sig == SIGTERM)
        wskx_want_stop = 1;
    else
        wskx_want_save = 1;
}

/* wskx_state_dir is the cooperative state folder, or NULL when the job is
 * not run cooperatively. */
static inline const char *wskx_state_dir(void)
{
    const char *d = getenv("WSKX_STATE_DIR");
    return d && *d ? d : NULL;
}

static inline int wskx_restored(void)
{
    const char *r = getenv("WSKX_RESTORED");
    return wskx_state_dir() && r && strcmp(r, "1") == 0;
}

/* wskx_init makes stdout line-buffered and, for cooperative runs, installs
 * the handlers (without SA_RESTART, so that a pending request ends a sleep
 * early). */
static inline void wskx_init(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!wskx_state_dir())
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wskx_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

static inline int wskx_pending(void)
{
    return wskx_want_save || wskx_want_stop;
}

/* wskx_sleep_ms sleeps ms milliseconds, retrying on EINTR with the time
 * left (a relative sleep: the monotonic clock is not carried across
 * restores). It returns 1 early when a cooperative request is pending. */
static inline int wskx_sleep_ms(long ms)
{
    struct timespec req = {ms / 1000, (ms % 1000) * 1000000L}, rem;
    while (nanosleep(&req, &rem) != 0) {
        if (errno != EINTR)
            return 0;
        if (wskx_pending())
            return 1;
        req = rem;
    }
    return 0;
}

static inline void wskx_die(const char *what)
{
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(2);
}

static inline void wskx_write_all(int fd, const void *buf, size_t len, const char *what)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            wskx_die(what);
        }
        p += n;
        len -= (size_t)n;
    }
}

/* wskx_replace writes path atomically: a temporary file renamed over it. */
static inline void wskx_replace(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        wskx_die("save state");
    wskx_write_all(fd, a, alen, "save state");
    if (blen > 0)
        wskx_write_all(fd, b, blen, "save state");
    if (close(fd) != 0 || rename(tmp, path) != 0)
        wskx_die("save state");
}

/* wskx_save stores the state (a header and an optional body) as
 * $WSKX_STATE_DIR/<name>, then marks the save complete in .saved. */
static inline void wskx_save(const char *name, const void *hdr, size_t hlen, const void *body, size_t blen)
{
    char path[4096], mark[4096], count[64];
    snprintf(path, sizeof path, "%s/%s", wskx_state_dir(), name);
    wskx_replace(path, hdr, hlen, body, blen);
    snprintf(mark, sizeof mark, "%s/.saved", wskx_state_dir());
    int n = snprintf(count, sizeof count, "%lu\n", ++wskx_saves);
    if (wskx_progress_known) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long behind = (now.tv_sec - wskx_progress_at.tv_sec) * 1000LL + (now.tv_nsec - wskx_progress_at.tv_nsec) / 1000000;
        n += snprintf(count + n, sizeof count - (size_t)n, "behind_ms %lld\n", behind < 0 ? 0 : behind);
    }
    wskx_replace(mark, count, (size_t)n, NULL, 0);
}

/* wskx_load reads the state saved by wskx_save; body may be NULL. */
static inline void wskx_load(const char *name, void *hdr, size_t hlen, void *body, size_t blen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", wskx_state_dir(), name);
    FILE *f = fopen(path, "rb");
    if (!f)
        wskx_die("load state");
    if (fread(hdr, 1, hlen, f) != hlen || (blen > 0 && fread(body, 1, blen, f) != blen)) {
        fprintf(stderr, "load state: %s is short\n", path);
        exit(2);
    }
    fclose(f);
}

/* wskx_serve answers pending requests: it saves through save(arg), then
 * exits for SIGTERM or clears the request for SIGUSR1. */
static inline void wskx_serve(void (*save)(void *), void *arg)
{
    if (!wskx_pending())
        return;
    /* Cleared first: a request that arrives during the save is served by
     * another save rather than lost. */
    wskx_want_save = 0;
    save(arg);
    if (wskx_want_stop) {
        fflush(stdout);
        _exit(WSKX_EXIT_CHECKPOINTED);
    }
}

/* wskx_rand is splitmix64: a deterministic stream from a seed. */
static inline uint64_t wskx_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
