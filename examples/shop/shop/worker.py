import asyncio
import random
import threading
import time

from shop.cart import Cart
from shop.catalog import Catalog, random_order
from shop.payments import PaymentDeclined, authorize, charge


def checkout(order, card, country="DE"):
    cart = Cart(Catalog.default(), country)
    for sku, qty in order:
        cart.add(sku, qty)
    amount = cart.total()
    if not asyncio.run(authorize(card, amount)):
        return {"status": "review", "amount": amount}
    return charge(card, amount)


def work(n, seed, stats, lock):
    rng = random.Random(seed)
    catalog = Catalog()
    for i in range(n):
        card = "4000 0000 0000 %04d" % rng.randint(0, 99)
        try:
            checkout(random_order(catalog, rng), card, rng.choice(["DE", "FR", "NL"]))
            key = "ok"
        except PaymentDeclined:
            key = "declined"
        with lock:
            stats[key] = stats.get(key, 0) + 1
        time.sleep(rng.uniform(0.001, 0.004))


def run(duration, threads=2, on_ready=None):
    """Processes orders on worker threads until `duration` seconds passed.
    on_ready() is called once, when the first round's threads are running:
    every module is imported and the service is in its steady state."""
    stats, lock = {}, threading.Lock()
    end = time.monotonic() + duration
    round_no = 0
    while time.monotonic() < end:
        ts = [threading.Thread(target=work, args=(50, round_no * 100 + t, stats, lock),
                               name="worker-%d" % t) for t in range(threads)]
        for t in ts:
            t.start()
        if on_ready:
            on_ready()
            on_ready = None
        for t in ts:
            t.join()
        round_no += 1
    return stats
