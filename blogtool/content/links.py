"""Links to other sites that still lead somewhere: ``check --links``, and the run's look at the
coming newsletter's links before its proof goes.

Each address is asked with HEAD, and with GET when HEAD gets an error (many servers refuse or
mishandle HEAD); redirects are followed by hand, so a loop and a redirect to a login page are
seen for what they are. A few hosts are asked at a time, each host one request at a time, every
request with a timeout. Answers are kept for a day (``.blogtool/cache/links.json``): a second
check the same day asks nobody again.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import socket
import ssl
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from blogtool import __version__
from blogtool.config import CONFIG_NAME, Config, config_lines, line_in
from blogtool.content import markdown
from blogtool.content.model import Item
from blogtool.errors import Problem
from blogtool.files import private_dir, write_atomic
from blogtool.i18n import _

#: How long an answer is trusted.
REMEMBER = dt.timedelta(days=1)
MAX_REDIRECTS = 10
#: Where a redirect lands when the page behind it needs a login (a dead end for readers).
_LOGIN = re.compile(
    r"(?i)(?:^|[/_.=-])(?:log-?in|sign-?in|logga-?in|inloggning|wp-login\.php|sso|cas|adfs|"
    r"oauth2?|authorize|auth)(?:$|[/_.?&=-])"
)


@dataclass(frozen=True)
class Place:
    """Where a link is written: a content file's line, or a key of blogtool.toml."""

    path: Path
    line: int | None = None
    key: str | None = None


@dataclass(frozen=True)
class Verdict:
    url: str
    ok: bool
    reason: str  # "200 OK", "404 Not Found", "no such host", ...
    checked_at: float  # seconds since the epoch


def is_external(target: str) -> bool:
    parts = urlsplit(target)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def external_links(
    config: Config, items: Iterable[Item], services: bool = True
) -> dict[str, list[Place]]:
    """Every address on another site that ``items`` link to (links and pictures, as
    Python-Markdown reads them: not in code or comments), with where each is written; with
    ``services``, every configured service's addresses too (else only those of the services
    ``items`` feature)."""
    found: dict[str, list[Place]] = defaultdict(list)
    featured: set[str] = set()
    for item in items:
        for ref in markdown.references(item.body):
            if is_external(ref.target):
                line = item.body_line + item.body.count("\n", 0, ref.offset)
                found[ref.target].append(Place(item.path, line))
        if item.service:
            featured.add(item.service)
    toml = config_lines(config)  # (read once for every service's lines)
    for key, service in config.services.items():
        if not services and key not in featured:
            continue
        for field in ("url", "app_store", "google_play"):
            address = getattr(service, field)
            if address and is_external(address):
                at = line_in(toml, f"services.{key}", field)
                found[address].append(Place(Path(CONFIG_NAME), at, f"[services.{key}] {field}"))
    return dict(found)


# --- asking -----------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back as it is: the checker follows them itself."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects())


def _ask(
    opener: urllib.request.OpenerDirector, url: str, method: str, timeout: float, agent: str
) -> tuple[int, str, str | None]:
    """(status, reason, Location) of one request; raises OSError when there is no answer."""
    request = urllib.request.Request(url, method=method, headers={"User-Agent": agent})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.reason, response.headers.get("Location")
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, str(exc.reason), exc.headers.get("Location")


