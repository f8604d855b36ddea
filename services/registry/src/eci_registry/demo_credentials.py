"""Demo tokens, one per role, for the companies and clusters the demo seed created; printed by
`python -m eci_registry.demo` (and so by `make run`) with examples of their use."""

from dataclasses import dataclass

from eci_common.auth import Role, TokenIssuerSettings, mint_token

# As long as the services allow (AUTH_MAX_TOKEN_LIFETIME_S, a day by default).
DEMO_TTL_S = 24 * 3600


@dataclass(frozen=True)
class DemoCredential:
    variable: str
    role: Role
    description: str
    token: str


def staff_token(settings: TokenIssuerSettings, ttl_s: int = 3600) -> str:
    return mint_token(settings, subject="demo-staff", role=Role.STAFF, ttl_s=ttl_s)


@dataclass(frozen=True)
class DemoCast:
    """Whom the animator's and the contact's tokens speak for, as the seed created them."""

    animated_cluster_code: str
    animated_cluster_id: str
    animator_company_name: str
    animator_company_id: str
    contact_company_name: str
    contact_company_id: str


def demo_credentials(settings: TokenIssuerSettings, cast: DemoCast) -> list[DemoCredential]:
    """Staff; the animator of a cluster; a contact of a company that animates none; an
    integrator."""
    animated_cluster, animator_company = cast.animated_cluster_id, cast.animator_company_id
    contact_company = cast.contact_company_id
    ttl_s = min(DEMO_TTL_S, settings.max_token_lifetime_s)
    return [
        DemoCredential(
            "ECI_STAFF_TOKEN",
            Role.STAFF,
            "staff: the association's administrators, every right",
            staff_token(settings, ttl_s),
        ),
        DemoCredential(
            "ECI_ANIMATOR_TOKEN",
            Role.ANIMATOR,
            f"animator of cluster {cast.animated_cluster_code} ({animated_cluster}), "
            f"for {cast.animator_company_name}",
            mint_token(
                settings,
                subject="demo-animator",
                role=Role.ANIMATOR,
                company_id=animator_company,
                cluster_ids=(animated_cluster,),
                ttl_s=ttl_s,
            ),
        ),
        DemoCredential(
            "ECI_CONTACT_TOKEN",
            Role.CONTACT,
            f"contact of {cast.contact_company_name} ({contact_company})",
            mint_token(
                settings,
                subject="demo-contact",
                role=Role.CONTACT,
                company_id=contact_company,
                ttl_s=ttl_s,
            ),
        ),
        DemoCredential(
            "ECI_INTEGRATOR_TOKEN",
            Role.INTEGRATOR,
            "integrator: read-only",
            mint_token(settings, subject="demo-integrator", role=Role.INTEGRATOR, ttl_s=ttl_s),
        ),
    ]


def describe(credentials: list[DemoCredential], registry_url: str) -> str:
    lines = ["", "Demo credentials (valid a day; mint others with `eci-admin token`):"]
    for credential in credentials:
        lines += [f"  {credential.variable}  {credential.description}", f"    {credential.token}"]
    lines += [
        "Use one as a bearer token, for example:",
        '  curl -H "Authorization: Bearer $ECI_CONTACT_TOKEN" '
        f"{registry_url.rstrip('/')}/companies",
    ]
    return "\n".join(lines)
