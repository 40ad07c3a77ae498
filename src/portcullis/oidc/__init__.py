"""Talking to OpenID Providers: discovery, keys, the code exchange, ID token checks."""
