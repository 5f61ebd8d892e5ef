"""``blogtool archive``: what was published and sent, as a BagIt package (RFC 8493) for the
municipality's e-archive. Published posts, tips and sent newsletters are public records
(allmänna handlingar); subscribers' addresses are personal data and never go in.

The package is made in a folder beside OUT and renamed to OUT once ``bagit`` has written its
manifests: OUT is a whole bag or not there. The end of its period is remembered in the state
database, and the next archive starts there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

from blogtool import __version__, i18n
from blogtool.config import Config
from blogtool.content.model import Item, Kind, Site
from blogtool.delivery import queue
from blogtool.errors import BlogtoolError
from blogtool.i18n import _
from blogtool.newsletter.issues import Issue, completed_issues, with_sample_links
from blogtool.pictures import sources
from blogtool.site.templates import make_environment
from blogtool.site.urls import Urls
from blogtool.store import get_state, opened, set_state, transaction, utc_now_iso

#: The state key that holds where the last archive's period ended (ISO 8601, UTC).
LAST_UNTIL = "archive.until"
#: The state keys that keep the consent text each version of the sign-up form showed.
CONSENT_KEY = "archive.consent."
CHECKSUMS = ["sha256", "sha512"]


class ArchiveError(BlogtoolError):
    """The archive cannot be made (OUT exists, the site is not built)."""


@dataclass(frozen=True)
class Made:
    """What one archive holds."""

    path: Path
    since: dt.datetime | None
    until: dt.datetime
    items: int
    issues: int
    consents: int
    files: int


def last_until(config: Config) -> dt.datetime | None:
    """Where the last archive's period ended: the next one starts there."""
    if not config.state_path.exists():
        return None
    with opened(config.state_path) as db:
        value = get_state(db, LAST_UNTIL)
    return dt.datetime.fromisoformat(value) if value else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _iso(value: dt.datetime | None, config: Config) -> str | None:
    return value.astimezone(config.site.timezone).isoformat() if value else None


def _items(site: Site, since: dt.datetime | None, until: dt.datetime) -> list[Item]:
    """Items published in the period (after ``since``, until ``until`` inclusive; so one
    archive ends where the next begins, and nothing is in both), oldest first."""
    found = [
        i
        for i in site.items
        if i.is_published(until) and i.date is not None and (since is None or i.date > since)
    ]
    return sorted(found, key=lambda i: (i.date, i.slug))


def _pictures(config: Config, item: Item) -> list[Path]:
    """The original files of the item's pictures (its lead picture and those in its text)."""
    refs = [item.image] if item.image else []
    refs += [target for _o, target, image in item.links or () if image]
    found: list[Path] = []
    for ref in refs:
        where = sources.find(config, ref, item.path)
        if where is not None and (config.root / where) not in found:
            found.append(config.root / where)
    return found


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _item_record(config: Config, urls: Urls, item: Item, folder: Path) -> None:
    source = (config.root / item.path).read_bytes()
    page = config.output_dir / urls.item(item) / "index.html"
    try:
        rendered = page.read_bytes()
    except OSError:
        raise ArchiveError(
            _(
                "{item}: its page is not on the published site ({page}); run 'blogtool build' "
                "and archive again"
            ).format(item=item.rel, page=urls.item(item))
        ) from None
    _write(folder / "source.md", source)
    _write(folder / "page.html", rendered)
    pictures = []
    for picture in _pictures(config, item):
        data = picture.read_bytes()
        _write(folder / "pictures" / picture.name, data)
        pictures.append({"file": f"pictures/{picture.name}", "sha256": _sha256(data)})
    record = {
        "kind": item.kind.value,
        "title": item.title,
        "published": _iso(item.date, config),
        "author": item.author or config.site.author or None,
        "address": urls.absolute(urls.item(item)),
        "source": item.rel,
        "source_sha256": _sha256(source),
        "page_sha256": _sha256(rendered),
        "tags": list(item.tags),
        "aliases": list(item.values.get("aliases") or ()),
        "service": item.service,
        "summary": item.summary,
        "pictures": pictures,
    }
    _write(folder / "metadata.json", _json(record))


def _issue_message(config: Config, issue: Issue, sent_at: dt.datetime) -> bytes:
    """One copy of the issue as subscribers got it, addressed to nobody: the recipient is an
    empty group (RFC 5322) and each reader's own links carry an example token."""
    message = EmailMessage(policy=SMTP)
    message["From"] = config.newsletter.from_address
    message["To"] = "undisclosed-recipients:;"
    message["Subject"] = issue.subject
    message["Date"] = format_datetime(sent_at.astimezone(config.site.timezone))
    message["List-Id"] = f"{config.tips.title} <{config.tips.slug}.{config.site.domain}>"
    message.set_content(with_sample_links(issue.text, config))
    message.add_alternative(with_sample_links(issue.html, config), subtype="html")
    return message.as_bytes()


