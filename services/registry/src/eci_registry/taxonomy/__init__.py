"""The capability taxonomy: the ten kick-off workshop themes and their finer skills.

A company's capabilities, a project's needed capabilities and a cluster's theme are codes from
this taxonomy: a theme code (`movements`) or a skill code (`movements.escapement`). The taxonomy
is versioned data shipped with the package (`capabilities-v<N>.json`); this module reads it,
checks it, and answers "is this a capability?", "which theme?" and "what is it called?".
"""

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

Language = Literal["fr", "en"]

_DATA_FILE = "capabilities-v1.json"
_THEME_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


class InvalidTaxonomy(ValueError):
    """The taxonomy data breaks a rule (shape, unique codes, skill prefixes, labels)."""


@dataclass(frozen=True)
class Skill:
    """A finer capability inside a theme; its code is `<theme>.<skill>`."""

    code: str
    label_fr: str
    label_en: str


@dataclass(frozen=True)
class Theme:
    """One of the workshop themes (the kick-off's ateliers), with its skills."""

    code: str
    label_fr: str
    label_en: str
    skills: tuple[Skill, ...]


@dataclass(frozen=True)
class Taxonomy:
    """A version of the taxonomy. Constructing one checks it; lookups are by code."""

    version: int
    themes: tuple[Theme, ...]
    updated: date | None = None
    _index: dict[str, tuple[Theme, Skill | None]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.version < 1:
            raise InvalidTaxonomy(f"taxonomy version must be 1 or more, not {self.version}")
        if not self.themes:
            raise InvalidTaxonomy("a taxonomy needs at least one theme")
        for theme in self.themes:
            if not _THEME_CODE.match(theme.code):
                raise InvalidTaxonomy(f"theme code {theme.code!r} is not lower snake case")
            self._add(theme.code, theme, None, theme.label_fr, theme.label_en)
            for skill in theme.skills:
                prefix, _, rest = skill.code.partition(".")
                if prefix != theme.code or not _THEME_CODE.match(rest):
                    raise InvalidTaxonomy(
                        f"skill code {skill.code!r} must read '{theme.code}.<lower_snake_case>'"
                    )
                self._add(skill.code, theme, skill, skill.label_fr, skill.label_en)

    def _add(
        self, code: str, theme: Theme, skill: Skill | None, label_fr: str, label_en: str
    ) -> None:
        if code in self._index:
            raise InvalidTaxonomy(f"capability code {code!r} appears twice")
        if not label_fr.strip() or not label_en.strip():
            raise InvalidTaxonomy(f"capability {code!r} needs both a French and an English label")
        self._index[code] = (theme, skill)

    def is_known(self, code: str) -> bool:
        """Whether `code` is a capability: a theme code or a skill code."""
        return code in self._index

    def theme_of(self, code: str) -> str:
        """The theme code a capability belongs to (a theme belongs to itself).

        Raises KeyError for an unknown code.
        """
        theme, _ = self._lookup(code)
        return theme.code

    def codes(self) -> frozenset[str]:
        """Every capability code: themes and skills."""
        return frozenset(self._index)

    def label(self, code: str, language: Language) -> str:
        """The capability's label in French or English. Raises KeyError for an unknown code."""
        theme, skill = self._lookup(code)
        named: Theme | Skill = theme if skill is None else skill
        return named.label_fr if language == "fr" else named.label_en

    def _lookup(self, code: str) -> tuple[Theme, Skill | None]:
        try:
            return self._index[code]
        except KeyError:
            raise KeyError(f"unknown capability code {code!r}") from None


def parse_taxonomy(data: object) -> Taxonomy:
    """A taxonomy from its decoded JSON document. Raises ValueError if the document is wrong."""
    document = _object(
        data, "the taxonomy", required={"version", "themes"}, optional=frozenset({"updated"})
    )
    version = document["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise InvalidTaxonomy("'version' must be an integer")
    updated: date | None = None
    if "updated" in document:
        updated = _date(document["updated"])
    themes_data = document["themes"]
    if not isinstance(themes_data, list):
        raise InvalidTaxonomy("'themes' must be a list")
    themes = []
    for theme_data in themes_data:
        theme = _object(theme_data, "a theme", required={"code", "labels", "skills"})
        code = _text(theme["code"], "a theme code")
        label_fr, label_en = _labels(theme["labels"], code)
        skills_data = theme["skills"]
        if not isinstance(skills_data, list):
            raise InvalidTaxonomy(f"the skills of theme {code!r} must be a list")
        skills = []
        for skill_data in skills_data:
            skill = _object(skill_data, f"a skill of theme {code!r}", required={"code", "labels"})
            skill_code = _text(skill["code"], f"a skill code in theme {code!r}")
            skills.append(Skill(skill_code, *_labels(skill["labels"], skill_code)))
        themes.append(Theme(code, label_fr, label_en, tuple(skills)))
    return Taxonomy(version=version, themes=tuple(themes), updated=updated)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """The taxonomy shipped with the package, or the one in `path` (a JSON file).

    The packaged one is read once and cached. Raises ValueError if the file is wrong.
    """
    if path is None:
        return _packaged_taxonomy()
    return _parse_text(path.read_text(encoding="utf-8"), str(path))


@cache
def _packaged_taxonomy() -> Taxonomy:
    text = files(__name__).joinpath(_DATA_FILE).read_text(encoding="utf-8")
    return _parse_text(text, _DATA_FILE)


def _parse_text(text: str, source: str) -> Taxonomy:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidTaxonomy(f"{source} is not valid JSON: {exc}") from exc
    try:
        return parse_taxonomy(data)
    except ValueError as exc:
        raise InvalidTaxonomy(f"{source}: {exc}") from exc


def _object(
    value: object, what: str, *, required: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidTaxonomy(f"{what} must be a JSON object")
    missing = required - value.keys()
    if missing:
        raise InvalidTaxonomy(f"{what} lacks {', '.join(sorted(missing))}")
    unknown = value.keys() - required - optional
    if unknown:
        raise InvalidTaxonomy(f"{what} has unknown fields: {', '.join(sorted(unknown))}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidTaxonomy(f"{what} must be a non-empty string")
    return value


def _labels(value: object, code: str) -> tuple[str, str]:
    labels = _object(value, f"the labels of {code!r}", required={"fr", "en"})
    return (
        _text(labels["fr"], f"the French label of {code!r}"),
        _text(labels["en"], f"the English label of {code!r}"),
    )


def _date(value: object) -> date:
    if not isinstance(value, str):
        raise InvalidTaxonomy("'updated' must be an ISO date string (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidTaxonomy(f"'updated' must be an ISO date (YYYY-MM-DD), not {value!r}") from exc
