/* The recorder's side of the agent connection (docs/protocol.md). */
#ifndef PEEKA_AGENT_CONN_H
#define PEEKA_AGENT_CONN_H

#include <stdint.h>
#include <sys/types.h>
#include "frame.h"
#include "rundir.h"
#include "wire_segments.h"

typedef struct {
    int fd;
    peeka_fdec dec;
    int next_id;
    pid_t pid;
    char python[32];
    peeka_segs *segs;           /* the segments it defined (wire_segments.h); NULL: its
                                 * WELCOME did not ask for the compact wire form */
} agent_conn;

/* Waits for the agent to connect, checks its pid (SO_PEERCRED) and token,
 * sends WELCOME.  child: in launch mode, the program whose early exit ends
 * the wait.  Returns an EX_* code; err says what happened. */
int conn_accept(agent_conn *c, rundir *r, pid_t expect_pid, pid_t child, int timeout_ms,
                int lease_ms, char *err, size_t errlen);
/* An accepted connection fd (kept in c, closed by conn_close): the peer's
 * pid (SO_PEERCRED) into c->pid, HELLO and token checked.  The agent waits
 * for WELCOME meanwhile, so the caller can judge the pid of a live
 * process before conn_welcome.  Both return an EX_* code. */
int conn_hello(agent_conn *c, rundir *r, int fd, char *err, size_t errlen);
/* conn_accept's first half: the next connection within timeout_ms, its
 * HELLO checked, whoever it is from (c->pid); no WELCOME yet. */
int conn_accept_hello(agent_conn *c, rundir *r, pid_t child, int timeout_ms, char *err,
                      size_t errlen);
int conn_welcome(agent_conn *c, int lease_ms, char *err, size_t errlen);
/* Whether WELCOME asks for the compact wire form (docs/protocol.md
 * "Segments"): yes, unless PEEKA_WIRE=literal is in the environment. */
int conn_wants_segments(void);
/* --follow-forks: every WELCOME from now on asks the agent to follow forks. */
void conn_welcome_follow_forks(int on);
/* 1 and a frame, 0 if none arrived within timeout_ms, <0 peeka_frame_err. */
int conn_next(agent_conn *c, int timeout_ms, uint8_t *type, const uint8_t **body, uint32_t *len);
int conn_send_request(agent_conn *c, const char *cmd_json_without_id, int *id_out);
void conn_close(agent_conn *c);

#endif
