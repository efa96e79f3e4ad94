//! Handler stubs, for scaffolding (`rookery new`): for each service a project implements,
//! one method per IDL function with the signature of the generated trait, answering
//! `UNIMPLEMENTED` until someone writes it.
//!
//! The signatures are read back from the generated code itself (the trait that the server
//! requires of its handler), so a stub has exactly the types the generated trait declares,
//! by the same type mapping, and cannot drift from it. Only the paths change: generated code
//! names the runtime as `::rookery::codegen::X` and IDL types relative to its own module,
//! while a stub lives in the user's handler module and names them through imports:
//!
//! - `Context` and `Status` as `rookery::{Context, Status}`; other runtime types (`FastStr`,
//!   `Bytes`, `HashMap`, `HashSet`) from `rookery::codegen`, where generated code takes them;
//! - IDL types by their module: `echo::Pong` with `use crate::idl::echo;` (the module of
//!   `namespace rs a.b` is imported as `b`, or as `a_b` when two modules end alike);
//! - the standard library's `Result`, `Option`, `Vec`, `Box` by their prelude names.
//!
//! Each stub is an `async fn` (which implements the trait's
//! `fn ... -> impl Future<Output = ...> + Send`), its parameters prefixed with `_` so an
//! untouched stub compiles without warnings, and a body returning
//! `Err(Status::unimplemented("{Service}.{function} is not implemented yet"))`, converted
//! into the method's error type when the function declares exceptions.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proc_macro2::{Ident, Span};
use quote::{format_ident, quote};

use super::{FileId, GenError, Options, generate, names};
use crate::thrift::{
    ast::{Definition, Function, Requiredness, Service},
    resolve::Program,
};

/// How stubs name what they use.
#[derive(Clone, Debug)]
pub struct StubOptions {
    /// The path the handler reaches the generated modules by (`crate::idl`: the crate includes
    /// the generated mod file in a module `idl` at its root).
    pub idl_module: String,
}

impl Default for StubOptions {
    fn default() -> Self {
        StubOptions {
            idl_module: "crate::idl".to_string(),
        }
    }
}

/// A `use` a stub needs: `use {path};` or `use {path} as {name};`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Import {
    /// The path, as Rust (`rookery::Context`, `crate::idl::echo`).
    pub path: String,
    /// The name it binds in the handler module, without `r#` (`Context`, `echo`).
    pub name: String,
}

impl Import {
    fn new(path: String) -> Import {
        let last = path.rsplit("::").next().unwrap_or(&path);
        let name = last.strip_prefix("r#").unwrap_or(last).to_string();
        Import { path, name }
    }

    fn aliased(path: String, name: String) -> Import {
        Import { path, name }
    }

    /// Whether the path's last segment is the name it binds (no `as` needed).
    fn plain(&self) -> bool {
        let last = self.path.rsplit("::").next().unwrap_or(&self.path);
        last.strip_prefix("r#").unwrap_or(last) == self.name
    }
}

/// `use` items for `imports`, one per parent path, members in braces when there are several:
///
/// ```text
/// use rookery::codegen::FastStr;
/// use rookery::{Context, Status};
///
/// use crate::idl::echo;
/// ```
///
/// Paths of the crate (`crate::`, `self::`, `super::`) come last, after a blank line; lines
/// are sorted as rustfmt sorts them.
pub fn render_imports<'a>(imports: impl IntoIterator<Item = &'a Import>) -> String {
    let mut groups: BTreeMap<(bool, String), Vec<String>> = BTreeMap::new();
    for import in imports {
        let (parent, last) = match import.path.rsplit_once("::") {
            Some((parent, last)) => (parent.to_string(), last.to_string()),
            None => (String::new(), import.path.clone()),
        };
        let member = if import.plain() {
            last
        } else {
            format!("{last} as {}", import.name)
        };
        let local = ["crate", "self", "super"]
            .iter()
            .any(|p| parent == *p || parent.starts_with(&format!("{p}::")));
        let members = groups.entry((local, parent)).or_default();
        if !members.contains(&member) {
            members.push(member);
        }
    }
    // Lines sorted within each kind, as rustfmt sorts them.
    let mut lines: BTreeMap<bool, Vec<String>> = BTreeMap::new();
    for ((local, parent), mut members) in groups {
        members.sort();
        let prefix = if parent.is_empty() {
            String::new()
        } else {
            format!("{parent}::")
        };
        let line = if members.len() == 1 {
            format!("use {prefix}{};\n", members[0])
        } else {
            format!("use {prefix}{{{}}};\n", members.join(", "))
        };
        lines.entry(local).or_default().push(line);
    }
    let blocks: Vec<String> = lines
        .into_values()
        .map(|mut block| {
            block.sort();
            block.concat()
        })
        .collect();
    blocks.join("\n")
}

