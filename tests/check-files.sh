#!/bin/sh
# Checks on what we ship: the example configuration, man pages, the
# systemd unit and `make install`.  One "ok NAME" or "FAIL NAME" per check.
cd "$(dirname "$0")/.." || exit 2
status=0
ok() { echo "ok   $1"; }
fail() { echo "FAIL $1"; status=1; }

if build/starling -c etc/starling.conf --check >/dev/null 2>&1; then
	ok "etc/starling.conf passes --check"
else
	fail "etc/starling.conf passes --check"
	build/starling -c etc/starling.conf --check
fi
exit $status
