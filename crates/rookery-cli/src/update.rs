//! `rookery update`: stubs for what the IDL gained, inserted into the handler's text.
//!
//! The handler is parsed (with byte positions) only to find where things are: the `impl`
//! blocks of `Handler`, the methods in each, the names the `use` items bind. New stubs are
//! inserted before the closing brace of their service's block, blocks for new services are
//! appended, missing `use` lines go after the last `use`; every byte already in the file stays
//! as it was. Functions the IDL lost and signatures it changed are left to the person (the
//! compiler names each place).

use std::{collections::BTreeSet, fmt::Write as _, path::Path};

use rookery_build::stubs::{Import, ServiceStubs, indent, render_imports};
use syn::spanned::Spanned;

use crate::{
    project::{Error, Project},
    rustfmt, templates,
};

/// The handler's type, as `rookery new` writes it.
const HANDLER: &str = "Handler";

/// Updates the project in `dir` and returns what to tell the user.
pub(crate) fn update(dir: &Path) -> Result<String, Error> {
    let project = Project::open(dir)?;
    let services = project.stubs()?;

    let handler_path = dir.join("src/handler.rs");
    let handler = std::fs::read_to_string(&handler_path)
        .map_err(|e| format!("reading {}: {e}", handler_path.display()))?;
    let (updated, added) =
        add_stubs(&handler, &services).map_err(|e| format!("{}: {e}", handler_path.display()))?;

    let services_path = dir.join("src/services.rs");
    let routed = rustfmt::file(&templates::services_rs(
        project.idl()?,
        &project.metadata.idl,
        &services,
    ));
    let old_routed = std::fs::read_to_string(&services_path).unwrap_or_default();

    let mut report = String::new();
    if updated != handler {
        std::fs::write(&handler_path, &updated)
            .map_err(|e| format!("writing {}: {e}", handler_path.display()))?;
        for line in &added {
            let _ = writeln!(report, "added {line} to src/handler.rs");
        }
    }
    // Compared without whitespace: a `cargo fmt` of the file is not a change of the services.
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    if squeeze(&routed) != squeeze(&old_routed) {
        std::fs::write(&services_path, &routed)
            .map_err(|e| format!("writing {}: {e}", services_path.display()))?;
        let _ = writeln!(report, "rewrote src/services.rs (the services served)");
    }
    if report.is_empty() {
        report.push_str("up to date: every function of the IDL has a method in src/handler.rs\n");
    }
    Ok(report)
}

/// An `impl Trait for Handler` block found in the handler.
struct ImplBlock {
    /// The trait's last path segment (`Calc` of `calc::Calc`).
    trait_ident: String,
    /// The methods it has.
    methods: BTreeSet<String>,
    /// Where its closing brace is.
    close: usize,
}

