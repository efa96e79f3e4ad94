//! Thrift encode and decode of one nested message (`benchmarks/idl/codec.thrift`: an order with
//! an address, ten items with tags and attributes, counters, history and a note), binary
//! protocol, rookery's generated code against pilota's (Volo's generator), in the same run.
//!
//! ```text
//! cargo run --release --manifest-path benchmarks/volo/Cargo.toml --bin bench-thrift-codec
//! ```
//!
//! Encode is "size, allocate exactly, write" (what a transport does per message); decode reads
//! from a `Bytes` holding the message (strings zero-copy on both sides). pilota is measured with
//! its safe binary protocol (volo-thrift's default) and with its `unsafe` one (volo-thrift's
//! `unsafe-codec` feature). Prints a markdown table: the median ns per operation of 9 interleaved runs.

use std::{hint::black_box, time::Instant};

use bytes::{Bytes, BytesMut};
use faststr::FastStr;
use pilota::thrift::{Message as _, binary::TBinaryProtocol};
use rookery::codegen::Protocol;
use volo_echo::{generated::volo_gen::codec as pl, rookery_gen::codec as rk};

const ITERS: usize = 200_000;
const RUNS: usize = 9;

fn rookery_order() -> rk::Order {
    let items = (0..10)
        .map(|i| rk::Item {
            id: 1000 + i,
            name: FastStr::from(format!("item number {i} with a longer name")),
            price: 19.99 + i as f64,
            quantity: i as i32 + 1,
            tags: (0..3)
                .map(|t| FastStr::from(format!("tag-{i}-{t}")))
                .collect(),
            attributes: (0..3)
                .map(|a| {
                    (
                        FastStr::from(format!("attribute-{a}")),
                        FastStr::from(format!("value {i}.{a} of the attribute")),
                    )
                })
                .collect(),
        })
        .collect();
    rk::Order {
        id: 987_654_321,
        customer: FastStr::from_static_str("Ada Lovelace"),
        email: FastStr::from_static_str("ada.lovelace@analytical-engines.example"),
        shipping: rk::Address {
            street: FastStr::from_static_str("12 St James's Square"),
            city: FastStr::from_static_str("London"),
            country: FastStr::from_static_str("United Kingdom"),
            zip: 10001,
        },
        items,
        counters: (0..8)
            .map(|c| (FastStr::from(format!("counter-{c}")), c as i64 * 31))
            .collect(),
        history: (0..16).map(|h| 1_700_000_000_000 + h * 3_600_000).collect(),
        paid: true,
        note: Bytes::from(vec![7u8; 64]),
    }
}

fn pilota_order() -> pl::Order {
    // pilota makes fields of default requiredness `Option`s.
    let items = (0..10)
        .map(|i| pl::Item {
            id: Some(1000 + i),
            name: Some(FastStr::from(format!("item number {i} with a longer name"))),
            price: Some(19.99 + i as f64),
            quantity: Some(i as i32 + 1),
            tags: Some(
                (0..3)
                    .map(|t| FastStr::from(format!("tag-{i}-{t}")))
                    .collect(),
            ),
            attributes: Some(
                (0..3)
                    .map(|a| {
                        (
                            FastStr::from(format!("attribute-{a}")),
                            FastStr::from(format!("value {i}.{a} of the attribute")),
                        )
                    })
                    .collect(),
            ),
        })
        .collect();
    pl::Order {
        id: Some(987_654_321),
        customer: Some(FastStr::from_static_str("Ada Lovelace")),
        email: Some(FastStr::from_static_str(
            "ada.lovelace@analytical-engines.example",
        )),
        shipping: Some(pl::Address {
            street: Some(FastStr::from_static_str("12 St James's Square")),
            city: Some(FastStr::from_static_str("London")),
            country: Some(FastStr::from_static_str("United Kingdom")),
            zip: Some(10001),
        }),
        items: Some(items),
        counters: Some(
            (0..8)
                .map(|c| (FastStr::from(format!("counter-{c}")), c as i64 * 31))
                .collect(),
        ),
        history: Some((0..16).map(|h| 1_700_000_000_000 + h * 3_600_000).collect()),
        paid: Some(true),
        note: Some(Bytes::from(vec![7u8; 64])),
    }
}

fn pilota_encode(order: &pl::Order) -> Bytes {
    let mut buf = BytesMut::new();
    let size = {
        let mut p = TBinaryProtocol::new(&mut buf, true);
        order.size(&mut p)
    };
    buf.reserve(size);
    let mut p = TBinaryProtocol::new(&mut buf, true);
    order.encode(&mut p).expect("pilota encodes");
    buf.freeze()
}

