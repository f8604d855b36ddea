"""Registry REST API: the capability taxonomy, with French and English labels."""

from fastapi import APIRouter
from pydantic import BaseModel

from eci_registry.taxonomy import load_taxonomy

router = APIRouter(prefix="/capabilities", tags=["taxonomy"])


class SkillOut(BaseModel):
    code: str
    labels: dict[str, str]


class ThemeOut(BaseModel):
    code: str
    labels: dict[str, str]
    skills: list[SkillOut]


class TaxonomyOut(BaseModel):
    version: int
    themes: list[ThemeOut]


@router.get("")
async def capabilities() -> TaxonomyOut:
    """The ten kick-off themes and their skills; any theme or skill code is a capability."""
    taxonomy = load_taxonomy()
    return TaxonomyOut(
        version=taxonomy.version,
        themes=[
            ThemeOut(
                code=theme.code,
                labels={"fr": theme.label_fr, "en": theme.label_en},
                skills=[
                    SkillOut(code=s.code, labels={"fr": s.label_fr, "en": s.label_en})
                    for s in theme.skills
                ],
            )
            for theme in taxonomy.themes
        ],
    )
