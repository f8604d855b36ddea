"""Where a webhook may point: outside development, only an https URL whose host resolves to
public addresses, never loopback, private, link-local, shared, reserved or multicast ones, so
that a subscription cannot make this service call into its own network.

Checked when a subscription is created (422 naming `url`) and again before every call, on the
addresses the host resolves to then (a name may be repointed after the subscription was made).
`ECI_ENV=development` lifts both rules; so does naming a host in
`NOTIFICATIONS_WEBHOOK_ALLOW_HOSTS` (the tests' local receiver on 127.0.0.1, over http).

Limit: the call-time check resolves the name just before httpx connects, which resolves it
again; a name answering with a zero TTL could still change in between.
"""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeWebhookTarget(ValueError):
    """The URL, or what its host resolves to, is not a place a webhook may go."""


def _refused_address(address: Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, flag in (
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a private", address.is_private),
        ("a multicast", address.is_multicast),
        ("an unspecified", address.is_unspecified),
        ("a reserved", address.is_reserved),
        ("a non-public", not address.is_global),
    ):
        if flag:
            return f"{address} is {kind} address"
    return None


@dataclass(frozen=True)
class WebhookTargets:
    """The rules above, for one process: `development` (ECI_ENV) and the exempted hosts."""

    development: bool = False
    allowed_hosts: frozenset[str] = frozenset()

    def exempt(self, host: str) -> bool:
        return self.development or host.lower() in self.allowed_hosts

    def check_url(self, url: str) -> httpx.URL:
        """The scheme and a literal host (an address, `localhost`); no resolution."""
        parsed = httpx.URL(url)
        host = parsed.host
        if not host:
            raise UnsafeWebhookTarget("a webhook URL names a host")
        if self.exempt(host):
            return parsed
        if parsed.scheme != "https":
            raise UnsafeWebhookTarget(
                "a webhook URL must use https (http only with ECI_ENV=development or for a "
                "host in NOTIFICATIONS_WEBHOOK_ALLOW_HOSTS)"
            )
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise UnsafeWebhookTarget(f"{host} is a loopback name")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return parsed
        refused = _refused_address(literal)
        if refused:
            raise UnsafeWebhookTarget(f"a webhook may not call {refused}")
        return parsed

    async def check_resolved(self, url: str, *, unresolvable_ok: bool = False) -> None:
        """`check_url`, then every address the host resolves to now must be public."""
        parsed = self.check_url(url)
        if self.exempt(parsed.host):
            return
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                parsed.host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            if unresolvable_ok:
                return
            raise UnsafeWebhookTarget(f"{parsed.host} does not resolve: {exc.strerror}") from exc
        for *_, sockaddr in infos:
            refused = _refused_address(ipaddress.ip_address(sockaddr[0]))
            if refused:
                raise UnsafeWebhookTarget(f"{parsed.host} resolves to {refused}")
