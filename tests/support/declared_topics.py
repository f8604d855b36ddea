"""Creating the topics of infra/topics.conf that a broker lacks, through the admin API.

A broker started before a topic was declared (a developer's long-running one) does not have it,
and auto-creation is off; tests that publish to it create it first, with its declared configs.
"""

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from support.endpoints import declared_topics


async def ensure_declared_topics(bootstrap: str) -> list[str]:
    """Creates the missing declared topics; returns their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, partitions, 1, topic_configs=configs)
            for name, partitions, configs in declared_topics()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another test was quicker
                await admin.create_topics(missing)
    finally:
        await admin.close()
    return [topic.name for topic in missing]
