#!/usr/bin/env bash
# Warren vs RabbitMQ 3.10.8, side by side, measured in one run with the same
# client (`warren perf`), alternating the brokers scenario by scenario:
#
#   a  1 producer -> 1 consumer, 16 B transient, autoack
#   b  fanout, 1 producer -> 4 queues (a consumer each), 256 B, autoack
#   c  10 producers / 10 consumers / 10 queues, 256 B, manual acks, prefetch 100
#   d  end-to-end latency at a fixed 2,000 msg/s, 1 -> 1, 16 B, manual acks
#      (run BENCH_D_REPEAT times per broker and round, alternating; the
#      median of the runs' percentiles is reported, as one run's p99 is
#      mostly the machine's scheduling noise)
#   p  1 -> 1, 1 KiB persistent, durable queue, confirms, manual acks
#   n  connection churn: BENCH_CHURN connections each doing the handshake,
#      channel.open and close, 1 and then 4 at a time (BENCH_CHURN_PARALLEL)
#   e  broker RSS with 10,000 idle connections, and with 10,000 idle queues
#   g  a 2,000,000-message persistent backlog, published then drained
#
# For a-c: delivered msg/s (the consumers' total) and broker CPU µs per
# delivered message, from utime+stime in /proc/PID/stat at the start and
# the end of the measured window (warren perf --broker-pid reads them, so
# connection setup and teardown are not counted); for d: latency p50/p99;
# for n: connections/s and broker CPU µs per connection (the same
# /proc reading around the churn); for e: VmRSS from /proc/PID/status. Prints a
# markdown table with Warren/RabbitMQ ratios; see docs/benchmarks.md.
#
# Needs: go, rabbitmq-server (scripts/test-deps.sh installs it), root or
# enough `ulimit -n` for 10,000 connections. RabbitMQ runs as a private
# node (own node name, ports, epmd, data in the work dir), started with the
# same environment as internal/warrentest/rabbitmq.go, without plugins.
#
# Environment:
#   BENCH_DURATION   seconds per scenario and broker (15)
#   BENCH_ROUNDS     rounds; each round alternates which broker goes first (1)
#   BENCH_SCENARIOS  subset to run, e.g. "a d" (a b c d p n e g)
#   BENCH_D_REPEAT   runs of d per broker and round (3)
#   BENCH_CHURN      connections per churn run in n (2000)
#   BENCH_CHURN_PARALLEL  connections at a time in n, one run each ("1 4")
#   BENCH_BACKLOG    messages in the backlog scenario g (2000000)
#   BENCH_IDLE       connections / queues for e (10000)
#   BENCH_CONN_RATE  connections (and queue declarations) per second for e (500)
#   BENCH_DIR        work directory (a new /tmp/warren-bench.XXXXXX)
#   BENCH_KEEP       1 keeps the work directory (logs, JSON reports)
set -euo pipefail
cd "$(dirname "$0")/.."

DUR=${BENCH_DURATION:-15}
ROUNDS=${BENCH_ROUNDS:-1}
SCENARIOS=${BENCH_SCENARIOS:-"a b c d p n e g"}
D_REPEAT=${BENCH_D_REPEAT:-3}
CHURN=${BENCH_CHURN:-2000}
CHURN_PAR=${BENCH_CHURN_PARALLEL:-"1 4"}
BACKLOG=${BENCH_BACKLOG:-2000000}
IDLE=${BENCH_IDLE:-10000}
CONN_RATE=${BENCH_CONN_RATE:-500}
WORK=${BENCH_DIR:-$(mktemp -d /tmp/warren-bench.XXXXXX)}
mkdir -p "$WORK"

say() { echo "bench: $*" >&2; }

# --- the brokers: start, stop, cleanup -------------------------------------
WARREN_PID= WADDR= RMQ_SH= RMQ_PID= RPORT= EPMD_PID= NSTART=0

stop_warren() {
	[ -n "$WARREN_PID" ] || return 0
	kill "$WARREN_PID" 2>/dev/null
	wait "$WARREN_PID" 2>/dev/null || true
	WARREN_PID=
}

