"""How the relay tells what a round published: which sender it uses, the waves of one record
per document in flight, per document the acknowledged prefix of its records, and which refusals
quarantine an entry (no broker, no database)."""

import asyncio

import pytest
from aiokafka.errors import (
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    TopicAuthorizationFailedError,
)

from eci_common.envelope import KafkaRecord
from eci_common.kafka import BrokerPublisher, create_broker
from eci_common.outbox import _record as entry_record
from eci_common.outbox_sending import (
    Acknowledgement,
    AwaitingSender,
    BrokerSender,
    Deliveries,
    RecordRefused,
    refusal_reason,
    sender_for,
)
from eci_common.outbox_writes import _chunks
from eci_common.settings import KafkaSettings


def _record(key: str, number: int) -> KafkaRecord:
    return KafkaRecord(topic="t", key=key, headers={"ce_id": f"{key}-{number}"}, body=b"{}")


def _same(record: KafkaRecord) -> KafkaRecord:
    return record


class Scripted:
    """Acknowledges, fails or leaves pending each record as told by its id; refuses some when
    queued; remembers the order of the queue and how many records were unacknowledged at most."""

    def __init__(
        self,
        *,
        fail: dict[str, BaseException] | None = None,
        pending: set[str] | None = None,
        refuse: dict[str, BaseException] | None = None,
    ) -> None:
        self._fail, self._pending, self._refuse = fail or {}, pending or set(), refuse or {}
        self.queued: list[str] = []
        self._open: dict[str, list[Acknowledgement]] = {}
        self.most_open_per_key = 0

    async def send(self, record: KafkaRecord) -> Acknowledgement:
        event_id = record.headers["ce_id"]
        if event_id in self._refuse:
            raise self._refuse[event_id]
        self.queued.append(event_id)
        ack: Acknowledgement = asyncio.get_running_loop().create_future()
        open_acks = [a for a in self._open.get(record.key, []) if not a.done()] + [ack]
        self._open[record.key] = open_acks
        self.most_open_per_key = max(self.most_open_per_key, len(open_acks))
        if event_id in self._fail:
            ack.set_exception(self._fail[event_id])
        elif event_id not in self._pending:
            # Acknowledged a little later, as a broker would: the test sees what is open.
            asyncio.get_running_loop().call_soon(ack.set_result, None)
        return ack


def _documents(keys: str, numbers: tuple[int, ...]) -> list[list[KafkaRecord]]:
    return [[_record(key, n) for n in numbers] for key in keys]


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
    sender = Scripted(fail={"b-2": NotLeaderForPartitionError()}, pending={"c-1"})
    deliveries = Deliveries(_documents("abc", (1, 2, 3)))
    task = asyncio.create_task(deliveries.send(sender, _same))
    await asyncio.sleep(0.05)  # c-1 is never acknowledged: the round is still waiting
    task.cancel()
    # Each document on its own: a goes on, b stops at its failure, c waits for c-1.
    assert sender.queued == ["a-1", "b-1", "c-1", "a-2", "b-2", "a-3"]
    assert deliveries.confirmed() == [3, 1, 0]
    assert isinstance(deliveries.error(), NotLeaderForPartitionError)
    assert deliveries.refused() == {}


async def test_no_document_has_two_records_unacknowledged_at_once() -> None:
    sender = Scripted()
    deliveries = Deliveries(_documents("abcd", (1, 2, 3, 4)))
    await deliveries.send(sender, _same)
    assert deliveries.confirmed() == [4, 4, 4, 4]
    assert sender.most_open_per_key == 1
    # Pipelined across documents: the first record of every document is queued at once.
    assert sender.queued[:4] == ["a-1", "b-1", "c-1", "d-1"]


async def test_a_passing_failure_stops_the_document_and_no_later_record_of_it_is_queued() -> None:
    sender = Scripted(fail={"b-1": NotLeaderForPartitionError()})
    deliveries = Deliveries(_documents("ab", (1, 2, 3)))
    await deliveries.send(sender, _same)
    assert [event for event in sender.queued if event.startswith("b")] == ["b-1"]
    assert deliveries.confirmed() == [3, 0]
    assert deliveries.refused() == {}


async def test_a_refusal_for_good_sets_the_entry_aside_and_the_round_goes_on() -> None:
    sender = Scripted(
        refuse={"b-2": MessageSizeTooLargeError("too big")},
        fail={"c-1": TopicAuthorizationFailedError("t")},
    )
    deliveries = Deliveries(_documents("abc", (1, 2, 3)))
    await deliveries.send(sender, _same)
    assert deliveries.confirmed() == [3, 1, 0]
    refused = deliveries.refused()
    assert set(refused) == {1, 2}
    assert refused[1].startswith("MessageSizeTooLargeError")
    assert refused[2].startswith("TopicAuthorizationFailedError")
    assert deliveries.error() is None
    assert "b-3" not in sender.queued  # held back behind the refused one


async def test_an_unreadable_entry_is_refused_for_good() -> None:
    good = {"id": "g", "topic": "t", "key": "k", "headers": {"ce_id": "g-1"}, "body": "{}"}
    deliveries = Deliveries([[{"topic": "t"}, good], [good]])
    sender = Scripted()
    await deliveries.send(sender, entry_record)
    assert deliveries.confirmed() == [0, 1]
    assert list(deliveries.refused()) == [0]
    assert deliveries.refused()[0].startswith("CorruptEntry")


async def test_no_record_is_queued_once_the_lease_is_in_doubt() -> None:
    sender = Scripted()
    answers = iter([True] * 4 + [False] * 10)
    deliveries = Deliveries(_documents("ab", (1, 2, 3)))
    await deliveries.send(sender, _same, lambda: next(answers))
    assert sum(deliveries.confirmed()) == 4
    assert len(sender.queued) == 4


def test_refusals_for_good_and_passing_failures_are_told_apart() -> None:
    assert refusal_reason(RecordRefused("topic 'x' does not exist")) is not None
    assert refusal_reason(MessageSizeTooLargeError()) is not None
    assert refusal_reason(NotLeaderForPartitionError()) is None
    assert refusal_reason(TimeoutError()) is None
    assert refusal_reason(ConnectionError()) is None


def test_releases_are_split_by_the_weight_of_their_entries() -> None:
    entry = {"body": "x" * 90, "headers": {}}  # 92 bytes with "{}"
    sent = [(f"d{i}", [entry]) for i in range(5)] + [("big", [entry] * 3), ("empty", [])]
    chunks = [[doc_id for doc_id, _ in chunk] for chunk in _chunks(sent, 200)]
    assert chunks == [["d0", "d1"], ["d2", "d3"], ["d4"], ["big", "empty"]]


@pytest.mark.parametrize("count", [0, 1])
def test_no_release_is_empty(count: int) -> None:
    sent = [("d", [{"body": "x", "headers": {}}])] * count
    assert [len(chunk) for chunk in _chunks(sent, 10)] == [1] * count
