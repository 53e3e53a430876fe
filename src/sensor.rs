//! The capture loop: packets in, traces out, timers on an idle link, counters.
//!
//! One thread. Live handles are non-blocking and polled with a short timeout,
//! so idle flows expire and counters print even when no packet arrives.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::capture::{self, File, Frame, Live, Next};
use crate::cli::ApidumpArgs;
use crate::decode::{self, Skip};
use crate::export::jsonl::JsonLines;
use crate::flow::{Limits, Tracker};
use crate::stats;

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

fn log(msg: &str) {
    eprintln!("pcap-sensor: {msg}");
}

/// How often idle flows are looked for.
const SWEEP_US: u64 = 100_000;

struct Run {
    tracker: Tracker,
    sink: JsonLines,
    last_sweep: u64,
}

impl Run {
    fn frame(&mut self, f: &Frame) {
        let st = &mut self.tracker.stats;
        st.packets += 1;
        st.bytes += f.data.len() as u64;
        match decode::decode(f.linktype, f.data) {
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

    fn stats_line(&mut self, lives: &mut [Live], label: &str) {
        let mut kd = 0;
        let mut id = 0;
        for l in lives.iter_mut() {
            let (k, i) = l.drops();
            kd += k;
            id += i;
        }
        let st = &mut self.tracker.stats;
        st.kernel_drops = kd;
        st.if_drops = id;
        st.peak_rss_kb = stats::peak_rss_kb();
        log(&format!("{label} {}", st.line()));
    }
}

pub fn apidump(a: &ApidumpArgs) -> ExitCode {
    install_signals();
    let limits = Limits {
        max_flows: a.max_flows,
        pool_bytes: a.buffer_pool_mb as usize * (1 << 20),
        timeout_us: (a.stream_timeout * 1e6) as u64,
        max_body: a.max_http_length as u64,
    };
    let out = a.out.as_deref().unwrap_or("-");
    let sink = match JsonLines::open(out, a.count) {
        Ok(s) => s,
        Err(e) => {
            log(&format!("cannot write --out '{out}': {e}"));
            return ExitCode::from(1);
        }
    };

    // Open the input before reserving memory, so a bad interface fails fast.
    let mut lives = Vec::new();
    let mut file = None;
    let fail = |e: capture::OpenError| {
        log(&e.msg);
        ExitCode::from(if e.usage { 2 } else { 1 })
    };
    if let Some(path) = &a.read_file {
        match File::open(path, a.filter.as_deref()) {
            Ok(f) => {
                if !decode::dlt::supported(f.linktype()) {
                    log(&format!(
                        "warning: '{}' has link type {} which is not supported; its packets are counted, not decoded",
                        path.display(),
                        f.linktype()
                    ));
                }
                file = Some(f)
            }
            Err(e) => return fail(e),
        }
    } else {
        for name in &a.interfaces {
            match Live::open(name, a.filter.as_deref(), a.snaplen, a.pcap_buffer_mb) {
                Ok(l) => lives.push(l),
                Err(e) => return fail(e),
            }
        }
    }

    let tracker = Tracker::new(&limits);
    let kernel = (lives.len() * a.pcap_buffer_mb as usize) << 20;
    let ceiling = tracker.reserved() + sink.reserved() + kernel;
    log(&format!(
        "memory ceiling {} bytes (flows {}, pool {} windows + {} chunks, capture buffers {})",
        ceiling,
        a.max_flows,
        tracker.windows.count(),
        tracker.pool.count(),
        kernel
    ));
    let mut run = Run {
        tracker,
        sink,
        last_sweep: 0,
    };

    let result = match file.as_mut() {
        Some(f) => read_file(&mut run, f),
        None => {
            let names: Vec<&str> = lives.iter().map(|l| l.name.as_str()).collect();
            log(&format!(
                "capturing on {} (filter: {})",
                names.join(","),
                a.filter.as_deref().unwrap_or("none")
            ));
            read_live(&mut run, &mut lives, a)
        }
    };

    // Whatever happened, report every complete exchange we hold.
    run.tracker.close_all(&mut run.sink);
    let flushed = run.sink.flush();
    run.stats_line(&mut lives, "final stats");
    if let Some(advice) = run.tracker.stats.advice() {
        log(&format!("no HTTP exchanges were seen: {advice}"));
    }
    if let Some(e) = run.sink.take_error().or(flushed.err())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        log(&format!("writing traces failed: {e}"));
        return ExitCode::from(1);
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            log(&msg);
            ExitCode::from(1)
        }
    }
}

fn read_file(run: &mut Run, f: &mut File) -> Result<(), String> {
    loop {
        if STOP.load(Ordering::Relaxed) || run.sink.full() || run.sink.has_failed() {
            return Ok(());
        }
        match f.read()? {
            Next::Frame(fr) => {
                let ts = fr.ts_us;
                run.frame(&fr);
                run.sweep(ts);
            }
            Next::Idle | Next::End => return Ok(()),
        }
    }
}

fn read_live(run: &mut Run, lives: &mut [Live], a: &ApidumpArgs) -> Result<(), String> {
    let start = Instant::now();
    let end = a.duration.map(|d| start + Duration::from_secs_f64(d));
    let stats_every = (a.stats_interval > 0.0).then(|| Duration::from_secs_f64(a.stats_interval));
    let mut next_stats = stats_every.map(|d| start + d);
    let fds: Vec<i32> = lives.iter().map(|l| l.fd()).collect();
    loop {
        if STOP.load(Ordering::Relaxed) || run.sink.full() || run.sink.has_failed() {
            return Ok(());
        }
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            return Ok(());
        }
        let mut got = 0;
        for l in lives.iter_mut() {
            // Bounded batches keep every interface and the timers served.
            for _ in 0..512 {
                match l.read()? {
                    Next::Frame(fr) => {
                        got += 1;
                        run.frame(&fr);
                    }
                    Next::Idle | Next::End => break,
                }
            }
        }
        run.sweep(wall_us());
        if let (Some(n), Some(every)) = (next_stats, stats_every)
            && now >= n
        {
            run.stats_line(lives, "stats");
            next_stats = Some(now + every);
        }
        if got == 0 {
            let mut wait = 100;
            if let Some(e) = end {
                wait = wait.min(e.saturating_duration_since(now).as_millis() as i32 + 1);
            }
            capture::wait(&fds, wait);
        }
    }
}
