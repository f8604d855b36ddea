"""Validating Kafka records against the committed JSON Schemas, as a non-Python consumer would.

Here rather than in `eci_common.schemas` because `jsonschema` is a development dependency: the
services never validate against the JSON files, they parse with the pydantic models.
"""

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from jsonschema import Draft202012Validator, FormatChecker, ValidationError

from eci_common.schemas import CONTRACTS_DIR, load_envelope_contract, load_event_contract

# RFC 3339 `date-time` (JSON Schema's definition of the format): a full date, a full time and a
# mandatory offset. A naive timestamp ("2024-05-30T09:00:00") is not one.
_RFC3339: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)
_MAX_ERRORS: Final = 5


def _is_rfc3339_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True  # formats only constrain strings; `type` deals with the rest
    match = _RFC3339.match(instance)
    if match is None:
        return False
    # The regex checks the shape, fromisoformat the calendar (no 30 February, no hour 25). A
    # leap second (:60) is valid RFC 3339 that Python cannot represent: check it as :59.
    start, end = match.span(1)
    text = instance[:start] + ("59" if match[1] == "60" else match[1]) + instance[end:]
    try:
        datetime.fromisoformat(text.upper())
    except ValueError:
        return False
    return True


def format_checker() -> FormatChecker:
    """jsonschema's format checker, with a real `date-time` check.

    jsonschema only checks `date-time` when the optional `rfc3339-validator` package is
    installed, and silently accepts anything otherwise: we are not depending on that.
    """
    checker = FormatChecker()
    checker.checks("date-time")(_is_rfc3339_date_time)
    return checker


@cache
def _envelope_validator(directory: Path) -> Draft202012Validator:
    return Draft202012Validator(load_envelope_contract(directory), format_checker=format_checker())


@cache
def _payload_validator(directory: Path, event_type: str) -> Draft202012Validator:
    try:
        schema = load_event_contract(event_type, directory)
    except LookupError as exc:
        raise ValueError(str(exc)) from None
    return Draft202012Validator(schema, format_checker=format_checker())


def _raise_if_invalid(validator: Draft202012Validator, instance: Any, what: str) -> None:
    errors: list[ValidationError] = sorted(
        validator.iter_errors(instance), key=lambda error: error.json_path
    )
    if errors:
        details = "; ".join(f"{error.json_path}: {error.message}" for error in errors[:_MAX_ERRORS])
        more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
        raise ValueError(f"invalid {what}: {details}{more}")


def validate_record(headers: dict[str, str], body: bytes, directory: Path = CONTRACTS_DIR) -> None:
    """Check a record against the committed contracts, or `ValueError` saying what is wrong.

    The headers against the envelope schema, then the body against the schema that `ce_type`
    names. Format checking is on (`date-time` included), as it would be for a strict consumer.
    """
    _raise_if_invalid(_envelope_validator(directory), headers, "CloudEvents headers")
    event_type = headers["ce_type"]
    validator = _payload_validator(directory, event_type)
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body of {event_type} is not JSON: {exc}") from None
    _raise_if_invalid(validator, document, f"{event_type} body")
