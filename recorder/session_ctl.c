#include "session_ctl.h"
#include "exitcodes.h"
#include "recording.h"
#include "session_dir.h"
#include "session_proto.h"

#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MS 30000   /* a holder writing a large --ring archive answers late */

enum { NO_SESSION = -2, REFUSED = -3 };

typedef struct {
    int fd;
    char buf[SP_LINE_MAX + 1];
    size_t len;
} line_conn;

/* Connects to KEY's holder: the fd, NO_SESSION, REFUSED (the directory is
 * not private) or -1, with a message in err. */
static int open_session(const char *key, char *err, size_t errlen)
{
    sdir_paths p;
    int rc = sdir_open(&p, key, 0, err, errlen);
    if (rc != 0)
        return rc == 1 ? NO_SESSION : rc == -2 ? REFUSED : -1;
    if ((rc = sdir_alive(&p, err, errlen)) <= 0)
        return rc == 0 ? NO_SESSION : -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(p.sock) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "session socket path too long: %s", p.sock);
        return -1;
    }
    memcpy(sa.sun_path, p.sock, strlen(p.sock) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return NO_SESSION;   /* its holder is ending, or still starting */
        snprintf(err, errlen, "cannot reach session '%s' at %s: %s", key, p.sock, strerror(e));
        return -1;
    }
    return fd;
}

static int send_line(int fd, const char *word)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%s\n", word);
    return send(fd, line, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* The next line from the holder, without its '\n': 1, 0 at EOF, -1 on an
 * error, -2 when timeout_ms passed (or a signal came) first. */
static int next_line(line_conn *c, int timeout_ms, char **line)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            *nl = 0;
            *line = c->buf;
            return 1;
        }
        if (c->len == SP_LINE_MAX)
            return -1;
        struct pollfd p = {c->fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r <= 0)
            return r < 0 && errno != EINTR ? -1 : -2;
        ssize_t n = recv(c->fd, c->buf + c->len, SP_LINE_MAX - c->len, 0);
        if (n <= 0)
            return n == 0 ? 0 : errno == EINTR ? -2 : -1;
        c->len += (size_t)n;
    }
}

/* Drops the line next_line returned. */
static void consume(line_conn *c)
{
    char *nl = memchr(c->buf, 0, c->len);
    size_t used = (size_t)(nl - c->buf) + 1;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
}

/* What follows WORD in a line "WORD ...", "" after a bare "WORD", NULL
 * when the line is another word's. */
static const char *after(const char *line, const char *word)
{
    size_t n = strlen(word);
    if (strncmp(line, word, n) || (line[n] != ' ' && line[n] != 0))
        return NULL;
    return line[n] ? line + n + 1 : line + n;
}

/* "end CODE MESSAGE": the session's exit code, its message said. */
static int ended(const char *what, int quiet)
{
    char *rest;
    long code = strtol(what, &rest, 10);
    if (rest == what)
        return EX_INTERNAL;
    if (*rest == ' ')
        rest++;
    if (*rest && (code != 0 || (!quiet && isatty(2))))
        fprintf(stderr, "peeka-rec: %s\n", rest);
    return code >= 0 && code < 256 ? (int)code : EX_INTERNAL;
}

/* --attach=KEY (stop: --stop): as if this client had started the session. */
static int attach(const rec_options *o, int stop)
{
    char err[600] = "";
    int fd = open_session(o->session_key, err, sizeof err);
    if (fd < 0) {
        if (fd == NO_SESSION)
            fprintf(stderr, "peeka-rec: no detached session '%s' (peeka-rec --list-sessions)\n",
                    o->session_key);
        else
            fprintf(stderr, "peeka-rec: %s\n", err);
        return fd == NO_SESSION ? EX_NO_SESSION : fd == REFUSED ? EX_SESSION_REFUSED : EX_INTERNAL;
    }
    line_conn c = {.fd = fd};
    int tty = isatty(2), rc = -1, sent_stop = stop;
    if (send_line(fd, stop ? SP_STOP : SP_ATTACH) < 0)
        rc = EX_INTERNAL;
    while (rc < 0) {
        if (g_stop_signal == SIGHUP) {   /* the terminal went: the session runs on */
            rc = EX_OK_REC;
            break;
        }
        if (g_stop_signal && !sent_stop++)
            send_line(fd, SP_STOP);
        char *line;
        const char *what;
        int n = next_line(&c, 250, &line);
        if (n == -2)
            continue;
        if (n <= 0) {
            fprintf(stderr, "%speeka-rec: the holder of session '%s' went away before the "
                    "session ended (killed?); what it wrote is in its archive's .partial\n",
                    tty ? "\r\033[K" : "", o->session_key);
            rc = EX_INTERNAL;
        } else if ((what = after(line, SP_PROGRESS))) {
            if (tty && !stop)
                fprintf(stderr, "\r\033[K%s", what);
        } else if ((what = after(line, SP_END))) {
            if (tty && !stop)
                fputs("\r\033[K", stderr);
            rc = ended(what, 0);
        } else if ((what = after(line, SP_REFUSED))) {
            fprintf(stderr, "peeka-rec: session '%s' refused us: %s\n", o->session_key, what);
            rc = EX_SESSION_REFUSED;
        }
        if (n > 0)
            consume(&c);
    }
    close(fd);
    return rc;
}

