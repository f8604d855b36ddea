"""`eci-admin token`, `eci-admin revoke` and `eci-admin keys`: the issuer's commands.

The private key stays with the issuer (`--signing-key`, default `AUTH_SIGNING_KEY_FILE`); the
services are given the JWKS document (`--jwks`, default `AUTH_JWKS_FILE`) and the revocation
file (`--revoked`, default `AUTH_REVOKED_JTI_FILE`), both public, both re-read without restart.
Rotation: `keys rotate` lists the new public key first, then replaces the private key; once the
longest token lifetime has passed, `keys retire <old kid>` removes the old one.
"""

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import jwt
import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from eci_common.auth_settings import TokenIssuerSettings
from eci_common.principal import Role
from eci_common.revocation import revoke as add_revocation
from eci_common.token_issuer import mint_token
from eci_common.token_keys import (
    KeyDocumentError,
    SigningKey,
    generate_signing_key,
    load_signing_key,
    read_jwks,
    with_key,
    without_key,
    write_jwks,
    write_signing_key,
)

keys = typer.Typer(
    help="The issuer's key pair: generate, rotate, retire, list.", no_args_is_help=True
)

SigningKeyPath = Annotated[
    Path,
    typer.Option(
        "--signing-key", envvar="AUTH_SIGNING_KEY_FILE", help="the issuer's private key (PEM)"
    ),
]
JwksPath = Annotated[
    Path,
    typer.Option("--jwks", envvar="AUTH_JWKS_FILE", help="the JWKS the services read"),
]


def token(
    role: Annotated[Role, typer.Option(help="staff, animator, contact or integrator")],
    subject: Annotated[str, typer.Option(help="who it is for (an id, never an e-mail)")],
    company: Annotated[str | None, typer.Option(help="the company (contact, animator)")] = None,
    cluster: Annotated[
        list[str] | None, typer.Option(help="a cluster it animates (repeat for several)")
    ] = None,
    ttl_hours: Annotated[float, typer.Option(min=0.01, max=24 * 90)] = 8.0,
) -> None:
    """Mints a bearer token, signed with the private key of AUTH_SIGNING_KEY_FILE; prints it,
    and its jti, kid and expiry on stderr (to revoke it later)."""
    try:
        minted = mint_token(
            TokenIssuerSettings(),
            subject=subject,
            role=role,
            company_id=company,
            cluster_ids=tuple(cluster or ()),
            ttl_s=int(ttl_hours * 3600),
        )
    except ValidationError as exc:
        raise typer.BadParameter("; ".join(_describe(e) for e in exc.errors())) from exc
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    claims = jwt.decode(minted, options={"verify_signature": False})
    expires = datetime.fromtimestamp(claims["exp"], UTC).isoformat()
    kid = jwt.get_unverified_header(minted)["kid"]
    typer.echo(f"jti={claims['jti']} kid={kid} expires={expires}", err=True)
    typer.echo(minted)


def revoke(
    token_or_jti: Annotated[str, typer.Argument(help="the token itself, or its jti")],
    revoked: Annotated[
        Path,
        typer.Option(
            "--revoked", envvar="AUTH_REVOKED_JTI_FILE", help="the services' revocation file"
        ),
    ],
) -> None:
    """Revokes a token: its jti goes into the revocation file, which the services re-read."""
    jti, expires_at = token_or_jti, None
    if token_or_jti.count(".") == 2:
        try:
            claims = jwt.decode(token_or_jti, options={"verify_signature": False})
        except jwt.InvalidTokenError as exc:
            raise typer.BadParameter(f"not a token: {exc}") from exc
        jti, expires_at = str(claims.get("jti", "")), claims.get("exp")
        if not jti:
            raise typer.BadParameter("the token has no jti")
    remaining = add_revocation(revoked, jti, expires_at if isinstance(expires_at, int) else None)
    typer.echo(f"revoked {jti} ({remaining} revoked token(s) listed in {revoked})")


@keys.command("generate")
def keys_generate(signing_key: SigningKeyPath, jwks: JwksPath) -> None:
    """Makes the issuer's first key pair: the private key file (mode 600) and its public key
    added to the JWKS. Refuses to replace an existing private key (see `rotate`)."""
    if signing_key.exists():
        raise typer.BadParameter(f"{signing_key} exists: use `eci-admin keys rotate`")
    key = generate_signing_key()
    _publish(jwks, key.public_jwk)
    write_signing_key(signing_key, key)
    typer.echo(f"kid={key.kid}: private key {signing_key}, public keys {jwks}")


@keys.command("rotate")
def keys_rotate(signing_key: SigningKeyPath, jwks: JwksPath) -> None:
    """A new key pair: its public key is listed first (next to the old one, so that tokens
    already issued keep working), then it replaces the private key."""
    old = _load(signing_key)
    key = generate_signing_key()
    _publish(jwks, key.public_jwk)
    write_signing_key(signing_key, key)
    typer.echo(
        f"kid={key.kid} now signs; kid={old.kid} still verifies: retire it with "
        f"`eci-admin keys retire {old.kid}` once its last token has expired"
    )


@keys.command("retire")
def keys_retire(kid: str, jwks: JwksPath) -> None:
    """Removes a public key from the JWKS: the tokens it signed are refused from then on."""
    try:
        write_jwks(jwks, without_key(read_jwks(jwks), kid))
    except KeyDocumentError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"kid={kid} removed from {jwks}")


@keys.command("list")
def keys_list(jwks: JwksPath) -> None:
    """The kids of the JWKS, the one of the issuer's key (AUTH_SIGNING_KEY_FILE) marked."""
    signing = os.environ.get("AUTH_SIGNING_KEY_FILE")
    current = _load(Path(signing)).kid if signing and Path(signing).exists() else None
    for jwk in read_jwks(jwks)["keys"]:
        mark = "  (signs)" if jwk.get("kid") == current else ""
        typer.echo(f"{jwk.get('kid')} {jwk.get('alg', '')}{mark}")


def _publish(jwks: Path, jwk: dict[str, str]) -> None:
    try:
        write_jwks(jwks, with_key(read_jwks(jwks), jwk))
    except KeyDocumentError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _load(path: Path) -> SigningKey:
    try:
        return load_signing_key(path)
    except KeyDocumentError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _describe(error: ErrorDetails) -> str:
    return f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
