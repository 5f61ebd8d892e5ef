"""A reader's whole path through the reader service in headless Chromium, with axe-core checking
each page a person fills in: the built site and the service on one waitress server on
127.0.0.1 (as nginx would put them together), mail read back from the outbox."""

from __future__ import annotations

import email
import json
import os
import re
from email import policy
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

from blogtool.config import load_config
from blogtool.delivery.transports import OutboxTransport
from blogtool.newsletter.compose import envelope_sender
from blogtool.web.app import make_app
from blogtool.web.server import Sender, make_server, with_site

from .conftest import NOW, SECRET, Run, serious_violations
from .processes import serving_waitress, wait_for

pytestmark = pytest.mark.browser
READER = "lisa.larsson@example.se"


@pytest.fixture
def served(web_site):
    run = Run(web_site)
    assert run("build").exit_code == 0
    config = load_config(web_site)
    sender = Sender(
        config, lambda: OutboxTransport(config.outbox_dir), envelope_sender(config), lambda: NOW,
        interval=0.2,
    )  # fmt: skip
    app = make_app(config, SECRET.encode(), lambda: NOW, sender.wake)
    sender.prepare = app.resolve_requests
    socket_map: dict = {}
    server = make_server(with_site(app, web_site / "public"), "127.0.0.1", 0, socket_map=socket_map)
    with serving_waitress(server, socket_map):
        sender.start()
        try:
            yield web_site, run, config, f"http://127.0.0.1:{server.effective_port}"
        finally:
            sender.stop()


