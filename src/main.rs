//! pcap-sensor: HTTP/1.x API traffic from libpcap to traces.
//!
//! Data flows one way: capture → decode → flow → http → trace → export.

mod capture;
mod cli;
mod decode;
mod export;
mod flow;
mod http;
mod pool;
mod sensor;
mod stats;
mod trace;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Command::Apidump(a)) => sensor::apidump(&a),
        Ok(cli::Command::Version) => {
            println!("pcap-sensor {}", cli::VERSION);
            ExitCode::SUCCESS
        }
        Ok(cli::Command::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pcap-sensor: {e}");
            ExitCode::from(2)
        }
    }
}
