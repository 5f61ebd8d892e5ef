"""The effective configuration, as ``blogtool config`` prints it, and the reference of every
key (docs/configuration.md): both from the declarations in ``model.py``."""

from __future__ import annotations

from typing import Any

from blogtool.config import schema
from blogtool.config.model import SECTIONS, TABLES, Config


def _values(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr, name, spec in schema.keys(type(obj)):
        value = getattr(obj, attr)
        if value is not None:
            out[name] = spec.dump(value) if spec.dump else value
    return out


def as_dict(config: Config) -> dict[str, Any]:
    """Every key with the value in force, defaults and derived values included."""
    data: dict[str, Any] = {}
    for name in SECTIONS:
        section = getattr(config, name)
        if section is not None:
            values = _values(section)
            if values:
                data[name] = values
    data["services"] = {key: _values(service) for key, service in config.services.items()}
    data["lists"] = {key: _values(entry) for key, entry in config.lists.items()}
    return data


def dump_toml(data: dict[str, Any]) -> str:
    """Render the effective configuration as TOML (flat values and nested tables only)."""
    out: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list | tuple):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        s = str(v).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'

    def emit(prefix: str, table: dict[str, Any]) -> None:
        flat = {k: v for k, v in table.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix and (flat or not nested):
            out.append(f"[{prefix}]")
            out.extend(f"{k} = {scalar(v)}" for k, v in flat.items())
            out.append("")
        for k, v in nested.items():
            emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", data)
    return "\n".join(out).rstrip() + "\n"


def markdown_reference() -> str:
    """docs/configuration.md."""
    rows = [
        "# Configuration",
        "",
        "Every key of `blogtool.toml`, printed from the declarations in",
        "`blogtool/config/model.py` by `blogtool config --reference`. Keys marked required have no",
        "default; a derived default is worked out from other keys (`blogtool config` shows it).",
    ]
    sections = [(name, section) for name, section in SECTIONS.items()]
    sections += [(f"{name}.KEY", section) for name, section in TABLES.items()]
    for name, section in sections:
        about = (section.__doc__ or "").split(": ", 1)[-1].strip()
        rows += ["", f"## [{name}]", "", about[:1].upper() + about[1:], ""]
        rows += ["| key | type | default | what it is |", "|---|---|---|---|"]
        for _, toml, spec in schema.keys(section):
            if spec.default is schema.REQUIRED:
                default = "required"
            elif spec.default is None:
                default = ""
            else:
                default = f"`{spec.default!r}`".replace("'", '"')
                if isinstance(spec.default, bool):
                    default = f"`{str(spec.default).lower()}`"
            kind = schema.expected_name(spec.type)
            rows.append(f"| `{toml}` | {kind} | {default} | {spec.doc} |")
    return "\n".join(rows) + "\n"
