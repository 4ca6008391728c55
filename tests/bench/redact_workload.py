"""The workload of redact_bench.py, run under peeka-rec with two watch
probes: one on `ruled` with the default redaction rules, one on `plain`
with none (and `--no-default-redact`).  The two functions are identical,
and no key, parameter or attribute name matches a rule, so the difference
is the cost of asking the rules.  Each round times both and an unwatched
twin back to back.  Prints one JSON line of per-round timings."""
import json
import sys
import time

OPTS = {"retries": 3, "timeout": 5, "region": "eu-west", "flags": [1, 2]}


class Req:
    def __init__(self):
        self.path = "/cart"
        self.method = "GET"
        self.user_id = 42


def ruled(user, n, opts, req):
    return {"user": user, "n": n, "status": 200}


def plain(user, n, opts, req):
    return {"user": user, "n": n, "status": 200}


def unwatched(user, n, opts, req):
    return {"user": user, "n": n, "status": 200}


def timed(f, k, req):
    t = time.perf_counter()
    for i in range(k):
        f("bob", i, OPTS, req)
    return time.perf_counter() - t


def main():
    k, rounds = int(sys.argv[1]), int(sys.argv[2])
    req = Req()
    out = []
    for i in range(rounds):
        r = {"unwatched": timed(unwatched, k, req)}
        # each goes first every other round: the recorder draining the
        # previous burst must not always fall on the same side
        for name, f in ((("ruled", ruled), ("plain", plain)) if i % 2 else (("plain", plain), ("ruled", ruled))):
            r[name] = timed(f, k, req)
        out.append(r)
    print(json.dumps({"k": k, "rounds": out}), flush=True)


if __name__ == "__main__":
    import redact_workload   # the probes name the module, not __main__
    redact_workload.main()
