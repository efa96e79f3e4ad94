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

use std::collections::{BTreeSet, HashMap};

use super::{FileId, GenError, Options, generate, names};
pub use crate::stubs::{Import, MethodStub, ServiceStubs, StubOptions, indent, render_imports};
use crate::{
    stubs::{ModuleItems, Paths, Rename, method_stub, module_imports, root_path, unraw},
    thrift::{
        ast::{Definition, Function, Requiredness, Service},
        resolve::Program,
    },
};

/// The stubs of every service of the root file of `program`, and of the services they extend
/// (base first), each service once.
///
/// # Errors
///
/// When the program cannot be generated (see [`generate`]).
pub fn stubs(program: &Program, options: &StubOptions) -> Result<Vec<ServiceStubs>, GenError> {
    let ids: Vec<FileId> = program.files().iter().map(|f| f.id).collect();
    let generated = generate(program, &ids, &Options::default())?;
    let idl_module = options.idl_segments();

    // The Rust module of each file, and what each module defines.
    let mut module_of: HashMap<FileId, Vec<String>> = HashMap::new();
    let mut items: HashMap<Vec<String>, ModuleItems> = HashMap::new();
    for (id, file) in ids.iter().zip(&generated) {
        let module: Vec<String> = file
            .module
            .iter()
            .map(|m| names::ident(m).to_string())
            .collect();
        items
            .entry(module.clone())
            .or_default()
            .read(&file.code)
            .map_err(|e| {
                GenError::new(format!(
                    "generated code for {} does not parse ({e}); this is a bug in rookery-build",
                    file.idl.display()
                ))
            })?;
        module_of.insert(*id, module);
    }
    let modules = module_imports(&idl_module, &module_of.values().cloned().collect());

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
        let module_import = &modules[module];
        let trait_ident = names::type_ident(&service.name).to_string();
        let bug = |what: String| GenError::new(format!("{what}; this is a bug in rookery-build"));
        if !items[module].traits.contains_key(&trait_ident) {
            return Err(bug(format!(
                "no trait {trait_ident} in the code generated for service {}",
                service.name
            )));
        }
        let mut methods = Vec::new();
        for function in &service.functions {
            let ident = names::field_ident(&function.name).to_string();
            let Some(sig) = items[module].method(&trait_ident, &ident) else {
                return Err(bug(format!(
                    "no method {ident} in the generated trait {trait_ident}"
                )));
            };
            let mut paths = Paths {
                module,
                items: &items,
                modules: &modules,
                runtime,
                imports: BTreeSet::new(),
                error: None,
            };
            let code = method_stub(
                sig,
                &format!("`{}`", idl_signature(function)),
                &format!("{}.{} is not implemented yet", service.name, function.name),
                !function.throws.is_empty(),
                &mut paths,
            )
            .map_err(|e| bug(format!("the generated method {ident} {e}")))?;
            methods.push(MethodStub {
                name: function.name.clone(),
                ident: unraw(&ident),
                code,
                imports: paths.imports,
            });
        }
        out.push(ServiceStubs {
            name: service.name.clone(),
            trait_path: format!("{}::{trait_ident}", module_import.prefix()),
            server_path: root_path(&idl_module, module, &format!("{trait_ident}Server")),
            client_path: root_path(&idl_module, module, &format!("{trait_ident}Client")),
            trait_ident,
            root: fid == root,
            methods,
            imports: module_import.if_needed(),
        });
    }
    Ok(out)
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

/// Where generated code's runtime paths (`::rookery::codegen::X`) come from in a handler:
/// `Context` and `Status` from `rookery`, the rest from `rookery::codegen`, where generated
/// code takes them.
fn runtime(segments: &[String]) -> Option<Rename> {
    let [rookery, codegen, name] = segments else {
        return None;
    };
    if rookery != "rookery" || codegen != "codegen" {
        return None;
    }
    let path = match name.as_str() {
        "Context" | "Status" => format!("rookery::{name}"),
        other => format!("rookery::codegen::{other}"),
    };
    Some(Rename { path, keep: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            stubs[0]
                .impl_block("Handler")
                .starts_with("impl shared::Base for Handler {\n    /// `void ping()`\n")
        );
    }
}
