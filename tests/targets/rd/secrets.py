"""The values the redaction tests hide: each must not appear anywhere in an
archive recorded with the default rules (tests/e2e/test_redact.py reads this
file too)."""
PASSWORD = "hunter2-PW-1"          # positional parameter `password`
TOKEN = "tok-7f3a-KW"              # keyword argument `token`
API_KEY = "ak-99-KWARG"            # keyword argument `api_key`, caught by **extra
NESTED = "nested-pw-9d"            # {"auth": {"Password": ...}} two levels down
ATTR_PW = "attr-pw-55"             # Creds().password, an object attribute
ATTR_KEY = "attr-key-66"           # Creds().api_key
SLOT_TOKEN = "slot-tok-77"         # SlotCreds().token, a __slots__ attribute
SESSION = "sess-5150-RET"          # {"session": ...} in the returned dict
COOKIE = "cookie-c00k-RET"         # {"cookie": ...} nested in the returned dict
EXC_PW = "exc-pw-31"               # "password=..." in an exception message
EXC_TOKEN = "exc-tok-32"           # "token: '...'" in an exception message
BEARER = "bearer-cred-33"          # "Authorization: Bearer ..." in a message
CUSTOM = "pin-4242-CUSTOM"         # `pin`: hidden only by --redact pin

ALL = [PASSWORD, TOKEN, API_KEY, NESTED, ATTR_PW, ATTR_KEY, SLOT_TOKEN, SESSION, COOKIE,
       EXC_PW, EXC_TOKEN, BEARER]
