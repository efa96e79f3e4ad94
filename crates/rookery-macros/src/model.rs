//! What a `#[rookery::service]` trait says, checked: every rule a trait must follow is
//! checked here, with a message that says what to write instead, pointing at the offending
//! tokens. The expansion works only from a [`Service`] that passed.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{
    Attribute, FnArg, Ident, ItemTrait, LitStr, Pat, Path, ReturnType, Signature, TraitItem,
    TraitItemFn, Type, TypeParamBound, Visibility, ext::IdentExt, punctuated::Punctuated,
    token::Plus,
};

/// The attribute's arguments: `#[rookery::service(name = "...", crate = "...")]`.
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

impl Options {
    pub(crate) fn parse(attr: TokenStream) -> syn::Result<Options> {
        let mut options = Options {
            name: None,
            krate: None,
        };
        let parser = syn::meta::parser(|meta| {
            if meta.path.is_ident("name") {
                let name: LitStr = meta.value()?.parse()?;
                if name.value().is_empty() || name.value().contains(':') {
                    return Err(syn::Error::new(
                        name.span(),
                        "a service name is not empty and has no `:` (Thrift's multiplexed \
                         protocol puts `Service:` before a method's name)",
                    ));
                }
                options.name = Some(name);
                Ok(())
            } else if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                options.krate = Some(path.parse()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown argument: `#[rookery::service]` takes `name = \"ServiceName\"` and \
                     `crate = \"path::to::rookery\"`",
                ))
            }
        });
        syn::parse::Parser::parse2(parser, attr)?;
        Ok(options)
    }
}

/// A checked service trait.
pub(crate) struct Service {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    pub(crate) supertraits: Punctuated<TypeParamBound, Plus>,
    /// The name on the wire and in routers.
    pub(crate) name: String,
    pub(crate) methods: Vec<Method>,
}

/// A checked method.
pub(crate) struct Method {
    /// Attributes kept on the trait's method (all but `#[oneway]`).
    pub(crate) attrs: Vec<Attribute>,
    /// The doc attributes, copied onto the client's method.
    pub(crate) docs: Vec<Attribute>,
    pub(crate) ident: Ident,
    /// The method's name on the wire: its identifier, without `r#`.
    pub(crate) wire_name: String,
    /// The context argument, `cx: &mut Context`, when the handler takes one.
    pub(crate) context: Option<(TokenStream, Type)>,
    pub(crate) args: Vec<Arg>,
    /// What the method returns; `None` for a oneway method.
    pub(crate) output: Option<Type>,
}

/// An argument that travels.
pub(crate) struct Arg {
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

/// Names the generated client's inherent methods take; a service method cannot have them.
pub(crate) const CLIENT_RESERVED: &[&str] = &[
    "new",
    "with_service",
    "with_codec",
    "with_max_depth",
    "with_service_name",
    "inner",
    "into_inner",
];

/// Collects errors, so that one expansion reports every mistake at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        self.merge(syn::Error::new(span, message));
    }

    fn spanned(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.merge(syn::Error::new_spanned(tokens, message));
    }

    fn merge(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }
}

impl Service {
    /// Checks `item`. On error, `item` is left with the `#[oneway]` attributes removed, so
    /// the caller can emit it beside the errors and spare the user errors that follow from a
    /// missing trait.
    pub(crate) fn check(item: &mut ItemTrait, options: &Options) -> syn::Result<Service> {
        let mut errors = Errors::default();
        if !item.generics.params.is_empty() {
            errors.spanned(
                &item.generics,
                "a `#[rookery::service]` trait cannot be generic: every method travels as values \
                 of concrete types, and its server and client are concrete types; use concrete \
                 types (a serde enum for a choice of types)",
            );
        }
        if let Some(where_clause) = &item.generics.where_clause {
            errors.spanned(
                where_clause,
                "a `#[rookery::service]` trait has no `where` clause: its bounds are `Send + \
                 Sync + 'static`, which the macro adds",
            );
        }
        if let Some(unsafety) = &item.unsafety {
            errors.spanned(unsafety, "a `#[rookery::service]` trait cannot be `unsafe`");
        }
        if let Some(auto) = &item.auto_token {
            errors.spanned(
                auto,
                "a `#[rookery::service]` trait cannot be an auto trait",
            );
        }

        let mut methods = Vec::new();
        for trait_item in &mut item.items {
            match trait_item {
                TraitItem::Fn(f) => {
                    let oneway = take_oneway(&mut f.attrs, &mut errors);
                    if let Some(method) = check_method(f, oneway, &mut errors) {
                        methods.push(method);
                    }
                }
                TraitItem::Type(t) => errors.spanned(
                    t,
                    "a `#[rookery::service]` trait has no associated types: a client could not \
                     know what they are; name concrete types in the methods",
                ),
                TraitItem::Const(c) => errors.spanned(
                    c,
                    "a `#[rookery::service]` trait has no associated constants: they are not \
                     part of what travels; define a `const` beside the trait",
                ),
                other => errors.spanned(
                    &*other,
                    "a `#[rookery::service]` trait holds `async fn` methods only",
                ),
            }
        }
        if let Some(err) = errors.0 {
            return Err(err);
        }
        let name = match &options.name {
            Some(name) => name.value(),
            None => item.ident.unraw().to_string(),
        };
        Ok(Service {
            attrs: item.attrs.clone(),
            vis: item.vis.clone(),
            ident: item.ident.clone(),
            supertraits: item.supertraits.clone(),
            name,
            methods,
        })
    }
}

