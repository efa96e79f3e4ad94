//! The encode and decode code of one value, written out per type: no dynamic dispatch, no
//! helper traits between a field and the protocol.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{
    FileId,
    model::{Model, Ty},
};

/// Where the value to encode is.
#[derive(Clone)]
pub(crate) enum Place {
    /// A place of type `T` (`self.name`).
    Owned(TokenStream),
    /// A binding of type `&T`.
    Ref(TokenStream),
}

impl Place {
    fn by_ref(&self) -> TokenStream {
        match self {
            Place::Owned(e) => quote!(&#e),
            Place::Ref(e) => e.clone(),
        }
    }

    /// The place itself, for method calls (which borrow as needed).
    fn inner(&self) -> TokenStream {
        match self {
            Place::Owned(e) | Place::Ref(e) => e.clone(),
        }
    }

    fn copied(&self) -> TokenStream {
        match self {
            Place::Owned(e) => e.clone(),
            Place::Ref(e) => quote!(*#e),
        }
    }
}

/// Writes values; `depth` names the bindings of nested loops apart.
pub(crate) struct Codec<'m, 'a> {
    pub(crate) model: &'m Model<'a>,
    pub(crate) from: FileId,
    depth: usize,
}

impl<'m, 'a> Codec<'m, 'a> {
    pub(crate) fn new(model: &'m Model<'a>, from: FileId) -> Self {
        Codec {
            model,
            from,
            depth: 0,
        }
    }

    /// A name for a binding at the current nesting depth (nested loops are nested scopes,
    /// so siblings may reuse names).
    fn name(&self, prefix: &str) -> Ident {
        format_ident!("{prefix}{}", self.depth)
    }

    fn ttype(&self, t: &Ty) -> TokenStream {
        let tt = self.model.rt("TType");
        let v = t.ttype();
        quote!(#tt::#v)
    }

    /// Statements writing the value at `place` of type `t` (boxed: the place holds a
    /// `Box<T>` behind a reference).
    pub(crate) fn encode(&mut self, t: &Ty, place: Place, boxed: bool) -> TokenStream {
        match t {
            Ty::Bool => {
                let v = place.copied();
                quote!(w.write_bool(#v);)
            }
            Ty::I8 => {
                let v = place.copied();
                quote!(w.write_i8(#v);)
            }
            Ty::I16 => {
                let v = place.copied();
                quote!(w.write_i16(#v);)
            }
            Ty::I32 => {
                let v = place.copied();
                quote!(w.write_i32(#v);)
            }
            Ty::I64 => {
                let v = place.copied();
                quote!(w.write_i64(#v);)
            }
            Ty::Double => {
                let v = place.copied();
                quote!(w.write_double(#v);)
            }
            Ty::String => {
                let v = place.by_ref();
                quote!(w.write_string(#v);)
            }
            Ty::Binary => {
                let v = place.by_ref();
                quote!(w.write_binary(#v);)
            }
            Ty::Uuid => {
                let v = place.by_ref();
                quote!(w.write_uuid(#v);)
            }
            Ty::Enum(_) => {
                let v = match &place {
                    Place::Owned(e) => quote!(#e.0),
                    Place::Ref(e) => quote!(#e.0),
                };
                quote!(w.write_i32(#v);)
            }
            Ty::Struct(..) => {
                let enc = self.model.rt("ThriftEncode");
                let v = if boxed {
                    match &place {
                        Place::Owned(e) => quote!(&*#e),
                        Place::Ref(e) => quote!(&**#e),
                    }
                } else {
                    place.by_ref()
                };
                quote!(#enc::encode(#v, w);)
            }
            Ty::List(e) | Ty::Set(e) => {
                let begin = if matches!(t, Ty::List(_)) {
                    quote!(write_list_begin)
                } else {
                    quote!(write_set_begin)
                };
                let tt = self.ttype(e);
                let coll = place.by_ref();
                let len = place.inner();
                let item = self.name("v");
                self.depth += 1;
                let body = self.encode(e, Place::Ref(quote!(#item)), false);
                self.depth -= 1;
                quote! {
                    w.#begin(#tt, #len.len());
                    for #item in #coll {
                        #body
                    }
                }
            }
            Ty::Map(k, v) => {
                let kt = self.ttype(k);
                let vt = self.ttype(v);
                let coll = place.by_ref();
                let len = place.inner();
                let key = self.name("k");
                let val = self.name("v");
                self.depth += 1;
                let kb = self.encode(k, Place::Ref(quote!(#key)), false);
                let vb = self.encode(v, Place::Ref(quote!(#val)), false);
                self.depth -= 1;
                quote! {
                    w.write_map_begin(#kt, #vt, #len.len());
                    for (#key, #val) in #coll {
                        #kb
                        #vb
                    }
                }
            }
        }
    }

    /// An expression decoding one value of type `t` (propagating errors with `?`).
    pub(crate) fn decode(&mut self, t: &Ty) -> TokenStream {
        match t {
            Ty::Bool => quote!(r.read_bool()?),
            Ty::I8 => quote!(r.read_i8()?),
            Ty::I16 => quote!(r.read_i16()?),
            Ty::I32 => quote!(r.read_i32()?),
            Ty::I64 => quote!(r.read_i64()?),
            Ty::Double => quote!(r.read_double()?),
            Ty::String => quote!(r.read_string()?),
            Ty::Binary => quote!(r.read_binary()?),
            Ty::Uuid => quote!(r.read_uuid()?),
            Ty::Enum(_) => {
                let path = self.model.rust_ty(self.from, t);
                quote!(#path(r.read_i32()?))
            }
            Ty::Struct(..) => {
                let path = self.model.rust_ty(self.from, t);
                let dec = self.model.rt("ThriftDecode");
                quote!(<#path as #dec>::decode(r)?)
            }
            Ty::List(e) | Ty::Set(e) => {
                let list = matches!(t, Ty::List(_));
                let (begin, end) = if list {
                    (quote!(read_list_begin), quote!(read_list_end))
                } else {
                    (quote!(read_set_begin), quote!(read_set_end))
                };
                let hashed = !list && self.model.ty_hashable(e);
                let new = if hashed {
                    self.model.rt("new_set")
                } else {
                    self.model.rt("new_vec")
                };
                let add = if hashed { quote!(insert) } else { quote!(push) };
                let tt = self.ttype(e);
                let check = self.model.rt("check_element");
                let out = self.name("out");
                let len = self.name("len");
                self.depth += 1;
                let elem = self.decode(e);
                self.depth -= 1;
                quote! {{
                    let (ty, #len) = r.#begin()?;
                    #check(ty, #tt, #len)?;
                    let mut #out = #new(#len);
                    for _ in 0..#len {
                        #out.#add(#elem);
                    }
                    r.#end();
                    #out
                }}
            }
            Ty::Map(k, v) => {
                let hashed = self.model.ty_hashable(k);
                let new = if hashed {
                    self.model.rt("new_map")
                } else {
                    self.model.rt("new_vec")
                };
                let kt = self.ttype(k);
                let vt = self.ttype(v);
                let check = self.model.rt("check_entry");
                let out = self.name("out");
                let len = self.name("len");
                let key = self.name("k");
                self.depth += 1;
                let kd = self.decode(k);
                let vd = self.decode(v);
                self.depth -= 1;
                let add = if hashed {
                    quote!(#out.insert(#key, #vd);)
                } else {
                    quote!(#out.push((#key, #vd));)
                };
                quote! {{
                    let (kt, vt, #len) = r.read_map_begin()?;
                    #check(kt, vt, #kt, #vt, #len)?;
                    let mut #out = #new(#len);
                    for _ in 0..#len {
                        let #key = #kd;
                        #add
                    }
                    r.read_map_end();
                    #out
                }}
            }
        }
    }
}
