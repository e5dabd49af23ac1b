//! Text form and sampling of the distributions.

use super::*;

fn lat(s: &str) -> Latency {
    Latency::parse(s).unwrap()
}

#[test]
fn latency_text_form() {
    assert_eq!(lat("2ms"), Latency::Constant(2.0));
    assert_eq!(lat("const:500us"), Latency::Constant(0.5));
    assert_eq!(lat("1s"), Latency::Constant(1000.0));
    assert_eq!(lat("exp:0.5ms"), Latency::Exponential { rate: 2.0 });
    assert_eq!(lat("exp:rate=4"), Latency::Exponential { rate: 4.0 });
    assert_eq!(
        lat("pareto:xm=0.235,alpha=10"),
        Latency::Pareto {
            xm: 0.235,
            alpha: 10.0
        }
    );
    assert_eq!(
        lat("samples:1, 2ms 3000us"),
        Latency::Empirical(vec![1.0, 2.0, 3.0])
    );
    let Latency::Mixture(parts) = lat("mix:3*1ms+1*exp:rate=2") else {
        panic!("not a mixture");
    };
    assert_eq!(parts[0], (0.75, Latency::Constant(1.0)));
    assert_eq!(parts[1].0, 1.0);
    assert!((lat("mix:3*1ms+1*exp:rate=2").mean() - (0.75 + 0.125)).abs() < 1e-12);
    assert!((lat("pareto:xm=1,alpha=2").mean() - 2.0).abs() < 1e-12);

    let dir = std::env::temp_dir().join(format!("pbs-samples-{}", std::process::id()));
    std::fs::write(&dir, "# measured\n1.5\n2.5, 3ms # tail\n\n").unwrap();
    let parsed = Latency::parse(&format!("file:{}", dir.display()));
    let _ = std::fs::remove_file(&dir);
    assert_eq!(parsed.unwrap(), Latency::Empirical(vec![1.5, 2.5, 3.0]));
}

#[test]
fn sample_means_match() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for spec in [
        "exp:2ms",
        "pareto:xm=1ms,alpha=3",
        "samples:1,2,6",
        "mix:1*1+1*exp:3",
    ] {
        let l = lat(spec);
        let n = 200_000;
        let mean = (0..n).map(|_| l.sample(&mut rng)).sum::<f64>() / n as f64;
        assert!(
            (mean - l.mean()).abs() < 0.03 * l.mean(),
            "{spec}: {mean} vs {}",
            l.mean()
        );
    }
}
