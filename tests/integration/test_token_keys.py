"""The registry over HTTP follows the operator's token commands without a restart: a key
rotation (both keys listed, then the old one retired), a revocation, and it refuses a key it
does not list and a lifetime over the cap. The app is made once; only files change."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from eci_common.admin import app as admin_app
from eci_common.auth import Role, TokenIssuerSettings, mint_token
from eci_registry.main import create_app
from eci_registry.settings import Settings
from support.endpoints import Endpoints

pytestmark = pytest.mark.integration


def key_env(folder: Path) -> dict[str, str]:
    """What the operator exports for the `eci-admin` token commands."""
    return {
        "AUTH_SIGNING_KEY_FILE": str(folder / "signing-key.pem"),
        "AUTH_JWKS_FILE": str(folder / "jwks.json"),
        "AUTH_REVOKED_JTI_FILE": str(folder / "revoked-jti.txt"),
    }


@dataclass
class Issuer:
    folder: Path
    client: httpx.AsyncClient

    @property
    def env(self) -> dict[str, str]:
        return key_env(self.folder)

    def admin(self, *args: str) -> str:
        result = CliRunner().invoke(admin_app, list(args), env=self.env)
        assert result.exit_code == 0, result.output
        return result.output

    def token(self, ttl_s: int = 600) -> str:
        settings = TokenIssuerSettings.model_validate(
            {"AUTH_SIGNING_KEY_FILE": self.env["AUTH_SIGNING_KEY_FILE"]}
        )
        return mint_token(settings, subject="operator", role=Role.STAFF, ttl_s=ttl_s)

    async def status(self, token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return (await self.client.get("/companies", headers=headers)).status_code


@pytest_asyncio.fixture
async def issuer(endpoints: Endpoints, run_id: str, tmp_path: Path) -> AsyncIterator[Issuer]:
    folder = tmp_path / "token-keys"
    generated = CliRunner().invoke(admin_app, ["keys", "generate"], env=key_env(folder))
    assert generated.exit_code == 0, generated.output
    settings = Settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        mongodb_uri=endpoints.mongodb_uri,
        mongodb_database=f"t_{run_id}_registry",
        http_port=0,
        jwks_file=folder / "jwks.json",
        revoked_jti_file=folder / "revoked-jti.txt",
        max_token_lifetime_s=3600,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:
            yield Issuer(folder, client)


async def test_the_registry_follows_rotation_and_revocation_without_a_restart(
    issuer: Issuer,
) -> None:
    first = issuer.token()
    assert await issuer.status(first) == 200
    # The session's own key (support.auth) is not listed by this app: refused.
    from support.auth import staff  # noqa: PLC0415 - shows which key signs it

    assert (await issuer.client.get("/companies", headers=staff())).status_code == 401
    assert await issuer.status(issuer.token(ttl_s=3601)) == 401  # over the app's cap
    old_kid = issuer.admin("keys", "list").split()[0]
    issuer.admin("keys", "rotate")
    second = issuer.token()
    assert (await issuer.status(first), await issuer.status(second)) == (200, 200)
    issuer.admin("keys", "retire", old_kid)
    assert (await issuer.status(first), await issuer.status(second)) == (401, 200)
    issuer.admin("revoke", second)
    assert await issuer.status(second) == 401
    assert await issuer.status(issuer.token()) == 200
