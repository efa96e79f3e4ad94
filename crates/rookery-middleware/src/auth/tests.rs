use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use faststr::FastStr;
use rookery_core::{Code, Context, Layer, Service, Status};
use rookery_transport::{ThriftRequest, ThriftResponse};

use super::*;
use crate::testing::{mock, thrift_request as request, thrift_response};

// ---------------------------------------------------------------------------------------------
// The server layer.

#[cfg(feature = "jwt")]
mod server {
    use std::time::{SystemTime, UNIX_EPOCH};

    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &[u8] = b"the server's HMAC secret, 32 bytes or more";

    fn now() -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    /// Claims of a token for `orders`, from `id`, valid for an hour.
    fn claims() -> Value {
        json!({ "sub": "alice", "aud": "orders", "iss": "id", "exp": now() + 3600, "role": "admin" })
    }

    fn hs256(claims: &Value) -> String {
        sign(
            jsonwebtoken::Algorithm::HS256,
            None,
            claims,
            &EncodingKey::from_secret(SECRET),
        )
    }

    fn sign(
        alg: jsonwebtoken::Algorithm,
        kid: Option<&str>,
        claims: &Value,
        key: &EncodingKey,
    ) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(String::from);
        encode(&header, claims, key).unwrap()
    }

    /// A call carrying `authorization: value`.
    fn with_authorization(value: &str) -> Context {
        let mut cx = Context::new();
        cx.metadata_mut().insert("authorization", value.to_string());
        cx
    }

    fn bearer(token: &str) -> Context {
        with_authorization(&format!("Bearer {token}"))
    }

    fn hmac_layer() -> JwtLayer {
        JwtLayer::new(JwtKey::hmac(Algorithm::HS256, SECRET).unwrap(), ["orders"])
    }

    /// Each of `tokens` (a name, and the context of its call) is refused `UNAUTHENTICATED`
    /// with a message holding `why`, and none reaches the inner service.
    async fn all_refused(layer: JwtLayer, calls: Vec<(&str, Context, &str)>) {
        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        let service = layer.layer(inner);
        for (name, mut cx, why) in calls {
            let status = service.call(&mut cx, request("get")).await.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{name}: {status}");
            assert!(status.message().contains(why), "{name}: {status}");
            assert!(Identity::of(&cx).is_none(), "{name}");
        }
        assert_eq!(
            handle.calls(),
            0,
            "no refused call reached the inner service"
        );
    }

    #[tokio::test]
    async fn a_valid_token_passes_and_the_handler_reads_the_identity() {
        let (inner, mut handle) = mock::<ThriftRequest, ThriftResponse>();
        let service = hmac_layer().issuer("id").layer(inner);
        let call = tokio::spawn(async move {
            let mut cx = bearer(&hs256(&claims()));
            service.call(&mut cx, request("get")).await
        });
        let pending = handle.next().await.unwrap();
        let identity = pending
            .seen
            .extensions
            .get::<Identity>()
            .expect("an identity");
        assert_eq!(identity.subject(), Some("alice"));
        assert_eq!(identity.issuer(), Some("id"));
        assert_eq!(identity.audience(), ["orders"]);
        assert!(identity.expires_at().unwrap() > SystemTime::now());
        assert_eq!(identity.claims().get_str("role"), Some("admin"));
        #[derive(serde::Deserialize)]
        struct Mine {
            role: String,
        }
        assert_eq!(
            identity.claims().deserialize::<Mine>().unwrap().role,
            "admin"
        );
        pending.respond(Ok(thrift_response()));
        call.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn expired_wrong_audience_and_missing_claims_are_refused() {
        let mut expired = claims();
        expired["exp"] = json!(now() - 120);
        let mut other_audience = claims();
        other_audience["aud"] = json!(["billing", "search"]);
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        let mut no_aud = claims();
        no_aud.as_object_mut().unwrap().remove("aud");
        let mut not_yet = claims();
        not_yet["nbf"] = json!(now() + 600);
        let mut other_issuer = claims();
        other_issuer["iss"] = json!("someone else");
        all_refused(
            hmac_layer().issuer("id"),
            vec![
                ("expired", bearer(&hs256(&expired)), "expired"),
                ("other audience", bearer(&hs256(&other_audience)), "aud"),
                ("no exp", bearer(&hs256(&no_exp)), "\"exp\""),
                ("no aud", bearer(&hs256(&no_aud)), "\"aud\""),
                ("not valid yet", bearer(&hs256(&not_yet)), "nbf"),
                ("other issuer", bearer(&hs256(&other_issuer)), "iss"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn expiry_allows_the_leeway_and_no_more() {
        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        handle.answer_with(|_, _, _| Ok(thrift_response()));
        let service = hmac_layer().leeway(Duration::from_secs(60)).layer(inner);
        // Minutes apart from the leeway's edge either way: no test of the clock's precision.
        let mut just_expired = claims();
        just_expired["exp"] = json!(now() - 5);
        service
            .call(&mut bearer(&hs256(&just_expired)), request("get"))
            .await
            .expect("within the leeway");
        let mut long_expired = claims();
        long_expired["exp"] = json!(now() - 300);
        let status = service
            .call(&mut bearer(&hs256(&long_expired)), request("get"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }

    #[tokio::test]
    async fn tokens_of_another_algorithm_are_refused_none_and_key_confusion_included() {
        // An ES256 server: its public key is public, so an attacker may HMAC with it.
        let pair = rcgen::KeyPair::generate().unwrap();
        let public_pem = pair.public_key_pem();
        let layer = JwtLayer::new(
            JwtKey::public_pem(Algorithm::ES256, &public_pem).unwrap(),
            ["orders"],
        );
        let es256 = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        let good = sign(jsonwebtoken::Algorithm::ES256, None, &claims(), &es256);

        // HS256 with the public key PEM as the HMAC secret.
        let confused = sign(
            jsonwebtoken::Algorithm::HS256,
            None,
            &claims(),
            &EncodingKey::from_secret(public_pem.as_bytes()),
        );
        // `alg: none`, no signature.
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims())
        );
        // The valid token's body and signature under a header that says ES384.
        let mut parts = good.split('.');
        let (_, body, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let relabelled = format!("{}.{body}.{signature}", b64(&json!({"alg": "ES384"})));
        all_refused(
            layer.clone(),
            vec![
                ("HS256 with the public key", bearer(&confused), "\"HS256\""),
                ("alg none", bearer(&none), "\"none\""),
                ("relabelled", bearer(&relabelled), "\"ES384\""),
            ],
        )
        .await;

        // And the real one passes.
        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        handle.answer_with(|_, _, _| Ok(thrift_response()));
        layer
            .layer(inner)
            .call(&mut bearer(&good), request("get"))
            .await
            .expect("an ES256 token signed with the key");

        // An HS256 server refuses HS512 tokens made with its own secret.
        let hs512 = sign(
            jsonwebtoken::Algorithm::HS512,
            None,
            &claims(),
            &EncodingKey::from_secret(SECRET),
        );
        all_refused(hmac_layer(), vec![("HS512", bearer(&hs512), "\"HS512\"")]).await;
    }

    #[tokio::test]
    async fn missing_malformed_and_forged_tokens_are_refused() {
        let good = hs256(&claims());
        let forged = sign(
            jsonwebtoken::Algorithm::HS256,
            None,
            &claims(),
            &EncodingKey::from_secret(b"another secret entirely, long enough"),
        );
        // The good token's signature on other claims.
        let mut more = claims();
        more["role"] = json!("root");
        let tampered = format!(
            "{}.{}",
            hs256(&more).rsplit_once('.').unwrap().0,
            good.rsplit_once('.').unwrap().1
        );
        all_refused(
            hmac_layer(),
            vec![
                ("missing", Context::new(), "no bearer token"),
                ("empty bearer", with_authorization("Bearer "), "not `Bearer"),
                (
                    "basic",
                    with_authorization("Basic YWxpY2U6cHc="),
                    "not `Bearer",
                ),
                ("one part", bearer("abc"), "not a JWT"),
                ("two parts", bearer("abc.def"), "not a JWT"),
                ("not base64", bearer("!!!.def.ghi"), "not a JWT"),
                ("header not JSON", bearer("YWJj.ZGVm.Z2hp"), "not a JWT"),
                ("forged", bearer(&forged), "signature"),
                ("tampered", bearer(&tampered), "signature"),
                ("huge", bearer(&"a".repeat(64 * 1024)), "longer than"),
            ],
        )
        .await;
    }

    #[tokio::test]
    async fn the_scheme_and_key_are_read_in_any_case() {
        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        handle.answer_with(|_, _, _| Ok(thrift_response()));
        let service = hmac_layer().layer(inner);
        let mut cx = Context::new();
        cx.metadata_mut()
            .insert("Authorization", format!("bearer {}", hs256(&claims())));
        service.call(&mut cx, request("get")).await.unwrap();
        assert_eq!(Identity::of(&cx).unwrap().subject(), Some("alice"));
    }

    #[tokio::test]
    async fn anonymous_methods_pass_without_a_token_but_not_with_a_bad_one() {
        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        handle.answer_with(|_, _, _| Ok(thrift_response()));
        let service = hmac_layer().allow_anonymous("Health.check").layer(inner);
        let mut cx = Context::new();
        cx.callee_mut().service = "Health".into();
        service.call(&mut cx, request("check")).await.unwrap();
        assert!(Identity::of(&cx).is_none());

        let mut cx = bearer("not a token");
        cx.callee_mut().service = "Health".into();
        let status = service.call(&mut cx, request("check")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);

        let mut cx = Context::new();
        cx.callee_mut().service = "Orders".into();
        let status = service.call(&mut cx, request("check")).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "another service's check"
        );
    }

    /// A JWKS holding the EC public key of `pair` as `kid`.
    fn jwk(pair: &rcgen::KeyPair, kid: &str) -> Value {
        let raw = pair.public_key_raw(); // 0x04 || X || Y
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": b64(&raw[1..33]), "y": b64(&raw[33..65]),
        })
    }

    #[tokio::test]
    async fn a_key_set_verifies_with_the_key_the_token_names() {
        let (one, two, stranger) = (
            rcgen::KeyPair::generate().unwrap(),
            rcgen::KeyPair::generate().unwrap(),
            rcgen::KeyPair::generate().unwrap(),
        );
        let set = json!({ "keys": [
            jwk(&one, "one"),
            jwk(&two, "two"),
            // Keys for other uses are left out.
            { "kty": "oct", "k": "c2VjcmV0", "kid": "hmac" },
        ]});
        let key = JwtKey::jwks(Algorithm::ES256, set.to_string()).unwrap();
        assert!(format!("{key:?}").contains("\"one\", \"two\"]"), "{key:?}");
        let layer = JwtLayer::new(key, ["orders"]);
        let es = |pair: &rcgen::KeyPair, kid: Option<&str>| {
            let key = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
            sign(jsonwebtoken::Algorithm::ES256, kid, &claims(), &key)
        };

        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        handle.answer_with(|_, _, _| Ok(thrift_response()));
        let service = layer.clone().layer(inner);
        for (pair, kid) in [(&one, "one"), (&two, "two")] {
            service
                .call(&mut bearer(&es(pair, Some(kid))), request("get"))
                .await
                .unwrap_or_else(|e| panic!("kid {kid}: {e}"));
        }
        all_refused(
            layer,
            vec![
                (
                    "wrong key for kid",
                    bearer(&es(&two, Some("one"))),
                    "signature",
                ),
                (
                    "unknown kid",
                    bearer(&es(&stranger, Some("three"))),
                    "\"three\"",
                ),
                ("no kid", bearer(&es(&one, None)), "no key id"),
                ("the oct key", bearer(&es(&one, Some("hmac"))), "\"hmac\""),
            ],
        )
        .await;

        assert!(
            JwtKey::jwks(Algorithm::RS256, set.to_string()).is_err(),
            "no RSA key"
        );
        assert!(JwtKey::jwks(Algorithm::ES256, "{").is_err());
    }

    #[test]
    fn keys_must_fit_their_algorithm() {
        let pem = rcgen::KeyPair::generate().unwrap().public_key_pem();
        assert!(JwtKey::hmac(Algorithm::RS256, SECRET).is_err());
        assert!(JwtKey::hmac(Algorithm::HS256, b"").is_err());
        assert!(JwtKey::public_pem(Algorithm::HS256, &pem).is_err());
        assert!(JwtKey::public_pem(Algorithm::ES256, "no PEM").is_err());
        assert!(JwtKey::public_pem(Algorithm::ES256, &pem).is_ok());
    }

    #[tokio::test]
    async fn the_configuration_reads_keys_from_files_and_never_shows_them() {
        // (Setting a variable needs `unsafe`, forbidden here; the variable case is read below
        // with one that is not set, and in `secret.rs`' reader with PATH.)
        let secret_path =
            std::env::temp_dir().join(format!("rookery-jwt-secret-{}", std::process::id()));
        std::fs::write(&secret_path, [SECRET, b"\n"].concat()).unwrap();
        let config: JwtConfig = serde_json::from_value(json!({
            "algorithm": "HS256",
            "key": { "secret": { "file": secret_path } },
            "audience": ["orders"],
            "issuer": ["id"],
            "leeway": "5s",
            "anonymous": ["Health.check"],
        }))
        .unwrap();
        assert_eq!(config.leeway, Duration::from_secs(5));
        let layer = JwtLayer::from_config(&config).unwrap();
        std::fs::remove_file(&secret_path).unwrap();
        let shown = format!("{layer:?} {config:?}");
        assert!(!shown.contains("HMAC secret"), "{shown}");

        let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
        handle.answer_with(|_, _, _| Ok(thrift_response()));
        let service = layer.layer(inner);
        service
            .call(&mut bearer(&hs256(&claims())), request("get"))
            .await
            .unwrap();
        let mut no_iss = claims();
        no_iss.as_object_mut().unwrap().remove("iss");
        let status = service
            .call(&mut bearer(&hs256(&no_iss)), request("get"))
            .await
            .unwrap_err();
        assert!(status.message().contains("\"iss\""), "{status}");

        // A public key from a file.
        let pair = rcgen::KeyPair::generate().unwrap();
        let path = std::env::temp_dir().join(format!("rookery-jwt-{}.pem", std::process::id()));
        std::fs::write(&path, pair.public_key_pem()).unwrap();
        let config: JwtConfig = serde_json::from_value(json!({
            "algorithm": "ES256",
            "key": { "public_key_file": path },
            "audience": ["orders"],
        }))
        .unwrap();
        assert_eq!(config.leeway, Duration::from_secs(30));
        JwtLayer::from_config(&config).unwrap();
        std::fs::remove_file(&path).unwrap();

        // Errors: a missing file, no audience, an unset variable, a typo.
        let err = JwtLayer::from_config(&config).unwrap_err();
        assert!(err.to_string().contains("reading"), "{err}");
        let mut no_audience = config.clone();
        no_audience.audience.clear();
        assert!(JwtLayer::from_config(&no_audience).is_err());
        let unset: JwtConfig = serde_json::from_value(json!({
            "algorithm": "HS256",
            "key": { "secret": { "env": "ROOKERY_MIDDLEWARE_TEST_UNSET" } },
            "audience": ["orders"],
        }))
        .unwrap();
        let err = JwtLayer::from_config(&unset).unwrap_err();
        assert!(
            err.to_string().contains("ROOKERY_MIDDLEWARE_TEST_UNSET"),
            "{err}"
        );
        let typo = serde_json::from_value::<JwtConfig>(json!({
            "algorithm": "HS256", "key": { "secret": { "env": "X" } },
            "audience": ["orders"], "audiance": ["x"],
        }))
        .unwrap_err();
        assert!(typo.to_string().contains("unknown field"), "{typo}");
        let inline_secret = serde_json::from_value::<JwtConfig>(json!({
            "algorithm": "HS256", "key": { "secret": "hunter2" }, "audience": ["orders"],
        }));
        assert!(
            inline_secret.is_err(),
            "secrets are not written in the configuration"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The client layer.

#[tokio::test]
async fn a_client_attaches_its_token_and_keeps_the_callers_unless_told() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    handle.answer_with(move |_, _, seen| {
        let value = seen.metadata.get("authorization").map(String::from);
        record.lock().unwrap().push(value);
        Ok(thrift_response())
    });
    let keep = AddAuthorizationLayer::bearer("t0ken").layer(inner.clone());
    let replace = AddAuthorizationLayer::bearer("t0ken")
        .overwrite(true)
        .layer(inner);

    keep.call(&mut Context::new(), request("get"))
        .await
        .unwrap();
    let mut passed_on = Context::new();
    passed_on
        .metadata_mut()
        .insert("authorization", "Bearer callers");
    keep.call(&mut passed_on, request("get")).await.unwrap();
    let mut other_case = Context::new();
    other_case
        .metadata_mut()
        .insert("Authorization", "Bearer callers");
    replace.call(&mut other_case, request("get")).await.unwrap();
    assert!(!other_case.metadata().contains_key("Authorization"));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            Some("Bearer t0ken".to_string()),
            Some("Bearer callers".to_string()),
            Some("Bearer t0ken".to_string()),
        ]
    );
    let shown = format!("{keep:?}");
    assert!(!shown.contains("t0ken"), "{shown}");
}

#[tokio::test]
async fn a_source_that_fails_fails_the_call_unsent() {
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    let service = AddAuthorizationLayer::source(|| async {
        Err::<FastStr, _>(Status::unavailable("the identity provider is down"))
    })
    .layer(inner);
    let status = service
        .call(&mut Context::new(), request("get"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.is_unsent());
    assert!(status.message().contains("identity provider"), "{status}");
    assert_eq!(handle.calls(), 0);
}

#[tokio::test]
async fn a_refreshing_source_fetches_once_and_again_when_refused_or_expiring() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let source = Refreshing::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Ok(Token::new(format!("token-{n}")).valid_for(Duration::from_secs(3600))) }
    });
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|n, _, seen| match n {
        // The server refuses the second call's token.
        2 => Err(Status::unauthenticated("the token was revoked")),
        _ => Ok(thrift_response()).inspect(|_| {
            assert!(seen.metadata.get("authorization").is_some());
        }),
    });
    let service = AddAuthorizationLayer::source(source).layer(inner);
    let mut tokens = Vec::new();
    for _ in 0..4 {
        let mut cx = Context::new();
        let _ = service.call(&mut cx, request("get")).await;
        tokens.push(cx.metadata().get("authorization").unwrap().to_string());
    }
    assert_eq!(
        tokens,
        [
            "Bearer token-1",
            "Bearer token-1",
            "Bearer token-2",
            "Bearer token-2"
        ]
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // A token that expires within the margin is fetched again for each call.
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let source = Refreshing::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok(Token::new("short").valid_for(Duration::from_secs(10))) }
    })
    .margin(Duration::from_secs(30));
    for _ in 0..3 {
        source.token().await.unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_retry_through_the_layer_gets_the_new_token() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let source = Refreshing::new(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Ok(Token::new(format!("token-{n}"))) }
    });
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|n, _, _| match n {
        1 => Err(Status::unauthenticated("expired")),
        _ => Ok(thrift_response()),
    });
    let service = AddAuthorizationLayer::source(source).layer(inner);
    // The same context twice, as a retry layer outside this one sends it.
    let mut cx = Context::new();
    assert!(service.call(&mut cx, request("get")).await.is_err());
    service.call(&mut cx, request("get")).await.unwrap();
    assert_eq!(cx.metadata().get("authorization"), Some("Bearer token-2"));
}

