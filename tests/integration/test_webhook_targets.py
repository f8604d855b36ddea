"""Outside development a webhook goes only to https and public addresses: loopback, private,
link-local (cloud metadata) and the like are refused when the subscription is made (422 naming
`url`) and again at call time, on what the host resolves to then. `ECI_ENV=development` and the
hosts of `NOTIFICATIONS_WEBHOOK_ALLOW_HOSTS` are exempt (the tests' local receiver)."""

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from eci_notifications.channels import DeliveryFailed, HttpWebhookCaller
from eci_notifications.handlers import WEBHOOK_EVENT_TYPES
from eci_notifications.main import create_app
from eci_notifications.settings import Settings
from eci_notifications.webhook_targets import UnsafeWebhookTarget, WebhookTargets
from support.auth import staff
from support.endpoints import Endpoints

pytestmark = pytest.mark.integration

PRODUCTION = WebhookTargets()
REFUSED = [
    "http://hooks.example.org/hook",  # not https
    "https://127.0.0.1/hook",
    "https://127.8.9.10:8443/hook",
    "https://localhost/hook",
    "https://api.localhost/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.20/hook",
    "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
    "https://[fe80::1]/hook",
    "https://[fd00::1]/hook",
    "https://100.64.0.1/hook",  # shared address space
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_production_refuses_http_and_non_public_addresses(url: str) -> None:
    with pytest.raises(UnsafeWebhookTarget):
        await PRODUCTION.check_resolved(url)


async def test_development_and_listed_hosts_are_exempt() -> None:
    await WebhookTargets(development=True).check_resolved("http://127.0.0.1:9/hook")
    listed = WebhookTargets(allowed_hosts=frozenset({"127.0.0.1"}))
    await listed.check_resolved("http://127.0.0.1:9/hook")
    with pytest.raises(UnsafeWebhookTarget):
        await listed.check_resolved("http://10.0.0.1/hook")
    await PRODUCTION.check_resolved("https://93.184.215.14/hook")  # a public address


def _resolving_to(address: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes every name resolve to `address` (as a name repointed after subscribing would)."""

    async def getaddrinfo(self: object, host: str, port: int, **_: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr("asyncio.base_events.BaseEventLoop.getaddrinfo", getaddrinfo)


async def test_a_call_checks_the_address_the_host_resolves_to_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        caller = HttpWebhookCaller(client, PRODUCTION)
        call = {"secret": "s", "body": b"{}", "event_type": "t", "delivery_id": "d"}
        _resolving_to("93.184.215.14", monkeypatch)
        await caller.call(url="https://hooks.example.org/hook", **call)
        assert len(calls) == 1
        _resolving_to("10.0.0.7", monkeypatch)
        with pytest.raises(DeliveryFailed, match="endpoint_refused") as refused:
            await caller.call(url="https://hooks.example.org/hook", **call)
        assert refused.value.permanent
        assert len(calls) == 1  # nothing was sent


@pytest_asyncio.fixture
async def production_app(endpoints: Endpoints, run_id: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap,
        mongodb_uri=endpoints.mongodb_uri,
        mongodb_database=f"t_{run_id}_notifications",
        consumer_group=f"t-{run_id}-notifications",
        http_port=0,
        smtp_port=9,
        webhook_allow_hosts="",  # production as deployed: no exempt host
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://notifications", headers=staff()
        ) as client:
            yield client


async def test_a_subscription_to_a_local_or_http_url_is_refused_naming_url(
    production_app: httpx.AsyncClient,
) -> None:
    for url in ("http://127.0.0.1:9/hook", "https://169.254.169.254/", "https://[::1]/x"):
        body = {"url": url, "event_types": [WEBHOOK_EVENT_TYPES[0]]}
        refused = await production_app.post("/webhooks", json=body)
        assert refused.status_code == 422, (url, refused.text)
        assert refused.json()["detail"][0]["loc"] == ["body", "url"]
    assert (await production_app.get("/webhooks")).json() == []
    # A name that does not resolve yet is taken (and checked again at each call).
    later = {"url": "https://hooks.invalid/hook", "event_types": [WEBHOOK_EVENT_TYPES[0]]}
    assert (await production_app.post("/webhooks", json=later)).status_code == 201
