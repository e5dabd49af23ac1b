//! HdrHistogram's classic percentile distribution text (`.hgrm`), as
//! printed by Java's `outputPercentileDistribution` and read by
//! HdrHistogram's plotter: a `Value Percentile TotalCount
//! 1/(1-Percentile)` table followed by mean, deviation, max and count.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// Formats `h` as a percentile distribution, `ticks_per_half_distance`
/// lines per halving of the distance to 100% (HdrHistogram uses 5), with
/// values divided by `unit_ratio` (1000 turns microseconds into
/// milliseconds). Values get as many decimals as `h` has significant
/// digits, as in HdrHistogram.
pub fn percentile_distribution(
    h: &Histogram<u64>,
    ticks_per_half_distance: u32,
    unit_ratio: f64,
) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    // Writing to a String cannot fail: the results are ignored below.
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(ticks_per_half_distance.max(1)) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / unit_ratio;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.digits$} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:>12.digits$} {q:>2.12} {total:>10}");
            }
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            h.mean() / unit_ratio,
            h.stdev() / unit_ratio,
            h.max() as f64 / unit_ratio,
        )
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.digits$}, StdDeviation   = {stdev:>12.digits$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.digits$}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_buckets(h.sigfig())
    );
    out
}

/// HdrHistogram's sub-bucket count: the power of two covering
/// `2 * 10^sigfig` (2048 for 3 significant digits).
fn sub_buckets(sigfig: u8) -> u64 {
    let magnitude = (2.0 * 10f64.powi(i32::from(sigfig))).log2().ceil() as u32;
    1u64 << magnitude.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hdrhistogram_on_a_small_example() {
        // The same three values as HdrHistogramJS's README example.
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in [25, 50, 75] {
            h.record(v).unwrap();
        }
        let text = percentile_distribution(&h, 5, 1.0);
        let expected = "       Value     Percentile TotalCount 1/(1-Percentile)

      25.000 0.000000000000          1           1.00
      25.000 0.100000000000          1           1.11
      25.000 0.200000000000          1           1.25
      25.000 0.300000000000          1           1.43
      50.000 0.400000000000          2           1.67
      50.000 0.500000000000          2           2.00
      50.000 0.550000000000          2           2.22
      50.000 0.600000000000          2           2.50
      50.000 0.650000000000          2           2.86
      75.000 0.700000000000          3           3.33
      75.000 1.000000000000          3
#[Mean    =       50.000, StdDeviation   =       20.412]
#[Max     =       75.000, Total count    =            3]
";
        assert!(text.starts_with(expected), "{text}");
        assert!(text.ends_with("SubBuckets     =         2048]\n"), "{text}");
    }

    #[test]
    fn an_empty_histogram_has_a_header_and_a_footer() {
        let h = Histogram::<u64>::new(3).unwrap();
        let text = percentile_distribution(&h, 5, 1000.0);
        assert!(text.starts_with("       Value"));
        assert!(text.contains("Total count    =            0]"), "{text}");
        assert_eq!(sub_buckets(2), 256);
    }
}
