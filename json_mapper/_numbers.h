/*
 * Exact number conversions for the native scanner: a JSON number's digits to
 * the double Python's float() gives, and a double to the text repr() writes.
 *
 * Both must be exact, not close: the scanner writes the sum itself, and its
 * output must be byte for byte what filter_record writes.
 * - Decimal to double: Clinger's fast path where the significand and the
 *   power of ten are both exact doubles; else the Eisel-Lemire algorithm (as
 *   in fast_float); else, for the rare cases it cannot settle (more than 19
 *   significant digits, an exponent out of its table), PyOS_string_to_double,
 *   which is CPython's own correctly rounded strtod.
 * - Double to text: the Schubfach algorithm (R. Giulietti, "The Schubfach way
 *   to render doubles", after A. Bolz's C++ version) gives the shortest digits
 *   that read back as the same double, the closest of them to it; they are
 *   written sixteen at a time, not one division after another, and laid
 *   out as repr() lays them out.
 * The 128-bit powers come from tools/gen_pow10.py (json_mapper/_pow10.h).
 */
#ifndef JSONFILTER_NUMBERS_H
#define JSONFILTER_NUMBERS_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "_pow10.h"

typedef unsigned __int128 u128;

static const double exact_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static double double_of_bits(uint64_t bits)
{
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

static uint64_t bits_of_double(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return bits;
}

/* w * 10^q (w > 0) as a double's bits without the sign, by Eisel-Lemire;
 * 0 with *ok = 0 when it cannot tell. */
static inline __attribute__((always_inline)) uint64_t eisel_lemire(uint64_t w, int q, int *ok)
{
    *ok = 1;
    if ((unsigned)(q - PARSE_MIN) > (unsigned)(PARSE_MAX - PARSE_MIN))
        /* below half the smallest subnormal, or above the largest double */
        return q < PARSE_MIN ? 0 : 0x7FF0000000000000ULL;
    int lz = __builtin_clzll(w);
    w <<= lz;
    const uint64_t *pow5 = PARSE_POW5[q - PARSE_MIN];
    u128 first = (u128)w * pow5[0];
    uint64_t upper = (uint64_t)(first >> 64), lower = (uint64_t)first;
    if ((upper & 0x1FF) == 0x1FF) {
        /* The low bits may carry into the ones kept: add the next 64 bits of the power. */
        u128 second = (u128)w * pow5[1];
        uint64_t high = (uint64_t)(second >> 64);
        lower += high;
        if (high > lower)
            upper++;
    }
    if (lower == UINT64_MAX && (q < -27 || q > 55)) {
        *ok = 0;                /* too close to call with 128 bits */
        return 0;
    }
    int upperbit = (int)(upper >> 63);
    uint64_t mantissa = upper >> (upperbit + 9);
    /* floor(log2(10^q)) + 63, then the exponent's bias. */
    int power2 = (int)((((152170 + 65536) * q) >> 16) + 63) + upperbit - lz + 1023;
    if (power2 <= 0) {          /* subnormal */
        if (-power2 + 1 >= 64)
            return 0;
        mantissa >>= -power2 + 1;
        mantissa += mantissa & 1;
        mantissa >>= 1;
        power2 = mantissa < (1ULL << 52) ? 0 : 1;
        return ((uint64_t)power2 << 52) | (mantissa & ((1ULL << 52) - 1));
    }
    /* A product that looks exactly halfway may be an exact halfway point:
     * round it to even. */
    if (lower <= 1 && q >= -4 && q <= 23 && (mantissa & 3) == 1 &&
        (mantissa << (upperbit + 9)) == upper)
        mantissa &= ~1ULL;
    mantissa += mantissa & 1;
    mantissa >>= 1;
    /* The mantissa is in [2^52, 2^53]: its leading bit adds one to the
     * exponent, and 2^53, rounded up, one more, with a fraction of 0. */
    uint64_t bits = ((uint64_t)(power2 - 1) << 52) + mantissa;
    return bits < 0x7FF0000000000000ULL ? bits : 0x7FF0000000000000ULL;
}

/* The double of the JSON number text [start, end), read by CPython's strtod;
 * *ok = 0 with a Python exception set on failure. */
static __attribute__((noinline)) double slow_decimal(const unsigned char *start, const unsigned char *end, int *ok)
{
    char small[128];
    size_t n = (size_t)(end - start);
    char *text = n < sizeof(small) ? small : PyMem_Malloc(n + 1);
    if (text == NULL) {
        PyErr_NoMemory();
        *ok = 0;
        return 0.0;
    }
    memcpy(text, start, n);
    text[n] = '\0';
    double d = PyOS_string_to_double(text, NULL, NULL);
    if (text != small)
        PyMem_Free(text);
    *ok = !(d == -1.0 && PyErr_Occurred());
    return d;
}

/* A parsed JSON number: its first digits, scaled by a power of ten. */
typedef struct {
    const unsigned char *start, *end;  /* its text */
    uint64_t digits;    /* the significant digits read (at most 19) */
    int exponent;       /* value = digits * 10^exponent, when not truncated */
    int negative;
    int truncated;      /* nonzero digits were left out of `digits` */
    int integer;        /* no fraction and no exponent: orjson reads an int */
} Number;

/* (double)w * 10^q for w <= 2^53 and 0 < q <= 22, correctly rounded: out of
 * line, so that where number_value is inlined the compiler cannot fuse this
 * product with the addition of the sum into one multiply-add, which would
 * round once where Python rounds twice (the kernels for AVX-512 have FMA). */
static __attribute__((noinline)) double clinger_product(uint64_t w, int q)
{
    return (double)w * exact_pow10[q];
}

/* The double Python's float() gives for the value orjson reads from `n`;
 * *ok = 0 with a Python exception set on failure. Inlined into each
 * kernel's verdict on a line: two are called a line on the blog's data. */
static inline __attribute__((always_inline)) double number_value(const Number *n, int *ok)
{
    *ok = 1;
    if (!n->truncated) {
        uint64_t w = n->digits;
        int q = n->exponent;
        double d;
        if (w == 0)
            /* orjson reads -0 as the int 0, and float(0) is 0.0; -0.0 stays -0.0. */
            return n->negative && !n->integer ? -0.0 : 0.0;
        if (w <= (1ULL << 53) && (unsigned)(q + 22) <= 44) {
            /* Clinger: both exact, so one correctly rounded operation (none
             * for an integer; a quotient is never fused with a sum). */
            d = q == 0 ? (double)w : q > 0 ? clinger_product(w, q) : (double)w / exact_pow10[-q];
            return n->negative ? -d : d;
        }
        int settled;
        uint64_t bits = eisel_lemire(w, q, &settled);
        if (settled) {
            d = double_of_bits(bits);
            return n->negative ? -d : d;
        }
    }
    return slow_decimal(n->start, n->end, ok);
}

/* ---- Double to shortest text (Schubfach) ---- */

static uint64_t round_to_odd(const uint64_t g[2], uint64_t cp)
{
    uint64_t x1 = (uint64_t)(((u128)g[1] * cp) >> 64);
    u128 y = (u128)g[0] * cp;
    /* y + x1 in 64-bit halves: gcc adds a 128-bit sum through the stack */
    uint64_t y0 = (uint64_t)y + x1;
    uint64_t y1 = (uint64_t)(y >> 64) + (y0 < x1);
    return y1 | (y0 > 1);
}

static int floor_div_pow2(int x, int n)
{
    return x >> n;  /* arithmetic shift: floor division for negative x too */
}

/* The shortest decimal digits * 10^*exp10 that reads back as the finite,
 * nonzero double of `bits` (sign bit clear). */
static uint64_t shortest_digits(uint64_t bits, int *exp10)
{
    uint64_t fraction = bits & ((1ULL << 52) - 1);
    int biased = (int)(bits >> 52);
    uint64_t c;
    int q;
    if (biased != 0) {
        c = (1ULL << 52) | fraction;
        q = biased - 1075;
        if (q <= 0 && q >= -52 && (c & ((1ULL << -q) - 1)) == 0) {
            *exp10 = 0;  /* an integer below 2^53: its own digits are shortest */
            return c >> -q;
        }
    } else {
        c = fraction;
        q = 1 - 1075;
    }
    int even = (c & 1) == 0;
    int lower_closer = fraction == 0 && biased > 1;
    uint64_t cbl = 4 * c - 2 + (uint64_t)lower_closer, cb = 4 * c, cbr = 4 * c + 2;
    /* floor(log10(2^q)), or floor(log10(3/4 * 2^q)) when the lower neighbour is closer */
    int k = floor_div_pow2(q * 1262611 - (lower_closer ? 524031 : 0), 22);
    /* q + floor(log2(10^-k)) + 1, in [1, 4] */
    int h = q + floor_div_pow2(-k * 1741647, 19) + 1;
    const uint64_t *g = SHORTEST_POW10[-k - SHORTEST_MIN];
    uint64_t vbl = round_to_odd(g, cbl << h);
    uint64_t vb = round_to_odd(g, cb << h);
    uint64_t vbr = round_to_odd(g, cbr << h);
    uint64_t lower = vbl + !even, upper = vbr - !even;
    uint64_t s = vb / 4;
    if (s >= 10) {
        uint64_t sp = s / 10;
        int up_inside = lower <= 40 * sp;
        int wp_inside = 40 * sp + 40 <= upper;
        if (up_inside != wp_inside) {
            *exp10 = k + 1;
            return sp + (uint64_t)wp_inside;
        }
    }
    int u_inside = lower <= 4 * s;
    int w_inside = 4 * s + 4 <= upper;
    *exp10 = k;
    if (u_inside != w_inside)
        return s + (uint64_t)w_inside;
    uint64_t mid = 4 * s + 2;
    int round_up = vb > mid || (vb == mid && (s & 1) != 0);
    return s + (uint64_t)round_up;
}

static const char TWO_DIGITS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The sixteen digits of first * 10^8 + second (both below 10^8) as text at
 * `at`; return how many of them are trailing zeros (16 when all are).
 * The digits are not found one division after another but as halves of
 * four digits, then pairs, then single digits, each step on every part at
 * once: in the lanes of an SSE2 register where there is one (x86-64), else
 * in the bytes of two 64-bit words. Each division (by 10^4, 100, 10) is a
 * multiplication and a shift, exact for the numbers it is given.
 * JSONFILTER_REPR_SWAR picks the second way anywhere (the tests run both). */
#if defined(__SSE2__) && !defined(JSONFILTER_REPR_SWAR)
#include <emmintrin.h>

/* 10^4: the compilers' own 0xD1B71759 / 2^45, exact below 2^32; 100 and 10
 * on 16-bit lanes: 5243 / 2^19 and 6554 / 2^16, exact below 10^4 and 10^2. */
static int repr_sixteen_digits(char *at, uint64_t first, uint64_t second)
{
    __m128i x = _mm_set_epi64x((long long)second, (long long)first);
    __m128i q = _mm_srli_epi64(_mm_mul_epu32(x, _mm_set1_epi32((int)0xD1B71759)), 45);
    __m128i halves = _mm_or_si128(q, _mm_slli_epi64(
        _mm_sub_epi32(x, _mm_mul_epu32(q, _mm_set1_epi32(10000))), 32));
    __m128i hundreds = _mm_srli_epi16(_mm_mulhi_epu16(halves, _mm_set1_epi16(5243)), 3);
    __m128i pairs = _mm_or_si128(hundreds, _mm_slli_epi32(
        _mm_sub_epi16(halves, _mm_mullo_epi16(hundreds, _mm_set1_epi16(100))), 16));
    __m128i tens = _mm_mulhi_epu16(pairs, _mm_set1_epi16(6554));
    __m128i digits = _mm_or_si128(tens, _mm_slli_epi16(
        _mm_sub_epi16(pairs, _mm_mullo_epi16(tens, _mm_set1_epi16(10))), 8));
    _mm_storeu_si128((__m128i *)at, _mm_add_epi8(digits, _mm_set1_epi8('0')));
    /* a bit for each digit that is not 0, the first digit's lowest */
    unsigned nonzero = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(digits, _mm_setzero_si128()));
    nonzero &= 0xFFFF;
    return nonzero ? __builtin_clz(nonzero) - 16 : 16;
}
#else
/* The eight digits of x < 10^8, leading zeros too, one in each byte of a
 * word, the first in its lowest byte: 100 and 10 are 10486 / 2^20 and
 * 103 / 2^10, exact below 10^4 and 10^2, on parts of the word spaced so that
 * no product reaches the next. */
