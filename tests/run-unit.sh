#!/bin/sh
# Run cmocka unit test binaries; print per-binary results and, as the last
# line, "N passed, M failed".  Exit non-zero if anything failed.
# With UNIT_COUNTS=FILE, write "passed failed" there instead of printing
# the summary (run-all.sh adds the counts up).
passed=0
failed=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or sanitizer abort: count the binary as a failure
	fi
	if [ "$f" -ne 0 ]; then
		printf '%s\n' "$out"
		echo "FAIL $t ($p passed, $f failed)"
	else
		echo "ok   $t ($p passed)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done
if [ -n "$UNIT_COUNTS" ]; then
	echo "$passed $failed" > "$UNIT_COUNTS"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
