"""Values for watch --repr: one counts its repr calls, one raises from
repr, one recurses forever, one shows a secret in its repr."""
calls = 0


class Counted:
    def __repr__(self):
        global calls
        calls += 1
        return "<Counted #%d>" % calls


class Raises:
    def __repr__(self):
        raise ValueError("no repr for you")


class Recurses:
    def __repr__(self):
        return repr(self)


class Secret:
    def __repr__(self):
        return "Secret(user=ann, password=hunter2)"


def take(a, b, c, d):
    return 1
