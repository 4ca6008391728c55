"""peeka's pre-installed agent.

An application that wants to be recordable without ptrace (yama
ptrace_scope 3, no CAP_SYS_PTRACE, PR_SET_DUMPABLE 0, seccomp) calls, at
startup, from its main thread:

    import peeka_agent
    peeka_agent.install()            # SIGUSR2, or install(signal.SIGRTMIN + 3)

Until a recorder arrives this costs one Python-level signal handler and one
small registration file: no thread, no socket, no hook.  `peeka-rec -p PID`
then writes a rendezvous (its socket and a one-time token) into this user's
private directory and sends the signal; the handler, run by the interpreter
at its next safe point on the main thread, reads it and starts the agent,
which connects to peeka-rec as after any attach.  docs/attach.md has the
protocol and the threat model.
"""
import os
import signal as _signal
import stat as _stat
import sys

__all__ = ["install", "uninstall", "is_installed", "DEFAULT_SIGNAL"]

DEFAULT_SIGNAL = _signal.SIGUSR2
# at most this much is read from a rendezvous file
_RENDEZVOUS_MAX = 4096
# signals whose default action is to do nothing: chaining to SIG_DFL for
# them does nothing either
_DEFAULT_IGNORED = {getattr(_signal, n) for n in ("SIGCHLD", "SIGURG", "SIGWINCH", "SIGCONT")
                    if hasattr(_signal, n)}

_state = None   # while installed: {"sig", "previous", "dir", "registration"}
# uninstalled off the main thread, where signal.signal() is refused: until
# the main thread puts the previous handler back, ours only passes the
# signal on ({signal: previous handler})
_passing = {}


def _private(path, uid):
    """path is a real directory (no symlink) of uid that nobody else can enter."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return _stat.S_ISDIR(st.st_mode) and st.st_uid == uid and st.st_mode & 0o077 == 0


def _private_dir():
    """This user's peeka directory, the first usable of $XDG_RUNTIME_DIR/peeka,
    /run/user/UID/peeka, /tmp/peeka-UID: peeka-rec looks in the same places
    (recorder/installed_dir.c) and trusts only one owned by the target's uid
    with mode 0700."""
    uid = os.geteuid()
    bases = [os.environ.get("XDG_RUNTIME_DIR"), "/run/user/%d" % uid]
    candidates = [os.path.join(b, "peeka") for b in bases if b and b.startswith("/") and _private(b, uid)]
    candidates.append("/tmp/peeka-%d" % uid)
    for d in candidates:
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        if _private(d, uid):
            return d
    raise RuntimeError("peeka_agent: no private directory for uid %d (tried %s); each must be a "
                       "directory of that uid with mode 0700" % (uid, ", ".join(candidates)))


def _start_time(pid):
    """Field 22 of /proc/PID/stat: with the pid, it names one process."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def _agent_module():
    """The `_peeka_agent` build for this interpreter, loaded by absolute path
    as peeka-rec's bootstrap loads it (so a later attach reuses it)."""
    m = sys.modules.get("_peeka_agent")
    if m is not None:
        return m
    if "t" in getattr(sys, "abiflags", ""):
        raise RuntimeError("peeka_agent: free-threaded CPython is not supported")
    here = os.path.dirname(os.path.abspath(__file__))
    tag = "cp%d%d" % sys.version_info[:2]
    path = os.path.normpath(os.path.join(here, "..", "..", "agent", tag, "_peeka_agent.so"))
    if not os.path.exists(path):
        raise RuntimeError("peeka_agent: no agent for Python %d.%d (looked for %s); build it with: "
                           "make PYTHONS=%s install" % (sys.version_info[0], sys.version_info[1], path,
                                                          sys.executable))
    import importlib.machinery as im
    import importlib.util as iu
    loader = im.ExtensionFileLoader("_peeka_agent", path)
    m = iu.module_from_spec(iu.spec_from_file_location("_peeka_agent", path, loader=loader))
    loader.exec_module(m)
    sys.modules["_peeka_agent"] = m
    return m


