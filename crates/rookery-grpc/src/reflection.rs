//! Server reflection (feature `reflection`): `grpc.reflection.v1.ServerReflection` and its
//! older name `grpc.reflection.v1alpha.ServerReflection`, so that generic tools (`grpcurl`,
//! `grpc_cli`, Postman) and dynamic clients can list the services and read their schemas.
//!
//! Reflection answers from descriptors: each root module that `rookery-build` generates holds
//! `FILE_DESCRIPTOR_SET`, the encoded descriptors of its files and their imports. Give those
//! of the services served to a [`Reflection`], and serve it:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # mod proto { pub const FILE_DESCRIPTOR_SET: &[u8] = &[]; }
//! use rookery_grpc::{Server, reflection::Reflection};
//!
//! let reflection = Reflection::new()
//!     .register_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)? // from include!(…/rookery_protobuf.rs)
//!     .list_services(["helloworld.Greeter"]); // what ListServices names; all when not given
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! Server::builder()
//!     .add_reflection(reflection) // v1 and v1alpha
//!     // .add_service(GreeterServer::<H>::SERVICE, GreeterServer::new(handler))
//!     .build()
//!     .serve(listener)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! What is answered, on one stream, one response per request, in order:
//!
//! - `list_services`: the services given to [`Reflection::list_services`], or every service
//!   of the registered files when none were given, and reflection itself.
//! - `file_by_filename` and `file_containing_symbol` (a service, method, message, field, enum,
//!   enum value or extension, nested ones included, by full name without a leading dot): the
//!   file, followed by every file it depends on, transitively, each as the encoded
//!   `FileDescriptorProto` it was registered with.
//! - `file_containing_extension` and `all_extension_numbers_of_type`: from the extensions the
//!   registered files declare.
//! - What is not there gets an `error_response` with `NOT_FOUND` (5), and a request with no
//!   question one with `INVALID_ARGUMENT` (3); the stream carries on.
//!
//! The descriptors are read by a small decoder over `rookery-codec`'s Protobuf primitives
//! that takes only names (files, packages, dependencies, messages, fields, enums, services,
//! methods, extensions): no descriptor library at run time.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use bytes::Bytes;
use futures_util::StreamExt;
use rookery_codec::{
    DecodeError, DecodeErrorKind,
    protobuf::{
        DecodeLimits, Decoder, ProtoMessage, WireType,
        rpc::{BoxStream, Streaming},
    },
};
use rookery_core::{Code, Context, FastStr, Status};

use crate::ServerBuilder;

/// The code `rookery-build` generates for `grpc/reflection/v1/reflection.proto` and
/// `grpc/reflection/v1alpha/reflection.proto` (`grpc::reflection::{v1, v1alpha}`), and their
/// descriptors (`FILE_DESCRIPTOR_SET`).
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/reflection/rookery_protobuf.rs"));
}

use proto::grpc::reflection::{v1, v1alpha};

/// The encoded `FileDescriptorSet` of the reflection protos (v1 and v1alpha); a
/// [`Reflection`] always holds it.
pub const FILE_DESCRIPTOR_SET: &[u8] = proto::FILE_DESCRIPTOR_SET;

/// The full name of server reflection v1: `grpc.reflection.v1.ServerReflection`.
pub const SERVICE_NAME_V1: &str = "grpc.reflection.v1.ServerReflection";

/// The full name of server reflection v1alpha: `grpc.reflection.v1alpha.ServerReflection`.
pub const SERVICE_NAME_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

/// Server reflection over the descriptors it was given. Cheap to clone; serve it with
/// [`ServerBuilder::add_reflection`], or its generated servers ([`Reflection::v1`],
/// [`Reflection::v1alpha`]) one by one.
#[derive(Clone, Debug)]
pub struct Reflection {
    index: Arc<Index>,
}

/// What the registered descriptors say, by the names reflection is asked for.
#[derive(Clone, Debug, Default)]
struct Index {
    /// Each file's encoding and the files it imports, by its name.
    files: HashMap<String, File>,
    /// The file that declares each symbol, by full name (no leading dot).
    symbols: HashMap<String, String>,
    /// The file that declares each extension, by extended type (no leading dot) and number.
    extensions: HashMap<(String, i32), String>,
    /// The full names of the message types.
    messages: HashSet<String>,
    /// Every service of the registered files, in the order registered.
    services: Vec<String>,
    /// What `list_services` answers, when told.
    listed: Option<Vec<String>>,
}

