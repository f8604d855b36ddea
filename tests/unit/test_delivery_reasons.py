"""A failed delivery stores a short classified reason; the exception's text (addresses, host
names, the server's answer) never reaches the delivery state, the event or `last_error`."""

import smtplib
from typing import Any

import httpx
import pytest

from eci_notifications.channels import (
    DeliveryFailed,
    Email,
    HttpWebhookCaller,
    SmtpConfig,
    SmtpMailer,
)
from eci_notifications.webhook_targets import WebhookTargets

EMAIL = Email(to="jeanne.martin@example.com", subject="s", text="t", delivery_id="d1")

# What is classified here is the answer, not the target (test_webhook_targets.py covers that).
ANY_TARGET = WebhookTargets(development=True)


class _Refusing:
    """An `smtplib.SMTP` stand-in whose server refuses the recipient."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> "_Refusing":
        return self

    def __exit__(self, *args: object) -> None:
        pass

    def send_message(self, message: object) -> None:
        raise smtplib.SMTPRecipientsRefused(
            {EMAIL.to: (550, b"5.1.1 <jeanne.martin@example.com> unknown")}
        )


async def test_a_refused_recipient_is_smtp_refused_and_permanent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smtplib, "SMTP", _Refusing)
    with pytest.raises(DeliveryFailed) as failure:
        await SmtpMailer(SmtpConfig(host="mail.internal", port=25, sender="x@y")).send(EMAIL)
    assert failure.value.reason == "smtp_refused"
    assert failure.value.permanent


async def test_an_unreachable_smtp_server_is_smtp_unreachable() -> None:
    mailer = SmtpMailer(SmtpConfig(host="127.0.0.1", port=9, sender="x@y", timeout_s=2))
    with pytest.raises(DeliveryFailed) as failure:
        await mailer.send(EMAIL)
    assert failure.value.reason == "smtp_unreachable"
    assert not failure.value.permanent


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (lambda request: httpx.Response(503), "http_503"),
        (lambda request: httpx.Response(410), "http_410"),
    ],
)
async def test_a_webhook_answer_is_classified_by_status(answer: Any, reason: str) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(DeliveryFailed) as failure:
            await _call(HttpWebhookCaller(client, ANY_TARGET))
    assert failure.value.reason == reason


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (httpx.ConnectError("cannot reach hooks.internal.example:8443"), "unreachable"),
        (httpx.ReadTimeout("read timed out from hooks.internal.example"), "timeout"),
    ],
)
async def test_a_webhook_transport_error_keeps_its_text_out(
    error: httpx.HTTPError, reason: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    async with httpx.AsyncClient(transport=httpx.MockTransport(fail)) as client:
        with pytest.raises(DeliveryFailed) as failure:
            await _call(HttpWebhookCaller(client, ANY_TARGET))
    assert failure.value.reason == reason
    assert "internal" not in str(failure.value)


async def _call(caller: HttpWebhookCaller) -> None:
    await caller.call(
        url="https://hooks.internal.example/x",
        secret="s",
        body=b"{}",
        event_type="t",
        delivery_id="d1",
    )
