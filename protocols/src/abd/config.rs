//! ABD's tunables.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Tunables of [`super::Abd`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbdConfig {
    /// How long a coordinator waits for a phase's quorum before it sends the
    /// phase's message again to the replicas that have not answered (lost
    /// messages never wedge an operation). Default 50 ms.
    #[serde(with = "crate::durations")]
    pub retry_interval: Duration,
    /// Skip a read's write-back phase when a majority of the query replies
    /// already carry the highest tag (the value is on a quorum already), so
    /// uncontended reads take one round trip. Default true.
    pub read_fast_path: bool,
    /// Deliberately broken variant: reads never write back what they
    /// return, so two reads can see a partly stored write in opposite
    /// orders. Only for proving that the simulator's checks catch it.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_skip_write_back: bool,
    /// Deliberately unsafe client policy: retry writes at another replica
    /// too (see [`crate::client::any`]): a cut-off coordinator may finish a
    /// write after the client moved on.
    #[doc(hidden)]
    #[serde(skip)]
    pub unsafe_failover_writes: bool,
}

impl Default for AbdConfig {
    fn default() -> Self {
        AbdConfig {
            retry_interval: Duration::from_millis(50),
            read_fast_path: true,
            unsafe_skip_write_back: false,
            unsafe_failover_writes: false,
        }
    }
}
