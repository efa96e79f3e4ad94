//! Handler stubs for Protobuf services, for scaffolding (`rookery new NAME --idl x.proto`):
//! for each service of the `.proto` files given, one method per `rpc` with the signature of
//! the generated handler trait, answering `UNIMPLEMENTED` until someone writes it. The types
//! are the same as the Thrift stubs' ([`crate::stubs`]), so one piece of code writes a
//! handler module from either IDL.
//!
//! The signatures are read back from the code [`Builder`] generates (the trait the server
//! requires of its handler), so a stub has exactly the types of the generated trait and
//! cannot drift from it. Only the paths change: generated code names the runtime as
//! `::rookery::codegen::X` and messages relative to its own module, while a stub lives in
//! the user's handler module and names them through imports:
//!
//! - `Context` and `Status` as `rookery::{Context, Status}`; `Streaming` and `BoxStream` as
//!   `rookery::codec::protobuf::rpc::{BoxStream, Streaming}`;
//! - the well-known types by their module: `wkt::Timestamp` with
//!   `use rookery::codec::protobuf::wkt;`;
//! - messages and enums by the module of their package: `common::Text` with
//!   `use crate::idl::fixtures::common;` (package `fixtures.common`; imported as
//!   `fixtures_common` when two packages end alike); a nested message through its parent's
//!   module, `common::outer::Inner`; a message of a file without a package as `idl::Text`
//!   with `use crate::idl;`.
//!
//! For `rpc Say(Text) returns (Text)`, and the three streaming kinds:
//!
//! | rpc | stub |
//! |---|---|
//! | `Say(Text) returns (Text)` | `async fn say(&self, _cx: &mut Context, _request: common::Text) -> Result<common::Text, Status>` |
//! | `Collect(stream Text) returns (Count)` | `async fn collect(&self, _cx: &mut Context, _requests: Streaming<common::Text>) -> Result<common::Count, Status>` |
//! | `Repeat(Count) returns (stream Text)` | `async fn repeat(&self, _cx: &mut Context, _request: common::Count) -> Result<BoxStream<common::Text>, Status>` |
//! | `Chat(stream Text) returns (stream Text)` | `async fn chat(&self, _cx: &mut Context, _requests: Streaming<common::Text>) -> Result<BoxStream<common::Text>, Status>` |
//!
//! Each stub is an `async fn` (which implements the trait's
//! `fn … -> impl Future<Output = …> + Send`) with a doc line giving its `rpc`, its
//! parameters prefixed with `_` so that an untouched stub compiles without warnings, and a
//! body returning `Err(Status::unimplemented("{Service}.{Rpc} is not implemented yet"))`
//! (`"Echo.Say is not implemented yet"`: the names as the `.proto` writes them). The handler
//! type must be `Send + Sync + 'static`, as the trait requires.
//!
//! # What the project around the handler needs
//!
//! For `rookery new greeter --idl idl/greeter.proto` (stubs made with
//! `stubs(&["idl/greeter.proto"], &[PathBuf::from("idl")], &StubOptions::default())`, run in
//! the project's directory; from elsewhere, give the paths from there):
//!
//! `Cargo.toml`: the facade with its `protobuf` feature (the Protobuf runtime, which generated
//! code and the stubs name through `rookery::codegen` and `rookery::codec::protobuf`), and
//! this crate for the build script:
//!
//! ```toml
//! [dependencies]
//! rookery = { version = "0.1", features = ["protobuf"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//!
//! [build-dependencies]
//! rookery-build = "0.1"
//! ```
//!
//! `build.rs`: the same files and include directories as the stubs were made from (with no
//! include directory, both use each file's own directory):
//!
//! ```no_run
//! fn main() {
//!     let built = rookery_build::protobuf::Builder::new()
//!         .include_dir("idl")
//!         .compile(&["idl/greeter.proto"]);
//!     if let Err(e) = built {
//!         eprintln!("{e}");
//!         std::process::exit(1);
//!     }
//! }
//! ```
//!
//! It writes `$OUT_DIR/rookery_protobuf.rs` ([`ROOT_FILE`](super::ROOT_FILE)), which holds a
//! module per package part (`pub mod greeter { … }` for package `greeter`, the items of a
//! file without a package directly). `src/main.rs` includes it in the module that
//! [`StubOptions::idl_module`] names (`crate::idl` by default), and declares the handler
//! module; `dead_code` is allowed because a binary uses only part of what is generated
//! (clients, descriptors):
//!
//! ```ignore
//! /// The code generated from `idl/greeter.proto`.
//! #[allow(dead_code)]
//! mod idl {
//!     include!(concat!(env!("OUT_DIR"), "/rookery_protobuf.rs"));
//! }
//! mod handler;
//! ```
//!
//! `src/handler.rs`: [`render_imports`] of every service's
//! [`all_imports`](ServiceStubs::all_imports), a handler type, and
//! [`impl_block`](ServiceStubs::impl_block) for each service:
//!
//! ```ignore
//! use rookery::{Context, Status};
//!
//! use crate::idl::greeter;
//!
//! /// Answers the calls of the services of `greeter.proto`.
//! #[derive(Clone, Debug, Default)]
//! pub struct Handler;
//!
//! impl greeter::Greeter for Handler {
//!     /// `rpc SayHello(greeter.HelloRequest) returns (greeter.HelloReply)`
//!     async fn say_hello(
//!         &self,
//!         _cx: &mut Context,
//!         _request: greeter::HelloRequest,
//!     ) -> Result<greeter::HelloReply, Status> {
//!         Err(Status::unimplemented(
//!             "Greeter.SayHello is not implemented yet",
//!         ))
//!     }
//! }
//! ```
//!
//! Stubs are laid out as rustfmt lays them out at one level of indentation, and
//! [`render_imports`] sorts as rustfmt sorts, so a new project passes `cargo fmt --check`.
//!
//! # Serving: not through `Router` yet
//!
//! `{server_path}::new(handler)` ([`ServiceStubs::server_path`], `idl::greeter::GreeterServer`)
//! builds the server of a service (`from_arc(Arc<T>)` shares a handler). Unlike a Thrift
//! server it is **not** a `rookery::NamedService`: it is a
//! `rookery::core::Service<ProtoRequest, Response = ProtoResponse>` for the unary methods and
//! a `Service<ProtoStreamRequest, Response = Streaming<Bytes>>` for all four kinds (the
//! contract of `rookery::codec::protobuf::rpc`), which a Protobuf transport (gRPC) serves.
//! `rookery::Router::add_service` and `rookery::Service::builder(..).serve(..)` take Thrift
//! services only, so `Router::new().add_service(GreeterServer::new(handler))` does not
//! compile, and rookery has no transport yet that serves Protobuf servers on a port (the gRPC
//! transport is to come). Until it comes, what a scaffolded `main` can do with the handler is
//! call it in process, through the generated client over the server
//! ([`ServiceStubs::client_path`]):
//!
//! ```ignore
//! #[tokio::main]
//! async fn main() {
//!     let client =
//!         idl::greeter::GreeterClient::new(idl::greeter::GreeterServer::new(handler::Handler));
//!     let reply = client
//!         .say_hello(&mut rookery::Context::new(), Default::default())
//!         .await;
//!     // Err(Status { code: Unimplemented, message: "Greeter.SayHello is not implemented yet" })
//!     println!("{reply:?}");
//! }
//! ```