#[test]
fn a_jwt_token_is_kept_until_its_exp() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let jwt = format!(
        "{}.{}.sig",
        b64(r#"{"alg":"HS256"}"#),
        b64(&format!(r#"{{"exp":{exp}}}"#))
    );
    assert!(Token::new(jwt).has_expiry());
    assert!(!Token::new("opaque").has_expiry());
}

#[tokio::test]
async fn the_client_configuration_reads_the_token_from_a_file() {
    let path = std::env::temp_dir().join(format!("rookery-token-{}", std::process::id()));
    std::fs::write(&path, "s3cret-token\n").unwrap();
    let config: AuthorizationConfig =
        serde_json::from_str(&format!(r#"{{"token": {{"file": {:?}}}}}"#, path)).unwrap();
    assert_eq!(config.reload, Duration::from_secs(60));
    assert!(!config.overwrite);
    let layer = AddAuthorizationLayer::from_config(&config).unwrap();
    let (inner, handle) = mock::<ThriftRequest, ThriftResponse>();
    handle.answer_with(|_, _, _| Ok(thrift_response()));
    let mut cx = Context::new();
    layer
        .layer(inner)
        .call(&mut cx, request("get"))
        .await
        .unwrap();
    assert_eq!(
        cx.metadata().get("authorization"),
        Some("Bearer s3cret-token")
    );
    std::fs::remove_file(&path).unwrap();
    let err = AddAuthorizationLayer::from_config(&config).unwrap_err();
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let secret = SecretSource::Env("PATH".into()).read().unwrap();
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
}
