"""Identity header lines → Variable-PORTCULLIS_* lines for mod_authnz_fcgi."""

from __future__ import annotations

from portcullis.config.auth_schema import IdentityHeaders
from portcullis.fastcgi.variables import IdentityVariables

LINES = (
    b"X-Portcullis-User: https://op.test#alice\r\n"
    b"X-Portcullis-Kind: user\r\n"
    b"X-Portcullis-Tenant: 72f988bf-86f1-41af-91ab-2d7cd011db47\r\n"
    b"X-Portcullis-Email: alice@example.test\r\n"
    b"X-Portcullis-Name: Al\xc3\xafce\r\n"
    b"X-Portcullis-Roles: Portal.Admin,Reports.Read\r\n"
    b"X-Portcullis-Groups: \r\n"
    b"X-Portcullis-Client: app-1\r\n"
    b"X-Portcullis-Assertion: eyJ.eyJ.sig\r\n"
)


def test_every_identity_header_becomes_its_variable() -> None:
    assert IdentityVariables().lines(LINES) == (
        b"Variable-PORTCULLIS_USER: https://op.test#alice\r\n"
        b"Variable-PORTCULLIS_KIND: user\r\n"
        b"Variable-PORTCULLIS_TENANT: 72f988bf-86f1-41af-91ab-2d7cd011db47\r\n"
        b"Variable-PORTCULLIS_EMAIL: alice@example.test\r\n"
        b"Variable-PORTCULLIS_NAME: Al\xc3\xafce\r\n"
        b"Variable-PORTCULLIS_ROLES: Portal.Admin,Reports.Read\r\n"
        b"Variable-PORTCULLIS_GROUPS: \r\n"
        b"Variable-PORTCULLIS_CLIENT: app-1\r\n"
        b"Variable-PORTCULLIS_ASSERTION: eyJ.eyJ.sig\r\n"
    )


def test_the_variable_names_are_fixed_whatever_the_header_names() -> None:
    names = IdentityHeaders(user="Remote-Principal", roles="X-Auth-Roles")
    variables = IdentityVariables(names)
    lines = (
        b"Remote-Principal: alice\r\nx-auth-roles: A\r\n"
        b"X-Portcullis-User: not-a-configured-name\r\n"
    )
    assert variables.lines(lines) == (
        b"Variable-PORTCULLIS_USER: alice\r\nVariable-PORTCULLIS_ROLES: A\r\n"
    )
    # one variable per identity header, named after its key in auth.headers
    assert variables.names == tuple(f"PORTCULLIS_{f.upper()}" for f in IdentityHeaders.model_fields)
    assert {
        "PORTCULLIS_USER",
        "PORTCULLIS_EMAIL",
        "PORTCULLIS_NAME",
        "PORTCULLIS_ROLES",
        "PORTCULLIS_GROUPS",
        "PORTCULLIS_TENANT",
        "PORTCULLIS_KIND",
        "PORTCULLIS_CLIENT",
        "PORTCULLIS_ASSERTION",
    } <= set(variables.names)


def test_no_identity_no_variables() -> None:
    assert IdentityVariables().lines(b"") == b""


def test_the_mapping_is_remembered_per_header_block() -> None:
    variables = IdentityVariables()
    first = variables.lines(LINES)
    assert variables.lines(LINES) is first
