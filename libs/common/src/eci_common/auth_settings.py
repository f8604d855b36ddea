"""What the services trust to sign tokens (`AuthSettings`) and what the issuer signs with
(`TokenIssuerSettings`). The services never see a private key: they read public keys from a
JWKS file or URL, and may also trust one OpenID Connect provider by its issuer and JWKS URL."""

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CONFIG = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)
DEFAULT_MAX_LIFETIME_S = 24 * 3600


class _TokenClaims(BaseSettings):
    model_config = _CONFIG

    # The `iss` every token of our issuer carries.
    jwt_issuer: str = Field("eci", validation_alias="AUTH_JWT_ISSUER")
    # The `aud` every token carries.
    jwt_audience: str = Field("eci-api", validation_alias="AUTH_JWT_AUDIENCE")
    # A token whose `exp - iat` is longer is refused by the services and never minted.
    max_token_lifetime_s: int = Field(
        DEFAULT_MAX_LIFETIME_S, gt=0, validation_alias="AUTH_MAX_TOKEN_LIFETIME_S"
    )


class AuthSettings(_TokenClaims):
    """The keys a service verifies tokens with, and the revoked tokens it refuses. At least one
    key source is required: `AUTH_JWKS_FILE`, `AUTH_JWKS_URL` (our issuer's public keys) or
    `AUTH_OIDC_ISSUER` with `AUTH_OIDC_JWKS_URL` (an OpenID Connect provider's)."""

    # Read by other settings (development allows what production refuses); tokens are verified
    # the same way in both.
    environment: Literal["development", "production"] = Field(
        "production", validation_alias="ECI_ENV"
    )
    # The issuer's public keys (a JWKS file), re-read when it changes.
    jwks_file: Path | None = Field(None, validation_alias="AUTH_JWKS_FILE")
    # The issuer's public keys at a URL, fetched again on an unknown `kid` and after
    # `AUTH_JWKS_CACHE_S`.
    jwks_url: str | None = Field(None, validation_alias="AUTH_JWKS_URL")
    # A fetched JWKS is kept this long, then fetched again (so a removed key stops working).
    jwks_cache_s: float = Field(300.0, gt=0, validation_alias="AUTH_JWKS_CACHE_S")
    # A token naming an unknown `kid` makes a fetch at most this often.
    jwks_min_refresh_s: float = Field(10.0, ge=0, validation_alias="AUTH_JWKS_MIN_REFRESH_S")
    # An OpenID Connect provider also trusted (its `iss`; Keycloak in compose).
    oidc_issuer: str | None = Field(None, validation_alias="AUTH_OIDC_ISSUER")
    # Where that provider publishes its keys.
    oidc_jwks_url: str | None = Field(None, validation_alias="AUTH_OIDC_JWKS_URL")
    # The `aud` its access tokens carry (`AUTH_JWT_AUDIENCE` when unset).
    oidc_audience: str | None = Field(None, validation_alias="AUTH_OIDC_AUDIENCE")
    # Revoked token ids, one a line (`<jti> [<exp>]`), re-read when it changes.
    revoked_jti_file: Path | None = Field(None, validation_alias="AUTH_REVOKED_JTI_FILE")

    @field_validator(
        "jwks_file",
        "jwks_url",
        "oidc_issuer",
        "oidc_jwks_url",
        "oidc_audience",
        "revoked_jti_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _needs_a_key_source(self) -> Self:
        if self.oidc_issuer is not None and self.oidc_jwks_url is None:
            raise ValueError("AUTH_OIDC_ISSUER needs AUTH_OIDC_JWKS_URL (the provider's keys)")
        if self.oidc_issuer is not None and self.oidc_issuer == self.jwt_issuer:
            raise ValueError("AUTH_OIDC_ISSUER must differ from AUTH_JWT_ISSUER")
        if self.jwks_file is None and self.jwks_url is None and self.oidc_issuer is None:
            raise ValueError(
                "no token keys: set AUTH_JWKS_FILE or AUTH_JWKS_URL (the public keys of "
                "`eci-admin keys generate`), or AUTH_OIDC_ISSUER and AUTH_OIDC_JWKS_URL; "
                "AUTH_JWT_SECRET is no longer read"
            )
        return self


class TokenIssuerSettings(_TokenClaims):
    """The issuer's side (`eci-admin token`, the demo seed): the private key file. It is read
    at each signing, so that a rotated key is used at once."""

    signing_key_file: Path = Field(validation_alias="AUTH_SIGNING_KEY_FILE")
