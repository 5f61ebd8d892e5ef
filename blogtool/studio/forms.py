"""The studio's forms with files in them (a picture dropped in the editor): their fields and
files read with ``multipart``, within a limit of bytes. What a picture must be to be kept is
``pictures/uploads.py``'s to say.
"""

from __future__ import annotations

from typing import Any

from blogtool.pictures.uploads import NotAPicture


def read_multipart(
    environ: dict[str, Any], limit: int
) -> tuple[dict[str, list[str]], dict[str, tuple[str, bytes]]]:
    """A multipart form's fields, and its files (name -> (file name, bytes)), at most
    ``limit`` bytes in all; NotAPicture("too-large") beyond, ValueError when malformed."""
    import multipart

    try:
        forms, files = multipart.parse_form_data(
            environ,
            strict=True,
            ignore_errors=False,
            part_limit=200,
            partsize_limit=limit,
            memory_limit=limit,
            disk_limit=limit,
        )
    except multipart.ParserLimitReached:
        raise NotAPicture("too-large") from None
    except multipart.MultipartError as exc:
        raise ValueError(str(exc)) from None
    form = {name: forms.getall(name) for name in forms}
    found: dict[str, tuple[str, bytes]] = {}
    for name in files:
        part = files[name]
        part.file.seek(0)
        found[name] = (part.filename or "", part.file.read())
        part.close()
    return form, found