/// `handler` with stubs for whatever `services` declare that it lacks, and a line per
/// addition for the report.
pub(crate) fn add_stubs(
    handler: &str,
    services: &[ServiceStubs],
) -> Result<(String, Vec<String>), Error> {
    let file = syn::parse_file(handler).map_err(|e| {
        let start = e.span().start();
        format!(
            "does not parse as Rust at {}:{} ({e}); fix it, then run `rookery update` again",
            start.line,
            start.column + 1
        )
    })?;
    let offsets = LineOffsets::new(handler);

    let mut blocks: Vec<ImplBlock> = Vec::new();
    let mut bound: BTreeSet<String> = BTreeSet::new();
    // Where the last `use` of other crates and the last of this crate's own paths end, and
    // each `use` (is it local, where its line starts, its text).
    let mut last_use_end: [Option<usize>; 2] = [None, None];
    let mut uses: Vec<(bool, usize, String)> = Vec::new();
    for item in &file.items {
        match item {
            syn::Item::Use(u) => {
                collect_bound(&u.tree, &mut bound);
                let (start, end) = (offsets.start(u.span()), offsets.end(u.span()));
                let local = is_local(&u.tree);
                last_use_end[usize::from(local)] = Some(end);
                uses.push((
                    local,
                    offsets.start_of_line(start),
                    handler[start..end].to_owned(),
                ));
            }
            syn::Item::Impl(i) => {
                let Some((_, path, _)) = &i.trait_ else {
                    continue;
                };
                if !is_handler(&i.self_ty) {
                    continue;
                }
                let Some(last) = path.segments.last() else {
                    continue;
                };
                let methods = i
                    .items
                    .iter()
                    .filter_map(|item| match item {
                        syn::ImplItem::Fn(f) => Some(unraw(&f.sig.ident.to_string())),
                        _ => None,
                    })
                    .collect();
                blocks.push(ImplBlock {
                    trait_ident: unraw(&last.ident.to_string()),
                    methods,
                    close: offsets.start(i.brace_token.span.close()),
                });
            }
            _ => {}
        }
    }

    // What to insert where: (offset, text), applied from the end so offsets stay true.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut needed: BTreeSet<Import> = BTreeSet::new();
    let mut added = Vec::new();
    let mut appended = String::new();
    for service in services {
        let same_trait: Vec<&ImplBlock> = blocks
            .iter()
            .filter(|b| b.trait_ident == service.trait_ident)
            .collect();
        match same_trait.as_slice() {
            [] => {
                appended.push('\n');
                appended.push_str(&rustfmt::file(&service.impl_block(HANDLER)));
                needed.extend(service.all_imports());
                added.push(format!("impl {} for {HANDLER}", service.trait_path));
            }
            [block] => {
                let mut text = String::new();
                for method in &service.methods {
                    if block.methods.contains(&method.ident) {
                        continue;
                    }
                    text.push('\n');
                    text.push_str(&rustfmt::impl_items(&indent(&method.code, "    ")));
                    needed.extend(method.imports.iter().cloned());
                    added.push(format!("{}.{}", service.name, method.name));
                }
                if !text.is_empty() {
                    // Each stub comes after a blank line, before the block's closing brace:
                    // at the start of the brace's line when nothing else stands before it
                    // there, so the brace keeps its own line.
                    let at = line_start_if_blank_before(handler, block.close);
                    inserts.push((at, text));
                }
            }
            _ => {
                return Err(format!(
                    "{HANDLER} implements {} in more than one block; merge them so new stubs \
                     have one place to go",
                    service.trait_ident
                ));
            }
        }
    }

    let missing: Vec<Import> = needed
        .into_iter()
        .filter(|i| !bound.contains(&i.name))
        .collect();
    // Other crates' paths after the last `use` of other crates, the crate's own after the
    // last of its own (each group as rustfmt groups them), or else where the other group is.
    for local in [false, true] {
        let group: Vec<&Import> = missing
            .iter()
            .filter(|i| is_local_path(&i.path) == local)
            .collect();
        if group.is_empty() {
            continue;
        }
        for line in render_imports(group).lines().filter(|l| !l.is_empty()) {
            // Before the first `use` of the group that sorts after it (as rustfmt sorts,
            // which for these lines is by their text), else after the group's last.
            let later = uses
                .iter()
                .find(|(l, _, text)| *l == local && text.as_str() > line);
            let (at, text) = match (later, last_use_end[usize::from(local)]) {
                (Some((_, line_start, _)), _) => (*line_start, format!("{line}\n")),
                (None, Some(end)) => (end, format!("\n{line}")),
                (None, None) => match last_use_end[usize::from(!local)] {
                    Some(end) if local => (end, format!("\n\n{line}")),
                    _ => (
                        first_item_start(handler, &file, &offsets),
                        format!("{line}\n\n"),
                    ),
                },
            };
            inserts.push((at, text));
        }
    }
    if !appended.is_empty() {
        let mut tail = String::new();
        if !handler.ends_with('\n') {
            tail.push('\n');
        }
        tail.push_str(&appended);
        inserts.push((handler.len(), tail));
    }

    let mut out = handler.to_string();
    inserts.sort_by_key(|(at, _)| *at);
    for (at, text) in inserts.into_iter().rev() {
        out.insert_str(at, &text);
    }
    Ok((out, added))
}

/// Whether a `use` tree names the crate's own paths (`crate::`, `self::`, `super::`).
fn is_local(tree: &syn::UseTree) -> bool {
    match tree {
        syn::UseTree::Path(p) => is_local_path(&p.ident.to_string()),
        syn::UseTree::Name(n) => is_local_path(&n.ident.to_string()),
        syn::UseTree::Rename(r) => is_local_path(&r.ident.to_string()),
        syn::UseTree::Glob(_) | syn::UseTree::Group(_) => false,
    }
}

fn is_local_path(path: &str) -> bool {
    let first = path.split("::").next().unwrap_or(path);
    matches!(first, "crate" | "self" | "super")
}

/// Whether `ty` is `Handler` (or `crate::handler::Handler` and the like).
fn is_handler(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == HANDLER && s.arguments.is_empty()),
        _ => false,
    }
}

/// The names a `use` tree binds (a glob binds what no one can tell; it is ignored).
fn collect_bound(tree: &syn::UseTree, bound: &mut BTreeSet<String>) {
    match tree {
        syn::UseTree::Path(p) => collect_bound(&p.tree, bound),
        syn::UseTree::Name(n) => {
            bound.insert(unraw(&n.ident.to_string()));
        }
        syn::UseTree::Rename(r) => {
            bound.insert(unraw(&r.rename.to_string()));
        }
        syn::UseTree::Glob(_) => {}
        syn::UseTree::Group(g) => {
            for t in &g.items {
                collect_bound(t, bound);
            }
        }
    }
}

