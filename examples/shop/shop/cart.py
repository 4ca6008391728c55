from shop.catalog import Catalog


class Cart:
    def __init__(self, catalog, country="DE"):
        self.catalog = catalog
        self.country = country
        self.lines = []

    def add(self, sku, qty=1):
        product = self.catalog.lookup(sku)
        self.lines.append((product, qty))
        return len(self.lines)

    def subtotal(self):
        return sum(p.price * q for p, q in self.lines)

    def total(self):
        sub = self.subtotal()
        return round(sub * (1 + Catalog.tax_rate(self.country)), 2)
