//! Property test: under random message loss, duplication and reordering,
//! partitions, held disks and restarts, the core never panics, and once
//! the network heals and hinted hand-off has run, every acknowledged put is
//! held by the owners of its key (at least W of them with strict quorums).

use super::test_pump::Net;
use super::*;
use crate::kv::Command;
use bytes::Bytes;
use proptest::prelude::*;
use std::time::Duration;

#[derive(Clone, Debug)]
enum Step {
    Put(NodeId, Key),
    Get(NodeId, Key),
    Deliver(usize),
    Drop(usize),
    Duplicate(usize),
    Advance(u64),
    Isolate(NodeId),
    Heal,
    HoldDisk(NodeId),
    Flush(NodeId),
    Restart(NodeId),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u32..5, 0u64..3).prop_map(|(n, k)| Step::Put(n, k)),
        2 => (0u32..5, 0u64..3).prop_map(|(n, k)| Step::Get(n, k)),
        6 => any::<usize>().prop_map(Step::Deliver),
        1 => any::<usize>().prop_map(Step::Drop),
        1 => any::<usize>().prop_map(Step::Duplicate),
        2 => (1u64..120).prop_map(Step::Advance),
        1 => (0u32..5).prop_map(Step::Isolate),
        1 => Just(Step::Heal),
        1 => (0u32..5).prop_map(Step::HoldDisk),
        1 => (0u32..5).prop_map(Step::Flush),
        1 => (0u32..5).prop_map(Step::Restart),
    ]
}

fn run(size: u32, config: DynamoConfig, steps: Vec<Step>) -> Result<(), TestCaseError> {
    let w = config.effective(size).w;
    let sloppy = config.sloppy_quorum;
    let mut net = Net::new(size, config);
    let mut puts = Vec::new();
    let mut value = 0u64;
    for s in steps {
        match s {
            Step::Put(n, key) => {
                value += 1;
                let v = Command::Put {
                    key,
                    value: Bytes::from(format!("v{value}")),
                };
                puts.push((net.request(n % size, v, None), key));
            }
            Step::Get(n, key) => {
                net.get(n % size, key);
            }
            Step::Deliver(i) | Step::Drop(i) | Step::Duplicate(i) if !net.queue.is_empty() => {
                let i = i % net.queue.len();
                let Some((from, to, msg)) = net.queue.remove(i) else {
                    continue;
                };
                if matches!(s, Step::Duplicate(_)) {
                    net.queue.push_back((from, to, msg.clone()));
                }
                if !matches!(s, Step::Drop(_)) {
                    net.step(to, |d, ctx| d.on_message(ctx, from, msg));
                }
            }
            Step::Deliver(_) | Step::Drop(_) | Step::Duplicate(_) => {}
            Step::Advance(ms) => net.advance(Duration::from_millis(ms)),
            Step::Isolate(n) => {
                net.down.insert(n % size);
            }
            Step::Heal => net.down.clear(),
            Step::HoldDisk(n) => {
                net.hold_disk.insert(n % size);
            }
            Step::Flush(n) => {
                net.hold_disk.remove(&(n % size));
                net.flush(n % size);
            }
            Step::Restart(n) => net.restart(n % size),
        }
    }
    net.down.clear();
    for n in 0..size {
        net.hold_disk.remove(&n);
        net.flush(n);
    }
    net.advance(Duration::from_secs(2));
    for (id, key) in puts {
        let Some(ReplyBody::Done(Response::Stored { context })) = net.answer(id) else {
            continue;
        };
        let owners = net.nodes[0].preference_list(key);
        let holding = owners
            .iter()
            .filter(|&&o| net.nodes[o as usize].covers(key, context))
            .count();
        let needed = if sloppy { 1 } else { w };
        prop_assert!(
            holding >= needed,
            "put {id} of key {key} ({context}) held by {holding} of {owners:?}"
        );
    }
    for node in &net.nodes {
        prop_assert_eq!(node.pending_hints(), 0, "hints left after hand-off");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 160,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0xd1a0),
        ..ProptestConfig::default()
    })]

    #[test]
    fn acknowledged_puts_survive_chaos(
        size in prop_oneof![Just(3u32), Just(5u32)],
        r in 1usize..=3,
        w in 1usize..=3,
        sloppy in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let config = DynamoConfig { r, w, sloppy_quorum: sloppy, ..DynamoConfig::default() };
        run(size, config, steps)?;
    }
}
