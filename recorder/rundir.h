/* A private directory for one recording: the agent's socket (and, in
 * launch mode, the bootstrap) live there, never at a guessable /tmp path. */
#ifndef PEEKA_RUNDIR_H
#define PEEKA_RUNDIR_H

#include <sys/types.h>

typedef struct {
    char dir[256];
    char sock[300];
    char token[65];      /* 32 random bytes, hex */
    int listen_fd;
    int given;           /* rundir_give_to: files written later get the owner */
    uid_t uid;
    gid_t gid;
} rundir;

/* $XDG_RUNTIME_DIR when it is ours and private (0700), else /tmp. */
const char *rundir_base(void);
int  rundir_create(rundir *r, char *err, size_t errlen);
/* Lets a target running as another user (we are root) reach the socket. */
int  rundir_give_to(rundir *r, uid_t uid, gid_t gid, char *err, size_t errlen);
/* Writes a file inside the directory (mode 0600, owned by the target's
 * user once rundir_give_to has run: the target reads what we write). */
int  rundir_write(rundir *r, const char *name, const char *text, char *path_out, size_t pathlen);
void rundir_remove(rundir *r);
int  token_equal(const char *a, const char *b);

#endif