fn unraw(ident: &str) -> String {
    ident.strip_prefix("r#").unwrap_or(ident).to_string()
}

/// Where the first item starts (after the inner doc comments and attributes), or the end of
/// the file when it has none.
fn first_item_start(handler: &str, file: &syn::File, offsets: &LineOffsets) -> usize {
    match file.items.first() {
        // An item's span starts at its first outer attribute (its doc comment) if any.
        Some(item) => offsets.start_of_line(offsets.start(item.span())),
        None => handler.len(),
    }
}

/// `close` itself, unless only blanks stand between the line's start and it: then that
/// line's start (so the stub goes above the brace with the block's own indentation).
fn line_start_if_blank_before(text: &str, close: usize) -> usize {
    let line_start = text[..close].rfind('\n').map_or(0, |i| i + 1);
    if text[line_start..close]
        .chars()
        .all(|c| c == ' ' || c == '\t')
    {
        line_start
    } else {
        close
    }
}

/// Line and column of proc-macro2 spans to byte offsets.
struct LineOffsets<'a> {
    text: &'a str,
    /// The byte offset where each line (1-based in spans, 0-based here) starts.
    starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineOffsets { text, starts }
    }

    /// The byte offset of a line (1-based) and column (in chars).
    fn offset(&self, line: usize, column: usize) -> usize {
        let start = self
            .starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len());
        let rest = &self.text[start..];
        rest.char_indices()
            .nth(column)
            .map_or(self.text.len(), |(i, _)| start + i)
    }

    fn start(&self, span: proc_macro2::Span) -> usize {
        let lc = span.start();
        self.offset(lc.line, lc.column)
    }

    fn end(&self, span: proc_macro2::Span) -> usize {
        let lc = span.end();
        self.offset(lc.line, lc.column)
    }

    fn start_of_line(&self, offset: usize) -> usize {
        self.text[..offset].rfind('\n').map_or(0, |i| i + 1)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::project::load_stubs;

    fn v2_stubs() -> Vec<ServiceStubs> {
        let idl = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idl/v2");
        load_stubs(&[idl.join("calc.thrift")], &[PathBuf::from(&idl)]).expect("the IDL loads")
    }

    #[test]
    fn a_handler_without_uses_or_blocks_gets_both() {
        let handler = "//! Mine.\n\n#[derive(Clone, Default)]\npub(crate) struct Handler;\n";
        let (out, added) = add_stubs(handler, &v2_stubs()).expect("stubs");
        assert!(out.starts_with("//! Mine.\n\nuse "), "{out}");
        assert!(out.contains("#[derive(Clone, Default)]\npub(crate) struct Handler;\n"));
        assert!(out.contains("use crate::idl::"), "{out}");
        assert!(out.contains("impl calc::Calc for Handler {"), "{out}");
        assert!(out.contains("impl shared::Base for Handler {"), "{out}");
        assert!(syn::parse_file(&out).is_ok(), "{out}");
        assert_eq!(added.len(), 3, "{added:?}");
        // Nothing left to add the second time.
        let (again, added) = add_stubs(&out, &v2_stubs()).expect("stubs");
        assert_eq!(again, out);
        assert!(added.is_empty(), "{added:?}");
    }

    #[test]
    fn an_empty_block_on_one_line_is_filled_and_others_kept() {
        let handler = "use crate::idl::calc;\n\nstruct Handler;\n\nimpl calc::Stats for Handler {}\n\
                       \nfn mine() -> u8 {\n    7\n}\n";
        let (out, added) = add_stubs(handler, &v2_stubs()).expect("stubs");
        assert!(added.contains(&"Stats.calls".to_string()), "{added:?}");
        assert!(out.contains("\nfn mine() -> u8 {\n    7\n}\n"), "{out}");
        assert!(syn::parse_file(&out).is_ok(), "{out}");
        let stats = out
            .find("impl calc::Stats for Handler {")
            .expect("the block");
        let calls = out.find("async fn calls").expect("the stub");
        let mine = out.find("fn mine").expect("mine");
        assert!(stats < calls && calls < mine, "{out}");
    }

    #[test]
    fn two_blocks_of_one_trait_are_refused() {
        let handler =
            "struct Handler;\nimpl calc::Stats for Handler {}\nimpl calc::Stats for Handler {}\n";
        let err = add_stubs(handler, &v2_stubs()).expect_err("ambiguous");
        assert!(err.contains("more than one block"), "{err}");
    }

    #[test]
    fn blocks_for_other_types_are_not_the_handlers() {
        let handler = "struct Handler;\nstruct Other;\nimpl calc::Stats for Other {}\n";
        let (out, _) = add_stubs(handler, &v2_stubs()).expect("stubs");
        assert!(out.contains("impl calc::Stats for Other {}\n"), "{out}");
        assert!(out.contains("impl calc::Stats for Handler {"), "{out}");
    }
}
