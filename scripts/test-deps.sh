#!/usr/bin/env bash
# Installs what Warren's test suite needs, and only what is missing, so it
# is cheap to run before every `make test`:
#   - Debian packages: haproxy chromium python3-pika amqp-tools rabbitmq-server
#     (and npm, for the Node.js client tests)
#   - test/node/node_modules (amqplib), from test/node/package-lock.json
#   - the Go modules of go.mod
# rabbitmq-server is installed for tests that start their own copies on
# their own ports; it is never left running or enabled as a service.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test-deps: $*"; }

APT_PACKAGES=(haproxy chromium python3-pika amqp-tools rabbitmq-server)

installed() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		say "need root to run: $*" >&2
		exit 1
	fi
}

# wait_for_apt waits while another apt/dpkg runs (up to 30 minutes); apt-get
# itself also waits for the dpkg lock (DPkg::Lock::Timeout below).
wait_for_apt() {
	local waited=0
	while pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null ||
		pgrep -f unattended-upgrade >/dev/null; do
		if [ "$waited" -eq 0 ]; then say "waiting for another apt-get/dpkg to finish"; fi
		sleep 5
		waited=$((waited + 5))
		if [ "$waited" -ge 1800 ]; then
			say "apt/dpkg still busy after 30 minutes; trying anyway"
			break
		fi
	done
}

# rabbit_pids lists epmd and beam (Erlang VM) processes.
rabbit_pids() { { pgrep -x epmd || true; pgrep -f '^[^ ]*beam(\.smp)? ' || true; } | sort -u; }

# disable_rabbitmq_service keeps the Debian rabbitmq-server service from
# starting at boot. Idempotent.
disable_rabbitmq_service() {
	if command -v systemctl >/dev/null && systemctl is-enabled --quiet rabbitmq-server 2>/dev/null; then
		say "systemctl disable rabbitmq-server"
		as_root systemctl disable rabbitmq-server >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null && compgen -G '/etc/rc[2-5].d/S*rabbitmq-server' >/dev/null; then
		say "update-rc.d rabbitmq-server disable"
		as_root update-rc.d rabbitmq-server disable >/dev/null 2>&1 || true
	fi
}

# --- Debian packages ---------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done
command -v npm >/dev/null || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
	say "installing Debian packages: ${missing[*]}"
	wait_for_apt
	before="$(rabbit_pids)"

	# Debian's rabbitmq-server postinst enables the service and runs
	# `invoke-rc.d rabbitmq-server start`. A policy-rc.d that exits 101
	# forbids that start (Docker-style images ship one); add one for the
	# install if there is none, and remove it afterwards.
	policy_added=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# temporary, scripts/test-deps.sh: do not start services\nexit 101\n' |
			as_root tee /usr/sbin/policy-rc.d >/dev/null
		as_root chmod 755 /usr/sbin/policy-rc.d
		policy_added=1
		trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
	fi

	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1800 -q update
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=1800 -q -y install "${missing[@]}"

	if [ -n "$policy_added" ]; then
		as_root rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	fi

	# In case the service started anyway (no policy-rc.d in effect):
	if [ -d /run/systemd/system ]; then
		as_root systemctl stop rabbitmq-server >/dev/null 2>&1 || true
	elif [ -x /etc/init.d/rabbitmq-server ] && /etc/init.d/rabbitmq-server status >/dev/null 2>&1; then
		say "stopping the rabbitmq-server service"
		as_root /etc/init.d/rabbitmq-server stop >/dev/null 2>&1 || true
	fi
	# Kill the epmd/beam processes that the install left running (only new ones).
	for pid in $(comm -13 <(echo "$before") <(rabbit_pids)); do
		say "killing $(ps -o comm= -p "$pid" 2>/dev/null || echo process) $pid left running by the install"
		as_root kill "$pid" 2>/dev/null || true
	done
else
	say "Debian packages present: ${APT_PACKAGES[*]} npm"
fi
disable_rabbitmq_service

# --- Node.js client (amqplib) -----------------------------------------
node_dir=test/node
if [ -f "$node_dir/package.json" ]; then
	if [ -d "$node_dir/node_modules" ] && [ -f "$node_dir/node_modules/.package-lock.json" ] &&
		! [ "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]; then
		say "$node_dir/node_modules up to date"
	elif [ -f "$node_dir/package-lock.json" ]; then
		say "npm ci in $node_dir"
		(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
	else
		say "npm install in $node_dir (no package-lock.json)"
		(cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error)
	fi
fi

# --- Go modules --------------------------------------------------------
if command -v go >/dev/null; then
	say "go mod download"
	go mod download
fi
say "done"