static uint64_t repr_eight_digits(uint64_t x)
{
    uint64_t halves = x / 10000 | (x % 10000) << 32;
    uint64_t hundreds = (halves * 10486) >> 20 & 0x0000007F0000007FULL;
    uint64_t pairs = (halves - 100 * hundreds) << 16 | hundreds;
    uint64_t tens = (pairs * 103) >> 10 & 0x000F000F000F000FULL;
    return (pairs - 10 * tens) << 8 | tens;
}

/* Store repr_eight_digits' word as text: its lowest byte first in memory. */
static void repr_store_digits(char *at, uint64_t digits)
{
    digits |= 0x3030303030303030ULL;  /* '0' in every byte */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    digits = __builtin_bswap64(digits);
#endif
    memcpy(at, &digits, 8);
}

static int repr_sixteen_digits(char *at, uint64_t first, uint64_t second)
{
    uint64_t a = repr_eight_digits(first), b = repr_eight_digits(second);
    repr_store_digits(at, a);
    repr_store_digits(at + 8, b);
    /* the trailing zeros are the top bytes of the last word that is not 0 */
    return b ? __builtin_clzll(b) / 8 : a ? 8 + __builtin_clzll(a) / 8 : 16;
}
#endif

/* How many decimal digits v > 0 has: from its bit length, then one look up. */
static int repr_length(uint64_t v)
{
    static const uint64_t pow10[20] = {
        1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
        100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
        10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
        100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL};
    int t = (64 - __builtin_clzll(v)) * 1233 >> 12;  /* 1233 / 4096 is just above log10(2) */
    return t + (v >= pow10[t]);
}

