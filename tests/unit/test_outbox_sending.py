"""How the relay tells what a batch published: which sender it uses, and, per document, the
acknowledged prefix of its records (no broker, no database)."""

import asyncio

import pytest

from eci_common.envelope import KafkaRecord
from eci_common.kafka import BrokerPublisher, create_broker
from eci_common.outbox import _chunks
from eci_common.outbox_sending import (
    Acknowledgement,
    AwaitingSender,
    BrokerSender,
    Deliveries,
    sender_for,
)
from eci_common.settings import KafkaSettings


def _record(key: str, number: int) -> KafkaRecord:
    return KafkaRecord(topic="t", key=key, headers={"ce_id": f"{key}-{number}"}, body=b"{}")


class Scripted:
    """Acknowledges, fails or leaves pending each record as told by its id; refuses one."""

    def __init__(self, *, fail: set[str], pending: set[str], refuse: str | None = None) -> None:
        self._fail, self._pending, self._refuse = fail, pending, refuse
        self.queued: list[str] = []

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        event_id = record.headers["ce_id"]
        if event_id == self._refuse:
            raise ValueError("record refused")
        self.queued.append(event_id)
        ack: Acknowledgement = asyncio.get_running_loop().create_future()
        if event_id in self._fail:
            ack.set_exception(RuntimeError(f"{event_id} failed"))
        elif event_id not in self._pending:
            ack.set_result(None)
        return ack


class Publisher:
    async def publish(self, record: KafkaRecord) -> None:
        return None


def test_the_broker_publisher_is_sent_through_pipelined_and_others_one_by_one() -> None:
    broker = create_broker(KafkaSettings(), client_id="unit", graceful_timeout=1)
    assert isinstance(sender_for(BrokerPublisher(broker)), BrokerSender)
    assert isinstance(sender_for(Publisher()), AwaitingSender)
    scripted = Scripted(fail=set(), pending=set())
    assert sender_for(scripted) is scripted


async def test_a_document_counts_up_to_its_first_unacknowledged_record() -> None:
    sender = Scripted(fail={"b-2"}, pending={"c-1"})
    documents = [[_record(key, n) for n in (1, 2, 3)] for key in ("a", "b", "c")]
    deliveries = Deliveries(len(documents))
    await deliveries.send(sender, documents)
    assert sender.queued == [f"{key}-{n}" for key in "abc" for n in (1, 2, 3)]
    assert deliveries.confirmed() == [3, 1, 0]
    error = deliveries.error()
    assert isinstance(error, RuntimeError)
    assert str(error) == "b-2 failed"


async def test_a_refused_record_stops_the_batch_there() -> None:
    sender = Scripted(fail=set(), pending=set(), refuse="b-2")
    documents = [[_record(key, n) for n in (1, 2)] for key in ("a", "b", "c")]
    deliveries = Deliveries(len(documents))
    await deliveries.send(sender, documents)
    await deliveries.wait()
    assert sender.queued == ["a-1", "a-2", "b-1"]
    assert deliveries.confirmed() == [2, 1, 0]
    assert isinstance(deliveries.error(), ValueError)


def test_releases_are_split_by_the_weight_of_their_entries() -> None:
    entry = {"body": "x" * 90, "headers": {}}  # 92 bytes with "{}"
    sent = [(f"d{i}", [entry]) for i in range(5)] + [("big", [entry] * 3), ("empty", [])]
    chunks = [[doc_id for doc_id, _ in chunk] for chunk in _chunks(sent, 200)]
    assert chunks == [["d0", "d1"], ["d2", "d3"], ["d4"], ["big", "empty"]]


@pytest.mark.parametrize("count", [0, 1])
def test_no_release_is_empty(count: int) -> None:
    sent = [("d", [{"body": "x", "headers": {}}])] * count
    assert [len(chunk) for chunk in _chunks(sent, 10)] == [1] * count