#[derive(Clone, Debug)]
struct File {
    encoded: Bytes,
    dependencies: Vec<String>,
}

impl Default for Reflection {
    fn default() -> Reflection {
        Reflection::new()
    }
}

impl Reflection {
    /// Reflection that knows its own protos (`grpc.reflection.v1` and `v1alpha`).
    pub fn new() -> Reflection {
        let mut index = Index::default();
        // The set is generated by rookery-build from the protos in this crate.
        if let Err(e) = index.add_set(Bytes::from_static(FILE_DESCRIPTOR_SET)) {
            tracing::error!(error = %e, "the reflection protos' own descriptors do not decode");
        }
        Reflection {
            index: Arc::new(index),
        }
    }

    /// Adds the files of an encoded `google.protobuf.FileDescriptorSet` (a generated root
    /// module's `FILE_DESCRIPTOR_SET`, or what `protoc --descriptor_set_out
    /// --include_imports` writes). A file already known by its name is kept as it was. Fails,
    /// adding nothing, when the bytes are not a descriptor set.
    pub fn register_file_descriptor_set(
        mut self,
        encoded: impl Into<Bytes>,
    ) -> Result<Reflection, DecodeError> {
        let mut index = (*self.index).clone();
        index.add_set(encoded.into())?;
        self.index = Arc::new(index);
        Ok(self)
    }

    /// Adds one encoded `google.protobuf.FileDescriptorProto`.
    pub fn register_encoded_file_descriptor(
        mut self,
        encoded: impl Into<Bytes>,
    ) -> Result<Reflection, DecodeError> {
        let mut index = (*self.index).clone();
        index.add_file(encoded.into())?;
        self.index = Arc::new(index);
        Ok(self)
    }

    /// The services `list_services` names (with reflection's own added): those the server
    /// serves. Without it, every service of the registered files is named, which may include
    /// services that a `.proto` declares but the server does not serve.
    pub fn list_services<I>(mut self, names: I) -> Reflection
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut index = (*self.index).clone();
        index.listed = Some(names.into_iter().map(Into::into).collect());
        self.index = Arc::new(index);
        self
    }

    /// The names `list_services` answers with.
    pub fn service_names(&self) -> Vec<String> {
        self.index.listed_services()
    }

    /// The `grpc.reflection.v1.ServerReflection` server.
    pub fn v1(&self) -> v1::ServerReflectionServer<Reflection> {
        v1::ServerReflectionServer::new(self.clone())
    }

    /// The `grpc.reflection.v1alpha.ServerReflection` server (the same messages under the
    /// older package, which many tools still call).
    pub fn v1alpha(&self) -> v1alpha::ServerReflectionServer<Reflection> {
        v1alpha::ServerReflectionServer::new(self.clone())
    }

    /// The answer to one request.
    fn answer(&self, request: v1::ServerReflectionRequest) -> v1::ServerReflectionResponse {
        use v1::{
            server_reflection_request::MessageRequest as Q,
            server_reflection_response::MessageResponse as A,
        };
        let index = &self.index;
        let message_response = match &request.message_request {
            Some(Q::ListServices(_)) => A::ListServicesResponse(v1::ListServiceResponse {
                service: index
                    .listed_services()
                    .into_iter()
                    .map(|name| v1::ServiceResponse {
                        name: FastStr::from_string(name),
                    })
                    .collect(),
            }),
            Some(Q::FileByFilename(name)) => match index.files.get(name.as_str()) {
                Some(_) => A::FileDescriptorResponse(index.with_dependencies(name)),
                None => error(Code::NotFound, format!("no file named {name:?}")),
            },
            Some(Q::FileContainingSymbol(symbol)) => {
                let symbol = symbol.strip_prefix('.').unwrap_or(symbol);
                match index.symbols.get(symbol) {
                    Some(file) => A::FileDescriptorResponse(index.with_dependencies(file)),
                    None => error(Code::NotFound, format!("no symbol named {symbol:?}")),
                }
            }
            Some(Q::FileContainingExtension(ext)) => {
                let extended = ext.containing_type.trim_start_matches('.').to_string();
                match index.extensions.get(&(extended, ext.extension_number)) {
                    Some(file) => A::FileDescriptorResponse(index.with_dependencies(file)),
                    None => error(
                        Code::NotFound,
                        format!(
                            "no extension {} of {:?}",
                            ext.extension_number,
                            ext.containing_type.as_str()
                        ),
                    ),
                }
            }
            Some(Q::AllExtensionNumbersOfType(name)) => {
                let name = name.strip_prefix('.').unwrap_or(name);
                if index.is_message(name) {
                    let mut numbers: Vec<i32> = index
                        .extensions
                        .keys()
                        .filter(|(extended, _)| extended == name)
                        .map(|&(_, number)| number)
                        .collect();
                    numbers.sort_unstable();
                    A::AllExtensionNumbersResponse(v1::ExtensionNumberResponse {
                        base_type_name: FastStr::from_string(name.to_string()),
                        extension_number: numbers,
                    })
                } else {
                    error(Code::NotFound, format!("no message type named {name:?}"))
                }
            }
            None => error(
                Code::InvalidArgument,
                "the request asks nothing: no message_request is set".to_string(),
            ),
        };
        v1::ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(message_response),
        }
    }
}

