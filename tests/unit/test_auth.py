"""Tokens: minted by the issuer's private key only, verified by the services with the public
keys they list (by `kid`), with a lifetime cap and a revocation file, both followed without a
restart; every claim checked; each role's predicates."""

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from eci_common.admin import app as admin_app
from eci_common.auth import AuthSettings, Principal, Role, TokenIssuerSettings, mint_token
from eci_common.errors import Forbidden, Unauthenticated
from eci_common.token_keys import (
    KeyDocumentError,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    public_keys,
    thumbprint,
    write_jwks,
    write_signing_key,
)
from eci_common.token_verifier import TokenVerifier


class Keys:
    """An issuer's key file and the JWKS a service reads, in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.signing_key = folder / "signing-key.pem"
        self.jwks = folder / "jwks.json"
        self.revoked = folder / "revoked.txt"
        key = generate_signing_key()
        write_signing_key(self.signing_key, key)
        write_jwks(self.jwks, {"keys": [key.public_jwk]})

    @property
    def key(self) -> SigningKey:
        return load_signing_key(self.signing_key)

    def issuer(self, **overrides: Any) -> TokenIssuerSettings:
        return TokenIssuerSettings.model_validate(
            {"AUTH_SIGNING_KEY_FILE": str(self.signing_key), **overrides}
        )

    def verifier(self, **overrides: Any) -> TokenVerifier:
        return TokenVerifier.from_settings(
            AuthSettings.model_validate(
                {
                    "AUTH_JWKS_FILE": str(self.jwks),
                    "AUTH_REVOKED_JTI_FILE": str(self.revoked),
                    **overrides,
                }
            )
        )

    def admin(self, *args: str) -> str:
        env = {"AUTH_SIGNING_KEY_FILE": str(self.signing_key), "AUTH_JWKS_FILE": str(self.jwks)}
        result = CliRunner().invoke(admin_app, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path)


def staff_token(issuer: TokenIssuerSettings, **overrides: Any) -> str:
    return mint_token(issuer, subject="u", role=Role.STAFF, **overrides)


def test_the_services_need_a_key_source_and_read_no_shared_secret() -> None:
    with pytest.raises(ValidationError, match="AUTH_JWKS_FILE or AUTH_JWKS_URL"):
        AuthSettings.model_validate({"AUTH_JWKS_FILE": "", "AUTH_JWT_SECRET": "x" * 48})
    with pytest.raises(ValidationError, match="AUTH_OIDC_JWKS_URL"):
        AuthSettings.model_validate({"AUTH_OIDC_ISSUER": "https://id.example/realms/eci"})


async def test_a_minted_token_names_its_principal_and_its_key(keys: Keys) -> None:
    token = mint_token(
        keys.issuer(), subject="u-1", role=Role.ANIMATOR, company_id="c-1", cluster_ids=("x", "y")
    )
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == keys.key.kid == thumbprint(keys.key.public_jwk)
    assert await keys.verifier().verify(token) == Principal(
        "u-1", Role.ANIMATOR, "c-1", frozenset({"x", "y"})
    )


async def test_a_token_signed_by_a_key_the_services_do_not_list_is_refused(
    keys: Keys, tmp_path: Path
) -> None:
    verifier = keys.verifier()
    stranger = Keys(tmp_path / "stranger")
    with pytest.raises(Unauthenticated, match="does not list"):
        await verifier.verify(staff_token(stranger.issuer()))
    # The same, claiming the listed key's kid: the signature does not match.
    claims = jwt.decode(staff_token(keys.issuer()), options={"verify_signature": False})
    forged = jwt.encode(
        claims, stranger.key.private_key, algorithm="EdDSA", headers={"kid": keys.key.kid}
    )
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        await verifier.verify(forged)
    # No kid, no signature, or an HMAC keyed with the public key: refused.
    for bad in (
        jwt.encode(claims, stranger.key.private_key, algorithm="EdDSA"),
        jwt.encode(claims, key=None, algorithm="none", headers={"kid": keys.key.kid}),
        jwt.encode(
            claims, keys.key.public_jwk["x"], algorithm="HS256", headers={"kid": keys.key.kid}
        ),
    ):
        with pytest.raises(Unauthenticated):
            await verifier.verify(bad)
    assert (await verifier.verify(staff_token(keys.issuer()))).is_staff


async def test_a_rotation_needs_no_restart_of_the_issuer_or_the_services(keys: Keys) -> None:
    issuer, verifier = keys.issuer(), keys.verifier()
    old_kid = keys.key.kid
    before = staff_token(issuer)
    keys.admin("keys", "rotate")
    new_kid = keys.key.kid
    assert new_kid != old_kid
    after = staff_token(issuer)  # the same issuer settings sign with the new key at once
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    listed = [line.split() for line in keys.admin("keys", "list").splitlines()]
    assert listed == [[new_kid, "EdDSA", "(signs)"], [old_kid, "EdDSA"]]
    # Both keys listed: both tokens pass, with the verifier made before the rotation.
    assert (await verifier.verify(before)).is_staff
    assert (await verifier.verify(after)).is_staff
    keys.admin("keys", "retire", old_kid)
    with pytest.raises(Unauthenticated, match="does not list"):
        await verifier.verify(before)
    assert (await verifier.verify(after)).is_staff


async def test_a_broken_jwks_rewrite_keeps_the_last_good_keys(keys: Keys) -> None:
    verifier, token = keys.verifier(), staff_token(keys.issuer())
    keys.jwks.write_text('{"keys": [', encoding="utf-8")
    assert (await verifier.verify(token)).is_staff


@pytest.mark.parametrize(
    "member", [{"d": "private-part"}, {"kty": "oct", "k": "c2VjcmV0"}], ids=["private", "hmac"]
)
def test_a_jwks_with_private_or_symmetric_keys_is_refused(
    keys: Keys, member: dict[str, str]
) -> None:
    document = {"keys": [{**keys.key.public_jwk, **member}]}
    with pytest.raises(KeyDocumentError, match="not a public asymmetric key"):
        public_keys(document)
    keys.jwks.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(KeyDocumentError, match="AUTH_JWKS_FILE"):
        keys.verifier()


async def test_lifetimes_are_capped(keys: Keys) -> None:
    with pytest.raises(ValueError, match="AUTH_MAX_TOKEN_LIFETIME_S"):
        staff_token(keys.issuer(AUTH_MAX_TOKEN_LIFETIME_S=600), ttl_s=601)
    week = staff_token(keys.issuer(AUTH_MAX_TOKEN_LIFETIME_S=7 * 86400), ttl_s=7 * 86400)
    with pytest.raises(Unauthenticated, match="longer than the 86400 s allowed"):
        await keys.verifier().verify(week)
    assert (await keys.verifier(AUTH_MAX_TOKEN_LIFETIME_S=7 * 86400).verify(week)).is_staff


async def test_a_revoked_jti_is_refused_without_a_restart(keys: Keys) -> None:
    verifier = keys.verifier()
    revoked, kept = staff_token(keys.issuer()), staff_token(keys.issuer())
    assert (await verifier.verify(revoked)).is_staff
    keys.admin("revoke", revoked, "--revoked", str(keys.revoked))
    jti = jwt.decode(revoked, options={"verify_signature": False})["jti"]
    assert jti in keys.revoked.read_text(encoding="utf-8")
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(revoked)
    assert (await verifier.verify(kept)).is_staff
    # A jti alone revokes too; an emptied file revokes nothing any more.
    keys.admin("revoke", jwt.decode(kept, options={"verify_signature": False})["jti"],
               "--revoked", str(keys.revoked))  # fmt: skip
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(kept)
    keys.revoked.write_text("", encoding="utf-8")
    assert (await verifier.verify(kept)).is_staff


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": 1}, "expired"),
        ({"iat": int(time.time()) + 3600}, "not yet valid"),
        ({"aud": "another-api"}, "not valid"),
        ({"iss": "someone-else"}, "not one this service trusts"),
        ({"jti": None}, "jti"),
        ({"role": "superuser"}, "no known role"),
        ({"role": None, "roles": ["staff", "contact"]}, "or several"),
        ({"role": "contact"}, "must name its company"),
        ({"clusters": "x"}, "list of strings"),
    ],
)
async def test_bad_claims_are_refused(keys: Keys, claims: dict[str, object], message: str) -> None:
    base = jwt.decode(staff_token(keys.issuer()), options={"verify_signature": False})
    token = keys.key.sign({k: v for k, v in {**base, **claims}.items() if v is not None})
    with pytest.raises(Unauthenticated, match=message):
        await keys.verifier().verify(token)


def test_minting_refuses_incomplete_role_claims(keys: Keys) -> None:
    with pytest.raises(ValueError, match="names its company"):
        mint_token(keys.issuer(), subject="u", role=Role.CONTACT)
    with pytest.raises(ValueError, match="clusters it animates"):
        mint_token(keys.issuer(), subject="u", role=Role.ANIMATOR, company_id="c")


def test_the_private_key_file_is_for_its_owner_only(keys: Keys) -> None:
    assert keys.signing_key.stat().st_mode & 0o077 == 0
    assert "PRIVATE KEY" in keys.signing_key.read_text(encoding="utf-8")
    assert "PRIVATE" not in keys.jwks.read_text(encoding="utf-8")


def test_role_predicates() -> None:
    staff = Principal("s", Role.STAFF)
    contact = Principal("c", Role.CONTACT, company_id="a")
    animator = Principal("n", Role.ANIMATOR, company_id="b", cluster_ids=frozenset({"x"}))
    integrator = Principal("i", Role.INTEGRATOR)
    who = {"staff": staff, "contact": contact, "animator": animator, "integrator": integrator}
    acts_for_a = {name for name, p in who.items() if p.acts_for("a")}
    acts_for_b = {name for name, p in who.items() if p.acts_for("b")}
    animates_x = {name for name, p in who.items() if p.animates("x")}
    animates_y = {name for name, p in who.items() if p.animates("y")}
    assert acts_for_a == {"staff", "contact"}
    assert acts_for_b == {"staff", "animator"}
    assert animates_x == {"staff", "animator"}
    assert animates_y == {"staff"}
    with pytest.raises(Forbidden, match="only staff"):
        contact.require_staff("register a company")
    with pytest.raises(Forbidden, match="company b"):
        contact.require_acts_for("b", "change it")
    with pytest.raises(Forbidden, match="cluster y"):
        animator.require_animates("y", "close it")
