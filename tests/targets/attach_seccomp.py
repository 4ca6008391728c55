"""Installs a seccomp filter refusing mprotect(..., PROT_EXEC) with EPERM,
then sleeps: injection must report PA_SECCOMP and leave it healthy."""
import ctypes
import struct
import time
from attach_common import args, ready, finish, check_slept

path, seconds, _ = args()
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
NR_MPROTECT, PROT_EXEC, EPERM = 10, 4, 1
LD_W_ABS, JEQ_K, JSET_K, RET_K = 0x20, 0x15, 0x45, 0x06
ALLOW, ERRNO = 0x7fff0000, 0x00050000


def ins(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


prog = b"".join([
    ins(LD_W_ABS, 0, 0, 0),             # A = nr
    ins(JEQ_K, 0, 3, NR_MPROTECT),      # not mprotect -> allow
    ins(LD_W_ABS, 0, 0, 16 + 8 * 2),    # A = low word of args[2] (prot)
    ins(JSET_K, 0, 1, PROT_EXEC),       # no PROT_EXEC -> allow
    ins(RET_K, 0, 0, ERRNO | EPERM),
    ins(RET_K, 0, 0, ALLOW),
])
buf = ctypes.create_string_buffer(prog)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


fprog = SockFprog(len(prog) // 8, ctypes.addressof(buf))
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
    finish(False, "seccomp setup failed: errno %d" % ctypes.get_errno())
ready(path)
t0 = time.monotonic()
time.sleep(seconds)
check_slept(t0, seconds, "time.sleep")
finish(True)