fn error(code: Code, message: String) -> v1::server_reflection_response::MessageResponse {
    v1::server_reflection_response::MessageResponse::ErrorResponse(v1::ErrorResponse {
        error_code: code as i32,
        error_message: FastStr::from_string(message),
    })
}

impl v1::ServerReflection for Reflection {
    async fn server_reflection_info(
        &self,
        _cx: &mut Context,
        requests: Streaming<v1::ServerReflectionRequest>,
    ) -> Result<BoxStream<v1::ServerReflectionResponse>, Status> {
        let reflection = self.clone();
        Ok(Box::pin(
            requests.map(move |request| request.map(|r| reflection.answer(r))),
        ))
    }
}

impl v1alpha::ServerReflection for Reflection {
    async fn server_reflection_info(
        &self,
        _cx: &mut Context,
        requests: Streaming<v1alpha::ServerReflectionRequest>,
    ) -> Result<BoxStream<v1alpha::ServerReflectionResponse>, Status> {
        // v1alpha's messages are v1's on the wire: the request and the answer cross over.
        let reflection = self.clone();
        Ok(Box::pin(requests.map(move |request| {
            let request = recode::<_, v1::ServerReflectionRequest>(&request?)?;
            recode(&reflection.answer(request))
        })))
    }
}

/// The same encoding read as another message type.
fn recode<A: ProtoMessage, B: ProtoMessage>(message: &A) -> Result<B, Status> {
    B::decode(message.encode_to_bytes()).map_err(Status::from)
}

impl ServerBuilder {
    /// Serves `reflection` as `grpc.reflection.v1.ServerReflection` and
    /// `grpc.reflection.v1alpha.ServerReflection` (feature `reflection`).
    pub fn add_reflection(self, reflection: Reflection) -> ServerBuilder {
        self.add_service(
            v1::ServerReflectionServer::<Reflection>::SERVICE,
            reflection.v1(),
        )
        .add_service(
            v1alpha::ServerReflectionServer::<Reflection>::SERVICE,
            reflection.v1alpha(),
        )
    }
}

impl Index {
    fn listed_services(&self) -> Vec<String> {
        let mut names: Vec<String> = match &self.listed {
            Some(listed) => listed.clone(),
            None => self
                .services
                .iter()
                .filter(|s| *s != SERVICE_NAME_V1 && *s != SERVICE_NAME_V1ALPHA)
                .cloned()
                .collect(),
        };
        for own in [SERVICE_NAME_V1, SERVICE_NAME_V1ALPHA] {
            if !names.iter().any(|n| n == own) {
                names.push(own.to_string());
            }
        }
        names
    }

    fn is_message(&self, name: &str) -> bool {
        self.messages.contains(name)
    }

    /// The file named `name` followed by its dependencies, transitively, each once.
    fn with_dependencies(&self, name: &str) -> v1::FileDescriptorResponse {
        let mut out = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack: Vec<&str> = vec![name];
        while let Some(name) = stack.pop() {
            if !seen.insert(name) {
                continue;
            }
            // A dependency not registered is left out: the client asks again by name and
            // is told NOT_FOUND.
            let Some(file) = self.files.get(name) else {
                continue;
            };
            out.push(file.encoded.clone());
            stack.extend(file.dependencies.iter().rev().map(String::as_str));
        }
        v1::FileDescriptorResponse {
            file_descriptor_proto: out,
        }
    }