/// Removes the `#[oneway]` attributes from `attrs`, saying whether there was one.
fn take_oneway(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> bool {
    let mut oneway = false;
    attrs.retain(|attr| {
        if !attr.path().is_ident("oneway") {
            return true;
        }
        if let Err(e) = attr.meta.require_path_only() {
            errors.push(
                e.span(),
                "`#[oneway]` takes no arguments: write `#[oneway]` alone",
            );
        }
        oneway = true;
        false
    });
    oneway
}

fn check_method(f: &TraitItemFn, oneway: bool, all_errors: &mut Errors) -> Option<Method> {
    let sig = &f.sig;
    let mut errors = Errors::default();
    let errors = &mut errors;
    if let Some(body) = &f.default {
        errors.spanned(
            body,
            "a `#[rookery::service]` method has no default body: the trait is the service's \
             contract and every handler implements every method (put shared code in a helper \
             function)",
        );
    }
    if sig.asyncness.is_none() {
        errors.spanned(
            sig.fn_token,
            format!(
                "`{}` is not `async`: the methods of a `#[rookery::service]` trait are written \
                 `async fn`, and the macro makes their futures `Send`",
                sig.ident
            ),
        );
    }
    if let Some(constness) = &sig.constness {
        errors.spanned(
            constness,
            "a `#[rookery::service]` method cannot be `const`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.spanned(
            unsafety,
            "a `#[rookery::service]` method cannot be `unsafe`",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, "a `#[rookery::service]` method cannot be `extern`");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.spanned(
            &sig.generics,
            format!(
                "`{}` cannot be generic: its arguments and result travel as values of concrete \
                 types",
                sig.ident
            ),
        );
    }
    check_receiver(sig, errors);

    let wire_name = sig.ident.unraw().to_string();
    if CLIENT_RESERVED.contains(&wire_name.as_str()) {
        errors.spanned(
            &sig.ident,
            format!(
                "`{wire_name}` is taken by a method of the generated client \
                 (`{}`); give the service method another name",
                CLIENT_RESERVED.join("`, `")
            ),
        );
    }

    let mut context = None;
    let mut args = Vec::new();
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else { continue };
        if i == 1 && is_context(&typed.ty) {
            context = Some((typed.pat.to_token_stream(), (*typed.ty).clone()));
            continue;
        }
        let ident = match &*typed.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                errors.spanned(
                    other,
                    "the arguments of a `#[rookery::service]` method are plain names: they are \
                     the field names on the wire",
                );
                continue;
            }
        };
        check_arg_type(&typed.ty, errors);
        args.push(Arg {
            ident,
            ty: (*typed.ty).clone(),
        });
    }

    let output = match (&sig.output, oneway) {
        (ReturnType::Default, true) => None,
        (ReturnType::Type(_, ty), true) if is_unit(ty) => None,
        (ReturnType::Type(_, ty), true) => {
            errors.spanned(
                ty,
                format!(
                    "`{}` is `#[oneway]`, so it returns nothing: no reply travels back to the \
                     caller; remove the return type, or remove `#[oneway]` to answer",
                    sig.ident
                ),
            );
            None
        }
        (ReturnType::Default, false) => {
            errors.push(
                sig.paren_token.span.close(),
                format!(
                    "`{}` returns nothing: a method that answers returns `Result<T, Status>` \
                     (`Result<(), Status>` when there is no value), so its caller learns how the \
                     call went; mark it `#[oneway]` if the caller does not wait",
                    sig.ident
                ),
            );
            None
        }
        (ReturnType::Type(_, ty), false) => Some((**ty).clone()),
    };

    if let Some(err) = errors.0.take() {
        all_errors.merge(err);
        return None;
    }
    let docs = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect();
    Some(Method {
        attrs: f.attrs.clone(),
        docs,
        ident: sig.ident.clone(),
        wire_name,
        context,
        args,
        output,
    })
}

