//! Framing and postcard encode/decode of a representative message (a u64
//! id and a 100-byte payload), alone and in batches of 64.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use net::frame::{decode_all, decode_body, encode, split_frame, FrameReader, DEFAULT_MAX_FRAME};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Req {
    id: u64,
    payload: Bytes,
}

const BATCH: usize = 64;

fn req(i: u64) -> Req {
    Req {
        id: i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        payload: Bytes::from(vec![i as u8; 100]),
    }
}

fn single(c: &mut Criterion) {
    let m = req(7);
    let mut frame = Vec::new();
    encode(&m, &mut frame).unwrap();
    let mut g = c.benchmark_group("single");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(256);
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            encode(black_box(&m), &mut buf).unwrap()
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| {
            let (body, _) = split_frame(black_box(&frame), DEFAULT_MAX_FRAME)
                .unwrap()
                .unwrap();
            decode_body::<Req>(body).unwrap()
        })
    });
    g.finish();
}

fn batch(c: &mut Criterion) {
    let msgs: Vec<Req> = (0..BATCH as u64).map(req).collect();
    let mut frames = Vec::new();
    for m in &msgs {
        encode(m, &mut frames).unwrap();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("batch64");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut buf = Vec::with_capacity(frames.len());
    g.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            for m in black_box(&msgs) {
                encode(m, &mut buf).unwrap();
            }
            buf.len()
        })
    });
    g.bench_function("decode_slice", |b| {
        b.iter(|| decode_all::<Req>(black_box(&frames), DEFAULT_MAX_FRAME).unwrap())
    });
    g.bench_function("decode_reader", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut r = FrameReader::new(black_box(&frames[..]), DEFAULT_MAX_FRAME);
                let mut n = 0;
                while let Some((m, _)) = r.read::<Req>().await.unwrap() {
                    black_box(m);
                    n += 1;
                }
                n
            })
        })
    });
    g.finish();
}

criterion_group!(benches, single, batch);
criterion_main!(benches);