    fn add_set(&mut self, encoded: Bytes) -> Result<(), DecodeError> {
        // Decode every file first, so that a set that fails adds nothing.
        let mut files = Vec::new();
        let mut d = Decoder::new(encoded, DecodeLimits::default());
        while !d.is_done() {
            let key = d.read_key()?;
            if key >> 3 == 1 {
                d.expect(key, WireType::LengthDelimited)?;
                let bytes = d.read_bytes()?;
                files.push(FileNames::decode(bytes)?);
            } else {
                d.skip(key)?;
            }
        }
        for file in files {
            self.insert(file);
        }
        Ok(())
    }

    fn add_file(&mut self, encoded: Bytes) -> Result<(), DecodeError> {
        let file = FileNames::decode(encoded)?;
        self.insert(file);
        Ok(())
    }

    fn insert(&mut self, file: FileNames) {
        if self.files.contains_key(&file.name) {
            return;
        }
        for symbol in file.symbols {
            self.symbols
                .entry(symbol)
                .or_insert_with(|| file.name.clone());
        }
        for extension in file.extensions {
            self.extensions
                .entry(extension)
                .or_insert_with(|| file.name.clone());
        }
        self.messages.extend(file.messages);
        for service in file.services {
            if !self.services.contains(&service) {
                self.services.push(service);
            }
        }
        self.files.insert(
            file.name,
            File {
                encoded: file.encoded,
                dependencies: file.dependencies,
            },
        );
    }
}

/// The names one `FileDescriptorProto` declares.
#[derive(Debug, Default)]
struct FileNames {
    encoded: Bytes,
    name: String,
    package: String,
    dependencies: Vec<String>,
    /// Full names (no leading dot) of everything declared.
    symbols: Vec<String>,
    /// Full names of the message types.
    messages: Vec<String>,
    services: Vec<String>,
    extensions: Vec<(String, i32)>,
}

// Field numbers of descriptor.proto.
const FILE_NAME: u32 = 1;
const FILE_PACKAGE: u32 = 2;
const FILE_DEPENDENCY: u32 = 3;
const FILE_MESSAGE_TYPE: u32 = 4;
const FILE_ENUM_TYPE: u32 = 5;
const FILE_SERVICE: u32 = 6;
const FILE_EXTENSION: u32 = 7;
const MESSAGE_NAME: u32 = 1;
const MESSAGE_FIELD: u32 = 2;
const MESSAGE_NESTED_TYPE: u32 = 3;
const MESSAGE_ENUM_TYPE: u32 = 4;
const MESSAGE_EXTENSION: u32 = 6;
const FIELD_NAME: u32 = 1;
const FIELD_EXTENDEE: u32 = 2;
const FIELD_NUMBER: u32 = 3;
const ENUM_NAME: u32 = 1;
const ENUM_VALUE: u32 = 2;
const ENUM_VALUE_NAME: u32 = 1;
const SERVICE_NAME: u32 = 1;
const SERVICE_METHOD: u32 = 2;
const METHOD_NAME: u32 = 1;

fn string(d: &mut Decoder, key: u32) -> Result<String, DecodeError> {
    d.expect(key, WireType::LengthDelimited)?;
    Ok(d.read_string()?.to_string())
}

fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

/// A declaration's fields as they come: its name may follow what it contains, so what is
/// inside is collected with names relative to it and placed once the name is known.
#[derive(Default)]
struct Scope {
    name: String,
    /// Names relative to this scope.
    symbols: Vec<String>,
    /// Message names relative to this scope (also in `symbols`).
    messages: Vec<String>,
    /// Extensions: the extended type as written (fully qualified, with a leading dot when
    /// compiled), and the number.
    extensions: Vec<(String, i32)>,
}

impl Scope {
    /// Adds what `inner` (named `inner.name`) declares, under its name.
    fn absorb(&mut self, inner: Scope) {
        self.symbols.push(inner.name.clone());
        for s in inner.symbols {
            self.symbols.push(join(&inner.name, &s));
        }
        for m in inner.messages {
            self.messages.push(join(&inner.name, &m));
        }
        self.extensions.extend(inner.extensions);
    }
}

