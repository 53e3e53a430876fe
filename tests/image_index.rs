//! The two-platform image (issue 18): `./build.sh image` saves an OCI image index over a
//! linux/amd64 and a linux/arm64 image as `dist/pcap-sensor.oci.tar`, and `./build.sh push`
//! puts it in a registry.
//!
//! * The index, as `skopeo inspect --raw oci-archive:...` shows it: exactly the two platforms;
//!   each image's config has that architecture, the same entrypoint, command, working
//!   directory and labels; each is at most 4 MiB (compressed and unpacked); its one layer
//!   holds only `/bin/init`, a static binary of that architecture (`file`), byte for byte the
//!   binary `./build.sh` built for it.
//! * A real registry on loopback (Debian's `docker-registry`, distribution 2.8, started here
//!   with a config of its own on 127.0.0.1 and a free port): `./build.sh push
//!   127.0.0.1:PORT/pcap-sensor` (PUSH_ARCHIVE = the archive, TLS_VERIFY=false) pushes the
//!   index under the version's tag with its digest unchanged; podman then pulls each platform
//!   back by its manifest digest, and by the tag with `--arch` (the index resolved as a
//!   runtime does), into a throw-away storage: the right architecture, the same image, the
//!   same `/bin/init`.
//!
//! Inputs: `$PCAP_SENSOR_IMAGE`, `$PCAP_SENSOR_AMD64` and `$PCAP_SENSOR_ARM64`: `./build.sh
//! test` builds them all and sets the variables (no defaults). Needs skopeo, podman, docker-registry, file
//! and root (podman's storage); anything missing fails the test, naming what to install.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use support::process::TempDir;
use support::require::{image_archive, require_path, require_root};

/// The limit for each platform's image.
const IMAGE_LIMIT: u64 = 4 * 1024 * 1024;
const PLATFORMS: [&str; 2] = ["amd64", "arm64"];
const VERSION: &str = env!("CARGO_PKG_VERSION");

// ---------------------------------------------------------------------------------------
// Inputs and tools

fn archive() -> PathBuf {
    image_archive()
}

fn binary(arch: &str) -> PathBuf {
    require_path(
        &format!("PCAP_SENSOR_{}", arch.to_uppercase()),
        None,
        "run via ./build.sh test, which builds dist/pcap-sensor-amd64 and -arm64 and sets \
         PCAP_SENSOR_AMD64 and PCAP_SENSOR_ARM64",
    )
}

fn run(cmd: &mut Command, install: &str) -> Output {
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} ({e}): install {install} (apt-get install {install})")
    })
}

fn run_ok(cmd: &mut Command, install: &str) -> Vec<u8> {
    let out = run(cmd, install);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap().trim().to_string()
}

fn json(b: &[u8]) -> Value {
    serde_json::from_slice(b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(b)))
}

// ---------------------------------------------------------------------------------------
// The archive

/// The archive unpacked (an OCI layout), for reading blobs by digest.
struct Layout(TempDir);

impl Layout {
    fn unpack(archive: &Path) -> Layout {
        let dir = TempDir::new("index");
        run_ok(
            Command::new("tar")
                .arg("-C")
                .arg(&dir.0)
                .arg("-xf")
                .arg(archive),
            "tar",
        );
        Layout(dir)
    }

    fn blob(&self, digest: &str) -> Vec<u8> {
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("unexpected digest {digest}"));
        std::fs::read(self.0.0.join("blobs/sha256").join(hex)).unwrap()
    }
}

/// One platform's image in the index.
struct Platform {
    arch: String,
    /// Digest of its manifest (what a task names to pin one platform).
    digest: String,
    config_digest: String,
    config: Value,
    /// The one layer: compressed size and its bytes (gzip).
    layer_size: u64,
    layer: Vec<u8>,
}

