"""Launch-mode target for the snapshot probes: imports sn.model, logs two
records through the logger `sn` (whose own handler prints them) and
exits."""
import logging
import sys

from sn import model

top = logging.getLogger("sn")
top.addHandler(logging.StreamHandler(sys.stdout))
top.setLevel(logging.INFO)
model.log.info("launched %d", 1)
model.worker_log.error("launched %d", 2)
print("done", flush=True)
