//! Endpoint decisions allocate nothing: a counting global allocator around
//! `Endpoints::request` / `response` / `finish` over many paths (templated,
//! percent-encoded, too long for their buffer), with a table small enough
//! to evict all along, in both modes; and around writing the inventory into
//! buffers reserved beforehand.
//!
//! A test binary of its own, with a single test, so that nothing else
//! allocates meanwhile.

use pcap_sensor::endpoint::{Config, Endpoints, Mode};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

#[test]
fn decisions_do_not_allocate() {
    // Everything is made here, before counting.
    let mut targets: Vec<String> = Vec::new();
    for i in 0..400u32 {
        targets.push(match i % 8 {
            0 => format!("/api/v1/users/{i}?page={}", i % 7),
            1 => format!(
                "/api/v1/orders/3f2504e0-4f89-11d3-9a0c-0305e82c{:04x}/items",
                i
            ),
            2 => format!("/files/{:040x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
            3 => format!("/users/ann{i}%40example.com/keys"),
            4 => format!("/share/sk_live_4eC39HqLyjWDarjtT1zdp{i:03}"),
            5 => format!("/r{}/{}", i % 50, "segment/".repeat(30)),
            6 => format!("/word{}/%7euser/a%2fb;jsessionid=X{i}", i % 90),
            _ => format!("http://h/reports/2024-05-{:02}.csv#x", i % 28 + 1),
        });
    }
    let hosts = ["api.example.com", "AUTH.example.com.", "10.0.0.1"];
    let methods = ["GET", "POST", "DELETE"];
    let mut sampling = Endpoints::new(&Config {
        max_endpoints: 64,
        per_minute: 100.0,
        mode: Mode::Endpoints,
        ..Config::default()
    });
    let mut uniform = Endpoints::new(&Config {
        max_endpoints: 64,
        per_minute: 100.0,
        mode: Mode::Uniform,
        ..Config::default()
    });
    let mut jsonl = Vec::with_capacity(1 << 20);
    let mut table = Vec::with_capacity(1 << 20);
    let t0 = 1_714_564_800_000_000u64;

    let before = allocations();
    for e in [&mut sampling, &mut uniform] {
        for k in 0..50_000u64 {
            let i = (k * 7919 % 400) as usize;
            let ts = t0 + k * 5_000;
            let mut t = e.request(ts, methods[i % 3], hosts[k as usize % 3], &targets[i]);
            let status = [200, 200, 201, 404, 500, 204, 503, 200][(k % 8) as usize];
            e.response(&mut t, ts + 900, status);
            let traced = t.traced();
            e.finish(t, Some(status), ts, ts + 1_000 + k % 5_000, traced);
        }
        jsonl.clear();
        e.write_jsonl(&mut jsonl).unwrap();
        table.clear();
        e.write_table(&mut table).unwrap();
    }
    let after = allocations();

    assert_eq!(after - before, 0, "allocations while deciding");
    let c = sampling.counters();
    assert_eq!(c.endpoints_known, 64);
    assert!(c.endpoint_evictions > 1000, "{c:?}");
    assert!(c.traces_new_endpoint + c.traces_new_error + c.traces_fair_share > 0);
    assert_eq!(String::from_utf8(jsonl).unwrap().lines().count(), 64);
    assert_eq!(String::from_utf8(table).unwrap().lines().count(), 65);
}