/// The index as skopeo reads it from the archive, and its platforms from the archive's blobs.
fn read_index(archive: &Path) -> (Vec<u8>, Vec<Platform>) {
    let raw = run_ok(
        Command::new("skopeo")
            .arg("inspect")
            .arg("--raw")
            .arg(format!("oci-archive:{}", archive.display())),
        "skopeo",
    );
    let index = json(&raw);
    assert_eq!(index["schemaVersion"], 2, "{index}");
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "an OCI image index expected: {index}"
    );
    let layout = Layout::unpack(archive);
    let mut platforms = Vec::new();
    for m in index["manifests"].as_array().expect("index: manifests") {
        assert_eq!(
            m["mediaType"], "application/vnd.oci.image.manifest.v1+json",
            "{m}"
        );
        assert_eq!(m["platform"]["os"], "linux", "{m}");
        let digest = m["digest"].as_str().unwrap().to_string();
        let manifest_bytes = layout.blob(&digest);
        assert_eq!(m["size"].as_u64(), Some(manifest_bytes.len() as u64), "{m}");
        let manifest = json(&manifest_bytes);
        let layers = manifest["layers"].as_array().expect("manifest: layers");
        assert_eq!(layers.len(), 1, "one layer (the binary): {manifest}");
        assert_eq!(
            layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip",
            "{manifest}"
        );
        let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
        platforms.push(Platform {
            arch: m["platform"]["architecture"].as_str().unwrap().to_string(),
            digest,
            config: json(&layout.blob(&config_digest)),
            config_digest,
            layer_size: layers[0]["size"].as_u64().unwrap(),
            layer: layout.blob(layers[0]["digest"].as_str().unwrap()),
        });
    }
    (raw, platforms)
}

/// The files in a layer (gzip'd tar), and `/bin/init` from it.
fn layer_contents(layer: &[u8]) -> (Vec<String>, Vec<u8>, u64) {
    let dir = TempDir::new("layer");
    let tar = dir.0.join("layer.tar.gz");
    std::fs::write(&tar, layer).unwrap();
    let listing = text(run_ok(Command::new("tar").arg("-tzf").arg(&tar), "tar"));
    let mut entries: Vec<String> = listing
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty())
        .collect();
    entries.sort();
    let unpacked = run_ok(Command::new("gzip").arg("-dc").arg(&tar), "gzip").len() as u64;
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&dir.0)
            .arg("-xzf")
            .arg(&tar)
            .arg("bin/init"),
        "tar",
    );
    let init = std::fs::read(dir.0.join("bin/init")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.0.join("bin/init"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "/bin/init mode {mode:o}");
    (entries, init, unpacked)
}

/// What `file` says about these bytes.
fn file_says(bytes: &[u8]) -> String {
    let dir = TempDir::new("file");
    let p = dir.0.join("init");
    std::fs::write(&p, bytes).unwrap();
    text(run_ok(Command::new("file").arg("-b").arg(&p), "file"))
}

fn file_arch(arch: &str) -> &'static str {
    match arch {
        "amd64" => "x86-64",
        "arm64" => "ARM aarch64",
        _ => panic!("unexpected architecture {arch}"),
    }
}

#[test]
fn the_index_holds_an_amd64_and_an_arm64_image_of_the_sensor() {
    let archive = archive();
    let (_, platforms) = read_index(&archive);
    let mut archs: Vec<&str> = platforms.iter().map(|p| p.arch.as_str()).collect();
    archs.sort();
    assert_eq!(archs, PLATFORMS, "the index's platforms");

    let mut shared: Option<Value> = None;
    for p in &platforms {
        let what = format!("linux/{}", p.arch);
        assert_eq!(p.config["architecture"], p.arch.as_str(), "{what} config");
        assert_eq!(p.config["os"], "linux", "{what} config");
        let cfg = &p.config["config"];
        assert_eq!(
            cfg["Entrypoint"],
            serde_json::json!(["./bin/init"]),
            "{what}"
        );
        assert_eq!(cfg["Cmd"], serde_json::json!(["help"]), "{what}");
        assert_eq!(cfg["WorkingDir"], "/", "{what}");
        let labels = &cfg["Labels"];
        assert_eq!(
            labels["org.opencontainers.image.version"], VERSION,
            "{what}"
        );
        assert_eq!(labels["org.opencontainers.image.licenses"], "MIT", "{what}");
        // The same entrypoint, command, directory, environment and labels on both.
        let common = serde_json::json!({
            "Entrypoint": cfg["Entrypoint"], "Cmd": cfg["Cmd"], "WorkingDir": cfg["WorkingDir"],
            "Env": cfg["Env"], "Labels": labels,
        });
        match &shared {
            None => shared = Some(common),
            Some(first) => assert_eq!(&common, first, "{what} differs from the other platform"),
        }

        let (entries, init, unpacked) = layer_contents(&p.layer);
        assert!(
            p.layer_size <= IMAGE_LIMIT && unpacked <= IMAGE_LIMIT,
            "{what}: {} bytes compressed, {unpacked} unpacked: over 4 MiB",
            p.layer_size
        );
        assert_eq!(entries, ["bin", "bin/init"], "{what} layer");
        let desc = file_says(&init);
        assert!(
            desc.contains(file_arch(&p.arch))
                && (desc.contains("statically linked") || desc.contains("static-pie linked")),
            "{what} /bin/init: {desc}"
        );
        let built = binary(&p.arch);
        assert!(
            init == std::fs::read(&built).unwrap(),
            "{what} /bin/init differs from {}",
            built.display()
        );
        eprintln!(
            "{what}: manifest {}, {} bytes compressed, {unpacked} unpacked",
            p.digest, p.layer_size
        );
    }
}