stop_rabbitmq() {
	if [ -n "$RMQ_SH" ]; then
		kill -TERM "$RMQ_SH" 2>/dev/null # its trap stops the node gracefully
		(sleep 30 && kill -KILL "$RMQ_SH" ${RMQ_PID:+"$RMQ_PID"}) 2>/dev/null &
		local killer=$!
		wait "$RMQ_SH" 2>/dev/null || true
		kill "$killer" 2>/dev/null
		wait "$killer" 2>/dev/null || true
	fi
	if [ -n "$EPMD_PID" ]; then
		kill "$EPMD_PID" 2>/dev/null
		wait "$EPMD_PID" 2>/dev/null || true
	fi
	RMQ_SH= RMQ_PID= EPMD_PID=
}

cleanup() {
	set +e
	stop_warren
	stop_rabbitmq
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback TCP port nobody listens on, from 20000 up to
# the kernel's ephemeral range (where the churn's and the tests' client
# sockets may hold a port in TIME_WAIT, which makes a later bind fail) and
# below 55000 (Erlang's CLI uses the distribution port + 10000).
EPHEMERAL_LO=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
PORT_HI=$((EPHEMERAL_LO < 55000 ? EPHEMERAL_LO : 55000))
[ "$PORT_HI" -gt 21000 ] || PORT_HI=50000
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % (PORT_HI - 20000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			case " ${USED_PORTS:-} " in *" $p "*) continue ;; esac
			USED_PORTS="${USED_PORTS:-} $p"
			echo "$p"
			return
		fi
	done
}

# amqp_ready PORT: does the port answer the AMQP header with a method frame?
amqp_ready() {
	local b
	b=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf "AMQP\000\000\011\001" >&3
		head -c 1 <&3 | od -An -tx1' _ "$1" 2>/dev/null) || return 1
	[ "$(echo $b)" = 01 ]
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; } # open files (sockets included)

# start_warren [DATA_DIR]: a node on an ephemeral port, with a fresh data
# dir unless one is given (a restart).
start_warren() {
	NSTART=$((NSTART + 1))
	local log=$WORK/warren-$NSTART.log
	WDATA=${1:-$WORK/warren-data-$NSTART}
	say "starting warren"
	"$W" server --amqp-addr 127.0.0.1:0 --http-addr '' --metrics-addr '' --cluster-addr '' \
		--data-dir "$WDATA" >"$log" 2>&1 &
	WARREN_PID=$!
	WADDR=
	for _ in $(seq 1 200); do
		WADDR=$(sed -n 's/.*msg="amqp listening on \([^"]*\)".*/\1/p' "$log" | head -1)
		[ -n "$WADDR" ] && break
		kill -0 "$WARREN_PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.05
	done
	[ -n "$WADDR" ] || { say "warren did not listen"; cat "$log" >&2; exit 1; }
	FDS0[warren]=$(fds "$WARREN_PID")
	say "warren pid $WARREN_PID at $WADDR"
}

