# Shared helpers for the benchmarks (sourced).  Everything listens on
# 127.0.0.0/8 only.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MUSTER=${MUSTER_BIN:-$ROOT/build-release/muster}
[ -x "$MUSTER" ] || MUSTER=$ROOT/build/muster
WORK=$(mktemp -d /tmp/muster-bench.XXXXXX)
chmod 755 "$WORK"	# peers may run their workers as another user
PIDS=""

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# wait_http URL: poll until it answers 200 (10 s at most).
wait_http() {
	i=0
	until curl -fs -o /dev/null "$1"; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "no answer from $1" >&2; exit 1; }
		sleep 0.05
	done
}

# wrk_rps URL [wrk args]: requests per second as a number.
wrk_rps() {
	url=$1; shift
	wrk "$@" "$url" | awk '/^Requests\/sec:/ { print $2 }'
}

# pss_kb PID...: the sum of the processes' proportional set size in kB.
pss_kb() {
	t=0
	for p in "$@"; do
		v=$(awk '/^Pss:/ { print $2 }' /proc/"$p"/smaps_rollup)
		t=$((t + v))
	done
	echo $t
}

# agent_pids SUPERVISOR_PID: the supervisor and its worker children.
agent_pids() {
	echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"
}

start_muster_dev() {	# ip -> sets MUSTER_PID
	"$MUSTER" agent -dev -bind "$1" -client "$1" -log-level warn \
		-control-socket "$WORK/ctl-$1.sock" >"$WORK/muster-$1.log" 2>&1 &
	MUSTER_PID=$!
	PIDS="$PIDS $MUSTER_PID"
	wait_http "http://$1:8500/v1/status/leader"
}
