/* A small, strict JSON parser and printer (json.h). Recursive descent whose recursion is
 * bounded by JSON_MAX_DEPTH; every allocation is bounded by the input's size. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/json.h"
#include "vmm/utf8.h"

typedef struct {
    const char *p, *end;
    char *err;
    size_t err_size;
    int error;            /* the first error, negative errno */
} JsonParser;

static int parse_fail(JsonParser *ps, int e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int parse_fail(JsonParser *ps, int e, const char *fmt, ...)
{
    if (!ps->error) {
        ps->error = e;
        if (ps->err && ps->err_size) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err, ps->err_size, fmt, ap);
            va_end(ap);
        }
    }
    return e;
}

static void skip_ws(JsonParser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

void json_free(JsonValue *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->count; i++) {
        json_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    free(v);
}

static JsonValue *new_value(JsonParser *ps, JsonType t)
{
    JsonValue *v = calloc(1, sizeof(*v));
    if (!v)
        parse_fail(ps, -ENOMEM, "out of memory");
    else
        v->type = t;
    return v;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), 0 when it is not one. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; min = 0x10000; }
    else return 0;
    if ((size_t)(end - p) < n)
        return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A string at ps->p (the opening quote); the decoded text is never longer than the
 * escaped one, so one allocation of the raw length suffices. */
static char *parse_string(JsonParser *ps)
{
    const char *start = ++ps->p;
    const char *q = start;
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && q + 1 < ps->end)
            q++;
        q++;
    }
    if (q >= ps->end) {
        parse_fail(ps, -EINVAL, "unterminated string");
        return NULL;
    }
    char *s = malloc((size_t)(q - start) + 1), *o = s;
    if (!s) {
        parse_fail(ps, -ENOMEM, "out of memory");
        return NULL;
    }
    while (ps->p < q) {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            parse_fail(ps, -EINVAL, "control character in a string");
            goto bad;
        }
        if (c >= 0x80) {
            size_t n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)q);
            if (!n) {
                parse_fail(ps, -EINVAL, "invalid UTF-8 in a string");
                goto bad;
            }
            memcpy(o, ps->p, n);
            o += n;
            ps->p += n;
            continue;
        }
        if (c != '\\') {
            *o++ = (char)c;
            ps->p++;
            continue;
        }
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (q - ps->p < 4 || hex4(ps->p, &cp) < 0) {
                parse_fail(ps, -EINVAL, "bad \\u escape");
                goto bad;
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {   /* a high surrogate: its pair follows */
                if (q - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    parse_fail(ps, -EINVAL, "lone surrogate in \\u escape");
                    goto bad;
                }
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                parse_fail(ps, -EINVAL, "lone surrogate in \\u escape");
                goto bad;
            } else if (cp == 0) {
                parse_fail(ps, -EINVAL, "\\u0000 is not allowed");
                goto bad;
            }
            o += utf8_put(o, cp);   /* at most 4 bytes for the 6 or 12 read */
            break;
        }
        default:
            parse_fail(ps, -EINVAL, "bad escape in a string");
            goto bad;
        }
    }
    *o = '\0';
    ps->p = q + 1;
    return s;
bad:
    free(s);
    return NULL;
}

static JsonValue *parse_value(JsonParser *ps, int depth);

static int grow(JsonParser *ps, JsonValue *v, size_t *cap, bool keys)
{
    if (v->count < *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 4;
    JsonValue **items = realloc(v->items, n * sizeof(*items));
    if (items)
        v->items = items;
    char **k = NULL;
    if (items && keys && (k = realloc(v->keys, n * sizeof(*k))) != NULL)
        v->keys = k;
    if (!items || (keys && !k))
        return parse_fail(ps, -ENOMEM, "out of memory");
    *cap = n;
    return 0;
}

static JsonValue *parse_container(JsonParser *ps, int depth, bool object)
{
    if (depth >= JSON_MAX_DEPTH) {
        parse_fail(ps, -E2BIG, "nesting deeper than %d", JSON_MAX_DEPTH);
        return NULL;
    }
    char close = object ? '}' : ']';
    JsonValue *v = new_value(ps, object ? JSON_OBJECT : JSON_ARRAY);
    if (!v)
        return NULL;
    size_t cap = 0;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                parse_fail(ps, -EINVAL, "expecting a string key");
                goto bad;
            }
            if (!(key = parse_string(ps)))
                goto bad;
            if (v->count >= JSON_MAX_MEMBERS) {   /* the duplicate check is quadratic */
                parse_fail(ps, -E2BIG, "more than %d members in an object", JSON_MAX_MEMBERS);
                free(key);
                goto bad;
            }
            for (size_t i = 0; i < v->count; i++) {
                if (!strcmp(v->keys[i], key)) {
                    parse_fail(ps, -EINVAL, "duplicate key '%.64s'", key);
                    free(key);
                    goto bad;
                }
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                parse_fail(ps, -EINVAL, "expecting ':'");
                free(key);
                goto bad;
            }
            ps->p++;
        }
        JsonValue *item = parse_value(ps, depth + 1);
        if (!item || grow(ps, v, &cap, object) < 0) {
            json_free(item);
            free(key);
            goto bad;
        }
        if (object)
            v->keys[v->count] = key;
        v->items[v->count++] = item;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return v;
        }
        parse_fail(ps, -EINVAL, "expecting ',' or '%c'", close);
        goto bad;
    }
