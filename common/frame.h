/* Length-prefixed frames spoken between peeka-rec and the agent.
 * Specified in docs/protocol.md; this is the only implementation. */
#ifndef PEEKA_FRAME_H
#define PEEKA_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "peeka_limits.h"   /* PEEKA_FRAME_MAX */

#define PEEKA_PROTO_VERSION 1
#define PEEKA_FRAME_HDR     8           /* u32 length, u8 type, u8[3] zero */

enum peeka_frame_type {
    PF_HELLO   = 1,  /* agent -> recorder: JSON, first frame, carries the token */
    PF_WELCOME = 2,  /* recorder -> agent: JSON, session parameters */
    PF_REQUEST = 3,  /* recorder -> agent: JSON command with an "id" */
    PF_REPLY   = 4,  /* agent -> recorder: JSON answer to the request "id" */
    PF_RECORDS = 5,  /* agent -> recorder: JSONL, one observation per line */
    PF_EVENT   = 6,  /* agent -> recorder: JSON, unsolicited notice */
    PF_SEGMENTS = 7, /* agent -> recorder: byte strings RECORDS refer to (wire_segments.h) */
    PF_TYPE_MAX = 7
};

/* Why a frame was refused; a message for each is in peeka_frame_strerror(). */
enum peeka_frame_err {
    PFE_OK = 0,
    PFE_TYPE = -1,      /* unknown frame type */
    PFE_RESERVED = -2,  /* reserved header bytes not zero */
    PFE_TOOBIG = -3,    /* body longer than the receiver's limit */
    PFE_IO = -4,        /* read/write failed: see errno */
    PFE_EOF = -5,       /* peer closed (cleanly, between frames) */
    PFE_TRUNC = -6      /* peer closed in the middle of a frame */
};

void peeka_frame_header(uint8_t hdr[PEEKA_FRAME_HDR], uint32_t len, uint8_t type);

/* Checks a received header; on success stores the body length and type. */
int peeka_frame_parse(const uint8_t hdr[PEEKA_FRAME_HDR], uint32_t max,
                      uint32_t *len, uint8_t *type);

const char *peeka_frame_strerror(int err);

/* Incremental decoder for a non-blocking reader: feed bytes as they arrive,
 * take whole frames out.  The buffer never grows past HDR + max. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    uint32_t max;
    size_t consumed;    /* bytes of the previous frame still to discard */
} peeka_fdec;

int  peeka_fdec_init(peeka_fdec *d, uint32_t max);
void peeka_fdec_free(peeka_fdec *d);
/* Space to read into; *room is how many bytes fit. */
uint8_t *peeka_fdec_space(peeka_fdec *d, size_t *room);
void peeka_fdec_commit(peeka_fdec *d, size_t n);
/* 1 and a frame (valid until the next call), 0 when more bytes are needed,
 * or a negative peeka_frame_err for a malformed stream. */
int peeka_fdec_next(peeka_fdec *d, uint8_t *type, const uint8_t **body, uint32_t *len);

/* Blocking helpers for a plain fd; restart on EINTR and short transfers. */
int peeka_write_all(int fd, const void *buf, size_t n);
int peeka_frame_send(int fd, uint8_t type, const void *body, size_t len);
/* The same on a socket, giving up (PFE_IO, errno ETIMEDOUT) when the whole
 * frame is not out within timeout_ms: a peer that stops reading must not
 * hold the sender for longer, however the bytes trickle. */
int peeka_frame_send_within(int fd, uint8_t type, const void *body, size_t len, int timeout_ms);

#endif
