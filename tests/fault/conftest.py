"""Fault tests run on a Kafka broker of their own, which they stop and kill at will."""

from collections.abc import Iterator

import pytest

from support.endpoints import Endpoints
from support.private_kafka import PrivateKafka
from support.toolchain import require_private_broker


@pytest.fixture(scope="module")
def private_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateKafka]:
    require_private_broker("fault tests start a broker of their own and need java and mvn")
    broker = PrivateKafka.create(tmp_path_factory.mktemp("kafka"))
    try:
        broker.start()
        broker.declare_topics()
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def private_endpoints(private_kafka: PrivateKafka, endpoints: Endpoints) -> Endpoints:
    """The private broker with the shared database."""
    return Endpoints(private_kafka.bootstrap, endpoints.mongodb_uri, "private broker")
