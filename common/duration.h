#ifndef PEEKA_DURATION_H
#define PEEKA_DURATION_H

#include <stdint.h>

/* What a bare number means: peeka-rec's -d is in seconds (like timeout(1)),
 * peeka-analyze's costs in milliseconds (like Peeka's `cost`). */
#define PEEKA_BARE_SECONDS 1e9
#define PEEKA_BARE_MS      1e6

/* "30", "30s", "1.5s", "250us", "500ms", "5m", "1h" -> ns; -1 if malformed. */
int peeka_duration_ns(const char *s, double bare_unit_ns, int64_t *ns);
/* The same in seconds, a bare number being seconds; -1 if malformed. */
double peeka_parse_duration(const char *s);
/* "4M", "512K", "1G", "65536" -> bytes; 0 if malformed. */
unsigned long long peeka_parse_size(const char *s);

#endif
