"""Values that count every call of their overridable methods.  The Lazy
class is shaped like Django's QuerySet: its repr, len and iteration would
run a database query."""
CALLS = {}


def hit(name):
    CALLS[name] = CALLS.get(name, 0) + 1


class Lazy:
    def __init__(self):
        self.model = "Book"

    def __repr__(self):
        hit("repr")
        return "<Lazy>"

    def __str__(self):
        hit("str")
        return "lazy"

    def __len__(self):
        hit("len")
        return 3

    def __iter__(self):
        hit("iter")
        return iter([1, 2, 3])

    def __getattr__(self, name):
        hit("getattr")
        raise AttributeError(name)

    def __getattribute__(self, name):
        if name not in ("model", "__class__", "__dict__"):
            hit("getattribute")
        return object.__getattribute__(self, name)

    @property
    def count(self):
        hit("property")
        return 3


class Slotted:
    __slots__ = ("x", "y", "_hidden", "unset")

    def __init__(self):
        self.x, self.y, self._hidden = 1, "two", 3

    def __repr__(self):
        hit("slotted_repr")
        return "S"


class MyList(list):
    def __iter__(self):
        hit("list_iter")
        return super().__iter__()

    def __getitem__(self, i):
        hit("list_getitem")
        return super().__getitem__(i)

    def __len__(self):
        hit("list_len")
        return super().__len__()

    def __repr__(self):
        hit("list_repr")
        return "MyList"


class MyDict(dict):
    def items(self):
        hit("dict_items")
        return super().items()

    def keys(self):
        hit("dict_keys")
        return super().keys()

    def __iter__(self):
        hit("dict_iter")
        return super().__iter__()

    def __getitem__(self, k):
        hit("dict_getitem")
        return super().__getitem__(k)


class MySet(set):
    def __iter__(self):
        hit("set_iter")
        return super().__iter__()


class MyInt(int):
    def __repr__(self):
        hit("int_repr")
        return "MyInt"

    def __str__(self):
        hit("int_str")
        return "MyInt"


class Key:
    def __str__(self):
        hit("key_str")
        return "k"

    def __repr__(self):
        hit("key_repr")
        return "k"


class Meta(type):
    def __repr__(cls):
        hit("meta_repr")
        return "Meta"


class WithMeta(metaclass=Meta):
    pass


class Fails(Exception):
    def __str__(self):
        hit("exc_str")
        return "custom"


def take(*args, **kwargs):
    return args[0]


def fail(x):
    raise Fails("from args", 7)


def run():
    for _ in range(3):
        take(Lazy(), Slotted(), MyList([1, 2, 3]), MyDict(a=1, b=Lazy()), MySet([5]), MyInt(5),
             {Key(): 1, 2: "two"}, [Lazy()], WithMeta, WithMeta(), 10 ** 30, MyInt(10 ** 30),
             deep=[[Lazy()]])
        try:
            fail(Lazy())
        except Fails:
            pass


def counts_text():
    return ",".join("%s=%d" % kv for kv in sorted(CALLS.items())) or "none"
