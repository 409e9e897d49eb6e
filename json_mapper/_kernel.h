/*
 * The scanner's parser, compiled once for each kernel (_scan.c includes it
 * once per instruction set, under that set's target options). KERNEL names
 * the kernel; KERNEL_WIDTH is how many bytes its block functions look at in
 * one go (0: none, the scalar reference); then K(specials)(p) gives a bit for
 * each of the KERNEL_WIDTH bytes at p that is a quote, a backslash, a control
 * character or not ASCII, and K(newlines)(p) one for each line feed.
 *
 * Only the search for a line's end and for the end of a string differ from
 * kernel to kernel; both step over ordinary bytes a block at a time and hand
 * every other byte to the same scalar code (string_step), so each kernel
 * vouches for exactly the lines the scalar one does and writes the same bytes.
 */
#define K_PASTE(name, kernel) name##_##kernel
#define K_NAME(name, kernel) K_PASTE(name, kernel)
#define K(name) K_NAME(name, KERNEL)

#if KERNEL_WIDTH == 0

static ptr K(line_end)(ptr p, ptr stop)
{
    ptr end = memchr(p, '\n', stop - p);
    return end == NULL ? stop : end;
}

static ptr K(string_end)(ptr p, ptr end, ptr stop, int *escaped)
{
    return string_rest(p + 1, end, escaped);
}

#else

/* The line feed at or after p, or stop. */
static inline ptr K(line_end)(ptr p, ptr stop)
{
    while (stop - p >= KERNEL_WIDTH) {
        uint64_t m = K(newlines)(p);
        if (m)
            return p + __builtin_ctzll(m);
        p += KERNEL_WIDTH;
    }
    ptr end = memchr(p, '\n', stop - p);
    return end == NULL ? stop : end;
}

/* As string_rest(p + 1, end, escaped): past the string at p, or NULL. Bytes
 * up to `stop` (the chunk's end) may be read. */
static inline ptr K(string_end)(ptr p, ptr end, ptr stop, int *escaped)
{
    p++;
    for (;;) {
        uint64_t m;
        for (;;) {
            if (stop - p < KERNEL_WIDTH)
                return string_rest(p, end, escaped);  /* the chunk's last bytes */
            m = K(specials)(p);
            if (m)
                break;
            p += KERNEL_WIDTH;
        }
        p += __builtin_ctzll(m);
        if (p >= end)
            return NULL;  /* the line ends inside the string */
        if (*p == '"')
            return p + 1;
        p = string_step(p, end, escaped);
        if (p == NULL)
            return NULL;
    }
}

#endif

/* Past the number starting at p, or NULL; *n gets its digits. `vouch`: refuse
 * numbers that could be infinite for orjson (a constant, so each caller gets
 * its own copy). */
