"""The readers' own service: one WSGI application under ``[web] base_url`` with the sign-up
form (double opt-in), confirmation, preferences, unsubscribe (RFC 8058 one-click POST), "my
data" with erasure, and a health check.

Rules every endpoint keeps:
- A GET changes nothing: link scanners and previews fetch URLs. Confirming, saving, erasing
  and unsubscribing take a POST from a button.
- The answer to a sign-up or a data request is the same whatever the address's state, so the
  service reveals to nobody who subscribes.
- A form is refused before anything is stored when it is too large (413), uses the wrong method
  (405), comes from another site (403), comes too often from one client (429) or is invalid
  (400); every refusal is a page in the site's language with the right status.
- Links are signed (``mail.tokens``); a forged, altered, expired or used-up one changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from blogtool import i18n
from blogtool.config import Config, default_addresses
from blogtool.delivery import outgoing, queue
from blogtool.errors import BlogtoolError
from blogtool.newsletter.readermail import reader_message
from blogtool.site.templates import make_environment, render
from blogtool.store import opened, transaction
from blogtool.subscribers import lists, privacy, signups
from blogtool.subscribers import people as subscribers
from blogtool.subscribers.signups import SignupError
from blogtool.subscribers.tokens import (
    BadLink,
    ExpiredLink,
    check_link_token,
    link_id,
    make_link_token,
    make_token,
)
from blogtool.subscribers.unsubscribing import find as find_by_unsubscribe_token
from blogtool.subscribers.unsubscribing import unsubscribe
from blogtool.web.http import (
    LONG_FORM,
    MAX_FORM,
    SECURITY_HEADERS,
    STATUS,
    Refused,
    Request,
    Response,
    StartResponse,
    check_origin,
    read_form,
)


class ReaderService:
    """The application. ``now`` is the clock; ``wake`` is called when a mail was queued (the
    server's sender thread sends it at once)."""

    def __init__(
        self,
        config: Config,
        secret: bytes,
        now: Callable[[], dt.datetime],
        wake: Callable[[], None] = lambda: None,
    ):
        self.config = config
        self.secret = secret
        self.now = now
        self.wake = wake
        self.env = make_environment(config)
        self.words = i18n.reader(config.site.language)  # what readers see is in the site's language
        base = config.web.base_url
        self.base_path = urlsplit(base).path if base else None
        # Every unsubscribe address mail may carry: the one configured, and the one at the site's
        # root in each language (what mail sent before [web] was set up carried): a token keeps
        # working for as long as it is valid, wherever the service has moved since.
        self.unsubscribe_paths = {
            urlsplit(config.newsletter.unsubscribe_url).path.rstrip("/"),
            *(f"/{then.web_path('unsubscribe')}" for then in (*default_addresses(config), config)),
        }
        handlers: dict[str, tuple[set[str], Callable[[Request], Response]]] = {
            "home": ({"GET"}, self.signup_page),
            "subscribe": ({"POST"}, self.signup),
            "confirm": ({"GET", "POST"}, self.confirm),
            "preferences": ({"GET", "POST"}, self.preferences),
            "unsubscribe": ({"GET", "POST"}, self.unsubscribe),
            "my_data": ({"GET", "POST"}, self.my_data),
            "erase": ({"POST"}, self.erase),
            "accessibility": ({"GET", "POST"}, self.accessibility_report),
        }
        # Each page answers at its [urls] address and at the default one of every language,
        # so links in mail sent before a rename (or a change of language) keep working.
        self.routes: dict[str, tuple[str, set[str], Callable[[Request], Response]]] = {}
        for config_then in (*default_addresses(config), config):
            for route, (methods, handler) in handlers.items():
                self.routes[config_then.web_path(route)] = (route, methods, handler)
        for path in ("halsa", "health"):
            self.routes[path] = ("health", {"GET"}, self.health)

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            response = self.dispatch(environ, method)
        except Refused as refused:
            response = self.message(refused.code, refused.kind)
            response.headers += refused.headers
        head = method == "HEAD"
        headers = [
            ("Content-Type", response.kind),
            ("Content-Length", str(len(response.body))),
            *SECURITY_HEADERS,
            *response.headers,
        ]
        start_response(STATUS[response.code], headers)
        return [] if head else [response.body]

    def route_of(self, path: str) -> str | None:
        """The route a request path belongs to, or None if it is not the service's."""
        if path.rstrip("/") in self.unsubscribe_paths:
            return self.config.web_path("unsubscribe")
        if self.base_path is not None and (path + "/").startswith(self.base_path):
            return path[len(self.base_path) :].strip("/")
        return None

    def dispatch(self, environ: dict[str, Any], method: str) -> Response:
        route = self.route_of(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        if route is None:
            raise Refused(404, "not-found")
        if route not in self.routes:
            raise Refused(404, "not-found")
        name, methods, handler = self.routes[route]
        if self.base_path is None and name != "unsubscribe":
            raise Refused(404, "not-found")
        allowed = methods | ({"HEAD"} if "GET" in methods else set())
        if method not in allowed:
            raise Refused(405, "method", [("Allow", ", ".join(sorted(allowed)))])
        request = Request(
            method="GET" if method == "HEAD" else method,
            path=route,
            query=parse_qs(environ.get("QUERY_STRING", "")),
            headers={k[5:].lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")},
            client=str(environ.get("REMOTE_ADDR", "")),
        )
        if request.method == "POST":
            request.form = read_form(environ, LONG_FORM if name == "accessibility" else MAX_FORM)
            if name != "unsubscribe":  # mail clients post one-click unsubscribes themselves
                check_origin(self.config, request)
        return handler(request)

    def link(self, route: str, token: str) -> str:
        """A signed link to one of the service's pages, as mail carries it."""
        return f"{self.config.web.base_url}{self.config.web_path(route)}?t={token}"

    def on_page(self, url: str) -> str:
        """A link as a page of the service shows it: from the root when the service is on the
        site's own host (it then works however the reader reached the page), else as it is."""
        parts, site = urlsplit(url), urlsplit(self.config.site.base_url)
        if parts.netloc != site.netloc:
            return url
        return parts.path + (f"?{parts.query}" if parts.query else "")

    # --- pages ----------------------------------------------------------------------------------

    def page(self, code: int, template: str, **context: Any) -> Response:
        context.setdefault("page_title", self.words.gettext("The newsletter"))
        context.setdefault("description", "")
        context.setdefault("section", "")
        context.setdefault("canonical", None)
        context.setdefault("service_page", True)
        return Response(code, render(self.env, template, self.config, **context).encode("utf-8"))

    def message(self, code: int, kind: str, **context: Any) -> Response:
        return self.page(code, "web/message.html", kind=kind, **context)

    def list_names(self, keys: Iterable[str]) -> list[str]:
        return [self.config.lists[k].name for k in keys if k in self.config.lists]

    # --- abuse control --------------------------------------------------------------------------

    def count_post(self, db: sqlite3.Connection, request: Request) -> None:
        if not signups.count_post(db, request.client, self.now(), self.config.web.requests_per_ip):
            raise Refused(429, "rate", [("Retry-After", str(signups.RATE_WINDOW))])

    # --- sign-up --------------------------------------------------------------------------------

    def signup_page(self, request: Request) -> Response:
        return self.page(200, "web/signup.html", page_title=self.words.gettext("Subscribe"))

    def signup(self, request: Request) -> Response:
        chosen = request.form.get("lista", [])
        with opened(self.config.state_path) as db:
            self.count_post(db, request)
            if request.value("webbplats"):  # the honeypot: a person never fills it in
                return self.message(200, "sent")
            try:
                pending = signups.sign_up(
                    db,
                    self.config,
                    request.value("epost"),
                    request.value("namn"),
                    chosen,
                    self.now(),
                )
            except SignupError as exc:
                raise Refused(400, str(exc)) from None
            if pending is not None:
                self.queue_confirmation(db, pending)
        return self.message(200, "sent")

    def queue_confirmation(self, db: sqlite3.Connection, pending: signups.Pending) -> None:
        token = signups.confirm_token(self.secret, self.config, pending)
        created = dt.datetime.fromisoformat(pending.created_at)
        expires = (created + self.config.web.confirm_within).astimezone(self.config.site.timezone)
        data = reader_message(
            self.config,
            "confirm",
            pending.email,
            self.now(),
            self.env,
            reader_name=pending.name,
            lists=self.list_names(pending.lists),
            confirm_url=self.link("confirm", token),
            expires=expires,
        )
        outgoing.enqueue(db, "confirm", pending.email_key, pending.email, data, self.now())
        self.wake()

    def confirm(self, request: Request) -> Response:
        token = request.token
        with opened(self.config.state_path) as db:
            try:
                if request.method == "GET":
                    pending = signups.find_pending(db, self.secret, token, self.now())
                    if pending.confirmed_at is not None:
                        return self.message(200, "already-confirmed")
                    return self.page(
                        200,
                        "web/confirm.html",
                        page_title=self.words.gettext("Confirm"),
                        token=token,
                        email=pending.email,
                        lists=self.list_names(pending.lists),
                    )
                outcome, pending = signups.confirm(db, self.secret, token, self.now())
            except ExpiredLink:
                raise Refused(410, "expired") from None
            except BadLink:
                raise Refused(400, "bad-link") from None
        kind = "confirmed" if outcome == "confirmed" else "already-confirmed"
        with opened(self.config.state_path) as db:
            subscriber = subscribers.get(db, pending.email)
        return self.message(
            200,
            kind,
            lists=self.list_names(pending.lists),
            preferences_url=self.on_page(self.preferences_url(subscriber)) if subscriber else "",
        )

    # --- the subscriber's own pages ---------------------------------------------------------------

    def subscriber_for(
        self, db: sqlite3.Connection, token: str, purpose: str
    ) -> subscribers.Subscriber:
        """The subscriber a signed link is for; Refused if it is forged, late or they are gone."""
        try:
            row = db.execute(
                "SELECT * FROM subscribers WHERE id = ?", (link_id(token, purpose),)
            ).fetchone()
            if row is None:
                raise BadLink("no such subscriber")
            subscriber = subscribers.Subscriber.from_row(row)
            binding = subscribers.email_key(subscriber.email)
            check_link_token(self.secret, token, purpose, binding, self.now().timestamp())
        except ExpiredLink:
            raise Refused(410, "expired") from None
        except BadLink:
            raise Refused(400, "bad-link") from None
        return subscriber

    def preferences_url(self, subscriber: subscribers.Subscriber) -> str:
        key = subscribers.email_key(subscriber.email)
        token = make_link_token(self.secret, "prefs", subscriber.id, key)
        return self.link("preferences", token)

    def unsubscribe_token(self, subscriber: subscribers.Subscriber) -> str:
        return make_token(self.secret, subscriber.id, subscribers.email_key(subscriber.email))

    def unsubscribe_url(self, subscriber: subscribers.Subscriber) -> str:
        return f"{self.config.newsletter.unsubscribe_url}?t={self.unsubscribe_token(subscriber)}"

    def preferences(self, request: Request) -> Response:
        token = request.token
        with opened(self.config.state_path) as db:
            subscriber = self.subscriber_for(db, token, "prefs")
            if request.method == "POST":
                self.count_post(db, request)
                try:
                    chosen = lists.check_lists(self.config, request.form.get("lista", []))
                except BlogtoolError:
                    raise Refused(400, "unknown-list") from None
                if not chosen:
                    # Unticking everything is how many try to leave: offer exactly that.
                    return self.message(
                        200,
                        "none-chosen",
                        unsubscribe_token=self.unsubscribe_token(subscriber),
                        preferences_url=self.on_page(self.preferences_url(subscriber)),
                        active=subscriber.status == "active",
                    )
                name = subscribers.clean_name(request.value("namn"))[: subscribers.MAX_NAME]
                with transaction(db):
                    lists.set_lists(db, subscriber.id, chosen, self.now())
                    db.execute(
                        "UPDATE subscribers SET name = ? WHERE id = ?", (name, subscriber.id)
                    )
                # Saving never resubscribes: one who left is told so, and how to come back.
                kind = "saved" if subscriber.status == "active" else "saved-inactive"
                return self.message(200, kind, lists=self.list_names(chosen))
            chosen = lists.lists_of(db, self.config, subscriber.id)
        return self.page(
            200,
            "web/preferences.html",
            page_title=self.words.gettext("Choose letters"),
            token=token,
            subscriber=subscriber,
            chosen=chosen,
            unsubscribe_url=self.on_page(self.unsubscribe_url(subscriber)),
        )

    def my_data(self, request: Request) -> Response:
        with opened(self.config.state_path) as db:
            if request.method == "POST":
                self.count_post(db, request)
                if not request.value("webbplats"):
                    self.queue_data_link(db, request.value("epost"))
                return self.message(200, "data-sent")
            token = request.value("t", "query")
            if not token:
                return self.page(
                    200,
                    "web/mydata.html",
                    page_title=self.words.gettext("My data"),
                    subscriber=None,
                )
            subscriber = self.subscriber_for(db, token, "data")
            chosen = lists.lists_of(db, self.config, subscriber.id)
            deliveries = len(queue.of_subscriber(db, subscriber.id))
        consent_at = dt.datetime.fromisoformat(subscriber.consent_at).astimezone(
            self.config.site.timezone
        )
        if request.value("format", "query") == "json":
            return self.data_download(subscriber, chosen, consent_at, deliveries)
        return self.page(
            200,
            "web/mydata.html",
            page_title=self.words.gettext("My data"),
            subscriber=subscriber,
            token=token,
            list_names=self.list_names(chosen),
            consent_at=consent_at,
            deliveries=deliveries,
            preferences_url=self.on_page(self.preferences_url(subscriber)),
            download_url=self.on_page(self.link("my_data", token) + "&format=json"),
        )

    def data_download(
        self,
        subscriber: subscribers.Subscriber,
        chosen: list[str],
        consent_at: dt.datetime,
        deliveries: int,
    ) -> Response:
        """What the "my data" page shows, as JSON to keep (GDPR Article 20: portability)."""
        record = {
            "site": self.config.site.title,
            "email": subscriber.email,
            "name": subscriber.name,
            "status": subscriber.status,
            "letters": [
                {"key": key, "name": self.config.lists[key].name}
                for key in chosen
                if key in self.config.lists
            ],
            "consent": {
                "at": consent_at.isoformat(timespec="seconds"),
                "source": subscriber.consent_source,
                "version": subscriber.consent_version,
            },
            "messages_sent": deliveries,
        }
        body = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        filename = self.words.pgettext("file", "my-data") + ".json"
        return Response(
            200,
            body,
            "application/json; charset=utf-8",
            [("Content-Disposition", f'attachment; filename="{filename}"')],
        )

    def queue_data_link(self, db: sqlite3.Connection, address: str) -> None:
        """Queue a request for the data link, the same for any address: whether it is a
        subscriber's is found out later, by the sender (``resolve_requests``), so the page
        takes as long for a stranger as for a subscriber and says the same."""
        try:
            normalized = subscribers.normalize(address)
        except subscribers.InvalidAddress:
            raise Refused(400, "address") from None
        key = subscribers.email_key(normalized)
        with transaction(db):
            outgoing.enqueue(db, DATA_REQUEST, key, normalized, None, self.now())
        self.wake()

    def resolve_requests(self, db: sqlite3.Connection) -> None:
        """Each queued request for a data link becomes the mail, if the address is a
        subscriber's and under its daily quota, or is forgotten. (Run by the sender.)"""
        for request in outgoing.requests(db, DATA_REQUEST):
            with transaction(db):
                outgoing.resolve(db, request["id"], self.data_link(db, request["recipient"]))

    def data_link(self, db: sqlite3.Connection, address: str) -> tuple[str, str, str, bytes] | None:
        subscriber = subscribers.get(db, address)
        if subscriber is None:
            return None
        key = subscribers.email_key(subscriber.email)
        now = self.now()
        if not signups.take_quota(db, key, now, self.config.web.mails_per_address):
            return None
        expires = now + self.config.web.data_link_within
        token = make_link_token(self.secret, "data", subscriber.id, key, int(expires.timestamp()))
        data = reader_message(
            self.config,
            "my-data",
            subscriber.email,
            now,
            self.env,
            data_url=self.link("my_data", token),
            expires=expires.astimezone(self.config.site.timezone),
        )
        return "my-data", key, subscriber.email, data

    def erase(self, request: Request) -> Response:
        """Erasing asks once more (a page with the last button), then erases."""
        token = request.token
        with opened(self.config.state_path) as db:
            subscriber = self.subscriber_for(db, token, "data")
            if request.value("bekrafta") != "ja":
                return self.message(
                    200,
                    "erase-ask",
                    token=token,
                    back_url=self.on_page(self.link("my_data", token)),
                )
            privacy.forget(db, subscriber.email, self.now())
        return self.message(200, "erased")

    # --- the accessibility statement's report form --------------------------------------------

    def accessibility_report(self, request: Request) -> Response:
        """A reader's report of what they cannot use: mailed to [accessibility] contact through
        the outgoing queue (stored before the reader is told it is on its way)."""
        contact = self.config.accessibility.contact
        if not self.config.accessibility.enabled or not contact:
            raise Refused(404, "not-found")
        title = self.words.gettext("Report an accessibility problem")
        if request.method == "GET":
            return self.page(
                200,
                "web/accessibility.html",
                page_title=title,
                page_address=request.value("sida", "query"),
            )
        text = request.value("meddelande").strip()
        page = request.value("sida").strip()[:MAX_PAGE_ADDRESS]
        reply = request.value("epost").strip()
        with opened(self.config.state_path) as db:
            self.count_post(db, request)
            if request.value("webbplats"):  # the honeypot: the same answer, nothing sent
                return self.message(200, "report-sent", reply=bool(reply))
            if not text or len(text) > MAX_REPORT:
                raise Refused(400, "report-empty" if not text else "too-large")
            if reply:
                try:
                    reply = subscribers.normalize(reply)
                except subscribers.InvalidAddress:
                    raise Refused(400, "address") from None
            data = reader_message(
                self.config,
                "accessibility-report",
                contact,
                self.now(),
                self.env,
                reply_to=reply or None,
                report=text,
                page_address=page,
                reply_address=reply,
            )
            # Keyed by the reader's address when they gave one, so erasing them erases it too.
            key = subscribers.email_key(reply or contact)
            with transaction(db):
                outgoing.enqueue(db, "accessibility", key, contact, data, self.now())
        self.wake()
        return self.message(200, "report-sent", reply=bool(reply))

    # --- unsubscribe and health -----------------------------------------------------------------

    def unsubscribe(self, request: Request) -> Response:
        """The page behind every letter's unsubscribe link (and RFC 8058's one-click POST): in
        the site's look, naming the reader's own letters."""
        token = request.token

        def page(code: int, state: str, letters: list[str], token: str = "") -> Response:
            title = self.words.gettext("Unsubscribing")
            return self.page(
                code, "web/unsubscribe.html", page_title=title, state=state, token=token,
                letters=letters,
            )  # fmt: skip

        with opened(self.config.state_path) as db:
            row = find_by_unsubscribe_token(db, self.secret, token)
            letters = self.list_names(lists.lists_of(db, self.config, row["id"])) if row else []
            if request.method == "POST":
                one_click = request.form.get("List-Unsubscribe") == ["One-Click"]
                how = "one-click (RFC 8058)" if one_click else "web form"
                outcome = unsubscribe(db, self.secret, token, self.now(), how)
                if outcome.status == "invalid":
                    return page(400, "invalid", [])
                return page(200, "done", letters)
        if row is None:
            return page(400, "invalid", [])
        state = "done" if row["status"] == "unsubscribed" else "confirm"
        return page(200, state, letters, token)

    def health(self, request: Request) -> Response:
        try:
            with opened(self.config.state_path) as db:
                db.execute("SELECT 1 FROM subscribers LIMIT 1").fetchall()
        except (BlogtoolError, sqlite3.Error):
            return Response(503, b'{"status": "unavailable"}\n', "application/json")
        return Response(200, json.dumps({"status": "ok"}).encode() + b"\n", "application/json")


MAX_REPORT = 2000  # characters of a reader's report (the form's maxlength too)
MAX_PAGE_ADDRESS = 500
DATA_REQUEST = "my-data-request"  # an outgoing row that is a request, not yet a message


def make_app(
    config: Config,
    secret: bytes,
    now: Callable[[], dt.datetime],
    wake: Callable[[], None] = lambda: None,
) -> ReaderService:
    return ReaderService(config, secret, now, wake)
