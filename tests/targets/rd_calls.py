"""Launch-mode target for redaction: ROUNDS rounds of rd.auth.call_once
(2 login, 1 Creds.check, 1 refuse each), then exits 0."""
import sys

from rd import auth

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3

for i in range(ROUNDS):
    auth.call_once(i)
print("calls done", flush=True)
