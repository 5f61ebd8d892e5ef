"""The studio's web application: the overview, the planner, the editor with its live preview,
the coming newsletter, and the actions (save, schedule, unschedule, publish now, approve,
send a test, upload a picture).

Rules every page keeps:
- Files stay the truth. Every change goes through ``content.authoring`` (as ``new``,
  ``schedule`` and ``unschedule`` do): keys not touched keep their bytes, and a save over a
  file that changed on disk since it was opened is refused, showing both versions.
- A GET changes nothing; every change is a POST with the session's CSRF token, from the
  studio's own origin. A writer's request for a publisher's action is refused by the server,
  whatever the page showed.
- Pages are rendered on the server and work without JavaScript; the script the editor uses
  (``static/studio.js``) ships in the package, and the Content-Security-Policy allows no
  inline script.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import logging
import mimetypes
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jinja2
from markupsafe import Markup

from blogtool import i18n
from blogtool.config import Config
from blogtool.content import authoring, fields, lix, readiness
from blogtool.content.calendar import plan
from blogtool.content.kinds import Kind
from blogtool.content.load import load_site
from blogtool.content.model import Item, Site, Status
from blogtool.content.parse import parse_item
from blogtool.delivery.transports import Transport
from blogtool.errors import BlogtoolError, ContentError, Problem, UsageError
from blogtool.i18n import _
from blogtool.newsletter.issues import with_sample_links
from blogtool.newsletter.proofing import Coming, approve, approved_at, coming_issue, proofed
from blogtool.pictures import uploads
from blogtool.site.checks import problems as check_problems
from blogtool.site.templates import PACKAGE_TEMPLATES
from blogtool.store import opened
from blogtool.studio import forms, history
from blogtool.studio.auth import COOKIE, Gate, Person, Session
from blogtool.studio.preview import PREFIX, Previewer
from blogtool.timeutil import long_date, short_datetime, weekday_name
from blogtool.web import http
from blogtool.web.http import STATUS, Refused, StartResponse

log = logging.getLogger("blogtool.web")

STATIC = PACKAGE_TEMPLATES / "studio" / "static"
MAX_FORM = 2 * 1024 * 1024  # bytes of a form without a picture: a long text, percent-encoded
PREVIEWS = 64  # previews kept for their frames to load
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
# A preview of a page: the site's own markup, shown in the editor's frame; no script at all.
PREVIEW_CSP = (
    "default-src 'self'; script-src 'none'; img-src 'self' data:; frame-ancestors 'self'; "
    "form-action 'none'; base-uri 'none'; object-src 'none'"
)
# A letter as subscribers get it: its styles are inline (as mail needs them); it loads nothing
# from elsewhere, so its pictures show as their alt text.
LETTER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
HEADERS = [
    ("Cache-Control", "no-store"),
    ("X-Robots-Tag", "noindex"),
    ("Referrer-Policy", "same-origin"),
    ("X-Content-Type-Options", "nosniff"),
]
KIND_DIRS = {"posts": Kind.POST, "tips": Kind.TIP}


@dataclass
class Request(http.Request):
    """A request as the reader service reads one, and what the studio knows besides."""

    environ: dict[str, Any] = field(default_factory=dict)
    session: Session | None = None
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # name -> (filename, data)

    @property
    def person(self) -> Person:
        assert self.session is not None
        return self.session.person


@dataclass
class Response(http.Response):
    csp: str = CSP  # the studio's pages; a preview or a letter in a frame has its own


def redirect(location: str, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(303, b"", headers=[("Location", location), *headers])


class Studio:
    """The application. ``now`` is the clock; ``transport`` makes the mail transport for a
    test letter; ``secret`` signs sessions and a test letter's links."""

    def __init__(
        self,
        config: Config,
        secret: bytes,
        now: Callable[[], dt.datetime],
        gate: Gate,
        transport: Callable[[], Transport] | None = None,
        trusted_proxy: str | None = None,
    ):
        self.config, self.secret, self.now, self.gate = config, secret, now, gate
        self.transport = transport
        self.language = config.site.language
        self.words = i18n.reader(self.language)
        # The process speaks the site's language: what the core says of a file (a problem, a
        # refusal) is shown on the studio's pages, beside its own words.
        i18n.use(self.language)
        self.previewer = Previewer(config)
        self.previews: OrderedDict[str, bytes] = OrderedDict()
        self.previews_lock = threading.Lock()
        # Each text's LIX warning, by its content: counting it reads the text again (a few
        # milliseconds each, seconds for a big site), so the overview counts each text once.
        self.readability: dict[tuple[str, str], Problem | None] = {}
        self.env = _environment(config)
        self.trusted_proxy = trusted_proxy or config.studio.trusted_proxy
        self.on_login: Callable[[str], None] = lambda token: None  # a new login token is made
        self.routes: dict[str, tuple[set[str], Callable[[Request], Response]]] = {
            "": ({"GET"}, self.overview),
            "plan": ({"GET"}, self.planner),
            "new/post": ({"GET", "POST"}, self.new_item),
            "new/tip": ({"GET", "POST"}, self.new_item),
            "edit": ({"GET", "POST"}, self.edit),
            "show": ({"GET"}, self.show),
            "preview": ({"POST"}, self.preview),
            "preview-page": ({"GET"}, self.preview_page),
            "upload": ({"POST"}, self.upload),
            "newsletter": ({"GET"}, self.newsletter),
            "newsletter/letter": ({"GET"}, self.letter),
            "newsletter/approve": ({"POST"}, self.approve),
            "newsletter/test": ({"POST"}, self.send_test),
            "logout": ({"POST"}, self.logout),
        }

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            response = self.dispatch(environ, method)
        except Refused as refused:
            response = self.message(refused.code, refused.kind)
            response.headers += refused.headers
        except BlogtoolError as exc:  # a file that cannot be read, a state database that fails
            log.error("%s %s: %s", method, environ.get("PATH_INFO", ""), exc)
            response = self.render(500, "message.html", None, kind="error", detail=str(exc))
        except Exception:  # a bug: logged with its traceback, a page for the person
            log.exception("%s %s", method, environ.get("PATH_INFO", ""))
            response = self.message(500, "error")
        headers = [
            ("Content-Type", response.kind),
            ("Content-Length", str(len(response.body))),
            ("Content-Security-Policy", response.csp),
            (
                "X-Frame-Options",
                "DENY" if "frame-ancestors 'none'" in response.csp else "SAMEORIGIN",
            ),
            *HEADERS,
            *response.headers,
        ]
        start_response(STATUS[response.code], headers)
        return [] if method == "HEAD" else [response.body]

    def dispatch(self, environ: dict[str, Any], method: str) -> Response:
        path = (environ.get("PATH_INFO") or "/").lstrip("/")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if path.startswith("static/"):
            return self.static(path[len("static/") :])
        if path == "login":
            return self.login(environ, query)
        request = Request(
            "GET" if method == "HEAD" else method,
            path,
            query,
            {k[5:].lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")},
            str(environ.get("REMOTE_ADDR", "")),
            environ=environ,
        )
        request.session = self.session_of(request)
        if request.session is None:
            raise Refused(401, "login")
        if path.startswith(PREFIX.strip("/") + "/"):
            return self.preview_file(path[len(PREFIX) - 1 :])
        route = self.route(path)
        if route is None:
            raise Refused(404, "not-found")
        methods, handler = self.routes[route]
        allowed = methods | ({"HEAD"} if "GET" in methods else set())
        if method not in allowed:
            raise Refused(405, "method", [("Allow", ", ".join(sorted(allowed)))])
        if request.method == "POST":
            self.read_body(request)
            self.check_post(request)
        return handler(request)

    def route(self, path: str) -> str | None:
        path = path.rstrip("/")
        if path in self.routes:
            return path
        for prefix in ("edit", "show", "preview-page"):
            if path.startswith(prefix + "/"):
                return prefix
        return None

    def session_of(self, request: Request) -> Session | None:
        header = self.config.studio.user_header
        user = None
        proxied = request.client == self.trusted_proxy
        if header and self.trusted_proxy and proxied:
            user = request.headers.get(header.lower().replace("-", "_"), "").strip()
        return self.gate.session(cookie_of(request.environ), user or None)

    def read_body(self, request: Request) -> None:
        kind = request.environ.get("CONTENT_TYPE", "")
        length = str(request.environ.get("CONTENT_LENGTH") or "0").strip()
        if not length.isdigit():
            raise Refused(400, "malformed")
        limit = self.config.studio.max_upload * 1024 * 1024 + MAX_FORM
        if int(length) > (limit if kind.startswith("multipart/") else MAX_FORM):
            raise Refused(413, "too-large")
        if kind.startswith("multipart/form-data"):
            try:
                request.form, request.files = forms.read_multipart(request.environ, limit)
            except uploads.NotAPicture:
                raise Refused(413, "too-large") from None
            except ValueError:
                raise Refused(400, "malformed") from None
            return
        body = request.environ["wsgi.input"].read(int(length))
        try:
            request.form = parse_qs(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=200
            )
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "malformed") from None

    def check_post(self, request: Request) -> None:
        """A change comes from the studio's own pages: its origin, and the session's token."""
        origin = request.headers.get("origin") or ""
        if not origin or origin == "null":
            referer = urlsplit(request.headers.get("referer", ""))
            origin = f"{referer.scheme}://{referer.netloc}" if referer.netloc else ""
        host = request.headers.get("host", "")  # (a proxy passes the browser's: $http_host)
        if not origin or urlsplit(origin).netloc.lower() != host.lower():
            raise Refused(403, "origin")
        assert request.session is not None
        if not self.gate.csrf_ok(request.session, request.value("csrf")):
            raise Refused(403, "csrf")

    # --- pages ----------------------------------------------------------------------------------

    def render(self, code: int, template: str, request: Request | None, **context: Any) -> Response:
        session = request.session if request is not None else None
        context.setdefault("title", "")
        context.setdefault("section", "")
        body = self.env.get_template(template).render(
            person=session.person if session else None,
            csrf=self.gate.csrf(session) if session else "",
            site=self.config.site,
            **context,
        )
        return Response(code, body.encode("utf-8"))

    def message(self, code: int, kind: str, request: Request | None = None) -> Response:
        return self.render(code, "message.html", request, kind=kind)

    def now_local(self) -> dt.datetime:
        return self.now().astimezone(self.config.site.timezone)

    def load(self) -> Site:
        """Every post and tip as the files say now (unchanged ones from the parse cache)."""
        return load_site(self.config, self.config.state_dir / "cache" / "content")

    def record(
        self, request: Request, action: str, path: Path | str = "", detail: str = ""
    ) -> None:
        with opened(self.config.state_path) as db:
            history.record(db, request.person.name, action, str(path), self.now(), detail)

    def committed(self, request: Request, paths: list[Path], message: str) -> str | None:
        """With [studio] git_commit, the change as a commit by the person; what went wrong."""
        if not self.config.studio.git_commit or not history.in_git(self.config.root):
            return None
        return history.commit(self.config, paths, request.person.name, message)

    # --- login ----------------------------------------------------------------------------------

    def login(self, environ: dict[str, Any], query: dict[str, list[str]]) -> Response:
        token = (query.get("token") or [""])[0]
        cookie = self.gate.take_login(token)
        if cookie is None:
            raise Refused(403, "login-used")
        secure = environ.get("wsgi.url_scheme") == "https"
        attributes = f"; Max-Age={self.gate.lifetime()}; Path=/; HttpOnly; SameSite=Strict"
        attributes += "; Secure" if secure else ""
        self.on_login(self.gate.login_token)
        return redirect("/", [("Set-Cookie", f"{COOKIE}={cookie}{attributes}")])

    def logout(self, request: Request) -> Response:
        assert request.session is not None
        self.gate.end(request.session)
        expired = f"{COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"
        return Response(
            200,
            self.message(200, "logged-out").body,
            headers=[("Set-Cookie", expired)],
        )

    # --- overview -------------------------------------------------------------------------------

    def overview(self, request: Request) -> Response:
        site = self.load()
        now = self.now()
        query = request.value("q", "query").strip()
        words = query.casefold().split()

        def matches(item: Item) -> bool:
            text = f"{item.title} {item.rel} {' '.join(item.values['tags'])}".casefold()
            return all(w in text for w in words)

        newest = sorted(
            (i for i in (*site.items, *site.unready) if matches(i)),
            key=lambda i: (i.date or now, str(i.path)),
            reverse=True,
        )
        groups: dict[str, list[Item]] = {"draft": [], "scheduled": [], "published": []}
        for item in newest:
            groups[item.status(now).value].append(item)
        with opened(self.config.state_path) as db:
            letter = self.letter_state(site, db)
            recent = history.recent(db, 8)
        problems = check_problems(self.config, site, now, readability=self.lix_warning)
        return self.render(
            200,
            "overview.html",
            request,
            title=self.words.gettext("Overview"),
            groups=groups,
            query=query,
            limit=100,
            letter=letter,
            problems=[(p, self.problem_link(p)) for p in problems],
            recent=recent,
            edit_url=edit_url,
        )

    def lix_warning(self, item: Item, limit: float) -> Problem | None:
        key = (str(item.path), item.content_digest or item.content())
        if key not in self.readability:
            self.readability[key] = lix.warning(item, limit)
        return self.readability[key]

    def warm(self) -> None:
        """Read the site and count every text's LIX once, before anyone asks (the studio's
        command runs this in a thread of its own as it starts)."""
        started = time.monotonic()
        site = self.previewer.site()
        for item in site.items:
            self.lix_warning(item, self.config.check.lix_limit)
        log.info("ready: %d texts read in %.1f s", len(site.items), time.monotonic() - started)

    def problem_link(self, problem: Problem) -> str | None:
        """The editor's field a problem concerns: its key's, else the text's."""
        parts = Path(problem.path).parts
        if len(parts) != 2 or parts[0] not in KIND_DIRS or not parts[1].endswith(".md"):
            return None
        name = (problem.key or "").split(" ")[-1]
        anchor = f"f-{name}" if fields.by_name(name) is not None else "f-body"
        return f"/edit/{quote(str(problem.path))}#{anchor}"

    # --- the planner ----------------------------------------------------------------------------

    def planner(self, request: Request) -> Response:
        site = self.load()
        now = self.now()
        weeks = plan(site, now, 12, self.language)
        return self.render(
            200,
            "plan.html",
            request,
            title=self.words.gettext("Planner"),
            weeks=weeks,
            now=now,
            tips_enabled=self.config.tips.enabled,
            weekday=weekday_name(self.config.tips.weekday, self.language),
            edit_url=edit_url,
        )

    # --- the editor -----------------------------------------------------------------------------

    def form_fields(self, kind: Kind) -> list[fields.Field]:
        return [f for f in fields.FIELDS if f.applies_to(kind) and f.widget]

    def values_of(self, request: Request, kind: Kind) -> dict[str, object]:
        """What the editor's form says of each field it has (as the file would spell it); a
        field the form does not have is left as it is."""
        values: dict[str, object] = {}
        for f in self.form_fields(kind):
            if f.name not in request.form:
                continue
            given = request.form[f.name][-1]
            if f.widget == "list":
                separator = "\n" if f.name == "aliases" else ","
                parts = given.replace("\r", "").replace("\n", separator).split(separator)
                values[f.name] = [p.strip() for p in parts if p.strip()]
            elif f.widget == "checkbox":
                values[f.name] = bool(given)  # (a hidden "" before the box: unticked)
            else:
                values[f.name] = given.strip()
        return values

    def shown_values(self, item: Item | None) -> dict[str, str]:
        """An item's values as the form's fields show them."""
        shown: dict[str, str] = {}
        if item is None:
            return shown
        tz = self.config.site.timezone
        for f in self.form_fields(item.kind):
            value = item.values.get(f.name)
            if value in (None, ""):
                shown[f.name] = ""
            elif isinstance(value, dt.datetime):
                shown[f.name] = value.astimezone(tz).strftime("%Y-%m-%dT%H:%M")
            elif isinstance(value, tuple | list):
                shown[f.name] = ("\n" if f.name == "aliases" else ", ").join(map(str, value))
            else:
                shown[f.name] = str(value)
        return shown

    def written_values(self, raw: bytes, kind: Kind) -> dict[str, str] | None:
        """The values a file that does not parse has written, as text, so the editor shows
        what is there beside its problems (None when even that cannot be read)."""
        import yaml

        from blogtool.content.editing import split_body

        try:  # every value as the text it is (a date that is no date is still shown)
            head = split_body(raw)[0].decode("utf-8").lstrip("\ufeff")
            written = yaml.load(head.strip().strip("-").strip(".").strip(), yaml.BaseLoader)
        except (UnicodeDecodeError, yaml.YAMLError):
            return None
        if not isinstance(written, dict):
            return None
        shown: dict[str, str] = {}
        for f in self.form_fields(kind):
            value = written.get(f.name)
            if isinstance(value, list | tuple):
                shown[f.name] = ", ".join(map(str, value))
            elif value is not None:
                shown[f.name] = str(value)
        return shown

    def checks_of(self, item: Item | None, problems: list[Problem]) -> dict[str, list[Problem]]:
        """The problems of an item as it is written, by the field they concern ("body" for
        the text, "" for the rest): parse errors and warnings, what would keep it from going
        out, and its LIX."""
        found = list(problems)
        if item is not None:
            found += readiness.of_item(item, self.config)
            warning = lix.warning(item, self.config.check.lix_limit)
            if warning is not None:
                found.append(warning)
        by_field: dict[str, list[Problem]] = {}
        for problem in found:
            name = (problem.key or "").split(" ")[-1]
            if fields.by_name(name) is None:
                name = "body"
            if name == "body" and problem.line is None and problem.key:
                name = ""
            by_field.setdefault(name, [])
            if problem not in by_field[name]:
                by_field[name].append(problem)
        return by_field

    def editor(
        self,
        request: Request,
        kind: Kind,
        item: Item | None,
        code: int = 200,
        *,
        rel: Path | None = None,
        base: str = "",
        values: dict[str, str] | None = None,
        body: str = "",
        problems: list[Problem] | None = None,
        notice: str = "",
        preview_url: str = "",
    ) -> Response:
        # Topics to suggest: from the site the preview keeps (read again only when a file was
        # added, removed or replaced), not from every file read again for each editor page.
        site = self.previewer.site()
        topics = sorted({t for i in site.items for t in i.values["tags"]}, key=str.casefold)
        tz = self.config.site.timezone
        entries: list[history.Entry] = []
        if rel is not None:
            with opened(self.config.state_path) as db:
                entries = history.of_path(db, str(rel))
        status = item.status(self.now()).value if item is not None else "draft"
        action = f"/edit/{quote(str(rel))}" if rel is not None else f"/new/{kind.value}"
        return self.render(
            code,
            "editor.html",
            request,
            title=(item.title if item is not None else "")
            or (
                self.words.gettext("New tip")
                if kind is Kind.TIP
                else self.words.gettext("New post")
            ),
            kind=kind.value,
            rel=str(rel) if rel is not None else "",
            action=action,
            base=base,
            fields=self.form_fields(kind),
            values=values if values is not None else self.shown_values(item),
            body=body,
            checks=self.checks_of(item, problems or []),
            topics=topics,
            services=self.config.services,
            status=status,
            zone=str(tz),
            history=entries,
            notice=notice,
            preview_url=preview_url,
            max_upload=self.config.studio.max_upload,
        )

    def new_item(self, request: Request) -> Response:
        kind = Kind.TIP if request.path.rstrip("/") == "new/tip" else Kind.POST
        if kind is Kind.TIP and not self.config.tips.enabled:
            raise Refused(404, "not-found")
        if request.method == "GET":
            values: dict[str, str] = {}
            day = request.value("date", "query")
            if day:
                try:
                    date = dt.date.fromisoformat(day)
                except ValueError:
                    raise Refused(400, "malformed") from None
                values["date"] = f"{date.isoformat()}T{self.config.tips.time:%H:%M}"
            return self.editor(request, kind, None, values=values)
        given = self.values_of(request, kind)
        body = request.value("body")
        title = str(given.get("title") or "")
        now = self.now()
        try:
            if kind is Kind.TIP:
                created = authoring.new_tip(
                    self.config,
                    title,
                    str(given.get("service") or ""),
                    now,
                    str(given.get("date") or "") or None,
                )
            else:
                created = authoring.new_post(self.config, title, now)
        except BlogtoolError as exc:
            problem = Problem(Path(kind.value), str(exc), key="title")
            return self.editor(
                request,
                kind,
                None,
                400,
                values={k: self.form_text(v) for k, v in given.items()},
                body=body,
                problems=[problem],
            )
        rel = created.path.relative_to(self.config.root)
        self.previewer.forget()
        self.record(request, "create", rel)
        return self.save(request, rel, kind, created=True)

    def edit(self, request: Request) -> Response:
        rel, kind = self.content_path(request.path[len("edit/") :])
        source = self.config.root / rel
        if request.method == "GET":
            raw = source.read_bytes()
            item, problems = parse_item(raw, rel, kind, self.config)
            notice = request.value("done", "query")
            return self.editor(
                request,
                kind,
                item,
                rel=rel,
                base=authoring.file_digest(raw),
                values=self.written_values(raw, kind) if item is None else None,
                body=_body_of(raw),
                problems=problems,
                notice=notice,
                preview_url=f"/show/{quote(str(rel))}",
            )
        return self.save(request, rel, kind)

    def content_path(self, text: str) -> tuple[Path, Kind]:
        """A post's or tip's path in a studio address, checked to be one of the site's."""
        parts = Path(text.strip("/")).parts
        if len(parts) != 2 or parts[0] not in KIND_DIRS or not parts[1].endswith(".md"):
            raise Refused(404, "not-found")
        rel = Path(*parts)
        if parts[1].startswith(".") or not (self.config.root / rel).is_file():
            raise Refused(404, "not-found")
        try:  # as the command line takes it: a link that leads out of posts/ or tips/ is not
            authoring.resolve_content_path(self.config, self.config.root / rel)
        except UsageError:
            raise Refused(404, "not-found") from None
        return rel, KIND_DIRS[parts[0]]

    def form_text(self, value: object) -> str:
        if isinstance(value, list):
            return ", ".join(map(str, value))
        if isinstance(value, bool):
            return "on" if value else ""
        return str(value)

    def save(self, request: Request, rel: Path, kind: Kind, created: bool = False) -> Response:
        """Save the editor's form over ``rel``, then do what its button asked: schedule,
        unschedule or publish now."""
        action = request.value("action") or "save"
        person = request.person
        if action in ("schedule", "unschedule", "publish") and not person.publishes:
            raise Refused(403, "publisher")
        given = self.values_of(request, kind)
        body = request.form["body"][-1] if "body" in request.form else None
        upload = request.files.get("image_file")
        if upload is not None and upload[1]:
            stored = self.store_picture(request, rel, upload)
            if isinstance(stored, Response):
                return stored
            given["image"] = stored
        base = None if created else request.value("base") or None

        def allow(before: Item, after: Item) -> None:
            if not person.publishes and not (before.draft and after.draft):
                raise UsageError(_("only a publisher can change what is scheduled or published"))

        shown = {k: self.form_text(v) for k, v in given.items()}
        try:
            item, changed = authoring.save(self.config, rel, given, body, base, allow)
        except authoring.Conflict as exc:
            return self.conflict(request, rel, kind, exc, given, body or "")
        except ContentError as exc:
            return self.editor(
                request, kind, None, 400, rel=rel, base=request.value("base"), values=shown,
                body=body or "", problems=exc.problems,
            )  # fmt: skip
        except UsageError as exc:
            if "publisher" in str(exc) or not person.publishes:
                raise Refused(403, "publisher") from None
            raise
        if changed or created:
            self.previewer.forget()
            if not created:
                self.record(request, "save", rel)
        notice = "saved"
        if action in ("schedule", "publish"):
            outcome = self.schedule(request, rel, kind, item, action == "publish")
            if isinstance(outcome, Response):
                return outcome
            notice = outcome
        elif action == "unschedule":
            authoring.unschedule(self.config, rel)
            self.previewer.forget()
            self.record(request, "unschedule", rel)
            notice = "unscheduled"
        if changed or created or action != "save":
            self.committed(request, [self.config.root / rel], f"{notice}: {rel}")
        return redirect(f"/edit/{quote(str(rel))}?{urlencode({'done': notice})}")

    def schedule(
        self, request: Request, rel: Path, kind: Kind, item: Item, now_please: bool
    ) -> Response | str:
        """Schedule the saved item at its date (asking first when that has passed), or publish
        it now; refused with its reasons when it is not ready."""
        now = self.now()
        confirmed = request.value("confirm") == "yes"
        problems: list[Problem] = []
        if not now_please and item.date is None:
            message = _("set when it goes out first")
            problems = [Problem(item.path, message, key="date")]
        elif not now_please and item.date is not None and item.date < now and not confirmed:
            return self.render(
                200,
                "confirm.html",
                request,
                title=self.words.gettext("The time has passed"),
                rel=str(rel),
                when=item.date,
            )
        if not problems:
            try:
                at = now.isoformat() if now_please else None
                scheduled = authoring.schedule(self.config, rel, now, at, now_please or confirmed)
            except ContentError as exc:
                problems = exc.problems
        if problems:
            raw = (self.config.root / rel).read_bytes()
            current, _problems = parse_item(raw, rel, kind, self.config)
            return self.editor(
                request, kind, current, 400, rel=rel, base=authoring.file_digest(raw),
                body=_body_of(raw), problems=problems, notice="unready",
                preview_url=f"/show/{quote(str(rel))}",
            )  # fmt: skip
        self.previewer.forget()
        done = "published" if scheduled.status(now) is Status.PUBLISHED else "scheduled"
        assert scheduled.date is not None
        self.record(request, "publish" if done == "published" else "schedule", rel,
                    scheduled.date.isoformat())  # fmt: skip
        return done

    def conflict(
        self,
        request: Request,
        rel: Path,
        kind: Kind,
        exc: authoring.Conflict,
        given: dict[str, object],
        body: str,
    ) -> Response:
        disk = exc.disk.decode("utf-8", "replace").replace("\r\n", "\n")
        mine = authoring.as_file(given, body)
        diff = "".join(
            difflib.unified_diff(
                disk.splitlines(keepends=True),
                mine.splitlines(keepends=True),
                self.words.gettext("on disk now"),
                self.words.gettext("your version"),
            )
        )
        return self.render(
            409,
            "conflict.html",
            request,
            title=self.words.gettext("Changed on disk"),
            rel=str(rel),
            disk=disk,
            mine=mine,
            diff=diff,
        )

    # --- preview --------------------------------------------------------------------------------

    def preview(self, request: Request) -> Response:
        """The form as its page would look, and its checks. A script asks for JSON (the
        address of the page, the checks by field); a form without script gets the page."""
        kind = KIND_DIRS.get(request.value("kind") + "s", Kind.POST)
        rel_text = request.value("rel")
        given = self.values_of(request, kind)
        body = request.value("body")
        if rel_text:
            rel, kind = self.content_path(rel_text)
            edit = authoring.edited(self.config, rel, given, body)
            item, problems = edit.after, edit.problems
        else:
            rel = not_yet_written(kind)
            new_raw = authoring.as_file({**given, "draft": True}, body).encode("utf-8")
            item, problems = parse_item(new_raw, rel, kind, self.config)
        page = self.page_of(item, problems)
        if "application/json" not in request.headers.get("accept", ""):
            return Response(200, page, csp=PREVIEW_CSP)
        key = secrets.token_urlsafe(12)
        with self.previews_lock:
            self.previews[key] = page
            while len(self.previews) > PREVIEWS:
                self.previews.popitem(last=False)
        checks = {
            name: [self.problem_text(p) for p in found]
            for name, found in self.checks_of(item, problems).items()
        }
        data = {"page": f"/preview-page/{key}", "checks": checks}
        return Response(200, json.dumps(data).encode("utf-8"), "application/json")

    def problem_text(self, problem: Problem) -> dict[str, str]:
        return {
            "severity": problem.severity,
            "text": problem.message,
            "label": self.words.gettext("Error")
            if problem.is_error
            else self.words.gettext("Warning"),
        }

    def page_of(self, item: Item | None, problems: list[Problem]) -> bytes:
        if item is None:
            return self.render(
                200, "preview-problems.html", None, problems=[p for p in problems if p.is_error]
            ).body
        try:
            return self.previewer.page(item, self.now())
        except BlogtoolError as exc:
            problem = Problem(item.path, str(exc))
            return self.render(200, "preview-problems.html", None, problems=[problem]).body

    def show(self, request: Request) -> Response:
        """The saved file as its page looks (the editor's frame before anything is typed)."""
        rel, kind = self.content_path(request.path[len("show/") :])
        item, problems = parse_item((self.config.root / rel).read_bytes(), rel, kind, self.config)
        return Response(200, self.page_of(item, problems), csp=PREVIEW_CSP)

    def preview_page(self, request: Request) -> Response:
        key = request.path[len("preview-page/") :]
        with self.previews_lock:
            page = self.previews.get(key)
        if page is None:
            raise Refused(404, "not-found")
        return Response(200, page, csp=PREVIEW_CSP)

    def preview_file(self, path: str) -> Response:
        found = self.previewer.file(path.lstrip("/"))
        if found is None:
            raise Refused(404, "not-found")
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "image/svg+xml":
            kind += "; charset=utf-8"
        return Response(200, found.read_bytes(), kind, csp=PREVIEW_CSP)

    # --- pictures -------------------------------------------------------------------------------

    def store_picture(
        self, request: Request, rel: Path, upload: tuple[str, bytes]
    ) -> str | Response:
        try:
            name = uploads.store(self.config, rel.parent, upload[0], upload[1])
        except uploads.NotAPicture as exc:
            raise Refused(400, exc.kind) from None
        self.record(request, "upload", rel.parent / name, upload[0][:200])
        return name

    def upload(self, request: Request) -> Response:
        """A picture dropped or chosen in the editor, stored at once beside the item (so the
        preview shows it); answers its name as the item names it."""
        kind = KIND_DIRS.get(request.value("kind") + "s", Kind.POST)
        upload = request.files.get("image_file")
        if upload is None or not upload[1]:
            raise Refused(400, "no-picture")
        rel_text = request.value("rel")
        rel = self.content_path(rel_text)[0] if rel_text else not_yet_written(kind)
        stored = self.store_picture(request, rel, upload)
        assert isinstance(stored, str)
        self.committed(request, [self.config.root / rel.parent / stored], f"upload: {stored}")
        return Response(200, json.dumps({"name": stored}).encode(), "application/json")

    # --- the newsletter -------------------------------------------------------------------------

    def letter_state(self, site: Site, db: sqlite3.Connection) -> dict[str, Any] | None:
        coming = coming_issue(site, db, self.now())
        if coming is None:
            return None
        proof = proofed(db, coming)
        return {
            "coming": coming,
            "proofed": bool(proof and proof[0] == coming.digest),
            "approved": approved_at(db, coming.digest) is not None,
            "needs_approval": self.config.newsletter.approval,
        }

    def coming(self) -> tuple[Site, Coming | None, dict[str, Any] | None]:
        site = self.load()
        with opened(self.config.state_path) as db:
            state = self.letter_state(site, db)
        return site, state["coming"] if state else None, state

    def newsletter(self, request: Request) -> Response:
        _site, coming, state = self.coming()
        text = with_sample_links(coming.draft.text, self.config) if coming else ""
        return self.render(
            200,
            "newsletter.html",
            request,
            title=self.words.gettext("Newsletter"),
            letter=state,
            text=text,
            notice=request.value("done", "query"),
            edit_url=edit_url,
        )

    def letter(self, request: Request) -> Response:
        _site, coming, _state = self.coming()
        if coming is None:
            raise Refused(404, "no-letter")
        html = with_sample_links(coming.draft.html, self.config)
        return Response(200, html.encode("utf-8"), csp=LETTER_CSP)

    def approve(self, request: Request) -> Response:
        if not request.person.publishes:
            raise Refused(403, "publisher")
        site, coming, _state = self.coming()
        if coming is None or coming.digest != request.value("digest"):
            raise Refused(409, "letter-changed")
        blocking = site.blocking(self.now())
        if blocking:
            raise Refused(409, "letter-blocked")
        with opened(self.config.state_path) as db:
            approve(db, coming.digest, self.now())
        self.record(request, "approve", "", coming.draft.subject)
        return redirect("/newsletter?done=approved")

    def send_test(self, request: Request) -> Response:
        from blogtool.delivery.dispatch import send_proof

        if not request.person.publishes:
            raise Refused(403, "publisher")
        address = request.person.email
        if address is None:
            raise Refused(400, "no-address")
        _site, coming, _state = self.coming()
        if coming is None:
            raise Refused(404, "no-letter")
        if self.transport is None:
            raise Refused(503, "no-mail")
        with opened(self.config.state_path) as db:
            send_proof(
                db, self.config, coming, self.secret, self.transport(), [address], self.now()
            )
        self.record(request, "test", "", address)
        return redirect("/newsletter?done=test-sent")

    # --- files of the studio itself -------------------------------------------------------------

    def static(self, name: str) -> Response:
        found = (STATIC / name).resolve()
        if not found.is_relative_to(STATIC.resolve()) or not found.is_file():
            raise Refused(404, "not-found")
        kind = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return Response(200, found.read_bytes(), kind, [("Cache-Control", "no-cache")])


def cookie_of(environ: dict[str, Any]) -> str | None:
    try:
        jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


def not_yet_written(kind: Kind) -> Path:
    """Where a new item stands until it is saved (its pictures go beside it already)."""
    return Path(f"{kind.value}s") / "ny.md"


def edit_url(item: Item) -> str:
    return f"/edit/{quote(str(item.path))}"


def _body_of(raw: bytes) -> str:
    from blogtool.content.editing import split_body

    try:
        return split_body(raw)[1]
    except UnicodeDecodeError:
        return ""


def _environment(config: Config) -> jinja2.Environment:
    """The studio's own templates (the site's cannot replace them), autoescaped, in the
    site's language."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PACKAGE_TEMPLATES / "studio"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    lang = config.site.language
    env.install_gettext_translations(i18n.reader(lang), newstyle=True)  # type: ignore[attr-defined]
    tz = config.site.timezone
    env.filters["when"] = lambda value: short_datetime(value.astimezone(tz), lang)
    env.filters["longdate"] = lambda value: long_date(value, lang)
    env.filters["label"] = lambda value: i18n.label_of(value, lang)
    env.globals["Markup"] = Markup
    return env
