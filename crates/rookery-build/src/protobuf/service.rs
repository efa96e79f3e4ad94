//! Services: a handler trait, static method descriptions, a server that decodes requests and
//! calls the handler, and a typed client over any service that carries encoded requests.

use heck::ToShoutySnakeCase;
use prost_types::{MethodDescriptorProto, ServiceDescriptorProto};

use super::{
    code::Code,
    generate::FileContext,
    names::{camel, snake, string_literal},
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unary,
    ClientStreaming,
    ServerStreaming,
    BidiStreaming,
}

impl Kind {
    fn of(m: &MethodDescriptorProto) -> Kind {
        match (m.client_streaming(), m.server_streaming()) {
            (false, false) => Kind::Unary,
            (true, false) => Kind::ClientStreaming,
            (false, true) => Kind::ServerStreaming,
            (true, true) => Kind::BidiStreaming,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Unary => "Unary",
            Kind::ClientStreaming => "ClientStreaming",
            Kind::ServerStreaming => "ServerStreaming",
            Kind::BidiStreaming => "BidiStreaming",
        }
    }
}

struct Method<'a> {
    desc: &'a MethodDescriptorProto,
    ident: String,
    const_ident: String,
    kind: Kind,
    request: String,
    response: String,
    path: Vec<i32>,
}

