#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]: run every cargo-fuzz target for SECONDS (default 60) each.
# Called by `./build.sh fuzz`, which installs nightly Rust and cargo-fuzz first.
#
# Each target starts from its corpus (fuzz/corpus/<target>/, kept between runs,
# git-ignored) and the committed seeds (fuzz/seeds/<target>/). libFuzzer runs in
# fork mode and goes on after a crash, so one run reports every kind of failure
# it meets. Every crash, timeout or out-of-memory input it leaves in
# fuzz/artifacts/<target>/ is replayed once to name its failure (where it
# panicked, and the first line of the message); an input that fails in a way no
# file in fuzz/regressions/<target>/ already does is copied there, where
# tests/fuzz_regressions.rs replays it in every `cargo test`.
# The targets are built without AddressSanitizer (-s none): the sensor is safe
# Rust, and uninstrumented they run about four times as many inputs a second;
# overflow checks and debug assertions stay on.
# Exit status: 0 when no target failed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")"

SECS="${1:-60}"
if ! [[ "$SECS" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz/run.sh: SECONDS must be a positive whole number, e.g. ./build.sh fuzz 60" >&2
  exit 2
fi

HOST="$(rustc +nightly -vV | sed -n 's/^host: //p')"
BIN="target/$HOST/release"

echo "fuzz: building the targets (cargo +nightly fuzz build -s none)" >&2
cargo +nightly fuzz build -s none >&2
mapfile -t TARGETS < <(cargo +nightly fuzz list)

# What an input does to a target, in one line: where it panicked and the first
# line of the message (numbers dropped), the sanitizer's verdict, or "timeout".
signature() {
  local target="$1" input="$2" out
  out="$(timeout 60 "$BIN/$target" -timeout=20 "$input" 2>&1)" || true
  awk '
    /panicked at / { sub(/^.*panicked at /, ""); loc = $0; getline; gsub(/[0-9]+/, "N"); print loc " " substr($0, 1, 100); exit }
    /ERROR: AddressSanitizer|ERROR: LeakSanitizer|ERROR: libFuzzer: (out-of-memory|timeout|deadly)/ { gsub(/0x[0-9a-f]+|[0-9]+/, "N"); print; exit }
  ' <<<"$out"
}

failed=()
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" "regressions/$t"
  stamp="$(mktemp)"
  log="$(mktemp)"
  echo "fuzz: $t for ${SECS}s" >&2
  cargo +nightly fuzz run -s none "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$SECS" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -timeout=20 -rss_limit_mb=2048 >"$log" 2>&1 || true
  grep -E '^#[0-9]+: ' "$log" | tail -n 1 >&2 || true
  if ! grep -q '^INFO: fuzzed for' "$log"; then
    echo "fuzz: $t did not run its ${SECS}s; the end of its output:" >&2
    tail -n 30 "$log" >&2
    failed+=("$t (did not run)")
  fi
  rm -f "$log"
  # Known kinds of failure, named by the binary that just ran (cargo fuzz run
  # rebuilds it, so line numbers match those of the new artifacts).
  declare -A known=() dups=()
  for r in "regressions/$t"/*; do
    [ -f "$r" ] || continue
    s="$(signature "$t" "$r")"
    [ -n "$s" ] && known["$s"]=1
  done
  found=0
  while IFS= read -r -d '' a; do
    found=$((found + 1))
    sig="$(signature "$t" "$a")"
    sum="$(sha1sum "$a" | cut -d' ' -f1)"
    if [ -z "$sig" ]; then
      # Failed while fuzzing but not alone: depends on state, or the source
      # changed since. Kept in artifacts/ only.
      echo "fuzz: $t: $(basename "$a") does not fail when replayed alone (kept in fuzz/artifacts/$t/)" >&2
    elif [ -f "seeds/$t/$sum" ]; then
      echo "fuzz: $t: seed $sum fails: $sig" >&2
    elif [ -z "${known[$sig]:-}" ]; then
      known["$sig"]=1
      dest="regressions/$t/${sum:0:16}"
      cp "$a" "$dest"
      echo "fuzz: $t: NEW failure, saved as fuzz/$dest: $sig" >&2
      echo "fuzz:   minimise with: (cd fuzz && cargo +nightly fuzz tmin $t $dest)" >&2
    else
      dups["$sig"]=$((${dups[$sig]:-0} + 1))
    fi
  done < <(find "artifacts/$t" -newer "$stamp" -type f \( -name 'crash-*' -o -name 'timeout-*' \
    -o -name 'oom-*' -o -name 'leak-*' \) -print0)
  rm -f "$stamp"
  for sig in "${!dups[@]}"; do
    echo "fuzz: $t: ${dups[$sig]} more inputs with a known failure: $sig" >&2
  done
  unset known dups
  if [ "$found" -gt 0 ]; then
    failed+=("$t ($found failing inputs)")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: failures in ${#failed[@]} of ${#TARGETS[@]} targets: ${failed[*]}" >&2
  echo "fuzz: new kinds of failure are in fuzz/regressions/ (replayed by cargo test --test fuzz_regressions)" >&2
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, ${SECS}s each, no failure" >&2
