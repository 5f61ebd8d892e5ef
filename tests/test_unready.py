"""Issue by issue, the ways the scheduled job could send or publish something nobody meant to,
each reproduced as a new user would meet it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .conftest import SECRET, STOCKHOLM, Run, write


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=STOCKHOLM)


# --- case 7: the deployment recipe and the status line ----------------------------------------


def test_status_after_a_failed_run_names_its_time_never_none(run, sample_site):
    write(sample_site / "public", "a file where the site should go\n")
    failed = run("run", now=at(2026, 11, 28, 9, 0))
    assert failed.exit_code == 1
    status = run("status", now=at(2026, 11, 28, 9, 5))
    assert "None" not in status.output
    assert "last run (Sat 28 Nov 2026 09:00): " in status.output


def test_next_with_nothing_scheduled_prints_nothing_on_stdout_and_exits_1(run_empty: Run):
    assert run_empty("run").exit_code == 0  # the (empty) site is built: no work is waiting
    result = run_empty("next")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "nothing is scheduled" in result.stderr


# --- case 1: placeholder text, summaries, links, services --------------------------------------

TIP_AT = at(2026, 12, 17, 8, 0)  # the next free Thursday after the sample's scheduled tips


def _new_tip(run: Run, site) -> tuple[str, str]:
    result = run(
        "new", "tip", "Hitta ut i naturen", "--service", "naturkartan", now=at(2026, 11, 29, 10, 0)
    )
    assert result.exit_code == 0, result.stderr
    rel = Path(result.stdout.strip().splitlines()[0]).relative_to(site).as_posix()
    return rel, (site / rel).read_text("utf-8")


def test_a_tip_new_wrote_cannot_be_scheduled_unedited(run, sample_site):
    rel, text = _new_tip(run, sample_site)
    result = run("schedule", rel, now=at(2026, 11, 29, 10, 0))
    assert result.exit_code == 1
    assert f"{rel}:11: error: still the text 'blogtool new' wrote here" in result.stderr
    assert f"{rel}:5: error: summary: empty" in result.stderr
    assert (sample_site / rel).read_text("utf-8") == text  # nothing changed


def test_a_placeholder_tip_made_public_by_hand_is_never_published_or_mailed(
    run, sample_site, monkeypatch
):
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("subscribers", "add", "anna@example.se").exit_code == 0
    rel, text = _new_tip(run, sample_site)
    (sample_site / rel).write_text(text.replace("draft: true", "draft: false"), "utf-8")

    check = run("check", now=at(2026, 11, 29, 10, 0))
    assert check.exit_code == 1
    assert f"{rel}:11: error: still the text 'blogtool new' wrote here" in check.stderr
    assert "0 errors" not in check.stdout

    # Before it is due the job carries on (and says so); at its time nothing goes out.
    early = run("run", now=at(2026, 12, 3, 8, 5))
    assert early.exit_code == 0, early.stderr
    assert "not due yet" in early.stderr
    due = run("run", now=TIP_AT + dt.timedelta(minutes=5))
    assert due.exit_code == 1
    assert "content has errors; nothing was published or sent" in due.stderr
    assert not (sample_site / "public/torsdagstips/hitta-ut-i-naturen").exists()
    outbox = [p.read_bytes() for p in (sample_site / "outbox").glob("*.eml")]
    assert all(b"Skriv tipset om" not in raw for raw in outbox)
    status = run("status", now=TIP_AT + dt.timedelta(minutes=6))
    assert "still the text 'blogtool new' wrote" in status.stdout


def test_an_excerpt_keeps_the_words_of_inline_code(run, sample_site):
    write(
        sample_site / "posts/2026-11-20-kommandot.md",
        "---\ntitle: Kommandot\ndate: 2026-11-20T09:00:00+01:00\n---\n"
        "Godkänn texten med `blogtool schedule` när den är klar.\n",
    )
    assert run("build").exit_code == 0
    page = (sample_site / "public/kommandot/index.html").read_text("utf-8")
    assert 'content="Godkänn texten med blogtool schedule när den är klar."' in page


def test_links_to_missing_files_are_errors_and_links_to_sources_become_urls(run, sample_site):
    write(
        sample_site / "posts/2026-11-20-lankar.md",
        "---\ntitle: Länkar\ndate: 2026-11-20T09:00:00+01:00\nsummary: Om länkar.\n---\n"
        "Läs [tipset om gatlampor](../tips/2026-11-05-felanmal-gatlampa.md#hur) först.\n\n"
        "![Karta](karta-som-saknas.png)\n",
    )
    check = run("check")
    assert check.exit_code == 1
    assert (
        "posts/2026-11-20-lankar.md:8: error: image 'karta-som-saknas.png': there is no file "
        "posts/karta-som-saknas.png or media/karta-som-saknas.png" in check.stderr
    )
    from PIL import Image

    Image.new("RGB", (640, 400), "olive").save(sample_site / "posts/karta-som-saknas.png")
    assert run("check").exit_code == 0
    assert run("build").exit_code == 0
    page = (sample_site / "public/lankar/index.html").read_text("utf-8")
    assert 'href="/torsdagstips/felanmal-en-trasig-gatlampa/#hur"' in page


def test_a_tip_whose_service_has_no_url_is_not_ready(run, sample_site):
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8")
    config.write_text(text.replace('url = "https://bibliotek.vaxjo.se/"\n', ""), "utf-8")
    check = run("check")
    assert check.exit_code == 1
    assert (
        "tips/2026-10-29-lana-e-bocker.md:4: error: service: the service 'biblioteket' has no url"
        in check.stderr
    )


# --- case 3: a preview build never goes into public/ ------------------------------------------


def test_a_preview_build_is_refused_in_the_public_directory(run, sample_site):
    assert run("build").exit_code == 0
    before = {p: p.read_bytes() for p in (sample_site / "public").rglob("*") if p.is_file()}
    result = run("build", "--drafts", "--future")
    assert result.exit_code == 1
    assert "blogtool serve" in result.stderr and "--output" in result.stderr
    result = run("build", "--drafts", "--output", str(sample_site / "public"))
    assert result.exit_code == 1
    after = {p: p.read_bytes() for p in (sample_site / "public").rglob("*") if p.is_file()}
    assert after == before
    elsewhere = sample_site.parent / "forhandsvisning"
    assert run("build", "--drafts", "--future", "--output", str(elsewhere)).exit_code == 0


def test_run_and_status_find_a_preview_in_public_and_run_rebuilds_it_clean(
    run, sample_site, monkeypatch
):
    """A preview that reached public/ some other way (an older blogtool, a script calling the
    build directly) is noticed, and the next run replaces it."""
    from blogtool.config import load_config
    from blogtool.content.load import load_site
    from blogtool.site.build import BuildOptions, build

    from .conftest import NOW

    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("run").exit_code == 0
    config = load_config(sample_site)
    build(load_site(config), NOW, BuildOptions(output=config.output_dir, drafts=True, future=True))
    draft_page = sample_site / "public/tack-for-i-ar/index.html"
    assert draft_page.exists()

    status = run("status")
    assert "(up to date)" not in status.stdout and "preview" in status.stdout
    result = run("run")
    assert result.exit_code == 0
    assert "holds a preview" in result.stderr and "site up to date" not in result.stderr
    assert not draft_page.exists()
    assert "(up to date)" in run("status").stdout


# --- case 4: subjects and cards ------------------------------------------------------------------


def test_subjects_name_the_tip_and_only_the_newest_card_is_this_weeks(
    run, sample_site, monkeypatch
):
    import email
    from email import policy

    result = run("newsletter", "build", "--since", "2026-11-01", now=at(2026, 11, 26, 9, 0))
    assert result.exit_code == 0, result.stderr
    assert "Torsdagstips vecka 48: Hitta ett utegym nära dig" in result.stdout
    assert run("subscribers", "add", "anna@example.se").exit_code == 0
    monkeypatch.setenv("BLOGTOOL_SECRET", SECRET)
    assert run("newsletter", "send", now=at(2026, 11, 26, 9, 1)).exit_code == 0
    raw = next((sample_site / "outbox").glob("*.eml")).read_bytes()
    msg = email.message_from_bytes(raw, policy=policy.default)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.count("VECKANS TJÄNST:") == 1 and text.count("TJÄNST I TIPSET:") == 3
    assert html.count("Veckans tjänst") == 1
    first_card = text.index("VECKANS TJÄNST: Växjö Naturkarta")
    assert first_card < text.index("TJÄNST I TIPSET:")


def test_the_subject_is_a_template_with_the_sites_filters(run, sample_site):
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8")
        + '\n[newsletter]\nsubject = "{{ series }} {{ date | longdate }}: '
        "{{ tips | map(attribute='title') | join(' / ') }} ({{ services | length }} tjänster)\"\n"
        'preheader = "Veckans tjänst: {{ services[0].name }}"\n',
        "utf-8",
    )
    result = run("newsletter", "build", "--since", "2026-11-15", now=at(2026, 11, 26, 9, 0))
    assert result.exit_code == 0, result.stderr
    assert (
        "Torsdagstips torsdag 26 november 2026: Hitta ett utegym nära dig / Ansök om föreningsbidrag "
        "på nätet (2 tjänster)" in result.stdout
    )


# --- case 6: every problem at once, and near misses named ---------------------------------------


def test_a_config_error_does_not_hide_the_content_errors(run, sample_site):
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace("lix_limit = 50", 'lix_limit = "femtio"\nlix_limt = 40'),
        "utf-8",
    )
    write(
        sample_site / "posts/2026-11-20-trasig.md",
        "---\ntitle: Trasig\ndaet: 2026-11-20\n---\nT.\n",
    )
    result = run("check")
    assert result.exit_code == 1
    assert "blogtool.toml:22: error: [check] lix_limit: expected" in result.stderr
    assert (
        "blogtool.toml:23: error: [check] lix_limt: unknown key; did you mean 'lix_limit'?"
        in result.stderr
    )
    assert (
        "posts/2026-11-20-trasig.md:3: error: daet: unknown key; did you mean 'date'?"
        in result.stderr
    )
    assert "3 errors" in result.stdout
    # Every other command still refuses a config with an error in it.
    assert run("build").exit_code == 1


def test_near_misses_get_a_did_you_mean(run, sample_site):
    service = run("new", "tip", "Ut i skogen", "--service", "naturkarta")
    assert service.exit_code == 1 and "did you mean 'naturkartan'?" in service.stderr
    command = run("lsit")
    assert command.exit_code == 2 and "Did you mean 'list'?" in command.stderr
    write(
        sample_site / "posts/2026-11-21-taggat.md",
        "---\ntitle: Taggat\ndate: 2026-11-21T09:00:00+01:00\nsummary: S.\n"
        "tags: [naturr, kommunen]\n---\nT.\n",
    )
    result = run("check")
    assert (
        "posts/2026-11-21-taggat.md:5: warning: tags: the tag 'naturr' is used only here; "
        "did you mean 'natur' (3 items)?" in result.stderr
    )


# --- golden: check on a site with one of each problem -------------------------------------------

GOLDEN_CONFIG = """\
[site]
title = "Testbloggen"
base_url = "https://blogg.example.se/"
colour = "blå"

