"""A small SMTP server in a thread that offers STARTTLS with a certificate made for the test,
and records, for each login and each message, whether it came inside TLS.

The certificate chain (a throw-away CA and a server certificate for 127.0.0.1 and localhost)
is generated with `cryptography`: nothing is read from or left on the machine but `ca.pem` and
the server's key and certificate in the test's own folder.
"""

import datetime
import ipaddress
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """`(ca.pem, server.pem, server.key)`: a CA, and a server certificate it signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ECI test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class TlsSmtpSink:
    """The server, what it saw (`logins` and `messages`: whether each came inside TLS)."""

    certificate: Path
    key: Path
    offer_starttls: bool = True
    logins: list[bool] = field(default_factory=list)
    messages: list[tuple[bool, bytes]] = field(default_factory=list)
    port: int = 0
    _server: socketserver.ThreadingTCPServer | None = None

    def __enter__(self) -> "TlsSmtpSink":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificate, self.key)
        sink = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    sink._dialogue(self.request, context)
                except (OSError, ssl.SSLError):
                    return  # the client gave up (a refused certificate): nothing to record

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def _dialogue(self, connection: socket.socket, context: ssl.SSLContext) -> None:
        tls = False
        reader = connection.makefile("rb")

        def send(*lines: str) -> None:
            for index, line in enumerate(lines):
                last = index == len(lines) - 1
                connection.sendall(f"{'250 ' if last else '250-'}{line}\r\n".encode())

        connection.sendall(b"220 sink ESMTP\r\n")
        while line := reader.readline():
            verb = line.decode("ascii", "replace").strip().split(" ", 1)[0].upper()
            if verb in {"EHLO", "HELO"}:
                starttls = ["STARTTLS"] if self.offer_starttls and not tls else []
                send("sink", "AUTH PLAIN LOGIN", *starttls)
            elif verb == "STARTTLS":
                connection.sendall(b"220 ready\r\n")
                connection = context.wrap_socket(connection, server_side=True)
                reader, tls = connection.makefile("rb"), True
            elif verb == "AUTH":
                self.logins.append(tls)
                connection.sendall(b"235 accepted\r\n")
            elif verb == "DATA":
                connection.sendall(b"354 go on\r\n")
                body = []
                while (part := reader.readline()) not in {b".\r\n", b""}:
                    body.append(part)
                self.messages.append((tls, b"".join(body)))
                send("queued")
            elif verb == "QUIT":
                connection.sendall(b"221 bye\r\n")
                return
            else:
                send("ok")
