//! Endpoint-aware sampling on a realistic hour of API traffic (issue 19),
//! at the library level: the exchanges tests/support/endpoints_mkpcap.py
//! generates (about 60,000 over 300 endpoints: 30% health checks, a Zipf
//! mix, a tail seen 1-3 times, a few percent of 4xx/5xx) go through
//! `pcap_sensor::endpoint::Endpoints` in time order — request heads at
//! their first packet, response heads at their last — at 100 traces a
//! minute, as the pipeline will call it.
//!
//! Asserts: every exchange lands on the endpoint the generator meant (the
//! template rules on realistic paths); at least 99% of endpoints and 95% of
//! (endpoint, 4xx/5xx) pairs get a trace; the traces stay within the rate
//! limit (N a minute plus the initial burst, in every window); `uniform`
//! makes exactly the decisions of today's `RateLimit`; the inventory adds up
//! to the truth. Prints the figures (`--nocapture`).
//!
//! Needs python3 (standard library only).

mod support;

use pcap_sensor::endpoint::{Config, Endpoints, Late, Mode, Reason, Verdict};
use pcap_sensor::policy::RateLimit;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::OnceLock;
use support::endpoints::{Endpoint, Generated, coverage, error_class, generate};
use support::process::TempDir;

const SEED: u64 = 19;
const RATE: f64 = 100.0;
const MINUTE: u64 = 60_000_000;

/// The hour of seed `SEED`, generated once for the tests that share it.
fn hour() -> &'static Generated {
    static HOUR: OnceLock<Generated> = OnceLock::new();
    HOUR.get_or_init(|| generate(&TempDir::new("endpoint-sampling"), SEED, 60.0, false))
}

/// What one run of the sampler over the capture gave.
struct Run {
    /// Per exchange: traced, and why.
    traced: Vec<Option<Reason>>,
    /// When each trace took its token (request or response head).
    token_times: Vec<u64>,
    /// The endpoint each exchange was put on.
    keys: Vec<Endpoint>,
    /// Most `Head` exchanges waiting for their response at once.
    max_heads: usize,
    heads: usize,
    endpoints: Endpoints,
}

fn run(g: &Generated, mode: Mode, max_endpoints: usize) -> Run {
    let mut e = Endpoints::new(&Config {
        max_endpoints,
        per_minute: RATE,
        mode,
        ..Config::default()
    });
    let xs = &g.exchanges;
    let mut tickets = Vec::with_capacity(xs.len());
    let mut traced = vec![None; xs.len()];
    let mut token_times = Vec::new();
    let mut keys = Vec::with_capacity(xs.len());
    let mut pending = BinaryHeap::new();
    let (mut in_flight, mut max_heads, mut heads) = (0usize, 0usize, 0usize);
    let respond = |e: &mut Endpoints,
                   tickets: &mut Vec<pcap_sensor::endpoint::Ticket>,
                   i: usize,
                   in_flight: &mut usize,
                   traced: &mut Vec<Option<Reason>>,
                   token_times: &mut Vec<u64>| {
        let x = &xs[i];
        let t = &mut tickets[i];
        if t.verdict() == Verdict::Head {
            *in_flight -= 1;
        }
        if e.response(t, x.end_us, x.status) == Late::Promote {
            token_times.push(x.end_us);
        }
        if let Verdict::Keep(r) = t.verdict() {
            traced[i] = Some(r);
        }
        e.finish(*t, Some(x.status), x.ts_us, x.end_us, t.traced());
    };
    for (i, x) in xs.iter().enumerate() {
        while let Some(&Reverse((end, j))) = pending.peek() {
            if end > x.ts_us {
                break;
            }
            pending.pop();
            respond(
                &mut e,
                &mut tickets,
                j,
                &mut in_flight,
                &mut traced,
                &mut token_times,
            );
        }
        let t = e.request(x.ts_us, &x.method, &x.host, &x.target);
        let k = e.key(&t).expect("just found");
        keys.push((
            String::from_utf8_lossy(k.method()).into_owned(),
            String::from_utf8_lossy(k.host()).into_owned(),
            String::from_utf8_lossy(k.template()).into_owned(),
        ));
        match t.verdict() {
            Verdict::Keep(_) => token_times.push(x.ts_us),
            Verdict::Head => {
                heads += 1;
                in_flight += 1;
                max_heads = max_heads.max(in_flight);
            }
            Verdict::Pass => {}
        }
        tickets.push(t);
        pending.push(Reverse((x.end_us, i)));
    }
    while let Some(Reverse((_, j))) = pending.pop() {
        respond(
            &mut e,
            &mut tickets,
            j,
            &mut in_flight,
            &mut traced,
            &mut token_times,
        );
    }
    token_times.sort_unstable();
    Run {
        traced,
        token_times,
        keys,
        max_heads,
        heads,
        endpoints: e,
    }
}

