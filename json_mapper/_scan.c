/*
 * json_mapper._scan: the native part of the fast path (see batch.py).
 *
 * emit(chunk, paths, threshold, sum_key, decide) reads a chunk of JSON lines
 * once and writes the output of every line it can decide itself: the record's
 * bytes up to its closing brace, then `,"sum_val":SUM}` with the sum written
 * as repr() writes it; byte for byte what record.filter_record writes. The
 * lines it cannot decide (a summed field missing, repeated, not a number, a
 * key written with escapes on a path, the sum field already there, a sum
 * that is not finite) go to decide(line), in line order. It also counts the
 * blank lines (nothing but spaces, tabs and carriage returns), which
 * filter_record passes over.
 *
 * It accepts a strict subset of what orjson accepts and returns None for a
 * chunk holding anything else: a line that is not JSON, a value that is not
 * an object, bad UTF-8, a lone surrogate escape, nesting deeper than
 * MAX_DEPTH, a number that could overflow a double. So a line it decides is
 * one orjson reads as a good object, and the numbers it adds are the doubles
 * Python's float() gives for what orjson reads (see _numbers.h).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_numbers.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MAX_DEPTH 64
#define MAX_FIELDS 16
#define MAX_PATH 16
/* Numbers with at most this many integer digits and positive exponent
 * digits stay below 1e198, so orjson never finds them infinite. */
#define MAX_INT_DIGITS 99
#define MAX_EXP_DIGITS 2

typedef const unsigned char *ptr;

typedef struct {
    const char *key;
    Py_ssize_t len;
    uint64_t word;   /* a key of at most 8 bytes, as its 8 bytes read little-endian (0 past it) */
    uint64_t mask;   /* the bits of `word` that are the key's */
    uint32_t paths;  /* the paths that have this key at this level */
} KeyAt;

typedef struct {
    ptr end;                  /* end of the current line */
    ptr stop;                 /* end of the chunk: bytes up to it may be read */
    int npaths;
    int path_len[MAX_FIELDS];
    const char *key[MAX_FIELDS][MAX_PATH];
    Py_ssize_t key_len[MAX_FIELDS][MAX_PATH];
    /* The distinct keys at each level, and the paths with each (the wide kernels' way of matching). */
    int nkeys[MAX_PATH];
    KeyAt keys[MAX_PATH][MAX_FIELDS];
    uint32_t leaf[MAX_PATH];  /* the paths that end at each level */
    int depth;                /* the longest path's length */
    uint32_t need[MAX_PATH];  /* the paths with a key at each level */
    /* the paths whose key at each level was met on this line, once and more */
    uint32_t once[MAX_PATH], twice[MAX_PATH];
    Number value[MAX_FIELDS];
    const char *sum_key;      /* quoted; NULL: not looked for */
    Py_ssize_t sum_key_len;
    int unsure;               /* the line must go to decide() */
} Scan;