/// The stubs of one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStubs {
    /// Its IDL name.
    pub name: String,
    /// The Rust identifier of its trait (`Echo`), without `r#`.
    pub trait_ident: String,
    /// Its trait as the handler names it (`echo::Echo`).
    pub trait_path: String,
    /// Its server type as the handler's crate names it from the root (`idl::echo::EchoServer`
    /// with the default [`StubOptions`]).
    pub server_path: String,
    /// Whether it is a service of the root file (those are served; the others are here
    /// because a root service extends them).
    pub root: bool,
    /// One stub per function the service declares itself (not those it inherits: they belong
    /// to the service it extends, which has its own stubs).
    pub methods: Vec<MethodStub>,
    /// What the `impl` block's first line needs (the service's module).
    pub imports: BTreeSet<Import>,
}

impl ServiceStubs {
    /// The whole `impl` block: `impl echo::Echo for {self_ty} { stubs }`, not indented.
    pub fn impl_block(&self, self_ty: &str) -> String {
        let mut out = format!("impl {} for {self_ty} {{\n", self.trait_path);
        for (i, m) in self.methods.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&indent(&m.code, "    "));
        }
        out.push_str("}\n");
        out
    }

    /// Everything the block and its stubs need.
    pub fn all_imports(&self) -> BTreeSet<Import> {
        let mut all = self.imports.clone();
        for m in &self.methods {
            all.extend(m.imports.iter().cloned());
        }
        all
    }
}

/// The stub of one function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodStub {
    /// Its IDL name.
    pub name: String,
    /// The Rust name of the method, without `r#` (`echo`, `type`).
    pub ident: String,
    /// The method, not indented, with a doc line giving its IDL signature:
    ///
    /// ```text
    /// /// `string echo(1: string msg)`
    /// async fn echo(&self, _cx: &mut Context, _msg: FastStr) -> Result<FastStr, Status> {
    ///     Err(Status::unimplemented("Echo.echo is not implemented yet"))
    /// }
    /// ```
    pub code: String,
    /// The `use`s its code needs.
    pub imports: BTreeSet<Import>,
}

