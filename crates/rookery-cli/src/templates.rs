//! The files of a new project.

use rookery_build::thrift::r#gen::stubs::{Import, ServiceStubs, render_imports};

/// Where the project's dependencies on rookery come from.
#[derive(Clone, Debug)]
pub(crate) enum RookerySource {
    /// Path dependencies on a checkout: the directory holding `rookery/` and `rookery-build/`.
    Path(String),
    /// The published crates of this version.
    Version(String),
}

impl RookerySource {
    fn dependency(&self, krate: &str) -> String {
        match self {
            RookerySource::Path(dir) => {
                let path = format!("{}/{krate}", dir.trim_end_matches('/'));
                format!("{{ path = {} }}", toml_string(&path))
            }
            RookerySource::Version(v) => toml_string(v),
        }
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `Cargo.toml`.
pub(crate) fn cargo_toml(name: &str, idl: &[String], source: &RookerySource) -> String {
    let idl_list: Vec<String> = idl.iter().map(|p| toml_string(p)).collect();
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# What `rookery update` reads to add handler stubs when the IDL changes.
[package.metadata.rookery]
idl = [{idl}]
include_dirs = ["idl"]

[dependencies]
rookery = {rookery}
tokio = {{ version = "1", features = ["rt-multi-thread", "macros"] }}

[build-dependencies]
rookery-build = {rookery_build}

# A project of its own, even inside another workspace's directory; remove this table to make
# it a member of an enclosing workspace.
[workspace]
"#,
        idl = idl_list.join(", "),
        rookery = source.dependency("rookery"),
        rookery_build = source.dependency("rookery-build"),
    )
}

/// `build.rs`.
pub(crate) fn build_rs(idl: &[String]) -> String {
    let roots: Vec<String> = idl.iter().map(|p| format!("{p:?}")).collect();
    format!(
        r#"//! Generates Rust from the IDL on every build that follows a change to it (rookery-build,
//! in pure Rust: nothing to install). The code lands in `OUT_DIR/rookery_thrift.rs`, which
//! `main.rs` includes as the module `idl`.

fn main() -> Result<(), Box<dyn std::error::Error>> {{
    rookery_build::thrift::Builder::new()
        .include_dir("idl")
        .compile(&[{roots}])?;
    Ok(())
}}
"#,
        roots = roots.join(", ")
    )
}

/// `src/main.rs`.
pub(crate) fn main_rs(name: &str, idl: &[String]) -> String {
    format!(
        r#"//! {name}: a rookery service generated from {idl}.
//!
//! `cargo run` serves it on `ADDR` (by default `127.0.0.1:8080`) and registers it as
//! `{name}` in the registry `ROOKERY_REGISTRY` names (by default the embedded one). It
//! speaks Thrift binary and compact, framed, buffered and TTHeader on the one port, answers
//! health checks there, and stops gracefully on Ctrl-C or SIGTERM.
//!
//! What each function does is in `handler.rs`. After the IDL changes, `rookery update`
//! adds stubs for new functions and services there.

mod handler;
mod services;

/// The Rust generated from the IDL by `build.rs`.
#[allow(dead_code)] // the clients and the types no function uses yet
mod idl {{
    include!(concat!(env!("OUT_DIR"), "/rookery_thrift.rs"));
}}

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {{
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let service = rookery::Service::builder("{name}")
        .addr(addr)
        .router(services::router(&handler::Handler::default()))
        .after_start(|info| async move {{
            println!("{{}} listening on {{}}", info.name, info.address);
            Ok::<(), std::convert::Infallible>(())
        }})
        .build();
    match service {{
        Ok(service) => match service.run().await {{
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {{
                eprintln!("{name}: {{e}}");
                ExitCode::FAILURE
            }}
        }},
        Err(e) => {{
            eprintln!("{name}: {{e}}");
            ExitCode::FAILURE
        }}
    }}
}}
"#,
        idl = idl_names(idl),
    )
}

fn idl_names(idl: &[String]) -> String {
    let quoted: Vec<String> = idl.iter().map(|p| format!("`{p}`")).collect();
    quoted.join(", ")
}

/// `src/services.rs`: the router of every service the IDL's root files declare. The tool owns
/// this file and rewrites it on `update`.
pub(crate) fn services_rs(idl: &[String], services: &[ServiceStubs]) -> String {
    let mut adds = String::new();
    for s in services.iter().filter(|s| s.root) {
        adds.push_str(&format!(
            "\n        .add_service(crate::{}::new(handler.clone()))",
            s.server_path
        ));
    }
    format!(
        r#"//! The services this program serves: every service of {idl}.
//!
//! Written by `rookery update` (and `rookery new`), which rewrites it when the IDL gains or
//! loses a service: edit `handler.rs` instead.

use rookery::Router;

use crate::handler::Handler;

/// A router serving every service with `handler`.
pub(crate) fn router(handler: &Handler) -> Router {{
    Router::new(){adds}
}}
"#,
        idl = idl_names(idl),
    )
}

/// `src/handler.rs`, with a stub for every function.
pub(crate) fn handler_rs(name: &str, idl: &[String], services: &[ServiceStubs]) -> String {
    let mut imports: Vec<&Import> = Vec::new();
    let all: Vec<_> = services.iter().map(ServiceStubs::all_imports).collect();
    for set in &all {
        imports.extend(set.iter());
    }
    let mut out = format!(
        r#"//! What each function of {idl} does: the handler of {name}.
//!
//! Every method started as a stub answering UNIMPLEMENTED. When the IDL changes,
//! `rookery update` adds stubs here for new functions and services; it never changes what is
//! already written, so a changed signature is for you to follow (the compiler says where).

{imports}
/// Serves every service of {idl}.
///
/// One clone serves each service: keep state that they share behind an `Arc`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Handler;
"#,
        idl = idl_names(idl),
        imports = render_imports(imports),
    );
    for s in services {
        out.push('\n');
        out.push_str(&s.impl_block("Handler"));
    }
    out
}

/// `.gitignore`.
pub(crate) const GITIGNORE: &str = "/target\n";
