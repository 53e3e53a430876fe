//! AWS credentials and region, found the way the AWS CLI and SDKs find them.
//!
//! Credentials, first match wins:
//! 1. with `--profile NAME`: that profile (the environment's keys are not used);
//! 2. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
//! 3. the profile `AWS_PROFILE` names, else `default`: keys from the shared
//!    credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//!    `~/.aws/credentials`, sections `[name]`), then the config file
//!    (`AWS_CONFIG_FILE`, else `~/.aws/config`, sections `[profile name]`
//!    and `[default]`).
//!
//! Region: `--region`, then `AWS_REGION`, `AWS_DEFAULT_REGION`, then the
//! profile's `region` in the config file (or the credentials file).
//!
//! Profiles that get their keys from elsewhere (`role_arn`, `sso_*`,
//! `credential_process`, `web_identity_token_file`) are recognised and
//! refused with the command that exports plain keys for them. Secrets never
//! appear in messages: only the access key id and where it came from.

use super::sigv4::Credentials;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Environment lookup (tests pass their own).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment; empty values count as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// One `[section]` of an INI file: its keys (lower case) and values.
type Section = BTreeMap<String, String>;

/// Parse the AWS INI dialect: `[section]`, `key = value`, `#`/`;`
/// comments, and indented continuation lines (nested settings such as
/// `s3 =` blocks), which belong to the key above and are skipped here.
pub fn parse_ini(text: &str) -> BTreeMap<String, Section> {
    let mut out: BTreeMap<String, Section> = BTreeMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        if raw.starts_with([' ', '\t']) {
            continue; // a nested value of the previous key
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split(']').next().unwrap_or("").trim();
            // `[profile   dev]` → "profile dev"
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            out.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(sec) = &current else { continue };
        if let Some((k, v)) = line.split_once('=') {
            let mut v = v.trim();
            // An inline comment needs whitespace before it.
            for marker in [" #", "\t#", " ;", "\t;"] {
                if let Some(i) = v.find(marker) {
                    v = v[..i].trim_end();
                }
            }
            out.get_mut(sec)
                .expect("section exists")
                .insert(k.trim().to_ascii_lowercase(), v.to_string());
        }
    }
    out
}

fn home() -> Option<PathBuf> {
    process_env("HOME").map(PathBuf::from)
}

/// Where the two shared files are.
pub fn file_paths(env: Env) -> (Option<PathBuf>, Option<PathBuf>) {
    let pick = |var: &str, rel: &str| {
        env(var).map(|p| expand_tilde(&p)).or_else(|| {
            env("HOME")
                .map(PathBuf::from)
                .or_else(home)
                .map(|h| h.join(rel))
        })
    };
    (
        pick("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials"),
        pick("AWS_CONFIG_FILE", ".aws/config"),
    )
}

fn expand_tilde(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home()
            .map(|h| h.join(rest))
            .unwrap_or_else(|| PathBuf::from(p)),
        None => PathBuf::from(p),
    }
}