[check]
lix_limit = 40

[services.naturkartan]
name = "Växjö Naturkarta"
url = "https://naturkartan.se/sv/vaxjo"
description = "Naturreservat och leder."

[services.appen]
name = "Appen"
description = "Utan webbadress."
"""

GOLDEN = """\
blogtool.toml: warning: [accessibility] reviewed: the accessibility statement does not say when it was last reviewed, when the site was assessed, where readers report what they cannot use, and what is not accessible, as the site complies 'partial' (reviewed, assessed, contact, shortcomings)
blogtool.toml:4: error: [site] colour: unknown key; expected one of title, base_url, language, timezone, author, organisation, image, image_alt, logo, intro, allow_hosts
posts/2026-11-02-lang.md: warning: LIX 90 is above the limit 40 (18 words, 1 sentence, 13 long words); shorter sentences and words read easier
posts/2026-11-03-lankar.md:7: error: link 'bilaga.pdf': there is no file posts/bilaga.pdf
posts/2026-11-04-taggar.md:5: warning: tags: the tag 'naturr' is used only here; did you mean 'natur' (2 items)?
posts/2026-11-05-trasig.md:3: error: datum: unknown key; did you mean 'date'?
tips/2026-11-05-utan-sammanfattning.md:5: error: summary: empty; write one or two sentences (the newsletter's preview line, the feed and the page description use it)
tips/2026-11-12-nytt.md:11: error: still the text 'blogtool new' wrote here; replace it with your own before it goes out
tips/2026-11-19-appen.md:4: error: service: the service 'appen' has no url in blogtool.toml ([services.appen] url); the tip's button would lead nowhere
Checked 8 files and blogtool.toml: 6 errors, 3 warnings.
"""


def test_check_lists_every_problem_with_file_and_line_then_one_summary(empty_site):
    site = empty_site
    # new writes the tip while the config is still right; the typo in [site] comes later.
    (site / "blogtool.toml").write_text(GOLDEN_CONFIG.replace('colour = "blå"\n', ""), "utf-8")
    run = Run(site)
    created = run(
        "new", "tip", "Nytt", "--service", "naturkartan", "--date", "2026-11-12",
        now=at(2026, 11, 1, 9, 0),
    )  # fmt: skip
    assert created.exit_code == 0, created.stderr
    (site / "blogtool.toml").write_text(GOLDEN_CONFIG, "utf-8")
    post = "---\ntitle: {t}\ndate: 2026-11-0{d}T09:00:00+01:00\nsummary: S.\ntags: [{tags}]\n---\n{body}\n"
    write(site / "posts/2026-11-01-natur.md", post.format(t="Natur", d=1, tags="natur", body="Ut."))
    write(
        site / "posts/2026-11-02-lang.md",
        post.format(
            t="Lång",
            d=2,
            tags="natur",
            body="Kommunfullmäktiges övergripande verksamhetsplanering förutsätter "
            "förvaltningsövergripande samordningsinsatser avseende medborgarperspektivet inom "
            "ramen för budgetprocessens tidsplanering och uppföljningsstrukturer samt "
            "kvalitetsledningssystemets dokumentationskrav.",
        ),
    )
    write(
        site / "posts/2026-11-03-lankar.md",
        post.format(t="Länkar", d=3, tags="", body="Läs [bilagan](bilaga.pdf)."),
    )
    write(
        site / "posts/2026-11-04-taggar.md", post.format(t="Taggar", d=4, tags="naturr", body="T.")
    )
    write(site / "posts/2026-11-05-trasig.md", "---\ntitle: Trasig\ndatum: 2026-11-05\n---\nT.\n")
    tip = "---\ntitle: {t}\ndate: 2026-11-{d}T08:00:00+01:00\nservice: {s}\nsummary: {summary}\n---\n{body}\n"
    write(
        site / "tips/2026-11-05-utan-sammanfattning.md",
        tip.format(t="Utan", d="05", s="naturkartan", summary="''", body="Text."),
    )
    path = site / "tips/2026-11-12-nytt.md"
    text = path.read_text("utf-8").replace("summary: ''", "summary: Ett tips.")
    path.write_text(text.replace("draft: true", "draft: false"), "utf-8")
    write(
        site / "tips/2026-11-19-appen.md",
        tip.format(t="Appen", d="19", s="appen", summary="S.", body="T."),
    )

    result = run("check", now=at(2026, 11, 1, 9, 0))
    assert result.exit_code == 1
    assert result.output == GOLDEN


# --- case 5: an empty week ahead is noticed in time ---------------------------------------------


def test_status_warns_about_series_weeks_without_a_tip(run, sample_site):
    status = run("status").stdout  # Saturday 28 November: weeks 49, 50 have tips, 51 has none
    assert "warning: week 51 (Thu 17 Dec 2026 08:00) has no Torsdagstips tip yet" in status
    assert "week 49" not in status and "week 52" not in status  # [tips] warn_weeks = 3
    rel, _ = _new_tip(run, sample_site)  # a draft in week 51 is not a tip that goes out
    status = run("status").stdout
    assert (
        f"week 51 (Thu 17 Dec 2026 08:00) has no Torsdagstips tip yet; only the draft {rel}"
        in status
    )
    config = sample_site / "blogtool.toml"
    config.write_text(
        config.read_text("utf-8").replace('time = "08:00"', 'time = "08:00"\nwarn_weeks = 5'),
        "utf-8",
    )
    status = run("status").stdout
    assert (
        "week 52 (Thu 24 Dec 2026 08:00) has no Torsdagstips tip yet (it is Christmas Eve)"
        in status
    )
