"""Who reads an inbox follows `Principal.acts_for`: an integrator token naming a company reads
none of its inboxes; a contact or animator of the company reads them; staff read every one."""

import pytest

from eci_common.auth import Principal, Role
from eci_notifications.access import may_read_inbox
from eci_notifications.domain import STAFF, Contact

ADA = Contact(id="contact-ada", company_id="company-a", name="Ada", email="ada@a.example")


class Contacts:
    """The one lookup `may_read_inbox` makes."""

    async def get(self, contact_id: str) -> Contact | None:
        return ADA if contact_id == ADA.id else None


@pytest.mark.parametrize(
    ("caller", "readable"),
    [
        (Principal("s", Role.STAFF), {STAFF, "company-a", ADA.id, "contact-unknown"}),
        (Principal("c", Role.CONTACT, company_id="company-a"), {"company-a", ADA.id}),
        (
            Principal("m", Role.ANIMATOR, company_id="company-a", cluster_ids=frozenset({"k"})),
            {"company-a", ADA.id},
        ),
        (Principal("i", Role.INTEGRATOR, company_id="company-a"), set()),
        (Principal("b", Role.CONTACT, company_id="company-b"), set()),
        (Principal("x", Role.CONTACT, company_id=STAFF), set()),
    ],
)
async def test_inboxes_are_read_by_those_who_act_for_their_company(
    caller: Principal, readable: set[str]
) -> None:
    contacts = Contacts()
    for recipient in (STAFF, "company-a", ADA.id, "contact-unknown"):
        allowed = await may_read_inbox(caller, recipient, contacts)  # type: ignore[arg-type]
        assert allowed is (recipient in readable), (caller.role, recipient)
