#!/usr/bin/env bash
# Run every test binary under BUILD/tests and print one closing line:
#   "tests: N passed, N failed, N skipped"
# Each binary is a cmocka suite; we sum its own summary lines.
#
# A test may skip only for a reason outside the project's control, which
# it names in a "tu-skip: CLASS: reason" line (tests/support/testutil.h).
# Every skip is listed with its reason.  With CI=true, a skip fails the
# run unless its class is one a CI machine may lack: no-shared (no
# ../shared) or no-privilege (not root, no ptrace); a CI machine installs
# everything else (scripts/install-deps.sh), and no test may skip for the
# CPU model.
set -u
build=${1:-build}
export CMOCKA_MESSAGE_OUTPUT=stdout
export MIGRATABLE_BIN=$(realpath "$build/migratable")
export MIGRATABLE_WORKLOADS=$(realpath "$build/workloads")
passed=0 failed=0 skipped=0 crashed=0 bad_skips=0
skips=$(mktemp)
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
	# Each skipped test with the last tu-skip line printed while it ran.
	awk -v suite="$name" '
		/^\[ RUN      \] / { reason = "" }
		/^tu-skip: / { reason = substr($0, 10) }
		/^\[  SKIPPED \] [^0-9]/ && !done[$4]++ {
			print suite "/" $4 "\t" (reason == "" ? "unnamed: no tu-skip reason" : reason)
		}' "$log" >>"$skips"
	rm -f "$log"
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "!!! $name exited with status $rc without a failed-test summary (crash?)"
		crashed=$((crashed + 1))
		failed=$((failed + 1))
	fi
done
if [ -s "$skips" ]; then
	echo "skipped tests:"
	while IFS=$'\t' read -r test reason; do
		echo "  $test: $reason"
		case $reason in
		no-shared:*|no-privilege:*) ;;
		*) bad_skips=$((bad_skips + 1)) ;;
		esac
	done <"$skips"
fi
rm -f "$skips"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "${CI:-}" = true ] && [ "$bad_skips" -gt 0 ]; then
	echo "CI: $bad_skips test(s) skipped for a reason a CI machine must not have (above)"
	exit 1
fi
[ "$failed" -eq 0 ]
