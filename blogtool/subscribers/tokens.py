"""Signed unsubscribe tokens: nobody can unsubscribe someone else by guessing a link.

A token is ``<subscriber id>.<signature>``, the signature an HMAC-SHA256 over the purpose, the
id and the address, keyed with ``BLOGTOOL_SECRET``. Changing the address or the secret voids
the token; the id alone reveals nothing about the person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from blogtool.errors import BlogtoolError
from blogtool.i18n import _

_PURPOSE = b"blogtool-unsubscribe-v1"


class SecretMissing(BlogtoolError):
    pass


def secret_problem(value: str | None) -> str | None:
    """What is wrong with a signing key ("is not set"), or None if it will do: at least 16
    characters, and not the README's placeholder."""
    value = value or ""
    if not value:
        return _("is not set")
    if len(value) < 16:
        return _("is shorter than 16 characters")
    if value.startswith("change-me"):
        return _("is still the placeholder from the README")
    return None


def secret_from(value: str | None, name: str) -> bytes:
    """The signing key, checked (``secret_problem``). ``name`` is where it came from."""
    value = value or ""
    problem = secret_problem(value)
    if problem is not None:
        raise SecretMissing(
            _(
                "{name} {problem}; unsubscribe links are signed with it. Create one with\n"
                "  python3 -c 'import secrets; print(secrets.token_urlsafe(32))'\n"
                "and keep it in the environment of every blogtool run (never in blogtool.toml)"
            ).format(name=name, problem=problem)
        )
    return value.encode("utf-8")


def _signature(secret: bytes, subscriber_id: int, email_key: str) -> str:
    mac = hmac.new(
        secret,
        _PURPOSE + b"\0" + str(subscriber_id).encode() + b"\0" + email_key.encode(),
        hashlib.sha256,
    )
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode("ascii")


def make_token(secret: bytes, subscriber_id: int, email_key: str) -> str:
    return f"{subscriber_id}.{_signature(secret, subscriber_id, email_key)}"


# An id that fits SQLite's integers, then the 24 characters of an 18-byte urlsafe base64 MAC.
_TOKEN = re.compile(r"([0-9]{1,18})\.([A-Za-z0-9_-]{24})")


def parse_token(token: str) -> tuple[int, str] | None:
    """(subscriber id, signature), or None for anything that is not a token's shape."""
    m = _TOKEN.fullmatch(token.strip())
    return (int(m.group(1)), m.group(2)) if m else None


def verify_token(secret: bytes, token: str, email_key: str) -> bool:
    parsed = parse_token(token)
    if parsed is None:
        return False
    subscriber_id, signature = parsed
    return hmac.compare_digest(signature, _signature(secret, subscriber_id, email_key))


# --- links of the reader service ---------------------------------------------------------------
#
# ``<purpose>.<id>.<expires>.<signature>``: the HMAC covers the purpose, the id, the expiry and a
# binding (the address, or a sign-up's nonce), so a confirmation link cannot be used as a data
# link, an expired one cannot be renewed by editing it, and a link stops working when the address
# it was made for is gone. Purposes are short words; ids and expiry are integers.

_LINK = re.compile(r"([a-z]{2,12})\.([0-9]{1,18})\.([0-9]{1,12})\.([A-Za-z0-9_-]{24})")


class BadLink(BlogtoolError):
    """A reader-service link that is forged, altered, or not for this purpose."""


class ExpiredLink(BlogtoolError):
    """A genuine link whose time is up."""


def _link_signature(secret: bytes, purpose: str, ident: int, expires: int, binding: str) -> str:
    message = f"blogtool-link-v1\0{purpose}\0{ident}\0{expires}\0{binding}".encode()
    mac = hmac.new(secret, message, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode("ascii")


def make_link_token(secret: bytes, purpose: str, ident: int, binding: str, expires: int = 0) -> str:
    """A token for ``purpose`` about row ``ident``; ``expires`` is a Unix time (0: never)."""
    signature = _link_signature(secret, purpose, ident, expires, binding)
    return f"{purpose}.{ident}.{expires}.{signature}"


def link_id(token: str, purpose: str) -> int:
    """The row a token names, before it can be checked (the binding is in that row)."""
    m = _LINK.fullmatch(token.strip())
    if m is None or m.group(1) != purpose:
        raise BadLink(_("not a link of this kind"))
    return int(m.group(2))


def check_link_token(secret: bytes, token: str, purpose: str, binding: str, now: float) -> None:
    """Raises BadLink for a forged, altered or foreign token, ExpiredLink for a late one."""
    m = _LINK.fullmatch(token.strip())
    if m is None or m.group(1) != purpose:
        raise BadLink(_("not a link of this kind"))
    ident, expires = int(m.group(2)), int(m.group(3))
    expected = _link_signature(secret, purpose, ident, expires, binding)
    if not hmac.compare_digest(m.group(4), expected):
        raise BadLink(_("the link's signature does not match"))
    if expires and now > expires:
        raise ExpiredLink(_("the link has expired"))


# --- VERP: which delivery a bounce is about -------------------------------------------------------
#
# ``<delivery id>-<16 hex digits>`` in the envelope sender (``bounces+{token}@...``): lower case
# and digits only, since some mail systems fold the case of local parts.


def verp_token(secret: bytes, delivery_id: int) -> str:
    mac = hmac.new(secret, f"blogtool-verp-v1\0{delivery_id}".encode(), hashlib.sha256)
    return f"{delivery_id}-{mac.hexdigest()[:16]}"


_VERP = re.compile(r"([0-9]{1,18})-([0-9a-f]{16})")


def verp_delivery(secret: bytes, token: str) -> int:
    """The delivery a VERP token names; BadLink if it is not one blogtool signed."""
    m = _VERP.fullmatch(token.strip().lower())
    if m is None:
        raise BadLink(_("not a bounce token"))
    if not hmac.compare_digest(verp_token(secret, int(m.group(1))), m.group(0)):
        raise BadLink(_("the bounce token's signature does not match"))
    return int(m.group(1))
