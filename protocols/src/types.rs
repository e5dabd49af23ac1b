//! Small shared identifiers and the protocol-neutral notion of time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Identifies a replica within one cluster (0-based, dense).
pub type NodeId = u32;

/// Identifies one logical client (a driver multiplexes many).
pub type ClientId = u64;

/// Identifies one client request: the client and its per-client sequence
/// number. Replicas use it to deduplicate retried requests, so a retry never
/// executes twice (Raft dissertation, section 6.3).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct RequestId {
    /// The logical client that issued the request.
    pub client: ClientId,
    /// Strictly increasing per client, starting at 1.
    pub seq: u64,
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}#{}", self.client, self.seq)
    }
}

/// A point on the driver's monotonic clock, in nanoseconds since an arbitrary
/// origin (simulation start, or process start for real nodes). Cores only ever
/// compare and subtract times, never read a wall clock.
#[derive(
    Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default, Serialize, Deserialize,
)]
pub struct Time(pub u64);

impl Time {
    /// The origin of the clock.
    pub const ZERO: Time = Time(0);

    /// Builds a time from whole milliseconds since the origin.
    pub fn from_millis(ms: u64) -> Time {
        Time(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the origin.
    pub fn as_nanos(self) -> u64 {
        self.0
    }

    /// Milliseconds since the origin, as a float (for reports).
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// `self + d`, saturating at the end of time.
    pub fn plus(self, d: Duration) -> Time {
        Time(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}ms", self.as_millis_f64())
    }
}
