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
# Every C source formatted with the repo's .clang-format.
unformatted=""
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || ls common/*.[ch] storage/*.[ch] bot/*.[ch]); do
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted="$unformatted $f"
done
if [ -z "$unformatted" ]; then
	ok "every C source is formatted with .clang-format"
else
	fail "every C source is formatted with .clang-format:$unformatted"
fi
# Include arrows run one way: bot -> storage -> common.
arrows=$(grep -n '#include "\.\./\(bot\|storage\)/' common/*.[ch] 2>/dev/null;
	grep -n '#include "\.\./bot/' storage/*.[ch] 2>/dev/null)
if [ -z "$arrows" ]; then
	ok "includes run one way: bot/ -> storage/ -> common/"
else
	fail "includes run one way: bot/ -> storage/ -> common/"
	echo "$arrows"
fi
# make install / uninstall with PREFIX and DESTDIR.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expected="etc/starling/starling.conf.example
usr/bin/starling
usr/lib/systemd/system/starling.service
usr/share/man/man5/starling.conf.5
usr/share/man/man8/starling.8"
make -s install DESTDIR="$tmp/root" PREFIX=/usr SYSCONFDIR=/etc >/dev/null 2>&1
got=$(cd "$tmp/root" 2>/dev/null && find . -type f | sed 's|^\./||' | sort)
if [ "$got" = "$expected" ] && [ -x "$tmp/root/usr/bin/starling" ] &&
	grep -q "^ExecStart=/usr/bin/starling -c /etc/starling/starling.conf$" \
		"$tmp/root/usr/lib/systemd/system/starling.service"; then
	ok "make install DESTDIR PREFIX installs binary, man pages, example, unit"
else
	fail "make install DESTDIR PREFIX installs binary, man pages, example, unit"
	echo "$got"
fi
make -s uninstall DESTDIR="$tmp/root" PREFIX=/usr SYSCONFDIR=/etc >/dev/null 2>&1
if [ -z "$(cd "$tmp/root" && find . -type f)" ]; then
	ok "make uninstall removes them"
else
	fail "make uninstall removes them"
fi

# Man pages lint clean.
for page in bot/starling.8 etc/starling.conf.5; do
	if mandoc -Tlint -W warning "$page" >"$tmp/lint" 2>&1 &&
		[ ! -s "$tmp/lint" ] &&
		[ -z "$(man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)" ]; then
		ok "$page lints clean (mandoc -Tlint, man --warnings)"
	else
		fail "$page lints clean"
		cat "$tmp/lint"
	fi
done

# The unit: systemd-analyze verify, and an exposure of 2.0 or lower.
mkdir -p "$tmp/unit"
sed "s|@BINDIR@|$PWD/build|g; s|@SYSCONFDIR@|/etc|g" systemd/starling.service \
	>"$tmp/unit/starling.service"
if command -v systemd-analyze >/dev/null 2>&1; then
	if systemd-analyze verify --man=no "$tmp/unit/starling.service" \
		>"$tmp/verify" 2>&1 && [ ! -s "$tmp/verify" ]; then
		ok "systemd-analyze verify starling.service"
	else
		fail "systemd-analyze verify starling.service"
		cat "$tmp/verify"
	fi
	exposure=$(systemd-analyze security --offline=yes \
		"$tmp/unit/starling.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for starling.service: \([0-9.]*\).*/\1/p')
	if [ -n "$exposure" ] &&
		awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
		ok "systemd-analyze security: exposure $exposure <= 2.0"
	else
		fail "systemd-analyze security: exposure '$exposure' <= 2.0"
	fi
else
	fail "systemd-analyze is not installed"
fi

if DEMO_BATCH=1 timeout 300 /usr/bin/python3 tests/demo/demo.py \
	>build/demo.log 2>&1; then
	ok "make demo DEMO_BATCH=1 (every step got its answer)"
else
	fail "make demo DEMO_BATCH=1"
	tail -30 build/demo.log
fi
exit $status
