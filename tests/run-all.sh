#!/bin/sh
# make test: unit tests (plain and ASan/UBSan), checks on shipped files,
# then the integration suite against a private Prosody and its core
# (tests marked core) against a private ejabberd.  Ends with one
# line "N passed, M failed" covering everything; exits non-zero on any
# failure.
cd "$(dirname "$0")/.." || exit 2
mkdir -p build
total_p=0
total_f=0

add() { total_p=$((total_p + $1)); total_f=$((total_f + $2)); }

echo "== unit tests"
UNIT_COUNTS=build/unit-counts sh tests/run-unit.sh $1
read -r p f < build/unit-counts
add "$p" "$f"

echo "== shipped files"
sh tests/check-files.sh > build/files.log 2>&1
rc=$?
cat build/files.log
p=$(grep -c '^ok ' build/files.log)
f=$(grep -c '^FAIL ' build/files.log)
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
add "$p" "$f"

# junit_counts FILE RC: adds the passed and failed tests of a pytest run
# (its JUnit XML and exit code); a run that failed without a failed test
# in its XML (it never started, say) counts as one failure.
junit_counts() {
	counts=$(/usr/bin/python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 1")
    raise SystemExit
suites = [root] if root.tag == "testsuite" else list(root)
t = f = 0
for s in suites:
    t += int(s.get("tests", 0)) - int(s.get("skipped", 0))
    f += int(s.get("failures", 0)) + int(s.get("errors", 0))
print(t - f, f)
PY
)
	set -- $counts "$2"
	[ "$3" -ne 0 ] && [ "$2" -eq 0 ] && set -- "$1" 1
	add "$1" "$2"
}

echo "== integration tests (Prosody)"
rm -f build/integration.xml build/integration-ejabberd.xml
sh tests/run-integration.sh --junitxml=build/integration.xml
junit_counts build/integration.xml $?

# The essentials (tests marked core) again on ejabberd; make
# test-ejabberd runs the whole suite there.
echo "== integration tests (ejabberd, core)"
sh tests/run-integration.sh --server=ejabberd -m core \
	--junitxml=build/integration-ejabberd.xml
junit_counts build/integration-ejabberd.xml $?

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
