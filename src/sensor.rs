//! The read loop: frames in from the sources, traces out, timers on an idle
//! link, signals, counters.
//!
//! One thread, one loop over every source. A capture file is read as fast as
//! it goes, its clock the packets' time, until it ends. Live handles are
//! non-blocking and polled with a short timeout, so idle flows expire,
//! batches leave and counters print even when no packet arrives.

use std::fmt::Write as _;
use std::io;
use std::os::fd::RawFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cli::{ApidumpArgs, Sampling, VERSION};
use crate::ecs::metadata;
use crate::endpoint::{self, Endpoints};
use crate::export::inventory::Inventory;
use crate::export::otlp::spool::Spool;
use crate::export::otlp::{self, Exporter, Resource};
use crate::export::{self, Pipeline, Stop};
use crate::health::{self, Ago};
use crate::log;
use crate::policy::Filters;
use crate::proto::Tracker;
use crate::source::{self, Batch, CaptureFilter, File, Frame, Live, OpenError, Source};
use crate::stats;
use crate::tcp::Limits;
use crate::wire::{self, Skip};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn install_signals() {
    // SAFETY: the handler only stores to an atomic; no SA_RESTART, so poll()
    // returns early with EINTR and the loop sees STOP at once.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
    }
}

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// How often idle flows are looked for.
const SWEEP_US: u64 = 100_000;

struct Run {
    tracker: Tracker,
    sink: Pipeline,
    last_sweep: u64,
    /// `--endpoints`.
    inventory: Option<Inventory>,
}

impl Run {
    fn frame(&mut self, f: &Frame) {
        let st = &mut self.tracker.stats;
        st.packets += 1;
        st.bytes += f.data.len() as u64;
        match wire::decode(f.linktype, f.data) {
            Ok(seg) => self.tracker.segment(&seg, f.ts_us, &mut self.sink),
            Err(Skip::NotTcp) | Err(Skip::UnknownLink) => st.non_tcp += 1,
            Err(Skip::Fragment) => st.ip_fragments += 1,
            Err(Skip::Malformed) => st.malformed += 1,
        }
    }

    fn sweep(&mut self, now: u64) {
        if now >= self.last_sweep + SWEEP_US {
            self.last_sweep = now;
            self.tracker.expire(now, &mut self.sink);
        }
    }

    /// One frame from a source, unless the outputs have said stop (then the
    /// rest of a batch is left). A recording's clock is its frames' time:
    /// with `replay`, idle flows are swept by it.
    fn take(&mut self, f: &Frame, replay: bool) {
        if self.sink.next().is_continue() {
            self.frame(f);
            if replay {
                self.sweep(f.ts_us);
            }
        }
    }

    /// Write the endpoint inventory (at exit, or every stats interval to a
    /// file); a failure is a warning.
    fn write_inventory(&mut self, at_exit: bool) {
        let Some(inv) = &self.inventory else {
            return;
        };
        if (at_exit || inv.periodic())
            && let Err(e) = inv.write(self.sink.endpoints())
        {
            log::warn(&format!("cannot write --endpoints '{}': {e}", inv.name()));
        }
    }

    /// Fill in the counters kept elsewhere (the capture's, the outputs',
    /// peak RSS).
    fn collect(&mut self, sources: &mut [Box<dyn Source>]) {
        let st = &mut self.tracker.stats;
        st.kernel_drops = 0;
        st.if_drops = 0;
        for s in sources.iter_mut() {
            let d = s.drops();
            st.kernel_drops += d.kernel;
            st.if_drops += d.interface;
        }
        st.peak_rss_kb = stats::peak_rss_kb();
        self.sink.report(st);
    }

    /// A periodic stats line, and the encrypted servers seen; the same
    /// counters go to the satellite as metrics.
    fn stats_line(&mut self, sources: &mut [Box<dyn Source>]) {
        self.collect(sources);
        let fields = self.tracker.stats.fields();
        log::event("info", "stats", &fields);
        self.encrypted();
        self.sink.metrics(&fields);
    }

    /// The final stats line, after the outputs have finished. Its counters
    /// go to the satellite as metrics first (sending cannot change them,
    /// but for `metrics_failures` when that fails, which the line then
    /// counts).
    fn final_stats_line(&mut self, sources: &mut [Box<dyn Source>], deadline: Instant) {
        self.collect(sources);
        self.sink
            .final_metrics(&self.tracker.stats.fields(), deadline);
        let st = &mut self.tracker.stats;
        self.sink.report(st);
        log::event("info", "final stats", &st.fields());
        self.encrypted();
    }