static inline __attribute__((always_inline)) ptr K(read_number_in)(ptr p, ptr end, Number *n, int vouch,
                                                                   int fenced)
{
    /* `fenced` (a constant, as `vouch`): the byte at `end` is the line's line
     * feed, which ends every run of digits without a bound check. */
#define IN_LINE(q) (fenced || (q) < end)
    int int_digits = 0, exp_digits = 0, truncated = 0, integer = 1;
    long adjust = 0;  /* the power of ten the digits are off by */
    uint64_t mantissa = 0;
    long exponent = 0;

    n->start = p;
    n->negative = 0;
    if (IN_LINE(p) && *p == '-') {
        n->negative = 1;
        p++;
    }
    if (!IN_LINE(p))
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (IN_LINE(p) && is_digit(*p)) {
            if (mantissa < MANTISSA_ROOM) {
                mantissa = mantissa * 10 + (*p - '0');
            } else {
                adjust++;
                truncated |= *p != '0';
            }
            int_digits++;
            p++;
        }
        if (vouch && int_digits > MAX_INT_DIGITS)
            return NULL;
    } else {
        return NULL;
    }
    if (IN_LINE(p) && *p == '.') {
        integer = 0;
        p++;
        if (!IN_LINE(p) || !is_digit(*p))
            return NULL;
#if KERNEL_WIDTH > 0
        /* Sixteen at a time while the sixteenth still finds room (below). */
        uint64_t sixteen;
        while (end - p >= 16 && mantissa < 1000 && digits16(p, &sixteen)) {
            mantissa = mantissa * 10000000000000000ULL + sixteen;
            adjust -= 16;
            p += 16;
        }
#endif
#ifdef EIGHT_AT_A_TIME
        while (end - p >= 8 && mantissa < 100000000000ULL && eight_digits(p)) {
            mantissa = mantissa * 100000000 + eight_digits_value(p);
            adjust -= 8;
            p += 8;
        }
#endif
        while (IN_LINE(p) && is_digit(*p)) {
            if (mantissa < MANTISSA_ROOM) {
                mantissa = mantissa * 10 + (*p - '0');
                adjust--;
            } else {
                truncated |= *p != '0';
            }
            p++;
        }
    }
    if (IN_LINE(p) && (*p == 'e' || *p == 'E')) {
        int exp_negative = 0;
        integer = 0;
        p++;
        if (IN_LINE(p) && (*p == '+' || *p == '-')) {
            exp_negative = *p == '-';
            p++;
        }
        if (!IN_LINE(p) || !is_digit(*p))
            return NULL;
        while (IN_LINE(p) && is_digit(*p)) {
            /* A number this small is 0 or close to it, never infinite. */
            if (vouch && ++exp_digits > MAX_EXP_DIGITS && !exp_negative)
                return NULL;
            if (exponent < 100000)
                exponent = exponent * 10 + (*p - '0');
            p++;
        }
        if (exp_negative)
            exponent = -exponent;
    }
    n->end = p;
    n->digits = mantissa;
    n->exponent = (int)(exponent + adjust);
    n->truncated = truncated;
    n->integer = integer;
    return p;
#undef IN_LINE
}

static inline __attribute__((always_inline)) ptr K(read_number)(ptr p, ptr end, Number *n, int vouch)
{
    return K(read_number_in)(p, end, n, vouch, 0);
}

static ptr K(number_end)(ptr p, ptr end, Number *n)
{
    return K(read_number)(p, end, n, 1);
}

/* The same without the limits, for _parse (tests only). */
static ptr K(any_number_end)(ptr p, ptr end, Number *n)
{
    return K(read_number)(p, end, n, 0);
}

#if KERNEL_WIDTH > 0
/* The paths in `active` whose key at `level` is [key, key + len): the
 * distinct keys are compared, each once, those of at most 8 bytes in one
 * word without a call. */
static inline uint32_t K(paths_with_key)(const Scan *s, ptr key, Py_ssize_t len, int level, uint32_t active)
{
    uint64_t word = 0;
    int short_key = len <= 8 && s->stop - key >= 8;
    if (short_key)
        memcpy(&word, key, 8);
    for (int j = 0; j < s->nkeys[level]; j++) {
        const KeyAt *k = &s->keys[level][j];
        if (k->len != len || !(k->paths & active))
            continue;
        if (short_key ? ((word ^ k->word) & k->mask) == 0
                      : len == 0 || (k->key[0] == (char)key[0] && memcmp(k->key, key, len) == 0))
            return k->paths & active;  /* the keys are distinct: no other one matches */
    }
    return 0;
}
#endif

#if KERNEL_WIDTH > 0
/* skip_ws, quicker where there is no whitespace. */
static inline ptr K(skip_ws)(ptr p, ptr end)
{
    while (p < end && *p <= ' ' && ((1ULL << *p) & ((1ULL << ' ') | (1ULL << '\t') | (1ULL << '\r'))))
        p++;
    return p;
}
#define SKIP_WS K(skip_ws)
#else
#define SKIP_WS skip_ws
#endif

