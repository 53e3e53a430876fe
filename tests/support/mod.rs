//! The integration tests' one support module: every helper shared by two
//! test files lives here, once. Each test file says `mod support;` and uses
//! what it needs:
//!
//! - `require`: what a test needs from outside the crate (root, tools, venvs,
//!   the built artefacts, the shared corpus) and the suite's rule: a test
//!   that cannot run fails, naming what to install or how to run it;
//! - `process`: the sensor binary, the helper scripts next to this file,
//!   pipes read with deadlines, commands with deadlines, CPU time and peak
//!   memory of a process, temporary files and folders, free ports;
//! - `text`: base64, RFC 3339, percent-decoding, hex (std only);
//! - `trace`: stats lines, the memory ceiling line, JSON Lines traces;
//! - `live`: the sensor capturing live, the python test server, clients,
//!   hostile peers, network namespaces, the memory allowance over the
//!   announced ceiling;
//! - `offline`: the sensor run to completion (a capture file, a command)
//!   with a deadline and a cleared environment;
//! - `sat`: the test satellite, the OTLP checker, a sensor exporting to it,
//!   a test CA;
//! - `policy`: crafted pcaps, the ECS metadata fixture, OTLP JSON access;
//! - `endpoints`: the generated hour of API traffic (endpoints_mkpcap.py)
//!   and its truth;
//! - `h2`: TCP payloads of a capture, per direction, read independently of
//!   the sensor, for judging the HTTP/2 code alone;
//! - `iam`: just enough IAM policy evaluation to check a printed policy
//!   against the requests `ecs add` made;
//! - `rng`: seeded randomness for generated cases (`REASM_SEED`, `REASM_CASES`);
//! - `packet`: TCP, IP and link-layer headers as bytes, from the standards;
//! - `pipeline`: the library driven in-process (a `Source` → decode → tracker → view → JSON
//!   line), the one file here that names those library APIs;
//! - `reasm`: the framework of the reassembly properties: the conversation generator, the
//!   synthetic capture, the fault cases, the oracle and the shrinker.
//!
//! The python helpers the tests start (`*.py`) sit next to this file.

#![allow(dead_code)] // each test crate uses a different subset

pub mod endpoints;
pub mod h2;
pub mod iam;
pub mod live;
pub mod offline;
pub mod packet;
pub mod pipeline;
pub mod policy;
pub mod process;
pub mod reasm;
pub mod require;
pub mod rng;
pub mod sat;
pub mod text;
pub mod trace;
