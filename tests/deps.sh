#!/bin/sh
# Install the Debian packages Starling's build, tests and demo need.
# With --check only report what is missing.
PKGS="build-essential pkg-config libstrophe-dev libsqlite3-dev libconfig-dev
libssl-dev libpcre2-dev libcmocka-dev prosody lua-dbi-sqlite3 python3-slixmpp
python3-pytest openssl sqlite3 mandoc man-db valgrind clang libclang-rt-14-dev
systemd procps clang-format"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$1" = "--check" ]; then
	echo "missing packages:$missing"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing" >&2
	echo "run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || exit 1
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null || exit 1
# Debian starts a system-wide prosody on install; the tests run their own.
if command -v systemctl >/dev/null 2>&1; then
	systemctl stop prosody >/dev/null 2>&1 || true
fi
exit 0