    /// The top encrypted servers, after a stats line (none: no line).
    fn encrypted(&self) {
        if let Some(servers) = self.tracker.stats.unread.encrypted() {
            log::info(&format!("encrypted: {servers}"));
        }
    }
}

fn resource(a: &ApidumpArgs) -> Resource {
    use otlp::Value::Str;
    let task = match std::env::var("ECS_CONTAINER_METADATA_URI_V4") {
        Ok(uri) if !uri.is_empty() => match metadata::fetch(&uri) {
            Ok(t) => Some(t),
            Err(e) => {
                log::warn(&format!(
                    "task metadata unavailable ({e}); traces carry no ECS attributes"
                ));
                None
            }
        },
        _ => None,
    };
    let t = task.clone().unwrap_or_default();
    let service = a
        .service_name
        .clone()
        .or_else(|| t.family.clone())
        .unwrap_or_else(|| "unknown_service".to_string());
    let region = a.region.clone().or(t.region.clone());
    let mut attrs = vec![("service.name", Str(service))];
    let mut add = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            attrs.push((k, Str(v)));
        }
    };
    add("deployment.environment.name", a.levo_env.clone());
    add("levoai.org_id", a.org_id.clone());
    add(
        "cloud.provider",
        (task.is_some() || region.is_some()).then(|| "aws".into()),
    );
    add("cloud.platform", task.is_some().then(|| "aws_ecs".into()));
    add("cloud.region", region);
    add("cloud.availability_zone", t.availability_zone);
    add("aws.ecs.cluster.arn", t.cluster_arn);
    add("aws.ecs.task.arn", t.task_arn);
    add("aws.ecs.task.family", t.family);
    add("aws.ecs.task.revision", t.revision);
    add("aws.ecs.launchtype", t.launch_type);
    add("aws.ecs.service.name", t.service_name);
    add("telemetry.sdk.name", Some("pcap-sensor".into()));
    add("telemetry.sdk.version", Some(VERSION.into()));
    Resource { attrs }
}

/// What the loop reads: one recording, or live handles.
type Sources = Vec<Box<dyn Source>>;

/// The file (`-r`) or every interface (`-i`), and the filter in use.
fn open_sources(a: &ApidumpArgs) -> Result<(Sources, Option<String>), OpenError> {
    let filters = CaptureFilter::new(a.filter.as_deref(), a.satellite_url.as_deref());
    if let Some(path) = &a.read_file {
        let (f, used) = filters.open(true, |f| File::open(path, f))?;
        if !wire::dlt::supported(f.linktype()) {
            log::warn(&format!(
                "'{}' has link type {} which is not supported; its packets are counted, not decoded",
                path.display(),
                f.linktype()
            ));
        }
        return Ok((vec![Box::new(f)], used));
    }
    let mut lives: Sources = Vec::new();
    for name in &a.interfaces {
        let (l, _) = filters.open(false, |f| Live::open(name, f, a.snaplen, a.pcap_buffer_mb))?;
        lives.push(Box::new(l));
    }
    Ok((lives, filters.full().map(str::to_string)))
}

