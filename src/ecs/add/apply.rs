//! The changes of `ecs add`, carried out in the order of the plan: the new
//! revision (`ecs:RegisterTaskDefinition`), each service moved to it
//! (`ecs:UpdateService`), and the marker tags (`ecs:TagResource`). A
//! service that cannot be updated does not stop the others; the error then
//! says what was done and how to finish.

use super::Fail;
use super::model::{Service, TaskDef, short_td};
use super::plan::{Plan, TAG_KEY, TAG_TIME_KEY};
use super::prompt::Prompt;
use crate::ecs::aws::Client;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// What was changed.
#[derive(Debug)]
pub struct Applied {
    /// The new revision's ARN.
    pub arn: String,
    /// The services moved to it, by name.
    pub updated: Vec<String>,
}

/// Carry out `p`: every service updated, or an error naming those that
/// were not (after the others are updated and everything is tagged).
pub fn apply(c: &Client, p: &Plan, ui: &mut dyn Prompt) -> Result<Applied, Fail> {
    let r = c.ecs("RegisterTaskDefinition", &p.request)?;
    let Some(new_arn) = TaskDef::from_answer(&r).arn else {
        return Err(Fail::Error(
            "ecs:RegisterTaskDefinition answered without a taskDefinitionArn".into(),
        ));
    };
    let new_short = short_td(&new_arn);
    ui.say(&format!("registered {new_short} ({new_arn})"));

    let mut updated: Vec<(String, String)> = Vec::new(); // (name, arn)
    let mut failed: Vec<String> = Vec::new();
    for svc in &p.services {
        let name = svc.label().to_string();
        match c.ecs(
            "UpdateService",
            &json!({"cluster": p.cluster.arn, "service": name, "taskDefinition": new_arn}),
        ) {
            Ok(r) => {
                let arn = r
                    .get("service")
                    .map(Service::from_json)
                    .and_then(|s| s.arn)
                    .or_else(|| svc.arn.clone())
                    .unwrap_or_default();
                ui.say(&format!(
                    "service {name}: now {new_short}, deployment started"
                ));
                updated.push((name, arn));
            }
            Err(e) => {
                crate::log::error(&format!("service {name}: {e}"));
                failed.push(name);
            }
        }
    }

    let tags = json!([
        {"key": TAG_KEY, "value": new_short},
        {"key": TAG_TIME_KEY, "value": rfc3339_secs(now_unix())},
    ]);
    let mut to_tag = vec![new_arn.clone()];
    to_tag.extend(
        updated
            .iter()
            .map(|(_, arn)| arn.clone())
            .filter(|a| !a.is_empty()),
    );
    for arn in &to_tag {
        if let Err(e) = c.ecs("TagResource", &json!({"resourceArn": arn, "tags": tags})) {
            crate::log::warn(&format!(
                "could not tag {} ({e}); the sensor is in place, only the marker tag is missing",
                short_td(arn)
            ));
        }
    }

    if !failed.is_empty() {
        return Err(Fail::Error(format!(
            "{new_short} is registered{}, but {} could not be updated (see above): after fixing the \
             cause, run 'aws ecs update-service --cluster {} --service NAME --task-definition {new_short}' \
             for {}",
            if updated.is_empty() {
                String::new()
            } else {
                format!(
                    " and {} updated",
                    updated
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            failed.join(", "),
            p.cluster.name,
            failed.join(", ")
        )));
    }
    Ok(Applied {
        arn: new_arn,
        updated: updated.into_iter().map(|(name, _)| name).collect(),
    })
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `2015-08-30T12:36:00Z`: RFC 3339 to the second, UTC.
fn rfc3339_secs(unix: u64) -> String {
    let mut b = Vec::new();
    crate::json::write_rfc3339(&mut b, unix * 1_000_000);
    let s = String::from_utf8_lossy(&b).into_owned();
    format!("{}Z", &s[..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_time() {
        assert_eq!(rfc3339_secs(1_440_938_160), "2015-08-30T12:36:00Z");
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
    }
}
