//! The files of a new project.

use rookery_build::stubs::{Import, ServiceStubs, render_imports};

use crate::project::Idl;

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
        self.dependency_with(krate, &[])
    }

    fn dependency_with(&self, krate: &str, features: &[&str]) -> String {
        let features = if features.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = features.iter().map(|f| toml_string(f)).collect();
            format!(", features = [{}]", quoted.join(", "))
        };
        match self {
            RookerySource::Path(dir) => {
                let path = format!("{}/{krate}", dir.trim_end_matches('/'));
                format!("{{ path = {}{features} }}", toml_string(&path))
            }
            RookerySource::Version(v) if features.is_empty() => toml_string(v),
            RookerySource::Version(v) => format!("{{ version = {}{features} }}", toml_string(v)),
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
pub(crate) fn cargo_toml(kind: Idl, name: &str, idl: &[String], source: &RookerySource) -> String {
    let idl_list: Vec<String> = idl.iter().map(|p| toml_string(p)).collect();
    let runtime = match kind {
        Idl::Thrift => format!(
            "rookery = {}\ntokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\"] }}",
            source.dependency("rookery")
        ),
        Idl::Protobuf => format!(
            "rookery = {}\nrookery-grpc = {}\ntokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\", \"net\", \"signal\"] }}",
            source.dependency_with("rookery", &["protobuf"]),
            source.dependency("rookery-grpc"),
        ),
    };
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
{runtime}

[build-dependencies]
rookery-build = {rookery_build}

# A project of its own, even inside another workspace's directory; remove this table to make
# it a member of an enclosing workspace.
[workspace]
"#,
        idl = idl_list.join(", "),
        rookery_build = source.dependency("rookery-build"),
    )
}

/// `build.rs`.
pub(crate) fn build_rs(kind: Idl, idl: &[String]) -> String {
    let roots: Vec<String> = idl.iter().map(|p| format!("{p:?}")).collect();
    if kind == Idl::Protobuf {
        return format!(
            r#"//! Generates Rust from the `.proto` files on every build that follows a change to them
//! (rookery-build, in pure Rust: no protoc to install). The code lands in
//! `OUT_DIR/rookery_protobuf.rs`, which `main.rs` includes as the module `idl`.

fn main() -> Result<(), Box<dyn std::error::Error>> {{
    rookery_build::protobuf::Builder::new()
        .include_dir("idl")
        .compile(&[{roots}])?;
    Ok(())
}}
"#,
            roots = roots.join(", ")
        );
    }
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
pub(crate) fn main_rs(kind: Idl, name: &str, idl: &[String]) -> String {
    if kind == Idl::Protobuf {
        return grpc_main_rs(name, idl);
    }
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

/// `src/main.rs` of a Protobuf project: a gRPC server.
fn grpc_main_rs(name: &str, idl: &[String]) -> String {
    format!(
        r#"//! {name}: a gRPC service generated from {idl}.
//!
//! `cargo run` serves it over gRPC (HTTP/2) on `ADDR` (by default `127.0.0.1:50051`), and
//! stops gracefully on Ctrl-C or SIGTERM: no new calls, the calls in flight finish.
//!
//! What each rpc does is in `handler.rs`. After the IDL changes, `rookery update` adds
//! stubs for new rpcs and services there.

mod handler;
mod services;

/// The Rust generated from the IDL by `build.rs`.
#[allow(dead_code)] // the clients and the messages no rpc uses yet
mod idl {{
    include!(concat!(env!("OUT_DIR"), "/rookery_protobuf.rs"));
}}

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {{
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:50051".to_owned());
    let listener = match tokio::net::TcpListener::bind(&addr).await {{
        Ok(listener) => listener,
        Err(e) => {{
            eprintln!("{name}: listening on {{addr}}: {{e}}");
            return ExitCode::FAILURE;
        }}
    }};
    match listener.local_addr() {{
        Ok(local) => println!("{name} listening on {{local}}"),
        Err(e) => eprintln!("{name}: {{e}}"),
    }}
    let server = services::server(&handler::Handler::default());
    match server.serve_with_shutdown(listener, shutdown_signal()).await {{
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {{
            eprintln!("{name}: {{e}}");
            ExitCode::FAILURE
        }}
    }}
}}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {{
    #[cfg(unix)]
    {{
        use tokio::signal::unix::{{SignalKind, signal}};
        if let Ok(mut term) = signal(SignalKind::terminate()) {{
            tokio::select! {{
                _ = tokio::signal::ctrl_c() => {{}}
                _ = term.recv() => {{}}
            }}
            return;
        }}
    }}
    let _ = tokio::signal::ctrl_c().await;
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
pub(crate) fn services_rs(kind: Idl, idl: &[String], services: &[ServiceStubs]) -> String {
    if kind == Idl::Protobuf {
        let mut adds = String::new();
        for s in services.iter().filter(|s| s.root) {
            adds.push_str(&format!(
                "\n        .add_service(\n            crate::{path}::<Handler>::SERVICE,\n            crate::{path}::new(handler.clone()),\n        )",
                path = s.server_path
            ));
        }
        return format!(
            r#"//! The services this program serves: every service of {idl}.
//!
//! Written by `rookery update` (and `rookery new`), which rewrites it when the IDL gains or
//! loses a service: edit `handler.rs` instead.

use rookery_grpc::Server;

use crate::handler::Handler;

/// A gRPC server serving every service with `handler`.
pub(crate) fn server(handler: &Handler) -> Server {{
    Server::builder(){adds}
        .build()
}}
"#,
            idl = idl_names(idl),
        );
    }
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
        r#"//! The handler of {name}: what each function of {idl} does.
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
