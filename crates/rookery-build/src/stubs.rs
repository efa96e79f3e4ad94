//! Handler stubs, for scaffolding (`rookery new`): what the Thrift and the Protobuf stub
//! generators ([`thrift::gen::stubs`](crate::thrift::gen::stubs),
//! [`protobuf::stubs`](crate::protobuf::stubs)) both give, so that one piece of code writes
//! a handler module from either IDL.
//!
//! A stub is an `async fn` with exactly the signature of a method of the generated handler
//! trait, read back from the generated code itself, and a body answering
//! `Err(Status::unimplemented("{Service}.{method} is not implemented yet"))`. Its types are
//! written as a handler module names them, with the `use`s that need ([`Import`],
//! [`render_imports`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use proc_macro2::{Ident, Span};
use quote::{format_ident, quote};

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

impl StubOptions {
    /// The segments of [`idl_module`](Self::idl_module).
    pub(crate) fn idl_segments(&self) -> Vec<String> {
        self.idl_module
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
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
    pub(crate) fn new(path: String) -> Import {
        let last = path.rsplit("::").next().unwrap_or(&path);
        let name = last.strip_prefix("r#").unwrap_or(last).to_string();
        Import { path, name }
    }

    pub(crate) fn aliased(path: String, name: String) -> Import {
        Import { path, name }
    }

    /// Whether the path's last segment is the name it binds (no `as` needed).
    fn plain(&self) -> bool {
        let last = self.path.rsplit("::").next().unwrap_or(&self.path);
        last.strip_prefix("r#").unwrap_or(last) == self.name
    }

    /// Whether the path is a keyword that names a module without a `use` (`crate`, when the
    /// generated modules are at the crate's root).
    fn needs_no_use(&self) -> bool {
        ["crate", "self", "super"].contains(&self.path.as_str())
    }

    /// How the handler names what it imports (`echo`, `r#type`, `crate`).
    pub(crate) fn prefix(&self) -> String {
        self.ident().to_string()
    }

    /// Itself, unless it [needs no `use`](Self::needs_no_use).
    pub(crate) fn if_needed(&self) -> BTreeSet<Import> {
        if self.needs_no_use() {
            BTreeSet::new()
        } else {
            BTreeSet::from([self.clone()])
        }
    }

    /// The identifier it binds.
    fn ident(&self) -> Ident {
        if self.needs_no_use() {
            return Ident::new(&self.path, Span::call_site());
        }
        syn::parse_str::<Ident>(&self.name)
            .unwrap_or_else(|_| Ident::new_raw(&self.name, Span::call_site()))
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
    // Lines sorted within each kind, as rustfmt sorts them: by path, segment by segment, a
    // path before those it is the start of, braces last.
    let mut lines: BTreeMap<bool, Vec<(SortKey, String)>> = BTreeMap::new();
    for ((local, parent), mut members) in groups {
        members.sort_by(|a, b| version_cmp(a, b));
        let prefix = if parent.is_empty() {
            String::new()
        } else {
            format!("{parent}::")
        };
        let mut key: SortKey = parent
            .split("::")
            .filter(|s| !s.is_empty())
            .map(|s| Some(s.to_string()))
            .collect();
        let line = if members.len() == 1 {
            let name = members[0].split(" as ").next().unwrap_or_default();
            key.push(Some(name.to_string()));
            format!("use {prefix}{};\n", members[0])
        } else {
            key.push(None);
            format!("use {prefix}{{{}}};\n", members.join(", "))
        };
        lines.entry(local).or_default().push((key, line));
    }
    let blocks: Vec<String> = lines
        .into_values()
        .map(|mut block| {
            block.sort_by(|(a, _), (b, _)| {
                let segments = a.iter().zip(b).map(|pair| match pair {
                    (Some(a), Some(b)) => version_cmp(a, b),
                    (a, b) => a.is_none().cmp(&b.is_none()),
                });
                segments
                    .into_iter()
                    .find(|o| o.is_ne())
                    .unwrap_or(a.len().cmp(&b.len()))
            });
            block.into_iter().map(|(_, line)| line).collect()
        })
        .collect();
    blocks.join("\n")
}

/// Where a `use` line goes: the segments of its path, `None` for braces.
type SortKey = Vec<Option<String>>;

/// rustfmt's order of names in `use` items (its "version sort"): `_` before anything,
/// numbers by their value, otherwise by character (so capitals first).
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut digits = String::new();
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        digits.push(d);
                    }
                    let value = digits.trim_start_matches('0').to_string();
                    (value.len(), value)
                };
                let order = number(&mut a).cmp(&number(&mut b));
                if order.is_ne() {
                    return order;
                }
            }
            (Some(x), Some(y)) => {
                let rank = |c: char| if c == '_' { 0 } else { u32::from(c) + 1 };
                let order = rank(x).cmp(&rank(y));
                if order.is_ne() {
                    return order;
                }
                a.next();
                b.next();
            }
        }
    }
}

