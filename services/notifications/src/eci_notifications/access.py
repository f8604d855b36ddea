"""Whose inbox a caller may read: staff read every inbox; a company's people read the
company's inbox and those of its contacts; nobody else reads any. "A company's people" is
`Principal.acts_for`, the rule of every service: a contact or an animator of that company, never
an integrator, whatever company its token names."""

from eci_common.auth import Principal
from eci_common.errors import Forbidden, NotFound
from eci_notifications.contacts import ContactBook
from eci_notifications.domain import STAFF, Contact


async def may_read_inbox(caller: Principal, recipient: str, contacts: ContactBook) -> bool:
    if caller.is_staff:
        return True
    if recipient == STAFF:  # never a company's, even if a token names a company "staff"
        return False
    if caller.acts_for(recipient):  # the recipient is the caller's company
        return True
    contact = await contacts.get(recipient)
    return contact is not None and caller.acts_for(contact.company_id)


async def require_inbox(caller: Principal, recipient: str, contacts: ContactBook) -> None:
    if not await may_read_inbox(caller, recipient, contacts):
        raise Forbidden(f"this caller may not read the inbox of {recipient}")


async def own_contact(caller: Principal, contact_id: str, contacts: ContactBook) -> Contact:
    """The contact if the caller is staff or one of its company's people; otherwise the same
    404 as for an unknown contact."""
    contact = await contacts.get(contact_id)
    if contact is None or not caller.acts_for(contact.company_id):
        raise NotFound(f"no contact {contact_id}")
    return contact
