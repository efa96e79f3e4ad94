//! What the generator knows about every message and enum of a descriptor set: its Rust
//! path, whether it is a map entry, and which messages contain themselves.

use std::collections::{HashMap, HashSet};

use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    field_descriptor_proto::{Label, Type},
};

use super::names::{camel, snake};

/// The well-known types rookery ships (in `rookery::codec::protobuf::wkt`): files whose
/// types generated code names there instead of generating again.
pub(crate) const WELL_KNOWN_FILES: &[&str] = &[
    "google/protobuf/any.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/empty.proto",
    "google/protobuf/field_mask.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/timestamp.proto",
    "google/protobuf/wrappers.proto",
];

/// A message or enum.
pub(crate) struct TypeInfo {
    /// The Rust module that holds it (package modules, then enclosing messages' modules).
    pub(crate) module: Vec<String>,
    /// Its Rust name.
    pub(crate) ident: String,
    /// A path to use instead (a well-known type that rookery ships).
    pub(crate) external: Option<String>,
    /// For a map entry message: its key and value fields.
    pub(crate) map_entry: Option<(FieldDescriptorProto, FieldDescriptorProto)>,
}

/// Every message and enum of a descriptor set, by full name with its leading dot.
pub(crate) struct Types {
    types: HashMap<String, TypeInfo>,
    /// For each message, the messages its singular message fields hold directly (not through
    /// a `Vec` or a map): the edges along which a type could contain itself.
    holds: HashMap<String, Vec<String>>,
}

impl Types {
    pub(crate) fn new(files: &[FileDescriptorProto], codegen: &str, external_wkt: bool) -> Types {
        let mut types = Types {
            types: HashMap::new(),
            holds: HashMap::new(),
        };
        for file in files {
            let package = file.package();
            let module = package_module(package);
            let prefix = if package.is_empty() {
                String::new()
            } else {
                format!(".{package}")
            };
            let external = (external_wkt && WELL_KNOWN_FILES.contains(&file.name()))
                .then(|| format!("{codegen}::wkt"));
            for msg in &file.message_type {
                types.add_message(msg, &prefix, &module, external.as_deref());
            }
            for e in &file.enum_type {
                types.add_enum(e, &prefix, &module, external.as_deref());
            }
        }
        types
    }

    fn add_message(
        &mut self,
        msg: &DescriptorProto,
        prefix: &str,
        module: &[String],
        external: Option<&str>,
    ) {
        let full = format!("{prefix}.{}", msg.name());
        let ident = camel(msg.name());
        let map_entry = msg
            .options
            .as_ref()
            .is_some_and(|o| o.map_entry())
            .then(|| {
                let key = msg.field.iter().find(|f| f.number() == 1).cloned();
                let value = msg.field.iter().find(|f| f.number() == 2).cloned();
                key.zip(value)
            })
            .flatten();
        let holds = msg
            .field
            .iter()
            .filter(|f| f.r#type() == Type::Message && f.label() != Label::Repeated)
            .map(|f| f.type_name().to_string())
            .collect();
        self.holds.insert(full.clone(), holds);
        let inner: Vec<String> = module.iter().cloned().chain([snake(msg.name())]).collect();
        self.types.insert(
            full.clone(),
            TypeInfo {
                module: module.to_vec(),
                external: external.map(|e| format!("{e}::{ident}")),
                ident,
                map_entry,
            },
        );
        for nested in &msg.nested_type {
            self.add_message(nested, &full, &inner, external);
        }
        for e in &msg.enum_type {
            self.add_enum(e, &full, &inner, external);
        }
    }

    fn add_enum(
        &mut self,
        e: &EnumDescriptorProto,
        prefix: &str,
        module: &[String],
        external: Option<&str>,
    ) {
        let ident = camel(e.name());
        self.types.insert(
            format!("{prefix}.{}", e.name()),
            TypeInfo {
                module: module.to_vec(),
                external: external.map(|x| format!("{x}::{ident}")),
                ident,
                map_entry: None,
            },
        );
    }

    /// The type named `full` (with its leading dot).
    pub(crate) fn get(&self, full: &str) -> &TypeInfo {
        &self.types[full]
    }

    /// Whether `full` is known.
    pub(crate) fn contains(&self, full: &str) -> bool {
        self.types.contains_key(full)
    }

    /// The Rust path of `full` as written in module `from`: relative (`super::…`) within the
    /// generated code, absolute for a well-known type.
    pub(crate) fn path(&self, from: &[String], full: &str) -> String {
        let t = &self.types[full];
        if let Some(external) = &t.external {
            return external.clone();
        }
        let common = from
            .iter()
            .zip(&t.module)
            .take_while(|(a, b)| a == b)
            .count();
        let mut parts: Vec<&str> = vec!["super"; from.len() - common];
        parts.extend(t.module[common..].iter().map(String::as_str));
        parts.push(&t.ident);
        parts.join("::")
    }

    /// Whether a field of message type `field_type` in message `container` must be boxed:
    /// when `field_type` holds `container`, directly or through other messages.
    pub(crate) fn needs_box(&self, container: &str, field_type: &str) -> bool {
        let mut seen = HashSet::new();
        let mut todo = vec![field_type];
        while let Some(t) = todo.pop() {
            if t == container {
                return true;
            }
            if seen.insert(t) {
                if let Some(next) = self.holds.get(t) {
                    todo.extend(next.iter().map(String::as_str));
                }
            }
        }
        false
    }
}

/// The Rust module of a package: its dot-separated parts, each in snake case.
pub(crate) fn package_module(package: &str) -> Vec<String> {
    if package.is_empty() {
        Vec::new()
    } else {
        package.split('.').map(snake).collect()
    }
}
