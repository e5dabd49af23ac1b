//! In-process link shaping: delay, jitter, a delay drawn from a latency
//! distribution, loss and one-way blocking per directed link, changeable
//! while the endpoints run.
//!
//! Shaping is applied by the *sender* before a frame goes out, so one
//! [`LinkShaper`] shared by all endpoints of a process (tests) or one per
//! node process (the harness sends it commands) both work: rules are keyed
//! by `(from, to)` identities. Randomness (loss, jitter) comes from a
//! seeded RNG so a run's shaping decisions are reproducible for a given
//! order of sends.

use crate::identity::PeerIdentity;
pub use latency::Latency;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Shape of the random extra delay added to [`LinkParams::delay`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum JitterDist {
    /// Uniform on `[0, jitter]`.
    #[default]
    Uniform,
    /// Bell-shaped on `[0, jitter]`: sum of three uniforms (mean
    /// `jitter / 2`, standard deviation `jitter / 6`).
    Normal,
}

/// How one directed link behaves.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LinkParams {
    /// Fixed one-way delay added to every frame.
    pub delay: Duration,
    /// Upper bound of the random extra delay; non-zero jitter may reorder.
    pub jitter: Duration,
    /// Distribution of the extra delay.
    pub jitter_dist: JitterDist,
    /// A further delay drawn for every frame from this distribution (ms),
    /// on top of `delay` and jitter (e.g. a production latency fit, as the
    /// PBS model uses); frames may then overtake each other.
    pub latency: Option<Arc<Latency>>,
    /// Probability in `[0, 1]` that a frame is dropped.
    pub loss: f64,
    /// Drop everything on this link (one direction of a partition).
    pub blocked: bool,
}

impl LinkParams {
    /// True when the link is untouched (no delay, loss or block).
    pub fn is_clear(&self) -> bool {
        self.delay.is_zero()
            && self.jitter.is_zero()
            && self.latency.is_none()
            && self.loss <= 0.0
            && !self.blocked
    }
}

/// Why shaping dropped a frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The link is blocked.
    Blocked,
    /// The loss lottery said so.
    Lost,
}

/// What shaping decided for one frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Drop the frame.
    Drop(DropReason),
    /// Send it after `delay`. Without jitter the sender keeps frames in
    /// order (`in_order`); with jitter they may overtake each other.
    Send {
        /// How long to hold the frame before writing it.
        delay: Duration,
        /// Whether the frame must not overtake earlier ones.
        in_order: bool,
    },
}

#[derive(Default)]
struct Rules {
    default: LinkParams,
    links: BTreeMap<(PeerIdentity, PeerIdentity), LinkParams>,
}

impl Rules {
    fn get(&self, from: PeerIdentity, to: PeerIdentity) -> LinkParams {
        self.links
            .get(&(from, to))
            .cloned()
            .unwrap_or_else(|| self.default.clone())
    }

    fn is_clear(&self) -> bool {
        self.default.is_clear() && self.links.values().all(LinkParams::is_clear)
    }
}

/// Shaping rules for every directed link, shared by `Arc` between the
/// endpoints that apply them and whoever changes them at run time.
///
/// A per-link entry replaces the default entirely for that link; links
/// without an entry follow the default.
pub struct LinkShaper {
    rules: RwLock<Rules>,
    // Lets the common no-shaping case skip the lock entirely.
    active: AtomicBool,
    rng: Mutex<ChaCha8Rng>,
}

impl std::fmt::Debug for LinkShaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rules = read(&self.rules);
        f.debug_struct("LinkShaper")
            .field("default", &rules.default)
            .field("links", &rules.links)
            .finish()
    }
}

impl Default for LinkShaper {
    fn default() -> Self {
        LinkShaper::new(0)
    }
}

// A panic while holding the lock cannot leave `Rules` half-updated (every
// update is a single assignment), so a poisoned lock is safe to reuse.
fn read(l: &RwLock<Rules>) -> std::sync::RwLockReadGuard<'_, Rules> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

