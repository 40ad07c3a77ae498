"""The IdP's HTML: sign-in page, ``form_post`` auto-submit, signed-out and error pages.

Every value that reaches HTML goes through :func:`html.escape` (quotes too),
user names and redirect targets included. Each page is a function
``(fields..., script_nonce) -> str`` so :func:`portcullis.devidp.wire.html_response`
can put the nonce in the Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape

from portcullis.devidp.model import User

__all__ = ["error_page", "form_post_page", "sign_in_page", "signed_out_page"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem .75rem;border-radius:.3rem}
button{display:block;width:100%;margin:.5rem 0;padding:.7rem;font-size:1rem;text-align:left;
cursor:pointer;border:1px solid #8a8a8a;border-radius:.3rem;background:#f7f7f7}
button.deny{text-align:center;background:#fff;color:#a00;border-color:#a00}
small{color:#555}
"""
_BANNER = '<p class="banner">Portcullis development IdP — demo accounts, not for production.</p>'


def _page(title: str, body: str, *, script: str = "", nonce: str = "") -> str:
    script_tag = f'<script nonce="{escape(nonce)}">{script}</script>' if script else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head>\n<body>{_BANNER}\n{body}\n{script_tag}</body></html>\n"
    )


def sign_in_page(
    *, action: str, handle: str, client_name: str, users: Iterable[User], nonce: str
) -> str:
    """One button per demo user, and a deny button; posts back to the authorize endpoint."""
    buttons = "\n".join(
        f'<button type="submit" name="user" value="{escape(u.username)}">'
        f"<strong>{escape(u.name)}</strong><br><small>{escape(u.preferred_username)}"
        f"{_summary(u)}</small></button>"
        for u in users
    )
    body = (
        f"<h1>Sign in</h1><p>to <strong>{escape(client_name)}</strong> as:</p>\n"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="request" value="{escape(handle)}">\n{buttons}\n'
        '<button type="submit" class="deny" name="deny" value="1">Deny</button></form>'
    )
    return _page("Sign in — Portcullis dev IdP", body, nonce=nonce)


def _summary(user: User) -> str:
    roles = ", ".join(user.roles) or "no app roles"
    groups = len(user.groups)
    return escape(f" · {roles} · {groups} group{'s' * (groups != 1)}")


def form_post_page(*, action: str, fields: Mapping[str, str], nonce: str) -> str:
    """``response_mode=form_post``: an auto-submitting form (with a button if scripts are off)."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    body = (
        f'<form method="post" action="{escape(action)}">{inputs}'
        "<noscript><p>Scripts are off: press Continue.</p></noscript>"
        '<button type="submit">Continue</button></form>'
    )
    return _page("Signing in…", body, script="document.forms[0].submit();", nonce=nonce)


def signed_out_page(*, note: str | None, nonce: str) -> str:
    extra = f"<p><small>{escape(note)}</small></p>" if note else ""
    return _page("Signed out", f"<h1>You are signed out</h1>{extra}", nonce=nonce)


def error_page(*, title: str, description: str, nonce: str) -> str:
    body = f"<h1>{escape(title)}</h1><p>{escape(description)}</p>"
    return _page(title, body, nonce=nonce)
