//! Amazon ECS: where the sensor runs (task metadata) and how it is added to a
//! task (`pcap-sensor ecs ...`).

pub mod add;
pub mod aws;
pub mod container_def;
pub mod creds;
pub mod iam_policy;
pub mod metadata;
pub mod sigv4;

use std::ffi::OsString;
use std::process::ExitCode;

pub const ECS_HELP: &str = "\
pcap-sensor ecs: add the sensor to an Amazon ECS task

usage: pcap-sensor ecs <COMMAND> [FLAGS]

commands:
  container-definition   print the sidecar's container definition (JSON)
  add                    add the sidecar to a task definition and its services
  iam-policy             print the least-privilege IAM policy for 'ecs add'
";

/// `pcap-sensor ecs ...` (arguments after `ecs`).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let sub = args.first().map(|a| a.to_string_lossy().into_owned());
    match sub.as_deref() {
        None | Some("-h") | Some("--help") | Some("help") => {
            print!("{ECS_HELP}");
            ExitCode::SUCCESS
        }
        Some("container-definition") => container_def::main(&args[1..]),
        Some("add") => add::main(&args[1..]),
        Some("iam-policy") => iam_policy::main(&args[1..]),
        Some(other) => {
            eprintln!(
                "pcap-sensor: unknown ecs command '{other}' (commands: container-definition, add, iam-policy)"
            );
            ExitCode::from(2)
        }
    }
}
