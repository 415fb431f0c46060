/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <stdint.h>

#include <keel/fmt.h>

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1u < o->size)
        o->buf[o->len] = c;
    o->len++;
}

struct spec {
    bool left;
    char pad;
    unsigned width;
    int precision; /* -1: none */
};

static void put_padded(struct out *o, const char *s, size_t n, const struct spec *sp)
{
    size_t fill = sp->width > n ? sp->width - n : 0u;
    size_t i;

    if (!sp->left)
        for (i = 0; i < fill; i++)
            put(o, sp->pad);
    for (i = 0; i < n; i++)
        put(o, s[i]);
    if (sp->left)
        for (i = 0; i < fill; i++)
            put(o, ' ');
}

/* Decimal by subtracting powers of ten: no 64-bit division, so 32-bit targets need no libgcc. */
static size_t u64_to_dec(uint64_t v, char *tmp)
{
    static const uint64_t pow10[] = {
        10000000000000000000ull,
        1000000000000000000ull,
        100000000000000000ull,
        10000000000000000ull,
        1000000000000000ull,
        100000000000000ull,
        10000000000000ull,
        1000000000000ull,
        100000000000ull,
        10000000000ull,
        1000000000ull,
        100000000ull,
        10000000ull,
        1000000ull,
        100000ull,
        10000ull,
        1000ull,
        100ull,
        10ull,
        1ull,
    };
    size_t n = 0, i;
    bool started = false;

    for (i = 0; i < sizeof(pow10) / sizeof(pow10[0]); i++) {
        char d = '0';
        while (v >= pow10[i]) {
            v -= pow10[i];
            d++;
        }
        if (d != '0' || started || i + 1u == sizeof(pow10) / sizeof(pow10[0])) {
            tmp[n++] = d;
            started = true;
        }
    }
    return n;
}

static size_t u64_to_hex(uint64_t v, char *tmp, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t n = 0;
    int shift;
    bool started = false;

    for (shift = 60; shift >= 0; shift -= 4) {
        unsigned d = (unsigned)(v >> (unsigned)shift) & 0xfu;
        if (d != 0u || started || shift == 0) {
            tmp[n++] = digits[d];
            started = true;
        }
    }
    return n;
}