/* The room write_repr needs at `out`. The longest text repr() gives for a
 * double is 24 bytes ("-1.2345678901234567e-308"), but write_repr copies
 * digits in whole blocks of 16 or 24 bytes and lets the last one run past
 * the text's end, up to 34 bytes from `out`, rather than count them out. */
#define REPR_MAX 40

/* Write repr(d) for a finite d at out (REPR_MAX bytes of room); return its
 * length. */
static inline __attribute__((always_inline)) int write_repr(char *out, double d)
{
    uint64_t bits = bits_of_double(d);
    char *p = out;
    *p = '-';
    p += bits >> 63;
    bits &= ~(1ULL << 63);
    if (bits == 0) {
        memcpy(p, "0.0", 3);
        return (int)(p - out) + 3;
    }
    int k;
    uint64_t v = shortest_digits(bits, &k);
    /* v's digits end at buffer + 24, after leading zeros; zeros follow them,
     * for the zeros an integer such as 1e15 is written with. v < 10^17
     * (Schubfach's digits are below 10 * 2^53), so one digit at most is
     * above its last sixteen. */
    char buffer[48];
    uint64_t high = v / 100000000, top = high / 100000000;
    memcpy(buffer + 6, TWO_DIGITS + 2 * top, 2);
    int zeros = repr_sixteen_digits(buffer + 8, high % 100000000, v % 100000000);
    memset(buffer + 24, '0', 24);
    int length = repr_length(v);
    const char *digits = buffer + 24 - length;
    int n = length - zeros;   /* the significant digits */
    int e = k + length - 1;   /* the exponent in scientific notation */
    if (e >= 0 && e < 16) {
        memcpy(p, digits, 16);
        if (n <= e + 1) {     /* an integer: "1000.0" */
            memcpy(p + e + 1, ".0", 2);
            return (int)(p - out) + e + 3;
        }
        /* "12.345": the digits after the point moved one along */
        memcpy(p + e + 2, digits + e + 1, 16);
        p[e + 1] = '.';
        return (int)(p - out) + n + 1;
    }
    if (e < 0 && e >= -4) {   /* "0.0012345" */
        memcpy(p, "0.000000", 8);
        memcpy(p + 1 - e, digits, 24);
        return (int)(p - out) + 1 - e + n;
    }
    /* "1.2345e-05", "1e+16" */
    p[0] = digits[0];
    p[1] = '.';
    memcpy(p + 2, digits + 1, 16);
    p += n > 1 ? n + 1 : 1;
    *p++ = 'e';
    *p++ = e < 0 ? '-' : '+';
    int a = e < 0 ? -e : e;
    if (a >= 100) {
        *p++ = (char)('0' + a / 100);
        a %= 100;
    }
    memcpy(p, TWO_DIGITS + 2 * a, 2);
    return (int)(p - out) + 2;
}

#endif