/// Traces of a run as (the generator's endpoint, status).
fn traces(g: &Generated, r: &Run) -> Vec<(Endpoint, u16)> {
    g.exchanges
        .iter()
        .zip(&r.traced)
        .filter(|(_, t)| t.is_some())
        .map(|(x, _)| {
            (
                (x.method.clone(), x.host.clone(), x.template.clone()),
                x.status,
            )
        })
        .collect()
}

/// Panics unless the traces stay within the bucket: by any time t, at most
/// N + N·(t - start)/minute; in any window of a minute, at most 2N.
fn assert_within_the_limit(name: &str, start: u64, times: &[u64]) -> usize {
    for (k, &t) in times.iter().enumerate() {
        let allowed = RATE + RATE * (t - start) as f64 / MINUTE as f64;
        assert!(
            (k + 1) as f64 <= allowed + 1e-9,
            "{name}: trace {} at +{} µs, more than {allowed}",
            k + 1,
            t - start
        );
    }
    let mut most = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while j < times.len() && times[j] < times[i] + MINUTE {
            j += 1;
        }
        most = most.max(j - i);
    }
    assert!(
        most as f64 <= 2.0 * RATE,
        "{name}: {most} traces in a minute"
    );
    most
}

/// Traces per endpoint, by kind of endpoint.
fn spread(g: &Generated, r: &Run) -> String {
    let mut per: HashMap<&Endpoint, usize> = HashMap::new();
    let mut health = 0;
    let mut total = 0;
    let truth: Vec<Endpoint> = g
        .exchanges
        .iter()
        .map(|x| (x.method.clone(), x.host.clone(), x.template.clone()))
        .collect();
    for (i, t) in r.traced.iter().enumerate() {
        if t.is_some() {
            *per.entry(&truth[i]).or_default() += 1;
            total += 1;
            health += (g.exchanges[i].kind == "health") as usize;
        }
    }
    let mut counts: Vec<usize> = per.values().copied().collect();
    counts.sort_unstable();
    let top: usize = counts.iter().rev().take(3).sum();
    format!(
        "{total} traces; health checks {:.1}%, top 3 endpoints {:.1}%, most for one endpoint {}, \
         median per traced endpoint {}",
        100.0 * health as f64 / total.max(1) as f64,
        100.0 * top as f64 / total.max(1) as f64,
        counts.last().copied().unwrap_or(0),
        counts.get(counts.len() / 2).copied().unwrap_or(0)
    )
}