pub fn apidump(a: &ApidumpArgs) -> ExitCode {
    log::set_json(a.log_json);
    install_signals();
    if let Some(ca) = &a.ca_cert {
        // The TLS client reads extra roots from SSL_CERT_FILE when it first connects.
        // SAFETY: single-threaded; nothing else reads the environment concurrently.
        unsafe { std::env::set_var("SSL_CERT_FILE", ca) };
    }
    if !a.redact {
        log::warn("--no-redact: credentials, cookies and tokens are kept in traces as captured");
    }
    let local = match a
        .out
        .as_deref()
        .map(|o| export::local(o, a.format))
        .transpose()
    {
        Ok(l) => l,
        Err(e) => {
            log::error(&format!(
                "cannot write --out '{}': {e}",
                a.out.as_deref().unwrap_or("")
            ));
            return ExitCode::from(1);
        }
    };
    // The spool's folder must be writable: say so now, not at the first outage.
    let spool = match &a.spool_dir {
        Some(dir) => {
            let batch = Exporter::batch_bytes(
                a.max_batch_kb as usize * 1024,
                a.export_queue_mb as usize * (1 << 20),
            );
            match Spool::open(dir, a.spool_mb as u64 * (1 << 20), batch) {
                Ok(s) => Some(s),
                Err(msg) => {
                    log::error(&msg);
                    return ExitCode::from(1);
                }
            }
        }
        None => None,
    };
    // Open the input before reserving memory, so a bad interface fails fast.
    let (mut sources, filter) = match open_sources(a) {
        Ok(s) => s,
        Err(e) => {
            log::error(&e.msg);
            if a.keep_running && a.read_file.is_none() {
                stay_failed(a, None, &format!("capture could not start: {}", e.msg));
            }
            return ExitCode::from(if e.usage() { 2 } else { 1 });
        }
    };

    let satellite = a.satellite_url.as_deref().map(|url| {
        Exporter::new(
            url,
            &resource(a),
            a.export_interval,
            a.export_queue_mb as usize * (1 << 20),
            a.max_batch_kb as usize * 1024,
            spool,
        )
        // A recording waits for the satellite's connects (live capture
        // polls them: the capture never waits).
        .map(|e| e.waiting_for_connects(a.read_file.is_some()))
    });
    let satellite = match satellite.transpose() {
        Ok(s) => s,
        Err(msg) => {
            // The argument parser checks the URL the same way: not reached.
            log::error(&format!("--satellite-url {msg}"));
            return ExitCode::from(2);
        }
    };
    // Written in this order: the local file first, then the satellite.
    let outputs = local
        .into_iter()
        .chain(satellite.map(|s| Box::new(s) as Box<dyn export::Output>))
        .collect();
    let inventory = a.endpoints.as_deref().map(Inventory::new);
    let mut endpoints = Endpoints::new(&endpoint::Config {
        max_endpoints: a.max_endpoints,
        per_minute: a.effective_rate_limit(),
        mode: match a.sampling {
            Sampling::Endpoints => endpoint::Mode::Endpoints,
            Sampling::Uniform => endpoint::Mode::Uniform,
        },
        head_gap_us: endpoint::DEFAULT_HEAD_GAP_US,
    });
    if let Some(inv) = inventory.as_ref().filter(|i| i.periodic())
        && let Err(e) = inv.write(&mut endpoints)
    {
        log::error(&format!("cannot write --endpoints '{}': {e}", inv.name()));
        return ExitCode::from(1);
    }
    let sink = Pipeline::new(
        Filters::new(
            &a.host_allow,
            &a.path_allow,
            &a.host_exclusions,
            &a.path_exclusions,
        ),
        endpoints,
        a.redact,
        outputs,
        a.max_http_length as usize,
        a.count,
    );
    let tracker = Tracker::new(&Limits {
        max_flows: a.max_flows,
        pool_bytes: a.buffer_pool_mb as usize * (1 << 20),
        timeout_us: (a.stream_timeout * 1e6) as u64,
        max_body: a.max_http_length as u64,
        max_h2: a.max_h2_connections,
    });
    let lives: Vec<&str> = sources
        .iter()
        .filter(|s| s.pace().fd().is_some())
        .map(|s| s.name())
        .collect();
    let kernel = (lives.len() * a.pcap_buffer_mb as usize) << 20;
    let ceiling = tracker.reserved() + sink.reserved() + kernel;
    log::info(&format!(
        "memory ceiling {} bytes (flows {}, pool {} windows + {} chunks, endpoints {}, HTTP/2 {} connections, capture buffers {})",
        ceiling,
        a.max_flows,
        tracker.windows.count(),
        tracker.shared.http.pool.count(),
        a.max_endpoints,
        tracker.shared.h2.capacity(),
        kernel
    ));
    let mut run = Run {
        tracker,
        sink,
        last_sweep: 0,
        inventory,
    };

    let mut watch = Watch {
        server: None,
        since: Instant::now(),
        on: lives.join(","),
        turn_start: Instant::now(),
        longest: Duration::ZERO,
        last_frames: None,
    };
    if !lives.is_empty() {
        watch.server = health_server();
        log::info(&format!(
            "capturing on {} (filter: {})",
            lives.join(","),
            filter.as_deref().unwrap_or("none")
        ));
    }
    let result = read(&mut run, &mut sources, a, &mut watch);

    // Whatever happened, report every exchange we hold, then deliver.
    run.tracker.close_all(&mut run.sink);
    let deadline = Instant::now() + Duration::from_secs_f64(a.shutdown_timeout);
    let flushed = run.sink.finish(deadline);
    run.write_inventory(true);
    run.final_stats_line(&mut sources, deadline);
    if let Some(advice) = run.tracker.stats.advice(a.filter.as_deref()) {
        log::info(&format!("no HTTP exchanges were seen: {advice}"));
    }
    let failed = match run.sink.take_stop() {
        Some(Stop::Failed(e)) => Some(e),
        _ => None,
    };
    if let Some(e) = failed.or(flushed.err())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        log::error(&format!("writing traces failed: {e}"));
        return ExitCode::from(1);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            log::error(&msg);
            if a.keep_running {
                stay_failed(a, watch.server.take(), &format!("capture failed: {msg}"));
            }
            ExitCode::from(1)
        }
    }
}

