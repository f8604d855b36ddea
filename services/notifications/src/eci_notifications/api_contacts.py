"""Contacts as notifications knows them, and their preferences per family and channel."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from eci_common.auth import PrincipalDep
from eci_notifications.access import own_contact
from eci_notifications.contacts import ContactBook
from eci_notifications.domain import Channel, Contact, Mode, Preferences
from eci_notifications.rules import FAMILIES


def _contacts(request: Request) -> ContactBook:
    contacts: ContactBook = request.app.state.contacts
    return contacts


ContactsDep = Annotated[ContactBook, Depends(_contacts)]


class ContactPublic(BaseModel):
    """A contact's id (their inbox's recipient) and what decides their e-mails."""

    id: str
    company_id: str
    name: str
    language: str
    consent: bool

    @classmethod
    def of(cls, contact: Contact) -> "ContactPublic":
        return cls(
            id=contact.id,
            company_id=contact.company_id,
            name=contact.name,
            language=contact.language,
            consent=contact.consent,
        )


ChannelModes = dict[Channel, Mode]


class PreferencesBody(BaseModel):
    """`modes[family][channel]`: immediate, digest (e-mail only) or off; absent means
    immediate. Families: see `GET /preferences/families`."""

    modes: dict[str, ChannelModes] = Field(default_factory=dict)


class PreferencesPublic(PreferencesBody):
    contact_id: str


router = APIRouter(tags=["contacts"])


@router.get("/preferences/families")
async def families() -> list[str]:
    return list(FAMILIES)


@router.get("/companies/{company_id}/contacts")
async def company_contacts(
    company_id: str, contacts: ContactsDep, caller: PrincipalDep
) -> list[ContactPublic]:
    """Staff, or the company's own people."""
    caller.require_acts_for(company_id, "list this company's contacts")
    return [ContactPublic.of(contact) for contact in await contacts.of_company(company_id)]


@router.get("/contacts/{contact_id}/preferences")
async def get_preferences(
    contact_id: str, contacts: ContactsDep, caller: PrincipalDep
) -> PreferencesPublic:
    preferences = await contacts.preferences(await own_contact(caller, contact_id, contacts))
    return PreferencesPublic(
        contact_id=contact_id,
        modes={
            family: {Channel(channel): mode for channel, mode in channels.items()}
            for family, channels in preferences.modes.items()
        },
    )


@router.put("/contacts/{contact_id}/preferences")
async def put_preferences(
    contact_id: str, body: PreferencesBody, contacts: ContactsDep, caller: PrincipalDep
) -> PreferencesPublic:
    """Replaces the contact's choices. 422 for an unknown family, a digest outside e-mail or a
    webhook channel. Staff, or the contact's company's people."""
    contact = await own_contact(caller, contact_id, contacts)
    for family, channels in body.modes.items():
        if family not in FAMILIES:
            raise _invalid(f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
        for channel, mode in channels.items():
            if channel is Channel.WEBHOOK or (mode is Mode.DIGEST and channel is not Channel.EMAIL):
                raise _invalid(f"{mode.value} is not a choice for the {channel.value} channel")
    await contacts.set_preferences(
        Preferences(
            contact_id=contact.id,
            company_id=contact.company_id,
            modes={
                family: {channel.value: mode for channel, mode in channels.items()}
                for family, channels in body.modes.items()
            },
        )
    )
    return PreferencesPublic(contact_id=contact_id, modes=body.modes)


def _invalid(message: str) -> HTTPException:
    """A 422 in FastAPI's documented shape (`HTTPValidationError`)."""
    return HTTPException(
        status_code=422, detail=[{"loc": ["body", "modes"], "msg": message, "type": "value_error"}]
    )
