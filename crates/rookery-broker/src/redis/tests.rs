use std::collections::HashMap;

use bytes::Bytes;
use faststr::FastStr;
use redis::Value;

use super::names::{from_fields, own_group, shared_group, stream_key, to_fields};
use crate::Message;

fn as_entry(fields: Vec<(String, Bytes)>) -> HashMap<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| (k, Value::BulkString(v.to_vec())))
        .collect()
}

#[test]
fn names_are_distinct() {
    assert_eq!(
        stream_key("rookery", "orders.created"),
        "rookery:orders.created"
    );
    assert_eq!(shared_group("workers"), "g:workers");
    assert_ne!(own_group(), own_group());
    assert!(own_group().starts_with("s:"));
}

#[test]
fn messages_round_trip_through_fields() {
    let mut message = Message::new("orders", Bytes::from_static(&[0, 1, 255]))
        .with_id("id-7")
        .with_header("traceparent", "00-abc-def-01")
        .with_header("multi", "two\r\nlines");
    message
        .headers
        .insert_bin("blob", Bytes::from_static(&[0, 159, 255]));
    let back = from_fields(
        &FastStr::new("orders"),
        "1-0",
        as_entry(to_fields(&message)),
    );
    assert_eq!(
        (&back.id, &back.topic, &back.payload),
        (&message.id, &message.topic, &message.payload)
    );
    let sorted = |m: &Message| {
        let mut h: Vec<_> = m
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        h.sort();
        h
    };
    assert_eq!(
        sorted(&back),
        sorted(&message),
        "string headers, line breaks and all"
    );
    assert_eq!(
        back.headers.iter_bin().collect::<Vec<_>>(),
        message.headers.iter_bin().collect::<Vec<_>>(),
        "binary headers as they are"
    );
    let again = from_fields(
        &FastStr::new("orders"),
        "1-0",
        as_entry(to_fields(&message)),
    );
    assert_eq!(again, back, "the same order every time");
}

#[test]
fn foreign_entries_get_the_entry_id_and_odd_fields_are_skipped() {
    let mut fields = HashMap::new();
    fields.insert("payload".to_owned(), Value::BulkString(b"hi".to_vec()));
    fields.insert("h:bad".to_owned(), Value::BulkString(vec![0xff, b'a']));
    fields.insert("other".to_owned(), Value::BulkString(b"x".to_vec()));
    fields.insert("h:nil".to_owned(), Value::Nil);
    let m = from_fields(&FastStr::new("t"), "17-3", fields);
    assert_eq!(m.id, "17-3");
    assert_eq!(m.payload, "hi");
    assert_eq!(m.headers.get("bad"), Some("\u{fffd}a"));
    assert_eq!(m.headers.len(), 1);
}
