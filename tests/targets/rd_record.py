"""Launch-mode target for watch --record and the formatting limits: ROUNDS
rounds of rd.auth.call_once and one rd.auth.profile call each, then exits 0."""
import sys

from rd import auth

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3

for i in range(ROUNDS):
    auth.call_once(i)
    auth.profile("erin")
print("calls done", flush=True)
