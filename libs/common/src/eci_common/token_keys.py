"""Token signing keys and the JWKS documents that publish their public halves.

The issuer (`eci-admin token`) holds one Ed25519 private key in a PEM file; the services hold
only a JWKS document listing public keys, each named by its `kid` (the RFC 7638 thumbprint of
the public key, so that a private key file alone says which `kid` it signs with). A JWKS that
carries private or symmetric key material is refused: whoever holds it could mint tokens.
"""

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

SIGNING_ALGORITHM = "EdDSA"
# Asymmetric algorithms only: an HMAC key would let every verifier mint tokens.
VERIFYING_ALGORITHMS = ("EdDSA", "RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
_THUMBPRINT_MEMBERS = {
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
}
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class KeyDocumentError(ValueError):
    """A key file or JWKS document that cannot be used as it is."""


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of a public JWK: its `kid`."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise KeyDocumentError(f"key type {jwk.get('kty')!r} is not an asymmetric key type")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    """The issuer's private key and the `kid` its tokens carry."""

    private_key: Ed25519PrivateKey

    @property
    def public_jwk(self) -> dict[str, str]:
        jwk: dict[str, str] = OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "kid": thumbprint(jwk), "alg": SIGNING_ALGORITHM, "use": "sig"}

    @property
    def kid(self) -> str:
        return self.public_jwk["kid"]

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(
            dict(claims), self.private_key, algorithm=SIGNING_ALGORITHM, headers={"kid": self.kid}
        )


def generate_signing_key() -> SigningKey:
    return SigningKey(Ed25519PrivateKey.generate())


def load_signing_key(path: Path) -> SigningKey:
    """The Ed25519 private key of a PEM (PKCS#8) file, as `write_signing_key` writes it."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise KeyDocumentError(f"cannot read the signing key {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise KeyDocumentError(f"{path} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyDocumentError(f"{path} is not an Ed25519 private key")
    return SigningKey(key)


def write_signing_key(path: Path, key: SigningKey) -> None:
    """Writes the private key readable by its owner only, replacing the file in one rename."""
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(path, pem, mode=0o600)


def read_jwks(path: Path) -> dict[str, Any]:
    """The JWKS document of `path`, an empty one when the file does not exist yet."""
    if not path.exists():
        return {"keys": []}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise KeyDocumentError(f"{path} is not JSON") from exc
    public_keys(document)
    assert isinstance(document, dict)  # noqa: S101 - public_keys checked it
    return document


def write_jwks(path: Path, document: Mapping[str, Any]) -> None:
    """Writes the document in one rename, so that a service never reads half of it."""
    public_keys(document)
    write_atomically(path, (json.dumps(document, indent=2) + "\n").encode(), mode=0o644)


def with_key(document: Mapping[str, Any], jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The document with `jwk` listed first (once)."""
    others = [k for k in document.get("keys", []) if k.get("kid") != jwk["kid"]]
    return {**document, "keys": [dict(jwk), *others]}


def without_key(document: Mapping[str, Any], kid: str) -> dict[str, Any]:
    keys = list(document.get("keys", []))
    kept = [k for k in keys if k.get("kid") != kid]
    if len(kept) == len(keys):
        raise KeyDocumentError(f"no key {kid!r} in the document")
    return {**document, "keys": kept}


def public_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWKS document by `kid`. Encryption keys (`use: enc`) are skipped;
    a key without `kid`, a repeated `kid`, private or symmetric key material is refused."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeyDocumentError("a JWKS document is an object with a `keys` list")
    keys: dict[str, jwt.PyJWK] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, Mapping):
            raise KeyDocumentError("each JWKS entry is an object")
        if jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            raise KeyDocumentError("each signing key names its `kid`")
        if kid in keys:
            raise KeyDocumentError(f"key {kid!r} is listed twice")
        if _PRIVATE_MEMBERS & set(jwk) or jwk.get("kty") not in _THUMBPRINT_MEMBERS:
            raise KeyDocumentError(f"key {kid!r} is not a public asymmetric key")
        try:
            key = jwt.PyJWK(dict(jwk))
        except jwt.PyJWKError as exc:
            raise KeyDocumentError(f"key {kid!r} cannot be used: {exc}") from exc
        if key.algorithm_name not in VERIFYING_ALGORITHMS:
            raise KeyDocumentError(f"key {kid!r}: algorithm {key.algorithm_name} is not allowed")
        keys[kid] = key
    return keys


def write_atomically(path: Path, content: bytes, *, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
