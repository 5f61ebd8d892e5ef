"""Message composition and the queue's pacing, checked with the email parser and a fake clock."""

from __future__ import annotations

import email
import ssl
import subprocess
from email import policy

import pytest

from blogtool.config import load_config
from blogtool.delivery.pacing import Pacing
from blogtool.delivery.sending import send_issue
from blogtool.delivery.transports import SendAborted, SmtpTransport
from blogtool.newsletter.compose import MessageFactory, Recipient
from blogtool.newsletter.issues import UNSUBSCRIBE_PLACEHOLDER, Issue
from blogtool.store import connect

from .conftest import NOW
from .smtp_sink import Faults, Server, Sink, free_port

SECRET = b"ett-hemligt-varde-for-testerna-1234"


def issue(text: str, html: str, subject: str = "Torsdagstips vecka 49: Växjö Naturkarta") -> Issue:
    return Issue(7, "", "", "", subject, "", html, text, (), None, None)


@pytest.mark.parametrize(
    "text",
    [
        "Kort.\n" + UNSUBSCRIBE_PLACEHOLDER + "\n",
        "Avregistrera: " + UNSUBSCRIBE_PLACEHOLDER + " – klart.\n",
        ("Lång rad med åäö och = tecken " * 12) + UNSUBSCRIBE_PLACEHOLDER + ("x" * 200) + "\n",
        UNSUBSCRIBE_PLACEHOLDER + UNSUBSCRIBE_PLACEHOLDER,
        "Slut utan radbrytning " + "ü" * 90,
        "Blanksteg före länken    " + UNSUBSCRIBE_PLACEHOLDER + "   \nrad två\t\n",
    ],
)
def test_parts_decode_exactly_and_lines_stay_short(sample_site, text):
    config = load_config(sample_site)
    html = "<p>" + text.replace("\n", "<br>\n") + "</p>\n"
    factory = MessageFactory(config, issue(text, html), SECRET)
    name = "Åsa Öberg-Långnamnsdotter von Hälsingborgs Kommunala Förvaltning"
    recipient = Recipient(41, 12, "asa@example.se", name)
    raw = factory.render(recipient, "<7.41.x@blogg.vaxjo.example>", NOW)
    url = factory.unsubscribe_url(recipient)
    msg = email.message_from_bytes(raw, policy=policy.default)
    # Lines end in CRLF on the wire; the parser hands them back as such.
    plain = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == text.replace(UNSUBSCRIBE_PLACEHOLDER, url)
    assert msg.get_body(("html",)).get_content().replace("\r\n", "\n") == html.replace(
        UNSUBSCRIBE_PLACEHOLDER, url
    )
    assert str(msg["To"]) == f"{name} <asa@example.se>"
    assert msg["Subject"] == "Torsdagstips vecka 49: Växjö Naturkarta"
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        # 78 is the aim (RFC 5322 2.1.1); URIs in List-Unsubscribe are kept whole (RFC 2369).
        unbreakable = line.startswith((b"List-Unsubscribe: <", b" <mailto:"))
        assert len(line) <= (998 if unbreakable else 78), line
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))


def test_same_bytes_as_the_email_package_would_decode_for_a_reference_message(sample_site):
    """Cross-check against a message built the slow way, header by header."""
    from email.message import EmailMessage

    config = load_config(sample_site)
    text = "Hej!\n\nAvregistrera: " + UNSUBSCRIBE_PLACEHOLDER + "\n"
    html = f'<p>Hej!</p><p><a href="{UNSUBSCRIBE_PLACEHOLDER}">Avregistrera</a></p>\n'
    factory = MessageFactory(config, issue(text, html), SECRET)
    recipient = Recipient(1, 2, "bo@example.se", "Bo")
    ours = email.message_from_bytes(factory.render(recipient, "<a@b>", NOW), policy=policy.default)
    url = factory.unsubscribe_url(recipient)
    ref = EmailMessage()
    ref.set_content(text.replace(UNSUBSCRIBE_PLACEHOLDER, url))
    ref.add_alternative(html.replace(UNSUBSCRIBE_PLACEHOLDER, url), subtype="html")
    for subtype in ("plain", "html"):
        mine = ours.get_body((subtype,)).get_content().replace("\r\n", "\n")
        assert mine == ref.get_body((subtype,)).get_content()


