"""Pictures published as they are (a site's ``static/`` folder, an imported blog's uploads)
lose their metadata on the way: the pixels are not touched, the EXIF (GPS position, camera,
date), XMP, IPTC and comments are dropped. A JPEG keeps only its orientation, so it is still
shown the right way up. Made pictures (``variants.py``) carry no metadata to begin with.
"""

from __future__ import annotations

import struct

from blogtool.i18n import _

# JPEG segments kept: JFIF (APP0), the ICC colour profile (APP2) and Adobe's colour transform
# (APP14); every other APPn and COM goes.
_JPEG_KEEP = {0xE0, 0xE2, 0xEE}
_PNG_DROP = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}


class MetadataError(ValueError):
    """The file is not the picture its name says it is."""


def without_metadata(data: bytes, name: str) -> bytes:
    """``data`` of the file ``name`` without its metadata; other files are returned as they are.
    Raises MetadataError for a JPEG, PNG or WebP that cannot be read."""
    suffix = name.rsplit(".", 1)[-1].lower()
    handler = {"jpg": _jpeg, "jpeg": _jpeg, "png": _png, "webp": _webp}.get(suffix)
    if handler is None:
        return data
    try:
        return handler(data)
    except (IndexError, struct.error, ValueError) as exc:
        raise MetadataError(
            _("not a readable {upper} file ({exc})").format(upper=suffix.upper(), exc=exc)
        ) from None


def _jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise ValueError(_("no start-of-image marker"))
    out, i, orientation = [b"\xff\xd8"], 2, 1
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError(_("no marker at byte {i}").format(i=i))
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the picture itself, to the end
            out.append(data[i:])
            break
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            out.append(data[i : i + 2])
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        segment = data[i : i + 2 + length]
        if marker == 0xE1 and segment[4:10] == b"Exif\x00\x00":
            orientation = _orientation(segment[4:])
        if marker in _JPEG_KEEP or not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            out.append(segment)
        i += 2 + length
    else:
        raise ValueError(_("no picture data"))
    if orientation != 1:  # a minimal EXIF with the orientation alone, after SOI (and JFIF)
        out.insert(2 if out[1][:2] == b"\xff\xe0" else 1, _orientation_exif(orientation))
    return b"".join(out)


def _orientation(exif: bytes) -> int:
    from PIL import Image

    found = Image.Exif()
    try:
        found.load(exif)
    except Exception:  # an unreadable EXIF block says nothing reliable
        return 1
    value = found.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orientation_exif(orientation: int) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    body = exif.tobytes()  # starts with Exif\0\0
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def _png(data: bytes) -> bytes:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(_("no PNG signature"))
    out, i = [data[:8]], 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        chunk = data[i : i + 12 + length]
        if len(chunk) != 12 + length:
            raise ValueError(_("a chunk is cut short"))
        if kind not in _PNG_DROP:
            out.append(chunk)
        i += 12 + length
        if kind == b"IEND":
            break
    return b"".join(out)


def _webp(data: bytes) -> bytes:
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError(_("no RIFF/WEBP header"))
    chunks, i = [], 12
    while i + 8 <= len(data):
        kind = data[i : i + 4]
        (length,) = struct.unpack("<I", data[i + 4 : i + 8])
        chunk = data[i : i + 8 + length + (length & 1)]
        if kind == b"VP8X":  # the extended header: no more EXIF (0x08) or XMP (0x04) flags
            flags = chunk[8] & ~0x0C
            chunk = chunk[:8] + bytes([flags]) + chunk[9:]
        if kind not in (b"EXIF", b"XMP "):
            chunks.append(chunk)
        i += 8 + length + (length & 1)
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
