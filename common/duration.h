#ifndef PEEKA_DURATION_H
#define PEEKA_DURATION_H

/* "30", "30s", "1.5s", "500ms", "5m", "1h" -> seconds; -1 if malformed. */
double peeka_parse_duration(const char *s);
/* "4M", "512K", "1G", "65536" -> bytes; 0 if malformed. */
unsigned long long peeka_parse_size(const char *s);

#endif