/// The health check's listener (live capture only), or None with a
/// warning: the capture does not depend on it.
fn health_server() -> Option<health::Server> {
    let name = health::socket_name();
    match health::Server::open(&name) {
        Ok(s) => {
            log::info(&format!(
                "answering health checks ('pcap-sensor health') on {}",
                s.display_name()
            ));
            Some(s)
        }
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            log::warn(&format!(
                "health check: @{name} is taken by another process in this network namespace \
                 (another sensor?), so 'pcap-sensor health' reaches that one, not this; give \
                 each sensor a name of its own with {}",
                health::ENV_NAME
            ));
            None
        }
        Err(e) => {
            log::warn(&format!(
                "health check: cannot listen on @{name} ({e}); 'pcap-sensor health' will not \
                 reach this sensor"
            ));
            None
        }
    }
}

/// Capture could not start, or failed (`why`), and --keep-running says to
/// stay up: idle until SIGTERM/SIGINT (or --duration), answering the health
/// check `unhealthy: why`, so that the reason is where the task's health is
/// read. The caller then exits as it would have.
fn stay_failed(a: &ApidumpArgs, server: Option<health::Server>, why: &str) {
    let server = server.or_else(health_server);
    log::info(
        "--keep-running: staying up until stopped, so that 'pcap-sensor health' reports this failure",
    );
    let start = Instant::now();
    let end = a.duration.map(|d| start + Duration::from_secs_f64(d));
    let fds: Vec<RawFd> = server.iter().map(|s| s.fd()).collect();
    while !STOP.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = match end {
            Some(e) if now >= e => break,
            Some(e) => (e - now).min(Duration::from_secs(1)) + Duration::from_millis(1),
            None => Duration::from_secs(1),
        };
        source::wait(&fds, wait.as_millis() as i32);
        if let Some(s) = &server {
            s.serve(|l| {
                let _ = write!(l, "unhealthy: {why}");
            });
        }
    }
}

/// What the health check is told, kept by the read loop.
struct Watch {
    /// The listener (None: reading a file, or the name was taken).
    server: Option<health::Server>,
    /// When capture began.
    since: Instant,
    /// The interfaces captured, for the answer.
    on: String,
    /// When the current loop turn began, and the longest turn since the
    /// last answer.
    turn_start: Instant,
    longest: Duration,
    /// The latest turn that brought frames.
    last_frames: Option<Instant>,
}

impl Watch {
    /// A loop turn begins at `now`.
    fn turn(&mut self, now: Instant) {
        self.longest = self.longest.max(now - self.turn_start);
        self.turn_start = now;
    }

    /// Answer the questions waiting: the loop turns, and captures.
    fn serve(&mut self, run: &Run, sources: &mut [Box<dyn Source>]) {
        let Some(server) = &self.server else {
            return;
        };
        let now = Instant::now();
        let answered = server.serve(|l| {
            let st = &run.tracker.stats;
            let _ = write!(
                l,
                "healthy: capturing on {} for {}",
                self.on,
                Ago(now - self.since)
            );
            let _ = match self.last_frames {
                Some(t) => write!(l, ": {} packets, the last {} ago", st.packets, Ago(now - t)),
                None => write!(
                    l,
                    ": no packets yet (if traffic is expected: check -i and --filter)"
                ),
            };
            let kernel: u64 = sources.iter_mut().map(|s| s.drops().kernel).sum();
            let _ = write!(l, ", {kernel} dropped by the kernel");
            if self.longest >= Duration::from_secs(1) {
                let _ = write!(
                    l,
                    "; longest loop turn since the last check {}",
                    Ago(self.longest)
                );
            }
            run.sink.health(l);
        });
        if answered > 0 {
            self.longest = Duration::ZERO;
        }
    }
}

