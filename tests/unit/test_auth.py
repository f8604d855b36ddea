"""Tokens and the settings that sign them: default keys refused outside development, every
claim checked, each role's predicates."""

import jwt
import pytest
from pydantic import ValidationError

from eci_common.auth import (
    DEVELOPMENT_SECRET,
    AuthSettings,
    Principal,
    Role,
    TokenVerifier,
    mint_token,
)
from eci_common.errors import Forbidden, Unauthenticated

KEY = "k" * 48


def settings(**overrides: str) -> AuthSettings:
    return AuthSettings.model_validate(
        {"AUTH_JWT_SECRET": KEY, "ECI_ENV": "production", **overrides}
    )


@pytest.mark.parametrize("secret", [DEVELOPMENT_SECRET, "short-key", ""])
def test_production_refuses_the_development_key_and_short_keys(secret: str) -> None:
    with pytest.raises(ValidationError, match="AUTH_JWT_SECRET"):
        settings(AUTH_JWT_SECRET=secret)


def test_production_is_the_default_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    monkeypatch.delenv("ECI_ENV", raising=False)
    with pytest.raises(ValidationError, match="development key is accepted only"):
        AuthSettings()
    monkeypatch.setenv("ECI_ENV", "development")
    assert AuthSettings().jwt_secret.get_secret_value() == DEVELOPMENT_SECRET


def test_the_key_never_shows_in_the_settings_repr() -> None:
    assert KEY not in repr(settings())


def test_a_minted_token_names_its_principal() -> None:
    s = settings()
    token = mint_token(
        s, subject="u-1", role=Role.ANIMATOR, company_id="c-1", cluster_ids=("x", "y")
    )
    principal = TokenVerifier(s).verify(token)
    assert principal == Principal("u-1", Role.ANIMATOR, "c-1", frozenset({"x", "y"}))


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": 1}, "expired"),
        ({"aud": "another-api"}, "not valid"),
        ({"iss": "someone-else"}, "not valid"),
        ({"role": "superuser"}, "no known role"),
        ({"role": "contact"}, "must name its company"),
        ({"clusters": "x"}, "list of strings"),
    ],
)
def test_bad_claims_are_refused(claims: dict[str, object], message: str) -> None:
    s = settings()
    base = jwt.decode(
        mint_token(s, subject="u", role=Role.STAFF),
        options={"verify_signature": False},
    )
    token = jwt.encode({**base, **claims}, KEY, algorithm="HS256")
    with pytest.raises(Unauthenticated, match=message):
        TokenVerifier(s).verify(token)


def test_another_key_or_no_signature_is_refused() -> None:
    s = settings()
    token = mint_token(settings(AUTH_JWT_SECRET="z" * 48), subject="u", role=Role.STAFF)
    with pytest.raises(Unauthenticated):
        TokenVerifier(s).verify(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    with pytest.raises(Unauthenticated):
        TokenVerifier(s).verify(jwt.encode(claims, key=None, algorithm="none"))


def test_minting_refuses_incomplete_role_claims() -> None:
    with pytest.raises(ValueError, match="names its company"):
        mint_token(settings(), subject="u", role=Role.CONTACT)
    with pytest.raises(ValueError, match="clusters it animates"):
        mint_token(settings(), subject="u", role=Role.ANIMATOR, company_id="c")


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
