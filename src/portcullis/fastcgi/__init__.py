"""Portcullis as a FastCGI authorizer (Apache's mod_authnz_fcgi): see docs/apache.md.

- :mod:`~portcullis.fastcgi.protocol`: FastCGI records and name-value pairs (pure).
- :mod:`~portcullis.fastcgi.server`: an asyncio FastCGI server for the Authorizer role.
- :mod:`~portcullis.fastcgi.params`: CGI parameters → the request head the gate reads.
- :mod:`~portcullis.fastcgi.variables`: identity header lines → ``Variable-PORTCULLIS_*``.
- :mod:`~portcullis.fastcgi.authorizer`: the handler: route, gate, CGI response.
- :mod:`~portcullis.fastcgi.listen`: the listener each worker runs.
"""

from portcullis.fastcgi.authorizer import Authorizer
from portcullis.fastcgi.listen import AuthorizerService, bind_before_fork
from portcullis.fastcgi.server import FastCgiServer
from portcullis.fastcgi.variables import IdentityVariables

__all__ = [
    "Authorizer",
    "AuthorizerService",
    "FastCgiServer",
    "IdentityVariables",
    "bind_before_fork",
]