impl FileContext<'_> {
    pub(crate) fn service(
        &self,
        code: &mut Code,
        service: &ServiceDescriptorProto,
        module: &[String],
        path: &[i32],
    ) {
        let c = self.codegen;
        let name = service.name();
        let full = if self.package.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.package)
        };
        let trait_ident = camel(name);
        let server = format!("{trait_ident}Server");
        let client = format!("{trait_ident}Client");
        let descriptors = snake(&format!("{name}Descriptor"));
        // Types are named from the package module; the descriptor module is one deeper.
        let methods: Vec<Method<'_>> = service
            .method
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let mut mpath = path.to_vec();
                mpath.extend([2, i as i32]);
                Method {
                    desc: m,
                    ident: snake(m.name()),
                    const_ident: m.name().to_shouty_snake_case(),
                    kind: Kind::of(m),
                    request: self.types.path(module, m.input_type()),
                    response: self.types.path(module, m.output_type()),
                    path: mpath,
                }
            })
            .collect();
        let ctx = format!("{c}::Context");
        let status = format!("{c}::Status");
        let result = |t: &str| format!("::core::result::Result<{t}, {status}>");

        // Static descriptions.
        code.line(format!(
            "/// What `{full}` and its methods are, for transports: names, gRPC paths, kinds."
        ));
        code.open(format!("pub mod {descriptors} {{"));
        code.line(format!("/// `{full}`."));
        code.line(format!(
            "pub const SERVICE: {c}::ServiceDescriptor = {c}::ServiceDescriptor {{ name: {}, package: {}, methods: &METHODS }};",
            string_literal(&full),
            string_literal(self.package)
        ));
        code.line("/// Its methods, in the order the `.proto` declares them.");
        code.open(format!(
            "pub const METHODS: [{c}::MethodDescriptor; {}] = [",
            methods.len()
        ));
        for m in &methods {
            code.open(format!("{c}::MethodDescriptor {{"));
            code.line(format!("service: {},", string_literal(&full)));
            code.line(format!("name: {},", string_literal(m.desc.name())));
            code.line(format!(
                "path: {},",
                string_literal(&format!("/{full}/{}", m.desc.name()))
            ));
            code.line(format!("kind: {c}::MethodKind::{},", m.kind.name()));
            code.line(format!(
                "request: {},",
                string_literal(m.desc.input_type().trim_start_matches('.'))
            ));
            code.line(format!(
                "response: {},",
                string_literal(m.desc.output_type().trim_start_matches('.'))
            ));
            code.close_with("},");
        }
        code.close_with("];");
        for (i, m) in methods.iter().enumerate() {
            code.line(format!("/// `{}`.", m.desc.name()));
            code.line(format!(
                "pub const {}: &{c}::MethodDescriptor = &METHODS[{i}];",
                m.const_ident
            ));
        }
        code.close();

        // The handler trait.
        code.doc(self.comment(path));
        code.line(format!(
            "/// The handler of `{full}`: implement it, and serve it with [`{server}`]."
        ));
        code.open(format!(
            "pub trait {trait_ident}: ::core::marker::Send + ::core::marker::Sync + 'static {{"
        ));
        for m in &methods {
            code.doc(self.comment(&m.path));
            let (arg, out) = self.handler_types(m);
            code.line(format!(
                "fn {}(&self, cx: &mut {ctx}, {arg}) -> impl ::core::future::Future<Output = {}> + ::core::marker::Send;",
                m.ident,
                result(&out)
            ));
        }
        code.close();

        // The server.
        code.line(format!(
            "/// `{full}` served by a [`{trait_ident}`] handler: decodes requests, calls the handler, \
             encodes what it answers."
        ));
        code.line("///");
        code.line(format!(
            "/// It is a `Service<{c}::ProtoRequest>` for the unary methods and a \
             `Service<{c}::ProtoStreamRequest>` for all of them, the two contracts a Protobuf \
             transport serves."
        ));
        code.line("#[derive(Debug)]");
        code.open(format!("pub struct {server}<T> {{"));
        code.line("handler: ::std::sync::Arc<T>,");
        code.close();
        code.open(format!("impl<T> {server}<T> {{"));
        code.line("/// Serves `handler`.");
        code.line(format!(
            "pub fn new(handler: T) -> Self {{ {server} {{ handler: ::std::sync::Arc::new(handler) }} }}"
        ));
        code.line("/// Serves a handler that is shared with other code.");
        code.line(format!(
            "pub fn from_arc(handler: ::std::sync::Arc<T>) -> Self {{ {server} {{ handler }} }}"
        ));
        code.line("/// The handler.");
        code.line("pub fn handler(&self) -> &::std::sync::Arc<T> { &self.handler }");
        code.line("/// The description of the service, for transports.");
        code.line(format!(
            "pub const SERVICE: &'static {c}::ServiceDescriptor = &{descriptors}::SERVICE;"
        ));
        code.close();
        code.open(format!("impl<T> ::core::clone::Clone for {server}<T> {{"));
        code.line(format!(
            "fn clone(&self) -> Self {{ {server} {{ handler: ::std::sync::Arc::clone(&self.handler) }} }}"
        ));
        code.close();

        code.open(format!(
            "impl<T: {trait_ident}> {c}::Service<{c}::ProtoRequest> for {server}<T> {{"
        ));
        code.line(format!("type Response = {c}::ProtoResponse;"));
        // A service of streaming methods only answers every unary call UNIMPLEMENTED.
        let cx = if methods.iter().any(|m| m.kind == Kind::Unary) {
            "cx"
        } else {
            "_cx"
        };
        code.open(format!(
            "async fn call(&self, {cx}: &mut {ctx}, req: {c}::ProtoRequest) -> {} {{",
            result(&format!("{c}::ProtoResponse"))
        ));
        code.open("match req.method.path {");
        for m in methods.iter().filter(|m| m.kind == Kind::Unary) {
            code.open(format!(
                "{} => {{",
                string_literal(&format!("/{full}/{}", m.desc.name()))
            ));
            code.line(format!(
                "let request = <{} as {c}::ProtoMessage>::decode(req.body)?;",
                m.request
            ));
            code.line(format!(
                "let response = self.handler.{}(cx, request).await?;",
                m.ident
            ));
            code.line(format!(
                "Ok({c}::ProtoResponse {{ body: {c}::ProtoMessage::encode_to_bytes(&response) }})"
            ));
            code.close();
        }
        code.line(format!(
            "path => Err({status}::unimplemented(format!(\"{{path}} is not a unary method of {full}\"))),"
        ));
        code.close();
        code.close();
        code.close();

        code.open(format!(
            "impl<T: {trait_ident}> {c}::Service<{c}::ProtoStreamRequest> for {server}<T> {{"
        ));
        code.line(format!("type Response = {c}::Streaming<{c}::Bytes>;"));
        code.open(format!(
            "async fn call(&self, cx: &mut {ctx}, req: {c}::ProtoStreamRequest) -> {} {{",
            result(&format!("{c}::Streaming<{c}::Bytes>"))
        ));
        code.open("match req.method.path {");
        for m in &methods {
            code.open(format!(
                "{} => {{",
                string_literal(&format!("/{full}/{}", m.desc.name()))
            ));
            match m.kind {
                Kind::Unary | Kind::ServerStreaming => {
                    code.line("let body = req.messages.single().await?;");
                    code.line(format!(
                        "let request = <{} as {c}::ProtoMessage>::decode(body)?;",
                        m.request
                    ));
                }
                Kind::ClientStreaming | Kind::BidiStreaming => {
                    code.line(format!(
                        "let request = req.messages.decode::<{}>();",
                        m.request
                    ));
                }
            }
            code.line(format!(
                "let response = self.handler.{}(cx, request).await?;",
                m.ident
            ));
            match m.kind {
                Kind::Unary | Kind::ClientStreaming => code.line(format!(
                    "Ok({c}::Streaming::once({c}::ProtoMessage::encode_to_bytes(&response)))"
                )),
                Kind::ServerStreaming | Kind::BidiStreaming => {
                    code.line(format!("Ok({c}::Streaming::encode(response))"))
                }
            }
            code.close();
        }
        code.line(format!(
            "path => Err({status}::unimplemented(format!(\"{{path}} is not a method of {full}\"))),"
        ));
        code.close();
        code.close();
        code.close();

        // The client.
        code.line(format!(
            "/// A typed client of `{full}` over any service that carries encoded Protobuf calls \
             (a gRPC channel, or a [`{server}`] in the same process, either wrapped in layers)."
        ));
        code.line("///");
        code.line(format!(
            "/// Unary methods need `S: Service<{c}::ProtoRequest, Response = {c}::ProtoResponse>`; \
             streaming methods need `S: Service<{c}::ProtoStreamRequest, Response = {c}::Streaming<{c}::Bytes>>`."
        ));
        code.line("#[derive(Clone, Debug)]");
        code.open(format!("pub struct {client}<S> {{"));
        code.line("inner: S,");
        code.close();
        code.open(format!("impl<S> {client}<S> {{"));
        code.line("/// A client that sends its calls through `inner`.");
        code.line(format!(
            "pub fn new(inner: S) -> Self {{ {client} {{ inner }} }}"
        ));
        code.line("/// The service calls go through.");
        code.line("pub fn inner(&self) -> &S { &self.inner }");
        code.line("/// The service calls go through, taken back.");
        code.line("pub fn into_inner(self) -> S { self.inner }");
        code.close();

        let set_method = |code: &mut Code, m: &Method<'_>| {
            code.open("if cx.callee().method.is_empty() {");
            code.line(format!(
                "cx.callee_mut().method = {c}::FastStr::from_static_str({});",
                string_literal(m.desc.name())
            ));
            code.close();
        };
        let unary: Vec<&Method<'_>> = methods.iter().filter(|m| m.kind == Kind::Unary).collect();
        if !unary.is_empty() {
            code.open(format!(
                "impl<S: {c}::Service<{c}::ProtoRequest, Response = {c}::ProtoResponse>> {client}<S> {{"
            ));
            for m in unary {
                code.doc(self.comment(&m.path));
                code.open(format!(
                    "pub async fn {}(&self, cx: &mut {ctx}, request: {}) -> {} {{",
                    m.ident,
                    m.request,
                    result(&m.response)
                ));
                set_method(code, m);
                code.line(format!(
                    "let req = {c}::ProtoRequest {{ method: {descriptors}::{}, body: {c}::ProtoMessage::encode_to_bytes(&request) }};",
                    m.const_ident
                ));
                code.line("let response = self.inner.call(cx, req).await?;");
                code.line(format!(
                    "Ok(<{} as {c}::ProtoMessage>::decode(response.body)?)",
                    m.response
                ));
                code.close();
            }
            code.close();
        }
        let streaming: Vec<&Method<'_>> =
            methods.iter().filter(|m| m.kind != Kind::Unary).collect();
        if !streaming.is_empty() {
            code.open(format!(
                "impl<S: {c}::Service<{c}::ProtoStreamRequest, Response = {c}::Streaming<{c}::Bytes>>> {client}<S> {{"
            ));
            for m in streaming {
                let comment = self.comment(&m.path);
                code.doc(comment);
                if m.kind == Kind::BidiStreaming {
                    if comment.is_some() {
                        code.line("///");
                    }
                    code.line(
                        "/// Returns the response stream at once, without waiting for the server, which may send \
                         nothing until it has a request: `requests` may be fed after the call returns.",
                    );
                    code.line("/// A failure, before the first response or after, is the stream's last item.");
                }
                let (arg, out, messages) = match m.kind {
                    Kind::ServerStreaming => (
                        format!("request: {}", m.request),
                        format!("{c}::Streaming<{}>", m.response),
                        format!(
                            "{c}::Streaming::once({c}::ProtoMessage::encode_to_bytes(&request))"
                        ),
                    ),
                    _ => (
                        format!(
                            "requests: impl {c}::Stream<Item = {}> + ::core::marker::Send + 'static",
                            result(&m.request)
                        ),
                        if m.kind == Kind::BidiStreaming {
                            format!("{c}::Streaming<{}>", m.response)
                        } else {
                            m.response.clone()
                        },
                        format!("{c}::Streaming::encode(requests)"),
                    ),
                };
                code.open(format!(
                    "pub async fn {}(&self, cx: &mut {ctx}, {arg}) -> {} {{",
                    m.ident,
                    result(&out)
                ));
                set_method(code, m);
                code.line(format!(
                    "let req = {c}::ProtoStreamRequest {{ method: {descriptors}::{}, messages: {messages} }};",
                    m.const_ident
                ));
                code.line("let responses = self.inner.call(cx, req).await?;");
                if m.kind == Kind::ClientStreaming {
                    code.line(format!(
                        "Ok(<{} as {c}::ProtoMessage>::decode(responses.single().await?)?)",
                        m.response
                    ));
                } else {
                    code.line(format!("Ok(responses.decode::<{}>())", m.response));
                }
                code.close();
            }
            code.close();
        }
    }

    /// The handler method's request argument and response type.
    fn handler_types(&self, m: &Method<'_>) -> (String, String) {
        let c = self.codegen;
        match m.kind {
            Kind::Unary => (format!("request: {}", m.request), m.response.clone()),
            Kind::ServerStreaming => (
                format!("request: {}", m.request),
                format!("{c}::BoxStream<{}>", m.response),
            ),
            Kind::ClientStreaming => (
                format!("requests: {c}::Streaming<{}>", m.request),
                m.response.clone(),
            ),
            Kind::BidiStreaming => (
                format!("requests: {c}::Streaming<{}>", m.request),
                format!("{c}::BoxStream<{}>", m.response),
            ),
        }
    }
}
