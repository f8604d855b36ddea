"""The contacts of each company (personal data, from the registry's internal topic) and their
preferences. Documents never leave this module; an erasure leaves a tombstone without data."""

from typing import Protocol

from eci_common.locks import DocumentLocks
from eci_common.mongo import Collection, Document
from eci_notifications.directory import apply_versioned
from eci_notifications.domain import Contact, Mode, Preferences, contact_id


class ContactBook(Protocol):
    """Contacts and preferences, as the use cases need them."""

    async def replace(self, company_id: str, version: int, contacts: list[Contact]) -> bool: ...

    async def of_company(self, company_id: str) -> list[Contact]: ...

    async def get(self, contact_id: str) -> Contact | None: ...

    async def preferences(self, contact: Contact) -> Preferences: ...

    async def set_preferences(self, preferences: Preferences) -> None: ...

    async def forget_company(self, company_id: str, version: int) -> None: ...


def new_contact(
    company_id: str, *, name: str, email: str, language: str, consent: bool, role: str | None
) -> Contact:
    return Contact(
        id=contact_id(company_id, email),
        company_id=company_id,
        name=name,
        email=email,
        language=language,
        consent=consent,
        role=role,
    )


class MongoContactBook:
    """One document per company holding its contact list; one per contact for preferences."""

    def __init__(self, contacts: Collection, preferences: Collection, locks: DocumentLocks) -> None:
        self._contacts = contacts
        self._preferences = preferences
        self._locks = locks

    async def ensure_indexes(self) -> None:
        await self._contacts.create_index("contacts.id", name="by_contact")
        await self._preferences.create_index("company_id", name="by_company")

    async def replace(self, company_id: str, version: int, contacts: list[Contact]) -> bool:
        """The registry's complete list at `version`; an older list never overwrites a newer."""
        erased = await self._contacts.find_one({"_id": company_id, "erased": True}, {"_id": 1})
        if erased is not None:
            return False
        return await apply_versioned(
            self._contacts,
            self._locks,
            company_id,
            version,
            {"contacts": [_contact_document(contact) for contact in contacts]},
        )

    async def of_company(self, company_id: str) -> list[Contact]:
        found = await self._contacts.find_one({"_id": company_id})
        if found is None:
            return []
        return [_contact(company_id, document) for document in found.get("contacts") or []]

    async def get(self, contact_id: str) -> Contact | None:
        found = await self._contacts.find_one({"contacts.id": contact_id})
        if found is None:
            return None
        for document in found["contacts"]:
            if document["id"] == contact_id:
                return _contact(found["_id"], document)
        return None

    async def preferences(self, contact: Contact) -> Preferences:
        found = await self._preferences.find_one({"_id": contact.id})
        modes = {} if found is None else found.get("modes") or {}
        return Preferences(
            contact_id=contact.id,
            company_id=contact.company_id,
            modes={
                family: {channel: Mode(mode) for channel, mode in channels.items()}
                for family, channels in modes.items()
            },
        )

    async def set_preferences(self, preferences: Preferences) -> None:
        document = {
            "company_id": preferences.company_id,
            "modes": {
                family: {channel: mode.value for channel, mode in channels.items()}
                for family, channels in preferences.modes.items()
            },
        }
        async with self._locks.hold(self._preferences.name, preferences.contact_id):
            await self._preferences.replace_one(
                {"_id": preferences.contact_id}, document, upsert=True
            )

    async def forget_company(self, company_id: str, version: int) -> None:
        """GDPR: contacts and preferences go; the tombstone refuses any later (older) list."""
        async with self._locks.hold(self._contacts.name, company_id):
            await self._contacts.replace_one(
                {"_id": company_id},
                {"version": max(version, 1), "contacts": [], "erased": True},
                upsert=True,
            )
        await self._preferences.delete_many({"company_id": company_id})


def _contact_document(contact: Contact) -> Document:
    return {
        "id": contact.id,
        "name": contact.name,
        "email": contact.email,
        "language": contact.language,
        "consent": contact.consent,
        "role": contact.role,
    }


def _contact(company_id: str, document: Document) -> Contact:
    return Contact(
        id=document["id"],
        company_id=company_id,
        name=document["name"],
        email=document["email"],
        language=document.get("language", "fr"),
        consent=bool(document.get("consent")),
        role=document.get("role"),
    )
