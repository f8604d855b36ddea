"""Writes `docs/configuration.md` from the settings models, so that the reference cannot drift.

Each setting's environment variable is worked out as pydantic-settings reads it (its alias, else
the service's prefix and its name), its default is the model's, and its meaning is the field's
`description`, else the comment written above the field in the source. `--check` fails when the
committed file differs from what the models say (`make lint` runs it).

    python -m eci_tools.configuration_doc [--check]
"""

import argparse
import ast
import inspect
import sys
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from eci_common.request_guard import GuardSettings
from eci_notifications.settings import Settings as NotificationsSettings
from eci_projects.settings import Settings as ProjectsSettings
from eci_registry.settings import Settings as RegistrySettings

TARGET = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"
SERVICES: dict[str, type[BaseSettings]] = {
    "registry": RegistrySettings,
    "projects": ProjectsSettings,
    "notifications": NotificationsSettings,
}
# Read by every service outside its `Settings` (one value for every service).
EXTRA: tuple[type[BaseSettings], ...] = (GuardSettings,)


@dataclass(frozen=True)
class Setting:
    """One environment variable: where it is declared and what it means."""

    variable: str
    default: str
    meaning: str
    declared_in: str


def _comments(model: type) -> dict[str, str]:
    """The comment lines written just above each field of a class body, by field name."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        above: list[str] = []
        index = node.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#"):
            above.insert(0, lines[index].strip().lstrip("#").strip())
            index -= 1
        if above:
            found[node.target.id] = " ".join(above)
    return found


def _meanings(model: type[BaseSettings]) -> dict[str, tuple[str, str]]:
    """Per field: its meaning and the class that declares it, the most derived class first."""
    meanings: dict[str, tuple[str, str]] = {}
    for cls in model.__mro__:
        if not (isinstance(cls, type) and issubclass(cls, BaseSettings)) or cls is BaseSettings:
            continue
        for name, text in _comments(cls).items():
            if not meanings.get(name, ("", ""))[0]:  # a subclass that only sets a default
                meanings[name] = (text, f"{cls.__module__}.{cls.__qualname__}")
        for name in getattr(cls, "__annotations__", {}):
            meanings.setdefault(name, ("", f"{cls.__module__}.{cls.__qualname__}"))
    return meanings


def _variable(model: type[BaseSettings], name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    if isinstance(alias, str):
        return alias
    prefix = str(model.model_config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined:
        return "required" if info.default_factory is None else "computed"
    value = info.default
    if value is None:
        return "unset"
    if hasattr(value, "get_secret_value"):
        return "(built-in development value)"
    if isinstance(value, bool):
        return str(value).lower()
    if value == "":
        return "empty"
    return str(value)


def settings_of(model: type[BaseSettings]) -> list[Setting]:
    meanings = _meanings(model)
    found = []
    for name, info in model.model_fields.items():
        meaning, declared = meanings.get(name, ("", model.__qualname__))
        text = info.description or meaning
        bounds = [f"{word} {value}" for word, value in _bounds(info) if value is not None]
        if bounds:
            text = f"{text} ({', '.join(bounds)})" if text else ", ".join(bounds)
        found.append(Setting(_variable(model, name, info), _default(info), text, declared))
    return found


def _bounds(info: FieldInfo) -> Iterable[tuple[str, object]]:
    for item in info.metadata:
        for word, attribute in (("≥", "ge"), (">", "gt"), ("≤", "le"), ("<", "lt")):
            value = getattr(item, attribute, None)
            if value is not None:
                yield word, value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: Iterable[Setting]) -> list[str]:
    out = ["| Variable | Default | Meaning |", "|---|---|---|"]
    out += [
        f"| `{row.variable}` | `{_cell(row.default)}` | {_cell(row.meaning) or '—'} |"
        for row in rows
    ]
    return out


def _prefixed(service: str, variable: str) -> str | None:
    """`HTTP_PORT` for `REGISTRY_HTTP_PORT` in the registry; None for an unprefixed variable."""
    prefix = f"{service.upper()}_"
    return variable.removeprefix(prefix) if variable.startswith(prefix) else None


def render() -> str:
    """The whole document: shared variables, `<P>_` variables every service reads, then what
    only one service reads."""
    per_service = {service: settings_of(model) for service, model in SERVICES.items()}
    first = next(iter(SERVICES))
    shared = [row for row in per_service[first] if _prefixed(first, row.variable) is None]
    for model in EXTRA:
        shared += settings_of(model)
    suffixes = {
        service: {
            suffix: row for row in rows if (suffix := _prefixed(service, row.variable)) is not None
        }
        for service, rows in per_service.items()
    }
    common = [s for s in suffixes[first] if all(s in suffixes[other] for other in SERVICES)]
    every_service = []
    for suffix in common:
        defaults = [suffixes[service][suffix].default for service in SERVICES]
        default = defaults[0] if len(set(defaults)) == 1 else " / ".join(defaults)
        meaning = suffixes[first][suffix].meaning
        every_service.append(Setting(f"<P>_{suffix}", default, meaning, ""))
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m eci_tools.configuration_doc` from the settings models;",
        "     `make lint` fails when it is stale. Edit the models, not this file. -->",
        "",
        "The services read **environment variables only** (docker compose reads `.env` and passes",
        "them on). Shared settings have no prefix and mean the same in every service; each service",
        "reads its own settings with its prefix `<P>_`: `REGISTRY_`, `PROJECTS_` or",
        "`NOTIFICATIONS_`. Where the services' defaults differ, they are given in that order.",
        "",
        "## Shared by every service",
        "",
        *_table(sorted(shared, key=lambda row: row.variable)),
        "",
        "## Read by every service with its prefix",
        "",
        *_table(every_service),
    ]
    for service in SERVICES:
        own = [row for suffix, row in suffixes[service].items() if suffix not in common]
        if own:
            lines += ["", f"## {service} only", "", *_table(own)]
    lines += [
        "",
        "The local infrastructure scripts (`infra/`) read their own variables (ports, backend,",
        "cache and state folders): see the header of `infra/lib.sh` and",
        "[operations](operations.md).",
        "",
    ]
    return "\n".join(lines)


def undocumented() -> list[str]:
    """Variables whose model gives no meaning: the check refuses them."""
    rows = [row for model in (*SERVICES.values(), *EXTRA) for row in settings_of(model)]
    return sorted({row.variable for row in rows if not row.meaning or row.meaning[0] in "≥>≤<"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        missing = undocumented()
        if missing:
            sys.stderr.write(
                "settings without a meaning (a `description` or a comment above the field): "
                + ", ".join(missing)
                + "\n"
            )
            return 1
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            sys.stderr.write(
                f"{TARGET.name} is stale: run `python -m eci_tools.configuration_doc`\n"
            )
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