/// The stubs of one service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceStubs {
    /// Its IDL name (`Echo`, without a Protobuf package).
    pub name: String,
    /// The Rust identifier of its trait (`Echo`), without `r#`.
    pub trait_ident: String,
    /// Its trait as the handler names it (`echo::Echo`).
    pub trait_path: String,
    /// Its server type as the handler's crate names it from the root (`idl::echo::EchoServer`
    /// with the default [`StubOptions`]). `{server_path}::new(handler)` serves a handler.
    pub server_path: String,
    /// Its typed client as the handler's crate names it from the root
    /// (`idl::echo::EchoClient`). `{client_path}::new(inner)` calls through `inner`.
    pub client_path: String,
    /// Whether it is a service of a root file (those are served; the others are here
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
    /// Its IDL name (`echo`; `SayHello` for a Protobuf `rpc SayHello`).
    pub name: String,
    /// The Rust name of the method, without `r#` (`echo`, `type`, `say_hello`).
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

// What both generators share to make stubs: reading generated code back, naming its modules
// from the handler, rewriting its paths, printing a stub.

/// What one generated module defines, read back from its code.
#[derive(Default)]
pub(crate) struct ModuleItems {
    /// The names of its types and traits.
    pub(crate) defines: BTreeSet<String>,
    /// Its traits, by name.
    pub(crate) traits: HashMap<String, syn::ItemTrait>,
}

impl ModuleItems {
    /// Adds the types and traits of `code` (a generated file).
    pub(crate) fn read(&mut self, code: &str) -> Result<(), syn::Error> {
        let parsed: syn::File = syn::parse_str(code)?;
        for item in parsed.items {
            let ident = match &item {
                syn::Item::Struct(i) => &i.ident,
                syn::Item::Enum(i) => &i.ident,
                syn::Item::Type(i) => &i.ident,
                syn::Item::Union(i) => &i.ident,
                syn::Item::Trait(i) => &i.ident,
                _ => continue,
            };
            self.defines.insert(ident.to_string());
            if let syn::Item::Trait(t) = item {
                self.traits.insert(t.ident.to_string(), t);
            }
        }
        Ok(())
    }

    /// The signature of method `ident` (as Rust writes it, `r#type`) of trait `trait_ident`.
    pub(crate) fn method(&self, trait_ident: &str, ident: &str) -> Option<&syn::Signature> {
        self.traits
            .get(trait_ident)?
            .items
            .iter()
            .find_map(|i| match i {
                syn::TraitItem::Fn(f) if f.sig.ident == ident => Some(&f.sig),
                _ => None,
            })
    }
}

/// Names a stub's own imports may not take: the crate the handler names the runtime by, the
/// module it takes well-known types from, and what the standard library names.
const RESERVED: &[&str] = &["rookery", "wkt", "std", "core", "alloc"];

