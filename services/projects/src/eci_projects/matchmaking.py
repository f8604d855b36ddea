"""Matchmaking: candidate partners for a call, ranked from the read model, each with the
reason for its rank. Coverage of the needed capabilities first, same cluster next, region last.
Pure functions: no I/O."""

from dataclasses import dataclass

from eci_projects.read_model import KnownCompany


@dataclass(frozen=True)
class Ranked:
    company: KnownCompany
    covered: tuple[str, ...]
    same_cluster: bool
    same_region: bool
    reasons: tuple[str, ...]


def covers(offered: str, needed: str) -> bool:
    """A capability covers a need when it is the same code, a skill of a needed theme, or the
    theme of a needed skill (codes are `theme` or `theme.skill`)."""
    return offered == needed or offered.startswith(f"{needed}.") or needed.startswith(f"{offered}.")


def rank(
    *,
    needed: tuple[str, ...],
    companies: list[KnownCompany],
    cluster_members: set[str],
    lead: KnownCompany,
    excluded: set[str],
    limit: int = 20,
) -> list[Ranked]:
    """Active companies that cover at least one need, best first; ties by name."""
    ranked = []
    for company in companies:
        if company.id in excluded or company.id == lead.id or company.status != "active":
            continue
        covered = tuple(n for n in needed if any(covers(c, n) for c in company.capabilities))
        if not covered:
            continue
        same_cluster = company.id in cluster_members
        same_region = bool(lead.region) and company.region == lead.region
        reasons = [
            f"covers {len(covered)} of {len(needed)} needed capabilities: {', '.join(covered)}"
        ]
        reasons.append("member of the project's cluster" if same_cluster else "outside the cluster")
        if same_region:
            reasons.append(f"same region as the lead ({lead.region})")
        ranked.append(Ranked(company, covered, same_cluster, same_region, tuple(reasons)))
    ranked.sort(
        key=lambda r: (
            -len(r.covered),
            not r.same_cluster,
            not r.same_region,
            r.company.legal_name or "",
        )
    )
    return ranked[:limit]
