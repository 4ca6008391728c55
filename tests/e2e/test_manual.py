"""The manual and the shell completion: every option the programs accept is
in their --help, their man page and their completion; `man -l` renders the
pages without a warning; `make install` puts them where man, bash and zsh
look; completion answers with the right words in a real bash and zsh."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from peeka_testlib import ANALYZE, BUILD, REC, ROOT, tool_env

PER_INTERPRETER = False
MAN = os.path.join(BUILD, "share", "man")
COMP = os.path.join(BUILD, "share", "completion")
# an option literal in C: "--name" or "-x" (what the parsers compare against)
OPTION_LITERAL = re.compile(r'"(--[a-z][a-z-]*[a-z]|-[a-zA-Z])"')


def plain_env(**extra):
    """Other programs' environment: under make asan, without the sanitizer
    runtime preloaded for the agents (troff, bash and make are not ours)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    env.update(extra)
    return env


def ours(args):
    return subprocess.run(args, capture_output=True, text=True, check=True, env=tool_env(os.environ, False)).stdout


def literals(*globs, skip=()):
    found = set()
    for g in globs:
        d, suffix = os.path.split(g)
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            if name.endswith(suffix) and name not in skip:
                with open(os.path.join(ROOT, d, name), encoding="utf-8") as f:
                    found |= set(OPTION_LITERAL.findall(f.read()))
    return found


def rendered(page):
    env = plain_env(MANWIDTH="100", LC_ALL="C.UTF-8")
    proc = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    # man hyphenates and justifies: undo both, so words can be searched for
    text = re.sub(r"[\u2010\u00ad]\n\s*", "", proc.stdout)
    return proc, re.sub(r"\s+", " ", text.replace("\u2010", "-").replace("\u2212", "-"))


def help_text(binary):
    return ours([binary, "--help"])


def scripts():
    out = ours([ANALYZE, "-l"])
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def script_args(name):
    out = ours([ANALYZE, "-i", name])
    return re.findall(r"^  ([a-z_]+)=", out, re.M)


@unittest.skipUnless(shutil.which("man"), "man-db is not installed (sh mk/deps.sh --install --tests)")
class ManPages(unittest.TestCase):
    def page(self, name, section):
        path = os.path.join(MAN, "man%d" % section, "%s.%d" % (name, section))
        self.assertTrue(os.path.isfile(path), "%s not built (make manpages)" % path)
        proc, text = rendered(path)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr.strip(), "", "roff warnings in %s" % path)
        return text

    def test_recorder_options_in_help_and_page(self):
        # launch_flags.c knows the interpreter's own flags (python3 -S ...), not peeka's
        # --list-probe-options: the probe table for tests, deliberately not in --help
        accepted = literals("recorder/.c", "common/.c", skip=("launch_flags.c",)) - {"--", "--list-probe-options"}
        self.assertIn("--duration", accepted)
        help_words = set(re.findall(r"--?[A-Za-z][\w-]*", help_text(REC)))
        page = self.page("peeka-rec", 1)
        for opt in sorted(accepted):
            self.assertIn(opt, help_words, "%s is accepted but not in peeka-rec --help" % opt)
            self.assertRegex(page, r"(?<![\w-])%s(?![\w-])" % re.escape(opt),
                             "%s is in --help but not in peeka-rec(1)" % opt)

    def test_recorder_page_sections(self):
        page = self.page("peeka-rec", 1)
        for heading in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES", "EXIT STATUS", "SEE ALSO"):
            self.assertIn(heading, page)
        # the exit codes are README's table, every code with its meaning
        self.assertIn("18 the target is already being recorded by another peeka-rec", page)
        for probe in ("watch", "trace", "stack", "monitor"):
            self.assertRegex(page, r"\b%s PATTERN\b" % probe)

    def test_analyzer_options_scripts_and_arguments(self):
        accepted = literals("analyzer/main.c")
        help_words = set(re.findall(r"--?[A-Za-z][\w-]*", help_text(ANALYZE)))
        page = self.page("peeka-analyze", 1)
        for opt in sorted(accepted):
            self.assertIn(opt, help_words, "%s is accepted but not in peeka-analyze --help" % opt)
            self.assertRegex(page, r"(?<![\w-])%s(?![\w-])" % re.escape(opt))
        names = scripts()
        self.assertIn("compare", names)
        for name in names:
            self.assertIn(" %s " % name, page, "script %s missing from peeka-analyze(1)" % name)
            for arg in script_args(name):
                self.assertIn("%s=" % arg, page, "%s's argument %s missing" % (name, arg))

    def test_lua_api_page(self):
        page = self.page("peeka-lua", 7)
        with open(os.path.join(ROOT, "docs", "lua-api.md"), encoding="utf-8") as f:
            doc = f.read()
        for heading in re.findall(r"^##+ (.*)$", doc, re.M):
            plain = re.sub(r"[`*]", "", heading)
            self.assertIn(plain, page, "section '%s' of docs/lua-api.md missing" % plain)
        self.assertIn("peeka.records", page)


