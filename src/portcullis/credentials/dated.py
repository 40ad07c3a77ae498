"""What in a configuration expires, and when: dated secrets and certificates.

Two sources of dates:

- a secret source's ``expires`` (``client_secret: [{env: X, expires: 2027-03-01}]``): the
  identity provider stops accepting the secret *on* that day, so it counts from 00:00 UTC;
- certificates, read from the PEM itself (``not_valid_after``): ``listen.tls.cert_file``
  (every certificate of the chain), ``auth.providers[*].certificate_file``,
  ``routes[*].tls_ca_file``, and certificates bundled in PEM secrets
  (``auth.providers[*].private_key``, ``auth.assertion.keys``).

:func:`dated_credentials` is the I/O edge (the files and secrets are read through
``read`` and ``reveal``, never logged); everything after it is pure
(:mod:`portcullis.credentials.expiry`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from pydantic import BaseModel

from portcullis.config.load import resolve_secret
from portcullis.config.schema import Config, SecretSource
from portcullis.config.validate import ConfigError, Problem

__all__ = ["Dated", "Reader", "dated_credentials", "read_certificates", "secret_expiry"]

Reader = Callable[[str], bytes]
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_PEM_SECRETS = ("private_key", "keys")  # fields of PEM keys that may carry their certificate
_MAX_SUBJECT = 80


@dataclass(frozen=True, slots=True)
class Dated:
    """One credential with an end: ``what`` it is, where it is configured, when it ends."""

    what: str  # "secret", "TLS certificate CN=portal.example.com", ...
    key_path: str  # "auth.providers[0].client_secret[1]", "listen.tls.cert_file[0]", ...
    expires: datetime  # aware, UTC


def secret_expiry(day: date) -> datetime:
    """A secret's ``expires`` day as the instant it stops working: 00:00 UTC that day."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def dated_credentials(
    config: Config, *, read: Reader | None = None
) -> tuple[list[Dated], list[Problem]]:
    """Every dated credential in ``config``, and the files that could not be read as PEM."""
    read = read or _read_file
    found: list[Dated] = []
    problems: list[Problem] = []

    def certificates(key_path: str, what: str, data: Callable[[], bytes]) -> None:
        try:
            certs = read_certificates(data())
        except OSError as exc:
            problems.append(Problem(key_path, f"cannot read: {exc.strerror or exc}"))
            return
        except ValueError:
            problems.append(Problem(key_path, "a certificate in it cannot be parsed"))
            return
        if not certs:
            problems.append(Problem(key_path, "no PEM certificate in it"))
        single = len(certs) == 1
        for index, cert in enumerate(certs):
            where = key_path if single else f"{key_path}[{index}]"
            found.append(Dated(f"{what} {_subject(cert)}", where, cert.not_valid_after_utc))

    if config.listen.tls is not None:
        tls = config.listen.tls.cert_file
        certificates("listen.tls.cert_file", "TLS certificate", _bind(read, tls))
    for index, route in enumerate(config.routes):
        if route.tls_ca_file is not None:
            ca = route.tls_ca_file
            certificates(f"routes[{index}].tls_ca_file", "upstream CA certificate", _bind(read, ca))
    if config.auth is not None:
        for index, provider in enumerate(config.auth.providers):
            if provider.certificate_file is not None:
                certificates(
                    f"auth.providers[{index}].certificate_file",
                    "client certificate",
                    _bind(read, provider.certificate_file),
                )
    for key_path, source in _sources(config):
        if source.expires is not None:
            found.append(Dated("secret", key_path, secret_expiry(source.expires)))
        field = key_path.rpartition(".")[2].partition("[")[0]
        if field in _PEM_SECRETS:
            _bundled(key_path, source, found)
    return found, problems


def read_certificates(data: bytes) -> list[x509.Certificate]:
    """The certificates of a PEM bundle, in order (raises ValueError when one is broken)."""
    return [x509.load_pem_x509_certificate(block) for block in _PEM_CERT.findall(data)]


def _bundled(key_path: str, source: SecretSource, found: list[Dated]) -> None:
    """Certificates that a PEM key secret carries along (quietly: it is a secret)."""
    try:
        pem = resolve_secret(source, key_path=key_path).reveal().encode()
        certs = read_certificates(pem)
    except (ConfigError, ValueError):
        return  # unreadable secrets are `portcullis check`'s to report, without their content
    for index, cert in enumerate(certs):
        where = key_path if len(certs) == 1 else f"{key_path}.certificate[{index}]"
        found.append(Dated(f"certificate {_subject(cert)}", where, cert.not_valid_after_utc))


def _sources(value: object, path: str = "") -> Iterator[tuple[str, SecretSource]]:
    """Every secret source in ``value``, with its key path."""
    if isinstance(value, SecretSource):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _sources(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _sources(item, f"{path}[{index}]")


def _subject(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    text = f"CN={names[0].value!s}" if names else cert.subject.rfc4514_string() or "(no subject)"
    return text if len(text) <= _MAX_SUBJECT else text[: _MAX_SUBJECT - 1] + "…"


def _bind(read: Reader, path: str) -> Callable[[], bytes]:
    return lambda: read(path)


def _read_file(path: str) -> bytes:
    return Path(path).read_bytes()
