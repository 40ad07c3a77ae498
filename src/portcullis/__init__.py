"""Portcullis: an identity-aware reverse proxy for Apache httpd and Microsoft Entra ID."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