/* After a member or an element at p: past the comma and the space after it,
 * or past the closing bracket `close` (then p[-1] is it), or NULL. */
static ptr K(next_item)(ptr p, ptr end, unsigned char close)
{
    p = SKIP_WS(p, end);
    if (p < end && *p == ',')
        return SKIP_WS(p + 1, end);
    if (p < end && *p == close)
        return p + 1;
    return NULL;
}

static ptr K(value_end)(Scan *s, ptr p, int depth);
static ptr K(object_end)(Scan *s, ptr p, int depth, int level, uint32_t active);

/* Past the value at p of a key that matched paths: `leaves` end there,
 * `through` go on into it. */
static ptr K(path_value_end)(Scan *s, ptr p, int depth, int level, uint32_t leaves, uint32_t through)
{
    ptr end = s->end;
    if (p >= end)
        return NULL;
    if (leaves && (*p == '-' || is_digit(*p))) {
        /* Read straight into its place: a copy of a Number just written
         * stalls on the stores. */
        int first = __builtin_ctz(leaves);
        p = K(read_number)(p, end, &s->value[first], 1);
#if KERNEL_WIDTH > 0
        if (leaves & (leaves - 1))  /* more than one path ends here */
#endif
        for (int i = first + 1; i < s->npaths; i++)
            if (leaves & (1u << i))
                s->value[i] = s->value[first];
        if (through)
            s->unsure = 1;  /* a number where an object should be */
        return p;
    }
    if (through && *p == '{') {
        if (leaves)
            s->unsure = 1;  /* an object where a number should be */
        return depth >= MAX_DEPTH ? NULL : K(object_end)(s, p, depth + 1, level + 1, through);
    }
    s->unsure = 1;  /* not what the paths need: decide() says what is wrong */
    return K(value_end)(s, p, depth);
}

/* Past the object at p, or NULL. `active` holds the paths that lead into
 * it, whose keys at `level` are looked for here. */
static ptr K(object_end)(Scan *s, ptr p, int depth, int level, uint32_t active)
{
    ptr end = s->end;
    p = SKIP_WS(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= end || *p != '"')
            return NULL;
        int escaped = 0;
        ptr key = p + 1;
        p = K(string_end)(p, end, s->stop, &escaped);
        if (p == NULL)
            return NULL;
        Py_ssize_t key_len = p - 1 - key;
        if (depth == 1 && s->sum_key != NULL && key_len + 2 == s->sum_key_len &&
            memcmp(key - 1, s->sum_key, key_len + 2) == 0)
            s->unsure = 1;  /* the sum field is already there: decide() replaces it */
        p = SKIP_WS(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = SKIP_WS(p + 1, end);
        uint32_t leaves = 0, through = 0;
        if (active) {
            if (escaped) {
                s->unsure = 1;  /* it may spell a key of a path */
            } else {
#if KERNEL_WIDTH > 0
                uint32_t hit = K(paths_with_key)(s, key, key_len, level, active);
                if (hit) {
                    /* As the loop below does it, one path at a time. */
                    s->twice[level] |= s->once[level] & hit;
                    s->once[level] |= hit;
                    leaves = hit & s->leaf[level];
                    through = hit & ~s->leaf[level];
                }
#else
                for (int i = 0; i < s->npaths; i++) {
                    const char *want = s->key[i][level];
                    if ((active & (1u << i)) && s->key_len[i][level] == key_len &&
                        (key_len == 0 || (want[0] == (char)key[0] && memcmp(want, key, key_len) == 0))) {
                        s->twice[level] |= s->once[level] & (1u << i);
                        s->once[level] |= 1u << i;
                        if (level == s->path_len[i] - 1)
                            leaves |= 1u << i;
                        else
                            through |= 1u << i;
                    }
                }
#endif
            }
        }
        if (leaves | through)
            p = K(path_value_end)(s, p, depth, level, leaves, through);
        else
            p = K(value_end)(s, p, depth);
        if (p == NULL || (p = K(next_item)(p, end, '}')) == NULL || p[-1] == '}')
            return p;
    }
}

