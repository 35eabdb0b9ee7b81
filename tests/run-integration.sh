#!/bin/sh
# Integration tests: pytest with real slixmpp clients against a private
# server per test: Prosody, or ejabberd with --server=ejabberd (or
# STARLING_SERVER=ejabberd).  Debian's python3 (with slixmpp and pytest)
# is used on purpose: a python3 earlier on PATH may lack them.  Every
# test has its own server, bot and ports, so they run INTEGRATION_JOBS at
# a time (pytest-xdist; default 3: most of a test is waiting on the
# network).  Extra arguments go to pytest.
cd "$(dirname "$0")/.." || exit 2
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider -W ignore \
	-n "${INTEGRATION_JOBS:-3}" tests/integration "$@"