static ptr skip_ws(ptr p, ptr end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The code unit of the \uXXXX escape at p (p at the backslash), or -1. */
static long unicode_escape(ptr p, ptr end)
{
    long unit = 0;
    if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
        return -1;
    for (int i = 2; i < 6; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        unit = unit * 16 + h;
    }
    return unit;
}

/* Past one well-formed UTF-8 sequence starting at p (a byte >= 0x80), or NULL.
 * Overlong forms, surrogates and code points past U+10FFFF are refused, as
 * Python's strict decoder refuses them. */
static ptr utf8_sequence(ptr p, ptr end)
{
    unsigned char c = p[0];
    int more;
    unsigned char lo = 0x80, hi = 0xBF;  /* bounds of the second byte */
    if (c >= 0xC2 && c <= 0xDF) more = 1;
    else if (c == 0xE0) { more = 2; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) more = 2;
    else if (c == 0xED) { more = 2; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) more = 2;
    else if (c == 0xF0) { more = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) more = 3;
    else if (c == 0xF4) { more = 3; hi = 0x8F; }
    else return NULL;
    if (end - p <= more || p[1] < lo || p[1] > hi)
        return NULL;
    for (int i = 2; i <= more; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return NULL;
    return p + more + 1;
}

/* Past the byte at p inside a string that is not plain ASCII text (a
 * backslash, a control character or a byte >= 0x80) and what it starts, or
 * NULL. *escaped is set at a backslash escape. */
static inline __attribute__((always_inline)) ptr string_step(ptr p, ptr end, int *escaped)
{
    unsigned char c = *p;
    if (c == '\\') {
        *escaped = 1;
        if (p + 1 >= end)
            return NULL;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            return p + 2;
        case 'u': {
            long unit = unicode_escape(p, end);
            if (unit < 0)
                return NULL;
            if (unit >= 0xDC00 && unit <= 0xDFFF)
                return NULL;  /* a low surrogate with no high one before it */
            if (unit >= 0xD800 && unit <= 0xDBFF) {
                long low = unicode_escape(p + 6, end);
                if (low < 0xDC00 || low > 0xDFFF)
                    return NULL;  /* a high surrogate with no low one after it */
                return p + 12;
            }
            return p + 6;
        }
        default:
            return NULL;
        }
    }
    if (c < 0x20)
        return NULL;
    return utf8_sequence(p, end);
}

/* Past the rest of a string, from p (inside it) to its closing quote, or
 * NULL; one byte at a time, the scalar kernel's way and every kernel's
 * reference. *escaped is set when the string holds a backslash escape. */
static ptr string_rest(ptr p, ptr end, int *escaped)
{
    while (p < end) {
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c >= 0x20 && c < 0x80 && c != '\\') {
            p++;
        } else {
            p = string_step(p, end, escaped);
            if (p == NULL)
                return NULL;
        }
    }
    return NULL;
}

/* Up to this, the significand takes one more digit without overflowing 64 bits. */
#define MANTISSA_ROOM 1000000000000000000ULL

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Eight digits at a time, as simdjson reads them: the long fractions of
 * the blog's data are most of the work of a scan. */
#define EIGHT_AT_A_TIME 1

