//! `pcap-sensor ecs iam-policy`: print the least-privilege IAM policy for
//! `pcap-sensor ecs add` (JSON on stdout, notes on stderr), instead of a
//! broad managed policy such as AmazonECS_FullAccess.
//!
//! Its statements hold exactly the ten actions `ecs add` calls
//! ([`crate::ecs::aws::PERMISSIONS`]), each limited to the resources IAM can
//! check it against ([`grants`]), as narrowly as the flags say (the flags of
//! `ecs add`: region, cluster, services, task family; and the account);
//! plus, unless `--no-pass-role`, a separate `iam:PassRole` statement for
//! the roles the task definition names. Offline: no AWS call.

pub mod args;
pub mod build;
pub mod grants;

pub use args::{PolicyArgs, parse_args};
pub use build::{Policy, policy};

use std::ffi::OsString;
use std::process::ExitCode;

pub const HELP: &str = "\
pcap-sensor ecs iam-policy: print the least-privilege IAM policy for 'ecs add'

usage: pcap-sensor ecs iam-policy [FLAGS] > policy.json

Prints an IAM policy (JSON) with exactly the actions 'pcap-sensor ecs add' calls,
each limited to the resources IAM can check it against, and a separate statement
for iam:PassRole (which AWS checks when a task definition that names a task or
execution role is registered). Notes on stderr say what is left as a wildcard.
Attach it to the user or role that runs 'ecs add', e.g.
  aws iam put-user-policy --user-name NAME --policy-name pcap-sensor-ecs-add \\
      --policy-document file://policy.json

narrowing it (default: any):
      --region REGION         the region (also sets the partition: aws-cn, ...)
      --account ID            the AWS account id (12 digits)
      --cluster NAME|ARN      the cluster
      --service NAME|ARN      a service to update (repeatable)
      --task-family NAME      the task definition family
      --task-role NAME|ARN    a task role the task definition names (repeatable)
      --execution-role NAME|ARN
                              its task execution role (repeatable)
      --no-pass-role          leave out the iam:PassRole statement
  -h, --help                  this text

Service ARNs are written in the long format (service/CLUSTER/NAME); an account
still on the old format (service/NAME) needs them edited.
";

/// `pcap-sensor ecs iam-policy ...` (the words after `iam-policy`).
pub fn main(args: &[OsString]) -> ExitCode {
    let a = match parse_args(args) {
        Ok(None) => {
            print!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Some(a)) => a,
        Err(e) => {
            eprintln!("pcap-sensor: {e}");
            return ExitCode::from(2);
        }
    };
    let p = policy(&a);
    print!("{}", p.text());
    for n in &p.notes {
        crate::log::event("note", n, &[]);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests;
