//! Encode and decode of one nested message with strings, lists and maps, rookery's generated
//! code against its peer's, in the same run on the same data.
//!
//! - Protobuf: `fixtures.bench.Order` (`crates/rookery-build/tests/idl/proto/bench.proto`),
//!   rookery-build's code against prost-build's (prost 0.14, `bytes` fields as `Bytes`, its
//!   fastest setting), both generated from the same descriptors by
//!   `rookery-build-proto-fixtures`.
//! - `encode`: the message into a reused `BytesMut` (cleared each time), as a transport
//!   does; `decode`: a message from a `Bytes` holding its encoding.
//!
//! Each figure is the median of `--runs` runs of `--iters` iterations, in ns per operation.
//! Prints a markdown table; more codecs are more [`Case`]s in [`cases`].

use std::{hint::black_box, time::Instant};

use bytes::{Bytes, BytesMut};
use prost::Message as _;
use rookery::codec::protobuf::ProtoMessage;
use rookery_benchmarks::flags::Flags;
use rookery_build_proto_fixtures::{
    prost_gen::fixtures::bench as pb, rookery_gen::fixtures::bench as rb,
};

const USAGE: &str = "bench-codec [--iters N (200000)] [--runs N (7)]";

/// One measured operation: a row of the table.
struct Case {
    /// What is measured: `protobuf encode`.
    what: &'static str,
    /// Who does it: `rookery`, `prost`.
    who: &'static str,
    /// Runs the operation `n` times.
    run: Box<dyn FnMut(usize)>,
}

/// The benchmark's order: five items with labels and dimensions, eight tags, four counters,
/// three notes, an address and a history of ten numbers (about 1.1 KB encoded).
fn order() -> pb::Order {
    let items = (0..5)
        .map(|i| pb::Item {
            sku: format!("SKU-{i:05}-XL"),
            name: format!("A very comfortable garment, model {i}, size extra large"),
            quantity: 1 + i,
            price_cents: 1999 + i64::from(i) * 250,
            labels: vec![
                "cotton".into(),
                "machine-washable".into(),
                format!("batch-{i}"),
            ],
            dims: Some(pb::Dimensions {
                width: 30.5,
                height: 2.0 + i as f32,
                depth: 40.0,
                weight_grams: 250 + i * 10,
            }),
        })
        .collect();
    pb::Order {
        id: "order-2024-000123456".into(),
        customer: "customer-98765 <customer@example.com>".into(),
        items,
        tags: (0..8)
            .map(|i| (format!("tag-{i}"), format!("value number {i} of the tags")))
            .collect(),
        shipping: Some(pb::Address {
            name: "Ada Lovelace".into(),
            street: "12 St James's Square".into(),
            city: "London".into(),
            country: "United Kingdom".into(),
            postal_code: "SW1Y 4JH".into(),
        }),
        created_at: 1_700_000_000_123,
        total: 12_345.67,
        notes: vec![
            "leave at the door".into(),
            "gift wrap the second item, please, with the blue paper".into(),
            "call before delivery".into(),
        ],
        status: pb::OrderStatus::Shipped as i32,
        counters: (0..4)
            .map(|i| (format!("counter-{i}"), i * 1_000_003))
            .collect(),
        history: (0..10).map(|i| 1_700_000_000 + i * 3_600).collect(),
    }
}

fn cases() -> Vec<Case> {
    let theirs = order();
    let bytes = Bytes::from(theirs.encode_to_vec());
    let ours = rb::Order::decode(bytes.clone()).expect("rookery decodes prost's encoding");
    // The same message: same length, and each side reads the other's bytes back to it.
    assert_eq!(ours.encoded_len(), bytes.len());
    assert_eq!(
        pb::Order::decode(&ours.encode_to_vec()[..]).unwrap(),
        theirs
    );

    let mut cases = Vec::new();
    let mut buf = BytesMut::with_capacity(4096);
    cases.push(Case {
        what: "protobuf encode",
        who: "rookery",
        run: Box::new(move |n| {
            for _ in 0..n {
                buf.clear();
                black_box(&ours).encode(&mut buf).unwrap();
                black_box(&buf);
            }
        }),
    });
    let mut buf = BytesMut::with_capacity(4096);
    let msg = theirs.clone();
    cases.push(Case {
        what: "protobuf encode",
        who: "prost",
        run: Box::new(move |n| {
            for _ in 0..n {
                buf.clear();
                black_box(&msg).encode(&mut buf).unwrap();
                black_box(&buf);
            }
        }),
    });
    let input = bytes.clone();
    cases.push(Case {
        what: "protobuf decode",
        who: "rookery",
        run: Box::new(move |n| {
            for _ in 0..n {
                black_box(rb::Order::decode(black_box(input.clone())).unwrap());
            }
        }),
    });
    let input = bytes;
    cases.push(Case {
        what: "protobuf decode",
        who: "prost",
        run: Box::new(move |n| {
            for _ in 0..n {
                black_box(pb::Order::decode(black_box(input.clone())).unwrap());
            }
        }),
    });
    cases
}

fn exit(msg: &str) -> ! {
    eprintln!("{msg}\nusage: {USAGE}");
    std::process::exit(2)
}

fn main() {
    let flags = Flags::from_env_or_exit(&["iters", "runs"], USAGE);
    let iters: usize = flags.get_or("iters", 200_000).unwrap_or_else(|e| exit(&e));
    let runs: usize = flags.get_or("runs", 7).unwrap_or_else(|e| exit(&e));
    let mut cases = cases();
    // Runs interleave the contenders, so that a change in the machine's load touches all.
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for case in &mut cases {
        (case.run)(iters / 10); // warm up
    }
    for _ in 0..runs {
        for (case, t) in cases.iter_mut().zip(&mut times) {
            let start = Instant::now();
            (case.run)(iters);
            t.push(start.elapsed().as_nanos() as f64 / iters as f64);
        }
    }
    println!("| operation | implementation | ns/op (median of {runs} × {iters}) | vs the first |");
    println!("|---|---|---:|---:|");
    let mut first: Option<(&str, f64)> = None;
    for (case, t) in cases.iter().zip(&mut times) {
        t.sort_by(f64::total_cmp);
        let median = t[t.len() / 2];
        let base = match first {
            Some((what, ns)) if what == case.what => ns,
            _ => {
                first = Some((case.what, median));
                median
            }
        };
        println!(
            "| {} | {} | {median:.0} | {:.2}× |",
            case.what,
            case.who,
            median / base
        );
    }
}