impl FileNames {
    fn decode(encoded: Bytes) -> Result<FileNames, DecodeError> {
        let mut file = FileNames {
            encoded: encoded.clone(),
            ..FileNames::default()
        };
        let mut top = Scope::default();
        let mut services: Vec<Scope> = Vec::new();
        let mut d = Decoder::new(encoded, DecodeLimits::default());
        while !d.is_done() {
            let key = d.read_key()?;
            match key >> 3 {
                FILE_NAME => file.name = string(&mut d, key)?,
                FILE_PACKAGE => file.package = string(&mut d, key)?,
                FILE_DEPENDENCY => file.dependencies.push(string(&mut d, key)?),
                FILE_MESSAGE_TYPE => {
                    d.expect(key, WireType::LengthDelimited)?;
                    let message = d.nested(message)?;
                    top.messages.push(message.name.clone());
                    top.absorb(message);
                }
                FILE_ENUM_TYPE => {
                    d.expect(key, WireType::LengthDelimited)?;
                    let e = d.nested(enumeration)?;
                    // Enum values are scoped beside their enum, as in C++.
                    top.symbols.extend(e.symbols.iter().cloned());
                    top.symbols.push(e.name);
                }
                FILE_SERVICE => {
                    d.expect(key, WireType::LengthDelimited)?;
                    services.push(d.nested(service)?);
                }
                FILE_EXTENSION => {
                    d.expect(key, WireType::LengthDelimited)?;
                    let (name, extension) = d.nested(field)?;
                    top.symbols.push(name);
                    top.extensions.extend(extension);
                }
                _ => d.skip(key)?,
            }
        }
        if file.name.is_empty() {
            return Err(DecodeError::new(
                DecodeErrorKind::InvalidData,
                "a FileDescriptorProto without a name",
            ));
        }
        let package = file.package.clone();
        for service in services {
            file.services.push(join(&package, &service.name));
            top.absorb(service);
        }
        file.messages = top.messages.iter().map(|m| join(&package, m)).collect();
        file.symbols
            .extend(top.symbols.iter().map(|s| join(&package, s)));
        file.extensions = top
            .extensions
            .into_iter()
            .map(|(extended, number)| (extended.trim_start_matches('.').to_string(), number))
            .collect();
        Ok(file)
    }
}

/// A `DescriptorProto`: its name, and what it declares relative to it.
fn message(d: &mut Decoder) -> Result<Scope, DecodeError> {
    let mut scope = Scope::default();
    while !d.is_done() {
        let key = d.read_key()?;
        match key >> 3 {
            MESSAGE_NAME => scope.name = string(d, key)?,
            MESSAGE_FIELD => {
                d.expect(key, WireType::LengthDelimited)?;
                let (name, _) = d.nested(field)?;
                scope.symbols.push(name);
            }
            MESSAGE_NESTED_TYPE => {
                d.expect(key, WireType::LengthDelimited)?;
                let nested = d.nested(message)?;
                scope.messages.push(nested.name.clone());
                scope.absorb(nested);
            }
            MESSAGE_ENUM_TYPE => {
                d.expect(key, WireType::LengthDelimited)?;
                let e = d.nested(enumeration)?;
                scope.symbols.extend(e.symbols.iter().cloned());
                scope.symbols.push(e.name);
            }
            MESSAGE_EXTENSION => {
                d.expect(key, WireType::LengthDelimited)?;
                let (name, extension) = d.nested(field)?;
                scope.symbols.push(name);
                scope.extensions.extend(extension);
            }
            _ => d.skip(key)?,
        }
    }
    Ok(scope)
}

/// A `FieldDescriptorProto`: its name, and for an extension, what it extends and its number.
fn field(d: &mut Decoder) -> Result<(String, Option<(String, i32)>), DecodeError> {
    let mut name = String::new();
    let mut extendee = None;
    let mut number = 0;
    while !d.is_done() {
        let key = d.read_key()?;
        match key >> 3 {
            FIELD_NAME => name = string(d, key)?,
            FIELD_EXTENDEE => extendee = Some(string(d, key)?),
            FIELD_NUMBER => {
                d.expect(key, WireType::Varint)?;
                number = d.read_int32()?;
            }
            _ => d.skip(key)?,
        }
    }
    Ok((name, extendee.map(|e| (e, number))))
}

/// An `EnumDescriptorProto`: its name, and its values' names (which belong to the enclosing
/// scope, beside the enum).
fn enumeration(d: &mut Decoder) -> Result<Scope, DecodeError> {
    let mut scope = Scope::default();
    while !d.is_done() {
        let key = d.read_key()?;
        match key >> 3 {
            ENUM_NAME => scope.name = string(d, key)?,
            ENUM_VALUE => {
                d.expect(key, WireType::LengthDelimited)?;
                let value = d.nested(|d| named(d, ENUM_VALUE_NAME))?;
                scope.symbols.push(value);
            }
            _ => d.skip(key)?,
        }
    }
    Ok(scope)
}

