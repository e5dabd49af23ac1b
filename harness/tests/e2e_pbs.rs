//! `qlab pbs` through the binary: predictions with known answers and clear
//! errors, and measurement from a tiny hand-made results folder.

mod common;

use common::{qlab, read_csv, scratch};
use std::path::Path;
use std::process::Output;

fn pbs(args: &[&str]) -> Output {
    qlab().arg("pbs").args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn num(row: &std::collections::BTreeMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?}", row[col]))
}

/// A history row; times in ms.
fn op(point: &str, op: &str, value: &str, invoke: u64, ret: u64, result: (&str, u64)) -> String {
    let (result_value, version) = result;
    format!(
        "{point},0,1,{op},1,{value},,{},{},ok,{result_value},{version}\n",
        invoke * 1_000_000,
        ret * 1_000_000
    )
}

fn write_history(dir: &Path) {
    let mut h = String::from(
        "point,repetition,client,op,key,value,expected_version,invoke_ns,return_ns,outcome,result_value,result_version\n",
    );
    // Point "stale": writes a, b, c acknowledged at 10, 20, 30 ms.
    h += &op("stale", "put", "a", 5, 10, ("", 1));
    h += &op("stale", "put", "b", 15, 20, ("", 2));
    h += &op("stale", "put", "c", 25, 30, ("", 3));
    h += &op("stale", "get", "", 12, 13, ("a", 1)); // fresh, 2 ms after a
    h += &op("stale", "get", "", 22, 23, ("a", 1)); // misses b: k = 1
    h += &op("stale", "get", "", 40, 41, ("", 0)); // misses all: k = 3
    h += &op("stale", "get", "", 35, 36, ("c", 3)); // fresh, 5 ms after c
                                                    // Point "fresh": every read sees the latest write.
    h += &op("fresh", "put", "x", 0, 2, ("", 1));
    h += &op("fresh", "get", "", 3, 4, ("x", 1));
    h += &op("fresh", "get", "", 30, 31, ("x", 1));
    std::fs::write(dir.join("history.csv"), h).unwrap();
}

#[test]
fn pbs_measures_a_results_folder() {
    let dir = scratch("pbs-history");
    write_history(&dir);
    let o = pbs(&["--history", dir.to_str().unwrap(), "--t", "0,5,10"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("stale rep 0: 4 reads, 2 stale"), "{t}");
    let rows = read_csv(&dir.join("staleness.csv"));
    assert_eq!(rows.len(), 6, "two points x three bins");
    let stale: Vec<_> = rows.iter().filter(|r| r["point"] == "stale").collect();
    let r = stale[0];
    assert_eq!((num(r, "reads"), num(r, "stale_reads")), (4.0, 2.0));
    assert_eq!(num(r, "stale_read_rate"), 0.5);
    assert_eq!((num(r, "frac_k0"), num(r, "frac_k1")), (0.5, 0.25));
    assert_eq!((num(r, "frac_k2"), num(r, "frac_k3plus")), (0.0, 0.25));
    assert_eq!((num(r, "mean_k"), num(r, "max_k")), (1.0, 3.0));
    assert_eq!(num(r, "t_visibility_max_ms"), 30.0);
    // Bins of time since the last acknowledgement: 2, 2 | 5 | 10.
    let curve: Vec<(String, String, String, String)> = stale
        .iter()
        .map(|r| {
            let c = |k: &str| r[k].clone();
            (c("t_ms"), c("t_hi_ms"), c("bin_reads"), c("p_consistent"))
        })
        .collect();
    let want = [
        ("0", "5", "2", "0.500000"),
        ("5", "10", "1", "1.000000"),
        ("10", "", "1", "0.000000"),
    ];
    for (got, want) in curve.iter().zip(want) {
        assert_eq!((&*got.0, &*got.1, &*got.2, &*got.3), want, "{curve:?}");
    }
    let fresh: Vec<_> = rows.iter().filter(|r| r["point"] == "fresh").collect();
    assert_eq!(num(fresh[0], "stale_read_rate"), 0.0);
    assert_eq!(fresh[0]["t_visibility_p50_ms"], "");

    // One point, to another file.
    let out = dir.join("only.csv");
    let o = pbs(&[
        "--history",
        dir.to_str().unwrap(),
        "--point",
        "fresh",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let rows = read_csv(&out);
    assert!(rows.iter().all(|r| r["point"] == "fresh") && rows.len() == 8);

    let o = pbs(&["--history", dir.to_str().unwrap(), "--point", "nope"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no history for point"), "{}", text(&o));
    let o = pbs(&["--history", dir.to_str().unwrap(), "--t", "5,1"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("increasing"), "{}", text(&o));
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = pbs(&["--history", empty.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(text(&o).contains("history: true"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pbs_predicts_with_known_answers() {
    let dir = scratch("pbs-predict");
    let out = dir.join("pbs.csv");
    // N=3, R=W=1, W ~ Exp(1/ms), A=R=S=0: P = 1 - (2/3) e^{-t}.
    let o = pbs(&[
        "--n",
        "3",
        "--r",
        "1",
        "--w",
        "1",
        "--lat-w",
        "exp:rate=1",
        "--lat-a",
        "0",
        "--lat-r",
        "0",
        "--lat-s",
        "0",
        "--t",
        "0,1,5",
        "--trials",
        "100000",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("partial quorums"), "{}", text(&o));
    let bytes = std::fs::read_to_string(&out).unwrap();
    assert!(bytes.starts_with("n,r,w,t_ms,p_consistent,expected_k_staleness\n"));
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 3);
    for r in &rows {
        let t = num(r, "t_ms");
        let want = 1.0 - 2.0 / 3.0 * (-t).exp();
        assert!((num(r, "p_consistent") - want).abs() < 0.01, "{r:?}");
        assert!((num(r, "expected_k_staleness") - (1.0 - want)).abs() < 0.01);
        assert_eq!((&*r["n"], &*r["r"], &*r["w"]), ("3", "1", "1"));
    }

    // Strict quorums, CSV on standard output.
    let o = pbs(&[
        "--n",
        "3",
        "--r",
        "2",
        "--w",
        "2",
        "--latency",
        "exp:0.5ms",
        "--t",
        "0,1",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        stdout,
        "n,r,w,t_ms,p_consistent,expected_k_staleness\n\
         3,2,2,0,1.000000,0.000000\n3,2,2,1,1.000000,0.000000\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pbs_refuses_bad_input() {
    let cases: [(&[&str], &str); 7] = [
        (
            &["--n", "3", "--r", "4", "--w", "1", "--latency", "1ms"],
            "between 1 and N",
        ),
        (
            &["--n", "3", "--r", "1", "--w", "1", "--latency", "exp:-1ms"],
            "negative",
        ),
        (
            &["--n", "3", "--r", "1", "--w", "1", "--latency", "gauss:1"],
            "unknown distribution",
        ),
        (
            &["--n", "3", "--r", "1", "--w", "1", "--lat-w", "1ms"],
            "no latency for a",
        ),
        (&["--n", "3", "--r", "1", "--latency", "1ms"], "--w"),
        (
            &[
                "--n",
                "3",
                "--r",
                "1",
                "--w",
                "1",
                "--latency",
                "1ms",
                "--t",
                "-1",
            ],
            "negative",
        ),
        (&["--history", "x", "--n", "3"], "cannot be used with"),
    ];
    for (args, want) in cases {
        let o = pbs(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
    }
    let o = pbs(&["--help"]);
    assert!(o.status.success());
    assert!(text(&o).contains("pareto:xm="), "{}", text(&o));
}
