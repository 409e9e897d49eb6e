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
        p = number_end(p, end, &s->value[first]);
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
    p = skip_ws(p + 1, end);
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
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return NULL;
        p = skip_ws(p + 1, end);
        uint32_t leaves = 0, through = 0;
        if (active) {
            if (escaped) {
                s->unsure = 1;  /* it may spell a key of a path */
            } else {
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
            }
        }
        if (leaves | through)
            p = K(path_value_end)(s, p, depth, level, leaves, through);
        else
            p = K(value_end)(s, p, depth);
        if (p == NULL || (p = next_item(p, end, '}')) == NULL || p[-1] == '}')
            return p;
    }
}

static ptr K(array_end)(Scan *s, ptr p, int depth)
{
    ptr end = s->end;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']')
        return p + 1;
    for (;;) {
        p = K(value_end)(s, p, depth);
        if (p == NULL || (p = next_item(p, end, ']')) == NULL || p[-1] == ']')
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
        return number_end(p, end, &ignored);
    }
}

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
    p = skip_ws(p, end);
    if (p == end)
        return LINE_BLANK;  /* filter_record skips it */
    if (*p != '{')
        return LINE_BAD;
    *first = p;
    s->end = end;
    s->unsure = 0;
    for (int level = 0; level < s->depth; level++)
        s->once[level] = s->twice[level] = 0;
    p = K(object_end)(s, p, 1, 0, s->npaths >= 32 ? UINT32_MAX : (1u << s->npaths) - 1);
    if (p == NULL || skip_ws(p, end) != end)
        return LINE_BAD;
    return line_verdict(s, p, threshold, total, last);
}

#undef K
#undef K_NAME
#undef K_PASTE
