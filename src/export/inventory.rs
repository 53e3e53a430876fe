//! `--endpoints FILE|-`: where the endpoint inventory (`endpoint`) goes.
//!
//! A file gets JSON Lines (one line per endpoint, most seen first), written
//! whole each time to `FILE.tmp` beside it and renamed over `FILE`, so a
//! reader never sees half of one: at start (empty), at every stats interval
//! and at exit. `-` is standard output, written once at exit, after the
//! traces: a readable table on a terminal, JSON Lines otherwise.

use std::fs::{self, File};
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;

use crate::endpoint::Endpoints;

pub enum Inventory {
    Stdout,
    File { path: PathBuf, tmp: PathBuf },
}

impl Inventory {
    /// For the value of `--endpoints`.
    pub fn new(dest: &str) -> Inventory {
        if dest == "-" {
            return Inventory::Stdout;
        }
        let path = PathBuf::from(dest);
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        Inventory::File {
            path,
            tmp: tmp.into(),
        }
    }

    /// Written at every stats interval too (a file), or only at exit.
    pub fn periodic(&self) -> bool {
        matches!(self, Inventory::File { .. })
    }

    /// Write the inventory of `e` now.
    pub fn write(&self, e: &mut Endpoints) -> io::Result<()> {
        match self {
            Inventory::Stdout => {
                let out = io::stdout();
                let tty = out.is_terminal();
                let mut w = out.lock();
                if tty {
                    e.write_table(&mut w)?;
                } else {
                    e.write_jsonl(&mut w)?;
                }
                w.flush()
            }
            Inventory::File { path, tmp } => {
                let mut w = BufWriter::new(File::create(tmp)?);
                e.write_jsonl(&mut w)?;
                w.flush()?;
                drop(w);
                fs::rename(tmp, path)
            }
        }
    }

    /// What to name in a message.
    pub fn name(&self) -> String {
        match self {
            Inventory::Stdout => "-".into(),
            Inventory::File { path, .. } => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Config;

    #[test]
    fn a_file_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("inventory-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("endpoints.jsonl");
        let inv = Inventory::new(path.to_str().unwrap());
        assert!(inv.periodic());
        let mut e = Endpoints::new(&Config::default());
        inv.write(&mut e).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        let t = e.request(1_714_564_800_000_000, "GET", "h", "/users/1");
        e.finish(
            t,
            Some(200),
            1_714_564_800_000_000,
            1_714_564_800_001_000,
            true,
        );
        inv.write(&mut e).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("{\"method\":\"GET\",\"host\":\"h\",\"template\":\"/users/{int}\",")
        );
        assert_eq!(text.lines().count(), 1);
        assert!(!dir.join("endpoints.jsonl.tmp").exists());
        fs::remove_dir_all(&dir).unwrap();
        assert!(!Inventory::new("-").periodic());
    }
}