/* The holder's "info" object, NULL with a code in *why (NO_SESSION,
 * REFUSED, -1) and a message in err. */
static cJSON *session_info(const char *key, int *why, char *err, size_t errlen)
{
    int fd = open_session(key, err, errlen);
    if (fd < 0) {
        *why = fd;
        return NULL;
    }
    line_conn c = {.fd = fd};
    char *line = NULL;
    cJSON *j = NULL;
    *why = -1;
    const char *what = NULL;
    int n = send_line(fd, SP_INFO) < 0 ? -1 : next_line(&c, REPLY_MS, &line);
    if (n == 1 && (what = after(line, SP_INFO)))
        j = cJSON_Parse(what);
    else if (n == 1 && after(line, SP_END))
        *why = NO_SESSION;   /* it ended as we asked */
    else if (n == 1 && (what = after(line, SP_REFUSED)))
        snprintf(err, errlen, "session '%s' refused us: %s", key, what);
    else
        snprintf(err, errlen, "session '%s' did not answer", key);
    close(fd);
    return j;
}

static int is_detached(const rec_options *o)
{
    char err[600] = "";
    int why;
    cJSON *j = session_info(o->session_key, &why, err, sizeof err);
    if (j) {
        cJSON_Delete(j);
        return 0;
    }
    if (why == NO_SESSION)
        return 2;
    fprintf(stderr, "peeka-rec: %s\n", err);
    return 1;
}

static const char *str(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_table(const cJSON *all)
{
    const cJSON *s;
    if (!cJSON_GetArraySize(all)) {
        puts("no detached sessions");
        return;
    }
    printf("%-16s %-8s %-24s %-20s %9s  %-32s %s\n", "KEY", "PID", "TARGET", "STARTED", "RECORDS",
           "PROBES", "OUTPUT");
    cJSON_ArrayForEach(s, all) {
        char probes[400] = "";
        size_t k = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(s, "probes"))
            if (cJSON_IsString(p) && k < sizeof probes)
                k += (size_t)snprintf(probes + k, sizeof probes - k, "%s%s", k ? "; " : "",
                                      p->valuestring);
        printf("%-16s %-8.0f %-24.60s %-20s %9.0f  %-32s %s\n", str(s, "key"), num(s, "pid"),
               str(s, "target"), str(s, "started"), num(s, "records"), probes, str(s, "output"));
    }
}

static int key_of(const char *name, char *key, size_t n)
{
    size_t len = strlen(name);
    if (len <= 5 || strcmp(name + len - 5, ".lock") || len - 5 >= n)
        return 0;
    memcpy(key, name, len - 5);
    key[len - 5] = 0;
    return sdir_key_ok(key, NULL, 0) == 0;
}

/* Every live session's info, the dead ones' files cleaned on the way. */
static int list_sessions(const rec_options *o)
{
    char err[600] = "";
    sdir_paths p;
    int rc = sdir_open(&p, NULL, 0, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "peeka-rec: %s\n", err);
        return rc == -2 ? EX_SESSION_REFUSED : EX_INTERNAL;
    }
    cJSON *all = cJSON_CreateArray();
    DIR *d = rc == 0 ? opendir(p.dir) : NULL;
    if (rc == 0 && !d) {
        fprintf(stderr, "peeka-rec: cannot read %s: %s\n", p.dir, strerror(errno));
        cJSON_Delete(all);
        return EX_INTERNAL;
    }
    struct dirent *e;
    char key[SDIR_KEY_MAX + 1];
    while (d && (e = readdir(d))) {
        int why;
        cJSON *j = key_of(e->d_name, key, sizeof key) ? session_info(key, &why, err, sizeof err) : NULL;
        if (j)
            cJSON_AddItemToArray(all, j);
    }
    if (d)
        closedir(d);
    if (o->json) {
        char *s = cJSON_PrintUnformatted(all);
        if (s)
            puts(s);
        free(s);
    } else {
        print_table(all);
    }
    cJSON_Delete(all);
    return EX_OK_REC;
}

int session_ctl_run(const rec_options *o)
{
    switch (o->session_cmd) {
    case SESSION_ATTACH:      return attach(o, 0);
    case SESSION_STOP:        return attach(o, 1);
    case SESSION_IS_DETACHED: return is_detached(o);
    default:                  return list_sessions(o);
    }
}
