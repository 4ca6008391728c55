import asyncio


class PaymentDeclined(Exception):
    pass


def charge(card, amount):
    """Declines cards ending in 13, like a real gateway would now and then."""
    if card.endswith("13"):
        raise PaymentDeclined("card ending %s declined" % card[-4:])
    return {"card": card[-4:], "amount": amount, "status": "ok"}


async def authorize(card, amount):
    await asyncio.sleep(0.001)
    return amount < 500
