"""Rendering notifications from the Jinja2 templates shipped in the package.

One file per kind and language, `templates/<language>/<kind>.j2`, with the blocks `subject`,
`text` (always: the plain-text part of every e-mail, and the inbox body) and, optionally, `html`.
French is the default; a kind missing in a language falls back to French.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
DEFAULT_LANGUAGE: Final = "fr"
LANGUAGES: Final = ("fr", "en")


@dataclass(frozen=True)
class Rendered:
    """A notification's words: subject line, plain text, and HTML when the template has it."""

    subject: str
    text: str
    html: str | None


class Renderer:
    """Renders the templates; strict, so that a misspelt variable fails the tests."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self._text = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 - plain text; the html block escapes itself
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, kind: str, language: str, context: dict[str, Any]) -> Rendered:
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        try:
            template = self._text.get_template(f"{language}/{kind}.j2")
        except TemplateNotFound:
            template = self._text.get_template(f"{DEFAULT_LANGUAGE}/{kind}.j2")
        blocks = template.blocks
        if "subject" not in blocks or "text" not in blocks:
            raise ValueError(f"template {template.name} needs a subject and a text block")
        frame = template.new_context(dict(context))

        def block(name: str) -> str:
            return "".join(blocks[name](frame)).strip()

        html = block("html") if "html" in blocks else None
        return Rendered(subject=" ".join(block("subject").split()), text=block("text"), html=html)
