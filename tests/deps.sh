#!/bin/sh
# Install the Debian packages Starling's build, tests and demo need.
# With --check only report what is missing.
PKGS="build-essential pkg-config libstrophe-dev libsqlite3-dev libconfig-dev
libssl-dev libpcre2-dev libcmocka-dev prosody lua-dbi-sqlite3 ejabberd
erlang-base python3-slixmpp
python3-pytest python3-pytest-xdist openssl sqlite3 mandoc man-db valgrind clang libclang-rt-14-dev
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
# Debian starts the packaged prosody and ejabberd (with a system-wide
# epmd) on install; the tests run their own.  A policy-rc.d answering 101
# keeps invoke-rc.d from starting them, for the length of the install.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	trap 'rm -f "$policy"' EXIT
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null || exit 1
# Stopped and disabled anyway (started before, or by a policy-rc.d that
# was already there).
for svc in prosody ejabberd; do
	case " $missing " in *" $svc "*) ;; *) continue ;; esac
	if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
		systemctl stop "$svc" >/dev/null 2>&1 || true
		systemctl disable "$svc" >/dev/null 2>&1 || true
	elif [ -x "/etc/init.d/$svc" ]; then
		"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
	fi
done
exit 0
