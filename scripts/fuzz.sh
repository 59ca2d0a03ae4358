#!/usr/bin/env bash
# Runs every fuzz target in the repository for a bounded time.
#   scripts/fuzz.sh [FUZZTIME]     FUZZTIME as for go test -fuzztime (default 20000x)
# A count (Nx) rather than a duration by default: Go 1.26's duration-based
# -fuzztime can end with a spurious "context deadline exceeded"
# (golang/go#75804); a count is just as bounded.
# Finds each `func FuzzXxx(` in *_test.go files and runs
#   go test -run '^$' -fuzz '^FuzzXxx$' -fuzztime FUZZTIME ./pkg
# one at a time (go test fuzzes one target per invocation). A failure
# leaves its input in pkg/testdata/fuzz/FuzzXxx/ — commit it as a regression.
set -euo pipefail
fuzztime="${1:-20000x}"
cd "$(dirname "$0")/.."

mapfile -t targets < <(
	grep -rEo --include='*_test.go' --exclude-dir=.git --exclude-dir=node_modules --exclude-dir=testdata \
		'^func Fuzz[A-Za-z0-9_]*\(' . |
		sed -E 's/^(.*)\/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($/\1 \2/' | sort -u
)
if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz.sh: no fuzz targets found"
	exit 0
fi
echo "fuzz.sh: ${#targets[@]} fuzz target(s), ${fuzztime} each"
for t in "${targets[@]}"; do
	pkg="${t% *}"
	name="${t#* }"
	echo "fuzz.sh: go test -run '^\$' -fuzz '^${name}\$' -fuzztime ${fuzztime} ${pkg}"
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "${fuzztime}" "${pkg}"
done
