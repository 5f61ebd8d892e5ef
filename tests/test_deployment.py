"""The README's deployment section, executed as printed: the environment file, the cron line
and the systemd unit's ExecStart, each run for real on a copy of the sample site."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

README = (REPO / "README.md").read_text("utf-8")
ENV_PATH = "/etc/blogtool/kommunbloggen.env"
SITE_PATH = "/srv/kommunbloggen"
RUN_AT = "2026-11-26T08:05:00+01:00"  # a Thursday, just after the sample's tip went out


def env_file_text() -> str:
    """The environment file exactly as the README writes it (its heredoc)."""
    m = re.search(r"cat > " + re.escape(ENV_PATH) + r" <<'ENV'\n(.*?)\nENV\n", README, re.S)
    assert m, "the README no longer shows the environment file"
    return m.group(1) + "\n"


def cron_line() -> str:
    m = re.search(r"```cron\n(.*?)\n```", README, re.S)
    assert m, "the README no longer shows a cron line"
    line = m.group(1).strip()
    assert line == (REPO / "contrib/crontab").read_text("utf-8").strip().splitlines()[-1]
    return line


@pytest.fixture
def deployed(sample_site, tmp_path):
    """The sample site with one subscriber, and the env file with a real secret in it."""
    env_file = tmp_path / "kommunbloggen.env"
    text = env_file_text().replace(
        "BLOGTOOL_SECRET=change-me-to-a-long-random-value",
        "BLOGTOOL_SECRET=a-real-secret-made-for-this-test-0123456789",
    )
    env_file.write_text(text, "utf-8")
    env_file.chmod(0o600)
    exe = Path(sys.executable).parent / "blogtool"
    subprocess.run(
        [str(exe), "--site", str(sample_site), "subscribers", "add", "anna@example.se"],
        check=True, capture_output=True, env={**os.environ, "BLOGTOOL_NOW": "2026-11-01T12:00:00+01:00"},
    )  # fmt: skip
    return sample_site, env_file, exe


def clean_env(**extra: str) -> dict[str, str]:
    """What cron gives a job: hardly anything."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"], "LANG": "C.UTF-8", **extra}