static ptr K(array_end)(Scan *s, ptr p, int depth)
{
    ptr end = s->end;
    p = SKIP_WS(p + 1, end);
    if (p < end && *p == ']')
        return p + 1;
    for (;;) {
        p = K(value_end)(s, p, depth);
        if (p == NULL || (p = K(next_item)(p, end, ']')) == NULL || p[-1] == ']')
            return p;
    }
}

/* Past the value at p, which sits inside `depth` containers, or NULL. */
static ptr K(value_end)(Scan *s, ptr p, int depth)
{
    ptr end = s->end;
    Number ignored;
    int escaped = 0;
    if (p >= end)
        return NULL;
    switch (*p) {
    case '{':
        return depth >= MAX_DEPTH ? NULL : K(object_end)(s, p, depth + 1, 0, 0);
    case '[':
        return depth >= MAX_DEPTH ? NULL : K(array_end)(s, p, depth + 1);
    case '"':
        return K(string_end)(p, end, s->stop, &escaped);
    case 't':
        return literal_end(p, end, "true", 4);
    case 'f':
        return literal_end(p, end, "false", 5);
    case 'n':
        return literal_end(p, end, "null", 4);
    default:
        return K(number_end)(p, end, &ignored);
    }
}

#if KERNEL_WIDTH > 0
/* Spaces, tabs and carriage returns from p, where the line's line feed ends them. */
static inline ptr K(fenced_ws)(ptr p)
{
    while (*p <= ' ' && (*p == ' ' || *p == '\t' || *p == '\r'))
        p++;
    return p;
}

/* paths_with_key(s, key, len, 0, every path), shorter for a key of at most
 * 8 bytes: every key of the first level has paths, all of them active. */
static inline uint32_t K(first_paths_with_key)(const Scan *s, ptr key, Py_ssize_t len, uint32_t every)
{
    if (len > 8 || s->stop - key < 8)
        return K(paths_with_key)(s, key, len, 0, every);
    uint64_t word;
    memcpy(&word, key, 8);
    for (const KeyAt *k = s->keys[0], *last = k + s->nkeys[0]; k < last; k++)
        if (((word ^ k->word) & k->mask) == 0 && k->len == len)
            return k->paths;
    return 0;
}

/* K(string_end) for a string at p of a fenced line, quicker where the
 * string is plain text whose closing quote is in the block after p. */
static inline ptr K(fenced_string_end)(const Scan *s, ptr p, int *escaped)
{
    if (s->stop - p > KERNEL_WIDTH) {
        uint64_t m = K(specials)(p + 1);
        if (m) {
            ptr q = p + 1 + __builtin_ctzll(m);
            if (*q == '"')  /* never the line feed, at s->end */
                return q + 1;
        }
    }
    return K(string_end)(p, s->end, s->stop, escaped);
}

/* object_end(s, p, 1, 0, active) for the common line: every path one key
 * long, and the line's line feed inside the chunk, where it ends every loop
 * over the line's bytes without a bound check. The same effects on s, the
 * same strings, numbers and nested values read by the same code; NULL
 * where object_end gives NULL (scan_line then reads the line again with it). */