# start_rabbitmq [ATTEMPT]: a fresh private node, with the environment of
# internal/warrentest/rabbitmq.go (minus NOTIFY_SOCKET and plugins).
RMQ_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
start_rabbitmq() {
	[ -x "$RMQ_SERVER" ] || { say "rabbitmq-server not installed (run scripts/test-deps.sh)"; exit 1; }
	NSTART=$((NSTART + 1))
	local R=$WORK/rabbitmq-$NSTART DPORT EPORT
	say "starting rabbitmq"
	mkdir -p "$R/home" "$R/mnesia" "$R/log"
	RPORT=$(free_port) DPORT=$(free_port) EPORT=$(free_port)
	head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F >"$R/home/.erlang.cookie"
	chmod 600 "$R/home/.erlang.cookie"
	echo "[]." >"$R/enabled_plugins"
	printf 'listeners.tcp.default = 127.0.0.1:%s\nlog.file.level = info\n' "$RPORT" >"$R/rabbitmq.conf"
	local env=(
		HOME="$R/home"
		RABBITMQ_NODENAME="rabbit-bench-$$-$NSTART@localhost"
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
		RABBITMQ_NODE_PORT="$RPORT"
		RABBITMQ_DIST_PORT="$DPORT"
		ERL_EPMD_PORT="$EPORT"
		ERL_EPMD_ADDRESS=127.0.0.1
		RABBITMQ_MNESIA_BASE="$R/mnesia"
		RABBITMQ_LOG_BASE="$R/log"
		RABBITMQ_CONFIG_FILE="$R/rabbitmq.conf"
		RABBITMQ_ADVANCED_CONFIG_FILE="$R/advanced.config"
		RABBITMQ_CONF_ENV_FILE="$R/rabbitmq-env.conf"
		RABBITMQ_ENABLED_PLUGINS_FILE="$R/enabled_plugins"
		RABBITMQ_PID_FILE="$R/rabbitmq.pid"
	)
	env "${env[@]}" epmd -port "$EPORT" -address 127.0.0.1 >/dev/null 2>&1 &
	EPMD_PID=$!
	(cd "$R" && exec env "${env[@]}" "$RMQ_SERVER") >"$R/out.log" 2>&1 &
	RMQ_SH=$!
	RMQ_PID=
	for _ in $(seq 1 1200); do
		[ -z "$RMQ_PID" ] && RMQ_PID=$(pgrep -P "$RMQ_SH" -x beam.smp || true)
		amqp_ready "$RPORT" && break
		if ! kill -0 "$RMQ_SH" 2>/dev/null; then
			# A port picked by free_port can be taken by someone else
			# before the node binds it (a shared machine): try new ones.
			if grep -q already_used "$R/out.log" && [ "${1:-0}" -lt 3 ]; then
				say "rabbitmq: a port was taken meanwhile; retrying with new ports"
				wait "$RMQ_SH" 2>/dev/null || true
				kill "$EPMD_PID" 2>/dev/null || true
				wait "$EPMD_PID" 2>/dev/null || true
				RMQ_SH= RMQ_PID= EPMD_PID=
				start_rabbitmq $((${1:-0} + 1))
				return
			fi
			cat "$R/out.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	amqp_ready "$RPORT" || { say "rabbitmq did not start"; cat "$R/out.log" >&2; exit 1; }
	[ -n "$RMQ_PID" ] || RMQ_PID=$(pgrep -P "$RMQ_SH" -x beam.smp)
	FDS0[rabbitmq]=$(fds "$RMQ_PID")
	say "rabbitmq beam.smp pid $RMQ_PID at 127.0.0.1:$RPORT"
}

# --- build ---------------------------------------------------------------------
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
say "ulimit -n $(ulimit -n); work dir $WORK"
say "go build ./cmd/warren"
go build -o "$WORK/warren" ./cmd/warren
W="$WORK/warren"
declare -A FDS0

url_of() { if [ "$1" = warren ]; then echo "amqp://guest:guest@$WADDR/"; else echo "amqp://guest:guest@127.0.0.1:$RPORT/"; fi; }
pid_of() { if [ "$1" = warren ]; then echo "$WARREN_PID"; else echo "$RMQ_PID"; fi; }

# --- measurements ------------------------------------------------------------
declare -A RECV SENT DURS CPU P50 P99 CLIENT
# perf_run SCENARIO BROKER ARGS...: one run; accumulates into the arrays.
# warren perf reads the broker's CPU time (/proc/PID/stat) at the start and
# the end of its measured window (--broker-pid), and its own (getrusage).
perf_run() {
	local sc=$1 b=$2
	shift 2
	local log
	log=$WORK/$sc-$b-${round:-1}-${rep:-1}.log
	settle "$b"
	say "$sc $b: warren perf $*"
	"$W" perf -h "$(url_of "$b")" --broker-pid "$(pid_of "$b")" -d "$sc-$b" -z "$DUR" \
		--json "$WORK/$sc-$b-${round:-1}-${rep:-1}.json" "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
	local sent recv dur bcpu ccpu lat
	# id: X, sent N, confirmed N, returned N, received N messages in D s
	read -r sent recv dur < <(sed -n 's/.*, sent \([0-9]*\), .*, received \([0-9]*\) messages in \([0-9.]*\) s$/\1 \2 \3/p' "$log")
	SENT[$sc-$b]=$((${SENT[$sc-$b]:-0} + sent))
	# id: X, broker CPU S s, U µs per message, VmRSS K KiB
	bcpu=$(sed -n 's/.*, broker CPU \([0-9.]*\) s,.*/\1/p' "$log")
	# id: X, client CPU S s, U µs per message
	ccpu=$(sed -n 's/.*, client CPU \([0-9.]*\) s,.*/\1/p' "$log")
	RECV[$sc-$b]=$((${RECV[$sc-$b]:-0} + recv))
	DURS[$sc-$b]=$(awk -v a="${DURS[$sc-$b]:-0}" -v b="$dur" 'BEGIN { print a + b }')
	CPU[$sc-$b]=$(awk -v a="${CPU[$sc-$b]:-0}" -v b="$bcpu" 'BEGIN { print a + b }')
	CLIENT[$sc-$b]=$(awk -v a="${CLIENT[$sc-$b]:-0}" -v b="$ccpu" 'BEGIN { print a + b }')
	# consumer latency min/median/75th/95th/99th: a/b/c/d/e µs
	lat=$(sed -n 's/.*consumer latency min\/median\/75th\/95th\/99th: \([0-9.\/]*\) µs.*/\1/p' "$log")
	# every run's percentiles, space-separated; the table shows the median
	P50[$sc-$b]="${P50[$sc-$b]:-} $(echo "$lat" | cut -d/ -f2)"
	P99[$sc-$b]="${P99[$sc-$b]:-} $(echo "$lat" | cut -d/ -f5)"
	tail -5 "$log" | sed 's/^/    /' >&2
	sleep 3 # let the broker settle (auto-delete queues go away)
}

