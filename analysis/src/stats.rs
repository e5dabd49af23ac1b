//! Statistics done right: means with confidence intervals over repetitions,
//! and the saturation point of an offered-load sweep. Percentiles are never
//! averaged here: callers merge histograms first (see `workloads`' recorder)
//! and take percentiles of the merged distribution.

/// A mean with its 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanCi {
    /// Sample mean.
    pub mean: f64,
    /// Half-width of the 95% confidence interval (Student's t); 0 with one
    /// sample, where no interval can be given.
    pub half_width: f64,
    /// Number of samples.
    pub n: usize,
}

impl MeanCi {
    /// Lower end of the interval.
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }
    /// Upper end of the interval.
    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
}

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The t quantile for a 95% interval with `df` degrees of freedom.
pub fn t_quantile_95(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975[df - 1],
        31..=60 => 2.042 - (df as f64 - 30.0) * (2.042 - 2.000) / 30.0,
        61..=120 => 2.000 - (df as f64 - 60.0) * (2.000 - 1.980) / 60.0,
        _ => 1.960,
    }
}

/// Mean and 95% confidence interval of `samples` (NaNs ignored). `None` for
/// no samples.
pub fn mean_ci95(samples: &[f64]) -> Option<MeanCi> {
    let xs: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some(MeanCi {
            mean,
            half_width: 0.0,
            n,
        });
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0);
    let half_width = t_quantile_95(n - 1) * (var / n as f64).sqrt();
    Some(MeanCi {
        mean,
        half_width,
        n,
    })
}

/// One point of an offered-load sweep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadPoint {
    /// Offered load, ops/s.
    pub offered: f64,
    /// Achieved throughput, ops/s.
    pub achieved: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
}

/// The saturation point: the highest offered load whose achieved throughput
/// stays within `tolerance` (e.g. 0.05) of it and whose p99 stays under
/// `slo_us`. `None` if no point qualifies.
pub fn saturation_point(points: &[LoadPoint], tolerance: f64, slo_us: f64) -> Option<LoadPoint> {
    points
        .iter()
        .copied()
        .filter(|p| p.offered > 0.0)
        .filter(|p| p.achieved >= p.offered * (1.0 - tolerance))
        .filter(|p| p.p99_us <= slo_us)
        .max_by(|a, b| a.offered.total_cmp(&b.offered))
}

/// The highest achieved throughput among points whose p99 is under
/// `slo_us` (the scalability plot's y value). `None` if none qualifies.
pub fn max_throughput_under_slo(points: &[LoadPoint], slo_us: f64) -> Option<f64> {
    points
        .iter()
        .filter(|p| p.p99_us <= slo_us)
        .map(|p| p.achieved)
        .max_by(f64::total_cmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ci_matches_a_hand_computed_example() {
        // Samples 10, 12, 14: mean 12, sd 2, se 2/sqrt(3), t(2) = 4.303.
        let ci = mean_ci95(&[10.0, 12.0, 14.0]).unwrap();
        assert!((ci.mean - 12.0).abs() < 1e-12);
        let expected = 4.303 * 2.0 / 3f64.sqrt();
        assert!((ci.half_width - expected).abs() < 1e-9, "{ci:?}");
        assert!((ci.low() - (12.0 - expected)).abs() < 1e-9);
        assert_eq!(mean_ci95(&[5.0]).unwrap().half_width, 0.0);
        assert!(mean_ci95(&[]).is_none());
        assert_eq!(mean_ci95(&[f64::NAN, 4.0]).unwrap().n, 1);
    }

    #[test]
    fn t_quantiles_decrease_towards_the_normal() {
        assert_eq!(t_quantile_95(1), 12.706);
        assert!(t_quantile_95(45) < t_quantile_95(30));
        assert!(t_quantile_95(100) > 1.96);
        assert_eq!(t_quantile_95(1000), 1.96);
    }

    #[test]
    fn saturation_is_the_highest_load_that_keeps_up_under_the_slo() {
        let pts = [
            LoadPoint {
                offered: 1000.0,
                achieved: 1000.0,
                p99_us: 900.0,
            },
            LoadPoint {
                offered: 2000.0,
                achieved: 1960.0,
                p99_us: 1500.0,
            },
            LoadPoint {
                offered: 3000.0,
                achieved: 2900.0,
                p99_us: 4000.0,
            }, // over SLO
            LoadPoint {
                offered: 4000.0,
                achieved: 3000.0,
                p99_us: 1800.0,
            }, // falls behind
        ];
        let sat = saturation_point(&pts, 0.05, 2000.0).unwrap();
        assert_eq!(sat.offered, 2000.0);
        assert_eq!(max_throughput_under_slo(&pts, 2000.0), Some(3000.0));
        assert!(saturation_point(&pts, 0.05, 100.0).is_none());
    }
}
