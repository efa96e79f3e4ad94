//! Services: the handler trait, the error of each method that declares exceptions, the
//! arguments and result structs, the server that dispatches calls to a handler, and the typed
//! client.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use super::{
    FileId, GenError,
    codec::{Codec, Place},
    model::{Model, docs},
    names,
};
use crate::thrift::ast::{Definition, Field, Function, Requiredness, Service, Struct, StructKind};

/// One function of a service, as generated code refers to it from some file.
struct Method<'a> {
    /// The file of the service that declares it.
    file: FileId,
    service: &'a Service,
    function: &'a Function,
}

impl Method<'_> {
    fn prefix(&self) -> String {
        format!(
            "{}{}",
            names::camel(&self.service.name),
            names::camel(&self.function.name)
        )
    }
}

impl<'a> Model<'a> {
    /// The services this one extends, base first, then itself.
    fn service_chain(
        &self,
        file: FileId,
        service: &'a Service,
    ) -> Result<Vec<(FileId, &'a Service)>, GenError> {
        let mut chain = vec![(file, service)];
        let (mut fid, mut current) = (file, service);
        while let Some((base, span)) = &current.extends {
            match self.lookup(fid, base, span)? {
                (bfid, Definition::Service(b)) => {
                    if chain.iter().any(|(f, s)| *f == bfid && s.name == b.name) {
                        return Err(GenError::at(span, format!("service {base} extends itself")));
                    }
                    chain.push((bfid, b));
                    (fid, current) = (bfid, b);
                }
                (_, other) => {
                    return Err(GenError::at(
                        span,
                        format!("{base} is a {}, not a service", other.kind_name()),
                    ));
                }
            }
        }
        chain.reverse();
        Ok(chain)
    }

    /// Everything generated for `service` of file `from`.
    pub(crate) fn gen_service(
        &self,
        from: FileId,
        service: &'a Service,
    ) -> Result<TokenStream, GenError> {
        let mut out = TokenStream::new();
        let own: Vec<Method<'_>> = service
            .functions
            .iter()
            .map(|function| Method {
                file: from,
                service,
                function,
            })
            .collect();
        for m in &own {
            out.extend(self.gen_args(m)?);
            out.extend(self.gen_result(m)?);
            if !m.function.throws.is_empty() {
                out.extend(self.gen_error(m)?);
            }
        }
        let chain = self.service_chain(from, service)?;
        let all: Vec<Method<'_>> = chain
            .iter()
            .flat_map(|(fid, s)| {
                s.functions.iter().map(|function| Method {
                    file: *fid,
                    service: s,
                    function,
                })
            })
            .collect();
        out.extend(self.gen_trait(from, service, &own, chain.len() > 1)?);
        out.extend(self.gen_server(from, service, &all)?);
        out.extend(self.gen_client(from, service, &all)?);
        Ok(out)
    }

    fn item_path(&self, from: FileId, m: &Method<'_>, suffix: &str) -> TokenStream {
        self.path(from, m.file, format_ident!("{}{}", m.prefix(), suffix))
    }

    fn trait_path(&self, from: FileId, file: FileId, service: &Service) -> TokenStream {
        self.path(from, file, names::type_ident(&service.name))
    }

    fn gen_args(&self, m: &Method<'_>) -> Result<TokenStream, GenError> {
        let s = Struct {
            kind: StructKind::Struct,
            name: format!("{}Args", m.prefix()),
            fields: m.function.args.clone(),
            annotations: Default::default(),
            doc: None,
            span: m.function.span.clone(),
        };
        self.gen_struct(
            m.file,
            &s,
            &format!("The arguments of `{}.{}`.", m.service.name, m.function.name),
            true,
        )
    }

    /// The return type of the handler's method (`()` for void).
    fn return_type(&self, from: FileId, m: &Method<'_>) -> Result<TokenStream, GenError> {
        match &m.function.returns {
            Some(t) => self.rust_type(from, t),
            None => Ok(quote!(())),
        }
    }

