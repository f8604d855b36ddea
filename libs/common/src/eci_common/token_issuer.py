"""Minting tokens: what `eci-admin token` and the demo seed print, signed with the issuer's
private key (never held by the services)."""

import time
import uuid
from typing import Any

from eci_common.auth_settings import TokenIssuerSettings
from eci_common.principal import Role
from eci_common.token_keys import load_signing_key


def mint_token(
    settings: TokenIssuerSettings,
    *,
    subject: str,
    role: Role,
    company_id: str | None = None,
    cluster_ids: tuple[str, ...] = (),
    ttl_s: int = 8 * 3600,
) -> str:
    """A token for `subject`, signed with the key of `AUTH_SIGNING_KEY_FILE` as it is now."""
    if role is Role.CONTACT and company_id is None:
        raise ValueError("a contact token names its company")
    if role is Role.ANIMATOR and not cluster_ids:
        raise ValueError("an animator token names the clusters it animates")
    if ttl_s > settings.max_token_lifetime_s:
        raise ValueError(
            f"a token lives at most {settings.max_token_lifetime_s} s "
            "(AUTH_MAX_TOKEN_LIFETIME_S); the services refuse longer ones"
        )
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
    return load_signing_key(settings.signing_key_file).sign(claims)