#[test]
fn an_hour_of_api_traffic_at_100_a_minute() {
    let g: &Generated = hour();
    let xs = &g.exchanges;
    let t = &g.truth;
    eprintln!(
        "capture: {} exchanges, {} endpoints ({} in the tail), {} (endpoint, error) pairs, \
         {} 4xx + {} 5xx, health checks {}",
        t["exchanges"],
        t["endpoints"],
        t["tail_endpoints"],
        t["pairs"],
        t["errors_4xx"],
        t["errors_5xx"],
        t["health_share"]
    );
    assert!(xs.len() > 55_000 && xs.len() < 65_000, "{}", xs.len());
    assert_eq!(t["endpoints"], 300);
    let start = xs[0].ts_us;

    // Endpoint-aware sampling.
    let s = run(g, Mode::Endpoints, 1024);
    let wrong: Vec<String> = xs
        .iter()
        .zip(&s.keys)
        .filter(|(x, k)| (&x.method, &x.host, &x.template) != (&k.0, &k.1, &k.2))
        .take(10)
        .map(|(x, k)| {
            format!(
                "{} {}{} -> {}, want {}",
                x.method, x.host, x.target, k.2, x.template
            )
        })
        .collect();
    assert!(wrong.is_empty(), "templates:\n{}", wrong.join("\n"));
    let cov = coverage(g, traces(g, &s));
    let c = s.endpoints.counters();
    let most = assert_within_the_limit("sampling", start, &s.token_times);
    eprintln!(
        "sampling: endpoints {}/{} ({:.1}%), pairs {}/{} ({:.1}%); {}; kept as new endpoint {}, \
         new error {}, fair share {}; most in a minute {most}; heads kept {} ({} at most in \
         flight); fair rate at the end {:.2}/min",
        cov.endpoints_traced,
        cov.endpoints,
        100.0 * cov.endpoint_share(),
        cov.pairs_traced,
        cov.pairs,
        100.0 * cov.pair_share(),
        spread(g, &s),
        c.traces_new_endpoint,
        c.traces_new_error,
        c.traces_fair_share,
        s.heads,
        s.max_heads,
        s.endpoints.fair_rate(),
    );
    let total = s.traced.iter().filter(|t| t.is_some()).count() as u64;
    assert_eq!(
        c.traces_new_endpoint + c.traces_new_error + c.traces_fair_share,
        total
    );
    assert_eq!(c.endpoints_known, 300);
    assert_eq!(c.endpoint_evictions, 0);
    assert!(
        cov.endpoint_share() >= 0.99,
        "endpoints traced: {}/{}",
        cov.endpoints_traced,
        cov.endpoints
    );
    assert!(
        cov.pair_share() >= 0.95,
        "pairs traced: {}/{}",
        cov.pairs_traced,
        cov.pairs
    );
    // The budget is used: within 5% of what the bucket allows.
    let span = (xs.last().unwrap().end_us - start) as f64 / MINUTE as f64;
    assert!(total as f64 >= 0.95 * RATE * (1.0 + span), "{total} traces");

    // Uniform: today's bucket, decision for decision.
    let u = run(g, Mode::Uniform, 1024);
    let mut bucket = RateLimit::new(RATE);
    let today: Vec<bool> = xs.iter().map(|x| bucket.take(x.ts_us)).collect();
    let ours: Vec<bool> = u.traced.iter().map(Option::is_some).collect();
    assert_eq!(
        ours.iter().filter(|&&b| b).count(),
        today.iter().filter(|&&b| b).count()
    );
    assert!(ours == today, "uniform differs from RateLimit");
    let ucov = coverage(g, traces(g, &u));
    let umost = assert_within_the_limit("uniform", start, &u.token_times);
    eprintln!(
        "uniform: endpoints {}/{} ({:.1}%), pairs {}/{} ({:.1}%); {}; most in a minute {umost}",
        ucov.endpoints_traced,
        ucov.endpoints,
        100.0 * ucov.endpoint_share(),
        ucov.pairs_traced,
        ucov.pairs,
        100.0 * ucov.pair_share(),
        spread(g, &u),
    );
    assert_eq!(u.endpoints.counters().traces_fair_share, 0);

    // The inventory adds up to the truth.
    let mut e = s.endpoints;
    let mut out = Vec::new();
    e.write_jsonl(&mut out).unwrap();
    let truth = g.endpoints();
    let mut lines = 0;
    let mut traced_sum = 0;
    for l in String::from_utf8(out).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let k = (
            v["method"].as_str().unwrap().to_string(),
            v["host"].as_str().unwrap().to_string(),
            v["template"].as_str().unwrap().to_string(),
        );
        let (n, e4, e5) = truth[&k];
        assert_eq!(v["seen"], n, "{k:?}");
        assert_eq!(v["status"]["4xx"], e4, "{k:?}");
        assert_eq!(v["status"]["5xx"], e5, "{k:?}");
        assert_eq!(v["status"]["none"], 0);
        assert!(v["p50_us"].as_u64().unwrap() <= v["p99_us"].as_u64().unwrap());
        traced_sum += v["traced"].as_u64().unwrap();
        lines += 1;
    }
    assert_eq!(lines, 300);
    assert_eq!(traced_sum, total);
    let mut table = Vec::new();
    e.write_table(&mut table).unwrap();
    let table = String::from_utf8(table).unwrap();
    eprintln!("{}", table.lines().take(8).collect::<Vec<_>>().join("\n"));
}