static int eight_digits(ptr p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return ((v & 0xF0F0F0F0F0F0F0F0ULL) |
            (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) == 0x3333333333333333ULL;
}

static uint64_t eight_digits_value(ptr p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    v -= 0x3030303030303030ULL;
    v = (v * 10) + (v >> 8);
    return (((v & 0x000000FF000000FFULL) * 0x000F424000000064ULL) +
            (((v >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >> 32;
}
#endif

static ptr literal_end(ptr p, ptr end, const char *word, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0)
        return NULL;
    return p + n;
}

static const double rough_pow10[] = {
    1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12,
    1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1,
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The number's value within a few units in the last place, in one
 * multiplication; NAN when its exponent is out of the table. */
static double rough_value(const Number *n)
{
    if (n->exponent < -22 || n->exponent > 22)
        return NAN;
    double d = (double)n->digits * rough_pow10[n->exponent + 22];
    return n->negative ? -d : d;
}

enum { LINE_BAD = -2, LINE_ERROR = -1, LINE_BLANK = 0, LINE_BELOW = 1, LINE_UNSURE = 2, LINE_SUM = 3 };

/* The verdict on a line read whole (up to p, past its closing brace) by a
 * kernel's scan_line, whose paths were each met once (line_verdict): LINE_SUM
 * with *total its exact sum and *last where its bytes end before the brace,
 * or LINE_BELOW, LINE_UNSURE, LINE_ERROR. */
static inline __attribute__((always_inline)) int sum_verdict(Scan *s, ptr p, double threshold, double *total, ptr *last)
{
    /* Most lines are far from the threshold: a rough sum settles them without
     * the exact conversions. It is within 1e-15 of the exact one, relative to
     * the size of the numbers added; 1e-12 of it is a margin to spare. A
     * threshold of -inf, below every sum, asks for the exact sum alone. */
    if (threshold > -INFINITY) {
        double rough = 0.0, size = fabs(threshold);
        for (int i = 0; i < s->npaths; i++) {
            double v = rough_value(&s->value[i]);
            rough += v;
            size += fabs(v);
        }
        if (rough <= threshold - (1e-12 * size + 1e-290))
            return LINE_BELOW;  /* never true when a rough value is NAN */
    }
    double sum = 0.0;
    for (int i = 0; i < s->npaths; i++) {
        int ok;
        double v = number_value(&s->value[i], &ok);
        if (!ok)
            return LINE_ERROR;
        sum = i == 0 ? v : sum + v;
    }
    if (!isfinite(sum))
        return LINE_UNSURE;  /* filter_record's "sum is not finite" */
    *total = sum;
    p--;  /* the closing brace; whitespace before it is dropped */
    while (p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\r')
        p--;
    *last = p;
    return LINE_SUM;
}

/* As sum_verdict, for any line read whole: LINE_UNSURE where a path was
 * missing or met twice, or the line is unsure for another reason. */
static inline __attribute__((always_inline)) int line_verdict(Scan *s, ptr p, double threshold, double *total, ptr *last)
{
    if (s->unsure)
        return LINE_UNSURE;
    for (int level = 0; level < s->depth; level++)
        if ((s->once[level] & s->need[level]) != s->need[level] || (s->twice[level] & s->need[level]))
            return LINE_UNSURE;  /* missing or repeated */
    return sum_verdict(s, p, threshold, total, last);
}

/* The kernels: the parser of _kernel.h compiled once for each instruction
 * set, picked at run time from what the CPU has (or JSONFILTER_SCANNER). The
 * extension is built with the compiler's default flags; only these functions
 * are compiled for the wider sets, and only called where the CPU runs them. */
typedef int (*ScanLine)(Scan *s, ptr p, ptr stop, double threshold, double *total, ptr *first, ptr *last,
                        ptr *line_end);

#define KERNEL scalar
#define KERNEL_WIDTH 0
#include "_kernel.h"
#undef KERNEL
#undef KERNEL_WIDTH

/* GCC's target pragmas; elsewhere (clang, other CPUs) the scalar kernel alone. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define X86_KERNELS 1
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("sse4.2")
/* A signed byte below 0x20 is a control character or a byte >= 0x80. */
static inline uint64_t specials_sse42(ptr p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                             _mm_cmpgt_epi8(_mm_set1_epi8(0x20), v));
    return (uint32_t)_mm_movemask_epi8(m);
}

/* Whether the 16 bytes at p are digits; *value: the number they spell. */
static inline int digits16(ptr p, uint64_t *value)
{
    __m128i v = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)p), _mm_set1_epi8('0'));
    if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(9)), _mm_set1_epi8(9))) != 0xFFFF)
        return 0;
    /* Pairs of digits, then fours, then eights, each in one instruction. */
    __m128i twos = _mm_maddubs_epi16(v, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    __m128i fours = _mm_madd_epi16(twos, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    fours = _mm_packus_epi32(fours, fours);
    __m128i eights = _mm_madd_epi16(fours, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    *value = (uint64_t)(uint32_t)_mm_cvtsi128_si32(eights) * 100000000 + (uint32_t)_mm_extract_epi32(eights, 1);
    return 1;
}

static inline uint64_t newlines_sse42(ptr p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
}

#define KERNEL sse42
#define KERNEL_WIDTH 16
#include "_kernel.h"
#undef KERNEL
#undef KERNEL_WIDTH
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,bmi,bmi2")
static inline uint64_t specials_avx2(ptr p)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    __m256i m = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),
                                                _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))),
                                _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v));
    return (uint32_t)_mm256_movemask_epi8(m);
}

static inline uint64_t newlines_avx2(ptr p)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)p);
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')));
}

