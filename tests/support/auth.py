"""Tokens for tests, signed with the private key the test session made (see `tests/conftest.py`:
`AUTH_SIGNING_KEY_FILE`), whose public key is in the JWKS every in-process app and service
process reads (`AUTH_JWKS_FILE`)."""

from eci_common.auth import Role, TokenIssuerSettings, mint_token


def token(
    role: Role,
    *,
    subject: str | None = None,
    company: str | None = None,
    clusters: tuple[str, ...] = (),
    ttl_s: int = 3600,
) -> str:
    return mint_token(
        TokenIssuerSettings(),
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
