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

_PURPOSE = b"blogtool-unsubscribe-v1"


class SecretMissing(BlogtoolError):
    pass


def secret_from(value: str | None, name: str) -> bytes:
    """The signing key, checked: at least 16 characters. ``name`` is where it came from."""
    value = value or ""
    if len(value) < 16 or value.startswith("change-me"):
        problem = (
            "is not set"
            if not value
            else "is shorter than 16 characters"
            if len(value) < 16
            else "is still the placeholder from the README"
        )
        raise SecretMissing(
            f"{name} {problem}; unsubscribe links are signed with it. Create one with\n"
            "  python3 -c 'import secrets; print(secrets.token_urlsafe(32))'\n"
            f"and keep it in the environment of every blogtool run (never in blogtool.toml)"
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
