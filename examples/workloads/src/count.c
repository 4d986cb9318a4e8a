/*
 * count N [PAUSE_MS [BALLAST_MB]]: counts to N, pausing PAUSE_MS (default
 * 1000) per step, prints progress every 10 steps and, last, one JSON line
 * with the count and the sum of the steps. BALLAST_MB (default 0) megabytes
 * of pseudo-random data are held for the whole run: they give a transparent
 * checkpoint its size (and its time) without changing the result; the
 * cooperative save leaves them out, as a program saving only its state
 * would. See wskx.h for the cooperative protocol.
 */
#include "wskx.h"

struct count_state {
    uint64_t n, i, sum;
};

static void save(void *arg)
{
    wskx_save("count.state", arg, sizeof(struct count_state), NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: count N [PAUSE_MS [BALLAST_MB]]\n");
        return 2;
    }
    wskx_init();
    struct count_state st = {strtoull(argv[1], NULL, 10), 0, 0};
    long pause = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    size_t words = (argc > 3 ? strtoull(argv[3], NULL, 10) : 0) << 17; /* MB of uint64_t */
    volatile uint64_t *ballast = words ? malloc(words * sizeof *ballast) : NULL;
    if (words && !ballast) {
        perror("ballast");
        return 1;
    }
    uint64_t seed = 42;
    for (size_t k = 0; k < words; k++)
        ballast[k] = wskx_rand(&seed);
    if (wskx_restored()) {
        wskx_load("count.state", &st, sizeof st, NULL, 0);
        printf("resumed at %llu\n", (unsigned long long)st.i);
    }
    wskx_progress();
    for (;;) {
        wskx_serve(save, &st);
        if (st.i >= st.n)
            break;
        if (wskx_sleep_ms(pause))
            continue; /* the interrupted step is redone after the request */
        st.i++;
        st.sum += st.i;
        wskx_progress();
        if (st.i % 10 == 0)
            printf("counted %llu of %llu\n", (unsigned long long)st.i, (unsigned long long)st.n);
    }
    printf("{\"count\": %llu, \"sum\": %llu}\n", (unsigned long long)st.i, (unsigned long long)st.sum);
    return 0;
}
