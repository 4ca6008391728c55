"""A real browser for the viewer tests: Debian's chromium, headless, and
speedscope installed from the npm registry into a cache directory
(never into the repository): $PEEKA_TEST_CACHE, else ~/.cache/peeka-tests.

    why = unavailable()           # None, or why the browser tests must skip
    release = speedscope()        # the directory holding speedscope's index.html
    with Server(release, {"/profile.json": path}) as url: dom(url + "/index.html#...")
"""
import base64
import functools
import hashlib
import http.server
import io
import os
import shutil
import ssl
import subprocess
import tarfile
import threading
import urllib.request

SPEEDSCOPE = "speedscope@1.25.0"
# The same release straight from the registry, pinned by npm's own integrity
# value (package-lock.json of `npm install speedscope@1.25.0`).
TARBALL = "https://registry.npmjs.org/speedscope/-/speedscope-1.25.0.tgz"
INTEGRITY = "sha512-cpf9HWTZf1ijLXBJrk87Ve/54tnYx6rlf0gUThvn3ook6h63hLXVOQiMf44PT+XoV503cPfvfiT5gP5vojp6Ag=="
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
    os.makedirs(CACHE, exist_ok=True)
    why = "npm is not installed (sh mk/deps.sh --install --tests)"
    if shutil.which("npm"):
        p = subprocess.run(["npm", "install", "--prefix", os.path.join(CACHE, "speedscope"), "--no-audit",
                            "--no-fund", "--no-save", SPEEDSCOPE], capture_output=True, text=True, timeout=300,
                           check=False)
        if p.returncode == 0 and os.path.isfile(os.path.join(release, "index.html")):
            return release
        why = "npm install %s failed: %s" % (SPEEDSCOPE, (p.stderr or p.stdout)[-300:])
    # Only the built release is needed; fetched directly it can be checked
    # against the pinned integrity, which also covers a network whose TLS
    # is intercepted by a proxy this root does not trust (npm fails there).
    fetched = fetch_release(os.path.dirname(os.path.dirname(release)))
    return release if fetched is None and os.path.isfile(os.path.join(release, "index.html")) \
        else "%s; and the tarball: %s" % (why, fetched)


def download(url):
    try:
        with urllib.request.urlopen(url, timeout=120) as r:
            return r.read()
    except urllib.error.URLError as e:
        if not isinstance(e.reason, ssl.SSLCertVerificationError):
            raise
    # the content is verified against INTEGRITY below, whoever served it
    with urllib.request.urlopen(url, timeout=120, context=ssl._create_unverified_context()) as r:
        return r.read()


def fetch_release(package_dir):
    """Unpacks TARBALL's dist/release under package_dir; None, or why not."""
    try:
        data = download(TARBALL)
    except (OSError, urllib.error.URLError) as e:
        return "cannot download %s: %s" % (TARBALL, e)
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        return "%s does not match its pinned integrity (got %s)" % (TARBALL, digest)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
        for m in tf.getmembers():
            rel = os.path.normpath(m.name)
            if not rel.startswith("package/dist/release/") or not m.isfile():
                continue
            out = os.path.join(package_dir, rel[len("package/"):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(tf.extractfile(m).read())
    return None


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
