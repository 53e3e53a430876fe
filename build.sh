#!/usr/bin/env bash
# build.sh: one entry point for building, testing and packaging pcap-sensor.
# Installs what it needs on a fresh Debian machine (run as root, or with sudo available).
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'TXT'
usage: ./build.sh [COMMAND]

  build (default)  install build dependencies, build the sensor (dist/pcap-sensor)
                   and start a live capture on all interfaces printed to the terminal
                   (set NO_RUN=1 to only build; extra args after -- go to apidump)
  test             install test dependencies, then run fmt, clippy and every test
  image            build the FROM-scratch container image
  bench            run the benchmarks (prints a table, writes bench/results.md)
  clean            remove build outputs and caches
  help             this text
TXT
}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "build.sh: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    echo "build.sh: cargo not found; install Rust with rustup first" >&2
    exit 1
  fi
}

build_deps() {
  apt_install build-essential pkg-config libpcap-dev
  ensure_rust
}

test_deps() {
  build_deps
  apt_install tcpdump tshark curl python3 iproute2 procps file
  rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt
}

cmd_build() {
  build_deps
  cargo build --release --locked
  mkdir -p dist
  cp target/release/pcap-sensor dist/pcap-sensor
  echo "build.sh: built dist/pcap-sensor ($(stat -c %s dist/pcap-sensor) bytes)" >&2
  if [ "${NO_RUN:-0}" != 1 ]; then
    echo "build.sh: live capture of HTTP on all interfaces (Ctrl-C to stop)" >&2
    exec $SUDO dist/pcap-sensor apidump -i any --out - "$@"
  fi
}

cmd_test() {
  test_deps
  cargo fmt --all -- --check
  cargo clippy --all-targets --locked -- -D warnings
  cargo test --locked -- --test-threads="${TEST_THREADS:-4}"
}

cmd_clean() {
  cargo clean
  rm -rf dist
}

case "${1:-build}" in
  build) shift || true; [ "${1:-}" = "--" ] && shift; cmd_build "$@" ;;
  test) cmd_test ;;
  clean) cmd_clean ;;
  help|-h|--help) usage ;;
  *) echo "build.sh: unknown command '$1' (try ./build.sh help)" >&2; exit 2 ;;
esac