static inline ptr K(flat_object_end)(Scan *s, ptr p, uint32_t active)
{
    ptr end = s->end;
    Number ignored;
    /* Kept here: the numbers written into s would have them read again. */
    Py_ssize_t sum_len = s->sum_key != NULL ? s->sum_key_len - 2 : -1;
    p = K(fenced_ws)(p + 1);
    if (*p == '}')
        return p + 1;
    for (;;) {
        if (*p != '"')
            return NULL;
        int escaped = 0;
        ptr key = p + 1;
        p = K(fenced_string_end)(s, p, &escaped);
        if (p == NULL)
            return NULL;
        Py_ssize_t key_len = p - 1 - key;
        if (key_len == sum_len && memcmp(key - 1, s->sum_key, key_len + 2) == 0)
            s->unsure = 1;  /* the sum field is already there: decide() replaces it */
        if (*p == ':') {
            p += 1 + (p[1] == ' ');  /* the usual space after it */
        } else {
            p = K(fenced_ws)(p);
            if (*p != ':')
                return NULL;
            p++;
        }
        p = K(fenced_ws)(p);
        uint32_t hit = 0;
        if (escaped)
            s->unsure = 1;  /* it may spell a key of a path */
        else
            hit = K(first_paths_with_key)(s, key, key_len, active);
        if (hit) {
            /* Every path ends here. */
            s->twice[0] |= s->once[0] & hit;
            s->once[0] |= hit;
        }
        if (hit && (*p == '-' || is_digit(*p))) {
            int first = __builtin_ctz(hit);
            p = K(read_number_in)(p, end, &s->value[first], 1, 1);
            if (hit & (hit - 1))
                for (int i = first + 1; i < s->npaths; i++)
                    if (hit & (1u << i))
                        s->value[i] = s->value[first];
        } else if (hit) {
            s->unsure = 1;  /* not a number: decide() says what is wrong */
            p = K(value_end)(s, p, 1);
        } else if (*p == '-' || is_digit(*p)) {
            p = K(read_number_in)(p, end, &ignored, 1, 1);
        } else {
            p = K(value_end)(s, p, 1);
        }
        if (p == NULL)
            return NULL;
        if (*p != ',') {
            p = K(fenced_ws)(p);
            if (*p == '}')
                return p + 1;
            if (*p != ',')
                return NULL;
        }
        p += 1 + (p[1] == ' ');  /* the usual space after it */
        p = K(fenced_ws)(p);
    }
}
#endif

/* Read the line at p, up to its line feed or `stop`, and set *end to where
 * it ends. LINE_SUM: *total is its exact sum, and the record is [*first,
 * *last) plus its closing brace. LINE_BELOW: a good record whose sum is
 * surely not above `threshold`. LINE_BAD: not vouched for; LINE_ERROR: a
 * Python exception is set. */
static int K(scan_line)(Scan *s, ptr p, ptr stop, double threshold, double *total, ptr *first, ptr *last,
                        ptr *line_end)
{
    ptr end = K(line_end)(p, stop);
    *line_end = end;
    p = SKIP_WS(p, end);
    if (p == end)
        return LINE_BLANK;  /* filter_record skips it */
    if (*p != '{')
        return LINE_BAD;
    *first = p;
    s->end = end;
    s->unsure = 0;
#if KERNEL_WIDTH > 0
    if (s->depth == 1)  /* without a call to memset */
        s->once[0] = s->twice[0] = 0;
    else
#endif
    for (int level = 0; level < s->depth; level++)
        s->once[level] = s->twice[level] = 0;
    uint32_t every = s->npaths >= 32 ? UINT32_MAX : (1u << s->npaths) - 1;
#if KERNEL_WIDTH > 0
    if (s->depth == 1 && end < stop) {
        ptr past = K(flat_object_end)(s, p, every);
        if (past != NULL) {
            if (K(fenced_ws)(past) != end)
                return LINE_BAD;
            /* line_verdict's test, for the one level */
            if (s->unsure | (s->once[0] ^ every) | s->twice[0])
                return LINE_UNSURE;
            return sum_verdict(s, past, threshold, total, last);
        }
        s->unsure = 0;  /* read again from the start */
        s->once[0] = s->twice[0] = 0;
    }
#endif
    p = K(object_end)(s, p, 1, 0, every);
    if (p == NULL || SKIP_WS(p, end) != end)
        return LINE_BAD;
    return line_verdict(s, p, threshold, total, last);
}

#undef SKIP_WS
#undef K
#undef K_NAME
#undef K_PASTE
