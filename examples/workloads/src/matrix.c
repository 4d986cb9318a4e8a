/*
 * matrix N [SEED]: multiplies two N x N matrices of pseudo-random integers
 * (splitmix64 from SEED, default 1) with wrapping 64-bit arithmetic and
 * prints one JSON line with N, the seed and a checksum of the product.
 * See wskx.h for the cooperative protocol.
 */
#include "wskx.h"

struct matrix_state {
    uint64_t n, seed, row, sum;
};

static void save(void *arg)
{
    wskx_save("matrix.state", arg, sizeof(struct matrix_state), NULL, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: matrix N [SEED]\n");
        return 2;
    }
    wskx_init();
    struct matrix_state st = {strtoull(argv[1], NULL, 10), argc > 2 ? strtoull(argv[2], NULL, 10) : 1, 0, 0};
    if (wskx_restored()) {
        wskx_load("matrix.state", &st, sizeof st, NULL, 0);
        fprintf(stderr, "resumed at row %llu\n", (unsigned long long)st.row);
    }
    size_t n = st.n;
    uint32_t *a = malloc(n * n * sizeof *a), *bt = malloc(n * n * sizeof *bt);
    if (!a || !bt)
        wskx_die("allocate");
    /* The inputs are regenerated from the seed rather than saved. */
    uint64_t s = st.seed;
    for (size_t k = 0; k < n * n; k++)
        a[k] = (uint32_t)wskx_rand(&s);
    for (size_t k = 0; k < n * n; k++)
        bt[(k % n) * n + k / n] = (uint32_t)wskx_rand(&s); /* B transposed */
    for (; st.row < n; st.row++) {
        wskx_serve(save, &st);
        const uint32_t *ar = a + st.row * n;
        for (size_t j = 0; j < n; j++) {
            const uint32_t *bc = bt + j * n;
            uint64_t c = 0;
            for (size_t k = 0; k < n; k++)
                c += (uint64_t)ar[k] * bc[k];
            st.sum = st.sum * 1099511628211ULL ^ c;
        }
    }
    printf("{\"n\": %llu, \"seed\": %llu, \"checksum\": \"%016llx\"}\n", (unsigned long long)st.n,
           (unsigned long long)st.seed, (unsigned long long)st.sum);
    return 0;
}
