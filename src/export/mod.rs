//! Where traces go: for now JSON Lines on stdout or a file.

pub mod jsonl;
