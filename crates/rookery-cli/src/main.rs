//! `rookery`: the command-line tool of the rookery framework.
//!
//! ```text
//! rookery new NAME --idl PATH [--include DIR]... [--dir PARENT] [--rookery-path DIR]
//! rookery update [PROJECT]
//! ```
//!
//! `new` creates a project that builds and runs as it is, from a Thrift IDL (served over
//! rookery's native transport) or a `.proto` file (served over gRPC): `Cargo.toml`, a
//! `build.rs` that generates Rust from the IDL (copied into the project's `idl/`) on every
//! build, `main.rs` serving every service of the IDL, and `handler.rs` with one stub per
//! function, each answering `UNIMPLEMENTED` until someone writes it.
//!
//! `update` is for after the IDL changed: it adds stubs for new functions and new services to
//! `handler.rs` and rewrites `services.rs` (which the tool owns), and never changes a byte of
//! what is already in `handler.rs`.

mod project;
mod rustfmt;
mod scaffold;
mod templates;
mod update;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// rookery's command-line tool.
#[derive(Debug, Parser)]
#[command(name = "rookery", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates a service project from a Thrift or Protobuf IDL: it builds, runs and answers every call
    /// with UNIMPLEMENTED until the handler's stubs are written.
    New {
        /// The project's name: its directory, its package and the service name it registers.
        name: String,
        /// The root IDL file (`.thrift`, served over rookery's native transport, or `.proto`,
        /// served over gRPC); the files it includes or imports are copied along.
        #[arg(long)]
        idl: PathBuf,
        /// Where includes are looked for besides the including file's directory.
        #[arg(long = "include", value_name = "DIR")]
        include_dirs: Vec<PathBuf>,
        /// The directory the project's directory is created in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// The directory holding rookery's crates (`rookery`, `rookery-build`), for path
        /// dependencies. By default the checkout this tool was built from, when it is still
        /// there; otherwise the project depends on the published versions.
        #[arg(long, value_name = "DIR")]
        rookery_path: Option<PathBuf>,
    },
    /// Adds handler stubs for the IDL's new functions and services; changes nothing written.
    Update {
        /// The project's directory.
        #[arg(default_value = ".")]
        project: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::New {
            name,
            idl,
            include_dirs,
            dir,
            rookery_path,
        } => scaffold::new_project(&scaffold::NewOptions {
            name,
            idl,
            include_dirs,
            parent: dir,
            rookery_path,
        }),
        Command::Update { project } => update::update(&project),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
