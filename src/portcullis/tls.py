"""TLS contexts for the listener (termination)."""

from __future__ import annotations

import ssl

from portcullis.config.schema import TlsFiles

__all__ = ["server_context"]


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A TLS 1.2+ server context for ``files``; HTTP/1.1 over ALPN."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert_file, files.key_file)
    context.set_alpn_protocols(["http/1.1"])
    return context