def _write_private(path, text):
    """Replaces path atomically with a 0600 file holding text."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _register(st):
    """The registration peeka-rec reads (recorder/installed_dir.c)."""
    pid = os.getpid()
    st["registration"] = os.path.join(st["dir"], "%d.installed" % pid)
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    # start and comm: a later process with this pid, or this one after an
    # exec of something else, is not taken for us
    _write_private(st["registration"], "pid=%d\nstart=%s\ncomm=%s\nsignal=%d\npython=%d.%d\n" % (
        pid, _start_time(pid), comm, st["sig"], sys.version_info[0], sys.version_info[1]))


def _unregister(st):
    try:
        os.unlink(st["registration"])
    except OSError:
        pass


def _after_fork_in_child():
    """A forked child (a gunicorn worker) is recordable the same way, under its own pid."""
    if _state is not None:
        try:
            _register(_state)
        except OSError:
            pass


def _at_exit():
    if _state is not None and _state["registration"].endswith("/%d.installed" % os.getpid()):
        _unregister(_state)


def _parse(data):
    req = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            req[key] = value
    return req


def _take_rendezvous(st):
    """The recorder's request for this pid, read once and deleted; None when
    there is none or it is not to be trusted (not a regular file of our uid
    with mode 0600 in our private directory)."""
    uid = os.geteuid()
    if not _private(st["dir"], uid):
        return None
    path = os.path.join(st["dir"], "%d.rendezvous" % os.getpid())
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        try:
            os.unlink(path)   # a symlink, or a file we may not read: not ours to keep
        except OSError:
            pass
        return None
    try:
        fs = os.fstat(fd)
        if not _stat.S_ISREG(fs.st_mode) or fs.st_uid != uid or fs.st_mode & 0o077:
            return None
        data = os.read(fd, _RENDEZVOUS_MAX + 1)
    finally:
        os.close(fd)
        try:
            os.unlink(path)   # one request, one use, whatever it held
        except OSError:
            pass
    if len(data) > _RENDEZVOUS_MAX:
        return None
    req = _parse(data)
    place = req.get("socket" if req.get("action") == "record" else "report", "")
    token = req.get("token", "")
    if not place.startswith("/") or not _private(os.path.dirname(place), uid):
        return None
    if len(token) != 64 or any(c not in "0123456789abcdef" for c in token):
        return None
    return req


def _chain(previous, signum, frame):
    """What the signal would have done without us."""
    if callable(previous):
        previous(signum, frame)
    elif previous == _signal.SIG_DFL and signum not in _DEFAULT_IGNORED:
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _write_report(path, text):
    try:
        _write_private(path, text + "\n")
    except OSError:
        pass


def _uninstall_everything(report):
    """peeka-rec --uninstall: every trace of peeka, then this handler."""
    agent = sys.modules.get("_peeka_agent")
    removed = list(agent.purge()) if agent is not None and hasattr(agent, "purge") else []
    sig = _state["sig"]
    uninstall()
    removed.append("the pre-installed agent (its %s handler)" % _signal_name(sig))
    _write_report(report, "; ".join(removed))


def _on_signal(signum, frame):
    st = _state
    req = _take_rendezvous(st) if st is not None and st["sig"] == signum else None
    if req is None:
        if st is not None and st["sig"] == signum:
            _chain(st["previous"], signum, frame)
        elif signum in _passing:
            _chain(_passing[signum], signum, frame)
        return
    try:
        if req.get("action") == "record":
            _agent_module().start(req["socket"], req["token"], int(req.get("buffer", 4 << 20)))
        elif req.get("action") == "uninstall":
            _uninstall_everything(req["report"])
    except Exception:
        pass   # never into the application: peeka-rec reports the missing connection


def _signal_name(sig):
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return "signal %d" % sig


def _signal_from_env():
    v = os.environ.get("PEEKA_SIGNAL")
    if not v:
        return DEFAULT_SIGNAL
    if v.isdigit():
        return int(v)
    name = v.upper() if v.upper().startswith("SIG") else "SIG" + v.upper()
    if not hasattr(_signal, name):
        raise ValueError("peeka_agent: PEEKA_SIGNAL=%s names no signal" % v)
    return getattr(_signal, name)


def install(sig=None):
    """Makes this process recordable without ptrace.  sig: the signal peeka-rec
    sends (default: $PEEKA_SIGNAL, else SIGUSR2).  A handler the application
    set for it from Python is kept and still called for every signal that is
    not peeka's; one set from C (not visible to signal.getsignal) is refused.
    Call it from the main thread, after the application set its own handlers."""
    global _state
    sig = _signal_from_env() if sig is None else int(sig)
    if _state is not None:
        if _state["sig"] == sig and _signal.getsignal(sig) is _on_signal:
            return
        uninstall()
    previous = _passing.pop(sig, None) if _signal.getsignal(sig) is _on_signal else _signal.getsignal(sig)
    if previous is None:
        raise RuntimeError("peeka_agent: %s has a handler that was not set from Python; give "
                           "install() another signal" % _signal_name(sig))
    _agent_module()
    st = {"sig": sig, "previous": previous, "dir": _private_dir()}
    _signal.signal(sig, _on_signal)
    try:
        _register(st)
    except BaseException:
        _signal.signal(sig, previous)
        raise
    _state = st
    if not getattr(install, "_hooked", False):
        import atexit
        atexit.register(_at_exit)
        os.register_at_fork(after_in_child=_after_fork_in_child)
        install._hooked = True


def _restore(sig, previous):
    """On the main thread: the application's handler back, unless something
    (install() again, the application) has set another one meanwhile."""
    if _signal.getsignal(sig) is _on_signal and _passing.get(sig) is previous:
        _signal.signal(sig, previous)
        _passing.pop(sig, None)


def uninstall():
    """Undoes install(): peeka-rec no longer finds this process, and the
    application's own handler is back: at once on the main thread; from
    another thread (signal.signal is refused there) as soon as the main thread
    runs Python again, and until then our handler only passes every signal on
    to it.  is_installed() is False at once either way."""
    global _state
    st = _state
    if st is None:
        return
    _state = None
    _unregister(st)
    if _signal.getsignal(st["sig"]) is not _on_signal:
        return
    _passing[st["sig"]] = st["previous"]
    try:
        _restore(st["sig"], st["previous"])
    except ValueError:   # not the main thread (an uninstall through ptrace route A, a worker thread)
        agent = sys.modules.get("_peeka_agent")
        if agent is not None and hasattr(agent, "_call_in_main"):
            agent._call_in_main(lambda: _restore(st["sig"], st["previous"]))


def is_installed():
    """True between install() and uninstall() (or peeka-rec --uninstall)."""
    return _state is not None and _signal.getsignal(_state["sig"]) is _on_signal
