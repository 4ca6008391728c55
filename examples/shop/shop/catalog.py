import random


class Product:
    def __init__(self, sku, name, cents):
        self.sku = sku
        self.name = name
        self.cents = cents

    @property
    def price(self):
        return self.cents / 100

    def __repr__(self):
        return "Product(%r)" % self.sku


class Catalog:
    currency = "EUR"

    def __init__(self):
        self._items = {
            "apple": Product("apple", "Apple", 45),
            "bread": Product("bread", "Bread", 260),
            "cheese": Product("cheese", "Cheese", 1290),
            "coffee": Product("coffee", "Coffee", 899),
        }

    def lookup(self, sku):
        return self._items[sku]

    def skus(self):
        return list(self._items)

    @classmethod
    def default(cls):
        return cls()

    @staticmethod
    def tax_rate(country):
        return {"DE": 0.19, "FR": 0.20, "NL": 0.21}.get(country, 0.0)


def random_order(catalog, rng=random):
    return [(rng.choice(catalog.skus()), rng.randint(1, 4)) for _ in range(rng.randint(1, 5))]
