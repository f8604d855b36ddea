"""STARTTLS verifies the SMTP server's certificate (the system's CAs, or the private CA of
`NOTIFICATIONS_SMTP_CA_FILE`), and credentials are never sent in clear: the settings refuse a
login without STARTTLS at start-up, and the mailer never logs in outside TLS. Against a local
SMTP server whose certificate chain the test makes."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from eci_notifications.channels import DeliveryFailed, Email, SmtpConfig, SmtpMailer
from eci_notifications.settings import Settings
from support.tls_smtp_sink import TlsSmtpSink, make_certificates

pytestmark = pytest.mark.integration

EMAIL = Email(to="ada@example.org", subject="Bonjour", text="Un nouveau membre.")


@pytest.fixture
def certificates(tmp_path: Path) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path)


@pytest.fixture
def sink(certificates: tuple[Path, Path, Path]) -> Iterator[TlsSmtpSink]:
    _, certificate, key = certificates
    with TlsSmtpSink(certificate, key) as running:
        yield running


def _config(sink: TlsSmtpSink, **changes: object) -> SmtpConfig:
    base: dict[str, object] = {
        "host": "127.0.0.1",
        "port": sink.port,
        "sender": "notifications@eci.example",
        "starttls": True,
        "username": "eci",
        "password": "s3cret-password",
        "timeout_s": 5.0,
    }
    return SmtpConfig(**(base | changes))  # type: ignore[arg-type]


async def test_a_server_certificate_from_the_configured_ca_is_accepted_and_login_is_in_tls(
    sink: TlsSmtpSink, certificates: tuple[Path, Path, Path]
) -> None:
    await SmtpMailer(_config(sink, ca_file=str(certificates[0]))).send(EMAIL)
    assert sink.logins == [True]
    assert [tls for tls, _ in sink.messages] == [True]


async def test_a_certificate_the_trusted_cas_did_not_sign_is_refused_before_any_login(
    sink: TlsSmtpSink,
) -> None:
    with pytest.raises(DeliveryFailed, match="smtp_certificate_refused"):
        await SmtpMailer(_config(sink)).send(EMAIL)  # the system's CAs: not the test's CA
    assert sink.logins == []
    assert sink.messages == []


async def test_a_server_without_starttls_never_receives_the_credentials(
    certificates: tuple[Path, Path, Path],
) -> None:
    ca, certificate, key = certificates
    with TlsSmtpSink(certificate, key, offer_starttls=False) as plain:
        with pytest.raises(DeliveryFailed):
            await SmtpMailer(_config(plain, ca_file=str(ca))).send(EMAIL)
        assert plain.logins == []
        assert plain.messages == []


def test_credentials_without_starttls_are_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="NOTIFICATIONS_SMTP_STARTTLS=true"):
        Settings(smtp_username="eci", smtp_password="s3cret-password", smtp_starttls=False)  # type: ignore[arg-type]
    Settings(smtp_username="eci", smtp_password="s3cret-password", smtp_starttls=True)  # type: ignore[arg-type]
