//! Link shaping applied by real endpoints: delay, jitter, loss, one-way
//! blocks, healing and run-time changes.

mod common;

use common::*;
use net::{JitterDist, LinkParams};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_measurably_delays_one_direction() {
    bounded(30, async {
        let mut p = pair().await;
        // Warm the path so the first-packet cost is not measured.
        p.a.send(B, &msg(0)).await.unwrap();
        recv_within(&mut p.b_in, 5_000).await.unwrap();

        let delay = Duration::from_millis(200);
        p.shaper.set_link(
            A,
            B,
            LinkParams {
                delay,
                ..Default::default()
            },
        );
        let t0 = Instant::now();
        for i in 1..=20 {
            p.a.send(B, &msg(i)).await.unwrap();
        }
        for i in 1..=20 {
            let (_, m) = recv_within(&mut p.b_in, 5_000)
                .await
                .expect("delayed message lost");
            assert_eq!(m.seq, i, "delay without jitter must keep order");
        }
        let delayed = t0.elapsed();
        assert!(delayed >= delay, "arrived after {delayed:?}");
        assert!(
            delayed < Duration::from_secs(3),
            "arrived after {delayed:?}"
        );

        // The reverse direction is untouched.
        let t0 = Instant::now();
        p.b.send(A, &msg(50)).await.unwrap();
        recv_within(&mut p.a_in, 5_000).await.unwrap();
        assert!(t0.elapsed() < delay, "reverse took {:?}", t0.elapsed());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_delay_at_run_time_keeps_order() {
    bounded(30, async {
        let mut p = pair().await;
        p.shaper.set_link(
            A,
            B,
            LinkParams {
                delay: Duration::from_millis(300),
                ..Default::default()
            },
        );
        for i in 0..5 {
            p.a.send(B, &msg(i)).await.unwrap();
        }
        p.shaper.clear_link(A, B);
        for i in 5..10 {
            p.a.send(B, &msg(i)).await.unwrap();
        }
        for i in 0..10 {
            let (_, m) = recv_within(&mut p.b_in, 5_000).await.expect("lost");
            assert_eq!(m.seq, i);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_delivers_everything() {
    bounded(30, async {
        let mut p = pair().await;
        p.shaper.set_link(
            A,
            B,
            LinkParams {
                delay: Duration::from_millis(5),
                jitter: Duration::from_millis(40),
                jitter_dist: JitterDist::Normal,
                ..Default::default()
            },
        );
        const N: u64 = 300;
        for i in 0..N {
            p.a.send(B, &msg(i)).await.unwrap();
        }
        let mut seen = BTreeSet::new();
        for _ in 0..N {
            let (_, m) = recv_within(&mut p.b_in, 5_000)
                .await
                .expect("jittered message lost");
            seen.insert(m.seq);
        }
        assert_eq!(seen, (0..N).collect());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn total_loss_drops_everything_until_reset() {
    bounded(30, async {
        let mut p = pair().await;
        p.shaper.set_link(
            A,
            B,
            LinkParams {
                loss: 1.0,
                ..Default::default()
            },
        );
        for i in 0..20 {
            p.a.send(B, &msg(i)).await.unwrap();
        }
        assert!(recv_within(&mut p.b_in, 500).await.is_none());
        let s = p.a.stats().peer(B);
        assert_eq!((s.dropped_shaped, s.msgs_sent), (20, 0));
        p.shaper.reset();
        p.a.send(B, &msg(99)).await.unwrap();
        assert_eq!(recv_within(&mut p.b_in, 5_000).await.unwrap().1.seq, 99);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_way_block_then_heal() {
    bounded(30, async {
        let mut p = pair().await;
        p.shaper.block(A, B);
        for i in 0..10 {
            p.a.send(B, &msg(i)).await.unwrap();
            p.b.send(A, &msg(100 + i)).await.unwrap();
        }
        for i in 0..10 {
            let (from, m) = recv_within(&mut p.a_in, 5_000)
                .await
                .expect("open direction lost");
            assert_eq!((from, m.seq), (B, 100 + i));
        }
        assert!(
            recv_within(&mut p.b_in, 500).await.is_none(),
            "blocked direction leaked"
        );

        p.shaper.heal();
        p.a.send(B, &msg(42)).await.unwrap();
        let (from, m) = recv_within(&mut p.b_in, 5_000)
            .await
            .expect("heal did not restore");
        assert_eq!((from, m.seq), (A, 42));

        // A symmetric partition blocks both ways.
        p.shaper.partition(A, B);
        p.a.send(B, &msg(1)).await.unwrap();
        p.b.send(A, &msg(2)).await.unwrap();
        assert!(recv_within(&mut p.b_in, 300).await.is_none());
        assert!(recv_within(&mut p.a_in, 300).await.is_none());
        p.shaper.heal();
        p.b.send(A, &msg(3)).await.unwrap();
        assert_eq!(recv_within(&mut p.a_in, 5_000).await.unwrap().1.seq, 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_drops_frames_already_waiting_in_the_delay_queue() {
    bounded(30, async {
        let mut p = pair().await;
        p.shaper.set_link(
            A,
            B,
            LinkParams {
                delay: Duration::from_millis(300),
                ..Default::default()
            },
        );
        for i in 0..5 {
            p.a.send(B, &msg(i)).await.unwrap();
        }
        p.shaper.block(A, B);
        assert!(recv_within(&mut p.b_in, 800).await.is_none());
        assert_eq!(p.a.stats().peer(B).dropped_shaped, 5);
    })
    .await;
}
