//! Fonts and colours shared by every figure: one embedded font (so PNGs
//! render the same on any machine, without system fonts) and one colour
//! per protocol in every plot.

use plotters::prelude::RGBColor;
use plotters::style::{register_font, FontStyle};
use std::sync::OnceLock;

/// The font family name every text in a figure uses.
pub const FONT: &str = "sans-serif";

/// DejaVu Sans (see `assets/DejaVuSans-LICENSE.txt`).
static DEJAVU: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the embedded font once per process.
pub fn ensure_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        register_font(FONT, FontStyle::Normal, DEJAVU)
            .map_err(|_| "the embedded font could not be loaded".to_string())
    })
    .clone()
}

/// Fixed colours of the protocols quorumlab knows, so a protocol looks
/// the same in every figure of every report.
const PROTOCOLS: &[(&str, RGBColor)] = &[
    ("raft", RGBColor(31, 119, 180)),
    ("multipaxos", RGBColor(255, 127, 14)),
    ("unreplicated", RGBColor(127, 127, 127)),
    ("pbft", RGBColor(44, 160, 44)),
    ("hotstuff", RGBColor(214, 39, 40)),
    ("abd", RGBColor(148, 103, 189)),
    ("dynamo", RGBColor(140, 86, 75)),
    ("etcd", RGBColor(23, 23, 23)),
];

/// Colours for everything else (ranges, points), picked by a stable hash
/// of the key so the same label keeps its colour across figures.
/// None of them is a protocol's colour, so a palette line is never
/// mistaken for a protocol.
const PALETTE: &[RGBColor] = &[
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(227, 119, 194),
    RGBColor(0, 60, 130),
    RGBColor(170, 90, 0),
    RGBColor(0, 110, 60),
    RGBColor(120, 0, 60),
    RGBColor(90, 160, 255),
    RGBColor(200, 160, 0),
    RGBColor(60, 60, 60),
];

/// Colour keys with a fixed meaning in time series.
const EVENTS: &[(&str, RGBColor)] = &[
    ("fault", RGBColor(200, 30, 30)),
    ("heal", RGBColor(30, 150, 30)),
    ("leader", RGBColor(90, 90, 200)),
];

/// The colour of `key`: a protocol's own, an event kind's, or a stable
/// palette pick. Keys like `raft p99` use the protocol's colour.
pub fn color_of(key: &str) -> RGBColor {
    let head = key.split_whitespace().next().unwrap_or("");
    if let Some((_, c)) = PROTOCOLS.iter().chain(EVENTS).find(|(p, _)| *p == head) {
        return *c;
    }
    if let Some(i) = key.strip_prefix('#').and_then(|i| i.parse::<usize>().ok()) {
        return PALETTE[i % PALETTE.len()];
    }
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    PALETTE[(h % PALETTE.len() as u64) as usize]
}

/// Colour key of the `i`-th of several series without a meaningful key:
/// consecutive palette entries, so neighbours differ.
pub fn indexed(i: usize) -> String {
    format!("#{}", i % PALETTE.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_keep_their_colour() {
        assert_eq!(color_of("raft"), color_of("raft p99"));
        assert_ne!(color_of("raft"), color_of("multipaxos"));
        assert_eq!(color_of("150-300"), color_of("150-300"));
        assert!(ensure_font().is_ok());
    }
}