/// A `ServiceDescriptorProto`: its name, and its methods' names relative to it.
fn service(d: &mut Decoder) -> Result<Scope, DecodeError> {
    let mut scope = Scope::default();
    while !d.is_done() {
        let key = d.read_key()?;
        match key >> 3 {
            SERVICE_NAME => scope.name = string(d, key)?,
            SERVICE_METHOD => {
                d.expect(key, WireType::LengthDelimited)?;
                let method = d.nested(|d| named(d, METHOD_NAME))?;
                scope.symbols.push(method);
            }
            _ => d.skip(key)?,
        }
    }
    Ok(scope)
}

/// The string field `number` of a message, all else skipped.
fn named(d: &mut Decoder, number: u32) -> Result<String, DecodeError> {
    let mut name = String::new();
    while !d.is_done() {
        let key = d.read_key()?;
        if key >> 3 == number {
            name = string(d, key)?;
        } else {
            d.skip(key)?;
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn its_own_descriptors_are_indexed() {
        let r = Reflection::new();
        let index = &r.index;
        assert!(
            index
                .files
                .contains_key("grpc/reflection/v1/reflection.proto")
        );
        for symbol in [
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
            "grpc.reflection.v1alpha.ServerReflectionRequest",
            "grpc.reflection.v1.ServerReflectionRequest.file_by_filename",
            "grpc.reflection.v1.ExtensionRequest",
        ] {
            assert!(index.symbols.contains_key(symbol), "{symbol}");
        }
        assert!(index.is_message("grpc.reflection.v1.ErrorResponse"));
        assert!(!index.is_message("grpc.reflection.v1.ServerReflection"));
        assert_eq!(r.service_names(), [SERVICE_NAME_V1, SERVICE_NAME_V1ALPHA]);
    }

    #[test]
    fn malformed_sets_are_refused_and_add_nothing() {
        for bad in [
            &b"\x0a"[..],                 // a length missing
            &b"\x0a\x05\x0a\x01"[..],     // a length beyond the bytes
            &b"\x0a\x02\x12\x00"[..],     // a file without a name
            &b"\x0a\x03\x0a\x01\xff"[..], // a name that is not UTF-8
            &b"\x0b"[..],                 // a group that never ends
        ] {
            let err = Reflection::new()
                .register_file_descriptor_set(Bytes::from_static(bad))
                .unwrap_err();
            assert!(!err.to_string().is_empty());
        }
        // Nesting beyond the decoder's limit is refused, not followed down the stack.
        let mut deep = vec![0x0a, 0x01, b'm']; // a message named "m"
        for _ in 0..200 {
            deep = [&[0x1a][..], &varint(deep.len()), &deep].concat(); // nested_type
        }
        let deep = [&[0x0a, 0x01, b'f', 0x22][..], &varint(deep.len()), &deep].concat();
        assert!(FileNames::decode(Bytes::from(deep)).is_err());
    }

    fn varint(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out
    }

    #[test]
    fn nested_declarations_are_found_by_their_full_names() {
        // file "n.proto", package "p", message Outer { message Inner { enum E { V = 0; } } }
        let e = [
            &[0x0a, 0x01, b'E', 0x12][..],
            &varint(3),
            &[0x0a, 0x01, b'V'],
        ]
        .concat();
        let inner = [&[0x0a, 0x05][..], b"Inner", &[0x22], &varint(e.len()), &e].concat();
        let outer = [
            &[0x0a, 0x05][..],
            b"Outer",
            &[0x1a],
            &varint(inner.len()),
            &inner,
        ]
        .concat();
        let file = [
            &[0x0a, 0x07][..],
            b"n.proto",
            &[0x12, 0x01, b'p', 0x22],
            &varint(outer.len()),
            &outer,
        ]
        .concat();
        let names = FileNames::decode(Bytes::from(file)).unwrap();
        let mut symbols = names.symbols.clone();
        symbols.sort();
        assert_eq!(
            symbols,
            [
                "p.Outer",
                "p.Outer.Inner",
                "p.Outer.Inner.E",
                "p.Outer.Inner.V"
            ]
        );
        let mut messages = names.messages.clone();
        messages.sort();
        assert_eq!(messages, ["p.Outer", "p.Outer.Inner"]);
    }
}
