/* A small, strict JSON (RFC 8259) parser and printer for QMP (src/vmm/qmp.c).
 *
 * The input is hostile (any client of a QMP socket): the parser is bounded in nesting
 * depth and input size, rejects what RFC 8259 rejects (trailing commas, leading zeros,
 * bare control characters, invalid UTF-8, lone surrogates) and, as QEMU does, duplicate
 * object keys and \u0000 (the values are C strings). It never recurses deeper than
 * JSON_MAX_DEPTH. */
#ifndef SCRATCHVM_VMM_JSON_H
#define SCRATCHVM_VMM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32
#define JSON_MAX_INPUT (64 * 1024)
#define JSON_MAX_MEMBERS 256    /* per object: QMP's have a handful */

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
    JsonType type;
    bool boolean;
    double number;
    bool is_int;          /* a number written without fraction or exponent that fits */
    int64_t integer;
    char *string;         /* JSON_STRING: UTF-8, NUL-terminated (no NUL inside) */
    size_t count;         /* array items or object members */
    struct JsonValue **items;
    char **keys;          /* JSON_OBJECT: keys[i] names items[i] */
} JsonValue;

/* Parses exactly one JSON value (surrounding whitespace allowed) from text[0..len).
 * 0 and *out (free with json_free), or -EINVAL with a one-line reason in err, -E2BIG
 * when len exceeds JSON_MAX_INPUT or the nesting JSON_MAX_DEPTH, -ENOMEM. */
int json_parse(const char *text, size_t len, JsonValue **out, char *err, size_t err_size);
void json_free(JsonValue *v);

/* The member `key` of an object, NULL when absent or v is no object. */
const JsonValue *json_get(const JsonValue *v, const char *key);
const char *json_type_name(JsonType t);

/* Prints s as a JSON string (quoted, escaped; bytes >= 0x80 pass as UTF-8, control
 * characters as \uXXXX). */
void json_print_string(FILE *out, const char *s);
/* Prints a value compactly, in QEMU's style ("key": value, items separated by ", "). */
void json_print(FILE *out, const JsonValue *v);

#endif
