//! Constant values: `const` items, field defaults and the values of `static`s.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{
    FileId, GenError,
    model::{Model, Ty},
    names,
};
use crate::thrift::ast::{ConstValue, Definition, Span, StructKind, TypeRef};

impl Model<'_> {
    /// Whether a value of `t` can be a Rust `const`.
    pub(crate) fn const_able(&self, t: &Ty) -> bool {
        !matches!(t, Ty::List(_) | Ty::Set(_) | Ty::Map(..) | Ty::Struct(..))
    }

    /// An expression of type `t` (as seen from `from`) for `value`, written in `vfile`
    /// (the file a referenced constant's value comes from).
    pub(crate) fn const_expr(
        &self,
        from: FileId,
        vfile: FileId,
        t: &Ty,
        value: &ConstValue,
        span: &Span,
    ) -> Result<TokenStream, GenError> {
        self.const_expr_depth(from, vfile, t, value, span, 0)
    }

    fn const_expr_depth(
        &self,
        from: FileId,
        vfile: FileId,
        t: &Ty,
        value: &ConstValue,
        span: &Span,
        depth: u32,
    ) -> Result<TokenStream, GenError> {
        if depth > 64 {
            return Err(GenError::at(span, "constant refers to itself"));
        }
        let mismatch = || {
            GenError::at(
                span,
                format!(
                    "a value of type {} cannot be {}",
                    describe(t),
                    describe_value(value)
                ),
            )
        };
        // A reference to another constant: its value, as written in its own file.
        if let ConstValue::Identifier(name, ispan) = value {
            if let Some((fid, Definition::Const(c))) = self.src.lookup(vfile, name) {
                return self.const_expr_depth(from, fid, t, &c.value, ispan, depth + 1);
            }
            if let Ty::Enum(key) = t {
                return self.enum_value(from, vfile, key, name, ispan);
            }
            return Err(GenError::at(ispan, format!("unknown constant {name}")));
        }
        // `{}` is also an empty list or set (Apache Thrift accepts it).
        if let (Ty::List(_) | Ty::Set(_), ConstValue::Map(entries)) = (t, value) {
            if entries.is_empty() {
                let empty = ConstValue::List(Vec::new());
                return self.const_expr_depth(from, vfile, t, &empty, span, depth + 1);
            }
        }
        Ok(match (t, value) {
            (Ty::Bool, ConstValue::Bool(b)) => quote!(#b),
            (Ty::Bool, ConstValue::Int(i @ (0 | 1))) => {
                let b = *i == 1;
                quote!(#b)
            }
            (Ty::I8, ConstValue::Int(_) | ConstValue::Bool(_)) => {
                let v = int_in(value, i8::MIN.into(), i8::MAX.into(), span)?;
                let lit = Literal::i8_unsuffixed(v as i8);
                quote!(#lit)
            }
            (Ty::I16, ConstValue::Int(_) | ConstValue::Bool(_)) => {
                let v = int_in(value, i16::MIN.into(), i16::MAX.into(), span)?;
                let lit = Literal::i16_unsuffixed(v as i16);
                quote!(#lit)
            }
            (Ty::I32, ConstValue::Int(_) | ConstValue::Bool(_)) => {
                let v = int_in(value, i32::MIN.into(), i32::MAX.into(), span)?;
                let lit = Literal::i32_unsuffixed(v as i32);
                quote!(#lit)
            }
            (Ty::I64, ConstValue::Int(_) | ConstValue::Bool(_)) => {
                let v = int_in(value, i64::MIN, i64::MAX, span)?;
                let lit = Literal::i64_unsuffixed(v);
                quote!(#lit)
            }
            (Ty::Double, ConstValue::Int(i)) => {
                let lit = Literal::f64_unsuffixed(*i as f64);
                quote!(#lit)
            }
            (Ty::Double, ConstValue::Double(d)) => {
                if !d.is_finite() {
                    return Err(GenError::at(span, "a double constant must be finite"));
                }
                let lit = Literal::f64_unsuffixed(*d);
                quote!(#lit)
            }
            (Ty::String, ConstValue::String(s)) => {
                let fs = self.rt("FastStr");
                quote!(#fs::from_static_str(#s))
            }
            (Ty::Binary, ConstValue::String(s)) => {
                let bytes = self.rt("Bytes");
                let lit = Literal::byte_string(s.as_bytes());
                quote!(#bytes::from_static(#lit))
            }
            (Ty::Uuid, ConstValue::String(s)) => {
                let bytes = parse_uuid(s)
                    .ok_or_else(|| GenError::at(span, format!("{s:?} is not a UUID")))?;
                quote!([#(#bytes),*])
            }
            (Ty::Enum(_), ConstValue::Int(i)) => {
                let v = int_in(value, i32::MIN.into(), i32::MAX.into(), span)?;
                let path = self.rust_ty(from, t);
                let _ = i;
                let lit = Literal::i32_unsuffixed(v as i32);
                quote!(#path(#lit))
            }
            (Ty::List(e), ConstValue::List(items)) => {
                let vec = self.std(from, "Vec");
                let items = items
                    .iter()
                    .map(|i| self.const_expr_depth(from, vfile, e, i, span, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                quote!(#vec::from([#(#items),*]))
            }
            (Ty::Set(e), ConstValue::List(items)) => {
                let items = items
                    .iter()
                    .map(|i| self.const_expr_depth(from, vfile, e, i, span, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                if self.ty_hashable(e) {
                    let set = self.rt("HashSet");
                    quote!(<#set<_> as ::std::iter::FromIterator<_>>::from_iter([#(#items),*]))
                } else {
                    let vec = self.std(from, "Vec");
                    quote!(#vec::from([#(#items),*]))
                }
            }
            (Ty::Map(k, v), ConstValue::Map(entries)) => {
                let pairs = entries
                    .iter()
                    .map(|(ek, ev)| {
                        let ek = self.const_expr_depth(from, vfile, k, ek, span, depth + 1)?;
                        let ev = self.const_expr_depth(from, vfile, v, ev, span, depth + 1)?;
                        Ok(quote!((#ek, #ev)))
                    })
                    .collect::<Result<Vec<_>, GenError>>()?;
                if self.ty_hashable(k) {
                    let map = self.rt("HashMap");
                    quote!(<#map<_, _> as ::std::iter::FromIterator<_>>::from_iter([#(#pairs),*]))
                } else {
                    let vec = self.std(from, "Vec");
                    quote!(#vec::from([#(#pairs),*]))
                }
            }
            (Ty::Struct(key, kind), ConstValue::Map(entries)) => {
                self.struct_literal(from, vfile, key, *kind, entries, span, depth)?
            }
            _ => return Err(mismatch()),
        })
    }

    fn enum_value(
        &self,
        from: FileId,
        vfile: FileId,
        key: &(FileId, String),
        name: &str,
        span: &Span,
    ) -> Result<TokenStream, GenError> {
        // `Enum.VALUE` or `include.Enum.VALUE`; the enum part must name this enum.
        let (prefix, value_name) = name
            .rsplit_once('.')
            .ok_or_else(|| GenError::at(span, format!("unknown constant {name}")))?;
        let Some((fid, Definition::Enum(e))) = self.src.lookup(vfile, prefix) else {
            return Err(GenError::at(span, format!("unknown constant {name}")));
        };
        if (fid, e.name.clone()) != *key {
            return Err(GenError::at(
                span,
                format!("{name} is a value of {prefix}, not of {}", key.1),
            ));
        }
        if !e.values.iter().any(|v| v.name == value_name) {
            return Err(GenError::at(
                span,
                format!("enum {prefix} has no value {value_name}"),
            ));
        }
        let path = self.path(from, fid, names::type_ident(&e.name));
        let value = names::const_ident(value_name);
        Ok(quote!(#path::#value))
    }

    #[allow(clippy::too_many_arguments)]
    fn struct_literal(
        &self,
        from: FileId,
        vfile: FileId,
        key: &(FileId, String),
        kind: StructKind,
        entries: &[(ConstValue, ConstValue)],
        span: &Span,
        depth: u32,
    ) -> Result<TokenStream, GenError> {
        let Some((sfid, Definition::Struct(s))) = self.src.lookup(key.0, &key.1) else {
            return Err(GenError::at(span, format!("unknown struct {}", key.1)));
        };
        let path = self.path(from, sfid, names::type_ident(&s.name));
        let mut given = Vec::new();
        for (k, v) in entries {
            let ConstValue::String(fname) = k else {
                return Err(GenError::at(
                    span,
                    "a struct constant's keys are field names",
                ));
            };
            let field =
                s.fields.iter().find(|f| &f.name == fname).ok_or_else(|| {
                    GenError::at(span, format!("{} has no field {fname}", s.name))
                })?;
            given.push((field, v));
        }
        if kind == StructKind::Union {
            let [(field, v)] = given.as_slice() else {
                return Err(GenError::at(
                    span,
                    format!("union {} takes exactly one field", s.name),
                ));
            };
            let ft = self.resolve(sfid, &field.ty)?;
            let mut val = self.const_expr_depth(from, vfile, &ft, v, span, depth + 1)?;
            if self.is_boxed(key, field.id) {
                let bx = self.std(from, "Box");
                val = quote!(#bx::new(#val));
            }
            let variant = names::type_ident(&field.name);
            return Ok(quote!(#path::#variant(#val)));
        }
        let mut inits = Vec::new();
        for field in &s.fields {
            let ident = names::field_ident(&field.name);
            let ft = self.resolve(sfid, &field.ty)?;
            let repr = self.field_repr(key, field, &ft);
            let value = given
                .iter()
                .find(|(f, _)| f.id == field.id)
                .map(|(_, v)| *v);
            let expr = match value {
                Some(v) => {
                    let mut val = self.const_expr_depth(from, vfile, &ft, v, span, depth + 1)?;
                    if repr.boxed {
                        let bx = self.std(from, "Box");
                        val = quote!(#bx::new(#val));
                    }
                    if repr.option {
                        let some = self.std(from, "Some");
                        val = quote!(#some(#val));
                    }
                    val
                }
                None => self.field_default(from, sfid, field, &ft, &repr)?,
            };
            inits.push(quote!(#ident: #expr));
        }
        Ok(quote!(#path { #(#inits),* }))
    }
}

fn int_in(value: &ConstValue, min: i64, max: i64, span: &Span) -> Result<i64, GenError> {
    let v = match value {
        ConstValue::Int(i) => *i,
        ConstValue::Bool(b) => i64::from(*b),
        _ => unreachable!("only integers are checked"),
    };
    if v < min || v > max {
        return Err(GenError::at(
            span,
            format!("{v} is out of range ({min} to {max})"),
        ));
    }
    Ok(v)
}

fn describe(t: &Ty) -> String {
    match t {
        Ty::Bool => "bool".into(),
        Ty::I8 => "i8".into(),
        Ty::I16 => "i16".into(),
        Ty::I32 => "i32".into(),
        Ty::I64 => "i64".into(),
        Ty::Double => "double".into(),
        Ty::String => "string".into(),
        Ty::Binary => "binary".into(),
        Ty::Uuid => "uuid".into(),
        Ty::List(e) => format!("list<{}>", describe(e)),
        Ty::Set(e) => format!("set<{}>", describe(e)),
        Ty::Map(k, v) => format!("map<{}, {}>", describe(k), describe(v)),
        Ty::Enum((_, n)) | Ty::Struct((_, n), _) => n.clone(),
    }
}

fn describe_value(v: &ConstValue) -> &'static str {
    match v {
        ConstValue::Int(_) => "an integer",
        ConstValue::Double(_) => "a double",
        ConstValue::String(_) => "a string",
        ConstValue::Bool(_) => "a bool",
        ConstValue::Identifier(..) => "a name",
        ConstValue::List(_) => "a list",
        ConstValue::Map(_) => "a map",
    }
}

/// The 16 bytes of a UUID written as 32 hex digits, with or without dashes and braces.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s
        .trim_matches(|c| c == '{' || c == '}')
        .bytes()
        .filter(|b| *b != b'-')
        .collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Whether `t` is written as a `TypeRef` that needs no resolution to know it is constant.
#[allow(dead_code)]
pub(crate) fn is_container(t: &TypeRef) -> bool {
    matches!(t, TypeRef::List(_) | TypeRef::Set(_) | TypeRef::Map(..))
}
