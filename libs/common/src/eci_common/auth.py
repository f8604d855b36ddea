"""Who is calling: signed bearer tokens (JWT, HS256 with a configured key) carrying a role.

Roles: `staff` (the association's administrators), `animator` (of the clusters listed in the
token), `contact` (of the one company named in the token) and `integrator` (read-only). A token
is minted by staff with `eci-admin token`; every REST route but health, metrics and the API
documents needs one. What each role may do is decided next to each use case, with the
predicates of `Principal`.
"""

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

import jwt
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eci_common.errors import Forbidden, Unauthenticated

DEVELOPMENT_SECRET = "eci-development-only-secret-never-use-it-in-production"  # noqa: S105
MIN_SECRET_LENGTH = 32
_ALGORITHM = "HS256"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Role(StrEnum):
    STAFF = "staff"
    ANIMATOR = "animator"
    CONTACT = "contact"
    INTEGRATOR = "integrator"


class AuthSettings(BaseSettings):
    """The token key and the mode. Outside `ECI_ENV=development` the built-in development key,
    or any key shorter than 32 characters, is refused at start-up."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    environment: Literal["development", "production"] = Field(
        "production", validation_alias="ECI_ENV"
    )
    jwt_secret: SecretStr = Field(SecretStr(DEVELOPMENT_SECRET), validation_alias="AUTH_JWT_SECRET")
    jwt_issuer: str = Field("eci", validation_alias="AUTH_JWT_ISSUER")
    jwt_audience: str = Field("eci-api", validation_alias="AUTH_JWT_AUDIENCE")

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> "AuthSettings":
        if self.environment == "development":
            return self
        secret = self.jwt_secret.get_secret_value()
        if secret == DEVELOPMENT_SECRET or len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(
                "AUTH_JWT_SECRET must be a random value of at least "
                f"{MIN_SECRET_LENGTH} characters (the development key is accepted only with "
                "ECI_ENV=development)"
            )
        return self


@dataclass(frozen=True)
class Principal:
    """The caller, as its token names it."""

    subject: str
    role: Role
    company_id: str | None = None
    cluster_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role is Role.STAFF

    def acts_for(self, company_id: str) -> bool:
        """Staff, or a contact or animator of this very company."""
        return self.is_staff or (
            self.role in (Role.CONTACT, Role.ANIMATOR) and self.company_id == company_id
        )

    def animates(self, cluster_id: str) -> bool:
        """Staff, or the animator of this cluster."""
        return self.is_staff or (self.role is Role.ANIMATOR and cluster_id in self.cluster_ids)

    def require_staff(self, action: str) -> None:
        if not self.is_staff:
            raise Forbidden(f"only staff may {action}")

    def require_acts_for(self, company_id: str, action: str) -> None:
        if not self.acts_for(company_id):
            raise Forbidden(f"only staff or a contact of company {company_id} may {action}")

    def require_animates(self, cluster_id: str, action: str) -> None:
        if not self.animates(cluster_id):
            raise Forbidden(f"only staff or an animator of cluster {cluster_id} may {action}")


def mint_token(
    settings: AuthSettings,
    *,
    subject: str,
    role: Role,
    company_id: str | None = None,
    cluster_ids: tuple[str, ...] = (),
    ttl_s: int = 8 * 3600,
) -> str:
    """A signed token for `subject`; what `eci-admin token` prints."""
    if role is Role.CONTACT and company_id is None:
        raise ValueError("a contact token names its company")
    if role is Role.ANIMATOR and not cluster_ids:
        raise ValueError("an animator token names the clusters it animates")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if company_id is not None:
        claims["company"] = company_id
    if cluster_ids:
        claims["clusters"] = list(cluster_ids)
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=_ALGORITHM)


class TokenVerifier:
    """Checks signature, expiry, issuer and audience, then reads the role's claims."""

    def __init__(self, settings: AuthSettings) -> None:
        self._settings = settings

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._settings.jwt_secret.get_secret_value(),
                algorithms=[_ALGORITHM],
                audience=self._settings.jwt_audience,
                issuer=self._settings.jwt_issuer,
                leeway=30,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise Unauthenticated("the token names no known role") from exc
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


_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `eci-admin token` (staff, animator, contact or integrator).",
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of this request; 401 without a valid token, 403 for an integrator's write."""
    if credentials is None:
        raise Unauthenticated("this API needs a bearer token (Authorization: Bearer <token>)")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = verifier.verify(credentials.credentials)
    structlog.contextvars.bind_contextvars(principal=principal.subject, role=principal.role.value)
    if principal.role is Role.INTEGRATOR and request.method not in _READ_METHODS:
        raise Forbidden("integrator tokens are read-only")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
Authenticated = Depends(current_principal)


def install_auth(app: FastAPI, settings: AuthSettings) -> None:
    """Makes `current_principal` work in `app`; routers then depend on `Authenticated`."""
    app.state.token_verifier = TokenVerifier(settings)
