/*
 * factors N: factorises the 64-bit integer N by trial division and prints
 * one JSON line {"n": "N", "factors": ["p", ...]} (decimal strings: 64-bit
 * values do not fit a JSON number exactly). The time grows with the square
 * root of N's second-largest prime factor: a prime near 1e17 takes about
 * 0.4 s on a 2020s core, one near 1.8e19 several seconds. See wskx.h for
 * the cooperative protocol.
 */
#include "wskx.h"

struct factors_state {
    uint64_t n, rest, d, nf;
    uint64_t f[64];
};

static void save(void *arg)
{
    wskx_save("factors.state", arg, sizeof(struct factors_state), NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: factors N\n");
        return 2;
    }
    wskx_init();
    struct factors_state st;
    memset(&st, 0, sizeof st);
    st.n = strtoull(argv[1], NULL, 10);
    st.rest = st.n;
    st.d = 2;
    if (wskx_restored()) {
        wskx_load("factors.state", &st, sizeof st, NULL, 0);
        fprintf(stderr, "resumed at divisor %llu\n", (unsigned long long)st.d);
    }
    uint64_t steps = 0;
    while (st.rest > 1 && st.d <= st.rest / st.d) {
        if (st.rest % st.d == 0) {
            st.f[st.nf++] = st.d;
            st.rest /= st.d;
            continue;
        }
        st.d += st.d == 2 ? 1 : 2;
        if (++steps % (1u << 20) == 0)
            wskx_serve(save, &st);
    }
    if (st.rest > 1)
        st.f[st.nf++] = st.rest;
    printf("{\"n\": \"%llu\", \"factors\": [", (unsigned long long)st.n);
    for (uint64_t i = 0; i < st.nf; i++)
        printf("%s\"%llu\"", i ? ", " : "", (unsigned long long)st.f[i]);
    printf("]}\n");
    return 0;
}