def _issues(
    db: sqlite3.Connection, since: dt.datetime | None, until: dt.datetime
) -> list[tuple[Issue, int, dt.datetime | None, dt.datetime]]:
    """Sent issues whose sending ended in the period: each with its number of recipients and
    when its first and last message went."""
    found: list[tuple[Issue, int, dt.datetime | None, dt.datetime]] = []
    for issue in completed_issues(db):
        completed = dt.datetime.fromisoformat(issue.completed_at or "")
        if completed > until or (since is not None and completed <= since):
            continue
        sent, first, last = queue.sent_span(db, issue.id)
        found.append(
            (
                issue,
                sent,
                dt.datetime.fromisoformat(first) if first else None,
                dt.datetime.fromisoformat(last) if last else completed,
            )
        )
    return found


def consent_text(config: Config) -> str:
    """The consent text the sign-up form shows now (its own partial, rendered for the site)."""
    env = make_environment(config)
    return env.get_template("partials/consent.html").render().strip() + "\n"


def _consents(db: sqlite3.Connection, config: Config, now: dt.datetime) -> dict[str, str]:
    """Every consent text recorded so far, by version; the current version's text is recorded
    the first time an archive sees it."""
    key = CONSENT_KEY + config.web.consent_version
    if get_state(db, key) is None:
        with transaction(db):
            set_state(db, key, consent_text(config), now)
    rows = db.execute(
        "SELECT key, value FROM state WHERE key LIKE ? ORDER BY key", (CONSENT_KEY + "%",)
    )
    return {k[len(CONSENT_KEY) :]: v for k, v in rows}


def make(site: Site, out: Path, now: dt.datetime, since: dt.datetime | None = None) -> Made:
    """Write the archive of what was published and sent from ``since`` (default: where the
    last archive ended; the beginning, the first time) until ``now`` to the new folder ``out``."""
    import bagit

    config = site.config
    if out.exists():
        raise ArchiveError(_("{out} exists; name a new folder for the archive").format(out=out))
    if not out.parent.is_dir():
        raise ArchiveError(_("{parent}: no such folder").format(parent=out.parent))
    if since is None:
        since = last_until(config)
    until = now
    urls = Urls(config)
    words = i18n.reader(config.site.language)
    items = _items(site, since, until)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for item in items:
            folder = "tips" if item.kind is Kind.TIP else "posts"
            _item_record(config, urls, item, work / folder / item.slug)
        with opened(config.state_path) as db:
            issues = _issues(db, since, until)
            for issue, recipients, first, last in issues:
                name = f"{issue.id:04d}"
                _write(
                    work / "newsletters" / name / "message.eml", _issue_message(config, issue, last)
                )
                _write(
                    work / "newsletters" / name / "metadata.json",
                    _json(
                        {
                            "issue": issue.id,
                            "subject": issue.subject,
                            "list": issue.list_key or config.tips.slug,
                            "recipients": recipients,
                            "first_sent": _iso(first, config),
                            "last_sent": _iso(last, config),
                            "items": list(issue.items),
                        }
                    ),
                )
            consents = _consents(db, config, now)
        for version, text in consents.items():
            _write(work / "consent" / f"{version}.html", text.encode("utf-8"))
        files = sum(1 for p in work.rglob("*") if p.is_file())
        end = until.astimezone(config.site.timezone).date().isoformat()
        if since is None:
            about = words.gettext(
                "{site}: the posts and tips published and the newsletters sent until {end}"
            ).format(site=config.site.title, end=end)
        else:
            about = words.gettext(
                "{site}: the posts and tips published and the newsletters sent, {start} to {end}"
            ).format(
                site=config.site.title,
                start=since.astimezone(config.site.timezone).date().isoformat(),
                end=end,
            )
        info = {
            "Source-Organization": config.site.organisation,
            "External-Identifier": config.site.base_url,
            "External-Description": about,
            "Bagging-Date": now.astimezone(config.site.timezone).date().isoformat(),
            "Bag-Software-Agent": (
                f"blogtool {__version__}; bagit {package_metadata.version('bagit')}"
            ),
            "Period-Start": utc_now_iso(since) if since else "",
            "Period-End": utc_now_iso(until),
            "Items": str(len(items)),
            "Newsletters": str(len(issues)),
        }
        if not info["Period-Start"]:
            del info["Period-Start"]
        bagit.make_bag(str(work), bag_info=info, checksums=CHECKSUMS)
        work.chmod(0o755)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    with opened(config.state_path) as db, transaction(db):
        set_state(db, LAST_UNTIL, utc_now_iso(until), now)
    return Made(out, since, until, len(items), len(issues), len(consents), files)