class FakeTime:
    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def _queue(sample_site, n: int):
    db = connect(sample_site / ".blogtool/state.db")
    for i in range(n):
        db.execute(
            "INSERT INTO subscribers (email, email_key, consent_at, consent_source, created_at, updated_at) "
            "VALUES (?, ?, 'x', 'test', 'x', 'x')",
            (f"p{i}@example.se", f"p{i}@example.se"),
        )
    db.execute(
        "INSERT INTO issues (id, created_at, period_start, period_end, subject, preheader, html, text, items) "
        f"VALUES (7, 'x', 'x', 'x', 'Ämne', '', '<p>{UNSUBSCRIBE_PLACEHOLDER}</p>', '{UNSUBSCRIBE_PLACEHOLDER}', '[]')"
    )
    from blogtool.newsletter.issues import get_issue

    return db, get_issue(db, 7)


class Recorder:
    description = "a recorder"

    def __init__(self, fail: dict[str, list[Exception]] | None = None):
        self.sent: list[str] = []
        self.fail = fail or {}

    def open(self) -> None:
        pass

    def begin(self, envelope):
        errors = self.fail.get(envelope.recipient)
        if errors:
            raise errors.pop(0)

    def finish(self, data, envelope, name, following=None):
        self.sent.append(envelope.recipient)
        return None, None

    def chains(self):
        return False

    def close(self) -> None:
        pass

    def twin(self):
        return self  # one record of what every connection sent


@pytest.mark.parametrize("connections", [1, 3])
def test_rate_limit_spaces_messages(sample_site, connections):
    config = load_config(sample_site)
    db, iss = _queue(sample_site, 5)
    fake = FakeTime()
    pacing = Pacing(now=lambda: NOW, clock=fake.clock, sleep=fake.sleep)
    transport = Recorder()
    report = send_issue(
        db, iss, MessageFactory(config, iss, SECRET), transport, "n@x.se", pacing, rate=120,
        connections=connections,
    )  # fmt: skip
    assert report.sent == 5 and len(transport.sent) == 5
    # 120 a minute: one every half second, however many connections share them
    assert fake.sleeps == pytest.approx([0.5] * 4)


@pytest.mark.parametrize("connections", [1, 3])
def test_backoff_doubles_between_temporary_failures(sample_site, connections):
    from blogtool.delivery.transports import TemporaryFailure

    config = load_config(sample_site)
    db, iss = _queue(sample_site, 2)
    fake = FakeTime()
    pacing = Pacing(now=lambda: NOW, clock=fake.clock, sleep=fake.sleep)
    transport = Recorder(
        {
            "p0@example.se": [
                TemporaryFailure("451 a"),
                TemporaryFailure("451 b"),
                TemporaryFailure("451 c"),
            ]
        }
    )
    report = send_issue(
        db, iss, MessageFactory(config, iss, SECRET), transport, "n@x.se", pacing,
        max_attempts=5, retry_delay=10, connections=connections,
    )  # fmt: skip
    assert report.sent == 2 and report.retried == 3
    assert transport.sent == ["p1@example.se", "p0@example.se"]
    assert fake.sleeps == pytest.approx([10, 20, 40])


