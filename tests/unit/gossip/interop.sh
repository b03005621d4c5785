#!/bin/bash
# Interop test: the C gossip node (gossip_node, on the real pool glue)
# against two real serf agents (Debian serf 0.9.4), after the plan in
# reference/gossip-protocol.md §13.  Loopback only: 127.0.0.1-.4, ports
# 19946-19949, RPC 19373/19374.  Every process is started in the
# background, recorded by PID and stopped by that PID.
#
# usage: interop.sh /path/to/gossip_node [OUTDIR]
# exit: 0 all passed, 1 a check failed, 77 skipped (no serf binary)
set -u
NODE=$1
OUT=${2:-$(mktemp -d /tmp/gossip-interop.XXXXXX)}
command -v serf >/dev/null 2>&1 || { echo "serf not installed: skipped"; exit 77; }
mkdir -p "$OUT"
PIDS=()
pass=0; fail=0
ok()  { echo "PASS: $*"; pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
	sleep 1
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	PIDS=()
}
trap stop_all EXIT

# poll CMD until it succeeds or SECONDS pass (no sleeps as synchronisation)
until_ok() {
	local secs=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + secs * 1000 ))
	while (( $(date +%s%N) / 1000000 < end )); do
		"$@" && return 0
		sleep 0.2
	done
	"$@"
}
# status of member $2 as seen by the agent with RPC address $1
st() { serf members -rpc-addr="$1" 2>/dev/null | awk -v n="$2" '$1==n{print $3}'; }
is() { [ "$(st "$1" "$2")" = "$3" ]; }
both() { is 127.0.0.1:19373 "$1" "$2" && is 127.0.0.2:19374 "$1" "$2"; }
logged() { grep -q "$2" "$1" 2>/dev/null; }

