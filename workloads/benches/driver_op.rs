//! The driver-side cost of one operation, without the network: generate
//! its command, frame the request, decode the reply frame, record the
//! outcome. What one driver core can sustain is bounded by the sum (plus
//! QUIC and the loop, which `experiments/driver-ceiling.yaml` measures).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use net::frame::{decode_body, encode, split_frame, DEFAULT_MAX_FRAME};
use protocols::client::{ClientReply, ClientRequest, ReplyBody};
use protocols::kv::Response;
use protocols::types::RequestId;
use protocols::unreplicated::NoMessage;
use protocols::wire::Wire;
use std::time::Duration;
use workloads::ops::OpGenerator;
use workloads::recorder::{OpOutcome, Recorder};
use workloads::WorkloadSpec;

type Msg = Wire<NoMessage>;

fn spec() -> WorkloadSpec {
    WorkloadSpec::from_yaml(
        "arrival: {kind: closed, outstanding: 1}\nclients: 1\nduration: 10s\nkeys: 100000\nread_ratio: 0.5\nvalue_size: 16\n",
    )
    .expect("a valid workload")
}

fn reply_frame() -> Vec<u8> {
    let reply = Msg::Reply(ClientReply {
        id: RequestId { client: 1, seq: 1 },
        from: 0,
        body: ReplyBody::Done(Response::Value {
            value: Some(vec![b'.'; 16].into()),
            version: 3,
        }),
    });
    let mut frame = Vec::new();
    encode(&reply, &mut frame).expect("encodes");
    frame
}

/// An operation end time spread over the run, so time windows are filled
/// as in a real one.
fn end_of(seq: u64) -> Duration {
    Duration::from_nanos(seq.wrapping_mul(7919) % 9_000_000_000)
}

fn decode_reply(frame: &[u8]) -> Msg {
    let (body, _) = split_frame(black_box(frame), DEFAULT_MAX_FRAME)
        .expect("valid")
        .expect("whole");
    decode_body::<Msg>(body).expect("decodes")
}

fn per_op(c: &mut Criterion) {
    let spec = spec();
    let mut ops = OpGenerator::for_clients(&spec, 1).remove(0);
    let reply = reply_frame();
    let mut recorder = Recorder::new(Duration::from_millis(100), (Duration::ZERO, spec.duration));
    let mut buf = Vec::with_capacity(256);
    let mut seq = 0u64;
    let mut g = c.benchmark_group("driver_op");
    g.throughput(Throughput::Elements(1));
    g.bench_function("next_command", |b| b.iter(|| ops.next_command()));
    let req = Msg::Request(ClientRequest::new(
        RequestId { client: 1, seq: 1 },
        ops.next_command(),
    ));
    g.bench_function("encode_request", |b| {
        b.iter(|| {
            buf.clear();
            encode(black_box(&req), &mut buf).expect("encodes")
        })
    });
    g.bench_function("decode_reply", |b| b.iter(|| decode_reply(&reply)));
    g.bench_function("record", |b| {
        b.iter(|| {
            seq += 1;
            let end = end_of(seq);
            recorder.record(end / 2, end / 2, end, OpOutcome::Ok);
        })
    });
    g.bench_function("all", |b| {
        b.iter(|| {
            seq += 1;
            let req = Msg::Request(ClientRequest::new(
                RequestId { client: 1, seq },
                ops.next_command(),
            ));
            buf.clear();
            encode(&req, &mut buf).expect("encodes");
            let answer = decode_reply(&reply);
            let end = end_of(seq);
            recorder.record(end / 2, end / 2, end, OpOutcome::Ok);
            answer
        })
    });
    g.finish();
}

criterion_group!(benches, per_op);
criterion_main!(benches);