scenario_args() {
	case $1 in
	a) echo "-x 1 -y 1 -u bench-a -s 16 -a" ;;
	b) echo "-x 1 -y 4 -t fanout -e bench-b -s 256 -a" ;;
	c) echo "-x 10 -y 10 --queue-pattern bench-c-%d --queue-pattern-from 1 --queue-pattern-to 10 -s 256 -q 100" ;;
	d) echo "-x 1 -y 1 -u bench-d -s 16 -r 2000 -q 100" ;;
	p) echo "-x 1 -y 1 -u bench-p -s 1024 -f persistent -c 256 -q 256" ;;
	esac
}

# churn_run BROKER PARALLEL: scenario n, $CHURN connections (handshake,
# channel.open, close), PARALLEL at a time; warren perf reads the broker's
# CPU time around the whole churn.
declare -A NRATE NCPU NP50 NP99
churn_run() {
	local b=$1 par=$2 log k=$2-$1
	log=$WORK/n$par-$b-${round:-1}.log
	settle "$b"
	say "n $b: warren perf --connection-churn $CHURN -x $par"
	"$W" perf -h "$(url_of "$b")" --broker-pid "$(pid_of "$b")" -d "n$par-$b" --connection-churn "$CHURN" -x "$par" \
		--json "$WORK/n$par-$b-${round:-1}.json" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
	# id: X, N connections opened and closed in D s, R connections/s, P at a time
	NRATE[$k]="${NRATE[$k]:-} $(sed -n 's/.* opened and closed in [0-9.]* s, \([0-9.]*\) connections\/s.*/\1/p' "$log")"
	# id: X, broker CPU S s, U µs per connection, VmRSS K KiB
	NCPU[$k]="${NCPU[$k]:-} $(sed -n 's/.*, broker CPU [0-9.]* s, \([0-9.]*\) µs per connection.*/\1/p' "$log")"
	local lat
	lat=$(sed -n 's/.*open latency min\/median\/75th\/95th\/99th: \([0-9.\/]*\) µs.*/\1/p' "$log")
	NP50[$k]="${NP50[$k]:-} $(echo "$lat" | cut -d/ -f2)"
	NP99[$k]="${NP99[$k]:-} $(echo "$lat" | cut -d/ -f5)"
	tail -4 "$log" | sed 's/^/    /' >&2
	sleep 3
}

