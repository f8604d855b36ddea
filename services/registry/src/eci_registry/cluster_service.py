"""Registry use cases for clusters (grappes) and their members."""

from eci_common.errors import NotFound, StaleVersion
from eci_common.logging import get_logger
from eci_registry.clusters import Cluster, ClusterRole
from eci_registry.service import (
    RETRIES_ON_CONCURRENT_CHANGE,
    Unit,
    backoff,
    load_company,
    require_version,
    stamp,
)

log = get_logger(__name__)


async def load_cluster(unit: Unit, cluster_id: str) -> Cluster:
    cluster = await unit.clusters.get(cluster_id)
    if cluster is None:
        raise NotFound(f"no cluster {cluster_id}")
    return cluster


async def create_cluster(
    unit: Unit, *, code: str, name: str, theme: str, description: str
) -> Cluster:
    cluster = Cluster.create(code=code, name=name, theme=theme, description=description)
    await unit.clusters.add(cluster, stamp(cluster.pending, unit.correlation_id))
    unit.wake_outbox(cluster.id)
    log.info("cluster_created", cluster_id=cluster.id, code=code)
    return cluster


async def update_cluster(
    unit: Unit,
    *,
    cluster_id: str,
    expected_version: int | None,
    name: str | None,
    theme: str | None,
    description: str | None,
) -> Cluster:
    cluster = await load_cluster(unit, cluster_id)
    require_version(expected_version, cluster.version, f"cluster {cluster_id}")
    before = cluster.version
    if cluster.update(name=name, theme=theme, description=description):
        events = stamp(cluster.pending, unit.correlation_id)
        await unit.clusters.save(cluster, events, expected_version=before)
        unit.wake_outbox(cluster.id)
    return cluster


async def close_cluster(unit: Unit, *, cluster_id: str, expected_version: int | None) -> Cluster:
    cluster = await load_cluster(unit, cluster_id)
    require_version(expected_version, cluster.version, f"cluster {cluster_id}")
    before = cluster.version
    cluster.close()
    await unit.clusters.save(
        cluster, stamp(cluster.pending, unit.correlation_id), expected_version=before
    )
    unit.wake_outbox(cluster.id)
    return cluster


async def join_cluster(
    unit: Unit, *, cluster_id: str, company_id: str, role: ClusterRole
) -> tuple[Cluster, bool]:
    """Idempotent; returns the cluster and whether this call changed it. Concurrent joins to
    the same cluster are retried here, since the caller gave no version to keep."""
    company = await load_company(unit, company_id)
    company.require_active()
    for attempt in range(RETRIES_ON_CONCURRENT_CHANGE):
        cluster = await load_cluster(unit, cluster_id)
        before = cluster.version
        if not cluster.join(company_id, role):
            return cluster, False
        try:
            await unit.clusters.save(
                cluster, stamp(cluster.pending, unit.correlation_id), expected_version=before
            )
        except StaleVersion:
            await backoff(attempt)
            continue
        unit.wake_outbox(cluster.id)
        return cluster, True
    raise StaleVersion(f"cluster {cluster_id} kept changing; try again")


async def leave_cluster(unit: Unit, *, cluster_id: str, company_id: str) -> Cluster:
    for attempt in range(RETRIES_ON_CONCURRENT_CHANGE):
        cluster = await load_cluster(unit, cluster_id)
        before = cluster.version
        cluster.leave(company_id)
        try:
            await unit.clusters.save(
                cluster, stamp(cluster.pending, unit.correlation_id), expected_version=before
            )
        except StaleVersion:
            await backoff(attempt)
            continue
        unit.wake_outbox(cluster.id)
        return cluster
    raise StaleVersion(f"cluster {cluster_id} kept changing; try again")