    /// The result struct: field 0 is the return value, the others the declared exceptions.
    fn gen_result(&self, m: &Method<'_>) -> Result<TokenStream, GenError> {
        let from = m.file;
        let name = format_ident!("{}Result", m.prefix());
        let tt = self.rt("TType");
        let some = self.std(from, "Some");
        let mut codec = Codec::new(self, from);
        let mut variants = Vec::new();
        let mut enc_arms = Vec::new();
        let mut dec_arms = Vec::new();
        let void = m.function.returns.is_none();
        match &m.function.returns {
            Some(ret) => {
                let t = self.resolve(from, ret)?;
                let ty = self.rust_type(from, ret)?;
                variants.push(quote!(Success(#ty)));
                let ttv = t.ttype();
                let body = codec.encode(&t, Place::Ref(quote!(v)), false);
                enc_arms.push(quote! {
                    #name::Success(v) => {
                        w.write_field_begin(#tt::#ttv, 0);
                        #body
                    }
                });
                let value = codec.decode(&t);
                dec_arms.push(quote!((#tt::#ttv, 0) => out = #some(#name::Success(#value)),));
            }
            None => {
                variants.push(quote!(Success));
                enc_arms.push(quote!(#name::Success => {}));
            }
        }
        for ex in &m.function.throws {
            let t = self.resolve(from, &ex.ty)?;
            let ty = self.rust_type(from, &ex.ty)?;
            let variant = self.exception_variant(ex);
            variants.push(quote!(#variant(#ty)));
            let ttv = t.ttype();
            let id = Literal::i16_unsuffixed(ex.id);
            let body = codec.encode(&t, Place::Ref(quote!(v)), false);
            enc_arms.push(quote! {
                #name::#variant(v) => {
                    w.write_field_begin(#tt::#ttv, #id);
                    #body
                }
            });
            let value = codec.decode(&t);
            dec_arms.push(quote!((#tt::#ttv, #id) => out = #some(#name::#variant(#value)),));
        }
        let empty = dec_arms.is_empty();
        let missing = if void && empty {
            quote!(Ok(#name::Success))
        } else if void {
            quote!(Ok(out.unwrap_or(#name::Success)))
        } else {
            let no_result = self.rt("missing_result");
            let fname = &m.function.name;
            quote!(out.ok_or_else(|| #no_result(#fname)))
        };
        let doc = format!(
            " The result of `{}.{}`: its return value (field 0) or a declared exception.",
            m.service.name, m.function.name
        );
        let enc = self.rt("ThriftEncode");
        let pw = self.rt("ProtocolWrite");
        let dec = self.rt("ThriftDecode");
        let pr = self.rt("ProtocolRead");
        let err = self.rt("DecodeError");
        let result = self.std(from, "Result");
        let option = self.std(from, "Option");
        let none = self.std(from, "None");
        let declare = if empty {
            TokenStream::new()
        } else {
            quote!(let mut out: #option<Self> = #none;)
        };
        Ok(quote! {
            #[doc = #doc]
            #[doc(hidden)]
            #[derive(Clone, Debug, PartialEq)]
            #[allow(clippy::large_enum_variant)]
            pub enum #name {
                #(#variants,)*
            }

            impl #enc for #name {
                #[inline]
                fn encode<W: #pw>(&self, w: &mut W) {
                    w.write_struct_begin();
                    match self {
                        #(#enc_arms)*
                    }
                    w.write_field_stop();
                    w.write_struct_end();
                }
            }

            impl #dec for #name {
                fn decode<R: #pr>(r: &mut R) -> #result<Self, #err> {
                    #declare
                    r.read_struct_begin()?;
                    loop {
                        match r.read_field_begin()? {
                            (#tt::Stop, _) => break,
                            #(#dec_arms)*
                            (ty, _) => r.skip(ty)?,
                        }
                    }
                    r.read_struct_end();
                    #missing
                }
            }
        })
    }

    fn exception_variant(&self, ex: &Field) -> Ident {
        let name = names::camel(&ex.name);
        if name == "Status" {
            format_ident!("StatusException")
        } else {
            names::ident(&name)
        }
    }

    /// `{Method}Error`: a declared exception or a status.
    fn gen_error(&self, m: &Method<'_>) -> Result<TokenStream, GenError> {
        let from = m.file;
        let name = format_ident!("{}Error", names::camel(&m.function.name));
        let name = self.error_ident(m, name);
        let status = self.rt("Status");
        let mut variants = Vec::new();
        let mut display = Vec::new();
        let mut sources = Vec::new();
        let mut froms = Vec::new();
        for ex in &m.function.throws {
            let ty = self.rust_type(from, &ex.ty)?;
            let variant = self.exception_variant(ex);
            let doc = format!(" `{}: {} {}`", ex.id, ex.ty, ex.name);
            variants.push(quote!(#[doc = #doc] #variant(#ty)));
            display.push(quote!(#name::#variant(e) => ::std::fmt::Display::fmt(e, f),));
            sources.push(quote!(#name::#variant(e) => Some(e),));
            let same_type = m.function.throws.iter().filter(|o| o.ty == ex.ty).count();
            if same_type == 1 {
                froms.push(quote! {
                    impl ::std::convert::From<#ty> for #name {
                        fn from(e: #ty) -> Self {
                            #name::#variant(e)
                        }
                    }
                });
            }
        }
        let doc = format!(
            " The error of `{}.{}`: one of its declared exceptions, or a status for any other failure.",
            m.service.name, m.function.name
        );
        Ok(quote! {
            #[doc = #doc]
            #[derive(Debug)]
            #[allow(clippy::large_enum_variant)]
            pub enum #name {
                #(#variants,)*
                /// Any failure the IDL does not declare.
                Status(#status),
            }

            impl ::std::convert::From<#status> for #name {
                fn from(s: #status) -> Self {
                    #name::Status(s)
                }
            }

            #(#froms)*

            impl ::std::fmt::Display for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    match self {
                        #(#display)*
                        #name::Status(s) => ::std::fmt::Display::fmt(s, f),
                    }
                }
            }

            impl ::std::error::Error for #name {
                fn source(&self) -> ::std::option::Option<&(dyn ::std::error::Error + 'static)> {
                    match self {
                        #(#sources)*
                        #name::Status(s) => Some(s),
                    }
                }
            }
        })
    }

    /// `{Method}Error`, or `{Service}{Method}Error` when two services of the file have a
    /// method of the same name that throws.
    fn error_ident(&self, m: &Method<'_>, plain: Ident) -> Ident {
        let doc = self.src.document(m.file);
        let clash = doc.definitions.iter().any(|d| match d {
            Definition::Service(s) => {
                s.name != m.service.name
                    && s.functions
                        .iter()
                        .any(|f| f.name == m.function.name && !f.throws.is_empty())
            }
            other => plain == names::camel(other.name()),
        });
        if clash {
            format_ident!("{}Error", m.prefix())
        } else {
            plain
        }
    }

    fn error_path(&self, from: FileId, m: &Method<'_>) -> TokenStream {
        let plain = format_ident!("{}Error", names::camel(&m.function.name));
        self.path(from, m.file, self.error_ident(m, plain))
    }

    /// The handler's parameters: `(name, type)` per argument.
    fn params(
        &self,
        from: FileId,
        m: &Method<'_>,
    ) -> Result<Vec<(Ident, TokenStream, bool)>, GenError> {
        let key = (m.file, format!("{}Args", m.prefix()));
        m.function
            .args
            .iter()
            .map(|a| {
                let mut ident = names::field_ident(&a.name);
                if ident == "cx" {
                    ident = format_ident!("cx_");
                }
                let t = self.resolve(m.file, &a.ty)?;
                let boxed = self.is_boxed(&key, a.id);
                let option = boxed
                    || a.requiredness == Requiredness::Optional
                    || (a.requiredness == Requiredness::Default && !self.ty_default(&t));
                let mut ty = self.rust_type(from, &a.ty)?;
                if boxed {
                    let bx = self.std(from, "Box");
                    ty = quote!(#bx<#ty>);
                }
                if option {
                    let opt = self.std(from, "Option");
                    ty = quote!(#opt<#ty>);
                }
                let string = !option && t == super::model::Ty::String;
                Ok((ident, ty, string))
            })
            .collect()
    }

    fn method_output(&self, from: FileId, m: &Method<'_>) -> Result<TokenStream, GenError> {
        let ret = self.return_type(from, m)?;
        let result = self.std(from, "Result");
        if m.function.throws.is_empty() {
            let status = self.rt("Status");
            Ok(quote!(#result<#ret, #status>))
        } else {
            let err = self.error_path(from, m);
            Ok(quote!(#result<#ret, #err>))
        }
    }

    fn signature_doc(m: &Method<'_>) -> String {
        let f = m.function;
        let args: Vec<String> = f
            .args
            .iter()
            .map(|a| format!("{}: {} {}", a.id, a.ty, a.name))
            .collect();
        let ret = f
            .returns
            .as_ref()
            .map_or("void".to_string(), |t| t.to_string());
        let oneway = if f.oneway { "oneway " } else { "" };
        let throws = if f.throws.is_empty() {
            String::new()
        } else {
            let t: Vec<String> = f
                .throws
                .iter()
                .map(|a| format!("{}: {} {}", a.id, a.ty, a.name))
                .collect();
            format!(" throws ({})", t.join(", "))
        };
        format!("`{oneway}{ret} {}({}){throws}`", f.name, args.join(", "))
    }

    fn gen_trait(
        &self,
        from: FileId,
        service: &Service,
        own: &[Method<'_>],
        extends: bool,
    ) -> Result<TokenStream, GenError> {
        let name = names::type_ident(&service.name);
        let context = self.rt("Context");
        let send = self.std(from, "Send");
        let sync = self.std(from, "Sync");
        let mut methods = Vec::new();
        for m in own {
            let fname = names::field_ident(&m.function.name);
            let params = self.params(from, m)?;
            let ps = params.iter().map(|(i, t, _)| quote!(#i: #t));
            let output = self.method_output(from, m)?;
            let doc = docs(m.function.doc.as_deref(), &Self::signature_doc(m));
            let allow = (params.len() > 5).then(|| quote!(#[allow(clippy::too_many_arguments)]));
            methods.push(quote! {
                #doc
                #allow
                fn #fname(&self, cx: &mut #context #(, #ps)*)
                    -> impl ::std::future::Future<Output = #output> + #send;
            });
        }
        let base = if extends {
            let (file, base) = match &service.extends {
                Some((b, span)) => match self.lookup(from, b, span)? {
                    (fid, Definition::Service(s)) => (fid, s),
                    _ => unreachable!("checked by service_chain"),
                },
                None => unreachable!("extends"),
            };
            let path = self.trait_path(from, file, base);
            quote!(#path +)
        } else {
            TokenStream::new()
        };
        let doc = docs(
            service.doc.as_deref(),
            &format!("The `{}` service, implemented by a handler.", service.name),
        );
        Ok(quote! {
            #doc
            pub trait #name: #base #send + #sync + 'static {
                #(#methods)*
            }
        })
    }

    fn gen_server(
        &self,
        from: FileId,
        service: &Service,
        all: &[Method<'_>],
    ) -> Result<TokenStream, GenError> {
        let name = names::type_ident(&service.name);
        let server = format_ident!("{}Server", names::camel(&service.name));
        let idl_name = &service.name;
        let arc = self.rt("Arc");
        let svc = self.rt("Service");
        let req_t = self.rt("ThriftRequest");
        let resp_t = self.rt("ThriftResponse");
        let context = self.rt("Context");
        let status = self.rt("Status");
        let named = self.rt("NamedService");
        let result = self.std(from, "Result");
        let mut arms = Vec::new();
        let mut method_names = Vec::new();
        for m in all {
            let fname = &m.function.name;
            method_names.push(quote!(#fname));
            let args_t = self.item_path(from, m, "Args");
            let result_t = self.item_path(from, m, "Result");
            let trait_path = self.trait_path(from, m.file, m.service);
            let method = names::field_ident(&m.function.name);
            let args = m.function.args.iter().map(|a| {
                let f = names::field_ident(&a.name);
                quote!(args.#f)
            });
            let decode = if m.function.args.is_empty() {
                quote!(let _: #args_t = req.decode()?;)
            } else {
                quote!(let args: #args_t = req.decode()?;)
            };
            let call = quote!(#trait_path::#method(&*self.handler, cx #(, #args)*).await);
            let body = if m.function.oneway {
                quote! {
                    #call?;
                    Ok(#resp_t::empty(protocol))
                }
            } else if m.function.throws.is_empty() {
                if m.function.returns.is_some() {
                    quote! {
                        let ret = #call?;
                        Ok(#resp_t::new(protocol, &#result_t::Success(ret)))
                    }
                } else {
                    quote! {
                        #call?;
                        Ok(#resp_t::new(protocol, &#result_t::Success))
                    }
                }
            } else {
                let err_t = self.error_path(from, m);
                let ok = if m.function.returns.is_some() {
                    quote!(Ok(v) => #result_t::Success(v),)
                } else {
                    quote!(Ok(()) => #result_t::Success,)
                };
                let ex_arms = m.function.throws.iter().map(|ex| {
                    let v = self.exception_variant(ex);
                    quote!(Err(#err_t::#v(e)) => #result_t::#v(e),)
                });
                quote! {
                    let result = match #call {
                        #ok
                        #(#ex_arms)*
                        Err(#err_t::Status(s)) => return Err(s),
                    };
                    Ok(#resp_t::new(protocol, &result))
                }
            };
            arms.push(quote! {
                #fname => {
                    #decode
                    #body
                }
            });
        }
        let unknown = format!("service {idl_name} has no method {{}}");
        let doc = format!(
            " Serves a [`{idl_name}`] handler: calls are decoded, dispatched by method name, and \
             their results encoded. Add it to a `rookery::Router` or serve it directly."
        );
        Ok(quote! {
            #[doc = #doc]
            pub struct #server<H> {
                handler: #arc<H>,
            }

            impl<H> #server<H> {
                /// Serves `handler`.
                pub fn new(handler: H) -> Self {
                    #server { handler: #arc::new(handler) }
                }

                /// Serves a handler that is shared with other code.
                pub fn from_arc(handler: #arc<H>) -> Self {
                    #server { handler }
                }

                /// The handler.
                pub fn handler(&self) -> &#arc<H> {
                    &self.handler
                }
            }

            impl<H> ::std::clone::Clone for #server<H> {
                fn clone(&self) -> Self {
                    #server { handler: #arc::clone(&self.handler) }
                }
            }

            impl<H> ::std::fmt::Debug for #server<H> {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(stringify!(#server))
                }
            }

            impl<H: #name> #svc<#req_t> for #server<H> {
                type Response = #resp_t;

                async fn call(&self, cx: &mut #context, req: #req_t) -> #result<#resp_t, #status> {
                    let protocol = req.protocol;
                    match &*req.method {
                        #(#arms)*
                        other => Err(#status::unimplemented(format!(#unknown, other))),
                    }
                }
            }

            impl<H: #name> #named for #server<H> {
                const NAME: &'static str = #idl_name;
                const METHODS: &'static [&'static str] = &[#(#method_names),*];
            }
        })
    }

    fn gen_client(
        &self,
        from: FileId,
        service: &Service,
        all: &[Method<'_>],
    ) -> Result<TokenStream, GenError> {
        let client = format_ident!("{}Client", names::camel(&service.name));
        let idl_name = &service.name;
        let client_t = self.rt("Client");
        let protocol_t = self.rt("Protocol");
        let svc = self.rt("Service");
        let req_t = self.rt("ThriftRequest");
        let resp_t = self.rt("ThriftResponse");
        let context = self.rt("Context");
        let fast = self.rt("FastStr");
        let reply_error = self.rt("reply_error");
        let into = self.std(from, "Into");
        let mut methods = Vec::new();
        for m in all {
            let fname = &m.function.name;
            let method = client_method(&m.function.name);
            let params = self.params(from, m)?;
            let ps = params.iter().map(|(i, t, string)| {
                if *string {
                    quote!(#i: impl #into<#fast>)
                } else {
                    quote!(#i: #t)
                }
            });
            let inits = m
                .function
                .args
                .iter()
                .zip(&params)
                .map(|(a, (i, _, string))| {
                    let f = names::field_ident(&a.name);
                    if *string {
                        quote!(#f: #i.into())
                    } else if f == *i {
                        quote!(#f)
                    } else {
                        quote!(#f: #i)
                    }
                });
            let args_t = self.item_path(from, m, "Args");
            let result_t = self.item_path(from, m, "Result");
            let output = self.method_output(from, m)?;
            let doc = docs(m.function.doc.as_deref(), &Self::signature_doc(m));
            let allow = (params.len() > 5).then(|| quote!(#[allow(clippy::too_many_arguments)]));
            let build = quote! {
                let args = #args_t { #(#inits,)* };
                let req = #req_t::new(#fast::from_static_str(#fname), self.protocol, &args);
            };
            let body = if m.function.oneway {
                quote! {
                    #build
                    self.inner.call(cx, req.oneway()).await.map(|_| ())
                }
            } else {
                let mut arms = Vec::new();
                if m.function.returns.is_some() {
                    arms.push(quote!(Ok(#result_t::Success(v)) => Ok(v),));
                } else {
                    arms.push(quote!(Ok(#result_t::Success) => Ok(()),));
                }
                let err_conv = if m.function.throws.is_empty() {
                    quote!(Err(#reply_error(#fname, e)))
                } else {
                    let err_t = self.error_path(from, m);
                    for ex in &m.function.throws {
                        let v = self.exception_variant(ex);
                        arms.push(quote!(Ok(#result_t::#v(e)) => Err(#err_t::#v(e)),));
                    }
                    quote!(Err(#err_t::Status(#reply_error(#fname, e))))
                };
                quote! {
                    #build
                    let resp = self.inner.call(cx, req).await?;
                    match resp.decode::<#result_t>() {
                        #(#arms)*
                        Err(e) => #err_conv,
                    }
                }
            };
            methods.push(quote! {
                #doc
                #allow
                pub async fn #method(&self, cx: &mut #context #(, #ps)*) -> #output {
                    #body
                }
            });
        }
        let doc = format!(
            " A typed client of `{idl_name}`, over any service that carries Thrift calls: a \
             `rookery::Client`, a balanced client, or either wrapped in layers."
        );
        Ok(quote! {
            #[doc = #doc]
            #[derive(Clone, Debug)]
            pub struct #client<S = #client_t> {
                inner: S,
                protocol: #protocol_t,
            }

            impl #client<#client_t> {
                /// A typed client over `client`, in the protocol it speaks.
                pub fn new(client: #client_t) -> Self {
                    let protocol = client.protocol();
                    #client { inner: client, protocol }
                }
            }

            impl<S> #client<S> {
                /// A typed client over any Thrift service stack that speaks `protocol`.
                pub fn with_service(inner: S, protocol: #protocol_t) -> Self {
                    #client { inner, protocol }
                }

                /// The service calls go through.
                pub fn inner(&self) -> &S {
                    &self.inner
                }

                /// The protocol arguments are encoded in.
                pub fn protocol(&self) -> #protocol_t {
                    self.protocol
                }
            }

            impl<S: #svc<#req_t, Response = #resp_t>> #client<S> {
                #(#methods)*
            }
        })
    }
}

/// The client's method for an IDL function: its snake-case name, with a `_` appended when
/// the client already has a method of that name.
fn client_method(name: &str) -> Ident {
    let snake = names::snake(name);
    if ["new", "with_service", "inner", "protocol", "clone", "fmt"].contains(&snake.as_str()) {
        format_ident!("{snake}_")
    } else {
        names::field_ident(name)
    }
}
