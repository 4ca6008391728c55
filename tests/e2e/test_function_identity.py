"""An observed function stays, for the program, the object it was: the same
object under its names, isinstance/inspect/signature/pickle/copy as before
while recorded, and after the recording its exact type and copyreg as
before.  (On 3.11 the agent gives an observed function a type of its own
for the recording, retype.c; this is what keeps that invisible.)  Calls
through references stored before the attach are counted exactly."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from peeka_testlib import REC, Target, probes_in, read_archive, target_env

PER_INTERPRETER = True
N = 25


class FunctionIdentity(unittest.TestCase):
    def test_observed_function_is_unchanged_for_the_program(self):
        tmp = tempfile.mkdtemp(prefix="peeka-ident-")
        self.addCleanup(shutil.rmtree, tmp, True)
        go1, go2 = os.path.join(tmp, "go1"), os.path.join(tmp, "go2")
        out = os.path.join(tmp, "i.tar.zst")
        t = Target("ident_check.py", go1, go2, str(N))
        self.addCleanup(t.stop)
        t.wait_for("ready")
        r = subprocess.Popen([REC, "-q", "-p", str(t.pid), "-o", out,
                              "--probe", "watch ident.mod.f -n %d" % N,
                              "--probe", "watch ident.mod.K.m -n %d" % N],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=target_env())
        end = time.monotonic() + 30
        while r.poll() is None and time.monotonic() < end and not probes_in(out):
            time.sleep(0.02)
        open(go1, "w").close()
        _, err = r.communicate(timeout=60)
        self.assertEqual(r.returncode, 0, err)
        t.wait_for("calls")
        open(go2, "w").close()
        t.wait_for("after ")
        lines = {l.split(" ", 1)[0]: l.split(" ", 1)[1] for l in t.output().splitlines() if " " in l}
        during = json.loads(lines["during"])
        self.assertEqual([k for k, ok in during.items() if not ok], [], during)
        after = json.loads(lines["after"])
        self.assertTrue(after["same as before"], after)
        _, recs, summary, _ = read_archive(out)
        per = {}
        for x in recs:
            per[x["func_name"]] = per.get(x["func_name"], 0) + 1
        self.assertEqual(per, {"ident.mod.f": N, "ident.mod.K.m": N})
        self.assertEqual(sorted(x["params"][0] for x in recs if x["func_name"] == "ident.mod.f"), list(range(N)))


if __name__ == "__main__":
    unittest.main()
