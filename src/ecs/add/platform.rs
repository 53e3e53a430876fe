//! The platform the sensor will run as in a task, from the task
//! definition's `runtimePlatform` (absent, or without `cpuArchitecture`:
//! ECS's default, X86_64 on Linux), as the plan says it; whether the task is
//! a Windows one (where the Linux sidecar cannot run: refused, see
//! [`super::refusal::Refusal::Windows`]); and the caution about an image
//! pinned by digest, which may name one platform's image only.
//!
//! The sensor's image is an index of linux/amd64 and linux/arm64: named by
//! tag, or by the index's digest, it runs on both. A digest of one
//! platform's manifest runs on that platform only, and `ecs add` cannot tell
//! which kind a digest is without asking the registry (it makes no ECR call),
//! so every digest gets the caution, saying which platform this task needs.

use serde_json::Value;

/// What the task definition's `runtimePlatform` says, as written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Platform {
    /// `cpuArchitecture` (X86_64, ARM64); `None` when absent: X86_64.
    pub cpu_architecture: Option<String>,
    /// `operatingSystemFamily` (LINUX, WINDOWS_SERVER_...); `None` when
    /// absent: LINUX.
    pub os_family: Option<String>,
}

impl Platform {
    /// From a task definition (`runtimePlatform`, if any).
    pub fn from_task(td: &Value) -> Platform {
        let field = |key: &str| {
            td.pointer(&format!("/runtimePlatform/{key}"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Platform {
            cpu_architecture: field("cpuArchitecture"),
            os_family: field("operatingSystemFamily"),
        }
    }

    /// The image platform the sensor runs as: `linux/amd64`, `linux/arm64`,
    /// or `None` for an architecture the sensor's image does not have.
    pub fn image_platform(&self) -> Option<&'static str> {
        match self.cpu_architecture.as_deref() {
            None => Some("linux/amd64"),
            Some(a) if a.eq_ignore_ascii_case("X86_64") => Some("linux/amd64"),
            Some(a) if a.eq_ignore_ascii_case("ARM64") => Some("linux/arm64"),
            Some(_) => None,
        }
    }

    /// The task runs Windows containers.
    pub fn windows(&self) -> bool {
        self.os_family
            .as_deref()
            .is_some_and(|f| f.to_ascii_uppercase().starts_with("WINDOWS"))
    }

    /// For the plan: `linux/arm64 (task runtimePlatform ARM64)`.
    pub fn describe(&self) -> String {
        let platform = self.image_platform().unwrap_or("unknown");
        match &self.cpu_architecture {
            Some(a) => format!("{platform} (task runtimePlatform {a})"),
            None => {
                format!("{platform} (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)")
            }
        }
    }

    /// What is odd but not a reason to stop: an architecture or operating
    /// system family that ECS did not document when this was written.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(a), None) = (&self.cpu_architecture, self.image_platform()) {
            out.push(format!(
                "the task's runtimePlatform.cpuArchitecture is {a}, for which the sensor's image \
                 has no build (it has linux/amd64 and linux/arm64): the sensor will not start"
            ));
        }
        if let Some(f) = &self.os_family
            && !self.windows()
            && !f.eq_ignore_ascii_case("LINUX")
        {
            out.push(format!(
                "the task's runtimePlatform.operatingSystemFamily is {f}, which pcap-sensor does \
                 not know: the sensor runs on Linux only"
            ));
        }
        out
    }
}

/// The digest of an image reference pinned by digest
/// (`repo@sha256:...`, also `repo:tag@sha256:...`).
pub fn digest(image: &str) -> Option<&str> {
    let (_, d) = image.rsplit_once('@')?;
    d.contains(':').then_some(d)
}

