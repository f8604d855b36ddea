"""Where the real Kafka broker and MongoDB-wire server are, in this order of preference:

1. `KAFKA_BOOTSTRAP_SERVERS` and `MONGODB_URI` from the environment (CI sets them);
2. testcontainers (apache/kafka and mongo images) where a Docker engine answers;
3. the infra scripts (`infra/up.sh`): a local Kafka broker and FerretDB.
"""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap: str
    mongodb_uri: str
    origin: str


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def declared_topics() -> list[tuple[str, int, dict[str, str]]]:
    """The topics of infra/topics.conf: name, partitions, configs."""
    topics = []
    for line in (INFRA / "topics.conf").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        configs = dict(pair.split("=", 1) for pair in parts[2].split(",")) if len(parts) > 2 else {}
        topics.append((parts[0], int(parts[1]), configs))
    return topics


@contextmanager
def _containers() -> Iterator[Endpoints]:
    from testcontainers.kafka import KafkaContainer  # noqa: PLC0415 - only with a Docker engine
    from testcontainers.mongodb import MongoDbContainer  # noqa: PLC0415

    with ExitStack() as stack:
        kafka = stack.enter_context(KafkaContainer("apache/kafka:4.1.0").with_kraft())
        mongo = stack.enter_context(MongoDbContainer("mongo:7"))
        bootstrap = kafka.get_bootstrap_server()
        _create_topics_with_cli(kafka, bootstrap)
        yield Endpoints(bootstrap, mongo.get_connection_url(), "testcontainers")


def _create_topics_with_cli(kafka: object, bootstrap: str) -> None:
    for name, partitions, configs in declared_topics():
        args = ["/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server", "localhost:9092"]
        args += ["--create", "--if-not-exists", "--topic", name, "--partitions", str(partitions)]
        for key, value in configs.items():
            args += ["--config", f"{key}={value}"]
        kafka.exec(args)  # type: ignore[attr-defined]


@contextmanager
def resolve_endpoints() -> Iterator[Endpoints]:
    env_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    env_mongo = os.environ.get("MONGODB_URI")
    if env_kafka and env_mongo:
        yield Endpoints(env_kafka, env_mongo, "environment")
        return
    if docker_engine_answers():
        with _containers() as endpoints:
            yield endpoints
        return
    subprocess.run([str(INFRA / "up.sh")], check=True)
    yield Endpoints("127.0.0.1:9092", "mongodb://127.0.0.1:27017/", "infra scripts")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
