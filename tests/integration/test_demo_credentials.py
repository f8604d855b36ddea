"""The run command's demo seed prints one token per role, and each token works as its role
says against the real registry."""

import asyncio
import sys
from pathlib import Path

import httpx
import jwt
import pytest

from support.endpoints import REPO, Endpoints
from support.services import make_service

pytestmark = pytest.mark.integration


def _tokens(path: Path) -> dict[str, str]:
    tokens = {}
    for line in path.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        tokens[name] = value
    return tokens


async def test_demo_seed_prints_working_credentials_for_each_role(
    endpoints: Endpoints, run_id: str, log_dir: Path, tmp_path: Path
) -> None:
    registry = make_service("registry", endpoints, run_id, log_dir)
    registry.start()
    try:
        await registry.wait_ready()
        credentials = tmp_path / "demo-credentials.sh"
        seed = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eci_registry.demo", "--url", registry.url,
            "--credentials", str(credentials),
            cwd=REPO, env=registry.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(seed.communicate(), timeout=300)
        assert seed.returncode == 0, err.decode()
        printed = out.decode()
        for variable in ("STAFF", "ANIMATOR", "CONTACT", "INTEGRATOR"):
            assert f"ECI_{variable}_TOKEN" in printed
        assert "Authorization: Bearer" in printed
        tokens = _tokens(credentials)

        def auth(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens[f'ECI_{role}_TOKEN']}"}

        claims = {
            role: jwt.decode(tokens[f"ECI_{role}_TOKEN"], options={"verify_signature": False})
            for role in ("ANIMATOR", "CONTACT")
        }
        own_company = claims["CONTACT"]["company"]
        [animated] = claims["ANIMATOR"]["clusters"]
        async with httpx.AsyncClient(base_url=registry.url, timeout=10) as client:
            clusters = (await client.get("/clusters", headers=auth("INTEGRATOR"))).json()["items"]
            other_cluster = next(c["id"] for c in clusters if c["id"] != animated)
            new_company = {"legal_name": "Maison Nouvelle", "roles": ["subcontractor"]}
            assert (await client.get("/companies")).status_code == 401
            for role, expected in (("INTEGRATOR", 403), ("CONTACT", 403), ("STAFF", 201)):
                response = await client.post("/companies", json=new_company, headers=auth(role))
                assert response.status_code == expected, (role, response.text)

            company = await client.get(f"/companies/{own_company}", headers=auth("CONTACT"))
            assert company.json()["contacts"], "a contact sees its own company's contacts"
            changed = await client.patch(
                f"/companies/{own_company}",
                json={"website": "https://demo.example"},
                headers={**auth("CONTACT"), "If-Match": company.headers["ETag"]},
            )
            assert changed.status_code == 200, changed.text

            member = {"role": "member"}
            into_own = await client.put(
                f"/clusters/{animated}/members/{own_company}", json=member, headers=auth("ANIMATOR")
            )
            assert into_own.status_code == 200, into_own.text
            into_other = await client.put(
                f"/clusters/{other_cluster}/members/{own_company}",
                json=member,
                headers=auth("ANIMATOR"),
            )
            assert into_other.status_code == 403
    finally:
        registry.stop()
