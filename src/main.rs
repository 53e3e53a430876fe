//! The `pcap-sensor` binary: parses the command line once and runs the
//! command it names (`apidump`, `health`, `ecs ...`, `version`, `help`).

use std::process::ExitCode;

use pcap_sensor::{cli, ecs, health, sensor};

fn main() -> ExitCode {
    match cli::parse(std::env::args_os().skip(1)) {
        Ok(cli::Command::Apidump(a)) => sensor::apidump(&a),
        Ok(cli::Command::Ecs(rest)) => ecs::main(rest),
        Ok(cli::Command::Health(rest)) => health::main(&rest),
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
