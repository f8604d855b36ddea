"""Fault tests run on a Kafka broker of their own, which they stop and kill at will."""

from collections.abc import Iterator

import pytest

from support.endpoints import Endpoints
from support.private_kafka import PrivateKafka, can_run_private_broker


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    if not can_run_private_broker():
        pytest.skip("fault tests start a broker of their own and need java and mvn")
    broker = PrivateKafka.create(tmp_path_factory.mktemp("kafka"))
    broker.start()
    broker.declare_topics()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def private_endpoints(private_kafka: PrivateKafka, endpoints: Endpoints) -> Endpoints:
    """The private broker with the shared database."""
    return Endpoints(private_kafka.bootstrap, endpoints.mongodb_uri, "private broker")
