"""Secrets never reach a log line; personal data only masked; the processor is in the chain."""

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from eci_common.log_redaction import MASK, mask_email, redact, scrub_text
from eci_common.logging import configure_logging
from eci_common.settings import LogSettings


def _redacted(**fields: Any) -> dict[str, Any]:
    return dict(redact(None, "info", {"event": "test", **fields}))


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "smtp_password",
        "SASL_PASSWORD",
        "secret",
        "webhook_secret",
        "jwt_secret",
        "token",
        "access_token",
        "Authorization",
        "api_key",
        "api-key",
        "apikey",
        "jwt",
        "cookie",
    ],
)
def test_values_of_secret_keys_are_replaced_whatever_they_are(key: str) -> None:
    assert _redacted(**{key: "hunter2-very-secret"})[key] == MASK
    assert _redacted(**{key: 12345})[key] == MASK
    assert _redacted(**{key: {"nested": "value"}})[key] == MASK


def test_secret_keys_are_found_at_any_depth_and_the_callers_objects_are_untouched() -> None:
    settings = {"smtp": {"host": "mail.example", "password": "p4ss"}, "items": [{"token": "t"}]}
    line = _redacted(settings=settings)
    assert line["settings"] == {
        "smtp": {"host": "mail.example", "password": MASK},
        "items": [{"token": MASK}],
    }
    assert settings["smtp"]["password"] == "p4ss"  # type: ignore[index]


def test_emails_are_masked_anywhere_in_strings() -> None:
    assert mask_email("jean.dupont@horlogerie.example") == "j***@horlogerie.example"
    line = _redacted(
        event="sent to jean.dupont@horlogerie.example and anne@cadrans.example",
        error="SMTPRecipientsRefused({'zoe@x.example': (550, b'no')})",
    )
    assert line["event"] == "sent to j***@horlogerie.example and a***@cadrans.example"
    assert "zoe@" not in line["error"]
    assert "z***@x.example" in line["error"]


def test_personal_keys_are_masked() -> None:
    line = _redacted(
        email="jean.dupont@horlogerie.example",
        recipient_email="anne@cadrans.example",
        phone="+33 6 12 34 56 78",
        first_name="Jean",
        last_name="Dupont",
        contact_name="Anne Martin",
        contacts=[{"name": "Zoé Vernier", "email": "zoe@x.example", "language": "fr"}],
        legal_name="Cadrans du Doubs",  # a company's name is not personal data
        emails_sent=3,  # a count is not an address
    )
    assert line["email"] == "j***@horlogerie.example"
    assert line["recipient_email"] == "a***@cadrans.example"
    assert line["phone"] == "***78"
    assert (line["first_name"], line["last_name"], line["contact_name"]) == ("J***", "D***", "A***")
    assert line["contacts"] == [{"name": "Z***", "email": "z***@x.example", "language": "fr"}]
    assert line["legal_name"] == "Cadrans du Doubs"
    assert line["emails_sent"] == 3


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("mongodb://eci:s3cr3t@db.example:27017/eci?authSource=admin", "s3cr3t"),
        ("connecting to mongodb://eci:s3cr3t@db.example:27017/", "eci:"),
        ("amqp://guest:guest@localhost//", "guest:guest"),
        ("POST https://hooks.example/in?token=abcdef123&x=1", "abcdef123"),
        ("GET https://hooks.example/in?api_key=abcdef123", "abcdef123"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnop"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl seen", "eyJhbGci"),
    ],
)
def test_credentials_in_free_text_are_masked(text: str, leak: str) -> None:
    assert leak not in scrub_text(text)


def test_uri_keeps_host_and_path() -> None:
    assert (
        scrub_text("mongodb://eci:s3cr3t@db.example:27017/eci")
        == "mongodb://***@db.example:27017/eci"
    )


def test_plain_values_are_left_alone() -> None:
    line = _redacted(
        topic="eci.registry.companies",
        company_id="c-1",
        correlation_id="essai-001",
        attempts=2,
        event_type="fr.horlogerie.eci.registry.company.registered.v1",
        reason="invalid CompanyRegisteredV1 payload: legal_name: Field required",
        name="delivery-worker",  # outside a contact, `name` is not personal
    )
    assert line == {
        "event": "test",
        "topic": "eci.registry.companies",
        "company_id": "c-1",
        "correlation_id": "essai-001",
        "attempts": 2,
        "event_type": "fr.horlogerie.eci.registry.company.registered.v1",
        "reason": "invalid CompanyRegisteredV1 payload: legal_name: Field required",
        "name": "delivery-worker",
    }


def _refuse() -> None:
    raise RuntimeError("refused for zoe@x.example")


@pytest.fixture
def captured_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The service's real logging configuration, writing to a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    configure_logging(LogSettings(log_format="json", log_level="INFO"), service="test")
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def test_the_configured_chain_masks_structlog_and_standard_library_lines(
    captured_logs: io.StringIO,
) -> None:
    structlog.stdlib.get_logger("eci.test").info(
        "smtp_login",
        smtp_password="p4ss",
        mongodb_uri="mongodb://eci:s3cr3t@db.example/",
        email="jean.dupont@horlogerie.example",
    )
    logging.getLogger("aiokafka.test").warning("could not reach anne@cadrans.example")
    try:
        _refuse()
    except RuntimeError:
        structlog.stdlib.get_logger("eci.test").exception("failed")

    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    first, foreign, failed = lines
    assert first["smtp_password"] == MASK
    assert first["mongodb_uri"] == "mongodb://***@db.example/"
    assert first["email"] == "j***@horlogerie.example"
    assert foreign["event"] == "could not reach a***@cadrans.example"
    assert "zoe@" not in failed["exception"]
    raw = captured_logs.getvalue()
    for leak in ("p4ss", "s3cr3t", "jean.dupont@", "anne@", "zoe@"):
        assert leak not in raw
