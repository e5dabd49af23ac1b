//! Seeds of the independent random streams of a run, all derived from the
//! workload seed, so that one number reproduces every random choice and
//! streams never share state (adding a client does not shift the keys of
//! the others).

use crate::zipfian::mix64;

/// The random streams of a run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Operations of one logical client (index = the client's slot index).
    Ops,
    /// Open-loop arrival times (index = the driver).
    Arrivals,
    /// Anything else a driver or simulator draws (index = the driver).
    Driver,
}

/// The seed of stream `stream`, instance `index`, of a run seeded `seed`.
pub fn derive_seed(seed: u64, stream: Stream, index: u64) -> u64 {
    let tag = match stream {
        Stream::Ops => 0x6f70_7300,
        Stream::Arrivals => 0x6172_7200,
        Stream::Driver => 0x6472_7600,
    };
    mix64(mix64(seed ^ tag).wrapping_add(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_indices_get_distinct_seeds() {
        let mut all = Vec::new();
        for seed in 0..4 {
            for s in [Stream::Ops, Stream::Arrivals, Stream::Driver] {
                for i in 0..64 {
                    all.push(derive_seed(seed, s, i));
                }
            }
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        assert_eq!(
            derive_seed(7, Stream::Ops, 3),
            derive_seed(7, Stream::Ops, 3)
        );
    }
}
