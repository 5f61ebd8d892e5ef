"""Writing and scheduling: new posts and tips, schedule, unschedule, a new site.

Every function takes ``now`` and returns what it did; it validates before it writes and writes
atomically, so a refused or failed action leaves every file as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import frontmatter

from blogtool import i18n
from blogtool.config import CONFIG_NAME, Config
from blogtool.content import fields, readiness
from blogtool.content.calendar import holiday_on, next_free_morning, next_free_slot
from blogtool.content.editing import set_body, set_front_matter_keys, yaml_text
from blogtool.content.load import load_site
from blogtool.content.model import Item, Kind, Site
from blogtool.content.parse import parse_item
from blogtool.content.readiness import PLACEHOLDER_FIELD, placeholder_value
from blogtool.errors import BlogtoolError, ContentError, Problem, UsageError, unknown
from blogtool.files import write_atomic, write_new
from blogtool.i18n import _, cli_language
from blogtool.slugs import slugify
from blogtool.timeutil import parse_when, short_datetime, weekday_name


@dataclass(frozen=True)
class Created:
    path: Path
    when: dt.datetime
    notes: tuple[str, ...] = ()


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="minutes" if when.second == 0 else "seconds")


def _render(metadata: dict[str, object], body: str) -> bytes:
    post = frontmatter.Post(body)
    post.metadata.update(metadata)  # in this order: the YAML keeps it (sort_keys=False)
    return (frontmatter.dumps(post, sort_keys=False) + "\n").encode("utf-8")


def _check_slug_free(site: Site, slug: str) -> None:
    if not slug:
        raise UsageError(_("no slug can be made from this title; use letters or digits in it"))
    for item in site.items:
        if item.slug == slug:
            raise UsageError(
                _("the slug {slug!r} is already used by {path}; choose another title").format(
                    slug=slug, path=item.path
                )
            )


def new_post(config: Config, title: str, now: dt.datetime) -> Created:
    """Write ``posts/YYYY-MM-DD-slug.md`` as a draft dated now."""
    site = load_site(config).raise_for_errors()
    slug = slugify(title)
    _check_slug_free(site, slug)
    local = now.astimezone(config.site.timezone).replace(second=0, microsecond=0)
    path = config.posts_dir / f"{local.date().isoformat()}-{slug}.md"
    meta: dict[str, object] = {
        "title": title.strip(),
        "date": _iso(local),
        "author": config.site.author,
        "summary": "",
        "tags": [],
        "draft": True,
    }
    words = i18n.reader(config.site.language)  # the post is in the site's language
    body = words.gettext("Write the post here. Set when it goes out with `blogtool schedule`.")
    body += "\n"
    meta[PLACEHOLDER_FIELD] = placeholder_value(body)
    write_new(path, _render(meta, body))
    return Created(path, local)


def new_tip(
    config: Config,
    title: str,
    service: str,
    now: dt.datetime,
    date: str | None = None,
) -> Created:
    """Write a draft tip on the next free series weekday, or on ``date``."""
    if not config.tips.enabled:
        raise UsageError(
            _("the site has no weekly series ([tips] enabled = false); write a post instead")
        )
    if service not in config.services:
        if not config.services:
            raise UsageError(
                _(
                    "unknown service {service!r}; add one to blogtool.toml first, as "
                    "[services.KEY] with name, url and description"
                ).format(service=service)
            )
        raise UsageError(
            "--service: "
            + unknown(_("service {key!r}").format(key=service), service, list(config.services))
        )
    site = load_site(config).raise_for_errors()
    slug = slugify(title)
    _check_slug_free(site, slug)
    tz = config.site.timezone
    notes: list[str] = []
    if date is None:
        when = next_free_slot(site, now)
    else:
        try:
            when = parse_when(date, tz, config.tips.time)
        except ValueError as exc:
            raise UsageError(_("--date: {exc}").format(exc=exc)) from None
        if when < now:
            raise UsageError(_("--date: {iso} is in the past").format(iso=_iso(when)))
        week = when.isocalendar()[:2]
        for tip in site.tips:
            if tip.date is not None and tip.date.astimezone(tz).isocalendar()[:2] == week:
                raise UsageError(
                    _(
                        "--date: week {week} already has a tip: {path}; pick another week or "
                        "leave out --date to take the next free one"
                    ).format(week=week[1], path=tip.path)
                )
        if when.weekday() != config.tips.weekday:
            notes.append(
                _("{date} is not a {weekday}").format(
                    date=when.date(), weekday=weekday_name(config.tips.weekday, cli_language())
                )
            )
    holiday = holiday_on(when.date(), config, cli_language())
    if holiday:
        notes.append(_("{date} is {holiday}").format(date=when.date(), holiday=holiday))
    path = config.tips_dir / f"{when.date().isoformat()}-{slug}.md"
    meta: dict[str, object] = {
        "title": title.strip(),
        "date": _iso(when),
        "service": service,
        "summary": "",
        "tags": [],
        "draft": True,
    }
    name = config.services[service].name
    words = i18n.reader(config.site.language)
    body = words.gettext("Write the tip about {service} here. Approve it with `blogtool schedule`.")
    body = body.format(service=name) + "\n"
    meta[PLACEHOLDER_FIELD] = placeholder_value(body)
    write_new(path, _render(meta, body))
    return Created(path, when, tuple(notes))


def resolve_content_path(config: Config, path: Path) -> tuple[Path, Kind]:
    """A path given on the command line, checked to be a post or tip of this site."""
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, config.root / path]
    for candidate in candidates:
        if candidate.is_file():
            resolved = candidate.resolve()
            break
    else:
        raise UsageError(_("{path}: no such file").format(path=path))
    for directory, kind in ((config.posts_dir, Kind.POST), (config.tips_dir, Kind.TIP)):
        if resolved.parent == directory.resolve() and resolved.suffix == ".md":
            return resolved, kind
    raise UsageError(
        _("{path}: not a post or tip; expected a .md file in posts/ or tips/").format(path=path)
    )


def _edit(
    config: Config, path: Path, updates: dict[str, str], add: set[str], ready: bool = False
) -> Item:
    """Change front-matter keys in place. ``ready`` refuses an edit that would leave the item
    due to go out while it is not ready (content.readiness), naming every reason."""
    source, kind = resolve_content_path(config, path)
    rel = source.relative_to(config.root.resolve())
    raw = source.read_bytes()
    _item, problems = parse_item(raw, rel, kind, config)
    if any(p.is_error for p in problems):
        raise ContentError(problems)
    new_raw = set_front_matter_keys(raw, updates, path=rel, add_missing=add)
    item, problems = parse_item(new_raw, rel, kind, config)
    if item is None:  # the edit must never turn a valid file into an invalid one
        raise ContentError(problems)
    if ready:
        unready = readiness.problems([item], config)
        if any(p.is_error for p in unready):
            raise ContentError(unready)
    if new_raw != raw:
        write_atomic(source, new_raw)
    return item


def file_digest(raw: bytes) -> str:
    """What an editor remembers of the file it opened, to tell whether it changed since."""
    return hashlib.sha256(raw).hexdigest()


class Conflict(BlogtoolError):
    """The file changed on disk since the editor opened it; ``disk`` is what it holds now."""

    def __init__(self, rel: Path, disk: bytes):
        super().__init__(
            _(
                "{rel} changed since you opened it (someone else, the command line or git); "
                "nothing was saved"
            ).format(rel=rel)
        )
        self.rel, self.disk = rel, disk


def as_file(values: dict[str, object], body: str) -> str:
    """A post or tip as a file would hold ``values`` (by key; empty ones left out) and
    ``body``: what the studio shows of a version that was not saved, and previews of an item
    not written yet."""
    meta = {k: v for k, v in values.items() if v not in ("", None, [], ())}
    return _render(meta, body.replace("\r\n", "\n")).decode("utf-8")


def _changes(
    item: Item, config: Config, values: dict[str, object]
) -> tuple[dict[str, str], list[Problem]]:
    """The front-matter lines an edit sets: only keys whose value differs from the file's (a
    value as the file spells it otherwise keeps its bytes). A value that does not fit its
    field is a problem named by its key; nothing is written then."""
    updates: dict[str, str] = {}
    problems: list[Problem] = []
    context = fields.Context(config, item.kind)
    for name, given in values.items():
        field = fields.by_name(name)
        if field is None or not field.applies_to(item.kind) or not field.widget:
            continue
        empty = given in ("", None, [], ())
        current = item.values.get(name)
        if empty:
            if name in item.lines and current not in (None, "", ()) and name != "date":
                updates[name] = "[]" if field.widget == "list" else '""'
            continue
        try:
            parsed = field.parse(given, context)
        except fields.Invalid as exc:
            problems.append(Problem(item.path, str(exc), key=name, line=item.lines.get(name)))
            continue
        if parsed == current:
            continue
        if isinstance(parsed, dt.datetime):
            updates[name] = _iso(parsed)
        else:
            updates[name] = yaml_text(list(parsed) if isinstance(parsed, tuple) else parsed)
    return updates, problems


@dataclass(frozen=True)
class Edit:
    """What saving a form over a file would write, worked out without writing it."""

    source: Path  # the file, resolved
    raw: bytes  # what it holds now
    new_raw: bytes  # what it would hold
    before: Item | None  # the item now (None: the file does not parse)
    after: Item | None  # the item after (None: the edit is invalid, or the file was)
    problems: list[Problem]  # of the file after, or why there is no after


def edited(config: Config, path: Path, values: dict[str, object], body: str | None) -> Edit:
    """Saving ``values`` (by key) and ``body`` over the file at ``path``, not yet written."""
    source, kind = resolve_content_path(config, path)
    rel = source.relative_to(config.root.resolve())
    raw = source.read_bytes()
    before, problems = parse_item(raw, rel, kind, config)
    if before is None:
        return Edit(source, raw, raw, None, None, problems)
    updates, invalid = _changes(before, config, values)
    if invalid:
        return Edit(source, raw, raw, before, None, invalid)
    new_raw = set_front_matter_keys(
        raw, updates, path=rel, add_missing=set(updates), whole_values=True
    )
    if body is not None:
        new_raw = set_body(new_raw, body)
    after, problems = parse_item(new_raw, rel, kind, config)
    return Edit(source, raw, new_raw, before, after, problems)


def save(
    config: Config,
    path: Path,
    values: dict[str, object],
    body: str | None,
    base: str | None = None,
    allow: Callable[[Item, Item], None] = lambda before, after: None,
) -> tuple[Item, bool]:
    """Write an edit made in the studio's editor: the keys whose value changed (each on its
    own line, every other byte kept) and the body. Refused, with nothing written, when the
    file changed since the editor read it (``base``, its ``file_digest``: Conflict), when the
    edit makes the file invalid (ContentError), or when ``allow`` (before, after) raises.
    Returns the item and whether the file changed."""
    edit = edited(config, path, values, body)
    if base is not None and file_digest(edit.raw) != base:
        raise Conflict(edit.source.relative_to(config.root.resolve()), edit.raw)
    if edit.before is None or edit.after is None:
        raise ContentError(edit.problems)
    allow(edit.before, edit.after)
    changed = edit.new_raw != edit.raw
    if changed:
        write_atomic(edit.source, edit.new_raw)
    return edit.after, changed


def schedule(
    config: Config,
    path: Path,
    now: dt.datetime,
    at: str | None = None,
    force: bool = False,
    notes: list[str] | None = None,
) -> Item:
    """Set the date (``at``, or the one in the file) and clear ``draft``. ``notes`` gets a
    line if ``at`` named a time that does not exist, saying which time was stored."""
    source, kind = resolve_content_path(config, path)
    rel = source.relative_to(config.root.resolve())
    default_time = config.tips.time if kind is Kind.TIP else dt.time(0, 0)
    if at is None:
        current, problems = parse_item(source.read_bytes(), rel, kind, config)
        if current is None:
            raise ContentError(problems)
        if current.date is None:
            raise UsageError(_("{rel}: has no date; pass --at WHEN").format(rel=rel))
        when = current.date
        if when < now and not force:
            # 'new post' dates the draft now: by the time it is scheduled, that has passed.
            site = load_site(config)
            suggested = (
                next_free_slot(site, now) if kind is Kind.TIP else next_free_morning(site, now)
            )
            lang = cli_language()
            raise UsageError(
                _(
                    "{rel} is dated {iso}, which has passed; say when it goes out, such as "
                    '--at "{suggestion}" ({day}, the next free {what}), or pass --force to '
                    "publish it at once"
                ).format(
                    rel=rel,
                    iso=_iso(when),
                    suggestion=suggested.strftime("%Y-%m-%d %H:%M"),
                    day=short_datetime(suggested, lang),
                    what=_("series day") if kind is Kind.TIP else _("working-day morning"),
                )
            )
    else:
        try:
            when = parse_when(at, config.site.timezone, default_time, notes)
        except ValueError as exc:
            raise UsageError(_("--at: {exc}").format(exc=exc)) from None
    if when < now and not force:
        raise UsageError(
            _("{iso} is in the past (now is {iso2}); pass --force to publish it at once").format(
                iso=_iso(when), iso2=_iso(now.astimezone(config.site.timezone))
            )
        )
    item = _edit(config, path, {"date": _iso(when), "draft": "false"}, add={"date"}, ready=True)
    assert item.date == when and not item.draft
    return item


def unschedule(config: Config, path: Path) -> Item:
    """Make the file a draft again, keeping its date as a suggestion."""
    item = _edit(config, path, {"draft": "true"}, add={"draft"})
    assert item.draft
    return item


def init_site(directory: Path, title: str, base_url: str) -> list[Path]:
    """Create a new site in ``directory``; refuse to overwrite anything that is there."""
    directory = directory.resolve()
    config_path = directory / CONFIG_NAME
    if config_path.exists():
        raise UsageError(
            _("{config_path}: already exists; not overwriting a site").format(
                config_path=config_path
            )
        )
    for name in ("posts", "tips", "templates"):
        sub = directory / name
        if sub.exists() and (not sub.is_dir() or any(sub.iterdir())):
            raise UsageError(
                _("{sub}: already exists and is not empty; not overwriting it").format(sub=sub)
            )
    skeleton = resources.files("blogtool") / "skeleton" / CONFIG_NAME
    text = skeleton.read_text("utf-8")
    text = text.replace("__TITLE__", title.replace('"', '\\"')).replace("__BASE_URL__", base_url)
    created = []
    directory.mkdir(parents=True, exist_ok=True)
    write_new(config_path, text.encode("utf-8"))
    created.append(config_path)
    for name in ("posts", "tips", "templates", "media"):
        (directory / name).mkdir(exist_ok=True)
        created.append(directory / name)
    # The site's own virtualenv gets this very blogtool: python3 -m venv .venv &&
    # .venv/bin/pip install -r requirements.txt (the README's Deployment, and CI).
    wanted = directory / "requirements.txt"
    if not wanted.exists():
        write_new(wanted, requirements_text().encode("utf-8"))
        created.append(wanted)
    # Subscribers, the outbox and the releases stay out of git ('git add -A' is the usual way).
    ignore = directory / ".gitignore"
    if not ignore.exists():
        write_new(ignore, (resources.files("blogtool") / "skeleton" / "gitignore").read_bytes())
        created.append(ignore)
    return created


def requirement() -> str:
    """This blogtool as pip names it: the version from a package index, or where it was
    installed from (a git commit, a folder, an archive), as its installation recorded it
    (PEP 610's direct_url.json)."""
    import json
    from importlib import metadata

    dist = metadata.distribution("blogtool")
    recorded = dist.read_text("direct_url.json")
    if not recorded:
        return f"blogtool=={dist.version}"
    origin = json.loads(recorded)
    vcs = origin.get("vcs_info")
    if vcs:
        return f"blogtool @ {vcs['vcs']}+{origin['url']}@{vcs['commit_id']}"
    return f"blogtool @ {origin['url']}"


def requirements_text() -> str:
    from blogtool import __version__

    return (
        f"# The blogtool this site was made with (blogtool init, version {__version__}).\n"
        "# Its own virtualenv gets it with:\n"
        "#   python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n"
        "# To move to another blogtool, change the line below and run the pip line again.\n"
        f"{requirement()}\n"
    )
