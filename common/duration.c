#include "duration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int peeka_duration_ns(const char *s, double bare_unit_ns, int64_t *ns)
{
    static const struct { const char *unit; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"ms", 1e6}, {"s", 1e9},
        {"m", 60e9}, {"min", 60e9}, {"h", 3600e9}};
    char *end;
    while (*s == ' ')
        s++;
    if (!*s)
        return -1;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    double unit = *end ? 0 : bare_unit_ns;
    for (size_t i = 0; !unit && i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0)
            unit = units[i].ns;
    if (!unit || v * unit > 9.2e18)
        return -1;
    *ns = (int64_t)llround(v * unit);
    return 0;
}

double peeka_parse_duration(const char *s)
{
    int64_t ns;
    return peeka_duration_ns(s, PEEKA_BARE_SECONDS, &ns) < 0 ? -1 : (double)ns / 1e9;
}

unsigned long long peeka_parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v <= 0)
        return 0;
    double mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1024, end++;
    else if (*end == 'm' || *end == 'M') mult = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G') mult = 1024.0 * 1024 * 1024, end++;
    if (*end == 'i') end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end)
        return 0;
    return (unsigned long long)(v * mult);
}
