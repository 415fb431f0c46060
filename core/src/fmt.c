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
        10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull,
        10000000000000000ull,    1000000000000000ull,    100000000000000ull,
        10000000000000ull,       1000000000000ull,       100000000000ull,
        10000000000ull,          1000000000ull,          100000000ull,
        10000000ull,             1000000ull,             100000ull,
        10000ull,                1000ull,                100ull,
        10ull,                   1ull,
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

static const char *parse_spec(const char *f, struct spec *sp)
{
    sp->left = false;
    sp->pad = ' ';
    sp->width = 0;
    sp->precision = -1;
    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->pad = '0';
        else
            break;
    }
    while (*f >= '0' && *f <= '9')
        sp->width = sp->width * 10u + (unsigned)(*f++ - '0');
    if (*f == '.') {
        f++;
        sp->precision = 0;
        while (*f >= '0' && *f <= '9')
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

/* Fetch an integer argument of the given length: 0 int, 1 long, 2 long long, 3 size_t. */
static uint64_t fetch_unsigned(va_list *ap, int len)
{
    switch (len) {
    case 1:
        return va_arg(*ap, unsigned long);
    case 2:
        return va_arg(*ap, unsigned long long);
    case 3:
        return va_arg(*ap, size_t);
    default:
        return va_arg(*ap, unsigned int);
    }
}

static int64_t fetch_signed(va_list *ap, int len)
{
    switch (len) {
    case 1:
        return va_arg(*ap, long);
    case 2:
        return va_arg(*ap, long long);
    case 3:
        return (int64_t)va_arg(*ap, size_t);
    default:
        return va_arg(*ap, int);
    }
}

static const char *parse_length(const char *f, int *len)
{
    *len = 0;
    if (*f == 'z') {
        *len = 3;
        return f + 1;
    }
    while (*f == 'l' && *len < 2) {
        (*len)++;
        f++;
    }
    return f;
}

static void format_one(struct out *o, char conv, const struct spec *sp, int len, va_list *ap)
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
        int len;

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
