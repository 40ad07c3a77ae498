"""``clients: [...]``: the client app (``azp``/``appid``), as ``appid`` or ``tenant-id/appid``.

For a machine this is an explicit allowlist that admits it (like ``app_roles``); for a
person it names the app they came through. The tenant-scoped form only matches tokens
from that tenant.
"""

from __future__ import annotations

from portcullis.ids import GUID_RE
from portcullis.policy.criterion import Context, Criterion, PolicyError, PolicyProblem, string_list
from portcullis.policy.facts import Facts

NAME = "clients"


def compile(value: object, ctx: Context, path: str) -> Criterion:
    entries = string_list(value, path, what="client app id")
    problems = []
    for i, entry in enumerate(entries):
        tenant, slash, client = entry.rpartition("/")
        if not client or (slash and not GUID_RE.match(tenant.lower())):
            problems.append(
                PolicyProblem(f"{path}[{i}]", f"{entry!r} is not 'appid' or 'tenant-guid/appid'")
            )
    if problems:
        raise PolicyError(problems)
    listed = frozenset(e.lower() if "/" in e else e for e in entries)

    def test(facts: Facts) -> bool:
        identity = facts.identity
        client = identity.client_id
        if not client:
            return False
        if client in listed:
            return True
        tenant = identity.tenant_id
        return tenant is not None and f"{tenant}/{client}".lower() in listed

    return Criterion(
        NAME,
        test,
        "client app in " + ", ".join(entries),
        machines=True,
        grants=(("client apps", entries),),
    )
