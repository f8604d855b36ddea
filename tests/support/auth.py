"""Tokens for tests, signed with the key the test session exports (see `tests/conftest.py`), so
that in-process apps and service processes alike accept them."""

from eci_common.auth import AuthSettings, Role, mint_token


def token(
    role: Role,
    *,
    subject: str | None = None,
    company: str | None = None,
    clusters: tuple[str, ...] = (),
    ttl_s: int = 3600,
) -> str:
    return mint_token(
        AuthSettings(),
        subject=subject or f"test-{role.value}",
        role=role,
        company_id=company,
        cluster_ids=clusters,
        ttl_s=ttl_s,
    )


def bearer(
    role: Role, *, company: str | None = None, clusters: tuple[str, ...] = ()
) -> dict[str, str]:
    """`Authorization` header for a caller of this role."""
    return {"Authorization": f"Bearer {token(role, company=company, clusters=clusters)}"}


def staff() -> dict[str, str]:
    """The association's administrator: allowed everything, used by tests about other things."""
    return bearer(Role.STAFF)
