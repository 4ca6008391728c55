"""What the redaction tests watch: a login that gets secrets in every way
the agent can see one (rd/secrets.py lists them)."""
from rd import secrets


class Creds:
    def __init__(self, user):
        self.user = user
        self.password = secrets.ATTR_PW
        self.api_key = secrets.ATTR_KEY
        self.pin = secrets.CUSTOM

    def check(self, password):
        return password == self.password


class SlotCreds:
    __slots__ = ("user", "token")

    def __init__(self, user):
        self.user = user
        self.token = secrets.SLOT_TOKEN


def login(user, password, creds, *, token=None, **extra):
    return {"user": user, "ok": True, "session": secrets.SESSION,
            "meta": {"cookie": secrets.COOKIE, "visits": 3}}


def refuse(user, password):
    raise PermissionError("login refused for user=%s password=%s token: '%s' Authorization: Bearer %s"
                          % (user, secrets.EXC_PW, secrets.EXC_TOKEN, secrets.BEARER))


def call_once(i):
    """One round of every call the tests count."""
    creds = Creds("alice")
    login("alice", secrets.PASSWORD, creds, token=secrets.TOKEN, api_key=secrets.API_KEY,
          auth={"user": "alice", "auth": {"Password": secrets.NESTED, "round": i}})
    login("bob", secrets.PASSWORD, SlotCreds("bob"), note="keep-me-%d" % i)
    creds.check(secrets.PASSWORD)
    try:
        refuse("carol", secrets.PASSWORD)
    except PermissionError:
        pass


def profile(user):
    """Values larger than the tests' --max-items, --max-attrs, --max-string."""
    return {"bio": "b" * 50, "tags": list(range(30)), "creds": Creds(user), "name": user}
