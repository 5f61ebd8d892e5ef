"""blogtool's own identity: the digest of its code that caches and fingerprints carry."""

from __future__ import annotations

import os

from blogtool.version import digest_of


def test_the_code_digest_sees_every_change_to_the_package(tmp_path):
    """blogtool's own files are described by their stat, not read: an edit of the same size
    whose modification time is put back still changes the digest (its change time moved),
    and so do a new file and a new version; compiled bytecode does not count."""
    package = tmp_path / "package"
    (package / "templates").mkdir(parents=True)
    code = package / "render.py"
    code.write_text("LIMIT = 5\n", "utf-8")
    (package / "templates" / "item.html").write_text("<p>{{ item.title }}</p>\n", "utf-8")
    first = digest_of(package, "1.0")
    assert digest_of(package, "1.0") == first
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "render.cpython-311.pyc").write_bytes(b"\0" * 16)
    assert digest_of(package, "1.0") == first
    assert digest_of(package, "1.1") != first
    before = code.stat()
    # Written again until the change time moves on (the kernel's clock for file times moves
    # in ticks of a few ms), with the size and the modification time put back each time.
    while code.stat().st_ctime_ns == before.st_ctime_ns:
        code.write_text("LIMIT = 6\n", "utf-8")  # same size
        os.utime(code, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert code.stat().st_size == before.st_size and code.stat().st_mtime_ns == before.st_mtime_ns
    edited = digest_of(package, "1.0")
    assert edited != first
    (package / "templates" / "new.html").write_text("", "utf-8")
    assert digest_of(package, "1.0") not in (first, edited)
