"""Screenshots of the sample site for a reviewer: the home, a tip and a post, on a desktop and
a phone, in light and dark mode; and of the studio, which the README shows (docs/studio/).
Builds the sample site in a temporary folder, serves it on 127.0.0.1, starts
`blogtool studio` on it, and drives Debian's Chromium with Playwright.

    python docs/screenshots.py [--output docs/screenshots] [--studio docs/studio]
                                                                (make screenshots)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = {
    "start": "/",
    "tips": "/torsdagstips/hitta-ut-i-naturen-med-vaxjo-naturkarta/",
    "inlagg": "/ett-ar-med-nya-e-tjanster/",
}
DEVICES = {"dator": {"width": 1280, "height": 900}, "mobil": {"width": 390, "height": 844}}
NOW = "2026-11-28T09:00:00+01:00"


def build(site: Path) -> None:
    for name in ("posts", "tips", "templates", "media"):
        shutil.copytree(REPO / name, site / name)
    shutil.copy(REPO / "blogtool.toml", site / "blogtool.toml")
    exe = Path(sys.executable).parent / "blogtool"
    env = {**os.environ, "BLOGTOOL_NOW": NOW}
    subprocess.run([str(exe), "--site", str(site), "build"], check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--studio", type=Path, default=REPO / "docs" / "studio")
    ns = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from blogtool.site.serve import make_server

    ns.output.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(site)
        server = make_server(site / "public", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host, port = server.server_address[:2]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=chromium, args=["--headless=new", "--no-sandbox"]
                )
                for device, viewport in DEVICES.items():
                    for scheme in ("light", "dark"):
                        context = browser.new_context(
                            viewport=viewport, color_scheme=scheme, device_scale_factor=1
                        )
                        page = context.new_page()
                        for name, path in PAGES.items():
                            page.goto(f"http://{host}:{port}{path}")
                            page.wait_for_load_state("networkidle")
                            out = ns.output / f"{name}-{device}-{scheme}.png"
                            page.screenshot(path=str(out), full_page=True)
                            print(out.relative_to(REPO) if out.is_relative_to(REPO) else out)
                        context.close()
                studio(browser, site, ns.studio)
                browser.close()
        finally:
            server.shutdown()


def studio(browser, site: Path, output: Path) -> None:
    """The studio's overview, editor (with its preview), planner and newsletter, as the README
    shows them."""
    output.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).parent / "blogtool"
    env = {**os.environ, "BLOGTOOL_NOW": NOW, "BLOGTOOL_SECRET": "screenshots-" + "x" * 32}
    command = [str(exe), "--site", str(site), "studio", "--port", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        login = process.stdout.readline().strip()
        base = login.split("/login")[0]
        edit = "/edit/tips/2026-12-10-boka-tid-for-bygglovsradgivning.md"
        shots = {
            "oversikt": ("/", DEVICES["dator"]),
            "redigerare-dator": (edit, DEVICES["dator"]),
            "redigerare-mobil": (edit, DEVICES["mobil"]),
            "planering": ("/plan", DEVICES["dator"]),
            "nyhetsbrev": ("/newsletter", DEVICES["dator"]),
        }
        context = browser.new_context(
            viewport=DEVICES["dator"], device_scale_factor=1, locale="sv-SE"
        )
        page = context.new_page()
        page.goto(login)
        for name, (path, viewport) in shots.items():
            page.set_viewport_size(viewport)
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            out = output / f"{name}.png"
            page.screenshot(path=str(out), full_page=name != "redigerare-dator")
            print(out.relative_to(REPO) if out.is_relative_to(REPO) else out)
        context.close()
    finally:
        process.terminate()
        process.wait(30)


if __name__ == "__main__":
    main()
