"""Who hears about what: the rules, as data, in one place.

Each rule names the event that triggers it, the kind of notification (which is also the name of
its templates, `templates/<language>/<kind>.j2`), the family a contact's preferences refer to,
and the audience. The service resolves an audience into companies from its read models; every
company hears through its inbox, and each of its contacts through their inbox and by e-mail, as
their preferences and consent allow. An erasure is not a notification: it purges (see service).

| event                     | kind                   | family       | audience                    |
|---------------------------|------------------------|--------------|-----------------------------|
| company registered        | company_registered     | registry     | the staff inbox             |
| member joined a grappe    | member_joined          | clusters     | its other members (animator |
|                           |                        |              | included)                   |
| call for partners opened  | call_opened            | calls        | the grappe's companies, but |
|                           |                        |              | the lead                    |
| candidates ranked         | call_candidate         | calls        | the top N candidates not    |
|                           |                        |              | yet told of the call        |
| application submitted     | application_submitted  | applications | the lead                    |
| partner accepted/declined | partner_accepted/_decl.| applications | the applicant               |
| invitation sent           | invitation_sent        | applications | the invited company         |
| invitation accepted/decl. | invitation_accepted/.. | applications | the lead                    |
| milestone reached         | milestone_reached      | projects     | the partners                |
| company erased            | (purge)                |              | everything about it goes    |

Applications and invitations are read in v2 only; their v1 twins (same change, emitted during the
migration window of docs/versioning.md) trigger no rule, so nobody hears twice.
"""

from dataclasses import dataclass
from enum import StrEnum

from eci_common.events.base import EventPayload
from eci_common.events.projects import (
    ApplicationSubmittedV2,
    CallForPartnersOpenedV1,
    CandidatesRankedV1,
    InvitationAcceptedV1,
    InvitationDeclinedV1,
    InvitationSentV2,
    MilestoneReachedV1,
    PartnerAcceptedV1,
    PartnerDeclinedV1,
)
from eci_common.events.registry import CompanyRegisteredV1, MemberJoinedV1


class Audience(StrEnum):
    """Who, in terms of the read models, a rule addresses."""

    STAFF = "staff"
    CLUSTER_MEMBERS = "cluster_members"  # the others of the grappe, the animator included
    CLUSTER_COMPANIES = "cluster_companies"  # the grappe of the call, the lead excepted
    TOP_CANDIDATES = "top_candidates"
    LEAD = "lead"
    SUBJECT_COMPANY = "subject_company"  # the event's `company_id`: applicant, invited company
    PARTNERS = "partners"  # the partners the event names


class Dedup(StrEnum):
    """What makes two notifications the same one for a recipient."""

    EVENT = "event"  # one per event (the CloudEvents source and id)
    CALL = "call"  # one per call: a candidate already told of the call is not told again


@dataclass(frozen=True)
class Rule:
    """One line of the table above."""

    event: type[EventPayload]
    kind: str
    family: str
    audience: Audience
    dedup: Dedup = Dedup.EVENT


RULES: tuple[Rule, ...] = (
    Rule(CompanyRegisteredV1, "company_registered", "registry", Audience.STAFF),
    Rule(MemberJoinedV1, "member_joined", "clusters", Audience.CLUSTER_MEMBERS),
    Rule(CallForPartnersOpenedV1, "call_opened", "calls", Audience.CLUSTER_COMPANIES, Dedup.CALL),
    Rule(CandidatesRankedV1, "call_candidate", "calls", Audience.TOP_CANDIDATES, Dedup.CALL),
    Rule(ApplicationSubmittedV2, "application_submitted", "applications", Audience.LEAD),
    Rule(PartnerAcceptedV1, "partner_accepted", "applications", Audience.SUBJECT_COMPANY),
    Rule(PartnerDeclinedV1, "partner_declined", "applications", Audience.SUBJECT_COMPANY),
    Rule(InvitationSentV2, "invitation_sent", "applications", Audience.SUBJECT_COMPANY),
    Rule(InvitationAcceptedV1, "invitation_accepted", "applications", Audience.LEAD),
    Rule(InvitationDeclinedV1, "invitation_declined", "applications", Audience.LEAD),
    Rule(MilestoneReachedV1, "milestone_reached", "projects", Audience.PARTNERS),
)

FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(rule.family for rule in RULES))

_BY_TYPE = {rule.event.event_type: rule for rule in RULES}


def rule_for(event_type: str) -> Rule | None:
    """The rule an event type triggers, if any."""
    return _BY_TYPE.get(event_type)