// ---------------------------------------------------------------------------------------
// A registry on loopback

/// Debian's docker-registry serving a fresh directory on 127.0.0.1; killed when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = TempDir::new("registry");
        // A free port: bound and released (the registry binds it a moment later).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.0.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    \
                 rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-only\n",
                dir.0.join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start docker-registry ({e}): install Debian's docker-registry \
                     (apt-get install docker-registry; ./build.sh test does)"
                )
            });
        // It logs `msg="listening on 127.0.0.1:PORT"` once it accepts connections.
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let want = format!("listening on 127.0.0.1:{port}");
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(l) if l.contains(&want) => break,
                Ok(l) => seen.push(l),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "docker-registry did not say {want:?} ({e}):\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
        // Keep reading its log so it never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Registry {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// podman on a storage of its own (nothing shared with other images on this machine).
struct Podman(TempDir);

impl Podman {
    fn command(&self) -> Command {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(self.0.0.join("root"))
            .arg("--runroot")
            .arg(self.0.0.join("run"))
            .args(["--storage-driver", "vfs"]);
        c
    }

    fn run_ok(&self, args: &[&str]) -> String {
        text(run_ok(self.command().args(args), "podman"))
    }
}

#[test]
fn push_to_a_registry_and_pull_each_platform_back_by_digest() {
    require_root("podman's image storage");
    let archive = archive();
    let (index_raw, platforms) = read_index(&archive);
    let registry = Registry::start();
    let repo = format!("127.0.0.1:{}/pcap-sensor", registry.port);

    // ./build.sh push, as a user runs it (no tag: the version), from the saved archive.
    let out = run(
        Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("build.sh"))
            .args(["push", &repo])
            .env("PUSH_ARCHIVE", &archive)
            .env("TLS_VERIFY", "false"),
        "bash",
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "./build.sh push failed:\n{said}");
    let pinned = text(out.stdout);
    let index_digest = format!("sha256:{}", sha256_hex(&index_raw));
    assert_eq!(pinned, format!("{repo}@{index_digest}"), "{said}");
    for p in &platforms {
        assert!(
            said.contains(&format!("linux/{} {}", p.arch, p.digest)),
            "push output names each platform's digest:\n{said}"
        );
    }

    // The registry serves the index under the version's tag, unchanged (same digest).
    let served = run_ok(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{repo}:{VERSION}")),
        "skopeo",
    );
    assert!(
        served == index_raw,
        "the registry's index differs from the archive's:\n{}\n{}",
        String::from_utf8_lossy(&served),
        String::from_utf8_lossy(&index_raw)
    );

    // Each platform pulled back by digest, and by tag for that architecture.
    let podman = Podman(TempDir::new("pull"));
    for p in &platforms {
        let by_digest = format!("{repo}@{}", p.digest);
        let id = podman.run_ok(&["pull", "-q", "--tls-verify=false", &by_digest]);
        assert_eq!(
            format!("sha256:{id}"),
            p.config_digest,
            "{by_digest}: not the image in the archive"
        );
        let seen = podman.run_ok(&["image", "inspect", "-f", "{{.Architecture}} {{.Os}}", &id]);
        assert_eq!(seen, format!("{} linux", p.arch), "{by_digest}");
        let by_tag = podman.run_ok(&[
            "pull",
            "-q",
            "--tls-verify=false",
            "--arch",
            &p.arch,
            &format!("{repo}:{VERSION}"),
        ]);
        assert_eq!(by_tag, id, "{repo}:{VERSION} for {}", p.arch);
        let mount = podman.run_ok(&["image", "mount", &id]);
        let init = std::fs::read(Path::new(&mount).join("bin/init")).unwrap();
        podman.run_ok(&["image", "unmount", &id]);
        let built = binary(&p.arch);
        assert!(
            init == std::fs::read(&built).unwrap(),
            "{by_digest}: /bin/init differs from {}",
            built.display()
        );
        let desc = file_says(&init);
        assert!(desc.contains(file_arch(&p.arch)), "{by_digest}: {desc}");
    }
}

/// sha256 of `bytes` in hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