fn pilota_encode_unsafe(order: &pl::Order) -> Bytes {
    use pilota::thrift::binary_unsafe::TBinaryUnsafeOutputProtocol;
    let mut buf = BytesMut::new();
    let size = {
        let mut p = TBinaryProtocol::new(&mut buf, true);
        order.size(&mut p)
    };
    buf.reserve(size);
    // What volo-thrift's `unsafe-codec` does: write through a raw view of the reserved space,
    // then advance the buffer by what was written.
    let written = {
        let raw = unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr(), buf.capacity()) };
        let mut p = unsafe { TBinaryUnsafeOutputProtocol::new(&mut buf, raw, false) };
        order.encode(&mut p).expect("pilota encodes");
        p.index()
    };
    unsafe { bytes::BufMut::advance_mut(&mut buf, written) };
    buf.freeze()
}

fn pilota_decode(bytes: &Bytes) -> pl::Order {
    let mut b = bytes.clone();
    let mut p = TBinaryProtocol::new(&mut b, true);
    pl::Order::decode(&mut p).expect("pilota decodes")
}

fn pilota_decode_unsafe(bytes: &Bytes) -> pl::Order {
    use pilota::thrift::binary_unsafe::TBinaryUnsafeInputProtocol;
    let mut b = bytes.clone();
    let mut p = unsafe { TBinaryUnsafeInputProtocol::new(&mut b) };
    pl::Order::decode(&mut p).expect("pilota decodes")
}

/// ns per call of `f`, over `ITERS` calls.
fn time_ns(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERS {
        f();
    }
    start.elapsed().as_nanos() as f64 / ITERS as f64
}

fn main() {
    let rk_order = rookery_order();
    let pl_order = pilota_order();
    let rk_bytes = Protocol::Binary.encode_to_bytes(&rk_order);
    let pl_bytes = pilota_encode(&pl_order);
    // The same message: as long on both sides (map entries may come in another order), and
    // each side decodes what the other wrote into the message it holds.
    assert_eq!(rk_bytes.len(), pl_bytes.len(), "the encoded sizes differ");
    let from_pilota: rk::Order = Protocol::Binary
        .decode(pl_bytes.clone())
        .expect("rookery decodes pilota's bytes");
    assert_eq!(from_pilota, rk_order);
    assert_eq!(pilota_decode(&rk_bytes), pl_order);
    assert_eq!(pilota_encode_unsafe(&pl_order).len(), pl_bytes.len());
    assert_eq!(pilota_decode_unsafe(&rk_bytes), pl_order);

    type Case<'a> = (&'static str, &'static str, Box<dyn FnMut() + 'a>);
    let mut cases: Vec<Case> = vec![
        (
            "encode",
            "rookery",
            Box::new(|| {
                black_box(Protocol::Binary.encode_to_bytes(black_box(&rk_order)));
            }),
        ),
        (
            "encode",
            "pilota (safe)",
            Box::new(|| {
                black_box(pilota_encode(black_box(&pl_order)));
            }),
        ),
        (
            "encode",
            "pilota (unsafe)",
            Box::new(|| {
                black_box(pilota_encode_unsafe(black_box(&pl_order)));
            }),
        ),
        (
            "decode",
            "rookery",
            Box::new(|| {
                black_box(
                    Protocol::Binary
                        .decode::<rk::Order>(black_box(rk_bytes.clone()))
                        .expect("decodes"),
                );
            }),
        ),
        (
            "decode",
            "pilota (safe)",
            Box::new(|| {
                black_box(pilota_decode(black_box(&pl_bytes)));
            }),
        ),
        (
            "decode",
            "pilota (unsafe)",
            Box::new(|| {
                black_box(pilota_decode_unsafe(black_box(&pl_bytes)));
            }),
        ),
    ];
    // Runs interleave the cases, so that load on the machine touches all of them alike.
    let mut samples = vec![Vec::with_capacity(RUNS); cases.len()];
    for _ in 0..RUNS {
        for (i, (_, _, f)) in cases.iter_mut().enumerate() {
            samples[i].push(time_ns(f.as_mut()));
        }
    }
    let medians: Vec<f64> = samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            s[RUNS / 2]
        })
        .collect();
    println!(
        "message: {} bytes (binary protocol); {ITERS} iterations x {RUNS} runs, median\n",
        rk_bytes.len()
    );
    println!("| operation | implementation | ns/op | vs rookery |");
    println!("|---|---|---:|---:|");
    for (i, (op, codec, _)) in cases.iter().enumerate() {
        let ours = cases
            .iter()
            .position(|(o, c, _)| o == op && *c == "rookery")
            .map(|j| medians[j])
            .expect("rookery measured every operation");
        println!(
            "| thrift {op} | {codec} | {:.0} | {:.2}x |",
            medians[i],
            medians[i] / ours
        );
    }
}
