# samples_lib.sh - what the samples' tests (devices_test.sh, orders_test.sh)
# share; sourced after they set $work (a temporary directory) and fail().

# usage STATUS WHAT-STDERR-SAYS COMMAND...: COMMAND (a mistyped command
# line) exits with STATUS and says WHAT-STDERR-SAYS
usage() {
  local want="$1" says="$2" rc
  shift 2
  "$@" > "$work/usage.out" 2>&1 < /dev/null
  rc=$?
  [ $rc = "$want" ] && grep -q -- "$says" "$work/usage.out" ||
    fail "$(basename "$1") ${*:2}: status $rc, $(cat "$work/usage.out")"
}