/// Frames per dispatch: a recording's, and each live handle's (bounded, so
/// that every interface and the timers are served).
const REPLAY_BATCH: usize = 1024;
const LIVE_BATCH: usize = 512;

/// The read loop, over one recording or a set of live handles. It ends when
/// a source ends (a file read to its end), when the outputs say stop
/// (`--count` reached, an output failed), or on SIGINT/SIGTERM; live capture
/// also ends at `--duration`, and then reads what the kernel already holds.
/// Wall-clock timers (sweeps of idle flows, `--stats-interval`) are for live
/// capture; a recording sweeps by its frames' time.
///
/// Each turn also answers the health check's questions (`Watch`), whose
/// listener is polled with the capture handles.
fn read(
    run: &mut Run,
    sources: &mut [Box<dyn Source>],
    a: &ApidumpArgs,
    watch: &mut Watch,
) -> Result<(), String> {
    let fds: Vec<RawFd> = sources.iter().filter_map(|s| s.pace().fd()).collect();
    let live = !fds.is_empty();
    let polled: Vec<RawFd> = fds
        .iter()
        .copied()
        .chain(watch.server.as_ref().map(|s| s.fd()))
        .collect();
    let batch = if live { LIVE_BATCH } else { REPLAY_BATCH };
    let start = Instant::now();
    let end = a
        .duration
        .filter(|_| live)
        .map(|d| start + Duration::from_secs_f64(d));
    let stats_every =
        (live && a.stats_interval > 0.0).then(|| Duration::from_secs_f64(a.stats_interval));
    let mut next_stats = stats_every.map(|d| start + d);
    loop {
        if run.sink.next().is_break() {
            return Ok(());
        }
        let now = Instant::now();
        watch.turn(now);
        if STOP.load(Ordering::Relaxed) || end.is_some_and(|e| now >= e) {
            return drain(run, sources, &fds);
        }
        let mut got = 0;
        for s in sources.iter_mut() {
            match s.dispatch(batch, &mut |fr| run.take(fr, !live))? {
                Batch::Frames(n) => got += n,
                Batch::End => return Ok(()),
            }
        }
        if got > 0 {
            watch.last_frames = Some(now);
        }
        if live {
            run.sweep(wall_us());
        }
        run.sink.tick(now);
        watch.serve(run, sources);
        if let (Some(n), Some(every)) = (next_stats, stats_every)
            && now >= n
        {
            run.write_inventory(false);
            run.stats_line(sources);
            next_stats = Some(now + every);
        }
        if got == 0 && live {
            let mut wait = Duration::from_millis(100);
            for t in [end, run.sink.due()].into_iter().flatten() {
                wait = wait.min(t.saturating_duration_since(now) + Duration::from_millis(1));
            }
            // A connection being made to the satellite wakes the loop too.
            source::wait_with(&polled, run.sink.wait_fd(), wait.as_millis() as i32);
        }
    }
}

/// Read what the kernel already captured before stopping: libpcap hands
/// packets over in blocks that are released at the read timeout (100 ms), so
/// keep reading until the handles stay quiet for longer than that. A
/// recording (no descriptor to poll) has nothing held back.
fn drain(run: &mut Run, sources: &mut [Box<dyn Source>], fds: &[RawFd]) -> Result<(), String> {
    const QUIET: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(2);
    if fds.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    let mut last = start;
    while last.elapsed() < QUIET && start.elapsed() < MAX && run.sink.next().is_continue() {
        let mut got = 0;
        for s in sources.iter_mut() {
            // Bounded by MAX too: traffic may keep arriving as fast as it is read.
            while start.elapsed() < MAX {
                match s.dispatch(LIVE_BATCH, &mut |fr| run.take(fr, false))? {
                    Batch::Frames(0) | Batch::End => break,
                    Batch::Frames(n) => got += n,
                }
            }
        }
        if got > 0 {
            last = Instant::now();
        } else {
            source::wait(fds, 50);
        }
    }
    Ok(())
}
