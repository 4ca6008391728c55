/* Where detached sessions are found: one private directory per user
 * ($XDG_RUNTIME_DIR/peeka, or /tmp/peeka-sessions-UID), holding for each
 * session KEY.lock (flock'ed by its holder for as long as it lives) and
 * KEY.sock (the holder's control socket). */
#ifndef PEEKA_SESSION_DIR_H
#define PEEKA_SESSION_DIR_H

#include <stddef.h>

#define SDIR_KEY_MAX 64

typedef struct {
    char dir[256];
    char key[SDIR_KEY_MAX + 1];
    char lock[340];
    char sock[340];
} sdir_paths;

/* A key is 1..64 of [A-Za-z0-9._-], not starting with '.'. */
int sdir_key_ok(const char *key, char *err, size_t errlen);
/* Finds (create: makes) the directory and checks it is private: a real
 * directory, owned by us, mode 0700.  0 ok; 1 it does not exist (only
 * without create); -2 it is not private, -1 otherwise (with a message). */
int sdir_open(sdir_paths *p, const char *key, int create, char *err, size_t errlen);
/* Takes KEY for a new session: returns the lock's fd (keep it open for the
 * holder's life), -2 when a live session holds KEY, -1 with a message. */
int sdir_claim(const sdir_paths *p, char *err, size_t errlen);
/* 1 a live holder has KEY; 0 none (a dead holder's files are removed);
 * -1 with a message. */
int sdir_alive(const sdir_paths *p, char *err, size_t errlen);
/* The holder's end: its files go, then the lock. */
void sdir_release(const sdir_paths *p, int lockfd);

#endif