def _self_signed(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def test_untrusted_certificate_is_refused(sample_site, tmp_path):
    from aiosmtpd.controller import Controller

    from blogtool.config import SmtpConfig

    port = free_port()
    controller = Controller(
        Sink(Faults()),
        hostname="127.0.0.1",
        port=port,
        tls_context=_self_signed(tmp_path),
        require_starttls=True,
    )
    controller.start()
    try:
        transport = SmtpTransport(
            SmtpConfig("127.0.0.1", port, "starttls", None, 5, 1, 0, True, 1), None
        )
        with pytest.raises(
            SendAborted, match=r"certificate of 127\.0\.0\.1:\d+ \(starttls\) could not be verified"
        ):
            transport.open()
    finally:
        controller.stop()


def test_connection_is_reused_for_the_whole_run(sample_site):
    config = load_config(sample_site)
    db, iss = _queue(sample_site, 25)
    port = free_port()
    sink = Sink()
    server = Server(sink, port).start()
    try:
        from blogtool.config import SmtpConfig

        transport = SmtpTransport(
            SmtpConfig("127.0.0.1", port, "none", None, 5, 3, 0, True, 1), None
        )
        pacing = Pacing(now=lambda: NOW, clock=lambda: 0.0, sleep=lambda s: None)
        report = send_issue(
            db, iss, MessageFactory(config, iss, SECRET), transport, "n@x.se", pacing
        )
    finally:
        server.stop()
    assert report.sent == 25 and sum(sink.counts().values()) == 25
    assert sink.connections == 1


def test_a_bug_on_a_connection_stops_the_send_instead_of_hanging(sample_site):
    """A connection's thread that fails in an unexpected way reports it; the send stops with
    that error, and the message it held stays uncertain rather than lost or doubled."""
    import threading

    class Broken(Recorder):
        def chains(self):  # asked after the claim, outside the transport's error handling
            raise RuntimeError("a bug in the transport")

    config = load_config(sample_site)
    pacing = Pacing(now=lambda: NOW, clock=lambda: 0.0, sleep=lambda s: None)
    outcome: list[BaseException] = []

    def send() -> None:  # in a thread of its own, so that a hang fails the test
        db, iss = _queue(sample_site, 3)
        try:
            send_issue(db, iss, MessageFactory(config, iss, SECRET), Broken(), "n@x.se", pacing,
                       connections=2)  # fmt: skip
        except BaseException as exc:
            outcome.append(exc)
        finally:
            db.close()

    worker = threading.Thread(target=send, daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), "the send hung"
    assert outcome and isinstance(outcome[0], RuntimeError)
    db = connect(sample_site / ".blogtool/state.db")
    rows = db.execute("SELECT status, last_error FROM deliveries").fetchall()
    assert not [r for r in rows if r[0] == "sent"]
    assert any(r[0] == "sending" and "a bug in the transport" in (r[1] or "") for r in rows)


def test_the_relay_sees_the_login_name_as_configured(sample_site):
    """yagmail would log "nyhetsbrev" in as "nyhetsbrev@gmail.com"; the relay sees the name."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from blogtool.config import SmtpConfig

    seen: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    port = free_port()
    controller = Controller(
        Sink(Faults()), hostname="127.0.0.1", port=port, authenticator=authenticator,
        auth_require_tls=False,  # loopback: the one place a password may go unencrypted
    )  # fmt: skip
    controller.start()
    try:
        for user in ("nyhetsbrev", "nyhetsbrev@vaxjo.example"):
            config = SmtpConfig("127.0.0.1", port, "none", user, 5, 1, 0, True, 1)
            transport = SmtpTransport(config, "hemligt")
            transport.open()
            transport.close()
    finally:
        controller.stop()
    assert seen == [("nyhetsbrev", "hemligt"), ("nyhetsbrev@vaxjo.example", "hemligt")]


@pytest.mark.parametrize("host", ["relay.vaxjo.example", "192.0.2.25", "[2001:db8::25]"])
def test_a_password_never_crosses_the_network_unencrypted(sample_site, host):
    from blogtool.config import SmtpConfig

    transport = SmtpTransport(SmtpConfig(host, 25, "none", "nyhetsbrev", 5, 1, 0, True, 1), "x")
    with pytest.raises(SendAborted, match=r'\[smtp\] security = "none" would send the password'):
        transport.open()
    # Without a login there is no password to protect: a relay that takes mail from the
    # office's network unauthenticated may be plain SMTP (this one is not there: refused).
    bare = SmtpTransport(SmtpConfig("127.0.0.1", free_port(), "none", None, 5, 1, 0, True, 1), None)
    with pytest.raises(Exception, match="cannot connect"):
        bare.open()


def test_the_bounce_mailbox_password_never_crosses_the_network_unencrypted(
    sample_site, monkeypatch
):
    from .conftest import SECRET, Run

    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8")
        + '\n[bounces]\nimap_host = "imap.vaxjo.example"\nuser = "studsar"\nsecurity = "none"\n',
        "utf-8",
    )
    monkeypatch.setenv("BLOGTOOL_IMAP_PASSWORD", "hemligt")
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    result = Run(sample_site)("bounces", "fetch")
    assert result.exit_code == 1
    assert '[bounces] security = "none" would send the password for studsar' in result.stderr
