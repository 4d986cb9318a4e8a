/*
 * memhog MB [STEPS] [PAUSE_MS]: fills MB megabytes with pseudo-random data
 * (every page touched, nothing compressible), then for STEPS steps (default
 * 100) pauses PAUSE_MS (default 100) and rewrites a few words, and prints
 * one JSON line with the size and a checksum of the memory. Used to measure
 * checkpoint cost against resident memory. See wskx.h for the cooperative
 * protocol; its cooperative state is the whole buffer.
 */
#include "wskx.h"

struct memhog_state {
    uint64_t mb, steps, step, seed;
};

static struct memhog_state st;
static uint64_t *mem;
static size_t words;

static void save(void *arg)
{
    (void)arg;
    wskx_save("memhog.state", &st, sizeof st, mem, words * sizeof *mem);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: memhog MB [STEPS] [PAUSE_MS]\n");
        return 2;
    }
    wskx_init();
    st.mb = strtoull(argv[1], NULL, 10);
    st.steps = argc > 2 ? strtoull(argv[2], NULL, 10) : 100;
    long pause = argc > 3 ? strtol(argv[3], NULL, 10) : 100;
    words = st.mb * 1024 * 1024 / sizeof *mem;
    mem = malloc(words * sizeof *mem + 1);
    if (!mem)
        wskx_die("allocate");
    if (wskx_restored()) {
        wskx_load("memhog.state", &st, sizeof st, mem, words * sizeof *mem);
        fprintf(stderr, "resumed at step %llu\n", (unsigned long long)st.step);
    } else {
        st.seed = 42;
        for (size_t k = 0; k < words; k++)
            mem[k] = wskx_rand(&st.seed);
    }
    printf("touched %llu MB\n", (unsigned long long)st.mb);
    for (;;) {
        wskx_serve(save, NULL);
        if (st.step >= st.steps)
            break;
        if (wskx_sleep_ms(pause))
            continue;
        for (int k = 0; k < 16 && words > 0; k++) {
            uint64_t r = wskx_rand(&st.seed);
            mem[r % words] ^= r;
        }
        st.step++;
    }
    uint64_t sum = 0;
    for (size_t k = 0; k < words; k++)
        sum = sum * 1099511628211ULL ^ mem[k];
    printf("{\"mb\": %llu, \"steps\": %llu, \"checksum\": \"%016llx\"}\n", (unsigned long long)st.mb,
           (unsigned long long)st.steps, (unsigned long long)sum);
    return 0;
}
