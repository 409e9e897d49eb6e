/*
 * json_mapper._scan: the native part of the fast path (see batch.py).
 *
 * candidates(chunk, keys, threshold) reads a chunk of JSON lines once and
 * returns (number of lines, [the lines that may be selected]), or None when
 * it cannot vouch for the chunk.
 *
 * It decides nothing on its own. A line it returns still goes through
 * filter_record, which selects it or not, exactly; so the sums here need only
 * be close (a margin far wider than their rounding error keeps every line
 * that could be selected). What it must get right is the other way round: a
 * line it leaves out must be one that orjson reads as a good object whose
 * summed fields do not pass the threshold. So it accepts a strict subset of
 * what orjson accepts and returns None for anything else: a line that is not
 * JSON, a value that is not an object, bad UTF-8, a lone surrogate escape,
 * nesting deeper than MAX_DEPTH, a number that could overflow a double.
 * A line it cannot sum with confidence (a summed field missing, repeated,
 * not a number, or a key written with escapes) is returned as a candidate,
 * and filter_record has the last word.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_FIELDS 16
/* Numbers with at most this many integer digits and positive exponent
 * digits stay below 1e198, so orjson never finds them infinite. */
#define MAX_INT_DIGITS 99
#define MAX_EXP_DIGITS 2

typedef const unsigned char *ptr;

typedef struct {
    ptr end;                  /* end of the current line */
    Py_ssize_t nkeys;
    const char *keys[MAX_FIELDS];
    Py_ssize_t key_len[MAX_FIELDS];
    int seen[MAX_FIELDS];
    double value[MAX_FIELDS];
    int unsure;               /* the line must go to filter_record */
} Scan;

static const double exact_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

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

/* Past the string starting at p (at its opening quote), or NULL.
 * *escaped is set when the string holds a backslash escape. */
static ptr string_end(ptr p, ptr end, int *escaped)
{
    p++;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            *escaped = 1;
            if (p + 1 >= end)
                return NULL;
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p += 2;
                break;
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
                    p += 12;
                } else {
                    p += 6;
                }
                break;
            }
            default:
                return NULL;
            }
        } else if (c < 0x20) {
            return NULL;
        } else if (c < 0x80) {
            p++;
        } else {
            p = utf8_sequence(p, end);
            if (p == NULL)
                return NULL;
        }
    }
    return NULL;
}

/* Up to this, the mantissa takes one more digit without overflowing 64 bits. */
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

/* Past the number starting at p, or NULL; *value gets it, close to the
 * double orjson would read (the first 18 or more digits are kept, and
 * scaling them costs a few units in the last place). */
static ptr number_end(ptr p, ptr end, double *value)
{
    int negative = 0, int_digits = 0, exp_digits = 0;
    long adjust = 0;  /* the power of ten the mantissa is off by */
    uint64_t mantissa = 0;
    long exponent = 0;

    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && is_digit(*p)) {
            if (mantissa < MANTISSA_ROOM)
                mantissa = mantissa * 10 + (*p - '0');
            else
                adjust++;
            int_digits++;
            p++;
        }
        if (int_digits > MAX_INT_DIGITS)
            return NULL;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
#ifdef EIGHT_AT_A_TIME
        while (end - p >= 8 && mantissa < 100000000000ULL && eight_digits(p)) {
            mantissa = mantissa * 100000000 + eight_digits_value(p);
            adjust -= 8;
            p += 8;
        }
#endif
        while (p < end && is_digit(*p)) {
            if (mantissa < MANTISSA_ROOM) {
                mantissa = mantissa * 10 + (*p - '0');
                adjust--;
            }
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int exp_negative = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            exp_negative = *p == '-';
            p++;
        }
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p)) {
            /* A number this small is 0 or close to it, never infinite. */
            if (++exp_digits > MAX_EXP_DIGITS && !exp_negative)
                return NULL;
            if (exponent < 100000)
                exponent = exponent * 10 + (*p - '0');
            p++;
        }
        if (exp_negative)
            exponent = -exponent;
    }
    exponent += adjust;
    double v = (double)mantissa;
    if (exponent >= 0)
        v = exponent <= 22 ? v * exact_pow10[exponent] : v * pow(10.0, (double)exponent);
    else
        v = exponent >= -22 ? v / exact_pow10[-exponent] : v * pow(10.0, (double)exponent);
    *value = negative ? -v : v;
    return p;
}

static ptr value_end(Scan *s, ptr p, int depth);

static ptr literal_end(ptr p, ptr end, const char *word, size_t n)
{
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0)
        return NULL;
    return p + n;
}

/* After a member or an element at p: past the comma and the space after it,
 * or past the closing bracket `close` (then p[-1] is it), or NULL. */
static ptr next_item(ptr p, ptr end, unsigned char close)
{
    p = skip_ws(p, end);
    if (p < end && *p == ',')
        return skip_ws(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    return NULL;
}

/* Past the object at p, or NULL. At the top level (depth 1) the summed
 * fields are looked for. */
static ptr object_end(Scan *s, ptr p, int depth)
{
    ptr end = s->end;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= end || *p != '"')
            return NULL;
        int escaped = 0;
        ptr key = p + 1;
        p = string_end(p, end, &escaped);
        if (p == NULL)
            return NULL;
        Py_ssize_t key_len = p - 1 - key;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        int field = -1;
        if (depth == 1) {
            if (escaped) {
                s->unsure = 1;  /* it may spell a summed field's name */
            } else {
                for (Py_ssize_t i = 0; i < s->nkeys; i++) {
                    if (s->key_len[i] == key_len && s->keys[i][0] == (char)key[0] &&
                        memcmp(s->keys[i], key, key_len) == 0) {
                        field = (int)i;
                        break;
                    }
                }
            }
        }
        if (field >= 0) {
            s->seen[field]++;
            if (p < end && (*p == '-' || (*p >= '0' && *p <= '9'))) {
                p = number_end(p, end, &s->value[field]);
            } else {
                s->unsure = 1;  /* not a number: filter_record says what is wrong */
                p = value_end(s, p, depth);
            }
        } else {
            p = value_end(s, p, depth);
        }
        if (p == NULL || (p = next_item(p, end, '}')) == NULL || p[-1] == '}')
            return p;
    }
}

