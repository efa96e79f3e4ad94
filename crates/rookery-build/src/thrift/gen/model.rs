//! What the generator knows about a whole program before it writes anything: the module of
//! each file, resolved types, and which types can be hashed, compared for equality, defaulted
//! or must be boxed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{FileId, GenError, Source, names};
use crate::thrift::ast::{Definition, Field, Requiredness, Span, Struct, StructKind, TypeRef};

/// A struct, union, exception or enum: the file that defines it and its IDL name.
pub(crate) type DefKey = (FileId, String);

/// A type with typedefs followed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Ty {
    Bool,
    I8,
    I16,
    I32,
    I64,
    Double,
    String,
    Binary,
    Uuid,
    List(Box<Ty>),
    Set(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
    Enum(DefKey),
    Struct(DefKey, StructKind),
}

impl Ty {
    /// The `TType` variant this type travels as.
    pub(crate) fn ttype(&self) -> Ident {
        format_ident!(
            "{}",
            match self {
                Ty::Bool => "Bool",
                Ty::I8 => "I8",
                Ty::I16 => "I16",
                Ty::I32 | Ty::Enum(_) => "I32",
                Ty::I64 => "I64",
                Ty::Double => "Double",
                Ty::String | Ty::Binary => "Binary",
                Ty::Uuid => "Uuid",
                Ty::List(_) => "List",
                Ty::Set(_) => "Set",
                Ty::Map(..) => "Map",
                Ty::Struct(..) => "Struct",
            }
        )
    }

    /// Whether decoding into a default first and overwriting costs nothing worth avoiding.
    pub(crate) fn cheap_default(&self) -> bool {
        !matches!(self, Ty::Struct(..) | Ty::Set(_) | Ty::Map(..))
    }
}

/// The program as the generator sees it.
pub(crate) struct Model<'a> {
    pub(crate) src: &'a dyn Source,
    /// The module path of each file.
    pub(crate) modules: HashMap<FileId, Vec<String>>,
    /// The names each module defines in the type namespace (to avoid shadowed prelude names).
    module_types: HashMap<Vec<String>, HashSet<String>>,
    /// Structs, unions and exceptions whose Rust type is `Hash` (and `Eq`).
    hashable: HashSet<DefKey>,
    /// Structs, unions and exceptions whose Rust type is `Eq`.
    eq: HashSet<DefKey>,
    /// Structs and exceptions whose Rust type is `Default`.
    default: HashSet<DefKey>,
    /// Fields (struct, field id) that are boxed to break a cycle.
    boxed: HashSet<(DefKey, i16)>,
    /// The path generated code reaches the runtime by.
    pub(crate) runtime: TokenStream,
}

/// The module path of a file: its `rs` namespace, or its file name in snake case.
pub(crate) fn module_of(doc: &crate::thrift::ast::Document) -> Vec<String> {
    if let Some(ns) = doc.namespaces.iter().find(|n| n.scope == "rs") {
        return ns
            .name
            .split('.')
            .filter(|s| !s.is_empty())
            .map(names::snake)
            .collect();
    }
    let stem = doc
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "thrift".to_string());
    vec![names::snake(&stem)]
}

impl<'a> Model<'a> {
    pub(crate) fn new(src: &'a dyn Source, runtime: TokenStream) -> Result<Self, GenError> {
        let mut model = Model {
            src,
            modules: HashMap::new(),
            module_types: HashMap::new(),
            hashable: HashSet::new(),
            eq: HashSet::new(),
            default: HashSet::new(),
            boxed: HashSet::new(),
            runtime,
        };
        for id in src.file_ids() {
            let module = module_of(src.document(id));
            let types = model.module_types.entry(module.clone()).or_default();
            for def in &src.document(id).definitions {
                match def {
                    Definition::Const(_) => {}
                    Definition::Service(s) => {
                        let name = names::camel(&s.name);
                        types.insert(format!("{name}Server"));
                        types.insert(format!("{name}Client"));
                        types.insert(name);
                    }
                    Definition::Enum(e)
                        if ["Ok", "Err", "Some", "None"]
                            .contains(&names::camel(&e.name).as_str()) =>
                    {
                        return Err(GenError::at(
                            &e.span,
                            format!(
                                "enum {} would hide Rust's `{}` in generated code; rename it",
                                e.name,
                                names::camel(&e.name)
                            ),
                        ));
                    }
                    other => {
                        types.insert(names::camel(other.name()));
                    }
                }
            }
            model.modules.insert(id, module);
        }
        model.analyse()?;
        Ok(model)
    }

