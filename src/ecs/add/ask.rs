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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::add::prompt::Scripted;
    use serde_json::json;

    fn service(name: &str, runs: &str, running: u64, desired: u64) -> Service {
        Service::from_json(&json!({
            "serviceName": name,
            "taskDefinition": format!("arn:aws:ecs:us-east-1:1:task-definition/{runs}"),
            "runningCount": running, "desiredCount": desired
        }))
    }

    #[test]
    fn services_menu() {
        let (a, b) = (
            service("web-a", "web:2", 2, 2),
            service("web-b", "web:1", 0, 1),
        );
        let mut p = Scripted::new(true, &["2"]);
        let chosen = services(&[&a, &b], &mut p).unwrap();
        assert_eq!(chosen, vec![b.clone()]);
        assert_eq!(
            p.shown,
            "Services:\n    1) web-a  (runs web:2, 2 of 2 tasks running)\n    \
             2) web-b  (runs web:1, 0 of 1 tasks running)\n\
             Services to update [numbers, e.g. 1 3; Enter = all 2]: 2\n"
        );
        let mut p = Scripted::new(true, &[]);
        assert_eq!(services(&[&a], &mut p).unwrap(), vec![a]);
        assert_eq!(
            p.shown,
            "Services: web-a  (runs web:2, 2 of 2 tasks running) (the only one)\n"
        );
    }

    #[test]
    fn sensor_values_asked_and_checked() {
        let mut p = Scripted::new(
            true,
            &[
                "repo/pcap-sensor:1",
                "sat:9999",
                "http://sat:9999",
                "",
                "org",
                "lots",
                "50",
            ],
        );
        let o = sensor(&AddArgs::default(), "web:3", "us-west-2", &mut p).unwrap();
        assert_eq!(o.image.as_deref(), Some("repo/pcap-sensor:1"));
        assert_eq!(o.satellite_url.as_deref(), Some("http://sat:9999"));
        assert_eq!(o.levo_env.as_deref(), Some("staging"));
        assert_eq!(o.org_id.as_deref(), Some("org"));
        assert_eq!(o.rate_limit, Some(50.0));
        assert_eq!(o.region.as_deref(), Some("us-west-2"));
        assert_eq!(o.log_group.as_deref(), Some("/ecs/web-3-pcap"));
        assert!(
            p.shown.contains(
                "Satellite URL (--satellite-url, http(s)://host:port): sat:9999\n  --satellite-url \
                 expects http(s)://host[:port]"
            ),
            "{}",
            p.shown
        );
        assert!(
            p.shown.ends_with(
                "Traces per minute (--rate-limit, 0 = no limit) [1000]: lots\n  --rate-limit expects \
                 traces per minute ≥ 0 (0 = no limit), e.g. --rate-limit 1000, but got 'lots'\n\
                 Traces per minute (--rate-limit, 0 = no limit) [1000]: 50\n"
            ),
            "{}",
            p.shown
        );
        // Given by flags: nothing asked.
        let mut a = AddArgs::default();
        a.sidecar.image = Some("i:1".into());
        a.sidecar.satellite_url = Some("http://s:1".into());
        a.sidecar.levo_env = Some("e".into());
        a.sidecar.org_id = Some("o".into());
        a.sidecar.rate_limit = Some(0.0);
        a.sidecar.log_group = Some("/mine".into());
        let mut p = Scripted::new(false, &[]);
        let o = sensor(&a, "web", "eu-west-1", &mut p).unwrap();
        assert_eq!(p.shown, "");
        assert_eq!(o.log_group.as_deref(), Some("/mine"));
    }
}
