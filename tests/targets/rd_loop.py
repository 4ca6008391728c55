"""Attach-mode target for redaction: calls rd.auth.call_once every 20 ms
until killed."""
import time

from rd import auth

print("ready", flush=True)
i = 0
while True:
    auth.call_once(i)
    i += 1
    time.sleep(0.02)
