# shellcheck shell=bash
# Finds kyso's own binaries in the build folder (BUILD_DIR) and builds them there when they
# are missing or when `up --rebuild` asks for it. The build happens at most once per run.

kyso_gateway_bin() { printf '%s/gateway/kyso-gateway' "$BUILD_DIR"; }
kysoctl_bin() { printf '%s/gateway/kysoctl' "$BUILD_DIR"; }
kyso_sim_bin() { printf '%s/smsc-adapter/carrier-sim/kyso-carrier-sim' "$BUILD_DIR"; }

BUILD_DONE=0

ensure_binaries() {
	local log
	if [ "$BUILD_DONE" = 1 ]; then return 0; fi
	if [ "${REBUILD:-0}" != 1 ] && [ -x "$(kyso_gateway_bin)" ] && [ -x "$(kysoctl_bin)" ] &&
		[ -x "$(kyso_sim_bin)" ]; then
		BUILD_DONE=1
		return 0
	fi
	command -v cmake >/dev/null || die "cmake is missing (deploy/install-deps installs it)"
	mkdir -p "$BUILD_DIR"
	log="$BUILD_DIR/stack-build.log"
	say "building kyso in $BUILD_DIR (log: $log)"
	if ! { cmake -S "$PROJECT_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		cmake --build "$BUILD_DIR" -j2; } >"$log" 2>&1; then
		show_log_tail "$log" 40
		die "the build failed (log: $log)"
	fi
	[ -x "$(kyso_gateway_bin)" ] || die "the build did not make $(kyso_gateway_bin)"
	[ -x "$(kysoctl_bin)" ] || die "the build did not make $(kysoctl_bin)"
	[ -x "$(kyso_sim_bin)" ] || die "the build did not make $(kyso_sim_bin)"
	BUILD_DONE=1
}
