"""Integrators' webhook subscriptions: create (the secret is shown once), list, read, delete,
re-enable; each shows the endpoint's state (active, consecutive failures, last error)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import AnyHttpUrl, BaseModel, Field

from eci_common.auth import PrincipalDep
from eci_common.errors import NotFound
from eci_notifications.handlers import WEBHOOK_EVENT_TYPES
from eci_notifications.subscriptions import Subscription, SubscriptionRepository
from eci_notifications.webhook_targets import UnsafeWebhookTarget, WebhookTargets


def _subscriptions(request: Request) -> SubscriptionRepository:
    subscriptions: SubscriptionRepository = request.app.state.subscriptions
    return subscriptions


SubscriptionsDep = Annotated[SubscriptionRepository, Depends(_subscriptions)]


class SubscriptionCreate(BaseModel):
    """An endpoint and the event types (with their version) it wants."""

    url: AnyHttpUrl
    event_types: list[str] = Field(min_length=1, max_length=100)


class SubscriptionPublic(BaseModel):
    """A subscription and the health of its endpoint; never its secret."""

    id: str
    url: str
    event_types: list[str]
    active: bool
    consecutive_failures: int
    last_error: str | None
    last_success_at: datetime | None
    disabled_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, s: Subscription) -> "SubscriptionPublic":
        return cls(
            id=s.id,
            url=s.url,
            event_types=list(s.event_types),
            active=s.active,
            consecutive_failures=s.consecutive_failures,
            last_error=s.last_error,
            last_success_at=s.last_success_at,
            disabled_at=s.disabled_at,
            created_at=s.created_at,
        )


class SubscriptionCreated(SubscriptionPublic):
    """The answer to a creation: the only time the signing secret is shown."""

    secret: str


router = APIRouter(prefix="/webhooks", tags=["webhooks"])


def _staff_only(caller: PrincipalDep) -> None:
    caller.require_staff("manage webhook subscriptions")


StaffOnly = [Depends(_staff_only)]


@router.get("/event-types")
async def event_types() -> list[str]:
    """What a subscription may ask for: the public events notifications reads."""
    return list(WEBHOOK_EVENT_TYPES)


@router.post("", status_code=201, dependencies=StaffOnly)
async def create(
    body: SubscriptionCreate, subscriptions: SubscriptionsDep, request: Request, response: Response
) -> SubscriptionCreated:
    unknown = sorted(set(body.event_types) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        message = f"unknown event types: {', '.join(unknown)}"
        raise HTTPException(
            422, [{"loc": ["body", "event_types"], "msg": message, "type": "value_error"}]
        )
    targets: WebhookTargets = request.app.state.webhook_targets
    try:  # a name that does not resolve yet is checked again at each call
        await targets.check_resolved(str(body.url), unresolvable_ok=True)
    except UnsafeWebhookTarget as exc:
        raise HTTPException(
            422, [{"loc": ["body", "url"], "msg": str(exc), "type": "unsafe_webhook_target"}]
        ) from exc
    subscription = Subscription.create(
        url=str(body.url), event_types=tuple(body.event_types), now=datetime.now(UTC)
    )
    await subscriptions.add(subscription)
    response.headers["Location"] = f"/webhooks/{subscription.id}"
    return SubscriptionCreated(
        **SubscriptionPublic.of(subscription).model_dump(), secret=subscription.secret
    )


@router.get("", dependencies=StaffOnly)
async def list_all(subscriptions: SubscriptionsDep) -> list[SubscriptionPublic]:
    return [SubscriptionPublic.of(s) for s in await subscriptions.all()]


async def _get(subscriptions: SubscriptionRepository, subscription_id: str) -> Subscription:
    found = await subscriptions.get(subscription_id)
    if found is None:
        raise NotFound(f"no webhook subscription {subscription_id}")
    return found


@router.get("/{subscription_id}", dependencies=StaffOnly)
async def get(subscription_id: str, subscriptions: SubscriptionsDep) -> SubscriptionPublic:
    return SubscriptionPublic.of(await _get(subscriptions, subscription_id))


@router.post("/{subscription_id}/enable", dependencies=StaffOnly)
async def enable(subscription_id: str, subscriptions: SubscriptionsDep) -> SubscriptionPublic:
    """Switches a disabled endpoint back on (its failure count starts again from zero)."""
    enabled = (await _get(subscriptions, subscription_id)).enabled()
    await subscriptions.save(enabled)
    return SubscriptionPublic.of(enabled)


@router.delete("/{subscription_id}", status_code=204, dependencies=StaffOnly)
async def delete(subscription_id: str, subscriptions: SubscriptionsDep) -> None:
    if not await subscriptions.delete(subscription_id):
        raise NotFound(f"no webhook subscription {subscription_id}")