/// A file that does not exist is an empty file; one that exists but cannot
/// be read is an error.
fn read_ini(path: &Option<PathBuf>) -> Result<BTreeMap<String, Section>, String> {
    let Some(p) = path else {
        return Ok(BTreeMap::new());
    };
    match std::fs::read_to_string(p) {
        Ok(t) => Ok(parse_ini(&t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

/// A profile's settings from both files (the credentials file wins).
#[derive(Debug, Default)]
pub struct Profile {
    pub name: String,
    pub found: bool,
    pub settings: Section,
    /// Where the keys were found (for messages).
    pub origin: String,
}

pub fn load_profile(name: &str, env: Env) -> Result<Profile, String> {
    let (cred_path, conf_path) = file_paths(env);
    let creds = read_ini(&cred_path)?;
    let conf = read_ini(&conf_path)?;
    let mut p = Profile {
        name: name.to_string(),
        ..Profile::default()
    };
    let conf_section = if name == "default" {
        conf.get("default").or_else(|| conf.get("profile default"))
    } else {
        conf.get(&format!("profile {name}"))
    };
    if let Some(s) = conf_section {
        p.found = true;
        p.settings.extend(s.clone());
        if s.contains_key("aws_access_key_id") {
            p.origin = path_text(&conf_path);
        }
    }
    if let Some(s) = creds.get(name) {
        p.found = true;
        p.settings.extend(s.clone());
        if s.contains_key("aws_access_key_id") {
            p.origin = path_text(&cred_path);
        }
    }
    Ok(p)
}

fn path_text(p: &Option<PathBuf>) -> String {
    p.as_deref()
        .map(Path::display)
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// Credentials and where they came from.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub creds: Credentials,
    /// e.g. "environment (AWS_ACCESS_KEY_ID)" or "profile dev in ~/.aws/credentials"
    pub source: String,
    /// The profile in force (for the region), if any.
    pub profile: Option<String>,
}

/// The credentials to use, per the order at the top of this file.
pub fn resolve(profile_flag: Option<&str>, env: Env) -> Result<Resolved, String> {
    if profile_flag.is_none()
        && let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
    {
        return Ok(Resolved {
            creds: Credentials {
                access_key_id: id.trim().to_string(),
                secret_access_key: secret.trim().to_string(),
                session_token: env("AWS_SESSION_TOKEN").map(|t| t.trim().to_string()),
            },
            source: "environment (AWS_ACCESS_KEY_ID)".into(),
            profile: None,
        });
    }
    let (name, named) = match profile_flag {
        Some(p) => (p.to_string(), Some("--profile")),
        None => match env("AWS_PROFILE") {
            Some(p) => (p, Some("AWS_PROFILE")),
            None => ("default".to_string(), None),
        },
    };
    let p = load_profile(&name, env)?;
    let (cred_path, conf_path) = file_paths(env);
    let files = format!("{} or {}", path_text(&cred_path), path_text(&conf_path));
    if !p.found {
        return Err(match named {
            Some(how) => format!("profile '{name}' ({how}) is not in {files}"),
            None => format!(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                 or run 'aws configure' (which writes {files}), or pass --profile NAME"
            ),
        });
    }
    let s = &p.settings;
    match (s.get("aws_access_key_id"), s.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Ok(Resolved {
            creds: Credentials {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
                session_token: s
                    .get("aws_session_token")
                    .or_else(|| s.get("aws_security_token"))
                    .filter(|t| !t.is_empty())
                    .cloned(),
            },
            source: format!("profile '{name}' in {}", p.origin),
            profile: Some(name),
        }),
        (Some(_), _) => Err(format!(
            "profile '{name}' has aws_access_key_id but no aws_secret_access_key ({files})"
        )),
        _ => {
            let indirect = [
                "role_arn",
                "sso_session",
                "sso_start_url",
                "credential_process",
                "web_identity_token_file",
            ]
            .into_iter()
            .find(|k| s.contains_key(*k));
            Err(match indirect {
                Some(k) => format!(
                    "profile '{name}' gets its keys through {k}, which pcap-sensor does not do itself: \
                     run `eval \"$(aws configure export-credentials --profile {name} --format env)\"` \
                     and try again"
                ),
                None => format!("profile '{name}' has no aws_access_key_id ({files})"),
            })
        }
    }
}

/// The region and where it came from, if any source names one.
pub fn region(
    region_flag: Option<&str>,
    profile: Option<&str>,
    env: Env,
) -> Result<Option<(String, String)>, String> {
    if let Some(r) = region_flag {
        return Ok(Some((r.to_string(), "--region".into())));
    }
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Some(r) = env(var) {
            return Ok(Some((r.trim().to_string(), var.into())));
        }
    }
    let name = profile
        .map(str::to_string)
        .or_else(|| env("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let p = load_profile(&name, env)?;
    Ok(p.settings
        .get("region")
        .filter(|r| !r.is_empty())
        .map(|r| (r.clone(), format!("profile '{name}'"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Files {
        dir: PathBuf,
    }

    impl Files {
        fn new(tag: &str, creds: &str, config: &str) -> Files {
            let dir = std::env::temp_dir()
                .join(format!("pcap-sensor-creds-{}-{tag}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("credentials"), creds).unwrap();
            std::fs::write(dir.join("config"), config).unwrap();
            Files { dir }
        }
        fn env(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
            let mut m: HashMap<String, String> = extra
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            m.insert(
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                self.dir.join("credentials").display().to_string(),
            );
            m.insert(
                "AWS_CONFIG_FILE".into(),
                self.dir.join("config").display().to_string(),
            );
            m
        }
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    const CREDS: &str = "\
# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secretdefault

[dev]
aws_access_key_id=AKIDDEV
aws_secret_access_key=secretdev ; inline comment
aws_session_token = tokendev
";
    const CONFIG: &str = "\
[default]
region = eu-west-1
s3 =
  max_concurrent_requests = 20

[profile dev]
region = us-west-2

[profile cfgonly]
aws_access_key_id = AKIDCFG
aws_secret_access_key = secretcfg
region = ap-south-1

[profile sso]
sso_session = corp
";

    fn resolve_with(flag: Option<&str>, env: &HashMap<String, String>) -> Result<Resolved, String> {
        let f = |k: &str| env.get(k).cloned();
        resolve(flag, &f)
    }

    fn region_with(
        flag: Option<&str>,
        profile: Option<&str>,
        env: &HashMap<String, String>,
    ) -> Option<String> {
        let f = |k: &str| env.get(k).cloned();
        region(flag, profile, &f).unwrap().map(|(r, _)| r)
    }

    #[test]
    fn default_profile_and_region() {
        let files = Files::new("default", CREDS, CONFIG);
        let env = files.env(&[]);
        let r = resolve_with(None, &env).unwrap();
        assert_eq!(r.creds.access_key_id, "AKIDDEFAULT");
        assert_eq!(r.creds.secret_access_key, "secretdefault");
        assert_eq!(r.creds.session_token, None);
        assert_eq!(region_with(None, None, &env).as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn named_profile_from_flag_or_env() {
        let files = Files::new("named", CREDS, CONFIG);
        let env = files.env(&[("AWS_PROFILE", "dev")]);
        let r = resolve_with(None, &env).unwrap();
        assert_eq!(r.creds.access_key_id, "AKIDDEV");
        assert_eq!(r.creds.secret_access_key, "secretdev");
        assert_eq!(r.creds.session_token.as_deref(), Some("tokendev"));
        assert_eq!(region_with(None, None, &env).as_deref(), Some("us-west-2"));
        let env = files.env(&[]);
        let r = resolve_with(Some("cfgonly"), &env).unwrap();
        assert_eq!(r.creds.access_key_id, "AKIDCFG");
        assert_eq!(
            region_with(None, Some("cfgonly"), &env).as_deref(),
            Some("ap-south-1")
        );
    }

    #[test]
    fn environment_keys_win_unless_profile_flag() {
        let files = Files::new("envkeys", CREDS, CONFIG);
        let env = files.env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "secretenv"),
            ("AWS_SESSION_TOKEN", "tokenenv"),
            ("AWS_PROFILE", "dev"),
            ("AWS_DEFAULT_REGION", "sa-east-1"),
        ]);
        let r = resolve_with(None, &env).unwrap();
        assert_eq!(r.creds.access_key_id, "AKIDENV");
        assert_eq!(r.creds.session_token.as_deref(), Some("tokenenv"));
        let r = resolve_with(Some("dev"), &env).unwrap();
        assert_eq!(r.creds.access_key_id, "AKIDDEV");
        assert_eq!(region_with(None, None, &env).as_deref(), Some("sa-east-1"));
        let mut env2 = env.clone();
        env2.insert("AWS_REGION".into(), "us-east-2".into());
        assert_eq!(region_with(None, None, &env2).as_deref(), Some("us-east-2"));
        assert_eq!(
            region_with(Some("eu-north-1"), None, &env2).as_deref(),
            Some("eu-north-1")
        );
    }

    #[test]
    fn missing_and_indirect_profiles_explain() {
        let files = Files::new("errors", CREDS, CONFIG);
        let env = files.env(&[]);
        let e = resolve_with(Some("nope"), &env).unwrap_err();
        assert!(e.contains("'nope'") && e.contains("--profile"), "{e}");
        let e = resolve_with(Some("sso"), &env).unwrap_err();
        assert!(e.contains("export-credentials"), "{e}");
        let empty = Files::new("empty", "", "");
        let e = resolve_with(None, &empty.env(&[])).unwrap_err();
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        // no secret in any message
        for e in [
            resolve_with(Some("nope"), &env).unwrap_err(),
            resolve_with(Some("sso"), &env).unwrap_err(),
        ] {
            assert!(!e.contains("secret"), "{e}");
        }
    }
}