#define KERNEL avx2
#define KERNEL_WIDTH 32
#include "_kernel.h"
#undef KERNEL
#undef KERNEL_WIDTH
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,bmi,bmi2")
static inline uint64_t specials_avx512(ptr p)
{
    __m512i v = _mm512_loadu_si512((const void *)p);
    return _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"')) | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\\')) |
           _mm512_cmplt_epi8_mask(v, _mm512_set1_epi8(0x20));
}

static inline uint64_t newlines_avx512(ptr p)
{
    __m512i v = _mm512_loadu_si512((const void *)p);
    return _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n'));
}

#define KERNEL avx512
#define KERNEL_WIDTH 64
#include "_kernel.h"
#undef KERNEL
#undef KERNEL_WIDTH
#pragma GCC pop_options
#endif

typedef struct {
    const char *name;
    ScanLine scan_line;
    ptr (*any_number_end)(ptr p, ptr end, Number *n);
} Kernel;

/* Narrowest first. */
static const Kernel kernels[] = {
    {"scalar", scan_line_scalar, any_number_end_scalar},
#ifdef X86_KERNELS
    {"sse42", scan_line_sse42, any_number_end_sse42},
    {"avx2", scan_line_avx2, any_number_end_avx2},
    {"avx512", scan_line_avx512, any_number_end_avx512},
#endif
};
#define NKERNELS ((int)(sizeof(kernels) / sizeof(kernels[0])))

static const Kernel *kernel_in_use = &kernels[0];

/* Whether this CPU (and its OS, which must save the wide registers) runs kernels[i]. */
static int runs(int i)
{
#ifdef X86_KERNELS
    __builtin_cpu_init();
    switch (i) {
    case 1: return __builtin_cpu_supports("sse4.2");
    case 2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
    case 3: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("bmi2");
    }
#endif
    return i == 0;
}

/* The kernel named `name` if this CPU runs it, else NULL. */
static const Kernel *find_kernel(const char *name)
{
    for (int i = 0; i < NKERNELS; i++)
        if (strcmp(kernels[i].name, name) == 0)
            return runs(i) ? &kernels[i] : NULL;
    return NULL;
}
/* The levels each path reaches, once s->npaths and s->path_len are set. */
static void count_levels(Scan *s)
{
    s->depth = 0;
    memset(s->need, 0, sizeof(s->need));
    for (int i = 0; i < s->npaths; i++) {
        if (s->path_len[i] > s->depth)
            s->depth = s->path_len[i];
        for (int level = 0; level < s->path_len[i]; level++)
            s->need[level] |= 1u << i;
    }
}

/* s->keys and s->leaf, once the paths are set. */
static void index_keys(Scan *s)
{
    memset(s->nkeys, 0, sizeof(s->nkeys));
    memset(s->leaf, 0, sizeof(s->leaf));
    for (int i = 0; i < s->npaths; i++) {
        s->leaf[s->path_len[i] - 1] |= 1u << i;
        for (int level = 0; level < s->path_len[i]; level++) {
            const char *key = s->key[i][level];
            Py_ssize_t len = s->key_len[i][level];
            int j = 0;
            while (j < s->nkeys[level] && !(s->keys[level][j].len == len && memcmp(s->keys[level][j].key, key, len) == 0))
                j++;
            KeyAt *k = &s->keys[level][j];
            if (j == s->nkeys[level]) {
                s->nkeys[level]++;
                k->key = key;
                k->len = len;
                k->word = 0;
                for (Py_ssize_t b = len < 8 ? len : 8; b-- > 0;)
                    k->word = k->word << 8 | (unsigned char)key[b];
                k->mask = len >= 8 ? UINT64_MAX : (1ULL << (8 * len)) - 1;
                k->paths = 0;
            }
            k->paths |= 1u << i;
        }
    }
}

/* Fill s from `paths`, a tuple of tuples of bytes. 1: done, 0: more paths or
 * longer ones than the scanner holds, -1: an exception is set. */
