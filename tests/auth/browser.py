"""A tiny browser for sign-in tests: a cookie jar, and redirects followed only when asked."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html import unescape


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    set_cookies: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def form(self) -> tuple[str, dict[str, str]]:
        """An auto-submitting form_post page: its action and fields."""
        text = self.body.decode()
        action = unescape(re.search(r'action="([^"]+)"', text).group(1))  # type: ignore[union-attr]
        fields = {
            unescape(m.group(1)): unescape(m.group(2))
            for m in re.finditer(r'name="([^"]+)"\s+value="([^"]*)"', text)
        }
        return action, fields


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect
        )

    def request(
        self,
        url: str,
        *,
        method: str = "GET",
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with self._opener.open(req, timeout=10) as resp:
                return _response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            return _response(err.code, err.headers, err.read())

    def get(self, url: str, **kwargs: object) -> Response:
        return self.request(url, **kwargs)  # type: ignore[arg-type]

    def post(self, url: str, data: dict[str, str], **kwargs: object) -> Response:
        return self.request(url, method="POST", data=data, **kwargs)  # type: ignore[arg-type]

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def start_login(self, base: str, rd: str = "/") -> str:
        """/.portcullis/login → the IdP authorize URL."""
        resp = self.get(f"{base}/.portcullis/login?" + urllib.parse.urlencode({"rd": rd}))
        assert resp.status == 302, resp
        return resp.location

    def at_idp(self, authorize_url: str, user: str) -> Response:
        """The IdP signs ``user`` in (login_hint) and answers with a redirect or a form."""
        return self.get(authorize_url + "&" + urllib.parse.urlencode({"login_hint": user}))

    def finish(self, idp_answer: Response) -> Response:
        """Deliver the IdP's answer to the callback (query redirect or form_post)."""
        if idp_answer.status == 302:
            return self.get(idp_answer.location)
        action, fields = idp_answer.form()
        return self.post(action, fields)

    def login(self, base: str, user: str, rd: str = "/") -> Response:
        return self.finish(self.at_idp(self.start_login(base, rd), user))


def _response(status: int, headers: object, body: bytes) -> Response:
    items = headers.items()  # type: ignore[attr-defined]
    return Response(
        status,
        {k.lower(): v for k, v in items},
        body,
        [v for k, v in items if k.lower() == "set-cookie"],
    )