run_mode() {
	local mode=$1 dir=$OUT/$1 key="" skey="" keyarg=() compress=on
	mkdir -p "$dir"
	case $mode in
	plain) ;;
	encrypt) key=$(serf keygen) ;;
	encrypt-nocompress) key=$(serf keygen); compress=off ;;
	esac
	if [ -n "$key" ]; then skey="-encrypt=$key"; keyarg=(--key "$key"); fi
	printf '#!/bin/sh\n{ echo "$SERF_EVENT $SERF_USER_EVENT"; cat; echo; } >> %s/events-$SERF_SELF_NAME.log\n' "$dir" > "$dir/eh.sh"
	chmod +x "$dir/eh.sh"
	echo "== mode $mode (output in $dir)"

	serf agent -node=s1 -bind=127.0.0.1:19946 -rpc-addr=127.0.0.1:19373 $skey \
	    -event-handler="$dir/eh.sh" -log-level=debug > "$dir/s1.log" 2>&1 &
	PIDS+=($!); disown
	until_ok 10 serf members -rpc-addr=127.0.0.1:19373 >/dev/null 2>&1
	serf agent -node=s2 -bind=127.0.0.2:19947 -rpc-addr=127.0.0.2:19374 $skey \
	    -event-handler="$dir/eh.sh" -join=127.0.0.1:19946 -log-level=debug > "$dir/s2.log" 2>&1 &
	local S2=$!
	PIDS+=($S2); disown
	until_ok 10 is 127.0.0.1:19373 s2 alive
	"$NODE" --name cnode --bind 127.0.0.3:19948 --join 127.0.0.1:19946 "${keyarg[@]}" \
	    --compress $compress --tag role=cnode --tag dc=dc1 --event cnode-ev=from-c \
	    --log "$dir/nut.log" > "$dir/nut.out" 2>&1 &
	local NUT=$!
	PIDS+=($NUT); disown

	until_ok 10 both cnode alive && ok "$mode: cnode alive on s1 and s2" \
	    || bad "$mode: cnode not alive on both agents"
	serf members -detailed -rpc-addr=127.0.0.2:19374 > "$dir/members.txt"
	grep cnode "$dir/members.txt" | grep -q "role=cnode" && grep cnode "$dir/members.txt" | grep -q "Protocol Version: 4" \
	    && ok "$mode: tags and serf protocol 4 visible" || bad "$mode: tags/protocol missing"
	until_ok 10 logged "$dir/nut.log" "MEMBER JOIN name=s2" \
	    && ok "$mode: cnode sees s2" || bad "$mode: cnode does not see s2"
	until_ok 10 logged "$dir/events-s2.log" "user cnode-ev" \
	    && ok "$mode: cnode's user event reached s2's handler" || bad "$mode: cnode's event lost"
	sleep 8	# several probe rounds: cnode must answer pings
	both cnode alive && ! grep -q "Suspect cnode" "$dir/s1.log" "$dir/s2.log" \
	    && ok "$mode: cnode stays alive under probing" || bad "$mode: cnode suspected"

	serf event -coalesce=false -rpc-addr=127.0.0.1:19373 interop-ev hello-cnode > /dev/null
	until_ok 5 logged "$dir/nut.log" "USER EVENT name=interop-ev payload=hello-cnode" \
	    && ok "$mode: cnode received a user event" || bad "$mode: no user event at cnode"
	serf query -timeout=3s -node=cnode -rpc-addr=127.0.0.2:19374 interop-q ping > "$dir/query.txt" 2>&1
	grep -q "Ack from 'cnode'" "$dir/query.txt" && grep -q "Response from 'cnode': cnode-response-to-interop-q" "$dir/query.txt" \
	    && ok "$mode: query acked and answered" || bad "$mode: query (see query.txt)"
	serf reachability -rpc-addr=127.0.0.1:19373 > "$dir/reach.txt" 2>&1 && grep -q "Successfully contacted all live nodes" "$dir/reach.txt" \
	    && ok "$mode: serf reachability" || bad "$mode: reachability (see reach.txt)"

	# cnode's acks carry its Vivaldi coordinate: serf can estimate the RTT
	serf rtt -rpc-addr=127.0.0.1:19373 cnode > "$dir/rtt.txt" 2>&1 && grep -q "Estimated cnode <-> s1 rtt" "$dir/rtt.txt" \
	    && ok "$mode: serf rtt to cnode: $(grep -o 'rtt: [0-9.]* ms' "$dir/rtt.txt")" || bad "$mode: serf rtt (see rtt.txt)"

	if [ -n "$key" ]; then
		local new; new=$(serf keygen)
		serf keys -install "$new" -rpc-addr=127.0.0.1:19373 > "$dir/keys.txt" 2>&1 \
		    && serf keys -use "$new" -rpc-addr=127.0.0.1:19373 >> "$dir/keys.txt" 2>&1 \
		    && serf keys -remove "$key" -rpc-addr=127.0.0.1:19373 >> "$dir/keys.txt" 2>&1 \
		    && ok "$mode: key rotation install/use/remove answered by all" \
		    || bad "$mode: key rotation (see keys.txt)"
		serf keys -list -rpc-addr=127.0.0.2:19374 > "$dir/keylist.txt" 2>&1
		grep -q "$new.*\[3/3\]" "$dir/keylist.txt" && ! grep -q "$key" "$dir/keylist.txt" \
		    && ok "$mode: every node holds only the new key" || bad "$mode: key list (see keylist.txt)"
		sleep 3
		both cnode alive && ok "$mode: cnode alive after rotation" || bad "$mode: cnode lost after rotation"
		# a node with the old (now removed) key cannot join
		"$NODE" --name intruder --bind 127.0.0.4:19949 --join 127.0.0.1:19946 --key "$key" \
		    --log "$dir/intruder.log" > "$dir/intruder.out" 2>&1 &
		local INTR=$!
		PIDS+=($INTR); disown
		until_ok 5 logged "$dir/intruder.log" "JOIN DONE count=0" \
		    && ok "$mode: wrong key: join refused" || bad "$mode: wrong-key join not refused"
		[ -z "$(st 127.0.0.1:19373 intruder)" ] && ok "$mode: intruder never listed" \
		    || bad "$mode: intruder listed"
		kill -9 $INTR 2>/dev/null
	fi

	# cnode detects a crashed agent
	kill -9 $S2
	until_ok 30 logged "$dir/nut.log" "MEMBER FAILED name=s2" \
	    && ok "$mode: cnode saw s2 fail" || bad "$mode: cnode did not notice s2's crash"

	if [ "$mode" = plain ]; then
		kill -INT $NUT
		until_ok 15 is 127.0.0.1:19373 cnode left \
		    && ok "$mode: graceful leave shows 'left'" || bad "$mode: leave shows $(st 127.0.0.1:19373 cnode)"
		until_ok 10 logged "$dir/nut.log" "LEAVE DONE error=$" \
		    && ok "$mode: cnode finished its leave" || bad "$mode: leave not finished"
	else
		kill -9 $NUT
		until_ok 20 is 127.0.0.1:19373 cnode failed \
		    && ok "$mode: crash of cnode detected by s1" || bad "$mode: s1 shows $(st 127.0.0.1:19373 cnode)"
	fi
	# the intruder (127.0.0.4) is expected to be refused; nothing else
	grep -iE "decode|invalid|checksum|No installed keys|not encrypted" "$dir/s1.log" \
	    | grep -v "127.0.0.4" > "$dir/agent-errors.txt"
	[ ! -s "$dir/agent-errors.txt" ] && ok "$mode: no decode errors in s1's log" \
	    || bad "$mode: s1 logged decode errors (see agent-errors.txt)"
	stop_all
}

for m in plain encrypt encrypt-nocompress; do run_mode $m; done
echo "$pass passed, $fail failed (logs in $OUT)"
[ $fail = 0 ]