/// How the handler imports each generated module (a module is its segments under the IDL
/// module): by its last segment (`use crate::idl::fixtures::echo;`), or by its segments
/// joined with `_` when two modules end alike or the last segment is reserved
/// (`use crate::idl::a::shared as a_shared;`).
pub(crate) fn module_imports(
    idl_module: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> HashMap<Vec<String>, Import> {
    let unraw = |s: &String| s.strip_prefix("r#").unwrap_or(s).to_string();
    let full = |module: &Vec<String>| -> Vec<String> {
        idl_module.iter().chain(module).cloned().collect()
    };
    let natural = |module: &Vec<String>| full(module).last().map(unraw).unwrap_or_default();
    let mut count: HashMap<String, usize> = HashMap::new();
    for module in modules {
        *count.entry(natural(module)).or_default() += 1;
    }
    // Names of their own first, so that a joined name never displaces one.
    let own = |module: &Vec<String>| {
        let name = natural(module);
        count[&name] == 1 && !RESERVED.contains(&name.as_str())
    };
    let mut taken: BTreeSet<String> = modules.iter().filter(|m| own(m)).map(&natural).collect();
    let mut out = HashMap::new();
    for module in modules {
        let path = full(module).join("::");
        if own(module) {
            out.insert(module.clone(), Import::new(path));
            continue;
        }
        let base = if module.is_empty() {
            format!("{}_", natural(module))
        } else {
            let joined: Vec<String> = module.iter().map(unraw).collect();
            joined.join("_")
        };
        // Joined names may still meet another module's (`a.b_c` and `a_b.c`).
        let mut name = base.clone();
        let mut n = 1;
        while !taken.insert(name.clone()) {
            n += 1;
            name = format!("{base}_{n}");
        }
        out.insert(module.clone(), Import::aliased(path, name));
    }
    out
}

/// `{item}` of generated module `module` as the handler's crate names it from its root:
/// `idl::echo::EchoServer` (the IDL module without `crate::`).
pub(crate) fn root_path(idl_module: &[String], module: &[String], item: &str) -> String {
    let mut path: Vec<String> = idl_module.to_vec();
    if path.first().is_some_and(|s| s == "crate") {
        path.remove(0);
    }
    path.extend(module.iter().cloned());
    path.push(item.to_string());
    path.join("::")
}

/// `ident` without `r#`.
pub(crate) fn unraw(ident: &str) -> String {
    ident.strip_prefix("r#").unwrap_or(ident).to_string()
}

/// What a runtime path of generated code (`::rookery::codegen::…`) becomes in a handler:
/// `use {path};`, and the name that binds followed by the last `keep` segments of the
/// generated path (`wkt::Timestamp` for `rookery::codec::protobuf::wkt` and `keep: 1`).
pub(crate) struct Rename {
    /// The path to import.
    pub(crate) path: String,
    /// How many of the generated path's last segments follow the bound name.
    pub(crate) keep: usize,
}

/// Rewrites the paths of generated code, as seen from the module of a service, into paths of
/// the handler module, and notes the imports they need.
pub(crate) struct Paths<'a> {
    /// The generated module of the service.
    pub(crate) module: &'a [String],
    /// What each generated module defines.
    pub(crate) items: &'a HashMap<Vec<String>, ModuleItems>,
    /// How the handler imports each generated module.
    pub(crate) modules: &'a HashMap<Vec<String>, Import>,
    /// What runtime paths become.
    pub(crate) runtime: fn(&[String]) -> Option<Rename>,
    /// The imports the paths rewritten so far need.
    pub(crate) imports: BTreeSet<Import>,
    /// A path that could not be rewritten.
    pub(crate) error: Option<String>,
}

/// Standard library types a stub names by their prelude names.
const PRELUDE: &[&str] = &["Result", "Option", "Vec", "Box", "String"];

