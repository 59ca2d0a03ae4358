#!/bin/bash
# Before/after comparison of two Warren builds on the core scenarios, with
# warren perf's compare mode (A B A B ..., pair-wise ratios B/A):
#
#   OLD=/tmp/warren-old NEW=/tmp/warren-new SCEN="a b c p" ROUNDS=5 DUR=8 scripts/compare-builds.sh
#
# Build the two binaries first, e.g. with git worktree and go build.
set -e
OLD=${OLD:-/tmp/warren-old}; NEW=${NEW:-/tmp/warren-new}
D=$(mktemp -d)
$OLD server --data-dir $D/a --amqp-addr 127.0.0.1:25801 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 > $D/a.log 2>&1 &
PA=$!
$NEW server --data-dir $D/b --amqp-addr 127.0.0.1:25802 --http-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 > $D/b.log 2>&1 &
PB=$!
sleep 3
trap "kill $PA $PB; rm -rf $D" EXIT
declare -A F
F[a]="-x 1 -y 1 -s 16 -a"
F[b]="-x 1 -y 4 -s 256 -a -t fanout -e perf-fanout"
F[c]="-x 10 -y 10 -s 256 -q 100 --queue-pattern perf-%d --queue-pattern-from 1 --queue-pattern-to 10"
F[p]="-x 1 -y 1 -s 1024 -f persistent -c 256 -q 256"
for name in ${SCEN:-a c p}; do
  echo "=== scenario $name: ${F[$name]}"
  $NEW perf -h amqp://guest:guest@127.0.0.1:25801/ --compare amqp://guest:guest@127.0.0.1:25802/ --rounds ${ROUNDS:-4} -z ${DUR:-10} --broker-pid $PA --compare-pid $PB ${F[$name]} 2>&1 | tail -8
done
