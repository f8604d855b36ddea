"""Topic names. The topics themselves (partitions, retention) are declared in
`infra/topics.conf`, which a unit test keeps in step with this module."""

from typing import Final

REGISTRY_COMPANIES: Final = "eci.registry.companies"
REGISTRY_CLUSTERS: Final = "eci.registry.clusters"
PROJECTS_PROJECTS: Final = "eci.projects.projects"
NOTIFICATIONS_DELIVERIES: Final = "eci.notifications.deliveries"
# Contacts are personal data: they travel only on this internal, compacted topic (latest value per
# company), read by notifications alone; an erasure publishes an empty list, so compaction keeps
# nothing personal. Integrators are not given it.
REGISTRY_CONTACTS: Final = "eci.registry.contacts"

PUBLIC_TOPICS: Final = frozenset(
    {REGISTRY_COMPANIES, REGISTRY_CLUSTERS, PROJECTS_PROJECTS, NOTIFICATIONS_DELIVERIES}
)


def dead_letter_topic(service: str) -> str:
    """The internal topic where a service's consumers put what they cannot process."""
    return f"eci.{service}.dead-letters"


INTERNAL_TOPICS: Final = frozenset(
    {
        REGISTRY_CONTACTS,
        *(dead_letter_topic(service) for service in ("registry", "projects", "notifications")),
    }
)
