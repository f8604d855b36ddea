"""One small error hierarchy, shared by every service.

Permanent errors are never retried: an event that causes one goes to the dead-letter topic.
Transient errors are retried with capped backoff. Domain errors map to HTTP statuses.
"""


class EciError(Exception):
    """Base of every error raised on purpose by ECI code."""


class PermanentError(EciError):
    """Retrying cannot help: the input itself is wrong."""


class MalformedEvent(PermanentError):
    """A Kafka record that is not a valid CloudEvent of ours (headers or body)."""


class UnknownEventType(PermanentError):
    """A record whose `ce_type` (type and version) no contract of ours describes."""


class TransientError(EciError):
    """The world is briefly wrong (a database or broker unreachable): retry later."""


class DomainError(EciError):
    """A use case refused a command; the API layer maps each kind to a status code."""


class NotFound(DomainError):
    """The addressed aggregate does not exist."""


class Conflict(DomainError):
    """The command contradicts the current state (duplicate key, illegal transition)."""


class StaleVersion(DomainError):
    """Optimistic concurrency: the caller's version is not the stored one."""


class Gone(DomainError):
    """The aggregate existed but was erased; only its tombstone remains."""


class PreconditionRequired(DomainError):
    """A change needs the caller's version (`If-Match`) and none was given."""


class Unauthenticated(DomainError):
    """No valid credentials came with the request (HTTP 401)."""


class Forbidden(DomainError):
    """The caller is known but has no right to do this (HTTP 403)."""
