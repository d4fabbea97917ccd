#!/usr/bin/env bash
# Run every test binary under BUILD/tests and print one closing line:
#   "tests: N passed, N failed, N skipped"
# Each binary is a cmocka suite; we sum its own summary lines.
set -u
build=${1:-build}
export CMOCKA_MESSAGE_OUTPUT=stdout
export MIGRATABLE_BIN=$(realpath "$build/migratable")
export MIGRATABLE_WORKLOADS=$(realpath "$build/workloads")
passed=0 failed=0 skipped=0 crashed=0
for t in $(find "$build/tests" -type f -executable | sort); do
	name=${t#$build/tests/}
	echo "=== $name"
	log=$(mktemp)
	timeout 600 "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s), listed below:/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	rm -f "$log"
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "!!! $name exited with status $rc without a failed-test summary (crash?)"
		crashed=$((crashed + 1))
		failed=$((failed + 1))
	fi
done
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
