//! Latency distributions and their text form, shared by the PBS model
//! (`analysis::pbs`, whose four WARS legs are drawn from them) and link
//! shaping (`net`, which delays frames by draws from them), so that a
//! prediction and the network it predicts use one description.
//!
//! Every latency is in milliseconds. The text form (as on `qlab pbs`'s
//! command line), where a duration is a number with an optional unit (`ns`,
//! `us`, `ms`, `s`; no unit means ms):
//!
//! - `2ms` or `const:2ms`: constant;
//! - `exp:0.5ms`: exponential with mean 0.5 ms; `exp:rate=2` the same by
//!   its rate λ per ms (the PBS paper's notation);
//! - `pareto:xm=0.235ms,alpha=10`: Pareto with scale x_m and shape α;
//! - `samples:1.2,3.4ms,...`: an empirical distribution, drawn uniformly
//!   from the samples; `file:PATH`: the same, samples read from a file (one
//!   or more per line, separated by commas or spaces; `#` starts a comment);
//! - `mix:0.9*pareto:xm=0.235,alpha=10+0.1*exp:rate=1.66`: a mixture; the
//!   weights are normalized.

use rand::Rng;
use std::path::Path;
use std::str::FromStr;
use thiserror::Error;

/// A latency distribution that cannot be parsed or read.
#[derive(Debug, Error)]
pub enum LatencyError {
    /// Bad text.
    #[error("latency {spec:?}: {reason}")]
    Spec {
        /// The text given.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A samples file that cannot be read.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// A distribution of a latency (a WARS leg, a link's extra delay), in
/// milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always this many ms.
    Constant(f64),
    /// Exponential with rate λ per ms (mean 1/λ).
    Exponential {
        /// λ, per ms.
        rate: f64,
    },
    /// Pareto: P(X > x) = (x_m / x)^α for x >= x_m.
    Pareto {
        /// Scale x_m (ms), the minimum.
        xm: f64,
        /// Shape α.
        alpha: f64,
    },
    /// Drawn uniformly from measured samples (ms).
    Empirical(Vec<f64>),
    /// A mixture: (cumulative weight in (0, 1], component), the last
    /// cumulative weight being 1.
    Mixture(Vec<(f64, Latency)>),
}

impl Latency {
    /// One sample (ms, never negative).
    pub fn sample<G: Rng + ?Sized>(&self, rng: &mut G) -> f64 {
        match self {
            Latency::Constant(c) => *c,
            // 1 - u is in (0, 1]: the logarithm is finite.
            Latency::Exponential { rate } => -(1.0 - rng.gen::<f64>()).ln() / rate,
            Latency::Pareto { xm, alpha } => xm * (1.0 - rng.gen::<f64>()).powf(-1.0 / alpha),
            Latency::Empirical(samples) => samples[rng.gen_range(0..samples.len())],
            Latency::Mixture(parts) => {
                let u = rng.gen::<f64>();
                let i = parts.partition_point(|(cum, _)| *cum <= u);
                parts[i.min(parts.len() - 1)].1.sample(rng)
            }
        }
    }

    /// The mean (ms); infinite for a Pareto with α <= 1.
    pub fn mean(&self) -> f64 {
        match self {
            Latency::Constant(c) => *c,
            Latency::Exponential { rate } => 1.0 / rate,
            Latency::Pareto { xm, alpha } if *alpha > 1.0 => alpha * xm / (alpha - 1.0),
            Latency::Pareto { .. } => f64::INFINITY,
            Latency::Empirical(s) => s.iter().sum::<f64>() / s.len() as f64,
            Latency::Mixture(parts) => {
                let mut prev = 0.0;
                parts
                    .iter()
                    .map(|(cum, l)| {
                        let w = cum - prev;
                        prev = *cum;
                        w * l.mean()
                    })
                    .sum()
            }
        }
    }

