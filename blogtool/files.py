"""Writing files so that a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Container, Iterator
from pathlib import Path

from blogtool.errors import UsageError
from blogtool.i18n import _


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) if needed; every folder made here is readable by
    its owner only (0700), as the state folder, which holds personal data, must be."""
    return _made_dir(path, 0o700)


def public_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) if needed; every folder made here is readable by
    everyone (0755), whatever the umask, as the published site's must be: the web server runs
    as another user, and a service's umask is often 0077."""
    return _made_dir(path, 0o755)


def process_status(field: str) -> str | None:
    """A field of what Linux says of this process (``/proc/self/status``: "Umask", "VmHWM"),
    or None where there is no such file or field."""
    with contextlib.suppress(OSError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return line.split()[1]
    return None


def umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux);
    elsewhere set and put back at once."""
    found = process_status("Umask")
    if found is not None:
        with contextlib.suppress(ValueError):
            return int(found, 8)
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _made_dir(path: Path, mode: int) -> Path:
    missing = []
    folder = path
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=mode, exist_ok=True)
        os.chmod(folder, mode)  # whatever the umask said
    return path


def write_atomic(path: Path, data: bytes, *, durable: bool = True, private: bool = False) -> None:
    """Replace ``path`` with ``data`` so a reader sees the old file or the new one, never half.

    ``durable`` also waits for the data to reach the disk; a cache can do without. ``private``
    files (state) are made 0600 in a folder made 0700; others 0644 in folders made 0755.
    """
    if private:
        private_dir(path.parent)
    else:
        public_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if private:  # (an older copy's looser mode is not kept)
            os.chmod(tmp, 0o600)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_unique(directory: Path, name: str, suffix: str, data: bytes) -> Path:
    """Write ``data`` as ``name`` + ``suffix`` in ``directory`` (private: 0600), or, if a file
    has that name, as ``name-2`` + ``suffix`` and so on: never over another file, even one
    another process writes meanwhile (the name is taken by a hard link, which fails if it
    exists). A reader sees the whole file or none."""
    private_dir(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        n = 1
        while True:
            target = directory / (f"{name}{suffix}" if n == 1 else f"{name}-{n}{suffix}")
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                n += 1
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_new(path: Path, data: bytes) -> None:
    """Create ``path``; refuse if it exists (even if another process creates it meanwhile)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as fh:
            fh.write(data)
    except FileExistsError:
        raise UsageError(
            _("{path}: already exists; not overwriting it").format(path=path)
        ) from None


class NotRegular(OSError):
    """A file that is a pipe, a device or a folder: reading it would hang or never end."""


def read_regular(path: Path) -> bytes:
    """The bytes of ``path``, a regular file (a link to one is followed). NotRegular for a FIFO,
    a device or a folder, found before anything is read (opening a FIFO waits for a writer;
    with O_NONBLOCK it does not)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegular(
                errno.EINVAL, _("not a regular file (a pipe, a device or a folder)"), str(path)
            )
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    finally:
        os.close(fd)


def read_given(path: Path) -> bytes:
    """A file named on the command line, as ``read_regular`` reads it; UsageError, one line,
    when it cannot be (missing, unreadable, a pipe or a device)."""
    try:
        return read_regular(path)
    except OSError as exc:
        raise UsageError(
            _("{path}: cannot be read: {strerror}").format(path=path, strerror=exc.strerror)
        ) from None


def check_source(path: Path, root: Path) -> str | None:
    """Why ``path`` must not be read as part of the site at ``root``, or None if it may.

    A symlink that leads outside the site would publish whatever it points at (/etc/passwd,
    the file with the SMTP password); anything but a regular file (a FIFO, a device) would
    hang the read or never end.
    """
    try:
        real = path.resolve(strict=True)
        mode = real.stat().st_mode
    except RuntimeError:  # (Python before 3.13 says so of a link that leads back to itself)
        return _("cannot be read: a link that leads back to itself")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return _("cannot be read: a link that leads back to itself")
        return _("cannot be read: {reason}").format(reason=exc.strerror)
    if not real.is_relative_to(root.resolve()):
        return _("leads outside the site (to {real}); refused").format(real=real)
    if not stat.S_ISREG(mode):
        return "not a regular file (a pipe, a device or a folder); skipped"
    return None


def link_or_copy(source: str, target: str) -> None:
    """A hard link of ``source`` at ``target``; a copy where links cannot be made (another
    file system). For ``shutil.copytree``'s ``copy_function``."""
    import shutil

    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def remove(path: Path) -> None:
    """Remove a file, a link or a whole folder; nothing there is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def link_path(path: Path) -> Path:
    """``path`` made absolute with its folder resolved but not its last part, which may be a
    symlink to follow only when reading (the site's output is one). '..' and '.' are taken
    out first, so 'site/..' is the site's parent, as it reads."""
    absolute = Path(os.path.abspath(path))
    return absolute.parent.resolve() / absolute.name


def tree_stats(
    folder: str, skip: Container[str] = ()
) -> Iterator[tuple[str, os.stat_result | None]]:
    """Every entry below ``folder`` with its lstat, in name order, each folder before what it
    holds; a folder that cannot be listed (``folder`` itself too) comes with None. Names in
    ``skip`` are left out, with all they hold. Nothing is read: this is how blogtool tells
    whether files changed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        yield folder, None
        return
    for entry in entries:
        if entry.name in skip:
            continue
        st = entry.stat(follow_symlinks=False)
        yield entry.path, st
        if stat.S_ISDIR(st.st_mode):
            yield from tree_stats(entry.path, skip)


def loopback(host: str) -> bool:
    """Whether ``host`` is this machine (a name for it, or a loopback address): the one place a
    password may travel without encryption."""
    import ipaddress

    if host.strip("[]").lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