def _failure(exc: BaseException, timeout: float) -> str:
    """Why there was no answer, in a few words."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, socket.gaierror):
        return _("no such host")
    if isinstance(reason, TimeoutError | socket.timeout):
        return _("no answer within {seconds:g} s").format(seconds=timeout)
    if isinstance(reason, ConnectionRefusedError):
        return _("connection refused")
    if isinstance(reason, ssl.SSLError):
        return _("TLS error: {reason}").format(reason=getattr(reason, "reason", None) or reason)
    if isinstance(reason, http.client.HTTPException | ConnectionError):
        return _("the connection broke: {reason}").format(reason=type(reason).__name__)
    return str(reason)


def probe(url: str, timeout: float, agent: str = "", now: float = 0.0) -> Verdict:
    """Whether ``url`` leads to a page: HEAD, GET when HEAD gets an error, redirects followed
    (at most ten, none twice, none to a login page)."""
    agent = agent or f"blogtool/{__version__} (link check)"
    opener = _opener()
    seen: list[str] = []
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        if current in seen:
            return Verdict(url, False, _("a redirect loop ({url})").format(url=current), now)
        seen.append(current)
        try:
            status, reason, location = _ask(opener, current, "HEAD", timeout, agent)
            if status >= 400:  # refused (405, 501) or mishandled: what GET says counts
                status, reason, location = _ask(opener, current, "GET", timeout, agent)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return Verdict(url, False, _failure(exc, timeout), now)
        if 300 <= status < 400 and location:
            target = urljoin(current, location)
            if _LOGIN.search(urlsplit(target).path + "?" + urlsplit(target).query):
                return Verdict(
                    url, False, _("redirects to a login page ({url})").format(url=target), now
                )
            current = target
            continue
        return Verdict(url, status < 400, f"{status} {reason}".strip(), now)
    return Verdict(url, False, _("more than {n} redirects").format(n=MAX_REDIRECTS), now)


class LinkChecker:
    """Checks addresses a few hosts at a time, one request at a time per host, and keeps the
    answers for a day in ``cache``."""

    def __init__(self, cache: Path, timeout: float = 10, workers: int = 4):
        self.cache, self.timeout, self.workers = cache, timeout, workers

    @classmethod
    def for_site(cls, config: Config) -> LinkChecker:
        """The site's checker: its [check] timeout and hosts at once, its day of answers."""
        cache = config.state_dir / "cache" / "links.json"
        return cls(cache, config.check.link_timeout, config.check.link_hosts)

    def _load(self) -> dict[str, Verdict]:
        try:
            raw = json.loads(self.cache.read_text("utf-8"))
            return {url: Verdict(url, bool(v[0]), str(v[1]), float(v[2])) for url, v in raw.items()}
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            return {}

    def _save(self, known: dict[str, Verdict], now: float) -> None:
        fresh = {
            url: [v.ok, v.reason, v.checked_at]
            for url, v in sorted(known.items())
            if now - v.checked_at < REMEMBER.total_seconds()
        }
        private_dir(self.cache.parent)
        write_atomic(
            self.cache, json.dumps(fresh, ensure_ascii=False).encode("utf-8"), durable=False
        )

    def check(
        self,
        urls: Iterable[str],
        now: dt.datetime,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[dict[str, Verdict], int]:
        """A verdict for each of ``urls``; and how many came from the last day's answers."""
        stamp = now.timestamp()
        known = self._load()
        wanted = sorted(set(urls))
        remembered = {
            u: known[u]
            for u in wanted
            if u in known and 0 <= stamp - known[u].checked_at < REMEMBER.total_seconds()
        }
        by_host: dict[str, list[str]] = defaultdict(list)
        for url in wanted:
            if url not in remembered:
                by_host[urlsplit(url).netloc.lower()].append(url)
        done: list[Verdict] = []
        total = sum(len(v) for v in by_host.values())

        def one_host(host_urls: list[str]) -> list[Verdict]:
            verdicts = []
            for url in host_urls:
                verdicts.append(probe(url, self.timeout, now=stamp))
                done.append(verdicts[-1])
                if progress is not None:
                    progress(len(done), total)
            return verdicts

        verdicts = dict(remembered)
        if by_host:
            with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
                for result in pool.map(one_host, by_host.values()):
                    verdicts.update((v.url, v) for v in result)
            self._save({**known, **verdicts}, stamp)
        return verdicts, len(remembered)


def problems(found: dict[str, list[Place]], verdicts: dict[str, Verdict]) -> list[Problem]:
    """A problem at every place a broken address is written."""
    out = []
    for url, places in sorted(found.items()):
        verdict = verdicts.get(url)
        if verdict is None or verdict.ok:
            continue
        for place in places:
            out.append(
                Problem(
                    place.path,
                    _("link {url}: {reason}").format(url=url, reason=verdict.reason),
                    key=place.key,
                    line=place.line,
                )
            )
    return out
