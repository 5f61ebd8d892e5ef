"""Who is using the studio, and what they may do.

Two ways in:
- Locally, ``blogtool studio`` prints a login address with a one-time token (as Jupyter does).
  Opening it sets a session cookie (HttpOnly, SameSite=Strict, Secure under https) that lasts
  ``[studio] session``; the token is then spent, and a new one is printed for the next browser.
- Behind the municipality's single sign-on proxy, ``[studio] user_header`` names the person,
  believed only from ``[studio] trusted_proxy``.

Either way the person must be in ``[studio.people]`` (or, with nobody listed, be the one who
started the studio), and every request that changes something carries a CSRF token tied to
the session. Cookies and tokens are signed with the site's secret.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

from blogtool.config import Config

COOKIE = "blogtool_studio"


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # "writer" or "publisher"

    @property
    def publishes(self) -> bool:
        return self.role == "publisher"

    @property
    def email(self) -> str | None:
        return self.name if "@" in self.name else None


@dataclass(frozen=True)
class Session:
    person: Person
    id: str  # what the CSRF token is tied to


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Gate:
    """Logins, sessions and CSRF tokens of one studio process."""

    def __init__(
        self,
        config: Config,
        secret: bytes,
        now: Callable[[], dt.datetime],
        local_user: str,
    ):
        self.config, self.now = config, now
        self.key = hashlib.sha256(b"blogtool-studio\0" + secret).digest()
        self.local_user = local_user
        self.lock = threading.Lock()
        self.login_token = secrets.token_urlsafe(24)
        self.ended: set[str] = set()  # sessions logged out before they expired

    # --- people ---------------------------------------------------------------------------------

    def person(self, name: str) -> Person | None:
        """The person ``name`` as the studio knows them, or None if they may not use it."""
        people = self.config.studio.people
        if people:
            role = people.get(name)
            return Person(name, role) if role else None
        return Person(name, "publisher") if name == self.local_user else None

    # --- the one-time login ---------------------------------------------------------------------

    def take_login(self, token: str) -> str | None:
        """The cookie value for a login with ``token``, which is then spent (a new one is made
        for the next login); None for any other token."""
        with self.lock:
            if not token or not hmac.compare_digest(token, self.login_token):
                return None
            self.login_token = secrets.token_urlsafe(24)
        return self.cookie_for(self.local_user)

    def cookie_for(self, name: str) -> str:
        expires = int((self.now() + self.config.studio.session).timestamp())
        body = f"{_b64(name.encode('utf-8'))}.{expires}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._sign('session', body)}"

    def _sign(self, purpose: str, text: str) -> str:
        mac = hmac.new(self.key, f"{purpose}\0{text}".encode(), hashlib.sha256).digest()
        return _b64(mac[:24])

    # --- each request ---------------------------------------------------------------------------

    def session(self, cookie: str | None, header_user: str | None) -> Session | None:
        """Who sent a request: the sign-on proxy's header (``header_user``, already checked to
        come from the trusted proxy), else a valid session cookie."""
        if header_user:
            person = self.person(header_user)
            return Session(person, f"sso\0{person.name}") if person else None
        if not cookie or cookie.count(".") != 3:
            return None
        body, _sep, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._sign("session", body)):
            return None
        name_part, expires, nonce = body.split(".")
        try:
            name = _unb64(name_part).decode("utf-8")
            ends = int(expires)
        except ValueError:
            return None
        if ends < self.now().timestamp() or nonce in self.ended:
            return None
        person = self.person(name)
        return Session(person, nonce) if person else None

    def end(self, session: Session) -> None:
        with self.lock:
            self.ended.add(session.id)

    def csrf(self, session: Session) -> str:
        return self._sign("csrf", session.id)

    def csrf_ok(self, session: Session, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf(session))

    def lifetime(self) -> int:
        return int(self.config.studio.session.total_seconds())
