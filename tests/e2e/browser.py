"""A real browser for the viewer tests: Debian's chromium, headless, and
speedscope installed from the npm registry into a cache directory
(never into the repository): $PEEKA_TEST_CACHE, else ~/.cache/peeka-tests.

    why = unavailable()           # None, or why the browser tests must skip
    release = speedscope()        # the directory holding speedscope's index.html
    with Server(release, {"/profile.json": path}) as url: dom(url + "/index.html#...")
"""
import functools
import http.server
import os
import shutil
import subprocess
import threading

SPEEDSCOPE = "speedscope@1.25.0"
CACHE = os.environ.get("PEEKA_TEST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "peeka-tests")


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@functools.lru_cache(maxsize=None)
def speedscope():
    """speedscope's built release directory, installed with npm on first use;
    (None, reason) style: returns the reason string when it cannot be had."""
    release = os.path.join(CACHE, "speedscope", "node_modules", "speedscope", "dist", "release")
    if os.path.isfile(os.path.join(release, "index.html")):
        return release
    if not shutil.which("npm"):
        return "npm is not installed (sh mk/deps.sh --install --tests)"
    os.makedirs(CACHE, exist_ok=True)
    p = subprocess.run(["npm", "install", "--prefix", os.path.join(CACHE, "speedscope"), "--no-audit", "--no-fund",
                        "--no-save", SPEEDSCOPE], capture_output=True, text=True, timeout=300, check=False)
    if p.returncode != 0 or not os.path.isfile(os.path.join(release, "index.html")):
        return "npm install %s failed: %s" % (SPEEDSCOPE, (p.stderr or p.stdout)[-500:])
    return release


def unavailable():
    if not chromium():
        return "chromium is not installed (sh mk/deps.sh --install --tests)"
    s = speedscope()
    return None if os.path.isdir(s) else s


def _run(args, timeout=90):
    base = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--user-data-dir=" + os.path.join(CACHE, "chromium-profile")]
    # under make asan the tests preload libasan: not into the browser
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout, check=False, env=env)


def dom(url, budget_ms=8000, size="1200,800"):
    """The page's DOM after its scripts ran for budget_ms of virtual time."""
    p = _run(["--window-size=" + size, "--virtual-time-budget=%d" % budget_ms, "--dump-dom", url])
    if p.returncode != 0:
        raise AssertionError("chromium --dump-dom failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
    return p.stdout


def console(url, budget_ms=5000):
    """What the page logged to its console (chromium's log lines)."""
    return _run(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=%d" % budget_ms, "--dump-dom", url]).stderr


def screenshot(url, path, budget_ms=8000, size="1200,800"):
    p = _run(["--window-size=" + size, "--virtual-time-budget=%d" % budget_ms, "--screenshot=" + path, url])
    if p.returncode != 0 or not os.path.isfile(path):
        raise AssertionError("chromium --screenshot failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
    return path


class Server:
    """A local HTTP server for directory, plus extra files by URL path."""

    def __init__(self, directory, extra=None):
        extra = extra or {}

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=directory, **kw)

            def translate_path(self, path):
                return extra.get(path.split("?")[0].split("#")[0]) or super().translate_path(path)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return "http://127.0.0.1:%d" % self.httpd.server_address[1]

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