    /// Every struct, union and exception of the program.
    fn structs(&self) -> Vec<(DefKey, &'a Struct)> {
        let mut out = Vec::new();
        for id in self.src.file_ids() {
            for def in &self.src.document(id).definitions {
                if let Definition::Struct(s) = def {
                    out.push(((id, s.name.clone()), s));
                }
            }
        }
        out
    }

    fn analyse(&mut self) -> Result<(), GenError> {
        let structs = self.structs();
        let mut fields: BTreeMap<DefKey, Vec<(&Field, Ty)>> = BTreeMap::new();
        for (key, s) in &structs {
            let mut resolved = Vec::new();
            for f in &s.fields {
                resolved.push((f, self.resolve(key.0, &f.ty)?));
            }
            fields.insert(key.clone(), resolved);
        }

        // Boxing: a field whose struct type reaches back to its own struct without a
        // container in between would make an infinitely large type.
        let direct: BTreeMap<&DefKey, BTreeSet<&DefKey>> = fields
            .iter()
            .map(|(k, fs)| {
                let targets = fs
                    .iter()
                    .filter_map(|(_, t)| match t {
                        Ty::Struct(k2, _) => Some(k2),
                        _ => None,
                    })
                    .collect();
                (k, targets)
            })
            .collect();
        let reaches = |from: &DefKey, to: &DefKey| -> bool {
            let mut seen = BTreeSet::new();
            let mut stack = vec![from];
            while let Some(k) = stack.pop() {
                if k == to {
                    return true;
                }
                if seen.insert(k) {
                    if let Some(next) = direct.get(k) {
                        stack.extend(next.iter().copied());
                    }
                }
            }
            false
        };
        let mut boxed = HashSet::new();
        for (key, fs) in &fields {
            for (f, t) in fs {
                if let Ty::Struct(target, _) = t {
                    if reaches(target, key) {
                        boxed.insert((key.clone(), f.id));
                    }
                }
            }
        }
        self.boxed = boxed;

        // Greatest fixpoints: assume every struct has the property, then remove those with a
        // field that does not, until nothing changes.
        let kinds: HashMap<DefKey, StructKind> =
            structs.iter().map(|(k, s)| (k.clone(), s.kind)).collect();
        self.hashable = kinds.keys().cloned().collect();
        self.eq = kinds.keys().cloned().collect();
        self.default = kinds
            .iter()
            .filter(|(_, kind)| **kind != StructKind::Union)
            .map(|(k, _)| k.clone())
            .collect();
        loop {
            let mut changed = false;
            for (key, fs) in &fields {
                if self.hashable.contains(key) && !fs.iter().all(|(_, t)| self.ty_hashable(t)) {
                    self.hashable.remove(key);
                    changed = true;
                }
                if self.eq.contains(key) && !fs.iter().all(|(_, t)| self.ty_eq(t)) {
                    self.eq.remove(key);
                    changed = true;
                }
                if self.default.contains(key)
                    && !fs.iter().all(|(f, t)| {
                        f.requiredness != Requiredness::Required
                            || self.boxed.contains(&(key.clone(), f.id))
                            || self.ty_default(t)
                    })
                {
                    self.default.remove(key);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        Ok(())
    }

    /// Whether the Rust type of `t` implements `Hash` and `Eq` (so it can key a map).
    pub(crate) fn ty_hashable(&self, t: &Ty) -> bool {
        match t {
            Ty::Double | Ty::Set(_) | Ty::Map(..) => false,
            Ty::List(e) => self.ty_hashable(e),
            Ty::Struct(k, _) => self.hashable.contains(k),
            _ => true,
        }
    }

    /// Whether the Rust type of `t` implements `Eq`.
    pub(crate) fn ty_eq(&self, t: &Ty) -> bool {
        match t {
            Ty::Double => false,
            Ty::List(e) | Ty::Set(e) => self.ty_eq(e),
            Ty::Map(k, v) => self.ty_eq(k) && self.ty_eq(v),
            Ty::Struct(k, _) => self.eq.contains(k),
            _ => true,
        }
    }

    /// Whether the Rust type of `t` implements `Default`.
    pub(crate) fn ty_default(&self, t: &Ty) -> bool {
        match t {
            Ty::Struct(k, _) => self.default.contains(k),
            _ => true,
        }
    }

    pub(crate) fn struct_hashable(&self, key: &DefKey) -> bool {
        self.hashable.contains(key)
    }

    pub(crate) fn struct_eq(&self, key: &DefKey) -> bool {
        self.eq.contains(key)
    }

    pub(crate) fn struct_default(&self, key: &DefKey) -> bool {
        self.default.contains(key)
    }

    pub(crate) fn is_boxed(&self, key: &DefKey, id: i16) -> bool {
        self.boxed.contains(&(key.clone(), id))
    }

    /// Follows typedefs.
    pub(crate) fn resolve(&self, from: FileId, t: &TypeRef) -> Result<Ty, GenError> {
        self.resolve_depth(from, t, 0)
    }

    fn resolve_depth(&self, from: FileId, t: &TypeRef, depth: u32) -> Result<Ty, GenError> {
        Ok(match t {
            TypeRef::Bool => Ty::Bool,
            TypeRef::I8 => Ty::I8,
            TypeRef::I16 => Ty::I16,
            TypeRef::I32 => Ty::I32,
            TypeRef::I64 => Ty::I64,
            TypeRef::Double => Ty::Double,
            TypeRef::String => Ty::String,
            TypeRef::Binary => Ty::Binary,
            TypeRef::Uuid => Ty::Uuid,
            TypeRef::List(e) => Ty::List(Box::new(self.resolve_depth(from, e, depth)?)),
            TypeRef::Set(e) => Ty::Set(Box::new(self.resolve_depth(from, e, depth)?)),
            TypeRef::Map(k, v) => Ty::Map(
                Box::new(self.resolve_depth(from, k, depth)?),
                Box::new(self.resolve_depth(from, v, depth)?),
            ),
            TypeRef::Named(name, span) => {
                if depth > 64 {
                    return Err(GenError::at(
                        span,
                        format!("typedef {name} refers to itself"),
                    ));
                }
                match self.lookup(from, name, span)? {
                    (fid, Definition::Typedef(td)) => self.resolve_depth(fid, &td.ty, depth + 1)?,
                    (fid, Definition::Enum(e)) => Ty::Enum((fid, e.name.clone())),
                    (fid, Definition::Struct(s)) => Ty::Struct((fid, s.name.clone()), s.kind),
                    (_, other) => {
                        return Err(GenError::at(
                            span,
                            format!("{name} is a {}, not a type", other.kind_name()),
                        ));
                    }
                }
            }
        })
    }

    pub(crate) fn lookup(
        &self,
        from: FileId,
        name: &str,
        span: &Span,
    ) -> Result<(FileId, &'a Definition), GenError> {
        self.src
            .lookup(from, name)
            .ok_or_else(|| GenError::at(span, format!("unknown name {name}")))
    }

    /// The path from the module of `from` to the item `item` of the module of `to`.
    pub(crate) fn path(&self, from: FileId, to: FileId, item: Ident) -> TokenStream {
        let a = &self.modules[&from];
        let b = &self.modules[&to];
        if a == b {
            return quote!(#item);
        }
        let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let ups = (common..a.len()).map(|_| quote!(super::));
        let downs = b[common..].iter().map(|m| {
            let m = names::ident(m);
            quote!(#m::)
        });
        quote!(#(#ups)* #(#downs)* #item)
    }

    /// A prelude item, by its full path when the module of `from` defines a type of the same
    /// name.
    pub(crate) fn std(&self, from: FileId, name: &str) -> TokenStream {
        let module = &self.modules[&from];
        let shadowed = self
            .module_types
            .get(module)
            .is_some_and(|names| names.contains(name));
        if !shadowed {
            let name = names::raw(name);
            return quote!(#name);
        }
        match name {
            "Result" => quote!(::std::result::Result),
            "Ok" => quote!(::std::result::Result::Ok),
            "Err" => quote!(::std::result::Result::Err),
            "Option" => quote!(::std::option::Option),
            "Some" => quote!(::std::option::Option::Some),
            "None" => quote!(::std::option::Option::None),
            "Vec" => quote!(::std::vec::Vec),
            "Box" => quote!(::std::boxed::Box),
            "Default" => quote!(::std::default::Default),
            "Send" => quote!(::std::marker::Send),
            "Sync" => quote!(::std::marker::Sync),
            "Clone" => quote!(::std::clone::Clone),
            "From" => quote!(::std::convert::From),
            "Into" => quote!(::std::convert::Into),
            other => {
                let name = names::raw(other);
                quote!(#name)
            }
        }
    }

    /// A runtime item: `::rookery::codegen::NAME`.
    pub(crate) fn rt(&self, name: &str) -> TokenStream {
        let runtime = &self.runtime;
        let name = names::raw(name);
        quote!(#runtime::#name)
    }

    /// The Rust type of `t` as written: typedefs by their alias.
    pub(crate) fn rust_type(&self, from: FileId, t: &TypeRef) -> Result<TokenStream, GenError> {
        Ok(match t {
            TypeRef::List(e) => {
                let vec = self.std(from, "Vec");
                let e = self.rust_type(from, e)?;
                quote!(#vec<#e>)
            }
            TypeRef::Set(e) => {
                let inner = self.rust_type(from, e)?;
                if self.ty_hashable(&self.resolve(from, e)?) {
                    let set = self.rt("HashSet");
                    quote!(#set<#inner>)
                } else {
                    let vec = self.std(from, "Vec");
                    quote!(#vec<#inner>)
                }
            }
            TypeRef::Map(k, v) => {
                let kt = self.rust_type(from, k)?;
                let vt = self.rust_type(from, v)?;
                if self.ty_hashable(&self.resolve(from, k)?) {
                    let map = self.rt("HashMap");
                    quote!(#map<#kt, #vt>)
                } else {
                    let vec = self.std(from, "Vec");
                    quote!(#vec<(#kt, #vt)>)
                }
            }
            TypeRef::Named(name, span) => {
                let (fid, def) = self.lookup(from, name, span)?;
                match def {
                    Definition::Typedef(_) | Definition::Enum(_) | Definition::Struct(_) => {
                        self.path(from, fid, names::type_ident(def.name()))
                    }
                    other => {
                        return Err(GenError::at(
                            span,
                            format!("{name} is a {}, not a type", other.kind_name()),
                        ));
                    }
                }
            }
            other => self.rust_ty(from, &self.resolve(from, other)?),
        })
    }

    /// The Rust type of a resolved type.
    pub(crate) fn rust_ty(&self, from: FileId, t: &Ty) -> TokenStream {
        match t {
            Ty::Bool => quote!(bool),
            Ty::I8 => quote!(i8),
            Ty::I16 => quote!(i16),
            Ty::I32 => quote!(i32),
            Ty::I64 => quote!(i64),
            Ty::Double => quote!(f64),
            Ty::String => self.rt("FastStr"),
            Ty::Binary => self.rt("Bytes"),
            Ty::Uuid => quote!([u8; 16]),
            Ty::List(e) => {
                let vec = self.std(from, "Vec");
                let e = self.rust_ty(from, e);
                quote!(#vec<#e>)
            }
            Ty::Set(e) => {
                let inner = self.rust_ty(from, e);
                if self.ty_hashable(e) {
                    let set = self.rt("HashSet");
                    quote!(#set<#inner>)
                } else {
                    let vec = self.std(from, "Vec");
                    quote!(#vec<#inner>)
                }
            }
            Ty::Map(k, v) => {
                let kt = self.rust_ty(from, k);
                let vt = self.rust_ty(from, v);
                if self.ty_hashable(k) {
                    let map = self.rt("HashMap");
                    quote!(#map<#kt, #vt>)
                } else {
                    let vec = self.std(from, "Vec");
                    quote!(#vec<(#kt, #vt)>)
                }
            }
            Ty::Enum((fid, name)) | Ty::Struct((fid, name), _) => {
                self.path(from, *fid, names::type_ident(name))
            }
        }
    }
}

/// A doc attribute for each line of `text`. IDL comments are not Markdown: lines lose their
/// indentation (which Markdown would read as a code block, and rustdoc as a doctest), and
/// fences without a language are marked `text` for the same reason.
pub(crate) fn doc_attrs(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| {
        let line = line.trim();
        let line = if line.is_empty() {
            String::new()
        } else if line == "```" {
            " ```text".to_string()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #line])
    });
    quote!(#(#lines)*)
}

/// The IDL doc comment if there is one, otherwise `fallback`.
pub(crate) fn docs(doc: Option<&str>, fallback: &str) -> TokenStream {
    match doc {
        Some(d) if !d.trim().is_empty() => doc_attrs(d),
        _ => doc_attrs(fallback),
    }
}
