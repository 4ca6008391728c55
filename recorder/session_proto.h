/* The lines a client and a session's holder exchange on KEY.sock (one
 * request line, then lines from the holder; docs/protocol.md "Detached
 * sessions"). */
#ifndef PEEKA_SESSION_PROTO_H
#define PEEKA_SESSION_PROTO_H

#define SP_INFO     "info"       /* -> "info JSON", then the holder closes */
#define SP_ATTACH   "attach"     /* -> "progress TEXT" lines, then "end CODE MESSAGE" */
#define SP_STOP     "stop"       /* alone or after attach -> ... "end CODE MESSAGE" */
#define SP_REFUSED  "refused"    /* "refused WHY": another uid */
#define SP_PROGRESS "progress"
#define SP_END      "end"
#define SP_LINE_MAX 4096         /* the longest line either side sends */

#endif
