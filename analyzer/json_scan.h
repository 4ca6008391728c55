/* A fast, allocation-free JSON scanner for record lines: indexes the
 * top-level fields of an object (name span, value span, value type) and
 * skips nested values without building them.  Values are decoded on
 * demand (json_value.c for Lua).  Nesting is bounded, never recursive. */
#ifndef PA_JSON_SCAN_H
#define PA_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define PA_MAX_FIELDS     256   /* top-level fields per record */
#define PA_JSON_MAX_DEPTH 512   /* peeka writes depth <= ~30 */

enum pa_jtype { PA_J_STR = 1, PA_J_NUM, PA_J_TRUE, PA_J_FALSE, PA_J_NULL, PA_J_OBJ, PA_J_ARR };
enum { PA_JF_KESC = 1, PA_JF_VESC = 2, PA_JF_INT = 4 };

typedef struct {
    uint32_t koff, voff, vlen;  /* strings: the span inside the quotes */
    uint16_t klen;
    uint8_t type, flags;
} pa_field;

typedef struct {
    const char *msg;            /* static text */
    size_t off;                 /* byte offset in the line */
} pa_jerr;

/* Indexes the object in s[0..n).  Returns the number of fields, or -1
 * with e set when the line is not a JSON object. */
int pa_scan_object(const char *s, size_t n, pa_field *f, int maxf, pa_jerr *e);

/* Skips one JSON value starting at s[i] (after whitespace); returns the
 * index just past it, or -1.  Sets *type and string escape/int flags. */
long pa_skip_value(const char *s, size_t n, size_t i, uint8_t *type, uint8_t *flags, pa_jerr *e);

/* i is just past an opening quote: index of the closing quote, or -1.
 * *esc is set when the string holds escapes. */
long pa_scan_string(const char *s, size_t n, size_t i, uint8_t *esc, pa_jerr *e);
/* A JSON number at s[i]: index past it, or -1; PA_JF_INT in *flags. */
long pa_scan_number(const char *s, size_t n, size_t i, uint8_t *flags, pa_jerr *e);
long pa_jfail(pa_jerr *e, const char *msg, size_t off);

/* Decodes the escapes of a JSON string body into out (at least n bytes);
 * returns the decoded length or -1 for a bad escape. */
long pa_json_unescape(const char *s, size_t n, char *out);

/* Integer syntax that fits int64: 1 and *v.  Otherwise 0. */
int pa_json_int(const char *s, size_t n, int64_t *v);
double pa_json_double(const char *s, size_t n);

/* Field lookup by name (the last duplicate wins). */
int pa_field_find(const char *line, const pa_field *f, int nf, const char *name, size_t len);

#endif
