//! Why `ecs add` will not go ahead, as data, and each reason's message
//! (which says the way out). Decided by the rules of [`super::plan`];
//! a refusal ends the command with exit code 1 before anything changes.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The task definition has the sensor already (by container name, or
    /// by the image repository). `behind`: services that still run an
    /// older revision of the family, and how to move them.
    AlreadyThere {
        task: String,
        container: String,
        image: String,
        behind: Option<Box<Behind>>,
    },
    /// A Windows task (`runtimePlatform.operatingSystemFamily`), where the
    /// Linux sidecar cannot run (`--force` or not).
    Windows { task: String, os_family: String },
    /// `bridge` or `none` network mode (`default`: by absence, on EC2),
    /// where the sensor would see nothing, without `--force`.
    NetworkMode {
        task: String,
        mode: String,
        default: bool,
    },
    /// Fargate without a task execution role (awslogs needs one).
    NoExecutionRole { task: String },
    /// Not enough CPU units left in the task for the sensor.
    NoCpu {
        task: String,
        total: u64,
        reserved: u64,
        left: u64,
        need: u64,
    },
    /// Not enough memory (MiB) left in the task for the sensor.
    NoMemory {
        task: String,
        total: u64,
        reserved: u64,
        left: u64,
        need: u64,
    },
    /// `--service` names no service of the cluster.
    NoSuchService {
        want: String,
        cluster: String,
        services: Listing,
    },
    /// `--service` names a service that runs another family.
    OtherFamily {
        want: String,
        runs: String,
        its_family: String,
        family: String,
    },
    /// No service of the cluster runs the family (nothing to offer).
    Unused {
        cluster: String,
        family: String,
        services: Listing,
    },
    /// A service deployed by CodeDeploy or an external controller.
    Controller { service: String, controller: String },
    /// `--spool`, and the task has a volume of the spool's name already.
    SpoolVolumeTaken { task: String, volume: String },
}

/// The services of the family that run another revision than `base`.
#[derive(Debug, Clone, PartialEq)]
pub struct Behind {
    pub services: Vec<String>,
    pub cluster: String,
    pub base: String,
}

/// A cluster's services as a refusal lists them: (name, what it runs).
#[derive(Debug, Clone, PartialEq)]
pub struct Listing(pub Vec<(String, String)>);

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("it has no services");
        }
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(name, runs)| format!("{name} (runs {runs})"))
            .collect();
        write!(f, "its services: {}", items.join(", "))
    }
}

/// Why the sensor cannot see the traffic in this network mode (also the
/// warning with `--force`).
pub fn network_mode_problem(task: &str, mode: &str, default: bool) -> String {
    format!(
        "task definition {task} uses the '{mode}' network mode{}: each container gets its own \
         network namespace there, so the sensor would not see the application's traffic",
        if default { " (the default on EC2)" } else { "" }
    )
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::AlreadyThere {
                task,
                container,
                image,
                behind,
            } => {
                write!(
                    f,
                    "task definition {task} already has the sensor (container '{container}', image \
                     {image}): nothing to do. To change its settings, register a revision without \
                     that container (console or 'aws ecs register-task-definition'), then run \
                     'pcap-sensor ecs add' again"
                )?;
                if let Some(b) = behind {
                    let one = b.services.len() == 1;
                    write!(
                        f,
                        ". ({} still run{} an older revision: 'aws ecs update-service --cluster {} \
                         --service NAME --task-definition {}' moves {})",
                        b.services.join(", "),
                        if one { "s" } else { "" },
                        b.cluster,
                        b.base,
                        if one { "it" } else { "them" }
                    )?;
                }
                Ok(())
            }
            Refusal::Windows { task, os_family } => write!(
                f,
                "task definition {task} runs Windows containers (runtimePlatform \
                 operatingSystemFamily {os_family}), and the sensor is a Linux container: ECS \
                 runs a task's containers on one operating system, so it would never start there \
                 (--force does not change this). pcap-sensor captures in Linux tasks \
                 (operatingSystemFamily LINUX, on X86_64 or ARM64)"
            ),
            Refusal::NetworkMode {
                task,
                mode,
                default,
            } => write!(
                f,
                "{}. Move the task to the awsvpc (or host) network mode first, or pass --force \
                 to add the sensor anyway",
                network_mode_problem(task, mode, *default)
            ),
            Refusal::NoExecutionRole { task } => write!(
                f,
                "task definition {task} runs on Fargate without a task execution role, which the \
                 sensor's awslogs log driver needs: set executionRoleArn (e.g. \
                 ecsTaskExecutionRole) in the task definition first"
            ),
            Refusal::NoCpu {
                task,
                total,
                reserved,
                left,
                need,
            } => write!(
                f,
                "task definition {task} has {total} CPU units and its containers reserve \
                 {reserved}, which leaves {left} for the sensor's {need}: pass --cpu {left} or \
                 less (or --low-resource), or give the task more CPU"
            ),
            Refusal::NoMemory {
                task,
                total,
                reserved,
                left,
                need,
            } => write!(
                f,
                "task definition {task} has {total} MiB and its containers reserve {reserved}, \
                 which leaves {left} MiB for the sensor's {need} MiB: pass --memory {left} or \
                 less (or --low-resource), or give the task more memory"
            ),
            Refusal::NoSuchService {
                want,
                cluster,
                services,
            } => write!(
                f,
                "service '{want}' is not in cluster {cluster} ({services})"
            ),
            Refusal::OtherFamily {
                want,
                runs,
                its_family,
                family,
            } => write!(
                f,
                "service '{want}' runs {runs}, not task family {family}: choose the family it \
                 runs (--task-family {its_family}) or another service"
            ),
            Refusal::Unused {
                cluster,
                family,
                services,
            } => write!(
                f,
                "no service of cluster {cluster} runs task family {family} ({services}): nothing \
                 would use the new revision"
            ),
            Refusal::Controller {
                service,
                controller,
            } => write!(
                f,
                "service '{service}' uses the {controller} deployment controller, whose \
                 deployments ECS's UpdateService cannot start: register the revision with \
                 --dry-run's JSON and deploy it through {}",
                if controller == "CODE_DEPLOY" {
                    "CodeDeploy"
                } else {
                    "your deployment controller"
                }
            ),
            Refusal::SpoolVolumeTaken { task, volume } => write!(
                f,
                "task definition {task} already has a volume named '{volume}', which --spool \
                 would add for the sensor's spool: rename that volume, or leave out --spool"
            ),
        }
    }
}
