"""Who is calling: bearer tokens (JWT) signed by a key the services list, carrying a role.

A token is minted by the issuer with `eci-admin token` (Ed25519, `kid` in the header) or by
the OpenID Connect provider the services trust; every REST route but health, metrics and the API
documents needs one. The services hold public keys only (token_verifier, key_sources); the roles
and their predicates are in `principal`.
"""

from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eci_common.auth_settings import AuthSettings, TokenIssuerSettings
from eci_common.errors import Forbidden, Unauthenticated
from eci_common.principal import Principal, Role
from eci_common.token_issuer import mint_token
from eci_common.token_verifier import TokenVerifier

__all__ = [
    "AuthSettings",
    "Authenticated",
    "Principal",
    "PrincipalDep",
    "Role",
    "TokenIssuerSettings",
    "TokenVerifier",
    "current_principal",
    "install_auth",
    "mint_token",
]

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `eci-admin token` or the OpenID Connect provider (staff, "
    "animator, contact or integrator).",
)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller of this request (also left in `request.state.principal`); 401
    without a valid token, 403 for an integrator's write."""
    if credentials is None:
        raise Unauthenticated("this API needs a bearer token (Authorization: Bearer <token>)")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(credentials.credentials)
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(principal=principal.subject, role=principal.role.value)
    if principal.role is Role.INTEGRATOR and request.method not in _READ_METHODS:
        raise Forbidden("integrator tokens are read-only")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
Authenticated = Depends(current_principal)


def install_auth(app: FastAPI, settings: AuthSettings) -> None:
    """Makes `current_principal` work in `app`; routers then depend on `Authenticated`. Reads
    the JWKS file now: a service with no usable keys does not start."""
    app.state.token_verifier = TokenVerifier.from_settings(settings)