static ptr array_end(Scan *s, ptr p, int depth)
{
    ptr end = s->end;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']')
        return p + 1;
    for (;;) {
        p = value_end(s, p, depth);
        if (p == NULL || (p = next_item(p, end, ']')) == NULL || p[-1] == ']')
            return p;
    }
}

/* Past the value at p, which sits inside `depth` containers, or NULL. */
static ptr value_end(Scan *s, ptr p, int depth)
{
    ptr end = s->end;
    double ignored;
    int escaped = 0;
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{':
        return depth >= MAX_DEPTH ? NULL : object_end(s, p, depth + 1);
    case '[':
        return depth >= MAX_DEPTH ? NULL : array_end(s, p, depth + 1);
    case '"':
        return string_end(p, end, &escaped);
    case 't':
        return literal_end(p, end, "true", 4);
    case 'f':
        return literal_end(p, end, "false", 5);
    case 'n':
        return literal_end(p, end, "null", 4);
    default:
        return number_end(p, end, &ignored);
    }
}

/* 1 if the line [p, end) may be selected, 0 if not, -1 if it cannot be vouched for. */
static int scan_line(Scan *s, ptr p, ptr end, double threshold)
{
    p = skip_ws(p, end);
    if (p == end)
        return 0;  /* a blank line: filter_record skips it */
    if (*p != '{')
        return -1;
    s->end = end;
    s->unsure = 0;
    memset(s->seen, 0, sizeof(s->seen));
    p = object_end(s, p, 1);
    if (p == NULL || skip_ws(p, end) != end)
        return -1;
    if (s->unsure)
        return 1;
    double total = 0.0, size = fabs(threshold);
    for (Py_ssize_t i = 0; i < s->nkeys; i++) {
        if (s->seen[i] != 1)
            return 1;  /* missing or repeated */
        total += s->value[i];
        size += fabs(s->value[i]);
    }
    /* The sums here are within about 1e-15 of filter_record's, relative to
     * the size of the numbers added; 1e-12 of it (and a floor for numbers
     * near the bottom of the double range) keeps every line that could pass. */
    return total > threshold - (1e-12 * size + 1e-290);
}

static PyObject *candidates(PyObject *module, PyObject *args)
{
    Py_buffer chunk;
    PyObject *keys;
    double threshold;
    Scan s;
    PyObject *found = NULL, *result = NULL;

    if (!PyArg_ParseTuple(args, "y*O!d", &chunk, &PyTuple_Type, &keys, &threshold))
        return NULL;
    s.nkeys = PyTuple_GET_SIZE(keys);
    if (s.nkeys < 1 || s.nkeys > MAX_FIELDS) {
        PyBuffer_Release(&chunk);
        Py_RETURN_NONE;
    }
    for (Py_ssize_t i = 0; i < s.nkeys; i++) {
        PyObject *key = PyTuple_GET_ITEM(keys, i);
        if (!PyBytes_Check(key)) {
            PyBuffer_Release(&chunk);
            PyErr_SetString(PyExc_TypeError, "keys must be a tuple of bytes");
            return NULL;
        }
        s.keys[i] = PyBytes_AS_STRING(key);
        s.key_len[i] = PyBytes_GET_SIZE(key);
    }
    found = PyList_New(0);
    if (found == NULL)
        goto done;

    ptr p = chunk.buf, stop = p + chunk.len;
    Py_ssize_t lines = 0;
    while (p < stop) {
        ptr end = memchr(p, '\n', stop - p);
        if (end == NULL)
            end = stop;
        lines++;
        int verdict = scan_line(&s, p, end, threshold);
        if (verdict < 0) {
            Py_INCREF(Py_None);
            result = Py_None;
            goto done;
        }
        if (verdict) {
            PyObject *line = PyBytes_FromStringAndSize((const char *)p, end - p);
            if (line == NULL || PyList_Append(found, line) < 0) {
                Py_XDECREF(line);
                goto done;
            }
            Py_DECREF(line);
        }
        p = end + 1;
    }
    result = Py_BuildValue("(nO)", lines, found);
done:
    Py_XDECREF(found);
    PyBuffer_Release(&chunk);
    return result;
}

static PyMethodDef methods[] = {
    {"candidates", candidates, METH_VARARGS,
     "candidates(chunk, keys, threshold) -> (lines, [line, ...]) or None\n\n"
     "The lines of `chunk` whose fields named by `keys` (a tuple of UTF-8\n"
     "bytes) may add up to more than `threshold`, and the number of lines;\n"
     "None if the chunk holds a line this scan cannot vouch for."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The native line scanner of the fast path (see json_mapper.batch).", -1, methods};

PyMODINIT_FUNC PyInit__scan(void)
{
    return PyModule_Create(&module);
}