impl LinkShaper {
    /// A shaper with every link clear and its RNG seeded with `seed`.
    pub fn new(seed: u64) -> LinkShaper {
        LinkShaper {
            rules: RwLock::new(Rules::default()),
            active: AtomicBool::new(false),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    fn update(&self, f: impl FnOnce(&mut Rules)) {
        let mut rules = self.rules.write().unwrap_or_else(|e| e.into_inner());
        f(&mut rules);
        self.active.store(!rules.is_clear(), Ordering::Release);
    }

    /// Sets the parameters of every link that has no entry of its own.
    pub fn set_default(&self, params: LinkParams) {
        self.update(|r| r.default = params);
    }

    /// Sets the parameters of the link `from -> to`.
    pub fn set_link(&self, from: PeerIdentity, to: PeerIdentity, params: LinkParams) {
        self.update(|r| {
            r.links.insert((from, to), params);
        });
    }

    /// Changes the link `from -> to` in place (starting from the default if
    /// it has no entry yet).
    pub fn update_link(
        &self,
        from: PeerIdentity,
        to: PeerIdentity,
        f: impl FnOnce(&mut LinkParams),
    ) {
        self.update(|r| {
            let mut p = r.get(from, to);
            f(&mut p);
            r.links.insert((from, to), p);
        });
    }

    /// Removes the entry of `from -> to`; the link follows the default again.
    pub fn clear_link(&self, from: PeerIdentity, to: PeerIdentity) {
        self.update(|r| {
            r.links.remove(&(from, to));
        });
    }

    /// Blocks `from -> to` only (a one-way partition).
    pub fn block(&self, from: PeerIdentity, to: PeerIdentity) {
        self.update_link(from, to, |p| p.blocked = true);
    }

    /// Unblocks `from -> to`, keeping its other parameters.
    pub fn unblock(&self, from: PeerIdentity, to: PeerIdentity) {
        self.update_link(from, to, |p| p.blocked = false);
    }

    /// Blocks both directions between `a` and `b`.
    pub fn partition(&self, a: PeerIdentity, b: PeerIdentity) {
        self.block(a, b);
        self.block(b, a);
    }

    /// Blocks both directions between every member of `a` and every member
    /// of `b` (a symmetric partition between two groups).
    pub fn partition_groups(&self, a: &[PeerIdentity], b: &[PeerIdentity]) {
        self.update(|r| {
            for &x in a {
                for &y in b {
                    for (from, to) in [(x, y), (y, x)] {
                        let mut p = r.get(from, to);
                        p.blocked = true;
                        r.links.insert((from, to), p);
                    }
                }
            }
        });
    }

    /// Unblocks every link (default included), keeping delays and loss.
    pub fn heal(&self) {
        self.update(|r| {
            r.default.blocked = false;
            for p in r.links.values_mut() {
                p.blocked = false;
            }
        });
    }

    /// Clears every rule: all links back to no shaping.
    pub fn reset(&self) {
        self.update(|r| *r = Rules::default());
    }

    /// The parameters in force for `from -> to`.
    pub fn params(&self, from: PeerIdentity, to: PeerIdentity) -> LinkParams {
        read(&self.rules).get(from, to)
    }

    /// Whether `from -> to` is blocked right now.
    pub fn is_blocked(&self, from: PeerIdentity, to: PeerIdentity) -> bool {
        self.active.load(Ordering::Acquire) && read(&self.rules).get(from, to).blocked
    }

    /// Decides the fate of one frame on `from -> to`, drawing from the
    /// seeded RNG only when loss, jitter or a latency distribution is set.
    pub fn judge(&self, from: PeerIdentity, to: PeerIdentity) -> Verdict {
        if !self.active.load(Ordering::Acquire) {
            return Verdict::Send {
                delay: Duration::ZERO,
                in_order: true,
            };
        }
        let p = self.params(from, to);
        if p.blocked {
            return Verdict::Drop(DropReason::Blocked);
        }
        if p.loss <= 0.0 && p.jitter.is_zero() && p.latency.is_none() {
            return Verdict::Send {
                delay: p.delay,
                in_order: true,
            };
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        if p.loss >= 1.0 || (p.loss > 0.0 && rng.gen::<f64>() < p.loss) {
            return Verdict::Drop(DropReason::Lost);
        }
        let drawn = match &p.latency {
            // A draw is finite and non-negative; cap it at an hour anyway.
            Some(l) => Duration::from_secs_f64((l.sample(&mut *rng) / 1e3).clamp(0.0, 3600.0)),
            None => Duration::ZERO,
        };
        if p.jitter.is_zero() {
            return Verdict::Send {
                delay: p.delay + drawn,
                in_order: p.latency.is_none(),
            };
        }
        let j = p.jitter.as_secs_f64();
        let extra = match p.jitter_dist {
            JitterDist::Uniform => rng.gen::<f64>() * j,
            JitterDist::Normal => (0..3).map(|_| rng.gen::<f64>() * j / 3.0).sum(),
        };
        Verdict::Send {
            delay: p.delay + drawn + Duration::from_secs_f64(extra.clamp(0.0, j)),
            in_order: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: PeerIdentity = PeerIdentity::Node(0);
    const B: PeerIdentity = PeerIdentity::Node(1);
    const C: PeerIdentity = PeerIdentity::Node(2);

    fn delay_of(v: Verdict) -> Duration {
        match v {
            Verdict::Send { delay, .. } => delay,
            Verdict::Drop(r) => panic!("dropped: {r:?}"),
        }
    }

    #[test]
    fn clear_by_default() {
        let s = LinkShaper::new(1);
        assert_eq!(delay_of(s.judge(A, B)), Duration::ZERO);
        assert!(!s.is_blocked(A, B));
    }

    #[test]
    fn one_way_block_and_heal() {
        let s = LinkShaper::new(1);
        s.block(A, B);
        assert_eq!(s.judge(A, B), Verdict::Drop(DropReason::Blocked));
        assert_eq!(delay_of(s.judge(B, A)), Duration::ZERO);
        s.partition(B, C);
        assert!(s.is_blocked(B, C) && s.is_blocked(C, B));
        s.heal();
        assert!(!s.is_blocked(A, B) && !s.is_blocked(C, B));
        s.partition_groups(&[A], &[B, C]);
        assert!(s.is_blocked(A, C) && s.is_blocked(C, A) && !s.is_blocked(B, C));
    }

    #[test]
    fn default_and_link_override() {
        let s = LinkShaper::new(1);
        s.set_default(LinkParams {
            delay: Duration::from_millis(5),
            ..Default::default()
        });
        s.set_link(A, B, LinkParams::default());
        assert_eq!(delay_of(s.judge(A, C)), Duration::from_millis(5));
        assert_eq!(delay_of(s.judge(A, B)), Duration::ZERO);
        s.clear_link(A, B);
        assert_eq!(delay_of(s.judge(A, B)), Duration::from_millis(5));
        s.reset();
        assert_eq!(delay_of(s.judge(A, B)), Duration::ZERO);
    }

    #[test]
    fn loss_rate_and_seed_reproducibility() {
        let run = |seed| {
            let s = LinkShaper::new(seed);
            s.set_default(LinkParams {
                loss: 0.3,
                ..Default::default()
            });
            (0..10_000)
                .map(|_| matches!(s.judge(A, B), Verdict::Drop(DropReason::Lost)))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        let lost = a.iter().filter(|&&x| x).count();
        assert!((2_500..3_500).contains(&lost), "lost {lost}");
        let s = LinkShaper::new(1);
        s.set_default(LinkParams {
            loss: 1.0,
            ..Default::default()
        });
        assert!((0..100).all(|_| s.judge(A, B) == Verdict::Drop(DropReason::Lost)));
    }

    #[test]
    fn jitter_stays_in_bounds() {
        for dist in [JitterDist::Uniform, JitterDist::Normal] {
            let s = LinkShaper::new(3);
            s.set_default(LinkParams {
                delay: Duration::from_millis(10),
                jitter: Duration::from_millis(4),
                jitter_dist: dist,
                ..Default::default()
            });
            let ds: Vec<_> = (0..2_000).map(|_| delay_of(s.judge(A, B))).collect();
            assert!(ds
                .iter()
                .all(|d| *d >= Duration::from_millis(10) && *d <= Duration::from_millis(14)));
            let mean = ds.iter().map(|d| d.as_secs_f64()).sum::<f64>() / ds.len() as f64;
            assert!((0.0115..0.0125).contains(&mean), "{dist:?} mean {mean}");
        }
    }

    #[test]
    fn latency_distribution_adds_its_draws() {
        let s = LinkShaper::new(5);
        let latency = Latency::parse("mix:0.5*2ms+0.5*exp:rate=1").unwrap();
        s.set_default(LinkParams {
            delay: Duration::from_millis(1),
            latency: Some(Arc::new(latency)),
            ..Default::default()
        });
        let ds: Vec<f64> = (0..20_000)
            .map(|_| match s.judge(A, B) {
                Verdict::Send { delay, in_order } => {
                    assert!(!in_order);
                    delay.as_secs_f64() * 1e3
                }
                Verdict::Drop(r) => panic!("dropped: {r:?}"),
            })
            .collect();
        assert!(ds.iter().all(|&d| d >= 1.0));
        let mean = ds.iter().sum::<f64>() / ds.len() as f64;
        // 1 ms fixed + (2 + 1) / 2 ms drawn.
        assert!((mean - 2.5).abs() < 0.05, "mean {mean}");
        let twos = ds.iter().filter(|&&d| (d - 3.0).abs() < 1e-9).count();
        assert!((9_000..11_000).contains(&twos), "{twos} constant draws");
    }
}
