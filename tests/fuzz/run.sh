#!/bin/bash
# Runs every libFuzzer target built in a fuzz build for a while; fails on the first crash.
#   tests/fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET
# The seed corpus (tests/fuzz/corpus/<name>) is read only; new inputs go to BUILD_DIR/fuzz-corpus/<name>,
# crash reproducers to BUILD_DIR/fuzz-crashes/<name>/. Prints each target's exec count. Leaks
# inside Debian's libraries are suppressed by lsan.supp (each entry says why).
set -euo pipefail
build=${1:?build dir}
seconds=${2:-300}
here=$(cd "$(dirname "$0")" && pwd)
status=0
shopt -s nullglob
targets=("$build"/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then echo "no fuzz targets in $build" >&2; exit 1; fi
for exe in "${targets[@]}"; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  name=$(basename "$exe"); name=${name#fuzz_}
  work="$build/fuzz-corpus/$name"; crashes="$build/fuzz-crashes/$name"
  mkdir -p "$work" "$crashes"
  echo "== fuzz_$name: $seconds s"
  log="$build/fuzz-$name.log"
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     LSAN_OPTIONS=suppressions="$here/lsan.supp" \
     "$exe" "$work" "$here/corpus/$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$crashes/" -print_final_stats=1 >"$log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE" "$log" || true
  else
    status=1
    tail -n 60 "$log"
    echo "fuzz_$name FAILED: reproducer in $crashes/ (replay: $exe <file>)" >&2
  fi
done
exit $status
