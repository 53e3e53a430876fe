//! What each action of `ecs add` may be limited to, as the statements of
//! the policy: the ten actions of [`crate::ecs::aws::PERMISSIONS`], grouped
//! by the resources IAM can check them against.
//!
//! Facts from the Service Authorization Reference ("Actions, resources, and
//! condition keys for Amazon Elastic Container Service", and the EC2 page
//! for `ec2:DescribeRegions`), as of the 2025 pages:
//!
//! - no resource type, so the statement must say `"*"`:
//!   `ec2:DescribeRegions`, `ecs:ListClusters`,
//!   `ecs:ListTaskDefinitionFamilies`, `ecs:DescribeTaskDefinition`;
//! - `ecs:ListServices`: no resource type either, but the condition key
//!   `ecs:cluster` (the cluster's ARN);
//! - `ecs:DescribeClusters`: `cluster` (`arn:P:ecs:R:A:cluster/NAME`);
//! - `ecs:DescribeServices`, `ecs:UpdateService`: `service`
//!   (`arn:P:ecs:R:A:service/CLUSTER/NAME`, the long ARN format);
//! - `ecs:RegisterTaskDefinition`: `task-definition`
//!   (`arn:P:ecs:R:A:task-definition/FAMILY:REVISION`), dependent actions
//!   `ecs:TagResource` (when the request carries tags, as `ecs add`'s does:
//!   the task's own tags are copied) and `iam:PassRole` (for the task and
//!   execution roles it names). Older AWS examples (and the reference
//!   product's table) give it `"*"`: scoping it to the family follows the
//!   current reference; if an account ever sees it denied with the family
//!   scope, `"*"` is the fallback;
//! - `ecs:TagResource`: `service`, `task-definition` (and other types), with
//!   the condition keys `aws:TagKeys` and `ecs:CreateAction`.

use crate::ecs::add::{TAG_KEY, TAG_TIME_KEY};

/// Which resources a statement's actions may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Any (`"*"`): the actions have no resource type.
    Any,
    /// Any (`"*"`), but only for the cluster (condition `ecs:cluster`)
    /// when one is named.
    AnyOfCluster,
    /// The cluster.
    Cluster,
    /// Every service of the cluster: `ecs add` reads them all to find
    /// those that run the family (and follows the rollout of its own).
    ClusterServices,
    /// The services named (every service of the cluster when none is).
    Services,
    /// The services named, and only `ecs add`'s marker tag keys on them.
    ServicesMarkerTags,
    /// The task family's revisions (the new one is registered and tagged).
    Family,
}

/// One statement: its `Sid`, actions and scope.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    pub sid: &'static str,
    pub actions: &'static [&'static str],
    pub scope: Scope,
}

/// The statements, in the order `ecs add` needs them.
pub const GRANTS: &[Grant] = &[
    Grant {
        sid: "EcsAddFindRegionsClustersAndTaskDefinitions",
        actions: &[
            "ec2:DescribeRegions",
            "ecs:ListClusters",
            "ecs:ListTaskDefinitionFamilies",
            "ecs:DescribeTaskDefinition",
        ],
        scope: Scope::Any,
    },
    Grant {
        sid: "EcsAddListTheClusterServices",
        actions: &["ecs:ListServices"],
        scope: Scope::AnyOfCluster,
    },
    Grant {
        sid: "EcsAddDescribeTheCluster",
        actions: &["ecs:DescribeClusters"],
        scope: Scope::Cluster,
    },
    Grant {
        sid: "EcsAddDescribeTheClusterServices",
        actions: &["ecs:DescribeServices"],
        scope: Scope::ClusterServices,
    },
    Grant {
        sid: "EcsAddRegisterAndTagTheNewRevision",
        actions: &["ecs:RegisterTaskDefinition", "ecs:TagResource"],
        scope: Scope::Family,
    },
    Grant {
        sid: "EcsAddUpdateTheServices",
        actions: &["ecs:UpdateService"],
        scope: Scope::Services,
    },
    Grant {
        sid: "EcsAddMarkTheServices",
        actions: &["ecs:TagResource"],
        scope: Scope::ServicesMarkerTags,
    },
];

/// The tag keys `ecs add` puts on the services.
pub const MARKER_TAG_KEYS: &[&str] = &[TAG_KEY, TAG_TIME_KEY];

/// The optional statement: `iam:PassRole`, which is not one of the calls
/// `ecs add` makes, but which AWS checks when `ecs:RegisterTaskDefinition`
/// names a task role or task execution role (a dependent action in the
/// Service Authorization Reference; AWS's own ECS deploy action lists it
/// in its minimum permissions for the same reason). `ecs add` copies the
/// roles the task already has, so only those need passing, and only to
/// ECS tasks (`iam:PassedToService` `ecs-tasks.amazonaws.com`, the service
/// the roles' trust policies name).
pub const PASS_ROLE_SID: &str = "PassTheTaskRolesToEcsTasks";
pub const PASS_ROLE_ACTION: &str = "iam:PassRole";
pub const PASSED_TO_SERVICE: &str = "ecs-tasks.amazonaws.com";