fn check_receiver(sig: &Signature, errors: &mut Errors) {
    let name = &sig.ident;
    match sig.receiver() {
        None => errors.push(
            sig.paren_token.span.open(),
            format!(
                "`{name}` has no `&self`: the methods of a `#[rookery::service]` trait take \
                 `&self`, the handler that serves the call"
            ),
        ),
        Some(receiver) if receiver.colon_token.is_some() => errors.spanned(
            receiver,
            format!(
                "`{name}` takes `self` as `{}`: the methods of a `#[rookery::service]` trait take \
                 `&self`, one handler shared by every call",
                receiver.ty.to_token_stream()
            ),
        ),
        Some(receiver) if receiver.reference.is_none() => errors.spanned(
            receiver,
            format!(
                "`{name}` takes `self` by value: the methods of a `#[rookery::service]` trait \
                 take `&self`, because one handler serves every call and no call can own it"
            ),
        ),
        Some(receiver) if receiver.mutability.is_some() => errors.spanned(
            receiver,
            format!(
                "`{name}` takes `&mut self`: the methods of a `#[rookery::service]` trait take \
                 `&self`, because calls run concurrently on one shared handler; keep mutable \
                 state behind a `Mutex` or in atomics"
            ),
        ),
        Some(_) => {}
    }
}

/// Whether `ty` is `&mut Context` (by the last segment of its path, as macros must).
fn is_context(ty: &Type) -> bool {
    let Type::Reference(r) = ty else { return false };
    if r.mutability.is_none() {
        return false;
    }
    let Type::Path(p) = &*r.elem else {
        return false;
    };
    p.qself.is_none()
        && p.path
            .segments
            .last()
            .is_some_and(|s| s.ident == "Context" && s.arguments.is_none())
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

fn check_arg_type(ty: &Type, errors: &mut Errors) {
    match ty {
        Type::Reference(r) => {
            let hint = if is_context(ty) {
                "; a context is taken as `cx: &mut Context`, first after `&self`"
            } else if r.mutability.is_none() {
                ": take `String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`"
            } else {
                ""
            };
            errors.spanned(
                ty,
                format!(
                    "the arguments of a `#[rookery::service]` method are owned values, decoded \
                     from the wire, not references{hint}"
                ),
            );
        }
        Type::ImplTrait(_) => errors.spanned(
            ty,
            "the arguments of a `#[rookery::service]` method have concrete types: `impl Trait` \
             cannot be decoded from the wire",
        ),
        Type::Paren(p) => check_arg_type(&p.elem, errors),
        Type::Group(g) => check_arg_type(&g.elem, errors),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str) -> Result<Service, String> {
        let mut item: ItemTrait = syn::parse_str(src).unwrap();
        let options = Options {
            name: None,
            krate: None,
        };
        Service::check(&mut item, &options).map_err(|e| e.to_string())
    }

    fn refused(src: &str) -> String {
        match check(src) {
            Ok(_) => panic!("accepted: {src}"),
            Err(e) => e,
        }
    }

    #[test]
    fn a_context_is_recognised_only_first() {
        let s = check(
            "trait T { async fn a(&self, cx: &mut rookery::Context, n: u32) -> Result<u32, Status>; }",
        )
        .unwrap();
        assert!(s.methods[0].context.is_some());
        assert_eq!(s.methods[0].args.len(), 1);
        let err = refused(
            "trait T { async fn a(&self, n: u32, cx: &mut Context) -> Result<u32, Status>; }",
        );
        assert!(err.contains("first after `&self`"), "{err}");
    }

    #[test]
    fn raw_identifiers_travel_without_their_prefix() {
        let s = check("trait r#T { async fn r#type(&self) -> Result<(), S>; }").unwrap();
        assert_eq!(s.name, "T");
        assert_eq!(s.methods[0].wire_name, "type");
    }

    #[test]
    fn reserved_names_and_patterns_are_refused() {
        let err = refused("trait T { async fn new(&self) -> Result<(), S>; }");
        assert!(
            err.contains("taken by a method of the generated client"),
            "{err}"
        );
        let err = refused("trait T { async fn a(&self, (x, y): (u8, u8)) -> Result<(), S>; }");
        assert!(err.contains("plain names"), "{err}");
        let err = refused("trait T { async fn a(&self, s: &str) -> Result<(), S>; }");
        assert!(err.contains("`String` for `&str`"), "{err}");
        let err = refused("trait T { #[oneway(x)] async fn a(&self); }");
        assert!(err.contains("takes no arguments"), "{err}");
    }

    #[test]
    fn options_are_checked() {
        assert!(Options::parse(quote::quote!(name = "a:b")).is_err());
        assert!(Options::parse(quote::quote!(nme = "a")).is_err());
        let o =
            Options::parse(quote::quote!(name = "greeter.v1", crate = "::my::rookery")).unwrap();
        assert_eq!(o.name.unwrap().value(), "greeter.v1");
        assert!(o.krate.is_some());
    }
}
