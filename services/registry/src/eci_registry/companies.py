"""The company aggregate: its profile, contacts and lifecycle, and the events each change causes.

Every change bumps `version` by one and appends its event to `pending`; the repository stores
both in one write. A change that changes nothing causes no event and keeps the version.
"""

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from eci_common.clock import now
from eci_common.errors import Conflict, Gone
from eci_common.events.base import EventPayload
from eci_common.events.registry import (
    CompanyContactsChangedV1,
    CompanyDeactivatedV1,
    CompanyErasedV1,
    CompanyReactivatedV1,
    CompanyRegisteredV1,
    CompanyUpdatedV1,
    ContactV1,
)
from eci_registry.domain import HeadcountBand, Language, Membership, ValueChainRole


class CompanyStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    ERASED = "erased"


@dataclass(frozen=True)
class Contact:
    """A person to contact at a company: personal data, never published in events."""

    name: str
    email: str
    role: str | None = None
    phone: str | None = None
    language: Language = Language.FR
    consent: bool = False
    consent_at: datetime | None = None


@dataclass(frozen=True)
class Profile:
    """What a company says of itself; everything here but contacts is public."""

    legal_name: str
    siren: str | None
    country: str
    region: str | None = None
    city: str | None = None
    website: str | None = None
    headcount_band: HeadcountBand | None = None
    membership: Membership = Membership.MEMBER
    roles: tuple[ValueChainRole, ...] = ()
    capabilities: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()


PUBLIC_FIELDS = (
    "legal_name", "siren", "country", "region", "city", "website",
    "headcount_band", "membership", "roles", "capabilities",
)  # fmt: skip


def _normalised(profile: Profile, previous: Profile | None) -> Profile:
    """Sorted, deduplicated lists; consent dated when given, kept when unchanged."""
    before = {c.email.casefold(): c for c in previous.contacts} if previous else {}
    contacts = []
    for contact in profile.contacts:
        earlier = before.get(contact.email.casefold())
        if not contact.consent:
            consent_at = None
        elif earlier is not None and earlier.consent and earlier.consent_at is not None:
            consent_at = earlier.consent_at
        else:
            consent_at = now()
        contacts.append(replace(contact, consent_at=consent_at))
    return replace(
        profile,
        roles=tuple(sorted(set(profile.roles))),
        capabilities=tuple(sorted(set(profile.capabilities))),
        contacts=tuple(contacts),
    )


@dataclass
class Company:
    """A company of the registry."""

    id: str
    profile: Profile | None  # None once erased: nothing personal or identifying remains
    status: CompanyStatus
    registered_at: datetime
    updated_at: datetime
    version: int = 1
    erased_at: datetime | None = None
    pending: list[EventPayload] = field(default_factory=list, repr=False)

    @classmethod
    def register(cls, profile: Profile) -> "Company":
        at = now()
        company = cls(
            id=str(uuid.uuid4()),
            profile=_normalised(profile, None),
            status=CompanyStatus.ACTIVE,
            registered_at=at,
            updated_at=at,
        )
        company.pending.append(
            CompanyRegisteredV1(
                company_id=company.id, version=1, registered_at=at, **company._public()
            )
        )
        if company.live_profile().contacts:
            company._contacts_changed()
        return company

    def live_profile(self) -> Profile:
        if self.status is CompanyStatus.ERASED or self.profile is None:
            raise Gone(f"company {self.id} was erased")
        return self.profile

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Applies profile changes; returns the fields that really changed."""
        current = self.live_profile()
        candidate = _normalised(replace(current, **changes), current)
        changed = [name for name in changes if getattr(candidate, name) != getattr(current, name)]
        if not changed:
            return []
        self.profile = candidate
        self._bump()
        self.pending.append(
            CompanyUpdatedV1(
                company_id=self.id,
                version=self.version,
                changed_fields=sorted(changed),
                updated_at=self.updated_at,
                **self._public(),
            )
        )
        if "contacts" in changed:
            self._contacts_changed()
        return changed

    def deactivate(self, reason: str | None) -> None:
        self.live_profile()
        if self.status is CompanyStatus.DEACTIVATED:
            raise Conflict(f"company {self.id} is already deactivated")
        self.status = CompanyStatus.DEACTIVATED
        self._bump()
        self.pending.append(
            CompanyDeactivatedV1(
                company_id=self.id,
                version=self.version,
                reason=reason,
                deactivated_at=self.updated_at,
            )
        )

    def reactivate(self) -> None:
        self.live_profile()
        if self.status is CompanyStatus.ACTIVE:
            raise Conflict(f"company {self.id} is already active")
        self.status = CompanyStatus.ACTIVE
        self._bump()
        self.pending.append(
            CompanyReactivatedV1(
                company_id=self.id, version=self.version, reactivated_at=self.updated_at
            )
        )

    def erase(self) -> bool:
        """GDPR erasure: the profile goes, a tombstone stays. False if already erased."""
        if self.status is CompanyStatus.ERASED:
            return False
        self.status = CompanyStatus.ERASED
        self.profile = None
        self._bump()
        self.erased_at = self.updated_at
        # The empty list overwrites the contacts on the compacted topic: nothing personal stays.
        self._contacts_changed()
        self.pending.append(
            CompanyErasedV1(company_id=self.id, version=self.version, erased_at=self.updated_at)
        )
        return True

    def require_active(self) -> None:
        self.live_profile()
        if self.status is not CompanyStatus.ACTIVE:
            raise Conflict(f"company {self.id} is {self.status.value}")

    def _contacts_changed(self) -> None:
        """The complete contact list (empty once erased), for notifications alone."""
        contacts = self.profile.contacts if self.profile is not None else ()
        self.pending.append(
            CompanyContactsChangedV1(
                company_id=self.id,
                version=self.version,
                contacts=[
                    ContactV1(
                        name=contact.name,
                        email=contact.email,
                        language=contact.language.value,
                        consent=contact.consent,
                        consent_at=contact.consent_at,
                        role=contact.role,
                    )
                    for contact in contacts
                ],
                changed_at=self.updated_at,
            )
        )

    def _bump(self) -> None:
        self.version += 1
        self.updated_at = now()

    def _public(self) -> dict[str, Any]:
        profile = self.live_profile()
        values: dict[str, Any] = {name: getattr(profile, name) for name in PUBLIC_FIELDS}
        values["roles"] = [role.value for role in profile.roles]
        values["capabilities"] = list(profile.capabilities)
        values["membership"] = profile.membership.value
        values["headcount_band"] = profile.headcount_band.value if profile.headcount_band else None
        return values
