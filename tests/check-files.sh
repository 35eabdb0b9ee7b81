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
if DEMO_BATCH=1 timeout 300 /usr/bin/python3 tests/demo/demo.py \
	>build/demo.log 2>&1; then
	ok "make demo DEMO_BATCH=1 (every step got its answer)"
else
	fail "make demo DEMO_BATCH=1"
	tail -30 build/demo.log
fi
exit $status
