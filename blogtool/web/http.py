"""HTTP for the reader service: requests and responses, refusals with their status, the
form reader with its size limit, and the same-origin check for forms."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from blogtool.config import Config

MAX_FORM = 4096  # bytes: the largest form the service takes
LONG_FORM = 4 * MAX_FORM  # bytes: a form with free text (a reader's report), percent-encoded
StartResponse = Callable[..., Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
SECURITY_HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Robots-Tag", "noindex"),
    ("Referrer-Policy", "same-origin"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
]
STATUS = {
    200: "200 OK",
    303: "303 See Other",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    409: "409 Conflict",
    410: "410 Gone",
    413: "413 Content Too Large",
    429: "429 Too Many Requests",
    500: "500 Internal Server Error",
    503: "503 Service Unavailable",
}


@dataclass
class Request:
    method: str
    path: str  # below the service's base path, without a leading /
    query: dict[str, list[str]]
    headers: dict[str, str]
    client: str
    form: dict[str, list[str]] = field(default_factory=dict)

    def value(self, name: str, source: str = "form") -> str:
        values = (self.form if source == "form" else self.query).get(name) or [""]
        return values[0].strip()

    @property
    def token(self) -> str:
        return self.value("t") or self.value("t", "query")


@dataclass
class Response:
    code: int
    body: bytes
    kind: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


class Refused(Exception):
    """A request the service answers with a message page and a status, storing nothing."""

    def __init__(self, code: int, kind: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(kind)
        self.code, self.kind, self.headers = code, kind, headers or []


def check_origin(config: Config, request: Request) -> None:
    """A form must come from the site itself (or the service's own host): Origin, or the
    Referer's origin, is this request's host or the site's. Neither is refused."""
    origin = request.headers.get("origin") or ""
    if not origin or origin == "null":
        referer = urlsplit(request.headers.get("referer", ""))
        origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else ""
    if not origin:
        raise Refused(403, "origin")
    host = urlsplit(origin).netloc.lower()
    allowed = {request.headers.get("host", "").lower()}
    for url in (config.site.base_url, config.web.base_url or ""):
        allowed.add(urlsplit(url).netloc.lower())
    if host not in allowed - {""}:
        raise Refused(403, "origin")


def read_form(environ: dict[str, Any], limit: int = MAX_FORM) -> dict[str, list[str]]:
    """The posted form; Refused(413) when it is larger than ``limit`` bytes, 400 when
    malformed."""
    length = str(environ.get("CONTENT_LENGTH") or "0").strip()
    if not length.isdigit():
        raise Refused(400, "malformed")
    if int(length) > limit:
        raise Refused(413, "too-large")
    body = environ["wsgi.input"].read(int(length))
    try:
        return parse_qs(body.decode("utf-8"), max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "malformed") from None