# settle BROKER: wait (up to 3 min) until the broker has closed what the
# last test opened (its open file count is back near the one it started
# with) and answers a new connection.
settle() {
	local pid n
	pid=$(pid_of "$1")
	local port=${WADDR##*:}
	[ "$1" = rabbitmq ] && port=$RPORT
	for _ in $(seq 1 360); do
		n=$(fds "$pid")
		[ "$n" -le $((${FDS0[$1]} + 20)) ] && amqp_ready "$port" && return
		sleep 0.5
	done
	say "$1 still has $n open files (started with ${FDS0[$1]})"
}

# idle_rss MODE BROKER: broker VmRSS (KiB) before and while perf holds
# $IDLE idle connections or queues.
declare -A RSS0 RSS1 OPEN_S
idle_rss() {
	local mode=$1 b=$2 pid url log
	log=$WORK/e-$mode-$b.log
	pid=$(pid_of "$b")
	url=$(url_of "$b")
	settle "$b"
	sleep 2
	RSS0[$mode-$b]=$(rss_kb "$pid")
	say "e $b: warren perf --idle-$mode $IDLE --connection-rate $CONN_RATE"
	"$W" perf -h "$url" -d "e-$mode-$b" "--idle-$mode" "$IDLE" --connection-rate "$CONN_RATE" -z 3600 >"$log" 2>&1 &
	local ppid=$!
	until grep -q '^idle: ready' "$log"; do
		kill -0 "$ppid" 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.5
	done
	OPEN_S[$mode-$b]=$(sed -n 's/^idle: ready, .* in \([0-9.]*\) s$/\1/p' "$log")
	sleep 5 # settle
	RSS1[$mode-$b]=$(rss_kb "$pid")
	kill -INT "$ppid"
	wait "$ppid" || true
	say "  $mode: rss ${RSS0[$mode-$b]} -> ${RSS1[$mode-$b]} KiB"
	settle "$b"
}

# backlog_run BROKER: scenario g. Publish $BACKLOG persistent 1 KiB
# messages to a durable queue nobody consumes (confirms, 256 in flight),
# then drain them; the broker's peak RSS is sampled throughout. For Warren
# the node is restarted between the two, and the time until it answers
# AMQP again, with the backlog on disk, is the restart time.
declare -A GPUB GDRAIN GPEAK GRESTART
backlog_run() {
	local b=$1 log pid peakf sampler
	settle "$b"
	pid=$(pid_of "$b")
	peakf=$WORK/g-$b.peak
	echo 0 >"$peakf"
	sample_peak() { local r; while sleep 0.2; do r=$(rss_kb "$(pid_of "$b")" 2>/dev/null) || continue
		[ "${r:-0}" -gt "$(cat "$peakf")" ] && echo "$r" >"$peakf"; done; }
	sample_peak &
	sampler=$!
	log=$WORK/g-pub-$b.log
	say "g $b: warren perf -x 1 -y 0 -u bench-g -s 1024 -f persistent -c 256 -ad false -C $BACKLOG"
	"$W" perf -h "$(url_of "$b")" -d "g-pub-$b" -x 1 -y 0 -u bench-g -s 1024 -f persistent -c 256 \
		--auto-delete false -C "$BACKLOG" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
	GPUB[$b]=$(sed -n 's/.*sending rate avg: \([0-9]*\) msg\/s.*/\1/p' "$log")
	tail -2 "$log" | sed 's/^/    /' >&2
	if [ "$b" = warren ]; then
		kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
		local data=$WDATA t0 t1
		stop_warren
		t0=$(date +%s.%N)
		start_warren "$data"
		t1=$(date +%s.%N)
		GRESTART[$b]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		say "  warren restarted with the backlog in ${GRESTART[$b]} s"
		sample_peak &
		sampler=$!
	fi
	log=$WORK/g-drain-$b.log
	say "g $b: warren perf -x 0 -y 1 -u bench-g -p -q 1000 -ad false -D $BACKLOG"
	"$W" perf -h "$(url_of "$b")" -d "g-drain-$b" -x 0 -y 1 -u bench-g -p -q 1000 \
		--auto-delete false -D "$BACKLOG" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
	GDRAIN[$b]=$(sed -n 's/.*receiving rate avg: \([0-9]*\) msg\/s.*/\1/p' "$log")
	tail -2 "$log" | sed 's/^/    /' >&2
	kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
	GPEAK[$b]=$(cat "$peakf")
}

# --- run ---------------------------------------------------------------------
# Throughput and latency first, then memory on freshly started brokers, so
# neither part inherits the other's garbage (a backlog from (c) stays in a
# broker's heap; 10,000 connections keep RabbitMQ busy for minutes).
START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
order=(warren rabbitmq)
traffic=
for sc in $SCENARIOS; do case $sc in e | g) ;; *) traffic=1 ;; esac; done
if [ -n "$traffic" ]; then
	start_warren
	start_rabbitmq
	for round in $(seq 1 "$ROUNDS"); do
		for sc in $SCENARIOS; do
			case $sc in
			e | g) continue ;;
			n)
				for par in $CHURN_PAR; do
					for b in "${order[@]}"; do churn_run "$b" "$par"; done
				done
				continue
				;;
			esac
			reps=1
			[ "$sc" = d ] && reps=$D_REPEAT
			for rep in $(seq 1 "$reps"); do
				# shellcheck disable=SC2046
				for b in "${order[@]}"; do perf_run "$sc" "$b" $(scenario_args "$sc"); done
			done
			rep=1
		done
		order=("${order[1]}" "${order[0]}") # A/B, then B/A
	done