class Installed(unittest.TestCase):
    def test_make_install_puts_pages_and_completion_in_place(self):
        dest = tempfile.mkdtemp(prefix="peeka-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        proc = subprocess.run(["make", "-s", "PEEKA_INNER=1", "BUILD=" + BUILD, "install",
                               "DESTDIR=" + dest, "PREFIX=/usr/local"], cwd=ROOT, capture_output=True,
                              text=True, timeout=900, check=False, env=plain_env())
        self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
        share = os.path.join(dest, "usr", "local", "share")
        for rel in ("man/man1/peeka-rec.1", "man/man1/peeka-analyze.1", "man/man7/peeka-lua.7",
                    "bash-completion/completions/peeka-rec", "zsh/site-functions/_peeka"):
            self.assertTrue(os.path.isfile(os.path.join(share, rel)), rel)
        link = os.path.join(share, "bash-completion", "completions", "peeka-analyze")
        self.assertEqual(os.readlink(link), "peeka-rec")
        if shutil.which("man"):
            env = plain_env(MANPATH=os.path.join(share, "man"), MANWIDTH="100")
            out = subprocess.run(["man", "7", "peeka-lua"], capture_output=True, text=True, env=env,
                                 timeout=60, check=False)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("peeka.records", out.stdout)


def bash_complete(line):
    """COMPREPLY of the generated bash completion for the command line LINE
    (the cursor at its end), computed by a real bash."""
    words = line.split(" ")
    script = ("source %s\nCOMP_WORDS=(%s)\nCOMP_CWORD=%d\n_%s\nprintf '%%s\\n' \"${COMPREPLY[@]}\"\n"
              % (os.path.join(COMP, "peeka.bash"), " ".join("'%s'" % w for w in words), len(words) - 1,
                 words[0].replace("-", "_")))
    proc = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, timeout=60,
                          check=False, cwd=tempfile.gettempdir(), env=plain_env())
    if proc.returncode:
        raise AssertionError(proc.stderr)
    return sorted(x for x in proc.stdout.split("\n") if x)


class BashCompletion(unittest.TestCase):
    def test_probes_and_their_options(self):
        self.assertEqual(bash_complete("peeka-rec -p 1 wat"), ["watch"])
        self.assertEqual(bash_complete("peeka-rec -p 1 watch app.f --max-"),
                         ["--max-attrs", "--max-items", "--max-string"])
        self.assertEqual(bash_complete("peeka-rec -p 1 trace app.f --sk"), ["--skip-builtin"])
        self.assertEqual(bash_complete("peeka-rec --vi"), ["--via"])
        self.assertEqual(bash_complete("peeka-rec --via r"), ["remote-exec"])

    def test_every_help_option_completes(self):
        help_words = set(re.findall(r"(?<![\w\[-])--[a-z][\w-]*", help_text(REC)))
        probes = bash_complete("peeka-rec -p 1 ")
        self.assertTrue({"watch", "trace", "stack", "monitor", "thread", "top"} <= set(probes), probes)
        offered = set()
        for probe in probes:
            offered |= set(bash_complete("peeka-rec -p 1 %s f --" % probe))
        self.assertEqual(sorted(help_words - offered), [])

    def test_pid_completion_offers_a_running_python(self):
        proc = subprocess.Popen(["python3", "-c", "import time; time.sleep(60)"], env=plain_env())
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        self.assertIn(str(proc.pid), bash_complete("peeka-rec -p "))

    def test_analyzer_scripts_and_their_arguments(self):
        self.assertEqual(bash_complete("peeka-analyze -i comp"), ["compare"])
        self.assertEqual(bash_complete("peeka-analyze a.tar.zst compare --arg "),
                         sorted(a + "=" for a in script_args("compare")))
        self.assertEqual(bash_complete("peeka-analyze -f m"), ["markdown"])
        self.assertEqual(set(bash_complete("peeka-analyze x.tar.zst ")) >= set(scripts()), True)


@unittest.skipUnless(shutil.which("zsh"), "zsh is not installed (sh mk/deps.sh --install --tests)")
class ZshCompletion(unittest.TestCase):
    """zsh's completion system needs a terminal; here the generated function
    runs in a real zsh with compadd replaced by one that prints its words."""

    def complete(self, line):
        words = line.split(" ")
        script = ("compadd() {\n"
                  "  while [[ $1 == -* ]]; do\n"
                  "    case $1 in --) shift; break;; -S) shift 2;; -a) print -rl -- ${(P)2}; return;; *) shift;; esac\n"
                  "  done\n"
                  "  print -rl -- \"$@\"\n}\n"
                  "_files() { }\n_normal() { }\n"
                  "words=(%s)\nCURRENT=%d\nPREFIX=%s\nservice=%s\nsource %s\n"
                  % (" ".join("'%s'" % w for w in words), len(words), "'%s'" % words[-1], words[0],
                     os.path.join(COMP, "_peeka")))
        proc = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, text=True, timeout=60,
                              check=False, env=plain_env())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return [w for w in proc.stdout.split("\n") if w.startswith(words[-1]) and w]

    def test_syntax(self):
        proc = subprocess.run(["zsh", "-n", os.path.join(COMP, "_peeka")], capture_output=True, text=True,
                              check=False, env=plain_env())
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_probes_options_scripts(self):
        self.assertEqual(self.complete("peeka-rec -p 1 wat"), ["watch"])
        self.assertEqual(sorted(self.complete("peeka-rec -p 1 watch f --max-")),
                         ["--max-attrs", "--max-items", "--max-string"])
        self.assertEqual(self.complete("peeka-analyze -i comp"), ["compare"])
        self.assertEqual(sorted(self.complete("peeka-analyze a.tar.zst compare --arg ")),
                         sorted(a + "=" for a in script_args("compare")))


if __name__ == "__main__":
    unittest.main()
