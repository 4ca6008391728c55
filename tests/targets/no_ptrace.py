"""Runs a command (argv[1:]) under a seccomp filter that makes ptrace(2)
fail with EPERM, as some container runtimes do: peeka-rec must then run
the launched program unrecorded and return its status."""
import ctypes
import os
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
NR_PTRACE, EPERM = 101, 1
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
ALLOW, ERRNO = 0x7fff0000, 0x00050000


def ins(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


prog = b"".join([
    ins(LD_W_ABS, 0, 0, 0),           # A = nr
    ins(JEQ_K, 0, 1, NR_PTRACE),      # not ptrace -> allow
    ins(RET_K, 0, 0, ERRNO | EPERM),
    ins(RET_K, 0, 0, ALLOW),
])
buf = ctypes.create_string_buffer(prog)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


fprog = SockFprog(len(prog) // 8, ctypes.addressof(buf))
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
    sys.exit("no_ptrace: seccomp setup failed: errno %d" % ctypes.get_errno())
os.execv(sys.argv[1], sys.argv[1:])
