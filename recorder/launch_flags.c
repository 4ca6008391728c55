#include "launch_flags.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Linux reads this much of a script to find its #! line (BINPRM_BUF_SIZE). */
#define SHEBANG_MAX 256
#define SHEBANG_WORDS 16

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int is_python(const char *path)
{
    return strncmp(base_name(path), "python", 6) == 0;
}

static int found(char c, char *flag, size_t flaglen)
{
    snprintf(flag, flaglen, "-%c", c);
    return 1;
}

/* CPython's own option parser (Python/getopt.c, 3.8 - 3.15): clusters of
 * one-letter options until the first argument that is not one; -c and -m
 * end the options, -W and -X take a value, as does one long option. */
static int scan_options(char *const args[], int n, char *flag, size_t flaglen)
{
    for (int i = 0; i < n; i++) {
        const char *a = args[i];
        if (a[0] != '-' || a[1] == '\0' || !strcmp(a, "--"))
            return 0;
        if (a[1] == '-') {
            if (!strcmp(a, "--check-hash-based-pycs"))
                i++;
            continue;
        }
        for (const char *c = a + 1; *c; c++) {
            if (*c == 'I' || *c == 'S' || *c == 'E')
                return found(*c, flag, flaglen);
            if (*c == 'c' || *c == 'm')
                return 0;
            if (*c == 'W' || *c == 'X') {
                if (c[1] == '\0')
                    i++;   /* the value is the next argument */
                break;
            }
        }
    }
    return 0;
}

int launch_flags_skip_site(char *const argv[], char *flag, size_t flaglen)
{
    if (!argv[0] || !is_python(argv[0]))
        return 0;
    int n = 0;
    while (argv[n + 1])
        n++;
    return scan_options(argv + 1, n, flag, flaglen);
}

/* Splits s in place on blanks; the number of words (at most max). */
static int split_words(char *s, char *words[], int max)
{
    int n = 0;
    for (char *save = NULL, *w = strtok_r(s, " \t", &save); w && n < max;
         w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    return n;
}

int launch_shebang_skips_site(const char *line, char *flag, size_t flaglen)
{
    char buf[SHEBANG_MAX + 1];
    if (strncmp(line, "#!", 2) != 0)
        return 0;
    snprintf(buf, sizeof buf, "%s", line + 2);
    buf[strcspn(buf, "\r\n")] = '\0';
    char *words[SHEBANG_WORDS];
    int n = split_words(buf, words, SHEBANG_WORDS), i = 1;
    if (n == 0)
        return 0;
    if (!strcmp(base_name(words[0]), "env")) {
        /* Linux passes the rest as one argument: only `env -S` splits it */
        if (n > 2 && strncmp(words[1], "-S", 2) != 0)
            return 0;
        for (; i < n && (words[i][0] == '-' || strchr(words[i], '=')); i++)
            ;
        if (i == n)
            return 0;
        i++;
    }
    if (!is_python(words[i - 1]))
        return 0;
    return scan_options(words + i, n - i, flag, flaglen);
}

/* What execvp would run for `name`: a path, or the first executable of
 * that name on PATH.  0 and the path, or -1. */
static int which(const char *name, char *out, size_t outlen)
{
    if (strchr(name, '/')) {
        snprintf(out, outlen, "%s", name);
        return 0;
    }
    const char *path = getenv("PATH");
    char def[256];
    if (!path) {
        size_t k = confstr(_CS_PATH, def, sizeof def);
        path = k > 0 && k <= sizeof def ? def : "/bin:/usr/bin";
    }
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int k = snprintf(out, outlen, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", name);
        if (k > 0 && (size_t)k < outlen && access(out, X_OK) == 0)
            return 0;
        if (!*end)
            return -1;
        p = end;
    }
}

int launch_skips_site(char *const argv[], char *flag, size_t flaglen)
{
    if (!argv[0])
        return 0;
    if (is_python(argv[0]))
        return launch_flags_skip_site(argv, flag, flaglen);
    char path[PATH_MAX], line[SHEBANG_MAX + 1];
    if (which(argv[0], path, sizeof path) < 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;   /* exec will say why it cannot run it */
    ssize_t k;
    while ((k = read(fd, line, SHEBANG_MAX)) < 0 && errno == EINTR)
        ;
    close(fd);
    if (k <= 0)
        return 0;
    line[k] = '\0';
    return launch_shebang_skips_site(line, flag, flaglen);
}
