"""Launch-mode target for the snapshot probes: imports sn.model, sets
logging up with basicConfig (which does nothing when the root logger has
a handler already: a capture must not add one), logs two records and
exits."""
import logging
import sys

from sn import model

logging.basicConfig(stream=sys.stdout, format="%(message)s", level=logging.INFO)
model.log.info("launched %d", 1)
model.worker_log.error("launched %d", 2)
print("done", flush=True)
