"""Main thread inside one long C call (no bytecode; pbkdf2 even drops the
GIL): a pending call cannot run until it returns and no thread rests.
The call is calibrated to last about SECONDS.  Prints ok when done."""
import hashlib
import time
from attach_common import args, ready, finish

path, seconds, _ = args()
t0 = time.monotonic()
hashlib.pbkdf2_hmac("sha256", b"key", b"salt", 50000)
per_iter = max(time.monotonic() - t0, 1e-6) / 50000
ready(path)
hashlib.pbkdf2_hmac("sha256", b"key", b"salt", int(seconds / per_iter))
finish(True)
