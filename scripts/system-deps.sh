#!/usr/bin/env bash
# Make sure the Debian packages the test suite and benchmark need are present.
# As root: apt-get install what is missing. Otherwise: fail and say what to install.
# Never skips: the e2e tests and the benchmark need a real apache2 and wrk, the OIDC tests node.
set -euo pipefail

missing=()
[ -x /usr/sbin/apache2 ] || missing+=(apache2)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# Node.js runs the e2e tests' OpenID Provider (tests/support/op, `make node-deps`).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# mod_auth_openidc: Apache verifies X-Portcullis-Assertion against Portcullis' JWKS in the
# sign-in e2e tests, and is the `apache-openidc` comparison case of the benchmark.
[ -e /usr/lib/apache2/modules/mod_auth_openidc.so ] || missing+=(libapache2-mod-auth-openidc)
# nginx: the forward-auth e2e test puts a real nginx (auth_request) in front of Portcullis.
[ -x /usr/sbin/nginx ] || missing+=(nginx)
# curl: the demo test runs the exact `curl` line `make demo` prints for the demo bot.
command -v curl >/dev/null 2>&1 || missing+=(curl)

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$EUID" -ne 0 ]; then
    echo "missing system packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
