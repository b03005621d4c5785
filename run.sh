#!/bin/sh
# The commands README.md names.  Each installs what is missing first
# (apt-get, Debian 12), so they work on a fresh machine.
#
#   ./run.sh dev     build, then run `muster agent -dev` in the foreground
#   ./run.sh test    build with -Werror and ASan/UBSan, run every test
#   ./run.sh build   build only (build/muster)
#   ./run.sh bench   build optimised, run the benchmarks in bench/
#   ./run.sh fuzz    build the libFuzzer targets with clang (build-fuzz/)
set -eu
cd "$(dirname "$0")"

setup() {	# dir, meson options...
	dir=$1; shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@"
	ninja -C "$dir" $TARGETS
}
TARGETS=""

case "${1:-}" in
dev)
	./.ci/deps build
	TARGETS=muster
	setup build --buildtype=debugoptimized
	shift
	exec ./build/muster agent -dev "$@"
	;;
build)
	./.ci/deps build
	setup build --buildtype=debugoptimized
	;;
test)
	./.ci/deps test
	setup build-test -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
	meson test -C build-test --print-errorlogs --num-processes 2
	;;
bench)
	./.ci/deps bench
	TARGETS=muster
	setup build-release --buildtype=release
	shift
	exec ./bench/run-all "$@"
	;;
fuzz)
	./.ci/deps bench
	# Coverage for the libraries too, libFuzzer linked only into the targets.
	CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link
	;;
*)
	echo "usage: $0 dev|test|build|bench|fuzz" >&2
	exit 2
	;;
esac
