//! What the flags left open about the change, asked on the terminal: which
//! of the services that run the family move to the new revision, and the
//! sensor container's values (each typed value checked as its flag would be).

use super::Fail;
use super::args::{AddArgs, parse_rate};
use super::model::Service;
use super::prompt::{self, Prompt};
use crate::ecs::container_def::{self, SidecarOptions};

/// Some of `using` (the services that run the family), from a menu.
pub fn services(using: &[&Service], ui: &mut dyn Prompt) -> Result<Vec<Service>, Fail> {
    let labels: Vec<String> = using
        .iter()
        .map(|x| {
            format!(
                "{}  (runs {}, {} of {} tasks running)",
                x.label(),
                x.runs().unwrap_or_else(|| "?".into()),
                x.running,
                x.desired
            )
        })
        .collect();
    Ok(prompt::choose_many(ui, "Services", &labels)?
        .into_iter()
        .map(|i| using[i].clone())
        .collect())
}

/// The sensor container's values: the flags', the region, the log group
/// named after the family unless given, and what is still open, asked for.
pub fn sensor(
    a: &AddArgs,
    family: &str,
    region: &str,
    ui: &mut dyn Prompt,
) -> Result<SidecarOptions, Fail> {
    let mut o = a.sidecar.clone();
    o.region = Some(region.to_string());
    if o.log_group.is_none() {
        o.log_group = Some(format!("/ecs/{}-pcap", family.replace(':', "-")));
    }
    // A typed value is checked the way the flag would be.
    let check_with = |base: &SidecarOptions, f: &dyn Fn(&mut SidecarOptions)| {
        let mut probe = base.clone();
        f(&mut probe);
        container_def::check(&probe).map_err(|e| e.0)
    };
    if o.image.is_none() {
        let base = o.clone();
        let v = prompt::text(
            ui,
            "Sensor image (--image, e.g. 123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:TAG)",
            None,
            &|v| check_with(&base, &|p| p.image = Some(v.to_string())),
        )?;
        o.image = Some(v);
    }
    if o.satellite_url.is_none() {
        let base = o.clone();
        let v = prompt::text(
            ui,
            "Satellite URL (--satellite-url, http(s)://host:port)",
            None,
            &|v| check_with(&base, &|p| p.satellite_url = Some(v.to_string())),
        )?;
        o.satellite_url = Some(v);
    }
    if o.levo_env.is_none() {
        let v = prompt::text(ui, "Environment (--levo-env)", Some("staging"), &|_| Ok(()))?;
        o.levo_env = Some(v);
    }
    if o.org_id.is_none() {
        let v = prompt::text(ui, "Organisation id (--levoai-org-id)", None, &|_| Ok(()))?;
        o.org_id = Some(v);
    }
    if o.rate_limit.is_none() {
        let v = prompt::text(
            ui,
            "Traces per minute (--rate-limit, 0 = no limit)",
            Some("1000"),
            &|v| parse_rate(v).map(|_| ()).map_err(|e| e.0),
        )?;
        o.rate_limit = Some(parse_rate(&v)?);
    }
    container_def::check(&o)?;
    Ok(o)
}
