"""The catalog: every event type we publish, mapped to its payload model and its topic."""

from eci_common.errors import UnknownEventType
from eci_common.events.base import EventPayload
from eci_common.events.notifications import NotificationDeliveredV1, NotificationFailedV1
from eci_common.events.projects import (
    ApplicationSubmittedV1,
    ApplicationSubmittedV2,
    CallForPartnersClosedV1,
    CallForPartnersOpenedV1,
    CandidatesRankedV1,
    InvitationAcceptedV1,
    InvitationDeclinedV1,
    InvitationSentV1,
    InvitationSentV2,
    MilestoneReachedV1,
    PartnerAcceptedV1,
    PartnerDeclinedV1,
    ProjectProposedV1,
    ProjectStatusChangedV1,
    ProjectUpdatedV1,
)
from eci_common.events.registry import (
    ClusterClosedV1,
    ClusterCreatedV1,
    ClusterUpdatedV1,
    CompanyContactsChangedV1,
    CompanyDeactivatedV1,
    CompanyErasedV1,
    CompanyReactivatedV1,
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    MemberJoinedV1,
    MemberLeftV1,
)

EVENT_MODELS: tuple[type[EventPayload], ...] = (
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    CompanyDeactivatedV1,
    CompanyReactivatedV1,
    CompanyErasedV1,
    CompanyContactsChangedV1,
    ClusterCreatedV1,
    ClusterUpdatedV1,
    ClusterClosedV1,
    MemberJoinedV1,
    MemberLeftV1,
    ProjectProposedV1,
    ProjectUpdatedV1,
    ProjectStatusChangedV1,
    CallForPartnersOpenedV1,
    CallForPartnersClosedV1,
    CandidatesRankedV1,
    ApplicationSubmittedV1,
    ApplicationSubmittedV2,
    PartnerAcceptedV1,
    PartnerDeclinedV1,
    InvitationSentV1,
    InvitationSentV2,
    InvitationAcceptedV1,
    InvitationDeclinedV1,
    MilestoneReachedV1,
    NotificationDeliveredV1,
    NotificationFailedV1,
)

_BY_TYPE: dict[str, type[EventPayload]] = {model.event_type: model for model in EVENT_MODELS}


def model_for(event_type: str) -> type[EventPayload]:
    """The payload model of a type, or `UnknownEventType` (a permanent error)."""
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(f"no contract for event type {event_type!r}") from None


def is_known(event_type: str) -> bool:
    """Whether any contract describes this type and version."""
    return event_type in _BY_TYPE
