#!/bin/sh
# systemd/muster.service must pass `systemd-analyze verify` with no output.
# verify insists that ExecStart= names an executable file, and
# /usr/local/bin/muster is not installed on a build machine, so a copy of
# the unit is pointed at the muster binary just built.  The same copy must
# stay at or under an exposure level of 3.5 in `systemd-analyze security`.
#
# usage: test_unit.sh UNIT MUSTER_BINARY
set -eu
unit=$1
bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")	# meson passes ./muster
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd-analyze not installed (apt-get install systemd): skipping"
	exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=/usr/local/bin/muster |ExecStart=$bin |" "$unit" \
    >"$dir/muster.service"
grep -q "^ExecStart=$bin agent " "$dir/muster.service" || {
	echo "ExecStart= does not start /usr/local/bin/muster agent"
	exit 1
}
out=$(systemd-analyze verify "$dir/muster.service" 2>&1) || {
	echo "$out"
	exit 1
}
if [ -n "$out" ]; then
	echo "systemd-analyze verify complained:"
	echo "$out"
	exit 1
fi
systemd-analyze security --offline=true --threshold=35 \
    "$dir/muster.service" >"$dir/security.txt" 2>&1 || {
	grep -E 'Overall|✗' "$dir/security.txt"
	exit 1
}
grep 'Overall' "$dir/security.txt"
echo "muster.service verified"