// The build script is shown whole, `fn main` included, as a project writes it.
#![allow(clippy::needless_doctest_main)]

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
};

use prost_types::MethodDescriptorProto;

use super::{
    Builder, Compiled, Error, ErrorKind,
    names::{camel, snake},
    types::package_module,
};
pub use crate::stubs::{Import, MethodStub, ServiceStubs, StubOptions, indent, render_imports};
use crate::stubs::{ModuleItems, Paths, Rename, method_stub, module_imports, root_path, unraw};

/// The stubs of every service of `files` (not of the files they import), in the order of the
/// files and of the services in each, compiled with `include_dirs` as
/// [`Builder::include_dir`] (with none, each file's own directory) and generated as
/// [`Builder::new`] generates. Every service is [`root`](ServiceStubs::root).
///
/// # Errors
///
/// When the files do not compile: the error [`Builder::compile`] would give.
pub fn stubs(
    files: &[impl AsRef<Path>],
    include_dirs: &[PathBuf],
    options: &StubOptions,
) -> Result<Vec<ServiceStubs>, Error> {
    let mut builder = Builder::new();
    for dir in include_dirs {
        builder = builder.include_dir(dir);
    }
    let Compiled {
        files: descriptors,
        roots,
        code,
        ..
    } = builder.compile_and_generate(files)?;
    let bug = |what: String| {
        Error::new(
            ErrorKind::Invalid,
            format!("{what}; this is a bug in rookery-build"),
        )
    };

    // What each package's module defines, and how the handler imports it.
    let mut items: HashMap<Vec<String>, ModuleItems> = HashMap::new();
    for (package, text) in &code {
        items
            .entry(package_module(package))
            .or_default()
            .read(text)
            .map_err(|e| {
                bug(format!(
                    "the code generated for package `{package}` does not parse ({e})"
                ))
            })?;
    }
    let idl_module = options.idl_segments();
    let modules = module_imports(&idl_module, &items.keys().cloned().collect());

    let mut out = Vec::new();
    for root in &roots {
        let Some(file) = descriptors.iter().find(|f| f.name() == root) else {
            continue;
        };
        let module = package_module(file.package());
        for service in &file.service {
            let trait_ident = unraw(&camel(service.name()));
            let Some(own) = items
                .get(&module)
                .filter(|i| i.traits.contains_key(&trait_ident))
            else {
                return Err(bug(format!(
                    "no trait {trait_ident} in the code generated for service {}",
                    service.name()
                )));
            };
            let mut methods = Vec::new();
            for method in &service.method {
                let ident = snake(method.name());
                let Some(sig) = own.method(&trait_ident, &ident) else {
                    return Err(bug(format!(
                        "no method {ident} in the generated trait {trait_ident}"
                    )));
                };
                let mut paths = Paths {
                    module: &module,
                    items: &items,
                    modules: &modules,
                    runtime,
                    imports: BTreeSet::new(),
                    error: None,
                };
                let code = method_stub(
                    sig,
                    &format!("`{}`", rpc_signature(method)),
                    &format!(
                        "{}.{} is not implemented yet",
                        service.name(),
                        method.name()
                    ),
                    false,
                    &mut paths,
                )
                .map_err(|e| bug(format!("the generated method {ident} {e}")))?;
                methods.push(MethodStub {
                    name: method.name().to_string(),
                    ident: unraw(&ident),
                    code,
                    imports: paths.imports,
                });
            }
            let module_import = &modules[&module];
            out.push(ServiceStubs {
                name: service.name().to_string(),
                trait_path: format!("{}::{trait_ident}", module_import.prefix()),
                server_path: root_path(&idl_module, &module, &format!("{trait_ident}Server")),
                client_path: root_path(&idl_module, &module, &format!("{trait_ident}Client")),
                trait_ident,
                root: true,
                methods,
                imports: module_import.if_needed(),
            });
        }
    }
    Ok(out)
}