fi
case " $SCENARIOS " in *" g "*)
	if [ -n "$traffic" ]; then
		stop_warren
		stop_rabbitmq
	fi
	start_warren
	start_rabbitmq
	for b in warren rabbitmq; do backlog_run "$b"; done
	traffic=1
	;;
esac
case " $SCENARIOS " in *" e "*)
	if [ -n "$traffic" ]; then
		stop_warren
		stop_rabbitmq
	fi
	start_warren
	start_rabbitmq
	order=(warren rabbitmq)
	# Queues first: they leave less behind in the broker's heap than
	# 10,000 connections do, so the second baseline is cleaner.
	for b in "${order[@]}"; do idle_rss queues "$b"; done
	for b in "${order[@]}"; do idle_rss connections "$b"; done
	;;
esac

# --- table -------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# median of space-separated numbers
median() { echo "$@" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# the runs' values, for the record
runs() { echo "$@" | xargs | tr ' ' '/'; }
rate() { awk -v n="${RECV[$1]:-0}" -v d="${DURS[$1]:-0}" 'BEGIN { if (d > 0) printf "%d", n / d; else print 0 }'; }
sent_rate() { awk -v n="${SENT[$1]:-0}" -v d="${DURS[$1]:-0}" 'BEGIN { if (d > 0) printf "%d", n / d; else print 0 }'; }
cpu_us() { awk -v t="${CPU[$1]:-0}" -v n="${RECV[$1]:-0}" 'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / n; else print "-" }'; }
client_us() { awk -v t="${CLIENT[$1]:-0}" -v n="${RECV[$1]:-0}" 'BEGIN { if (n > 0) printf "%.2f", t * 1e6 / n; else print "-" }'; }

echo
echo "Warren vs RabbitMQ 3.10.8, $(nproc) cores, $START, ${DUR}s per scenario and broker, $ROUNDS round(s)"
case " $SCENARIOS " in *" a "* | *" b "* | *" c "* | *" d "* | *" p "*)
	echo
	echo "| scenario | Warren msg/s | RabbitMQ msg/s | W/R msg/s | Warren CPU µs/msg | RabbitMQ CPU µs/msg | W/R CPU/msg | published msg/s W / R | client CPU µs/msg W / R |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	;;
esac
desc() {
	case $1 in
	a) echo "a: 1→1, 16 B, autoack" ;;
	b) echo "b: fanout 1→4, 256 B, autoack" ;;
	c) echo "c: 10→10, 10 queues, 256 B, acks, prefetch 100" ;;
	d) echo "d: 1→1 at 2,000 msg/s, 16 B, acks" ;;
	p) echo "p: 1→1, 1 KiB persistent, durable queue, confirms (256 in flight), acks, prefetch 256" ;;
	esac
}
for sc in $SCENARIOS; do
	case $sc in e | g | n) continue ;; esac
	wr=$(rate "$sc-warren") rr=$(rate "$sc-rabbitmq")
	wc=$(cpu_us "$sc-warren") rc=$(cpu_us "$sc-rabbitmq")
	echo "| $(desc "$sc") | $wr | $rr | $(ratio "$wr" "$rr") | $wc | $rc | $(ratio "$wc" "$rc") | $(sent_rate "$sc-warren") / $(sent_rate "$sc-rabbitmq") | $(client_us "$sc-warren") / $(client_us "$sc-rabbitmq") |"