def test_the_readme_env_file_is_plain_name_value_lines():
    for line in env_file_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # systemd reads NAME=value; an inline comment would become part of the value there.
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=[^#\s]+", line), line


def test_the_readme_placeholder_secret_is_refused(deployed):
    site, env_file, exe = deployed
    env_file.write_text(env_file_text(), "utf-8")
    result = subprocess.run(
        ["sh", "-c", f"set -a && . {env_file} && set +a && {exe} --site {site} run"],
        capture_output=True, text=True, env=clean_env(BLOGTOOL_NOW=RUN_AT),
    )  # fmt: skip
    assert result.returncode == 1
    assert "placeholder" in result.stderr


def test_the_readme_cron_line_passes_the_secret_and_sends(deployed):
    site, env_file, exe = deployed
    command = cron_line().split(None, 5)[5]  # drop the five schedule fields
    command = command.replace(ENV_PATH, str(env_file)).replace(SITE_PATH, str(site))
    command = command.replace(".venv/bin/blogtool", str(exe))
    result = subprocess.run(
        ["/bin/sh", "-c", command], capture_output=True, text=True,
        env=clean_env(BLOGTOOL_NOW=RUN_AT),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""  # --quiet: cron mails nothing
    assert len(list((site / "outbox").glob("*.eml"))) == 1


def systemd_unit() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (REPO / "contrib/blogtool.service").read_text("utf-8").splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def systemd_environment(path: Path) -> dict[str, str]:
    """EnvironmentFile= as systemd reads it: NAME=value lines; # and ; lines are comments."""
    out = {}
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def test_the_systemd_unit_execstart_runs_with_its_environment_file(deployed):
    site, env_file, exe = deployed
    unit = systemd_unit()
    assert unit["EnvironmentFile"].lstrip("-") == ENV_PATH
    assert unit["WorkingDirectory"] == SITE_PATH
    argv = shlex.split(unit["ExecStart"])
    assert argv[0] == f"{SITE_PATH}/.venv/bin/blogtool" and argv[1:] == ["run", "--quiet"]
    environment = clean_env(BLOGTOOL_NOW=RUN_AT, **systemd_environment(env_file))
    result = subprocess.run(
        [str(exe), *argv[1:]], cwd=site, capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr
    assert len(list((site / "outbox").glob("*.eml"))) == 1


# --- the whole section, followed literally on a fresh site, served by a real nginx ------------


def readme_section(heading: str, end: str) -> str:
    """The README from ``heading`` to the next ``end``."""
    section = README[README.index(heading) :]
    return section[: section.index(end, len(heading))]


def readme_block(
    language: str, containing: str, heading: str = "## Deployment", end: str = "\n### Templates"
) -> str:
    """The README's ```language block of a section (Deployment) that holds ``containing``."""
    for block in re.findall(rf"```{language}\n(.*?)\n```", readme_section(heading, end), re.S):
        if containing in block:
            return block
    raise AssertionError(f"the README's {heading} shows no {language} block with {containing!r}")


@pytest.fixture
def world(tmp_path):
    """A folder others may enter (nginx's workers run as their own user; pytest's own temporary
    folders are private to this user), removed afterwards."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="blogtool-deploy-", dir="/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def nginx_conf(root: Path, server: str) -> Path:
    """nginx.conf around the README's server block: logs, pid and temporary files in ``root``,
    workers as Debian's www-data when we may switch user (as a real install runs them)."""
    import pwd

    user = ""
    if os.geteuid() == 0:
        with contextlib.suppress(KeyError):
            user = f"user {pwd.getpwnam('www-data').pw_name};"
    temp = "\n".join(
        f"    {kind}_temp_path {root}/nginx/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = root / "nginx/nginx.conf"
    conf.parent.mkdir(exist_ok=True)
    conf.write_text(
        f"{user}\nworker_processes 1;\npid {root}/nginx/nginx.pid;\n"
        f"error_log {root}/nginx/error.log;\nevents {{}}\nhttp {{\n"
        f"    include /etc/nginx/mime.types;\n    access_log {root}/nginx/access.log;\n"
        f"{temp}\n{server}\n}}\n",
        "utf-8",
    )
    return conf


def get(url: str) -> tuple[int, bytes, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get_content_type()


def test_the_deployment_section_followed_literally_serves_the_site_through_nginx(world):
    from PIL import Image

    from .processes import Started, listening, wait_for
    from .smtp_sink import free_port

    nginx = shutil_which("nginx")
    assert nginx, "nginx is not installed: .ci/run installs Debian's nginx-light"
    site = world / "srv/kommunbloggen"
    site.parent.mkdir(parents=True)
    site.parent.chmod(0o755)
    exe = Path(sys.executable).parent / "blogtool"
    made = subprocess.run(
        [str(exe), "init", str(site), "--title", "Kommunbloggen",
         "--base-url", "https://blogg.example.se/"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    # requirements.txt names the blogtool that made the site: this checkout, when the tests
    # run from one. pip builds a folder in place (setuptools writes build/ into it), so the
    # site gets the same sources from a copy, and the checkout stays as it was.
    wanted = site / "requirements.txt"
    if f"file://{REPO}" in wanted.read_text("utf-8"):
        source = world / "src/blogtool"
        shutil.copytree(
            REPO, source,
            ignore=shutil.ignore_patterns(".*", "build", "public", "outbox", "*.egg-info",
                                          "__pycache__", "bench", "tests", "docs"),
        )  # fmt: skip
        wanted.write_text(wanted.read_text("utf-8").replace(f"file://{REPO}", f"file://{source}"))
    Image.new("RGB", (800, 500), "seagreen").save(site / "media/sjon.jpg", quality=80)
    (site / "posts/2026-11-02-forsta-inlagget.md").write_text(
        "---\ntitle: Första inlägget\ndate: 2026-11-02T09:00+01:00\nsummary: Det första.\n"
        "image: sjon.jpg\nimage_alt: En sjö i Växjö\n---\n\nHej och välkommen.\n",
        "utf-8",
    )

    def sh(script: str, *, env: dict[str, str], cwd: Path = site) -> subprocess.CompletedProcess:
        script = script.replace("/srv/kommunbloggen", str(site))
        script = script.replace("/etc/blogtool", str(world / "etc/blogtool"))
        return subprocess.run(
            ["/bin/sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True
        )

    home = {"HOME": str(world), "LANG": "C.UTF-8"}
    # 1. The site's own virtualenv, as printed (dependencies pinned by the constraints file).
    venv = sh(
        readme_block("sh", "python3 -m venv .venv"),
        env={
            **home,
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "PIP_CONSTRAINT": str(REPO / "constraints.txt"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_COMPILE": "1",  # (bytecode is written when the modules are first imported)
        },
    )
    assert venv.returncode == 0, venv.stderr[-2000:]
    assert (site / ".venv/bin/blogtool").is_file()

    # 2. The environment file, as printed; the admin then puts a real secret in it.
    made_env = sh(
        readme_block("sh", "kommunbloggen.env <<'ENV'"), env={**home, "PATH": "/usr/bin:/bin"}
    )
    assert made_env.returncode == 0, made_env.stderr
    env_file = world / "etc/blogtool/kommunbloggen.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    env_file.write_text(
        env_file.read_text("utf-8").replace(
            "change-me-to-a-long-random-value", "a-real-secret-made-for-this-test-0123456789"
        ),
        "utf-8",
    )

    # 3. The cron line under cron's /bin/sh and nearly empty environment, with the systemd
    #    unit's umask (the stricter one).
    command = cron_line().split(None, 5)[5]
    cron = subprocess.run(
        ["env", "-i", "SHELL=/bin/sh", f"HOME={world}", "LOGNAME=root", "PATH=/usr/bin:/bin",
         f"BLOGTOOL_NOW={RUN_AT}", "/bin/sh", "-c",
         "umask " + systemd_unit()["UMask"] + " && " + command.replace(SITE_PATH, str(site))
         .replace(ENV_PATH, str(env_file))],
        capture_output=True, text=True,
    )  # fmt: skip
    assert cron.returncode == 0, cron.stderr
    # --quiet: only what is new and needs a person (a new site has no tips planned yet).
    assert cron.stdout == ""
    assert all(": warning: week " in line for line in cron.stderr.splitlines()), cron.stderr
    state = site / ".blogtool"
    assert state.stat().st_mode & 0o077 == 0  # the state stays the site user's own
    assert (state / "state.db").stat().st_mode & 0o077 == 0
    release = (site / "public").resolve()
    for path in [release, *release.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))

    # 4. nginx, with the README's server block, as its own user.
    port = free_port()
    server = readme_block("nginx", "server {")
    assert "listen 80;" in server
    server = server.replace("listen 80;", f"listen 127.0.0.1:{port};")
    server = server.replace(SITE_PATH, str(site))
    conf = nginx_conf(world, server)
    with Started([nginx, "-c", str(conf), "-g", "daemon off;"]) as web:
        wait_for(lambda: listening(port), "nginx listening", process=web)
        base = f"http://127.0.0.1:{port}"
        status, page, kind = get(f"{base}/forsta-inlagget/")
        assert status == 200 and kind == "text/html", (status, page[:300])
        assert "Hej och välkommen." in page.decode("utf-8")
        picture = re.search(r'<img src="(/bilder/[^"]+\.jpg)"', page.decode("utf-8"))
        assert picture, page[:2000]
        status, data, kind = get(base + picture.group(1))
        assert status == 200 and kind == "image/jpeg" and data[:2] == b"\xff\xd8"
        status, feed, _kind = get(f"{base}/feed.xml")
        assert status == 200 and b"<rss" in feed and "Första inlägget" in feed.decode("utf-8")
        assert get(f"{base}/")[0] == 200
        status, missing, _kind = get(f"{base}/finns-inte/")
        assert status == 404 and b"<html" in missing  # the site's own 404 page

    # 5. The copy to a web server, as printed (here to a folder on this machine).
    copy = readme_block("sh", "rsync -a --delete public/")
    target = world / "var/www/kommunbloggen"
    target.mkdir(parents=True)
    copied = sh(
        copy.replace("www@webb.example.se:/var/www/kommunbloggen/", f"{target}/"),
        env={**home, "PATH": "/usr/bin:/bin"},
    )
    assert copied.returncode == 0, copied.stderr
    assert (target / "forsta-inlagget/index.html").is_file() and not (target / "public").exists()

    # 6. The scheduled CI workflow's own steps, in the site's virtualenv.
    workflow = (REPO / "contrib/scheduled-publish.yml").read_text("utf-8")
    steps = re.findall(r"^\s+run: (.+)$", workflow, re.M)
    install = next(s for s in steps if "pip install" in s)
    assert "-r requirements.txt" in install
    publish = next(s for s in steps if s.startswith("blogtool run"))
    ci_env = {**home, "PATH": f"{site / '.venv/bin'}:/usr/bin:/bin", "BLOGTOOL_NOW": RUN_AT,
              "BLOGTOOL_SECRET": "a-real-secret-made-for-this-test-0123456789",
              "PIP_DISABLE_PIP_VERSION_CHECK": "1",
              "PIP_CONSTRAINT": str(REPO / "constraints.txt")}  # fmt: skip
    # (Its install step is the pip line step 1 ran; running it again would only say so.)
    assert install.endswith("pip install -r requirements.txt")
    ran = sh(publish, env=ci_env)
    assert ran.returncode == 0, (publish, ran.stderr[-2000:])


def shutil_which(name: str) -> str | None:
    import shutil

    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )


# --- the studio behind single sign-on, as the README's server block sets it up -----------------


def studio_block(language: str, containing: str) -> str:
    return readme_block(language, containing, "## The studio", "\n## ")


class SignOn:
    """A stand-in for oauth2-proxy (not installed here), as nginx's auth_request sees it:
    /oauth2/auth answers 202 with X-Auth-Request-Email for a browser with its session cookie,
    401 otherwise; /oauth2/sign_in is its login page."""

    def __init__(self, people: dict[str, str]):
        import http.server
        import threading

        sessions = people

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                cookie = self.headers.get("Cookie", "")
                person = next(
                    (p for c, p in sessions.items() if f"_oauth2_proxy={c}" in cookie), None
                )
                if self.path.startswith("/oauth2/auth"):
                    self.send_response(202 if person else 401)
                    if person:
                        self.send_header("X-Auth-Request-Email", person)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"<h1>Logga in hos kommunen</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def __enter__(self) -> SignOn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_studio_behind_single_sign_on_as_the_readme_sets_it_up(world, sample_site):
    import http.client
    import ssl
    from urllib.parse import urlencode

    from .conftest import NOW, SECRET
    from .processes import Started, blogtool, listening, wait_for
    from .smtp_sink import free_port

    nginx = shutil_which("nginx")
    assert nginx, "nginx is missing: apt-get install nginx-light (.ci/run does)"
    settings = studio_block("toml", "user_header")
    config = sample_site / "blogtool.toml"
    text = config.read_text("utf-8").replace("[studio.people]", settings + "\n\n[studio.people]")
    config.write_text(text, "utf-8")
    draft = sample_site / "posts/2026-12-01-utkast.md"
    draft.write_text("---\ntitle: Utkast\ndate: 2026-12-01\ndraft: true\n---\n\nText.\n", "utf-8")

    section = readme_section("## The studio", "\n## ")
    printed = "blogtool studio --host 127.0.0.1 --port 8030"
    assert printed in section  # run as printed, on a free port
    studio_port, web_port = free_port(), free_port()
    certs = world / "certs"
    certs.mkdir()
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(certs / "key.pem"), "-out", str(certs / "cert.pem")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = {
        **os.environ,
        "BLOGTOOL_NOW": NOW.isoformat(),
        "BLOGTOOL_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }
    people = {"writer-session": "erik.berg@vaxjo.example", "stranger-session": "x@example.se"}
    args = ["--site", str(sample_site), *printed.split()[1:]]
    args[-1] = str(studio_port)
    with SignOn(people) as sign_on, Started(blogtool(*args), env=env) as studio:
        wait_for(lambda: listening(studio_port), "the studio listening", process=studio)
        server = studio_block("nginx", "auth_request")
        assert "listen 443 ssl;" in server
        server = (
            server.replace("listen 443 ssl;", f"listen 127.0.0.1:{web_port} ssl;")
            .replace("/etc/ssl/studio.vaxjo.example.crt", str(certs / "cert.pem"))
            .replace("/etc/ssl/private/studio.vaxjo.example.key", str(certs / "key.pem"))
            .replace("127.0.0.1:4180", f"127.0.0.1:{sign_on.port}")
            .replace("127.0.0.1:8030", f"127.0.0.1:{studio_port}")
        )
        conf = nginx_conf(world, server)
        with Started([nginx, "-c", str(conf), "-g", "daemon off;"]) as web:
            wait_for(lambda: listening(web_port), "nginx listening", process=web)
            tls = ssl.create_default_context(cafile=str(certs / "cert.pem"))
            tls.check_hostname = False

            def request(method, path, cookie="", headers=None, body=b""):
                connection = http.client.HTTPSConnection(
                    "127.0.0.1", web_port, context=tls, timeout=60
                )
                sent = {**(headers or {})}
                if cookie:
                    sent["Cookie"] = f"_oauth2_proxy={cookie}"
                connection.request(method, path, body=body, headers=sent)
                response = connection.getresponse()
                data = response.read().decode("utf-8", "replace")
                connection.close()
                if response.status >= 500:  # say what the studio and nginx logged
                    logged = (world / "nginx/error.log").read_text("utf-8", "replace")
                    raise AssertionError(
                        f"{method} {path}: {response.status}\n{data[:500]}\n"
                        f"studio:\n{studio.stderr()[-4000:]}\nnginx:\n{logged[-2000:]}"
                    )
                return response, data

            # Not signed on: the sign-on's page, and nothing of the studio.
            response, page = request("GET", "/")
            assert "Logga in hos kommunen" in page and "Översikt" not in page
            # Signed on as a writer, claiming to be a publisher: nginx sends who signed on.
            forged = {"X-Forwarded-User": "anna.lind@vaxjo.example"}
            response, page = request("GET", "/", "writer-session", forged)
            assert response.status == 200 and "erik.berg@vaxjo.example (skribent)" in page
            # Signed on, but not one of [studio.people].
            response, page = request("GET", "/", "stranger-session")
            assert response.status == 401
            # A change through nginx: https origin, the session's token, the writer's rights.
            response, page = request("GET", "/edit/posts/2026-12-01-utkast.md", "writer-session")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
            base = re.search(r'name="base" value="([^"]+)"', page).group(1)
            form = {
                "csrf": csrf,
                "base": base,
                "title": "Utkast via inloggningen",
                "action": "save",
            }
            origin = {
                "Origin": f"https://127.0.0.1:{web_port}",
                "Content-Type": "application/x-www-form-urlencoded",
            }
            response, _page = request(
                "POST",
                "/edit/posts/2026-12-01-utkast.md",
                "writer-session",
                origin,
                urlencode(form).encode(),
            )
            assert response.status == 303, _page[:500]
            assert "title: Utkast via inloggningen\n" in draft.read_text("utf-8")
            form["action"] = "schedule"
            response, _page = request(
                "POST",
                "/edit/posts/2026-12-01-utkast.md",
                "writer-session",
                origin,
                urlencode(form).encode(),
            )
            assert response.status == 403
