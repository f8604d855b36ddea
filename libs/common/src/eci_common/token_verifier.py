"""Verifying a bearer token: which issuer, which of its keys (by `kid`), signature, expiry,
audience, lifetime cap and revocation, then the role's claims.

Each trusted issuer has its own keys: our issuer (`AUTH_JWT_ISSUER`, keys from `AUTH_JWKS_FILE`
and/or `AUTH_JWKS_URL`) and optionally one OpenID Connect provider (`AUTH_OIDC_ISSUER`, keys from
`AUTH_OIDC_JWKS_URL`). A provider's key never verifies a token that names our issuer.

Claims read: `sub`, `role` (one of ours) or `roles` (a list naming exactly one of ours, as the
Keycloak realm of infra/keycloak maps its client roles), `company` (a string) and `clusters` (a
list of strings).
"""

from dataclasses import dataclass
from typing import Any

import jwt
import structlog

from eci_common.auth_settings import AuthSettings
from eci_common.errors import Unauthenticated
from eci_common.key_sources import JwksFile, JwksUrl, KeySource, KeysUnavailable
from eci_common.principal import Principal, Role
from eci_common.revocation import RevokedTokens
from eci_common.token_keys import VERIFYING_ALGORITHMS

_LEEWAY_S = 30
_ROLE_NAMES = frozenset(role.value for role in Role)
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer (`iss`), the audience its tokens must name, and where its keys are."""

    issuer: str
    audience: str
    sources: tuple[KeySource, ...]

    async def key(self, kid: str) -> jwt.PyJWK | None:
        for source in self.sources:
            found = await source.key(kid)
            if found is not None:
                return found
        return None


class TokenVerifier:
    """Turns a bearer token into a `Principal`, or raises `Unauthenticated`."""

    def __init__(
        self,
        issuers: list[TrustedIssuer],
        *,
        max_lifetime_s: int,
        revoked: RevokedTokens,
    ) -> None:
        self._issuers = {trusted.issuer: trusted for trusted in issuers}
        self._max_lifetime_s = max_lifetime_s
        self._revoked = revoked

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> "TokenVerifier":
        """Reads the JWKS file now, so that a missing or bad one stops the start-up."""
        own: list[KeySource] = []
        if settings.jwks_file is not None:
            own.append(JwksFile(settings.jwks_file))
        if settings.jwks_url is not None:
            own.append(_url(settings.jwks_url, settings))
        issuers = [TrustedIssuer(settings.jwt_issuer, settings.jwt_audience, tuple(own))]
        if settings.oidc_issuer is not None and settings.oidc_jwks_url is not None:
            audience = settings.oidc_audience or settings.jwt_audience
            source = _url(settings.oidc_jwks_url, settings)
            issuers.append(TrustedIssuer(settings.oidc_issuer, audience, (source,)))
        return cls(
            [trusted for trusted in issuers if trusted.sources],
            max_lifetime_s=settings.max_token_lifetime_s,
            revoked=RevokedTokens(settings.revoked_jti_file),
        )

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        trusted = self._issuers.get(str(unverified.get("iss")))
        if trusted is None:
            raise Unauthenticated("the token's issuer (iss) is not one this service trusts")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the token names no signing key (kid)")
        try:
            key = await trusted.key(kid)
        except KeysUnavailable as exc:
            raise Unauthenticated(f"the keys of issuer {trusted.issuer} are unavailable") from exc
        if key is None:
            raise Unauthenticated("the token is signed by a key this service does not list")
        claims = self._decode(token, key, trusted)
        lifetime = int(claims["exp"]) - int(claims["iat"])
        if lifetime > self._max_lifetime_s:
            raise Unauthenticated(
                f"the token lives {lifetime} s, longer than the {self._max_lifetime_s} s allowed"
            )
        if self._revoked.is_revoked(str(claims["jti"])):
            _log.info("revoked_token_refused", jti=str(claims["jti"]))
            raise Unauthenticated("the token has been revoked")
        return principal_from_claims(claims)

    @staticmethod
    def _decode(token: str, key: jwt.PyJWK, trusted: TrustedIssuer) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(VERIFYING_ALGORITHMS),
                audience=trusted.audience,
                issuer=trusted.issuer,
                leeway=_LEEWAY_S,
                options={"require": ["sub", "exp", "iat", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        return claims


def _url(url: str, settings: AuthSettings) -> JwksUrl:
    return JwksUrl(url, max_age_s=settings.jwks_cache_s, min_refresh_s=settings.jwks_min_refresh_s)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    role = _role(claims)
    company = claims.get("company")
    clusters = claims.get("clusters", [])
    if company is not None and not isinstance(company, str):
        raise Unauthenticated("the token's company is not a string")
    if not isinstance(clusters, list) or not all(isinstance(c, str) for c in clusters):
        raise Unauthenticated("the token's clusters are not a list of strings")
    if role is Role.CONTACT and company is None:
        raise Unauthenticated("a contact token must name its company")
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        company_id=company,
        cluster_ids=frozenset(clusters),
    )


def _role(claims: dict[str, Any]) -> Role:
    if "role" in claims:
        try:
            return Role(str(claims["role"]))
        except ValueError as exc:
            raise Unauthenticated("the token names no known role") from exc
    roles = claims.get("roles")
    listed = roles if isinstance(roles, list) else []
    known = {Role(r) for r in listed if isinstance(r, str) and r in _ROLE_NAMES}
    if len(known) != 1:
        raise Unauthenticated("the token names no known role, or several (roles)")
    return known.pop()