/// The `rpc` as a doc line shows it, types by their full names:
/// `rpc Chat(stream fixtures.common.Text) returns (stream fixtures.common.Text)`.
fn rpc_signature(method: &MethodDescriptorProto) -> String {
    let stream = |yes: bool| if yes { "stream " } else { "" };
    format!(
        "rpc {}({}{}) returns ({}{})",
        method.name(),
        stream(method.client_streaming()),
        method.input_type().trim_start_matches('.'),
        stream(method.server_streaming()),
        method.output_type().trim_start_matches('.'),
    )
}

/// Where generated code's runtime paths come from in a handler: `Context` and `Status` from
/// `rookery`, message streams from `rookery::codec::protobuf::rpc`, the well-known types
/// through the module `rookery::codec::protobuf::wkt`, anything else from
/// `rookery::codegen`, where generated code takes it.
fn runtime(segments: &[String]) -> Option<Rename> {
    let [rookery, codegen, rest @ ..] = segments else {
        return None;
    };
    if rookery != "rookery" || codegen != "codegen" {
        return None;
    }
    match rest {
        [name] => {
            let path = match name.as_str() {
                "Context" | "Status" => format!("rookery::{name}"),
                "Streaming" | "BoxStream" => format!("rookery::codec::protobuf::rpc::{name}"),
                other => format!("rookery::codegen::{other}"),
            };
            Some(Rename { path, keep: 0 })
        }
        [wkt, _] if wkt == "wkt" => Some(Rename {
            path: "rookery::codec::protobuf::wkt".to_string(),
            keep: 1,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const ORDERS: &str = r#"
        syntax = "proto3";
        package shop.orders;
        import "shop/common.proto";
        import "other/common.proto";
        import "google/protobuf/empty.proto";
        import "google/protobuf/timestamp.proto";

        message Order {
          message Line { string sku = 1; }
          enum State { STATE_UNSPECIFIED = 0; OPEN = 1; }
          repeated Line lines = 1;
        }

        // Orders, every kind of call.
        service Orders {
          rpc Place(Order) returns (shop.common.Receipt);
          rpc Upload(stream Order.Line) returns (google.protobuf.Empty);
          rpc Watch(google.protobuf.Empty) returns (stream google.protobuf.Timestamp);
          rpc Sync(stream other.common.Receipt) returns (stream Order.Line);
          rpc type(shop.common.Receipt.Note) returns (Order);
        }
        service Audit { rpc Log(Order) returns (google.protobuf.Empty); }
    "#;

    fn shop() -> (tempfile::TempDir, Vec<ServiceStubs>) {
        let dir = write(&[
            ("shop/orders.proto", ORDERS),
            (
                "shop/common.proto",
                "syntax = \"proto3\";\npackage shop.common;\n\
                 message Receipt { message Note { string text = 1; } }\n\
                 service Unused { rpc Nothing(Receipt) returns (Receipt); }\n",
            ),
            (
                "other/common.proto",
                "syntax = \"proto3\";\npackage other.common;\nmessage Receipt {}\n",
            ),
            (
                "plain.proto",
                "syntax = \"proto3\";\nimport \"google/protobuf/empty.proto\";\n\
                 message Ping {}\nservice Health { rpc Check(Ping) returns (google.protobuf.Empty); }\n",
            ),
        ]);
        let stubs = stubs(
            &[
                dir.path().join("shop/orders.proto"),
                dir.path().join("plain.proto"),
            ],
            &[dir.path().to_path_buf()],
            &StubOptions::default(),
        )
        .unwrap();
        (dir, stubs)
    }

    #[test]
    fn stubs_have_the_trait_signatures_in_handler_paths() {
        let (_dir, stubs) = shop();
        let names: Vec<(&str, &str, bool)> = stubs
            .iter()
            .map(|s| (s.name.as_str(), s.trait_path.as_str(), s.root))
            .collect();
        // Services of the files given, in order; not those of imported files.
        assert_eq!(
            names,
            [
                ("Orders", "orders::Orders", true),
                ("Audit", "orders::Audit", true),
                ("Health", "idl::Health", true),
            ]
        );
        let orders = &stubs[0];
        assert_eq!(orders.trait_ident, "Orders");
        assert_eq!(orders.server_path, "idl::shop::orders::OrdersServer");
        assert_eq!(orders.client_path, "idl::shop::orders::OrdersClient");
        let methods: Vec<(&str, &str)> = orders
            .methods
            .iter()
            .map(|m| (m.name.as_str(), m.ident.as_str()))
            .collect();
        assert_eq!(
            methods,
            [
                ("Place", "place"),
                ("Upload", "upload"),
                ("Watch", "watch"),
                ("Sync", "sync"),
                ("type", "type"),
            ]
        );
        assert_eq!(
            render_imports(&orders.all_imports()),
            "use rookery::codec::protobuf::rpc::{BoxStream, Streaming};
\
             use rookery::codec::protobuf::wkt;
\
             use rookery::{Context, Status};
\
             \n\
             use crate::idl::other::common as other_common;
\
             use crate::idl::shop::{common as shop_common, orders};
"
        );
        assert_eq!(
            orders.impl_block("Handler"),
            r#"impl orders::Orders for Handler {
    /// `rpc Place(shop.orders.Order) returns (shop.common.Receipt)`
    async fn place(
        &self,
        _cx: &mut Context,
        _request: orders::Order,
    ) -> Result<shop_common::Receipt, Status> {
        Err(Status::unimplemented("Orders.Place is not implemented yet"))
    }

    /// `rpc Upload(stream shop.orders.Order.Line) returns (google.protobuf.Empty)`
    async fn upload(
        &self,
        _cx: &mut Context,
        _requests: Streaming<orders::order::Line>,
    ) -> Result<wkt::Empty, Status> {
        Err(Status::unimplemented(
            "Orders.Upload is not implemented yet",
        ))
    }

    /// `rpc Watch(google.protobuf.Empty) returns (stream google.protobuf.Timestamp)`
    async fn watch(
        &self,
        _cx: &mut Context,
        _request: wkt::Empty,
    ) -> Result<BoxStream<wkt::Timestamp>, Status> {
        Err(Status::unimplemented("Orders.Watch is not implemented yet"))
    }

    /// `rpc Sync(stream other.common.Receipt) returns (stream shop.orders.Order.Line)`
    async fn sync(
        &self,
        _cx: &mut Context,
        _requests: Streaming<other_common::Receipt>,
    ) -> Result<BoxStream<orders::order::Line>, Status> {
        Err(Status::unimplemented("Orders.Sync is not implemented yet"))
    }

    /// `rpc type(shop.common.Receipt.Note) returns (shop.orders.Order)`
    async fn r#type(
        &self,
        _cx: &mut Context,
        _request: shop_common::receipt::Note,
    ) -> Result<orders::Order, Status> {
        Err(Status::unimplemented("Orders.type is not implemented yet"))
    }
}
"#
        );
        // As rustfmt would write it.
        let mut file = render_imports(
            &stubs
                .iter()
                .flat_map(|s| s.all_imports())
                .collect::<BTreeSet<_>>(),
        );
        for service in &stubs {
            file.push('\n');
            file.push_str(&service.impl_block("Handler"));
        }
        crate::stubs::assert_rustfmt_keeps(&file);

        // Each stub needs only what it names.
        let watch: Vec<&str> = orders.methods[2]
            .imports
            .iter()
            .map(|i| i.path.as_str())
            .collect();
        assert_eq!(
            watch,
            [
                "rookery::Context",
                "rookery::Status",
                "rookery::codec::protobuf::rpc::BoxStream",
                "rookery::codec::protobuf::wkt",
            ]
        );

        // A file without a package: its types are in the IDL module itself.
        let health = &stubs[2];
        assert_eq!(health.server_path, "idl::HealthServer");
        assert!(
            health.methods[0]
                .code
                .contains("_request: idl::Ping) -> Result<wkt::Empty, Status> {"),
            "{}",
            health.methods[0].code
        );
        assert_eq!(
            render_imports(&health.imports),
            "use crate::idl;\n",
            "the module is imported by its last segment"
        );
    }

    #[test]
    fn generated_modules_at_the_crate_root_are_named_from_it() {
        let dir = write(&[(
            "plain.proto",
            "syntax = \"proto3\";\nmessage Ping {}\n\
             service Health { rpc Check(Ping) returns (Ping); }\n",
        )]);
        let options = StubOptions {
            idl_module: "crate".to_string(),
        };
        let stubs = stubs(&[dir.path().join("plain.proto")], &[], &options).unwrap();
        let health = &stubs[0];
        assert_eq!(health.trait_path, "crate::Health");
        assert_eq!(health.server_path, "HealthServer");
        assert!(health.imports.is_empty(), "{:?}", health.imports);
        assert_eq!(
            render_imports(&health.all_imports()),
            "use rookery::{Context, Status};\n"
        );
        assert_eq!(
            health.methods[0].code,
            "/// `rpc Check(Ping) returns (Ping)`\n\
             async fn check(&self, _cx: &mut Context, _request: crate::Ping) -> Result<crate::Ping, Status> {\n\
             \x20   Err(Status::unimplemented(\"Health.Check is not implemented yet\"))\n}\n"
        );
    }

    #[test]
    fn a_file_that_does_not_compile_gives_the_builders_error() {
        let dir = write(&[(
            "broken.proto",
            "syntax = \"proto3\";\nmessage A { int32 a = 1 }\n",
        )]);
        let err = stubs(
            &[dir.path().join("broken.proto")],
            &[],
            &StubOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax);
        assert_eq!(err.location().map(|l| l.line), Some(2), "{err}");
    }
}
