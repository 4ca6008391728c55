/* Redaction rules (README "Sharing a recording", docs/format.md
 * "Redaction"): POSIX extended regular expressions, case-insensitive,
 * searched anywhere in a name (not anchored).  A value whose key,
 * parameter name or attribute name matches one is written as
 * PEEKA_REDACTED.  One implementation for the three places that apply
 * them: the agent (before a value leaves the process), peeka-rec (which
 * refuses a bad rule before attaching) and peeka-analyze's redact script. */
#ifndef PEEKA_REDACT_H
#define PEEKA_REDACT_H

#include <regex.h>
#include <stddef.h>

#define PEEKA_REDACTED "[redacted]"
#define PEEKA_REDACT_DEFAULT "password|passwd|secret|token|api[_-]?key|authorization|cookie|session"
#define PEEKA_REDACT_MAX 32          /* rules in one set */
#define PEEKA_REDACT_RULE_MAX 512    /* bytes in one rule, NUL included */

typedef struct {
    int n;
    regex_t re[PEEKA_REDACT_MAX];
} peeka_redact;

void peeka_redact_init(peeka_redact *r);
/* Compiles one more rule; -1 with a message naming it (too many, too long,
 * empty, or what regcomp says is wrong). */
int peeka_redact_add(peeka_redact *r, const char *rule, char *err, size_t errlen);
void peeka_redact_free(peeka_redact *r);

/* 1 when a rule matches key[0..n); key[n] must be NUL.  An embedded NUL
 * splits the key into parts, each searched on its own. */
int peeka_redact_key(const peeka_redact *r, const char *key, size_t n);

/* Free text (an exception message): every `KEY=VALUE` or `KEY: VALUE`
 * (KEY optionally quoted) whose KEY matches gets VALUE replaced.  Returns
 * 0 when nothing matched (*out NULL), 1 with the new text in *out
 * (malloc'd, *outlen bytes, NUL-terminated), or -1 out of memory: then the
 * caller must not use the text at all. */
int peeka_redact_text(const peeka_redact *r, const char *s, size_t n, char **out, size_t *outlen);

/* A command-line word `--NAME` or `-NAME` (no '=') whose NAME a rule
 * matches: the next word is its value (`--password hunter2`).  `--NAME=V`
 * is free text for peeka_redact_text. */
int peeka_redact_option(const peeka_redact *r, const char *word);

#endif