/// The caution for an image pinned by digest (none for a tag): which
/// digest works in a task of `platform`.
pub fn digest_note(image: &str, platform: &Platform) -> Option<String> {
    let d = digest(image)?;
    let short: String = match d.split_once(':') {
        Some((algo, hex)) if hex.len() > 12 => format!("{algo}:{}...", &hex[..12]),
        _ => d.to_string(),
    };
    let own = match platform.image_platform() {
        Some(p) => format!("or the {p} image's (this task runs {p}); the other platform's"),
        None => "or the image of this task's platform; another platform's".to_string(),
    };
    Some(format!(
        "the image is pinned by digest ({short}): it must be the image index's digest (the one \
         './build.sh push' prints on stdout, for linux/amd64 and linux/arm64 alike) {own} would \
         not start. pcap-sensor cannot tell which one a digest names without asking the \
         registry; a tag avoids the question"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn platforms_from_task_definitions() {
        #[rustfmt::skip]
        let rows: Vec<(Value, Option<&str>, bool, &str, usize)> = vec![
            // runtimePlatform, image platform, Windows, plan text, warnings
            (json!({}), Some("linux/amd64"), false,
                "linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)", 0),
            (json!({"runtimePlatform": {"operatingSystemFamily": "LINUX"}}), Some("linux/amd64"), false,
                "linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)", 0),
            (json!({"runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}}),
                Some("linux/amd64"), false, "linux/amd64 (task runtimePlatform X86_64)", 0),
            (json!({"runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}}),
                Some("linux/arm64"), false, "linux/arm64 (task runtimePlatform ARM64)", 0),
            (json!({"runtimePlatform": {"cpuArchitecture": "ARM64"}}),
                Some("linux/arm64"), false, "linux/arm64 (task runtimePlatform ARM64)", 0),
            (json!({"runtimePlatform": {"cpuArchitecture": "arm64"}}),
                Some("linux/arm64"), false, "linux/arm64 (task runtimePlatform arm64)", 0),
            (json!({"runtimePlatform": {"cpuArchitecture": "RISCV64"}}),
                None, false, "unknown (task runtimePlatform RISCV64)", 1),
            (json!({"runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}}),
                Some("linux/amd64"), true, "linux/amd64 (task runtimePlatform X86_64)", 0),
            (json!({"runtimePlatform": {"operatingSystemFamily": "PLAN9"}}),
                Some("linux/amd64"), false,
                "linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)", 1),
            // Not text: as if absent.
            (json!({"runtimePlatform": {"cpuArchitecture": 64}}), Some("linux/amd64"), false,
                "linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)", 0),
            (json!({"runtimePlatform": null}), Some("linux/amd64"), false,
                "linux/amd64 (no runtimePlatform.cpuArchitecture: ECS's default, X86_64)", 0),
        ];
        for (td, image_platform, windows, text, warnings) in rows {
            let p = Platform::from_task(&td);
            assert_eq!(p.image_platform(), image_platform, "{td}");
            assert_eq!(p.windows(), windows, "{td}");
            assert_eq!(p.describe(), text, "{td}");
            assert_eq!(p.warnings().len(), warnings, "{td}: {:?}", p.warnings());
        }
    }

    #[test]
    fn digests() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for (image, want) in [
            ("repo/pcap-sensor:0.1.0", None),
            ("repo/pcap-sensor", None),
            ("localhost:5000/pcap-sensor:1", None),
            (&*format!("repo/pcap-sensor@{d}"), Some(d)),
            (&*format!("repo/pcap-sensor:0.1.0@{d}"), Some(d)),
            (&*format!("localhost:5000/pcap-sensor@{d}"), Some(d)),
            ("repo/pcap-sensor@latest", None),
        ] {
            assert_eq!(digest(image), want, "{image}");
        }
    }

    #[test]
    fn digest_notes_name_the_platform_needed() {
        let arm = Platform::from_task(&json!({"runtimePlatform": {"cpuArchitecture": "ARM64"}}));
        let image = "1.dkr.ecr.us-east-1.amazonaws.com/pcap-sensor@sha256:\
                     0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            digest_note(image, &arm).unwrap(),
            "the image is pinned by digest (sha256:0123456789ab...): it must be the image \
             index's digest (the one './build.sh push' prints on stdout, for linux/amd64 and \
             linux/arm64 alike) or the linux/arm64 image's (this task runs linux/arm64); the \
             other platform's would not start. pcap-sensor cannot tell which one a digest names \
             without asking the registry; a tag avoids the question"
        );
        let amd = Platform::default();
        assert!(
            digest_note(image, &amd)
                .unwrap()
                .contains("or the linux/amd64 image's (this task runs linux/amd64)")
        );
        let odd = Platform::from_task(&json!({"runtimePlatform": {"cpuArchitecture": "RISCV64"}}));
        assert!(
            digest_note("r@sha256:ab", &odd)
                .unwrap()
                .contains("(sha256:ab): it must be")
        );
        assert_eq!(digest_note("repo/pcap-sensor:0.1.0", &arm), None);
    }
}
