"""The topic declaration (infra/topics.conf) and the code name the same topics."""

from eci_common import topics
from support.endpoints import declared_topics


def test_every_topic_the_code_uses_is_declared_and_nothing_else() -> None:
    declared = {name for name, _, _ in declared_topics()}
    assert declared == topics.PUBLIC_TOPICS | topics.INTERNAL_TOPICS


def test_event_topics_keep_history_for_read_model_rebuilds() -> None:
    configs = {name: config for name, _, config in declared_topics()}
    for name in (topics.REGISTRY_COMPANIES, topics.REGISTRY_CLUSTERS, topics.PROJECTS_PROJECTS):
        assert configs[name]["retention.ms"] == "-1", name


def test_public_event_topics_have_several_partitions() -> None:
    partitions = {name: count for name, count, _ in declared_topics()}
    assert all(partitions[name] >= 3 for name in topics.PUBLIC_TOPICS)