done
case " $SCENARIOS " in *" d "*)
	echo
	echo "| latency at 2,000 msg/s (d), median of $((D_REPEAT * ROUNDS)) runs each | Warren | RabbitMQ | W/R | Warren runs | RabbitMQ runs |"
	echo "|---|---:|---:|---:|---|---|"
	w=$(median ${P50[d-warren]}) r=$(median ${P50[d-rabbitmq]})
	echo "| p50 µs | $w | $r | $(ratio "$w" "$r") | $(runs ${P50[d-warren]}) | $(runs ${P50[d-rabbitmq]}) |"
	w=$(median ${P99[d-warren]}) r=$(median ${P99[d-rabbitmq]})
	echo "| p99 µs | $w | $r | $(ratio "$w" "$r") | $(runs ${P99[d-warren]}) | $(runs ${P99[d-rabbitmq]}) |"
	;;
esac
case " $SCENARIOS " in *" n "*)
	echo
	echo "| connection churn (n): $CHURN × (handshake, channel.open, close), median of $ROUNDS round(s) | Warren | RabbitMQ | W/R |"
	echo "|---|---:|---:|---:|"
	for par in $CHURN_PAR; do
		w=$(median ${NCPU[$par-warren]}) r=$(median ${NCPU[$par-rabbitmq]})
		echo "| $par at a time: broker CPU µs per connection | $w | $r | $(ratio "$w" "$r") |"
		w=$(median ${NRATE[$par-warren]}) r=$(median ${NRATE[$par-rabbitmq]})
		echo "| $par at a time: connections/s | $w | $r | $(ratio "$w" "$r") |"
		w=$(median ${NP50[$par-warren]}) r=$(median ${NP50[$par-rabbitmq]})
		echo "| $par at a time: open latency p50 µs | $w | $r | $(ratio "$w" "$r") |"
		w=$(median ${NP99[$par-warren]}) r=$(median ${NP99[$par-rabbitmq]})
		echo "| $par at a time: open latency p99 µs | $w | $r | $(ratio "$w" "$r") |"
	done
	;;
esac
case " $SCENARIOS " in *" g "*)
	echo
	echo "| backlog (g): $BACKLOG × 1 KiB persistent | Warren | RabbitMQ | W/R |"
	echo "|---|---:|---:|---:|"
	echo "| publish msg/s (confirms, no consumer) | ${GPUB[warren]} | ${GPUB[rabbitmq]} | $(ratio "${GPUB[warren]}" "${GPUB[rabbitmq]}") |"
	echo "| drain msg/s | ${GDRAIN[warren]} | ${GDRAIN[rabbitmq]} | $(ratio "${GDRAIN[warren]}" "${GDRAIN[rabbitmq]}") |"
	echo "| peak RSS, MiB | $((${GPEAK[warren]:-0} / 1024)) | $((${GPEAK[rabbitmq]:-0} / 1024)) | $(ratio "${GPEAK[warren]}" "${GPEAK[rabbitmq]}") |"
	echo "| restart with the backlog on disk, s | ${GRESTART[warren]} | not measured | |"
	;;
esac
case " $SCENARIOS " in *" e "*)
	echo
	echo "| memory (e), VmRSS | Warren | RabbitMQ | W/R |"
	echo "|---|---:|---:|---:|"
	for mode in connections queues; do
		w0=${RSS0[$mode-warren]} w1=${RSS1[$mode-warren]} r0=${RSS0[$mode-rabbitmq]} r1=${RSS1[$mode-rabbitmq]}
		echo "| before $IDLE $mode, MiB | $((w0 / 1024)) | $((r0 / 1024)) | $(ratio "$w0" "$r0") |"
		echo "| with $IDLE idle $mode, MiB | $((w1 / 1024)) | $((r1 / 1024)) | $(ratio "$w1" "$r1") |"
		wk=$(awk -v a="$w0" -v b="$w1" -v n="$IDLE" 'BEGIN { printf "%.1f", (b - a) / n }')
		rk=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE" 'BEGIN { printf "%.1f", (b - a) / n }')
		echo "| KiB per idle ${mode%s} | $wk | $rk | $(ratio "$wk" "$rk") |"
	done
	echo "| time to open $IDLE connections, s | ${OPEN_S[connections-warren]} | ${OPEN_S[connections-rabbitmq]} | |"
	;;
esac
