//! Types: structs, exceptions, unions, enums, typedefs, constants, with their codec impls.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{
    FileId, GenError,
    codec::{Codec, Place},
    model::{DefKey, Model, Ty, docs},
    names,
};
use crate::thrift::ast::{Const, Enum, Field, Requiredness, Struct, StructKind, Typedef};

/// How a field is held in its struct.
pub(crate) struct Repr {
    /// `Option<T>`.
    pub(crate) option: bool,
    /// `Box<T>` (inside the option).
    pub(crate) boxed: bool,
}

impl Model<'_> {
    /// How `field` of the struct `key` is held: optional fields, fields boxed to break a
    /// cycle, and default-requiredness fields of a type without a default (unions) are
    /// `Option`s.
    pub(crate) fn field_repr(&self, key: &DefKey, field: &Field, t: &Ty) -> Repr {
        let boxed = self.is_boxed(key, field.id);
        let option = boxed
            || field.requiredness == Requiredness::Optional
            || (field.requiredness == Requiredness::Default && !self.ty_default(t));
        Repr { option, boxed }
    }

    /// The value of a field in a new struct (and of a missing default-requiredness field).
    pub(crate) fn field_default(
        &self,
        from: FileId,
        sfile: FileId,
        field: &Field,
        t: &Ty,
        repr: &Repr,
    ) -> Result<TokenStream, GenError> {
        let default = self.std(from, "Default");
        match &field.default {
            Some(v) => {
                let mut val = self.const_expr(from, sfile, t, v, &field.span)?;
                if repr.boxed {
                    let bx = self.std(from, "Box");
                    val = quote!(#bx::new(#val));
                }
                if repr.option {
                    let some = self.std(from, "Some");
                    val = quote!(#some(#val));
                }
                Ok(val)
            }
            None if repr.option => Ok(self.std(from, "None")),
            None => Ok(quote!(#default::default())),
        }
    }

    /// The field's declared Rust type (as written, typedefs by alias).
    fn field_type(
        &self,
        from: FileId,
        field: &Field,
        repr: &Repr,
    ) -> Result<TokenStream, GenError> {
        let mut t = self.rust_type(from, &field.ty)?;
        if repr.boxed {
            let bx = self.std(from, "Box");
            t = quote!(#bx<#t>);
        }
        if repr.option {
            let opt = self.std(from, "Option");
            t = quote!(#opt<#t>);
        }
        Ok(t)
    }

    fn derives(&self, key: &DefKey, default: bool) -> TokenStream {
        let mut d = vec![quote!(Clone), quote!(Debug), quote!(PartialEq)];
        if self.struct_eq(key) {
            d.push(quote!(Eq));
        }
        if self.struct_hashable(key) {
            d.push(quote!(Hash));
        }
        if default {
            d.push(quote!(Default));
        }
        quote!(#[derive(#(#d),*)])
    }

    /// A struct or exception (or the arguments of a function): the type, `Default`,
    /// `ThriftEncode`, `ThriftDecode`, and for exceptions `Display` and `Error`.
    pub(crate) fn gen_struct(
        &self,
        from: FileId,
        s: &Struct,
        doc_fallback: &str,
        hidden: bool,
    ) -> Result<TokenStream, GenError> {
        let key: DefKey = (from, s.name.clone());
        let name = names::type_ident(&s.name);
        let mut decls = Vec::new();
        let mut fields = Vec::new();
        let mut any_idl_default = false;
        check_field_names(s)?;
        for f in &s.fields {
            let t = self.resolve(from, &f.ty)?;
            let repr = self.field_repr(&key, f, &t);
            let ident = names::field_ident(&f.name);
            let ty = self.field_type(from, f, &repr)?;
            let requiredness = match f.requiredness {
                Requiredness::Required => "required ",
                Requiredness::Optional => "optional ",
                Requiredness::Default => "",
            };
            let fallback = format!("`{}: {requiredness}{} {}`", f.id, f.ty, f.name);
            let doc = docs(f.doc.as_deref(), &fallback);
            decls.push(quote!(#doc pub #ident: #ty));
            any_idl_default |= f.default.is_some();
            fields.push((f, t, repr, ident));
        }

        let has_default = self.struct_default(&key);
        let derive = self.derives(&key, has_default && !any_idl_default);
        let doc = docs(s.doc.as_deref(), doc_fallback);
        let hidden = hidden.then(|| quote!(#[doc(hidden)]));
        let mut out = quote! {
            #doc
            #hidden
            #derive
            pub struct #name {
                #(#decls,)*
            }
        };

        if has_default && any_idl_default {
            let inits = fields
                .iter()
                .map(|(f, t, repr, ident)| {
                    let v = self.field_default(from, from, f, t, repr)?;
                    Ok(quote!(#ident: #v))
                })
                .collect::<Result<Vec<_>, GenError>>()?;
            let default = self.std(from, "Default");
            out.extend(quote! {
                impl #default for #name {
                    fn default() -> Self {
                        #name { #(#inits,)* }
                    }
                }
            });
        }

        out.extend(self.struct_encode(from, &name, &fields));
        out.extend(self.struct_decode(from, s, &name, &fields)?);
        if s.kind == StructKind::Exception {
            out.extend(self.exception_impls(from, &name, &fields));
        }
        Ok(out)
    }

    fn struct_encode(
        &self,
        from: FileId,
        name: &proc_macro2::Ident,
        fields: &[(&Field, Ty, Repr, proc_macro2::Ident)],
    ) -> TokenStream {
        let mut codec = Codec::new(self, from);
        // Ascending ids: the compact protocol writes small id deltas in the type byte.
        let mut order: Vec<_> = fields.iter().collect();
        order.sort_by_key(|(f, ..)| f.id);
        let some = self.std(from, "Some");
        let writes = order.iter().map(|(f, t, repr, ident)| {
            let tt = self.rt("TType");
            let ttv = t.ttype();
            let id = Literal::i16_unsuffixed(f.id);
            if repr.option {
                let body = codec.encode(t, Place::Ref(quote!(v)), repr.boxed);
                quote! {
                    if let #some(v) = &self.#ident {
                        w.write_field_begin(#tt::#ttv, #id);
                        #body
                    }
                }
            } else {
                let body = codec.encode(t, Place::Owned(quote!(self.#ident)), false);
                quote! {
                    w.write_field_begin(#tt::#ttv, #id);
                    #body
                }
            }
        });
        let enc = self.rt("ThriftEncode");
        let pw = self.rt("ProtocolWrite");
        quote! {
            impl #enc for #name {
                #[inline]
                fn encode<W: #pw>(&self, w: &mut W) {
                    w.write_struct_begin();
                    #(#writes)*
                    w.write_field_stop();
                    w.write_struct_end();
                }
            }
        }
    }

    fn struct_decode(
        &self,
        from: FileId,
        s: &Struct,
        name: &proc_macro2::Ident,
        fields: &[(&Field, Ty, Repr, proc_macro2::Ident)],
    ) -> Result<TokenStream, GenError> {
        let mut codec = Codec::new(self, from);
        let option = self.std(from, "Option");
        let some = self.std(from, "Some");
        let none = self.std(from, "None");
        let default = self.std(from, "Default");
        let missing = self.rt("missing_field");
        let struct_name = &s.name;
        let mut lets = Vec::new();
        let mut arms = Vec::new();
        let mut finish = Vec::new();
        let mut inits = Vec::new();
        for (f, t, repr, ident) in fields {
            let local = quote::format_ident!("f_{}", names::snake(&f.name));
            let ty = self.field_type(from, f, repr)?;
            let inner = self.rust_type(from, &f.ty)?;
            let mut value = codec.decode(t);
            if repr.boxed {
                let bx = self.std(from, "Box");
                value = quote!(#bx::new(#value));
            }
            let fname = &f.name;
            let id = Literal::i16_unsuffixed(f.id);
            let required = f.requiredness == Requiredness::Required;
            // How the local is declared, assigned, and turned into the field.
            if repr.option {
                lets.push(quote!(let mut #local: #ty = #none;));
                arms.push((f.id, t, quote!(#local = #some(#value))));
                if required {
                    finish.push(quote! {
                        if #local.is_none() {
                            return Err(#missing(#struct_name, #fname, #id));
                        }
                    });
                } else if let (Some(_), Requiredness::Default) = (&f.default, f.requiredness) {
                    let d = self.field_default(from, from, f, t, repr)?;
                    finish.push(quote! {
                        let #local = if #local.is_some() { #local } else { #d };
                    });
                }
            } else if required {
                lets.push(quote!(let mut #local: #option<#inner> = #none;));
                arms.push((f.id, t, quote!(#local = #some(#value))));
                finish.push(quote! {
                    let #some(#local) = #local else {
                        return Err(#missing(#struct_name, #fname, #id));
                    };
                });
            } else if f.default.is_some() {
                let d = self.field_default(from, from, f, t, repr)?;
                lets.push(quote!(let mut #local: #option<#inner> = #none;));
                arms.push((f.id, t, quote!(#local = #some(#value))));
                finish.push(
                    if self.const_able(t) && !matches!(t, Ty::String | Ty::Binary) {
                        quote!(let #local = #local.unwrap_or(#d);)
                    } else {
                        quote!(let #local = #local.unwrap_or_else(|| #d);)
                    },
                );
            } else if t.cheap_default() {
                lets.push(quote!(let mut #local: #ty = #default::default();));
                arms.push((f.id, t, quote!(#local = #value)));
            } else {
                lets.push(quote!(let mut #local: #option<#inner> = #none;));
                arms.push((f.id, t, quote!(#local = #some(#value))));
                finish.push(quote!(let #local = #local.unwrap_or_default();));
            }
            inits.push(quote!(#ident: #local));
        }
        let tt = self.rt("TType");
        let arms = arms.into_iter().map(|(id, t, assign)| {
            let ttv = t.ttype();
            let id = Literal::i16_unsuffixed(id);
            quote!((#tt::#ttv, #id) => #assign,)
        });
        let dec = self.rt("ThriftDecode");
        let pr = self.rt("ProtocolRead");
        let err = self.rt("DecodeError");
        let result = self.std(from, "Result");
        Ok(quote! {
            impl #dec for #name {
                fn decode<R: #pr>(r: &mut R) -> #result<Self, #err> {
                    #(#lets)*
                    r.read_struct_begin()?;
                    loop {
                        match r.read_field_begin()? {
                            (#tt::Stop, _) => break,
                            #(#arms)*
                            (ty, _) => r.skip(ty)?,
                        }
                    }
                    r.read_struct_end();
                    #(#finish)*
                    Ok(#name { #(#inits,)* })
                }
            }
        })
    }

    fn exception_impls(
        &self,
        from: FileId,
        name: &proc_macro2::Ident,
        fields: &[(&Field, Ty, Repr, proc_macro2::Ident)],
    ) -> TokenStream {
        // A message field, if there is one, is what people read; otherwise the whole value.
        let message = fields.iter().find(|(f, t, repr, _)| {
            matches!(
                f.name.as_str(),
                "message" | "msg" | "reason" | "description"
            ) && *t == Ty::String
                && !repr.option
        });
        let title = name.to_string();
        let body = match message {
            Some((_, _, _, ident)) => {
                let format = format!("{title}: {{}}");
                quote!(write!(f, #format, self.#ident))
            }
            None => quote!(write!(f, "{:?}", self)),
        };
        let _ = from;
        quote! {
            impl ::std::fmt::Display for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    #body
                }
            }

            impl ::std::error::Error for #name {}
        }
    }

    /// A union: a Rust enum with one variant per field.
    pub(crate) fn gen_union(&self, from: FileId, s: &Struct) -> Result<TokenStream, GenError> {
        let key: DefKey = (from, s.name.clone());
        let name = names::type_ident(&s.name);
        let mut variants = Vec::new();
        let mut enc_arms = Vec::new();
        let mut dec_arms = Vec::new();
        let mut codec = Codec::new(self, from);
        let tt = self.rt("TType");
        let some = self.std(from, "Some");
        let several = self.rt("union_several");
        let struct_name = &s.name;
        check_field_names(s)?;
        for f in &s.fields {
            let t = self.resolve(from, &f.ty)?;
            let boxed = self.is_boxed(&key, f.id);
            let variant = names::type_ident(&f.name);
            let mut ty = self.rust_type(from, &f.ty)?;
            if boxed {
                let bx = self.std(from, "Box");
                ty = quote!(#bx<#ty>);
            }
            let fallback = format!("`{}: {} {}`", f.id, f.ty, f.name);
            let doc = docs(f.doc.as_deref(), &fallback);
            variants.push(quote!(#doc #variant(#ty)));
            let ttv = t.ttype();
            let id = Literal::i16_unsuffixed(f.id);
            let body = codec.encode(&t, Place::Ref(quote!(v)), boxed);
            enc_arms.push(quote! {
                #name::#variant(v) => {
                    w.write_field_begin(#tt::#ttv, #id);
                    #body
                }
            });
            let mut value = codec.decode(&t);
            if boxed {
                let bx = self.std(from, "Box");
                value = quote!(#bx::new(#value));
            }
            dec_arms.push(quote! {
                (#tt::#ttv, #id) => {
                    if out.is_some() {
                        return Err(#several(#struct_name));
                    }
                    out = #some(#name::#variant(#value));
                }
            });
        }
        let derive = self.derives(&key, false);
        let doc = docs(
            s.doc.as_deref(),
            &format!("`union {}`: exactly one field is set.", s.name),
        );
        let enc = self.rt("ThriftEncode");
        let pw = self.rt("ProtocolWrite");
        let dec = self.rt("ThriftDecode");
        let pr = self.rt("ProtocolRead");
        let err = self.rt("DecodeError");
        let empty = self.rt("union_empty");
        let result = self.std(from, "Result");
        let option = self.std(from, "Option");
        let none = self.std(from, "None");
        let enc_body = if enc_arms.is_empty() {
            quote!(match *self {})
        } else {
            quote!(match self { #(#enc_arms)* })
        };
        Ok(quote! {
            #doc
            #derive
            #[allow(clippy::large_enum_variant)]
            pub enum #name {
                #(#variants,)*
            }

            impl #enc for #name {
                #[inline]
                fn encode<W: #pw>(&self, w: &mut W) {
                    w.write_struct_begin();
                    #enc_body
                    w.write_field_stop();
                    w.write_struct_end();
                }
            }

            impl #dec for #name {
                fn decode<R: #pr>(r: &mut R) -> #result<Self, #err> {
                    let mut out: #option<Self> = #none;
                    r.read_struct_begin()?;
                    loop {
                        match r.read_field_begin()? {
                            (#tt::Stop, _) => break,
                            #(#dec_arms)*
                            (ty, _) => r.skip(ty)?,
                        }
                    }
                    r.read_struct_end();
                    out.ok_or_else(|| #empty(#struct_name))
                }
            }
        })
    }

    /// An open enum: a newtype over `i32` with a constant per value, so values a newer peer
    /// sends pass through.
    pub(crate) fn gen_enum(&self, from: FileId, e: &Enum) -> TokenStream {
        let name = names::type_ident(&e.name);
        let idl = &e.name;
        let mut consts = Vec::new();
        let mut all = Vec::new();
        let mut name_arms = Vec::new();
        let mut from_name_arms = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for v in &e.values {
            let ident = names::const_ident(&v.name);
            let lit = Literal::i32_unsuffixed(v.value);
            let fallback = format!("`{} = {}`", v.name, v.value);
            let doc = docs(v.doc.as_deref(), &fallback);
            consts.push(quote!(#doc pub const #ident: #name = #name(#lit);));
            all.push(quote!(#name::#ident));
            let vname = &v.name;
            if seen.insert(v.value) {
                name_arms.push(quote!(#lit => Some(#vname),));
            }
            from_name_arms.push(quote!(#vname => Some(#name::#ident),));
        }
        let doc = docs(
            e.doc.as_deref(),
            &format!("`enum {idl}`, open: values this code does not know are kept."),
        );
        let option = self.std(from, "Option");
        let named = format!("{idl}::{{}}");
        let unnamed = format!("{idl}({{}})");
        quote! {
            #doc
            #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
            #[repr(transparent)]
            pub struct #name(pub i32);

            impl #name {
                #(#consts)*

                /// Every value the IDL names, in the order written.
                pub const VALUES: &'static [#name] = &[#(#all),*];

                /// The IDL name of this value, if it has one.
                pub fn name(self) -> #option<&'static str> {
                    match self.0 {
                        #(#name_arms)*
                        _ => None,
                    }
                }

                /// The value the IDL names `name`.
                pub fn from_name(name: &str) -> #option<#name> {
                    match name {
                        #(#from_name_arms)*
                        _ => None,
                    }
                }

                /// Whether the IDL names this value.
                pub fn is_known(self) -> bool {
                    self.name().is_some()
                }
            }

            impl ::std::fmt::Debug for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self.name() {
                        Some(n) => write!(f, #named, n),
                        None => write!(f, #unnamed, self.0),
                    }
                }
            }

            impl ::std::fmt::Display for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self.name() {
                        Some(n) => f.write_str(n),
                        None => write!(f, "{}", self.0),
                    }
                }
            }

            impl ::std::convert::From<i32> for #name {
                fn from(v: i32) -> Self {
                    #name(v)
                }
            }

            impl ::std::convert::From<#name> for i32 {
                fn from(v: #name) -> Self {
                    v.0
                }
            }
        }
    }

    pub(crate) fn gen_typedef(&self, from: FileId, t: &Typedef) -> Result<TokenStream, GenError> {
        let name = names::type_ident(&t.name);
        let ty = self.rust_type(from, &t.ty)?;
        let doc = docs(t.doc.as_deref(), &format!("`typedef {} {}`", t.ty, t.name));
        Ok(quote! {
            #doc
            pub type #name = #ty;
        })
    }

    pub(crate) fn gen_const(&self, from: FileId, c: &Const) -> Result<TokenStream, GenError> {
        let name = names::const_ident(&c.name);
        let t = self.resolve(from, &c.ty)?;
        let ty = self.rust_type(from, &c.ty)?;
        let value = self.const_expr(from, from, &t, &c.value, &c.span)?;
        let doc = docs(c.doc.as_deref(), &format!("`const {} {}`", c.ty, c.name));
        if self.const_able(&t) {
            // A constant that is close to π or e is still the IDL's value.
            let allow = (t == Ty::Double).then(|| quote!(#[allow(clippy::approx_constant)]));
            Ok(quote! {
                #doc
                #allow
                pub const #name: #ty = #value;
            })
        } else {
            let lazy = self.rt("LazyLock");
            Ok(quote! {
                #doc
                pub static #name: #lazy<#ty> = #lazy::new(|| #value);
            })
        }
    }
}

/// Two fields whose Rust names are the same (`fooBar` and `foo_bar`) cannot both be
/// generated.
fn check_field_names(s: &Struct) -> Result<(), GenError> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for f in &s.fields {
        let rust = match s.kind {
            StructKind::Union => names::camel(&f.name),
            _ => names::snake(&f.name),
        };
        if let Some((_, other)) = seen.iter().find(|(r, _)| *r == rust) {
            return Err(GenError::at(
                &f.span,
                format!(
                    "fields {other} and {} of {} are both `{rust}` in Rust; rename one",
                    f.name, s.name
                ),
            ));
        }
        seen.push((rust, &f.name));
    }
    Ok(())
}