static void put_number(struct out *o, uint64_t v, bool neg, char conv, const struct spec *sp)
{
    char tmp[24];
    size_t n;
    struct spec s = *sp;

    if (conv == 'x' || conv == 'X' || conv == 'p')
        n = u64_to_hex(v, tmp + 1, conv == 'X');
    else
        n = u64_to_dec(v, tmp + 1);
    if (neg) {
        if (s.pad == '0') {
            put(o, '-');
            if (s.width > 0u)
                s.width--;
            put_padded(o, tmp + 1, n, &s);
            return;
        }
        tmp[0] = '-';
        put_padded(o, tmp, n + 1u, &s);
        return;
    }
    put_padded(o, tmp + 1, n, &s);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *parse_spec(const char *f, struct spec *sp)
{
    sp->left = false;
    sp->pad = ' ';
    sp->width = 0;
    sp->precision = -1;
    for (; *f == '-' || *f == '0'; f++) {
        if (*f == '-')
            sp->left = true;
        else
            sp->pad = '0';
    }
    while (is_digit(*f))
        sp->width = sp->width * 10u + (unsigned)(*f++ - '0');
    if (*f == '.') {
        f++;
        sp->precision = 0;
        while (is_digit(*f))
            sp->precision = sp->precision * 10 + (*f++ - '0');
    }
    return f;
}

static void put_string(struct out *o, const char *s, const struct spec *sp)
{
    size_t n = 0;

    if (s == NULL)
        s = "(null)";
    while (s[n] != '\0' && (sp->precision < 0 || n < (size_t)sp->precision))
        n++;
    put_padded(o, s, n, sp);
}

/*
 * Length modifiers. Every one the compiler's printf checking accepts for d/i/u/x must be consumed
 * here with its real type: skipping one would leave the va_list out of step, and a later %s would
 * then dereference an integer.
 */
enum len_mod { LEN_INT, LEN_LONG, LEN_LLONG, LEN_SIZE, LEN_SHORT, LEN_CHAR, LEN_MAX, LEN_PTRDIFF };

static uint64_t fetch_unsigned(va_list *ap, enum len_mod len)
{
    switch (len) {
    case LEN_LONG:
        return va_arg(*ap, unsigned long);
    case LEN_LLONG:
        return va_arg(*ap, unsigned long long);
    case LEN_SIZE:
        return va_arg(*ap, size_t);
    case LEN_SHORT:
        return (unsigned short)va_arg(*ap, int); /* passed promoted to int */
    case LEN_CHAR:
        return (unsigned char)va_arg(*ap, int);
    case LEN_MAX:
        return va_arg(*ap, uintmax_t);
    case LEN_PTRDIFF:
        return (size_t)va_arg(*ap, ptrdiff_t); /* same width as ptrdiff_t on every target */
    default:
        return va_arg(*ap, unsigned int);
    }
}

static int64_t fetch_signed(va_list *ap, enum len_mod len)
{
    switch (len) {
    case LEN_LONG:
        return va_arg(*ap, long);
    case LEN_LLONG:
        return va_arg(*ap, long long);
    case LEN_SIZE:
        return (ptrdiff_t)va_arg(*ap, size_t); /* %zd: sign-extend from size_t's width */
    case LEN_SHORT:
        return (short)va_arg(*ap, int);
    case LEN_CHAR:
        return (signed char)va_arg(*ap, int);
    /* intmax_t and ptrdiff_t are the same type on LP64 hosts only: the branches are not clones. */
    case LEN_MAX: /* NOLINT(bugprone-branch-clone) */
        return va_arg(*ap, intmax_t);
    case LEN_PTRDIFF:
        return va_arg(*ap, ptrdiff_t);
    default:
        return va_arg(*ap, int);
    }
}

static const char *parse_length(const char *f, enum len_mod *len)
{
    *len = LEN_INT;
    switch (*f) {
    case 'z':
        *len = LEN_SIZE;
        return f + 1;
    case 'j':
        *len = LEN_MAX;
        return f + 1;
    case 't':
        *len = LEN_PTRDIFF;
        return f + 1;
    case 'h':
        if (f[1] == 'h') {
            *len = LEN_CHAR;
            return f + 2;
        }
        *len = LEN_SHORT;
        return f + 1;
    case 'l':
        if (f[1] == 'l') {
            *len = LEN_LLONG;
            return f + 2;
        }
        *len = LEN_LONG;
        return f + 1;
    default:
        return f;
    }
}

static void format_one(struct out *o, char conv, const struct spec *sp, enum len_mod len,
                       va_list *ap)
{
    char c;

    switch (conv) {
    case 'c':
        c = (char)va_arg(*ap, int);
        put_padded(o, &c, 1, sp);
        break;
    case 's':
        put_string(o, va_arg(*ap, const char *), sp);
        break;
    case 'd':
    case 'i': {
        int64_t v = fetch_signed(ap, len);
        uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        put_number(o, mag, v < 0, 'd', sp);
        break;
    }
    case 'u':
    case 'x':
    case 'X':
        put_number(o, fetch_unsigned(ap, len), false, conv, sp);
        break;
    case 'p':
        put(o, '0');
        put(o, 'x');
        put_number(o, (uint64_t)(uintptr_t)va_arg(*ap, void *), false, 'p', sp);
        break;
    case '%':
        put(o, '%');
        break;
    default:
        put(o, '%');
        put(o, conv);
        break;
    }
}

int keel_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    va_list args;

    va_copy(args, ap);
    while (*fmt != '\0') {
        struct spec sp;
        enum len_mod len;

        if (*fmt != '%') {
            put(&o, *fmt++);
            continue;
        }
        fmt = parse_spec(fmt + 1, &sp);
        fmt = parse_length(fmt, &len);
        if (*fmt == '\0')
            break;
        format_one(&o, *fmt++, &sp, len, &args);
    }
    va_end(args);
    if (size > 0u)
        buf[o.len < size ? o.len : size - 1u] = '\0';
    return (int)o.len;
}

int keel_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = keel_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
