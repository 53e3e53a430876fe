//! `pcap-sensor ecs add`: add the sensor to the services of an ECS task
//! family through the AWS API, as plan, then apply.
//!
//! 1. [`read`]: what there is, each AWS call once, in the order of the
//!    permission table ([`super::aws::PERMISSIONS`]): region
//!    (`ec2:DescribeRegions`), cluster (`ecs:ListClusters`,
//!    `ecs:DescribeClusters`), the cluster's services (`ecs:ListServices`,
//!    `ecs:DescribeServices`), task family (`ecs:ListTaskDefinitionFamilies`),
//!    its latest revision with tags (`ecs:DescribeTaskDefinition`), typed in
//!    [`model`].
//! 2. [`plan`]: pure rules, a [`Plan`] or a [`Refusal`]; what the flags left
//!    open is asked in between ([`ask`], through [`prompt`]).
//! 3. After the plan is shown and accepted, [`apply`]: the new revision
//!    (`ecs:RegisterTaskDefinition`), the services moved to it
//!    (`ecs:UpdateService`), marker tags (`ecs:TagResource`); with `--wait`,
//!    [`wait`] follows the rollout (`ecs:DescribeServices`).
//!
//! On a terminal, what the flags leave open is asked with numbered menus and
//! the plan must be confirmed ("Proceed? [y/N]"). Without one, every value
//! comes from flags, and the missing ones are named in one usage error.
//! Everything that can be checked is checked before the first change.

pub mod apply;
mod args;
pub mod ask;
mod help;
pub mod model;
pub mod plan;
pub mod platform;
pub mod prompt;
pub mod read;
pub mod refusal;
pub mod wait;

pub use args::{AddArgs, missing_flags, parse_args};
pub use help::HELP;
pub use plan::{Plan, READ_ONLY_FIELDS, TAG_KEY, TAG_TIME_KEY, WRITABLE_FIELDS};
pub use refusal::Refusal;

use super::aws::AwsError;
use super::container_def;
use super::creds::{self, Env};
use crate::cli::UsageError;
use prompt::{Prompt, Terminal};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// Why the command stopped.
#[derive(Debug)]
pub enum Fail {
    /// Bad or missing flags: exit code 2.
    Usage(String),
    /// Anything else (AWS errors, refusals, a "no"): exit code 1.
    Error(String),
}

impl From<AwsError> for Fail {
    fn from(e: AwsError) -> Self {
        Fail::Error(e.to_string())
    }
}

impl From<UsageError> for Fail {
    fn from(e: UsageError) -> Self {
        Fail::Usage(e.0)
    }
}

impl From<Refusal> for Fail {
    fn from(r: Refusal) -> Self {
        Fail::Error(r.to_string())
    }
}

/// `pcap-sensor ecs add ...` (the words after `add`).
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
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut ui = Terminal::new(interactive, stdin.lock());
    match run(&a, &mut ui, &creds::process_env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Usage(m)) => {
            eprintln!("pcap-sensor: {m}");
            ExitCode::from(2)
        }
        Err(Fail::Error(m)) => {
            eprintln!("pcap-sensor: {m}");
            ExitCode::from(1)
        }
    }
}

/// The whole command.
pub fn run(a: &AddArgs, ui: &mut dyn Prompt, env: Env) -> Result<(), Fail> {
    let known_region =
        creds::region(a.region.as_deref(), a.profile.as_deref(), env).map_err(Fail::Error)?;
    if !ui.interactive() {
        let missing = missing_flags(a, known_region.is_some());
        if !missing.is_empty() {
            return Err(Fail::Usage(format!(
                "no terminal to ask on, so these flags are needed: {} (see 'pcap-sensor ecs add --help')",
                missing.join(" ")
            )));
        }
    }
    let (c, found) = read::read(a, known_region, ui, env)?;

    // What can be refused is refused before anything is asked: first with the
    // values given so far, again (in `plan`) once the sensor's are complete.
    let mut early = a.sidecar.clone();
    early.region = Some(found.region.clone());
    plan::check(&found, &container_def::sidecar(&early), a.force)?;

    let chosen = if a.services.is_empty() {
        ask::services(&plan::services_running(&found)?, ui)?
    } else {
        plan::services_named(&found, &a.services)?
    };
    plan::deployable(&chosen)?;
    let sensor = ask::sensor(a, &found.family, &found.region, ui)?;
    let plan = plan::plan(&found, chosen, sensor, a.force)?;
    for w in &plan.warnings {
        crate::log::warn(w);
    }

    let wait = a.wait.then_some(a.wait_timeout);
    if a.dry_run {
        let mut out = serde_json::to_string_pretty(&plan.request).expect("JSON serialises");
        out.push('\n');
        print!("{out}");
        let _ = std::io::stdout().flush();
        ui.say(&plan.text(wait));
        ui.say("dry run: nothing was changed (the new task definition is on stdout)");
        return Ok(());
    }
    ui.say(&plan.text(wait));
    if !a.yes {
        if !ui.interactive() {
            return Err(Fail::Usage(
                "no terminal to confirm on: add --yes (or --dry-run)".into(),
            ));
        }
        if !prompt::confirm(ui, "Proceed?")? {
            return Err(Fail::Error("aborted: nothing was changed".into()));
        }
    }

    let done = apply::apply(&c, &plan, ui)?;
    if a.wait {
        wait::rollout(
            &c,
            &plan.cluster,
            &done.updated,
            &done.arn,
            a.wait_timeout,
            a.poll_interval,
            ui,
        )?;
    } else {
        ui.say("the services are rolling out the new revision (add --wait to follow it)");
    }
    println!("{}", done.arn);
    Ok(())
}