/// `text` with `prefix` before every line that is not empty.
pub fn indent(text: &str, prefix: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str(prefix);
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The stubs of every service of the root file of `program`, and of the services they extend
/// (base first), each service once.
///
/// # Errors
///
/// When the program cannot be generated (see [`generate`]).
pub fn stubs(program: &Program, options: &StubOptions) -> Result<Vec<ServiceStubs>, GenError> {
    let ids: Vec<FileId> = program.files().iter().map(|f| f.id).collect();
    let generated = generate(program, &ids, &Options::default())?;
    let idl_module: Vec<String> = options
        .idl_module
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();

    // The Rust module of each file, and what each module defines.
    let mut module_of: HashMap<FileId, Vec<String>> = HashMap::new();
    let mut defines: HashMap<Vec<String>, BTreeSet<String>> = HashMap::new();
    let mut traits: HashMap<(Vec<String>, String), syn::ItemTrait> = HashMap::new();
    for (id, file) in ids.iter().zip(&generated) {
        let module: Vec<String> = file
            .module
            .iter()
            .map(|m| names::ident(m).to_string())
            .collect();
        let parsed: syn::File = syn::parse_str(&file.code).map_err(|e| {
            GenError::new(format!(
                "generated code for {} does not parse ({e}); this is a bug in rookery-build",
                file.idl.display()
            ))
        })?;
        let names = defines.entry(module.clone()).or_default();
        for item in parsed.items {
            let ident = match &item {
                syn::Item::Struct(i) => &i.ident,
                syn::Item::Enum(i) => &i.ident,
                syn::Item::Type(i) => &i.ident,
                syn::Item::Union(i) => &i.ident,
                syn::Item::Trait(i) => &i.ident,
                _ => continue,
            };
            names.insert(ident.to_string());
            if let syn::Item::Trait(t) = item {
                traits.insert((module.clone(), t.ident.to_string()), t);
            }
        }
        module_of.insert(*id, module);
    }

    // Each module is imported by its last segment, unless two modules end alike.
    let mut ends: HashMap<String, BTreeSet<Vec<String>>> = HashMap::new();
    for module in module_of.values() {
        let last = module.last().cloned().unwrap_or_default();
        ends.entry(last).or_default().insert(module.clone());
    }
    let aliases: HashMap<Vec<String>, Import> = module_of
        .values()
        .map(|module| {
            let mut path = idl_module.clone();
            path.extend(module.iter().cloned());
            let path = path.join("::");
            let last = module.last().cloned().unwrap_or_default();
            let import = if ends[&last].len() == 1 {
                Import::new(path)
            } else {
                let joined: Vec<&str> = module
                    .iter()
                    .map(|m| m.strip_prefix("r#").unwrap_or(m))
                    .collect();
                Import::aliased(path, joined.join("_"))
            };
            (module.clone(), import)
        })
        .collect();

    // The services to implement: the root's, each after the services it extends.
    let root = program.root();
    let mut wanted: Vec<(FileId, &Service)> = Vec::new();
    for def in &program.file(root).document.definitions {
        if let Definition::Service(s) = def {
            for (fid, service) in program.service_chain(root, &s.name) {
                if !wanted
                    .iter()
                    .any(|(f, w)| *f == fid && w.name == service.name)
                {
                    wanted.push((fid, service));
                }
            }
        }
    }

    let mut out = Vec::new();
    for (fid, service) in wanted {
        let module = &module_of[&fid];
        let module_import = &aliases[module];
        let trait_ident = names::type_ident(&service.name).to_string();
        let Some(item) = traits.get(&(module.clone(), trait_ident.clone())) else {
            return Err(GenError::new(format!(
                "no trait {trait_ident} in the code generated for service {}; this is a bug \
                 in rookery-build",
                service.name
            )));
        };
        let mut methods = Vec::new();
        for function in &service.functions {
            let ident = names::field_ident(&function.name);
            let Some(sig) = item.items.iter().find_map(|i| match i {
                syn::TraitItem::Fn(f) if f.sig.ident == ident => Some(&f.sig),
                _ => None,
            }) else {
                return Err(GenError::new(format!(
                    "no method {ident} in the generated trait {trait_ident}; this is a bug in \
                     rookery-build"
                )));
            };
            let mut paths = Paths {
                module,
                defines: &defines,
                aliases: &aliases,
                imports: BTreeSet::new(),
                error: None,
            };
            let code = method_stub(service, function, sig, &mut paths)?;
            methods.push(MethodStub {
                name: function.name.clone(),
                ident: unraw(&ident),
                code,
                imports: paths.imports,
            });
        }
        let short = module_import.name.clone();
        let mut server = idl_module.clone();
        if server.first().is_some_and(|s| s == "crate") {
            server.remove(0);
        }
        server.extend(module.iter().cloned());
        server.push(format!("{trait_ident}Server"));
        out.push(ServiceStubs {
            name: service.name.clone(),
            trait_path: format!("{short}::{}", names::type_ident(&service.name)),
            trait_ident,
            server_path: server.join("::"),
            root: fid == root,
            methods,
            imports: BTreeSet::from([module_import.clone()]),
        });
    }
    Ok(out)
}

fn unraw(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}

/// The IDL signature of a function, as a doc line shows it.
fn idl_signature(f: &Function) -> String {
    let field = |a: &crate::thrift::ast::Field| {
        let req = match a.requiredness {
            Requiredness::Required => "required ",
            Requiredness::Optional => "optional ",
            Requiredness::Default => "",
        };
        format!("{}: {req}{} {}", a.id, a.ty, a.name)
    };
    let args: Vec<String> = f.args.iter().map(field).collect();
    let ret = f
        .returns
        .as_ref()
        .map_or("void".to_string(), |t| t.to_string());
    let oneway = if f.oneway { "oneway " } else { "" };
    let throws = if f.throws.is_empty() {
        String::new()
    } else {
        let t: Vec<String> = f.throws.iter().map(field).collect();
        format!(" throws ({})", t.join(", "))
    };
    format!("{oneway}{ret} {}({}){throws}", f.name, args.join(", "))
}

fn method_stub(
    service: &Service,
    function: &Function,
    sig: &syn::Signature,
    paths: &mut Paths<'_>,
) -> Result<String, GenError> {
    let bug = |what: &str| {
        GenError::new(format!(
            "the generated method {} {what}; this is a bug in rookery-build",
            sig.ident
        ))
    };
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(_) => {}
            syn::FnArg::Typed(pt) => {
                let syn::Pat::Ident(pi) = &*pt.pat else {
                    return Err(bug("has a parameter that is not a name"));
                };
                let name = format_ident!("_{}", unraw(&pi.ident));
                let mut ty: syn::Type = dup(&*pt.ty);
                paths.rewrite_type(&mut ty);
                params.push(quote!(#name: #ty));
            }
        }
    }
    let output = future_output(&sig.output).ok_or_else(|| bug("does not return a future"))?;
    let mut output: syn::Type = dup(output);
    paths.rewrite_type(&mut output);
    if let Some(e) = paths.error.take() {
        return Err(bug(&e));
    }
    let status = paths.use_path("rookery::Status");
    let message = format!("{}.{} is not implemented yet", service.name, function.name);
    let error = if function.throws.is_empty() {
        quote!(#status::unimplemented(#message))
    } else {
        quote!(#status::unimplemented(#message).into())
    };
    let doc = format!(" `{}`", idl_signature(function));
    let ident = &sig.ident;
    let item = quote! {
        impl Stub for Handler {
            #[doc = #doc]
            async fn #ident(&self #(, #params)*) -> #output {
                Err(#error)
            }
        }
    };
    let file: syn::File =
        syn::parse2(item).map_err(|e| bug(&format!("gives a stub that does not parse ({e})")))?;
    let text = prettyplease::unparse(&file);
    // The method is what prettyplease printed between the `impl` line and its closing brace,
    // one level in.
    let lines: Vec<&str> = text.lines().collect();
    let body = lines
        .get(1..lines.len().saturating_sub(1))
        .ok_or_else(|| bug("gives an empty stub"))?;
    let mut code = String::new();
    for line in body {
        code.push_str(line.strip_prefix("    ").unwrap_or(line));
        code.push('\n');
    }
    Ok(code)
}

/// A copy of a syntax node (this build of `syn` has no `Clone` impls).
fn dup<T: quote::ToTokens + syn::parse::Parse>(node: &T) -> T {
    syn::parse2(node.to_token_stream()).expect("a syntax node parses back")
}

/// `T` of `impl Future<Output = T> + Send`.
fn future_output(output: &syn::ReturnType) -> Option<&syn::Type> {
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    let syn::Type::ImplTrait(it) = &**ty else {
        return None;
    };
    it.bounds.iter().find_map(|b| {
        let syn::TypeParamBound::Trait(t) = b else {
            return None;
        };
        let last = t.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|a| match a {
            syn::GenericArgument::AssocType(at) if at.ident == "Output" => Some(&at.ty),
            _ => None,
        })
    })
}

/// Rewrites the paths of generated code, as seen from the module of a service, into paths of
/// the handler module, and notes the imports they need.
struct Paths<'a> {
    module: &'a [String],
    defines: &'a HashMap<Vec<String>, BTreeSet<String>>,
    aliases: &'a HashMap<Vec<String>, Import>,
    imports: BTreeSet<Import>,
    error: Option<String>,
}

/// Where the runtime items a stub may name are imported from.
fn runtime_import(name: &str) -> String {
    match name {
        "Context" | "Status" => format!("rookery::{name}"),
        other => format!("rookery::codegen::{other}"),
    }
}

impl Paths<'_> {
    /// Imports `path` and gives the name it binds, as a token.
    fn use_path(&mut self, path: &str) -> Ident {
        let import = Import::new(path.to_string());
        let ident = Ident::new(&import.name, Span::call_site());
        self.imports.insert(import);
        ident
    }

    fn module_path(&mut self, module: &[String], item: &syn::PathSegment) -> Option<syn::Path> {
        let import = self.aliases.get(module)?.clone();
        let alias = syn::parse_str::<Ident>(&import.name)
            .unwrap_or_else(|_| Ident::new_raw(&import.name, Span::call_site()));
        self.imports.insert(import);
        let mut path: syn::Path = syn::parse_quote!(#alias::X);
        path.segments[1] = dup(item);
        Some(path)
    }
}

impl Paths<'_> {
    /// Rewrites `ty` and every type inside it.
    fn rewrite_type(&mut self, ty: &mut syn::Type) {
        match ty {
            syn::Type::Path(tp) => self.rewrite_path(tp),
            syn::Type::Reference(r) => self.rewrite_type(&mut r.elem),
            syn::Type::Ptr(p) => self.rewrite_type(&mut p.elem),
            syn::Type::Array(a) => self.rewrite_type(&mut a.elem),
            syn::Type::Slice(s) => self.rewrite_type(&mut s.elem),
            syn::Type::Paren(p) => self.rewrite_type(&mut p.elem),
            syn::Type::Group(g) => self.rewrite_type(&mut g.elem),
            syn::Type::Tuple(t) => t.elems.iter_mut().for_each(|e| self.rewrite_type(e)),
            _ => {}
        }
    }

    fn rewrite_path(&mut self, tp: &mut syn::TypePath) {
        if tp.qself.is_none() {
            let segments: Vec<String> = tp
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            let last: Option<syn::PathSegment> = tp.path.segments.last().map(dup);
            if let Some(last) = last {
                let n = segments.len();
                let name = last.ident.to_string();
                if tp.path.leading_colon.is_some() {
                    if segments.len() == 3 && segments[0] == "rookery" && segments[1] == "codegen" {
                        let ident = self.use_path(&runtime_import(&name));
                        let mut seg: syn::PathSegment = dup(&last);
                        seg.ident = ident;
                        tp.path = seg.into();
                    } else if segments[0] == "std"
                        && ["Result", "Option", "Vec", "Box", "String"].contains(&name.as_str())
                    {
                        tp.path = dup::<syn::PathSegment>(&last).into();
                    }
                } else {
                    let mut target: Option<Vec<String>> = None;
                    if n == 1 {
                        if self
                            .defines
                            .get(self.module)
                            .is_some_and(|d| d.contains(&name))
                        {
                            target = Some(self.module.to_vec());
                        }
                    } else {
                        let mut module = self.module.to_vec();
                        let mut rest = &segments[..n - 1];
                        while rest.first().is_some_and(|s| s == "super") {
                            module.pop();
                            rest = &rest[1..];
                        }
                        module.extend(rest.iter().cloned());
                        target = Some(module);
                    }
                    if let Some(module) = target {
                        match self.module_path(&module, &last) {
                            Some(path) => tp.path = path,
                            None => {
                                self.error = Some(format!(
                                    "{} names no generated module",
                                    segments.join("::")
                                ))
                            }
                        }
                    }
                }
            }
        }
        for segment in &mut tp.path.segments {
            if let syn::PathArguments::AngleBracketed(args) = &mut segment.arguments {
                for arg in &mut args.args {
                    if let syn::GenericArgument::Type(t) = arg {
                        self.rewrite_type(t);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_grouped() {
        let imports = [
            Import::new("rookery::Status".into()),
            Import::new("rookery::Context".into()),
            Import::new("rookery::codegen::FastStr".into()),
            Import::new("crate::idl::echo".into()),
            Import::aliased("crate::idl::a::shared".into(), "a_shared".into()),
        ];
        assert_eq!(
            render_imports(&imports),
            "use rookery::codegen::FastStr;\nuse rookery::{Context, Status};\n\n\
             use crate::idl::a::shared as a_shared;\nuse crate::idl::echo;\n"
        );
    }

    fn load(files: &[(&str, &str)]) -> (tempfile::TempDir, Program) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let program = Program::load(dir.path().join(files[0].0), &[]).unwrap();
        (dir, program)
    }

    #[test]
    fn stubs_have_the_trait_signatures_in_handler_paths() {
        let (_dir, program) = load(&[
            (
                "bank.thrift",
                r#"
                include "shared.thrift"
                namespace rs fixtures.bank
                exception Frozen { 1: string reason }
                struct Account { 1: string owner }
                typedef map<string, Account> Accounts
                service Bank extends shared.Base {
                    Account get(1: string owner) throws (1: Frozen frozen),
                    oneway void audit(1: binary note),
                    Accounts all(1: optional shared.Level level, 2: set<i32> codes, 3: uuid type, 4: shared.Choice choice),
                    list<shared.Point> path(1: string cx),
                }
                service Branch extends Bank { i32 staff() }
                "#,
            ),
            (
                "shared.thrift",
                "enum Level { LOW, HIGH }\nstruct Point { 1: double x }\nunion Choice { 1: i32 a, 2: string b }\n\
                 service Base { void ping() }\nservice Unused { void nothing() }\n",
            ),
        ]);
        let stubs = stubs(&program, &StubOptions::default()).unwrap();
        let names: Vec<(&str, bool)> = stubs.iter().map(|s| (s.name.as_str(), s.root)).collect();
        assert_eq!(names, [("Base", false), ("Bank", true), ("Branch", true)]);
        let bank = &stubs[1];
        assert_eq!(bank.trait_path, "bank::Bank");
        assert_eq!(bank.server_path, "idl::fixtures::bank::BankServer");
        let code: Vec<&str> = bank.methods.iter().map(|m| m.code.as_str()).collect();
        assert_eq!(
            code[0],
            "/// `Account get(1: string owner) throws (1: Frozen frozen)`\n\
             async fn get(\n    &self,\n    _cx: &mut Context,\n    _owner: FastStr,\n\
             ) -> Result<bank::Account, bank::GetError> {\n\
             \x20   Err(Status::unimplemented(\"Bank.get is not implemented yet\").into())\n}\n"
        );
        assert!(
            code[1].contains(
                "async fn audit(&self, _cx: &mut Context, _note: Bytes) -> Result<(), Status>"
            ),
            "{}",
            code[1]
        );
        assert!(code[2].contains("_level: shared::Level,"), "{}", code[2]);
        assert!(code[2].contains("_codes: HashSet<i32>"), "{}", code[2]);
        assert!(code[2].contains("_type: [u8; 16]"), "{}", code[2]);
        assert!(
            code[2].contains("Result<bank::Accounts, Status>"),
            "{}",
            code[2]
        );
        assert!(code[3].contains("_cx_: FastStr"), "{}", code[3]);
        assert!(
            code[3].contains("Result<Vec<shared::Point>, Status>"),
            "{}",
            code[3]
        );
        let imports = render_imports(&bank.all_imports());
        assert_eq!(
            imports,
            "use rookery::codegen::{Bytes, FastStr, HashSet};\nuse rookery::{Context, Status};\n\n\
             use crate::idl::fixtures::bank;\nuse crate::idl::shared;\n"
        );
        assert!(
            stubs[0]
                .impl_block("Handler")
                .starts_with("impl shared::Base for Handler {\n    /// `void ping()`\n")
        );
    }
}