impl Paths<'_> {
    /// Imports `path` and gives the name it binds, as a token.
    pub(crate) fn use_path(&mut self, path: &str) -> Ident {
        let import = Import::new(path.to_string());
        let ident = import.ident();
        self.imports.insert(import);
        ident
    }

    /// `item` (the last segment, with its generic arguments) of generated module `module`, as
    /// the handler names it: through the import of the innermost generated module that holds
    /// `module` (a nested message's module is inside its package's).
    fn module_path(&mut self, module: &[String], item: &syn::PathSegment) -> Option<syn::Path> {
        let (depth, import) = (0..=module.len())
            .rev()
            .find_map(|n| Some((n, self.modules.get(&module[..n])?.clone())))?;
        let alias = import.ident();
        if !import.needs_no_use() {
            self.imports.insert(import);
        }
        let mut path: syn::Path = syn::parse_quote!(#alias);
        for segment in &module[depth..] {
            let ident = syn::parse_str::<Ident>(segment).ok()?;
            path.segments.push(syn::parse_quote!(#ident));
        }
        path.segments.push(dup(item));
        Some(path)
    }

    /// Rewrites `ty` and every type inside it.
    pub(crate) fn rewrite_type(&mut self, ty: &mut syn::Type) {
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
            if let Some(path) = self.handler_path(&tp.path) {
                tp.path = path;
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

    /// The handler's path for a path of generated code, when it differs.
    fn handler_path(&mut self, path: &syn::Path) -> Option<syn::Path> {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let last: syn::PathSegment = path.segments.last().map(dup)?;
        let name = last.ident.to_string();
        let n = segments.len();
        if path.leading_colon.is_some() {
            if ["std", "core", "alloc"].contains(&segments[0].as_str())
                && PRELUDE.contains(&name.as_str())
            {
                return Some(last.into());
            }
            let Rename { path: import, keep } = (self.runtime)(&segments)?;
            let ident = self.use_path(&import);
            let mut out: syn::Path = syn::parse_quote!(#ident);
            for segment in path.segments.iter().skip(n - keep.min(n - 1)) {
                out.segments.push(dup(segment));
            }
            if keep == 0 {
                out.segments[0].arguments = last.arguments;
            }
            return Some(out);
        }
        let module = if n == 1 {
            // A name of the service's own module, or a prelude type (`Result`, `Send`).
            let own = self.items.get(self.module)?;
            if !own.defines.contains(&name) {
                return None;
            }
            self.module.to_vec()
        } else {
            let mut module = self.module.to_vec();
            let mut rest = &segments[..n - 1];
            while rest.first().is_some_and(|s| s == "super") {
                module.pop();
                rest = &rest[1..];
            }
            module.extend(rest.iter().cloned());
            module
        };
        let out = self.module_path(&module, &last);
        if out.is_none() {
            self.error = Some(format!("{} names no generated module", segments.join("::")));
        }
        out
    }
}

/// A stub for the generated trait method `sig`: an `async fn` with its parameters (each
/// prefixed with `_`) and output in the handler's paths, a doc line `doc`, answering
/// `Err(Status::unimplemented(message))` (`.into()` the method's error when `into`), printed
/// by prettyplease and not indented.
///
/// # Errors
///
/// What is wrong with `sig` (not a method returning a future, a path to no generated
/// module), to be reported as a bug of the generator.
pub(crate) fn method_stub(
    sig: &syn::Signature,
    doc: &str,
    message: &str,
    into: bool,
    paths: &mut Paths<'_>,
) -> Result<String, String> {
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(_) => {}
            syn::FnArg::Typed(pt) => {
                let syn::Pat::Ident(pi) = &*pt.pat else {
                    return Err("has a parameter that is not a name".to_string());
                };
                let name = format_ident!("_{}", unraw(&pi.ident.to_string()));
                let mut ty: syn::Type = dup(&*pt.ty);
                paths.rewrite_type(&mut ty);
                params.push(quote!(#name: #ty));
            }
        }
    }
    let output = future_output(&sig.output).ok_or("does not return a future")?;
    let mut output: syn::Type = dup(output);
    paths.rewrite_type(&mut output);
    if let Some(e) = paths.error.take() {
        return Err(e);
    }
    let status = paths.use_path("rookery::Status");
    let doc = format!(" {doc}");
    let ident = &sig.ident;
    let item = quote! {
        impl Stub for Handler {
            #[doc = #doc]
            async fn #ident(&self #(, #params)*) -> #output {}
        }
    };
    let file: syn::File =
        syn::parse2(item).map_err(|e| format!("gives a stub that does not parse ({e})"))?;
    let text = prettyplease::unparse(&file);
    // The doc and signature are what prettyplease printed between the `impl` line and the
    // empty body, one level in.
    let lines: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.strip_prefix("    ").unwrap_or(l))
        .collect();
    let end = lines
        .iter()
        .position(|l| l.ends_with("{}"))
        .ok_or("gives a stub without a body")?;
    let mut code = String::new();
    for line in signature(&lines[..=end]) {
        code.push_str(&line);
        code.push('\n');
    }
    code.push_str(&body(&status.to_string(), message, into));
    code.push_str("}\n");
    Ok(code)
}

/// The widest line rustfmt writes, by default.
const MAX_WIDTH: usize = 100;

/// How far in a stub is, in its `impl` block.
const IMPL_INDENT: usize = 4;

/// The doc and signature lines prettyplease printed for a stub (the last one ending with an
/// empty body `{}`), as rustfmt lays them out: prettyplease breaks lines wider than 89
/// characters, rustfmt only those wider than 100, so a signature prettyplease gave one
/// line per parameter is joined when it fits. The last line opens the body.
fn signature(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    if let Some(last) = out.last_mut() {
        last.truncate(last.len() - 1);
    }
    let Some(open) = out.iter().position(|l| l.starts_with("async fn ")) else {
        return out;
    };
    if !out[open].ends_with('(') {
        return out;
    }
    let params = &out[open + 1..out.len() - 1];
    let close = &out[out.len() - 1];
    // Only a parameter per line can be joined (not a type prettyplease broke over lines).
    if !close.starts_with(") ")
        || !params
            .iter()
            .all(|p| p.starts_with("    ") && p.ends_with(','))
    {
        return out;
    }
    let params: Vec<&str> = params
        .iter()
        .map(|p| p.trim().trim_end_matches(','))
        .collect();
    let joined = format!("{}{}{}", out[open], params.join(", "), close);
    if IMPL_INDENT + joined.len() > MAX_WIDTH {
        return out;
    }
    out.truncate(open);
    out.push(joined);
    out
}

/// The body of a stub, `Err(Status::unimplemented("…"))` (`.into()` the error when `into`),
/// laid out as rustfmt lays it out at the stub's depth.
fn body(status: &str, message: &str, into: bool) -> String {
    let literal = format!("{message:?}");
    let call = format!("{status}::unimplemented({literal})");
    let width = |indent: usize, text: &str| IMPL_INDENT + indent + text.chars().count();
    if !into {
        // `Err`'s argument on one line when it is no wider than rustfmt's `fn_call_width`.
        if call.chars().count() <= 60 && width(4, &format!("Err({call})")) <= MAX_WIDTH {
            return format!("    Err({call})\n");
        }
        return format!("    Err({status}::unimplemented(\n        {literal},\n    ))\n");
    }
    let line = format!("Err({call}.into())");
    if width(4, &line) <= MAX_WIDTH {
        format!("    {line}\n")
    } else if width(8, &call) <= MAX_WIDTH {
        format!("    Err(\n        {call}\n            .into(),\n    )\n")
    } else if width(8, &format!("{literal},")) <= MAX_WIDTH {
        format!("    Err({status}::unimplemented(\n        {literal},\n    )\n    .into())\n")
    } else {
        // Wider than any layout: rustfmt leaves it as written.
        format!("    {line}\n")
    }
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

/// Asserts that rustfmt leaves `text` (a whole file) as it is; says so and passes when no
/// rustfmt can be run.
#[cfg(test)]
pub(crate) fn assert_rustfmt_keeps(text: &str) {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    let child = Command::new(std::env::var_os("RUSTFMT").unwrap_or("rustfmt".into()))
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("no rustfmt to run: the layout of stubs is not checked");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "rustfmt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let formatted = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text, formatted, "rustfmt lays the stubs out otherwise");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_laid_out_as_rustfmt_lays_them_out() {
        let mut file = String::from("impl Stub for Handler {\n");
        for n in [10, 35, 36, 37, 38, 60, 70, 80, 90, 120] {
            for into in [false, true] {
                let message = "x".repeat(n);
                file.push_str(&format!("    async fn f{n}_{into}(&self) -> R {{\n"));
                file.push_str(&indent(&body("Status", &message, into), "    "));
                file.push_str("    }\n");
            }
        }
        file.push_str("}\n");
        assert_rustfmt_keeps(&file);
        assert!(file.contains("    async fn f10_false(&self) -> R {\n        Err(Status::unimplemented(\"xxxxxxxxxx\"))\n"));
    }

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

    #[test]
    fn imports_are_sorted_as_rustfmt_sorts_them() {
        let imports: Vec<Import> = [
            "crate::idl::ab",
            "crate::idl::a_b",
            "crate::idl::a10",
            "crate::idl::a2",
            "crate::idl",
            "crate::idl::a::b",
            "crate::idl::x::y",
            "crate::idl::x::z",
            "crate::idl::q::r#type",
            "crate::idl::q::A",
            "crate::idl::q::a_b",
            "crate::idl::q::a10",
            "crate::idl::q::a9",
            "crate::idl::r#type",
            "rookery::codec::protobuf::wkt",
            "rookery::Context",
            "rookery::Status",
            "rookery::codec::protobuf::rpc::BoxStream",
            "rookery::codec::protobuf::rpc::Streaming",
        ]
        .into_iter()
        .map(|p| Import::new(p.to_string()))
        .collect();
        let text = render_imports(&imports);
        assert_eq!(
            text,
            "use rookery::codec::protobuf::rpc::{BoxStream, Streaming};\n\
             use rookery::codec::protobuf::wkt;\n\
             use rookery::{Context, Status};\n\
             \n\
             use crate::idl;\n\
             use crate::idl::a::b;\n\
             use crate::idl::q::{A, a_b, a9, a10, r#type};\n\
             use crate::idl::x::{y, z};\n\
             use crate::idl::{a_b, a2, a10, ab, r#type};\n"
        );
        assert_rustfmt_keeps(&text);
    }

    #[test]
    fn modules_are_imported_by_a_name_of_their_own() {
        let idl = vec!["crate".to_string(), "idl".to_string()];
        let modules: BTreeSet<Vec<String>> = [
            vec![],
            vec!["echo"],
            vec!["a", "shared"],
            vec!["b", "shared"],
            vec!["x", "rookery"],
            vec!["a_shared"],
            vec!["c", "shared"],
            vec!["c_shared"],
            vec!["idl"],
        ]
        .into_iter()
        .map(|m| m.into_iter().map(str::to_string).collect())
        .collect();
        let imports = module_imports(&idl, &modules);
        let name = |m: &[&str]| {
            let key: Vec<String> = m.iter().map(|s| s.to_string()).collect();
            let i = &imports[&key];
            format!("{} as {}", i.path, i.name)
        };
        assert_eq!(name(&["echo"]), "crate::idl::echo as echo");
        assert_eq!(
            name(&["a", "shared"]),
            "crate::idl::a::shared as a_shared_2"
        );
        assert_eq!(name(&["b", "shared"]), "crate::idl::b::shared as b_shared");
        assert_eq!(
            name(&["x", "rookery"]),
            "crate::idl::x::rookery as x_rookery"
        );
        assert_eq!(name(&["a_shared"]), "crate::idl::a_shared as a_shared");
        assert_eq!(
            name(&["c", "shared"]),
            "crate::idl::c::shared as c_shared_2"
        );
        assert_eq!(name(&["c_shared"]), "crate::idl::c_shared as c_shared");
        assert_eq!(name(&["idl"]), "crate::idl::idl as idl");
        assert_eq!(name(&[]), "crate::idl as idl_");
        // At the crate's root, the root module needs no `use`.
        let root = module_imports(&["crate".to_string()], &[vec![]].into());
        assert!(root[&Vec::new()].needs_no_use());
    }
}
