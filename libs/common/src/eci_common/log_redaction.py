"""Secrets never reach a log line, and personal data only masked.

`redact` is a structlog processor, run on every line (ours and the standard library's) just
before rendering:
- the value of a key that names a secret (`password`, `secret`, `token`, `authorization`,
  `api_key`, `jwt`, `cookie`, …) becomes `***`, whatever it is;
- the value of a key that names personal data is masked: e-mails `j***@example.com`, phone
  numbers to their last two digits, names to their initial (strings only: `emails_sent=3` stays);
  `name` counts as personal inside a `contact`, `contacts`, `person` or `recipient` value;
- in every string: the user and password of a URI (`mongodb://***@host`), secret query
  parameters (`?token=***`), bearer tokens and JWTs, and e-mail addresses are masked.
"""

import functools
import re
from collections.abc import Mapping
from enum import Enum, auto
from typing import Any, Final

from structlog.typing import EventDict, WrappedLogger

MASK: Final = "***"
_MAX_DEPTH = 6

_SECRET_KEY = re.compile(
    r"passw(or)?d|passphrase|secret|token|authori[sz]ation|api_?key|jwt|credential|cookie"
    r"|private_?key|signature"
)
_EMAIL_KEY = re.compile(r"e_?mail")
_PHONE_KEY = re.compile(r"phone|mobile")
_NAME_KEYS: Final = frozenset(
    {
        "first_name",
        "last_name",
        "full_name",
        "given_name",
        "family_name",
        "surname",
        "contact_name",
        "person_name",
        "recipient_name",
    }
)
# Inside these, a plain `name` is a person's.
_PERSON_CONTAINERS: Final = frozenset({"contact", "contacts", "person", "people", "recipient"})

_URI_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_SECRET_QUERY = re.compile(
    r"(?P<name>[?&;](?:[a-z_]*token|secret|password|passwd|api_?key|key|sig|signature|jwt)=)"
    r"[^&#;\s]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b(?P<scheme>bearer)\s+[A-Za-z0-9._~+/=-]{16,}", re.IGNORECASE)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_EMAIL = re.compile(
    r"(?P<first>[A-Za-z0-9_%+-])[A-Za-z0-9._%+-]*@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)


def mask_email(value: str) -> str:
    """`jean.dupont@example.com` → `j***@example.com`."""
    return _EMAIL.sub(lambda m: f"{m['first']}{MASK}@{m['domain']}", value)


def scrub_text(value: str) -> str:
    """Masks credentials in URIs, secret query parameters, tokens and e-mails in free text.

    Each pattern runs only on text holding the character it cannot match without (`@`, `=`,
    `eyJ`, `bearer`): most values of a line (event names, ids, topics) hold none of them, and
    this runs on every string of every line."""
    if "@" in value:
        value = _URI_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", value)
    if "=" in value:
        value = _SECRET_QUERY.sub(lambda m: f"{m['name']}{MASK}", value)
    if "bearer" in value.lower():
        value = _BEARER.sub(lambda m: f"{m['scheme']} {MASK}", value)
    if "eyJ" in value:
        value = _JWT.sub(MASK, value)
    return mask_email(value) if "@" in value else value


def _mask_phone(value: Any) -> str:
    digits = re.sub(r"\D", "", str(value))
    # A short number shows nothing: two digits of four say too much.
    return f"{MASK}{digits[-2:]}" if len(digits) > 4 else MASK


def _mask_name(value: Any) -> str:
    text = str(value).strip()
    return f"{text[0]}{MASK}" if text else MASK


class _Kind(Enum):
    """What a key says of its value."""

    SECRET = auto()
    EMAIL = auto()
    PHONE = auto()
    NAME = auto()
    OTHER = auto()


@functools.lru_cache(maxsize=1024)
def _kind(key: str) -> _Kind:
    """A key's kind, worked out once per key: lines reuse a small set of keys."""
    if _SECRET_KEY.search(key):
        return _Kind.SECRET
    if _EMAIL_KEY.search(key):
        return _Kind.EMAIL
    if _PHONE_KEY.search(key):
        return _Kind.PHONE
    if key in _NAME_KEYS:
        return _Kind.NAME
    return _Kind.OTHER


def _personal(kind: _Kind, key: str, value: Any, in_person: bool) -> str | None:
    """The masked value when the key names personal data, else None (a count of e-mails sent is
    not personal: only strings are masked by their key)."""
    if not isinstance(value, str):
        return None
    if kind is _Kind.EMAIL:
        return mask_email(value) if "@" in value else MASK
    if kind is _Kind.PHONE:
        return _mask_phone(value)
    if kind is _Kind.NAME or (in_person and key == "name"):
        return _mask_name(value)
    return None


def _normalised(key: Any) -> str:
    return str(key).lower().replace("-", "_")


def _scrub(value: Any, *, depth: int, in_person: bool) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if depth >= _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            key: _scrub_item(key, item, depth=depth + 1, in_person=in_person)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(item, depth=depth + 1, in_person=in_person) for item in value]
    return value


def _scrub_item(key: Any, value: Any, *, depth: int, in_person: bool) -> Any:
    name = _normalised(key)
    if value is None:
        return None
    kind = _kind(name)
    if kind is _Kind.SECRET:
        return MASK
    masked = _personal(kind, name, value, in_person)
    if masked is not None:
        return masked
    return _scrub(value, depth=depth, in_person=in_person or name in _PERSON_CONTAINERS)


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The structlog processor: a masked copy of the line (the caller's objects are untouched)."""
    return {
        key: _scrub_item(key, value, depth=0, in_person=False) for key, value in event_dict.items()
    }