def mail_to(config, address: str, contains: str) -> email.message.EmailMessage:
    def found() -> email.message.EmailMessage | None:
        for path in sorted(config.outbox_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            text = message.get_body(("plain",)).get_content()
            if address in str(message["To"]) and contains in text:
                return message  # type: ignore[return-value]
        return None

    return wait_for(found, f"a mail to {address} with {contains!r}")


def link(message, purpose: str, base: str) -> str:
    text = message.get_body(("plain",)).get_content()
    found = urlsplit(re.search(rf"https://\S+\?t={purpose}\.\S+", text).group())
    return f"{base}{found.path}?{found.query}"


def serious(page) -> list[str]:
    return serious_violations(Axe(), page)


def test_a_reader_signs_up_reads_chooses_leaves_and_erases(served, browser):
    _, run, config, base = served
    page = browser.new_page()
    failures: list[str] = []
    page.on(
        "response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None
    )

    # 1. The form in the footer of a built page.
    page.goto(base + "/")
    assert serious(page) == []
    form = page.locator("form.signup").first
    form.get_by_label("E-postadress").fill(READER)
    form.get_by_label("Namn").fill("Lisa")
    form.get_by_role("button", name="Prenumerera").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Titta i din inkorg"
    page.goto(base + "/nyhetsbrev/")  # the sign-up page itself
    assert serious(page) == []

    # 2-3. The confirmation mail's link: a page with a button, and the button confirms.
    page.goto(link(mail_to(config, READER, "Bekräfta här"), "confirm", base))
    assert page.locator("h1").inner_text() == "Bekräfta din prenumeration"
    assert serious(page) == []
    page.get_by_role("button", name="Ja, jag vill prenumerera").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Tack, nu är du med!"

    # 4. The newsletter reaches the reader.
    assert run("newsletter", "build", "--since", "2026-11-20").exit_code == 0
    assert run("newsletter", "send").exit_code == 0
    letter = mail_to(config, READER, "Hitta ett utegym")

    # 5. Preferences through the letter's own link.
    page.goto(link(letter, "prefs", base))
    assert page.locator("h1").inner_text() == "Välj vilka brev du får"
    assert serious(page) == []
    page.get_by_label("Nya blogginlägg").check()
    page.get_by_role("button", name="Spara").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Dina val är sparade"
    shown = run("subscribers", "show", READER).stdout
    assert "lists: torsdagstips blogg" in shown and "name: Lisa" in shown

    # 6. One-click unsubscribe, as a mail client does it (RFC 8058): a POST to the header's URL.
    header = letter["List-Unsubscribe"]
    url = urlsplit(re.search(r"<(https://[^>]+)>", header).group(1))
    response = page.request.post(
        f"{base}{url.path}?{url.query}", form={"List-Unsubscribe": "One-Click"}
    )
    assert response.status == 200
    assert "status: unsubscribed" in run("subscribers", "show", READER).stdout

    # 7. My data: asked for on the site, the link mailed, the record shown, and erased.
    page.goto(base + "/nyhetsbrev/mina-uppgifter")
    assert serious(page) == []
    page.get_by_label("E-postadress").fill(READER)
    page.get_by_role("button", name="Skicka länken").click()
    page.wait_for_load_state()
    page.goto(link(mail_to(config, READER, "ändra eller radera"), "data", base))
    assert page.locator("h1").inner_text() == "Mina uppgifter"
    assert READER in page.locator("dl.record").inner_text()
    assert serious(page) == []
    page.get_by_role("button", name="Radera mina uppgifter").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Radera allt om dig?"  # asked once more
    page.get_by_role("button", name="Ja, radera allt").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Dina uppgifter är raderade"
    assert run("subscribers", "show", READER).exit_code == 1
    assert failures == []


# --- every reader page, for a reader on each combination of letters --------------------------

SOAK = os.environ.get("BLOGTOOL_SOAK") == "1"
LOOKS = [(1280, "light"), (390, "dark"), (1280, "dark"), (390, "light")]  # desktop, phone
COMBINATIONS = [("torsdagstips",), ("blogg",), ("torsdagstips", "blogg")]
NAMES = {"torsdagstips": "Torsdagstips varje vecka", "blogg": "Nya blogginlägg"}
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  (window.__csp = window.__csp || []).push(e.violatedDirective + " " + e.blockedURI);
});
"""


def _looks_for(n: int) -> list[tuple[int, str]]:
    """Every size and scheme under make soak; one each (in turn) in make test."""
    return LOOKS if SOAK else [LOOKS[n % len(LOOKS)]]


@pytest.mark.parametrize("n", range(len(COMBINATIONS)), ids=["+".join(c) for c in COMBINATIONS])
def test_every_reader_page_is_in_the_sites_look_and_names_the_readers_letters(served, browser, n):
    _site, run, config, base = served
    for width, scheme in _looks_for(n):
        # axe on every page in every look of make soak; in make test, in the first
        # combination's (the pages of the others differ from it only in the letters named).
        _walk(browser, run, config, base, COMBINATIONS[n], width, scheme, axe=SOAK or n == 0)


def _walk(
    browser, run, config, base: str, letters: tuple[str, ...], width: int, scheme: str, axe: bool
):
    """One reader's every page, in one size and colour scheme."""
    named = [NAMES[k] for k in letters]
    reader = f"lasare.{'.'.join(letters)}.{width}.{scheme}@example.se"
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, locale="sv-SE"
    )
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    theme: dict[str, str] = {}

    def check(what: str, names_letters: bool = True) -> None:
        page.wait_for_load_state("load")
        where = f"{what} ({width}px, {scheme})"
        assert page.evaluate("window.__csp || []") == [], where
        assert not [c for c in console if "Content Security Policy" in c], (where, console)
        style = page.evaluate(STYLE_OF_PAGE)
        assert style["sheet"] and "system-ui" in style["font"], (where, style)
        if style["button"]:
            # The theme's accent, the same on every page of one look; never the browser's grey.
            assert theme.setdefault("button", style["button"]) == style["button"], where
            assert style["button"] not in ("rgb(239, 239, 239)", "rgba(0, 0, 0, 0)"), where
        if names_letters:
            main = page.locator("main").inner_text()
            for name in named:
                assert name in main, (where, main)
            for other in set(NAMES.values()) - set(named):
                assert other not in main, (where, main)
        if axe:
            assert serious(page) == [], where

    # Sign up on the service's own sign-up page for exactly these letters.
    page.goto(base + "/nyhetsbrev/")
    check("the sign-up page", names_letters=False)
    form = page.locator("main form.signup").first
    form.get_by_label("E-postadress").fill(reader)
    for key, name in NAMES.items():
        box = form.get_by_label(name)
        if key in letters:
            box.check()
        else:
            box.uncheck()
    form.get_by_role("button", name="Prenumerera").click()
    check("sent", names_letters=False)
    page.goto(link(mail_to(config, reader, "Bekräfta här"), "confirm", base))
    check("the confirmation page")
    page.get_by_role("button", name="Ja, jag vill prenumerera").click()
    check("confirmed")
    page.get_by_role("link", name="Välj dina brev och ditt namn").click()
    check("preferences", names_letters=False)  # every letter is offered there
    page.get_by_role("button", name="Spara").click()
    check("saved")
    page.go_back()
    for name in NAMES.values():
        page.get_by_label(name).uncheck()
    page.get_by_role("button", name="Spara").click()
    check("no letter ticked", names_letters=False)
    page.get_by_role("button", name="Avregistrera mig").click()
    check("unsubscribed")

    # The unsubscribe page from a letter's link, for a reader still subscribed.
    other = f"x{reader}"
    chosen = [arg for key in letters for arg in ("--list", key)]
    assert run("subscribers", "add", other, *chosen).exit_code == 0
    from blogtool.store import connect
    from blogtool.subscribers.people import email_key
    from blogtool.subscribers.tokens import make_link_token, make_token

    with connect(config.state_path) as db:
        query = "SELECT id FROM subscribers WHERE email = ?"
        ident = db.execute(query, (other,)).fetchone()[0]
    key = email_key(other)
    page.goto(f"{base}/nyhetsbrev/avregistrera?t={make_token(SECRET.encode(), ident, key)}")
    check("the unsubscribe page")

    # My data, its question before erasing, and the erased page.
    token = make_link_token(SECRET.encode(), "data", ident, key, 2_000_000_000)
    page.goto(f"{base}/nyhetsbrev/mina-uppgifter?t={token}")
    check("my data")
    page.get_by_role("button", name="Radera mina uppgifter").click()
    check("erase: asked once more", names_letters=False)
    page.get_by_role("button", name="Ja, radera allt").click()
    check("erased", names_letters=False)
    context.close()


