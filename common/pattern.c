#include "pattern.h"

#include <stdio.h>
#include <string.h>

int peeka_pattern_split(const char *src, char *buf, char **parts, char *err, size_t errlen)
{
    if (strlen(src) >= PEEKA_PATTERN_MAX) {
        snprintf(err, errlen, "pattern too long: %.60s...", src);
        return -1;
    }
    strcpy(buf, src);
    int n = 0;
    for (char *s = buf;; ) {
        char *dot = strchr(s, '.');
        if (dot)
            *dot = 0;
        if (!*s) {
            snprintf(err, errlen, "pattern '%s': part %d is empty (between two dots, or at an end)",
                     src, n + 1);
            return -1;
        }
        if (n == PEEKA_PATTERN_PARTS) {
            snprintf(err, errlen, "pattern '%s' has more than %d parts", src, PEEKA_PATTERN_PARTS);
            return -1;
        }
        parts[n++] = s;
        if (!dot)
            break;
        s = dot + 1;
    }
    if (n < 2) {
        snprintf(err, errlen, "pattern '%s' must be module.function or module.Class.method", src);
        return -1;
    }
    return n;
}