static int set_paths(Scan *s, PyObject *paths)
{
    Py_ssize_t count = PyTuple_GET_SIZE(paths);
    if (count < 1) {
        PyErr_SetString(PyExc_ValueError, "paths must not be empty");
        return -1;
    }
    if (count > MAX_FIELDS)
        return 0;
    s->npaths = (int)count;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *path = PyTuple_GET_ITEM(paths, i);
        if (!PyTuple_Check(path) || PyTuple_GET_SIZE(path) < 1) {
            PyErr_SetString(PyExc_TypeError, "each path must be a non-empty tuple of bytes");
            return -1;
        }
        Py_ssize_t len = PyTuple_GET_SIZE(path);
        for (Py_ssize_t level = 0; level < len && level < MAX_PATH; level++) {
            PyObject *key = PyTuple_GET_ITEM(path, level);
            if (!PyBytes_Check(key)) {
                PyErr_SetString(PyExc_TypeError, "each path must be a non-empty tuple of bytes");
                return -1;
            }
            s->key[i][level] = PyBytes_AS_STRING(key);
            s->key_len[i][level] = PyBytes_GET_SIZE(key);
        }
        if (len > MAX_PATH)
            return 0;
        s->path_len[i] = (int)len;
    }
    count_levels(s);
    index_keys(s);
    return 1;
}

/* Selected records up to this long are copied in one block of this size, or
 * of half of it when they fit in that. */
#define SHORT_LINE 128

/* Lines of a chunk counted together to choose whether rough sums are used. */
#define ROUGH_WINDOW 256  /* a power of two */

/* A growing output buffer: a bytes object resized at the end. Or first the
 * caller's buffer (`bytes` NULL): nothing is written past its `cap` bytes,
 * and once they cannot hold the next line, what they hold moves to a bytes
 * object of at least `first` bytes, which grows from there. */
typedef struct {
    PyObject *bytes;
    char *buf;
    Py_ssize_t len, cap, first;
} Out;

static int out_reserve(Out *o, Py_ssize_t more)
{
    if (o->len + more <= o->cap)
        return 0;
    if (o->bytes == NULL) {
        Py_ssize_t cap = o->first > o->len + more ? o->first : o->len + more;
        o->bytes = PyBytes_FromStringAndSize(NULL, cap);
        if (o->bytes == NULL)
            return -1;
        memcpy(PyBytes_AS_STRING(o->bytes), o->buf, o->len);
        o->buf = PyBytes_AS_STRING(o->bytes);
        o->cap = cap;
        return 0;
    }
    Py_ssize_t cap = o->cap * 2 > o->len + more ? o->cap * 2 : o->len + more;
    if (_PyBytes_Resize(&o->bytes, cap) < 0)
        return -1;
    o->buf = PyBytes_AS_STRING(o->bytes);
    o->cap = cap;
    return 0;
}