    /// Parses the text form (see the module documentation).
    pub fn parse(spec: &str) -> Result<Latency, LatencyError> {
        let bad = |reason: String| LatencyError::Spec {
            spec: spec.to_string(),
            reason,
        };
        let spec = spec.trim();
        let (kind, arg) = spec.split_once(':').unwrap_or(("const", spec));
        match kind {
            "const" => Ok(Latency::Constant(parse_ms(arg).map_err(bad)?)),
            "exp" => {
                let rate = match arg.strip_prefix("rate=") {
                    Some(rate) => parse_number(rate).map_err(bad)?,
                    None => 1.0 / parse_ms(arg).map_err(bad)?,
                };
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(bad("the mean and the rate must be positive".into()));
                }
                Ok(Latency::Exponential { rate })
            }
            "pareto" => parse_pareto(arg).map_err(bad),
            "samples" => empirical(arg).map_err(bad),
            "file" => {
                let text = std::fs::read_to_string(Path::new(arg)).map_err(|source| {
                    LatencyError::File {
                        path: arg.to_string(),
                        source,
                    }
                })?;
                let lines: Vec<&str> = text
                    .lines()
                    .map(|l| l.split('#').next().unwrap_or(""))
                    .collect();
                empirical(&lines.join(",")).map_err(|e| bad(format!("{arg}: {e}")))
            }
            "mix" => parse_mixture(arg).map_err(bad),
            other => Err(bad(format!(
                "unknown distribution {other:?} (const, exp, pareto, samples, file, mix)"
            ))),
        }
    }
}

impl FromStr for Latency {
    type Err = LatencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Latency::parse(s)
    }
}

fn parse_number(s: &str) -> Result<f64, String> {
    let x: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{s:?} is not finite"))
    }
}

/// A non-negative duration in ms: a number with an optional unit (`ns`,
/// `us`, `ms`, `s`; none means ms).
pub fn parse_ms(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (number, scale) = [
        ("ns", 1e-6),
        ("us", 1e-3),
        ("µs", 1e-3),
        ("ms", 1.0),
        ("s", 1e3),
    ]
    .iter()
    .find_map(|(unit, scale)| s.strip_suffix(unit).map(|n| (n, *scale)))
    .unwrap_or((s, 1.0));
    let x = parse_number(number).map_err(|_| format!("{s:?} is not a duration (e.g. 0.5ms)"))?;
    if x < 0.0 {
        return Err(format!("{s:?} is negative"));
    }
    Ok(x * scale)
}

fn parse_pareto(arg: &str) -> Result<Latency, String> {
    let (mut xm, mut alpha) = (None, None);
    for part in arg.split(',') {
        match part.trim().split_once('=') {
            Some(("xm", v)) => xm = Some(parse_ms(v)?),
            Some(("alpha", v)) => alpha = Some(parse_number(v)?),
            _ => return Err(format!("{part:?}: expected xm=DURATION or alpha=NUMBER")),
        }
    }
    match (xm, alpha) {
        (Some(xm), Some(alpha)) if xm > 0.0 && alpha > 0.0 => Ok(Latency::Pareto { xm, alpha }),
        (Some(_), Some(_)) => Err("xm and alpha must be positive".into()),
        _ => Err("pareto needs xm= and alpha= (e.g. pareto:xm=1ms,alpha=2)".into()),
    }
}

fn empirical(list: &str) -> Result<Latency, String> {
    let samples = list
        .split([',', ' ', '\t'])
        .filter(|s| !s.trim().is_empty())
        .map(parse_ms)
        .collect::<Result<Vec<f64>, String>>()?;
    if samples.is_empty() {
        return Err("no samples".into());
    }
    Ok(Latency::Empirical(samples))
}

fn parse_mixture(arg: &str) -> Result<Latency, String> {
    let mut parts = Vec::new();
    for part in arg.split('+') {
        let (weight, spec) = part
            .split_once('*')
            .ok_or_else(|| format!("{part:?}: expected WEIGHT*DISTRIBUTION"))?;
        let weight = parse_number(weight)?;
        if weight <= 0.0 {
            return Err(format!("{part:?}: the weight must be positive"));
        }
        let component = Latency::parse(spec).map_err(|e| e.to_string())?;
        parts.push((weight, component));
    }
    let total: f64 = parts.iter().map(|(w, _)| w).sum();
    let mut cum = 0.0;
    let mut out = Vec::with_capacity(parts.len());
    for (w, l) in parts {
        cum += w / total;
        out.push((cum, l));
    }
    if let Some(last) = out.last_mut() {
        last.0 = 1.0;
    }
    Ok(Latency::Mixture(out))
}

#[cfg(test)]
mod tests;
