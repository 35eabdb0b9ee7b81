#!/bin/sh
# make test: unit tests (plain and ASan/UBSan), checks on shipped files,
# then the integration suite against a private Prosody.  Ends with one
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

echo "== integration tests"
sh tests/run-integration.sh --junitxml=build/integration.xml
rc=$?
counts=$(/usr/bin/python3 - <<'PY'
import xml.etree.ElementTree as ET
try:
    root = ET.parse("build/integration.xml").getroot()
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
set -- $counts
p=$1
f=$2
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
add "$p" "$f"

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