bad:
    json_free(v);
    return NULL;
}

/* RFC 8259's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static JsonValue *parse_number(JsonParser *ps)
{
    const char *s = ps->p, *p = s;
    bool integral = true;
    if (p < ps->end && *p == '-')
        p++;
    if (p < ps->end && *p == '0') {
        p++;
    } else if (p < ps->end && *p >= '1' && *p <= '9') {
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    } else {
        parse_fail(ps, -EINVAL, "expecting value");
        return NULL;
    }
    if (p < ps->end && *p == '.') {
        integral = false;
        if (++p >= ps->end || *p < '0' || *p > '9') {
            parse_fail(ps, -EINVAL, "bad number");
            return NULL;
        }
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || *p < '0' || *p > '9') {
            parse_fail(ps, -EINVAL, "bad number");
            return NULL;
        }
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    char buf[64];
    size_t n = (size_t)(p - s);
    if (n >= sizeof(buf)) {
        parse_fail(ps, -EINVAL, "number too long");
        return NULL;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    JsonValue *v = new_value(ps, JSON_NUMBER);
    if (!v)
        return NULL;
    v->number = strtod(buf, NULL);
    if (integral) {
        errno = 0;
        long long i = strtoll(buf, NULL, 10);
        if (errno == 0) {
            v->is_int = true;
            v->integer = i;
        }
    }
    ps->p = p;
    return v;
}

static bool word(JsonParser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
        return false;
    ps->p += n;
    return true;
}

static JsonValue *parse_value(JsonParser *ps, int depth)
{
    skip_ws(ps);
    if (ps->p >= ps->end) {
        parse_fail(ps, -EINVAL, "expecting value");
        return NULL;
    }
    JsonValue *v;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, true);
    case '[':
        return parse_container(ps, depth, false);
    case '"': {
        char *s = parse_string(ps);
        if (!s)
            return NULL;
        if (!(v = new_value(ps, JSON_STRING))) {
            free(s);
            return NULL;
        }
        v->string = s;
        return v;
    }
    case 't':
    case 'f':
        if (word(ps, "true") || word(ps, "false")) {
            if ((v = new_value(ps, JSON_BOOL)))
                v->boolean = ps->p[-1] == 'e' && ps->p[-2] == 'u';
            return v;
        }
        break;
    case 'n':
        if (word(ps, "null"))
            return new_value(ps, JSON_NULL);
        break;
    default:
        return parse_number(ps);
    }
    parse_fail(ps, -EINVAL, "expecting value");
    return NULL;
}

int json_parse(const char *text, size_t len, JsonValue **out, char *err, size_t err_size)
{
    JsonParser ps = {.p = text, .end = text + len, .err = err, .err_size = err_size};
    *out = NULL;
    if (err && err_size)
        err[0] = '\0';
    if (len > JSON_MAX_INPUT)
        return parse_fail(&ps, -E2BIG, "input longer than %d bytes", JSON_MAX_INPUT);
    JsonValue *v = parse_value(&ps, 0);
    if (!v)
        return ps.error ? ps.error : -EINVAL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        json_free(v);
        return parse_fail(&ps, -EINVAL, "unexpected data after the value");
    }
    *out = v;
    return 0;
}

const JsonValue *json_get(const JsonValue *v, const char *key)
{
    if (!v || v->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < v->count; i++)
        if (!strcmp(v->keys[i], key))
            return v->items[i];
    return NULL;
}

const char *json_type_name(JsonType t)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

void json_print_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        case '\b': fputs("\\b", out); break;
        case '\f': fputs("\\f", out); break;
        default:
            if (*p < 0x20 || *p == 0x7F) {
                fprintf(out, "\\u%04x", *p);
            } else if (*p >= 0x80) {
                /* Valid UTF-8 passes; any other byte (a guest's text) is its Latin-1
                 * character, so the output is always valid JSON. */
                size_t n = utf8_len(p, p + strnlen((const char *)p, 4));
                if (n) {
                    fwrite(p, 1, n, out);
                    p += n - 1;
                } else {
                    fprintf(out, "\\u%04x", *p);
                }
            } else {
                fputc(*p, out);
            }
        }
    }
    fputc('"', out);
}

void json_print(FILE *out, const JsonValue *v)
{
    if (!v) {
        fputs("null", out);
        return;
    }
    switch (v->type) {
    case JSON_NULL: fputs("null", out); break;
    case JSON_BOOL: fputs(v->boolean ? "true" : "false", out); break;
    case JSON_NUMBER:
        if (v->is_int)
            fprintf(out, "%lld", (long long)v->integer);
        else if (isfinite(v->number))
            fprintf(out, "%.17g", v->number);
        else
            fputs("null", out);   /* 1e999: JSON has no infinity */
        break;
    case JSON_STRING: json_print_string(out, v->string); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        fputc(v->type == JSON_ARRAY ? '[' : '{', out);
        for (size_t i = 0; i < v->count; i++) {
            if (i)
                fputs(", ", out);
            if (v->type == JSON_OBJECT) {
                json_print_string(out, v->keys[i]);
                fputs(": ", out);
            }
            json_print(out, v->items[i]);
        }
        fputc(v->type == JSON_ARRAY ? ']' : '}', out);
        break;
    }
}