STYLE_OF_PAGE = """() => {
  // The page's own main button (a red "erase" button is meant to differ).
  const b = document.querySelector("main button:not(.danger)");
  return {
    font: getComputedStyle(document.body).fontFamily,
    button: b ? getComputedStyle(b).backgroundColor : "",
    sheet: [...document.styleSheets].some((s) => (s.href || "").endsWith("style.css")),
  };
}"""


def test_a_reader_reports_an_accessibility_problem_from_the_statement(served, browser):
    """The statement's form, used as a person would (by its labels, with the keyboard): the
    report reaches the outbox, addressed to [accessibility] contact. Both pages pass axe."""
    _, _run, config, base = served
    page = browser.new_page(locale="sv-SE")
    page.goto(base + "/")
    with page.expect_navigation():
        page.get_by_role("link", name="Tillgänglighetsredogörelse").click()
    assert page.locator("h1").inner_text() == "Tillgänglighet för Kommunbloggen"
    assert serious(page) == []
    form = page.locator("form.report")
    form.get_by_label("Vad kunde du inte använda?").fill(
        "Menyn går inte att öppna med tangentbordet."
    )
    form.get_by_label("Sidans adress").fill(base + "/torsdagstips/")
    form.get_by_label("Din e-postadress, om du vill ha svar").fill("lasare@example.se")
    form.get_by_role("button", name="Skicka").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1").inner_text() == "Tack för din rapport"
    assert serious(page) == []
    report = mail_to(config, "kommunikation@vaxjo.example", "Menyn går inte att öppna")
    assert report["Reply-To"] == "lasare@example.se"
    assert f"Sidans adress: {base}/torsdagstips/" in report.get_body(("plain",)).get_content()
    # The form's own page on the reader service (for a link from elsewhere) passes too.
    page.goto(base + "/nyhetsbrev/tillganglighet?sida=/arkiv/")
    assert page.get_by_label("Sidans adress").input_value() == "/arkiv/"
    assert serious(page) == []


def test_the_statement_says_what_axe_found_from_its_own_results(served, browser):
    """[accessibility] axe_results: axe-core's results, as it writes them, become a line of
    the statement's "how we tested" (here axe's run on the statement itself)."""
    site, run, _config, base = served
    page = browser.new_page(locale="sv-SE")
    results = []
    for path in ("/tillganglighet/", "/", "/torsdagstips/"):
        page.goto(base + path)
        results.append(Axe().run(page).response)
    (site / "axe.json").write_text(json.dumps(results), "utf-8")
    config = site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace(
            "[accessibility]\n", '[accessibility]\naxe_results = "axe.json"\n'
        ),
        "utf-8",
    )
    assert run("build").exit_code == 0
    statement = (site / "public/tillganglighet/index.html").read_text("utf-8")
    version = results[0]["testEngine"]["version"]
    assert (
        f"kontrollerades också med axe-core {version} i en webbläsare: 3 sidor, den " in statement
    )
    assert ", med 0 allvarliga eller kritiska brister och " in statement
    (site / "axe.json").write_text("inte json", "utf-8")
    checked = run("check")
    assert "[accessibility] axe_results: axe.json:" in checked.stderr
