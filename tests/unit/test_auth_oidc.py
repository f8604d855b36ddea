"""Trusting an OpenID Connect provider (Keycloak in compose) by its issuer and JWKS URL: its
RS256 tokens, with roles as the realm of infra/keycloak maps them, verified with keys fetched
over HTTP (a local JWKS server here, with keys this test makes), refetched on an unknown `kid`,
forgotten after the cache's age, and never accepted for our own issuer."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from eci_common.auth import AuthSettings, Principal, Role, TokenIssuerSettings, mint_token
from eci_common.errors import Unauthenticated
from eci_common.token_keys import generate_signing_key, thumbprint, write_jwks, write_signing_key
from eci_common.token_verifier import TokenVerifier
from support.jwks_server import JwksEndpoint, serve_jwks
from support.polling import eventually

ISSUER = "http://localhost:8180/realms/eci"


class ProviderKey:
    """An RSA key of the provider, as Keycloak publishes one (alg RS256, use sig)."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk: dict[str, str] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.kid = thumbprint(jwk)
        self.jwk = {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        base = {
            "iss": ISSUER,
            "aud": ["eci-api", "account"],
            "sub": str(uuid.uuid4()),
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
            "typ": "Bearer",
            "azp": "eci-portal",
            "roles": ["contact"],
            "company": "c-1",
            "realm_access": {"roles": ["default-roles-eci", "offline_access"]},
        }
        return jwt.encode(
            {**base, **claims}, self.private, algorithm="RS256", headers={"kid": self.kid}
        )


@pytest.fixture
def provider() -> Iterator[JwksEndpoint]:
    with serve_jwks() as endpoint:
        yield endpoint


def verifier(provider: JwksEndpoint, **overrides: Any) -> TokenVerifier:
    return TokenVerifier.from_settings(
        AuthSettings.model_validate(
            {
                "AUTH_JWKS_FILE": "",
                "AUTH_OIDC_ISSUER": ISSUER,
                "AUTH_OIDC_JWKS_URL": provider.url,
                "AUTH_JWKS_MIN_REFRESH_S": 0,
                **overrides,
            }
        )
    )


async def test_a_provider_token_names_its_principal_as_the_realm_maps_it(
    provider: JwksEndpoint,
) -> None:
    key = ProviderKey()
    provider.document = {"keys": [key.jwk, {"kid": "enc-1", "kty": "RSA", "use": "enc"}]}
    trusting = verifier(provider)
    animator = key.token(sub="kc-1", roles=["animator"], company="c-2", clusters=["x", "y"])
    assert await trusting.verify(animator) == Principal(
        "kc-1", Role.ANIMATOR, "c-2", frozenset({"x", "y"})
    )
    contact = await trusting.verify(key.token())
    assert (contact.role, contact.company_id) == (Role.CONTACT, "c-1")
    assert provider.requests == 1, "the keys are cached"
    for bad, message in (
        (key.token(roles=["staff", "contact"]), "or several"),
        (key.token(roles=["default-roles-eci"]), "no known role"),
        (key.token(aud="account"), "not valid"),
        (key.token(exp=int(time.time()) + 2 * 86400), "longer than"),
    ):
        with pytest.raises(Unauthenticated, match=message):
            await trusting.verify(bad)


async def test_a_rotation_at_the_provider_is_followed_without_a_restart(
    provider: JwksEndpoint,
) -> None:
    old, new = ProviderKey(), ProviderKey()
    provider.document = {"keys": [old.jwk]}
    trusting = verifier(provider, AUTH_JWKS_CACHE_S=0.5)
    assert (await trusting.verify(old.token())).role is Role.CONTACT
    # A new key, listed next to the old one: the unknown kid makes the service fetch again.
    provider.document = {"keys": [new.jwk, old.jwk]}
    assert (await trusting.verify(new.token())).role is Role.CONTACT
    assert provider.requests == 2
    # The old key removed: refused once the cached copy is older than AUTH_JWKS_CACHE_S.
    provider.document = {"keys": [new.jwk]}

    async def refused() -> str | None:
        try:
            await trusting.verify(old.token())
        except Unauthenticated as exc:
            return str(exc)
        return None

    assert "does not list" in await eventually(refused, timeout=5, what="the old key refused")
    assert (await trusting.verify(new.token())).role is Role.CONTACT


async def test_unknown_kids_do_not_make_the_service_hammer_the_provider(
    provider: JwksEndpoint,
) -> None:
    key, stranger = ProviderKey(), ProviderKey()
    provider.document = {"keys": [key.jwk]}
    trusting = verifier(provider, AUTH_JWKS_MIN_REFRESH_S=60)
    await trusting.verify(key.token())
    for _ in range(20):
        with pytest.raises(Unauthenticated, match="does not list"):
            await trusting.verify(stranger.token())
    assert provider.requests == 1


async def test_a_provider_that_does_not_answer_gives_401_not_a_crash(
    provider: JwksEndpoint,
) -> None:
    provider.failing = True
    with pytest.raises(Unauthenticated, match="unavailable"):
        await verifier(provider).verify(ProviderKey().token())


async def test_each_issuer_is_verified_with_its_own_keys_only(
    provider: JwksEndpoint, tmp_path: Path
) -> None:
    """A provider key cannot sign for our issuer, nor ours for the provider."""
    ours = generate_signing_key()
    write_signing_key(tmp_path / "signing-key.pem", ours)
    write_jwks(tmp_path / "jwks.json", {"keys": [ours.public_jwk]})
    key = ProviderKey()
    provider.document = {"keys": [key.jwk]}
    trusting = verifier(provider, AUTH_JWKS_FILE=str(tmp_path / "jwks.json"))
    issuer = TokenIssuerSettings.model_validate(
        {"AUTH_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem")}
    )
    ours_token = mint_token(issuer, subject="s", role=Role.STAFF)
    assert (await trusting.verify(ours_token)).is_staff
    assert (await trusting.verify(key.token())).role is Role.CONTACT
    with pytest.raises(Unauthenticated, match="does not list"):
        await trusting.verify(key.token(iss="eci", aud="eci-api", roles=["staff"]))
    claims = jwt.decode(ours_token, options={"verify_signature": False})
    with pytest.raises(Unauthenticated, match="does not list"):
        await trusting.verify(ours.sign({**claims, "iss": ISSUER}))