#[test]
fn other_seeds_too() {
    let dir = TempDir::new("endpoint-sampling-seeds");
    for seed in [1, 2, 3] {
        let g = &generate(&dir, seed, 60.0, false);
        let s = run(g, Mode::Endpoints, 1024);
        let cov = coverage(g, traces(g, &s));
        assert_within_the_limit("sampling", g.exchanges[0].ts_us, &s.token_times);
        let u = run(g, Mode::Uniform, 1024);
        let ucov = coverage(g, traces(g, &u));
        eprintln!(
            "seed {seed}: sampling endpoints {:.1}% pairs {:.1}% ({} pairs); uniform {:.1}% {:.1}%",
            100.0 * cov.endpoint_share(),
            100.0 * cov.pair_share(),
            cov.pairs,
            100.0 * ucov.endpoint_share(),
            100.0 * ucov.pair_share()
        );
        assert!(cov.endpoint_share() >= 0.99, "seed {seed}: {cov:?}");
        assert!(cov.pair_share() >= 0.95, "seed {seed}: {cov:?}");
    }
}

#[test]
fn a_small_table_still_holds_the_limit() {
    // 64 endpoints for 300: evictions all along; the cap holds, and the
    // endpoints seen most are still known at the end.
    let g: &Generated = hour();
    let start = g.exchanges[0].ts_us;
    let s = run(g, Mode::Endpoints, 64);
    let c = s.endpoints.counters();
    let cov = coverage(g, traces(g, &s));
    assert_within_the_limit("small table", start, &s.token_times);
    eprintln!(
        "64 endpoints: {} evictions, endpoints {:.1}%, pairs {:.1}%, new endpoint {} new error {} \
         fair share {}",
        c.endpoint_evictions,
        100.0 * cov.endpoint_share(),
        100.0 * cov.pair_share(),
        c.traces_new_endpoint,
        c.traces_new_error,
        c.traces_fair_share
    );
    assert_eq!(c.endpoints_known, 64);
    assert!(c.endpoint_evictions > 0);
    let mut out = Vec::new();
    let mut e = s.endpoints;
    e.write_jsonl(&mut out).unwrap();
    let known: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut by_count: Vec<(u64, Endpoint)> = g
        .endpoints()
        .into_iter()
        .map(|(k, (n, _, _))| (n, k))
        .collect();
    by_count.sort_by_key(|b| Reverse(b.0));
    let names: Vec<(String, String)> = known
        .iter()
        .map(|v| {
            (
                v["method"].as_str().unwrap().to_string(),
                v["template"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (n, k) in by_count.iter().take(10) {
        assert!(
            names.contains(&(k.0.clone(), k.2.clone())),
            "{k:?} ({n} exchanges) was forgotten"
        );
    }
}

#[test]
fn the_generator_is_seeded_and_writes_a_capture() {
    let dir = TempDir::new("endpoint-generator");
    let a = generate(&dir, 7, 2.0, true);
    let pcap = std::fs::read(a.pcap.as_ref().unwrap()).unwrap();
    let dir2 = TempDir::new("endpoint-generator");
    let b = generate(&dir2, 7, 2.0, true);
    assert_eq!(pcap, std::fs::read(b.pcap.as_ref().unwrap()).unwrap());
    assert_eq!(a.truth, b.truth);
    // A pcap: the magic, Ethernet, as many records as the truth says.
    assert_eq!(&pcap[..4], &0xA1B2_C3D4u32.to_le_bytes());
    assert_eq!(u32::from_le_bytes(pcap[20..24].try_into().unwrap()), 1);
    let (mut at, mut n, mut last) = (24, 0u64, 0u64);
    while at < pcap.len() {
        let f = |k: usize| u32::from_le_bytes(pcap[at + k..at + k + 4].try_into().unwrap()) as u64;
        let ts = f(0) * 1_000_000 + f(4);
        assert!(ts >= last, "records in time order");
        last = ts;
        at += 16 + f(8) as usize;
        n += 1;
    }
    assert_eq!(at, pcap.len());
    assert_eq!(a.truth["packets"], n);
    // The truth agrees with the exchanges listed.
    assert_eq!(a.truth["exchanges"], a.exchanges.len());
    let mut per: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for x in &a.exchanges {
        *per.entry((x.method.clone(), x.host.clone(), x.template.clone()))
            .or_default() += 1;
        assert!(x.end_us > x.ts_us);
        let _ = error_class(x.status);
    }
    assert_eq!(a.truth["endpoints"], per.len());
}