static PyObject *emit(PyObject *module, PyObject *args)
{
    Py_buffer chunk;
    PyObject *paths, *decide;
    double threshold;
    int invert = 0;  /* -v: select the lines whose sum is not above the threshold */
    const char *sum_key;
    Py_ssize_t sum_key_len;
    Scan s;
    Out o = {NULL, NULL, 0, 0, 0};
    PyObject *result = NULL;
    PyObject *into_arg = Py_None;  /* a writable buffer for the output, or None */
    Py_buffer into = {NULL};

    if (!PyArg_ParseTuple(args, "y*O!dy#O|pO:emit", &chunk, &PyTuple_Type, &paths, &threshold,
                          &sum_key, &sum_key_len, &decide, &invert, &into_arg))
        return NULL;
    if (into_arg != Py_None && PyObject_GetBuffer(into_arg, &into, PyBUF_WRITABLE) < 0)
        goto done;
    /* Under invert the lines surely not above the threshold are the ones
     * selected, and need their exact sum: scan_line's shortcut for them is
     * off when it is given -inf, below every sum. */
    double scan_threshold = invert ? -INFINITY : threshold;
    if (!PyCallable_Check(decide)) {
        PyErr_SetString(PyExc_TypeError, "decide must be callable");
        goto done;
    }
    int usable = set_paths(&s, paths);
    if (usable < 0)
        goto done;
    if (usable == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    s.sum_key = sum_key;
    s.sum_key_len = sum_key_len;
    /* The room for one more selected line beside the record's own bytes. */
    Py_ssize_t tail = sum_key_len + REPR_MAX + 4;
    /* `,KEY:` as one piece, when short, for the copy of a short record. */
    char glue[32];
    Py_ssize_t glue_len = 0;
    if (sum_key_len + 2 <= (Py_ssize_t)sizeof(glue)) {
        memset(glue, 0, sizeof(glue));
        glue[0] = ',';
        memcpy(glue + 1, sum_key, sum_key_len);
        glue[sum_key_len + 1] = ':';
        glue_len = sum_key_len + 2;
    }
    tail += SHORT_LINE + sizeof(glue);  /* the blocks may reach that far */
    /* Room for every line selected, as in the blog's data, without growing:
     * pages that are not written to cost nothing. */
    o.first = chunk.len + chunk.len / 2 + 4096;
    if (into.buf != NULL) {
        /* Written in place (a -j worker's slot of shared memory), saving the
         * copies of a bytes object: each line reserves all that its writes
         * may reach, `tail` included, so none goes past the buffer's end. */
        o.buf = into.buf;
        o.cap = into.len;
    } else {
        o.cap = o.first;
        o.bytes = PyBytes_FromStringAndSize(NULL, o.cap);
        if (o.bytes == NULL)
            goto done;
        o.buf = PyBytes_AS_STRING(o.bytes);
    }

    ptr p = chunk.buf, stop = p + chunk.len;
    ScanLine scan = kernel_in_use->scan_line;
    s.stop = stop;
    Py_ssize_t lines = 0, selected = 0, blank = 0;
    /* The rough sums pay only where they settle lines (they cost about a
     * third of the exact conversions they spare): where fewer than a quarter
     * of the last ROUGH_WINDOW lines were not selected, the next ones go
     * without them (scan_line given -inf). The output is the same either
     * way: a line a rough sum settles has an exact sum below the threshold. */
    double rough_threshold = scan_threshold;
    Py_ssize_t selected_before = 0;  /* the lines selected before this window */
    while (p < stop) {
        lines++;
        double total;
        ptr first, last, end;
        int verdict = scan(&s, p, stop, rough_threshold, &total, &first, &last, &end);
        if ((lines & (ROUGH_WINDOW - 1)) == 0) {
            int unselected = ROUGH_WINDOW - (int)(selected - selected_before);
            rough_threshold = unselected >= ROUGH_WINDOW / 4 ? scan_threshold : -INFINITY;
            selected_before = selected;
        }
        if (verdict == LINE_BAD) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (verdict == LINE_ERROR)
            goto done;
        /* Counted here, where the line is read anyway: filter_record passes over it. */
        blank += verdict == LINE_BLANK;
        if (verdict == LINE_SUM && (total > threshold) != invert) {
            Py_ssize_t n = last - first;
            if (out_reserve(&o, n + tail) < 0)
                goto done;
            char *w = o.buf + o.len;
            if (n <= SHORT_LINE && stop - first >= SHORT_LINE && glue_len > 0) {
                /* The record and `,"sum_val":` in whole blocks of a size known
                 * here, without a call: the bytes past them are written over. */
                if (n <= SHORT_LINE / 2)  /* most records of the blog's data: half the copy */
                    memcpy(w, first, SHORT_LINE / 2);
                else
                    memcpy(w, first, SHORT_LINE);
                memcpy(w + n, glue, sizeof(glue));
                w += n + glue_len;
            } else {
                memcpy(w, first, n);
                w += n;
                *w++ = ',';
                memcpy(w, sum_key, sum_key_len);
                w += sum_key_len;
                *w++ = ':';
            }
            w += write_repr(w, total);
            *w++ = '}';
            *w++ = '\n';
            o.len = w - o.buf;
            selected++;
        } else if (verdict == LINE_UNSURE) {
            PyObject *line = PyBytes_FromStringAndSize((const char *)p, end - p);
            if (line == NULL)
                goto done;
            PyObject *out = PyObject_CallOneArg(decide, line);
            Py_DECREF(line);
            if (out == NULL)
                goto done;
            if (out != Py_None) {
                if (!PyBytes_Check(out)) {
                    Py_DECREF(out);
                    PyErr_SetString(PyExc_TypeError, "decide must return bytes or None");
                    goto done;
                }
                Py_ssize_t n = PyBytes_GET_SIZE(out);
                if (out_reserve(&o, n + 1) < 0) {
                    Py_DECREF(out);
                    goto done;
                }
                memcpy(o.buf + o.len, PyBytes_AS_STRING(out), n);
                o.buf[o.len + n] = '\n';
                o.len += n + 1;
                selected++;
            }
            Py_DECREF(out);
        }
        p = end + 1;
    }
    if (o.bytes == NULL) {  /* all of it in the caller's buffer: its length stands for it */
        result = Py_BuildValue("(nnnn)", lines, selected, o.len, blank);
        goto done;
    }
    if (_PyBytes_Resize(&o.bytes, o.len) < 0)
        goto done;
    result = Py_BuildValue("(nnOn)", lines, selected, o.bytes, blank);
done:
    Py_XDECREF(o.bytes);
    if (into.obj != NULL)
        PyBuffer_Release(&into);
    PyBuffer_Release(&chunk);
    return result;
}

/* Test entry points for the conversions (tests/test_numbers.py). */

static PyObject *parse_number(PyObject *module, PyObject *arg)
{
    Py_buffer text;
    Number n;
    if (PyObject_GetBuffer(arg, &text, PyBUF_SIMPLE) < 0)
        return NULL;
    ptr start = text.buf, end = start + text.len;
    ptr p = kernel_in_use->any_number_end(start, end, &n);
    if (p != end) {
        PyBuffer_Release(&text);
        PyErr_SetString(PyExc_ValueError, "not a JSON number");
        return NULL;
    }
    int ok;
    double d = number_value(&n, &ok);
    PyBuffer_Release(&text);
    return ok ? PyFloat_FromDouble(d) : NULL;
}

static PyObject *repr_double(PyObject *module, PyObject *arg)
{
    double d = PyFloat_AsDouble(arg);
    char text[REPR_MAX];
    if (d == -1.0 && PyErr_Occurred())
        return NULL;
    if (!isfinite(d)) {
        PyErr_SetString(PyExc_ValueError, "not a finite number");
        return NULL;
    }
    return PyUnicode_FromStringAndSize(text, write_repr(text, d));
}

/* Chunks and their outputs are buffers of about a MiB, made and freed in
 * turn. glibc hands such buffers back to the kernel as they are freed (with
 * munmap, or by trimming the heap), so every chunk's pages are faulted in
 * anew: a third of a run's time at high selectivity. Kept, they are reused. */
static PyObject *keep_freed_memory(PyObject *self, PyObject *arg)
{
    Py_ssize_t size = PyLong_AsSsize_t(arg);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    if (size < 0 || size > INT_MAX) {
        PyErr_SetString(PyExc_ValueError, "size out of range");
        return NULL;
    }
#ifdef __GLIBC__
    if (mallopt(M_MMAP_THRESHOLD, (int)size) && mallopt(M_TRIM_THRESHOLD, (int)size))
        Py_RETURN_TRUE;
#endif
    Py_RETURN_FALSE;
}

static PyObject *kernel(PyObject *module, PyObject *args)
{
    const char *name = NULL;
    if (!PyArg_ParseTuple(args, "|s:kernel", &name))
        return NULL;
    if (name != NULL) {
        const Kernel *k = find_kernel(name);
        if (k == NULL)
            return PyErr_Format(PyExc_ValueError, "no scanner kernel %s on this CPU", name);
        kernel_in_use = k;
    }
    return PyUnicode_FromString(kernel_in_use->name);
}

static PyObject *kernels_here(PyObject *module, PyObject *unused)
{
    PyObject *names = PyList_New(0);
    if (names == NULL)
        return NULL;
    for (int i = 0; i < NKERNELS; i++) {
        if (!runs(i))
            continue;
        PyObject *name = PyUnicode_FromString(kernels[i].name);
        if (name == NULL || PyList_Append(names, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(name);
    }
    PyObject *result = PyList_AsTuple(names);
    Py_DECREF(names);
    return result;
}

static PyMethodDef methods[] = {
    {"emit", emit, METH_VARARGS,
     "emit(chunk, paths, threshold, sum_key, decide, invert=False, into=None) -> (lines, selected, output, blank) or None\n\n"
     "The output of the lines of `chunk` whose fields at `paths` (a tuple of\n"
     "paths, each a tuple of UTF-8 keys) add up to more than `threshold`, each\n"
     "with `sum_key` (JSON-quoted bytes) and the sum added, as filter_record\n"
     "writes them; decide(line) gives the output (bytes or None) of each line\n"
     "the scanner cannot decide, in line order; `blank` counts the lines of\n"
     "nothing but spaces, tabs and carriage returns. None if the chunk holds a line\n"
     "this scan cannot vouch for (decide may have been called for lines before it).\n"
     "With `invert`, the lines selected are those whose sum is not above `threshold`.\n"
     "With `into` (a writable buffer), the output is written there if it fits, and\n"
     "`output` is its length (int); else it is bytes, as without, and `into` may\n"
     "have been written to anywhere in it."},
    {"kernel", kernel, METH_VARARGS,
     "kernel([name]) -> str\n\n"
     "The name of the scanner kernel emit uses (scalar, sse42, avx2, avx512); given\n"
     "a name, use that kernel from now on (ValueError if this CPU cannot run it)."},
    {"kernels", kernels_here, METH_NOARGS,
     "kernels() -> tuple of str: the kernels this CPU runs, narrowest first. The one\n"
     "used is the widest short of avx512, unless JSONFILTER_SCANNER names another."},
    {"_parse", parse_number, METH_O,
     "_parse(text) -> float: float(orjson.loads(text)) for any JSON number, as the\n"
     "scanner converts it, though it vouches only for numbers below 1e198 (tests only)."},
    {"_repr", repr_double, METH_O, "_repr(x) -> str: repr(x) for a finite float (tests only)."},
    {"keep_freed_memory", keep_freed_memory, METH_O,
     "keep_freed_memory(size) -> bool\n\n"
     "Let this process keep up to `size` bytes of freed memory for reuse, and\n"
     "make blocks below `size` from it (glibc's mallopt); False where that\n"
     "cannot be set (another C library)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The native line scanner of the fast path (see json_mapper.batch).", -1, methods};

PyMODINIT_FUNC PyInit__scan(void)
{
    /* The widest the CPU runs, short of AVX-512: on the blog's data its
     * 64-byte loads, for keys of a few bytes and lines of 60, made the scan
     * a third slower than AVX2's 32 (docs/speed.md); it is there to be asked for. */
    for (int i = 0; i < NKERNELS; i++)
        if (runs(i) && strcmp(kernels[i].name, "avx512") != 0)
            kernel_in_use = &kernels[i];
    /* To run (and test) a narrower kernel; a name this CPU cannot run is
     * passed over, and kernel() says which one is used. */
    const char *name = getenv("JSONFILTER_SCANNER");
    if (name != NULL && find_kernel(name) != NULL)
        kernel_in_use = find_kernel(name);
    return PyModule_Create(&module);
}
