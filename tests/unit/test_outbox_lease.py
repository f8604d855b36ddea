"""The relay's lease rule (no broker, no database): refused at start-up when it does not outlast
the longest delivery, judged by the watching relay's own monotonic clock, and a round that stops
handing records to the producer once its lease is in doubt."""

import time

import pytest
from pydantic import ValidationError

from eci_common import outbox_lease
from eci_common.outbox_lease import LeaseWatch, Renewal
from eci_common.settings import ServiceSettings, check_lease, delivery_bound_s
from support.polling import eventually


def test_the_default_lease_outlasts_the_default_delivery_bound() -> None:
    check_lease(90.0, delivery_bound_s(30_000))


def test_a_lease_shorter_than_the_delivery_bound_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"OUTBOX_LEASE_S=30 is too short.*at least 90"):
        check_lease(30.0, delivery_bound_s(30_000))


def test_a_service_does_not_start_with_a_lease_too_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_REQUEST_TIMEOUT_MS", "30000")
    with pytest.raises(ValidationError, match="OUTBOX_LEASE_S"):
        ServiceSettings(
            outbox_lease_s=30,
            mongodb_database="d",
            consumer_group="g",
            http_port=1,
            auth_jwt_secret="s" * 40,
        )


def test_a_lease_expires_only_after_the_same_token_was_seen_for_a_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(outbox_lease.time, "monotonic", lambda: now[0])
    watch = LeaseWatch(lease_s=10)
    assert watch.expired({"a": ("r1", 1), "b": ("r1", 1)}) == []
    now[0] += 6
    assert watch.expired({"a": ("r1", 2), "b": ("r1", 1)}) == []  # a renewed
    now[0] += 5
    assert watch.expired({"a": ("r1", 2), "b": ("r1", 1)}) == ["b"]  # 11 s unchanged
    now[0] += 100
    # A token seen again after it was gone (released, then claimed) is watched afresh.
    assert watch.expired({"c": ("r2", 1)}) == []
    assert watch.expired({"a": ("r1", 2)}) == []


async def test_a_round_stops_sending_once_a_renewal_finds_a_lease_gone() -> None:
    beats: list[bool] = []

    async def renew() -> bool:
        beats.append(True)
        return len(beats) < 2  # the second renewal finds a document leased by another relay

    renewal = Renewal(renew, lease_s=0.3, delivery_bound=0.15, claimed_at=time.monotonic())
    async with renewal.running():
        assert renewal.may_send()

        async def refused() -> bool:
            return not renewal.may_send()

        await eventually(refused, timeout=5, interval=0.01, what="the round to stop sending")
    assert len(beats) == 2


async def test_a_round_stops_sending_when_renewals_fail_for_the_window() -> None:
    async def renew() -> bool:
        raise ConnectionError("database unreachable")

    renewal = Renewal(renew, lease_s=0.3, delivery_bound=0.15, claimed_at=time.monotonic())
    async with renewal.running():
        assert renewal.may_send()

        async def refused() -> bool:
            return not renewal.may_send()

        await eventually(refused, timeout=5, interval=0.01, what="the window to pass")
