//! Mutual TLS on a service's one port: Thrift and gRPC (handed to the gRPC router after the
//! TLS handshake, agreed by ALPN `h2`) both served inside TLS, both handlers naming the
//! client by its certificate, and clients without a certificate, or with one from a foreign
//! CA, refused on both protocols.

use std::{net::SocketAddr, time::Duration};

use bytes::Bytes;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rookery::{
    Address, Client, Code, Context, Router, Service, Status,
    codec::protobuf::codegen::{BoxStream, Streaming},
    core::service_fn,
    grpc::{
        GrpcClient,
        interop::proto::grpc::testing::{
            Empty, Payload, SimpleRequest, SimpleResponse, StreamingInputCallRequest,
            StreamingInputCallResponse, StreamingOutputCallRequest, StreamingOutputCallResponse,
            TestService, TestServiceClient, TestServiceServer,
        },
    },
    transport::{
        ThriftRequest, ThriftResponse,
        health::StringResult,
        tls::{ClientTlsConfig, PeerCertificates, TlsConfig},
    },
};

/// A CA and PEMs of a server certificate (`localhost`, 127.0.0.1) and a client certificate
/// (`client.rookery.test`) it issued.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = ca.self_signed(&ca_key).unwrap();
        let issue = |names: Vec<String>, usage| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        Pki {
            server: issue(
                vec!["localhost".into(), "127.0.0.1".into()],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            client: issue(
                vec!["client.rookery.test".into()],
                ExtendedKeyUsagePurpose::ClientAuth,
            ),
            ca: ca.pem(),
        }
    }

    fn client_tls(&self, identity: Option<&Pki>) -> ClientTlsConfig {
        let tls = ClientTlsConfig::new().ca_pem(&self.ca).unwrap();
        match identity {
            Some(pki) => tls.identity_pem(&pki.client.0, &pki.client.1).unwrap(),
            None => tls,
        }
    }
}

/// The client's certificate names, as a handler reads them from its context.
fn caller(cx: &Context) -> String {
    PeerCertificates::of(cx)
        .map(|c| c.dns_names().join(","))
        .unwrap_or_else(|| "anonymous".into())
}

/// `UnaryCall` answers the caller's name; the rest is not used here.
struct Handler;

impl TestService for Handler {
    async fn empty_call(&self, _: &mut Context, _: Empty) -> Result<Empty, Status> {
        Ok(Empty::default())
    }

    async fn unary_call(
        &self,
        cx: &mut Context,
        _: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        Ok(SimpleResponse {
            payload: Some(Payload {
                body: Bytes::from(caller(cx)),
                ..Payload::default()
            }),
            ..SimpleResponse::default()
        })
    }

    async fn cacheable_unary_call(
        &self,
        cx: &mut Context,
        request: SimpleRequest,
    ) -> Result<SimpleResponse, Status> {
        self.unary_call(cx, request).await
    }

    async fn streaming_output_call(
        &self,
        _: &mut Context,
        _: StreamingOutputCallRequest,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn streaming_input_call(
        &self,
        _: &mut Context,
        _: Streaming<StreamingInputCallRequest>,
    ) -> Result<StreamingInputCallResponse, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn full_duplex_call(
        &self,
        _: &mut Context,
        _: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn half_duplex_call(
        &self,
        _: &mut Context,
        _: Streaming<StreamingOutputCallRequest>,
    ) -> Result<BoxStream<StreamingOutputCallResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn unimplemented_call(&self, _: &mut Context, _: Empty) -> Result<Empty, Status> {
        Err(Status::unimplemented("not here"))
    }
}

/// A Thrift `who` that answers the caller's name.
fn thrift_router() -> Router {
    Router::new().add_service_named(
        "Who",
        &["who"],
        service_fn(|cx: &mut Context, req: ThriftRequest| {
            let name = caller(cx);
            async move {
                Ok::<_, Status>(ThriftResponse::new(
                    req.protocol,
                    &StringResult(name.into()),
                ))
            }
        }),
    )
}

async fn thrift_who(addr: &Address, tls: ClientTlsConfig) -> Result<String, Status> {
    let client = Client::builder(addr.clone())
        .timeout(Duration::from_secs(20))
        .tls(tls)
        .unwrap()
        .build();
    let args = StringResult("".into());
    let reply: StringResult = client.call(&mut Context::new(), "who", &args).await?;
    Ok(reply.0.to_string())
}

async fn grpc_who(addr: SocketAddr, tls: ClientTlsConfig) -> Result<String, Status> {
    let channel = GrpcClient::builder().tls(tls).connect(addr).await?;
    let reply = TestServiceClient::new(channel)
        .unary_call(&mut Context::new(), SimpleRequest::default())
        .await?;
    Ok(String::from_utf8_lossy(&reply.payload.unwrap_or_default().body).into_owned())
}

#[tokio::test]
async fn thrift_and_grpc_over_mutual_tls_on_one_port() {
    let pki = Pki::new("rookery test CA");
    let foreign = Pki::new("a foreign CA");
    let tls = TlsConfig::from_pem(&pki.server.0, &pki.server.1)
        .unwrap()
        .client_ca(&pki.ca)
        .unwrap();
    let running = Service::builder("who")
        .no_registry()
        .router(thrift_router())
        .serve_grpc(
            TestServiceServer::<Handler>::SERVICE,
            TestServiceServer::new(Handler),
        )
        .tls(tls)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let addr = running.local_addr().clone();
    let Address::Tcp(socket) = addr else {
        panic!("a TCP address: {addr}")
    };

    let with_cert = pki.client_tls(Some(&pki));
    assert_eq!(
        thrift_who(&addr, with_cert.clone()).await.unwrap(),
        "client.rookery.test"
    );
    assert_eq!(
        grpc_who(socket, with_cert).await.unwrap(),
        "client.rookery.test"
    );

    for (who, tls) in [
        ("without a certificate", pki.client_tls(None)),
        ("with a foreign CA's", pki.client_tls(Some(&foreign))),
    ] {
        let thrift = thrift_who(&addr, tls.clone()).await.unwrap_err();
        assert_eq!(thrift.code(), Code::Unavailable, "Thrift {who}: {thrift}");
        let grpc = grpc_who(socket, tls).await.unwrap_err();
        assert_eq!(grpc.code(), Code::Unavailable, "gRPC {who}: {grpc}");
    }

    // A client that does not trust the server's CA refuses it, on both protocols.
    let distrust = foreign.client_tls(Some(&pki));
    let thrift = thrift_who(&addr, distrust.clone()).await.unwrap_err();
    assert!(
        thrift.message().contains("certificate verification failed"),
        "{thrift}"
    );
    let grpc = grpc_who(socket, distrust).await.unwrap_err();
    assert!(
        grpc.message().contains("certificate verification failed"),
        "{grpc}"
    );
    running.stop().await.unwrap();
}
