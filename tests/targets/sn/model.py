"""Classes, loggers and values the snapshot probes look at
(test_snapshot_probes).  Reading any property here counts in READS: the
probes must never run one."""
import functools
import logging

log = logging.getLogger("sn.app")
worker_log = logging.getLogger("sn.app.worker")

READS = {"count": 0}
SETTINGS = {"name": "demo", "retries": 3, "password": "hunter2"}


class Cart:
    """A class with one method of each kind."""

    TAX = 0.2

    def __init__(self, owner, items=None):
        self.owner = owner
        self.items = list(items or [])

    def total(self, discount=0, *extra, rounding=2, **opts):
        return sum(self.items) - discount

    @classmethod
    def empty(cls, owner):
        return cls(owner)

    @staticmethod
    def parse(text, /, sep=","):
        return text.split(sep)

    @property
    def size(self):
        READS["count"] += 1
        return len(self.items)

    @functools.cached_property
    def summary(self):
        READS["count"] += 1
        return "%s: %d" % (self.owner, len(self.items))

    async def checkout(self, card):
        return card

    def _private(self):
        return None

    class Line:
        """A nested class: sc finds it as sn.model.Cart.Line."""

        def __init__(self, sku):
            self.sku = sku


class Registry:
    """Holds a cart; looking up a missing attribute runs program code."""

    def __init__(self):
        self.default = Cart("alice", [1, 2, 3])

    def __getattr__(self, name):
        READS["count"] += 1
        raise AttributeError(name)


REGISTRY = Registry()
CARTS = [Cart("bob", [5]), Cart("carol", [1, 1])]
