use async_nats::HeaderMap;
use bytes::Bytes;
use faststr::FastStr;

use super::names::{engine_name, from_nats_headers, to_nats_headers};
use crate::Message;

#[test]
fn engine_names_are_safe_and_distinct() {
    assert_eq!(engine_name("ROOKERY", "orders"), "ROOKERY_orders");
    assert_eq!(
        engine_name("ROOKERY", "orders.created"),
        "ROOKERY_orders_2Ecreated"
    );
    assert_ne!(engine_name("R", "a.b"), engine_name("R", "a_b"));
    assert_ne!(engine_name("R", "a_2Eb"), engine_name("R", "a.b"));
    let odd = engine_name("R", "a*b>c d/é");
    assert!(
        odd.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{odd}"
    );
}

#[test]
fn headers_round_trip_with_the_id() {
    let mut message = Message::new("t", "x")
        .with_id("id-7")
        .with_header("traceparent", "00-abc-def-01");
    message
        .headers
        .insert_bin("blob", Bytes::from_static(&[0, 159, 255]));
    let nats = to_nats_headers(&message).unwrap();
    assert_eq!(
        nats.get(async_nats::header::NATS_MESSAGE_ID)
            .map(|v| v.as_str()),
        Some("id-7")
    );
    let (id, headers) = from_nats_headers(Some(&nats), || FastStr::new("unused"));
    assert_eq!(id, "id-7");
    assert_eq!(headers, message.headers);
}

#[test]
fn headers_nats_cannot_carry_are_refused() {
    let message = Message::new("t", "x").with_header("k", "two\r\nlines");
    let err = to_nats_headers(&message).unwrap_err();
    assert!(err.to_string().contains("line break"), "{err}");
}

#[test]
fn foreign_messages_get_the_fallback_id_and_bad_base64_stays_a_string() {
    let mut nats = HeaderMap::new();
    nats.insert("rookery-bin-x", "not base64!");
    let (id, headers) = from_nats_headers(Some(&nats), || FastStr::new("S:9"));
    assert_eq!(id, "S:9");
    assert_eq!(headers.get("rookery-bin-x"), Some("not base64!"));
    let (id, headers) = from_nats_headers(None, || FastStr::new("S:10"));
    assert_eq!((id.as_str(), headers.len()), ("S:10", 0));
}
