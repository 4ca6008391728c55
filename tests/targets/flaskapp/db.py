"""A stand-in for an ORM: every query is counted, and LazyRows runs one
whenever it is asked for its repr, length, items or a missing attribute, as
a Django QuerySet does.  A diagnostic tool that formats it changes what the
application does; the test checks the counts."""
QUERIES = 0


def query(sql):
    global QUERIES
    QUERIES += 1
    return [(i, i * i) for i in range(3)]


class LazyRows:
    def __init__(self, table):
        self.table = table

    def __repr__(self):
        return "<LazyRows %r>" % (query("select * from " + self.table),)

    def __len__(self):
        return len(query("select count(*) from " + self.table))

    def __iter__(self):
        return iter(query("select * from " + self.table))

    def __getattr__(self, name):
        query("select %s from %s" % (name, self.table))
        raise AttributeError(name)
