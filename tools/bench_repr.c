/*
 * How long write_repr (json_mapper/_numbers.h) takes a number, outside Python.
 *
 *     cc -O3 -I"$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
 *         -o bench_repr tools/bench_repr.c
 *     ./bench_repr blog 1000000 10
 *
 * KIND is what the numbers are like: blog (the sum of two numbers in [0, 1)
 * with 17 decimals, as the blog's records add up), short (up to 6 digits,
 * such as 0.5 or 1234.25), ints (integers below 2^53) or bits (random bit
 * patterns: every exponent alike). It writes COUNT of them ROUNDS times and
 * prints the best round's nanoseconds a number on stderr. With `print` after
 * ROUNDS it also writes each number's bits in hex and its text on stdout,
 * which tests/test_numbers.py holds to repr().
 */
#include <Python.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Its conversions from text are not used here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../json_mapper/_numbers.h"

static uint64_t state = 0x243F6A8885A308D3ULL;

/* splitmix64: a fixed sequence, so that every run times the same numbers */
static uint64_t next_random(void)
{
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double make_number(const char *kind)
{
    if (strcmp(kind, "blog") == 0) {
        uint64_t digits = 100000000000000000ULL;
        return (double)(next_random() % digits) / 1e17 + (double)(next_random() % digits) / 1e17;
    }
    if (strcmp(kind, "short") == 0) {
        static const double scale[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
        return (double)(next_random() % 1000000) / scale[next_random() % 8];
    }
    if (strcmp(kind, "ints") == 0)
        return (double)(next_random() >> 11);
    for (;;) {
        double d = double_of_bits(next_random());
        if (isfinite(d))
            return d;
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *kinds[] = {"blog", "short", "ints", "bits"};
    int known = 0;
    for (int i = 0; i < 4; i++)
        known |= argc > 1 && strcmp(argv[1], kinds[i]) == 0;
    if (!known || argc > 5 || (argc == 5 && strcmp(argv[4], "print") != 0)) {
        fprintf(stderr, "usage: bench_repr blog|short|ints|bits [COUNT [ROUNDS [print]]]\n");
        return 2;
    }
    long count = argc > 2 ? atol(argv[2]) : 1000000;
    int rounds = argc > 3 ? atoi(argv[3]) : 10;
    double *numbers = malloc(sizeof(double) * (size_t)(count > 0 ? count : 1));
    char *out = malloc((size_t)(count > 0 ? count : 1) * REPR_MAX);
    if (count < 1 || rounds < 1 || numbers == NULL || out == NULL) {
        fprintf(stderr, "bench_repr: COUNT and ROUNDS must be positive\n");
        return 2;
    }
    for (long i = 0; i < count; i++)
        numbers[i] = make_number(argv[1]);
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double start = now();
        char *w = out;
        for (long i = 0; i < count; i++) {
            w += write_repr(w, numbers[i]);
            *w++ = '\n';
        }
        double took = now() - start;
        best = took < best ? took : best;
    }
    fprintf(stderr, "%s: %.1f ns a number (best of %d rounds of %ld)\n",
            argv[1], best / (double)count * 1e9, rounds, count);
    if (argc == 5) {
        char *r = out;
        for (long i = 0; i < count; i++) {
            char *line_end = strchr(r, '\n');
            printf("%016llx %.*s\n", (unsigned long long)bits_of_double(numbers[i]),
                   (int)(line_end - r), r);
            r = line_end + 1;
        }
    }
    free(numbers);
    free(out);
    return 0;
}
