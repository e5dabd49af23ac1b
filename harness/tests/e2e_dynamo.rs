//! The Dynamo store end to end through the `qlab` binary: a short run on a
//! local cluster of four real processes over QUIC (N = 3, strict R = W = 2
//! and partial R = W = 1), with a latency distribution on every replica
//! link; the summary has a row per point without errors, every read's
//! sibling count is in `history.csv`, and `qlab pbs --history` measures
//! staleness with the model's prediction beside it.

mod common;

use common::{output_text as text, qlab, read_csv, run_experiment, scratch};

fn num(row: &std::collections::BTreeMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?} in {row:?}", row[col]))
}

const STRICT: &str = "protocol_config=n=3;r=2;w=2;read_repair=false";
const PARTIAL: &str = "protocol_config=n=3;r=1;w=1;read_repair=false";

#[test]
fn dynamo_runs_over_quic_and_pbs_measures_it() {
    let dir = scratch("dynamo");
    let file = dir.join("dynamo.yaml");
    std::fs::write(
        &file,
        "name: dynamo\nprotocol: dynamo\nnodes: 4\nhistory: true\n\
         link_latency: \"mix:0.9*pareto:xm=0.3ms,alpha=3+0.1*exp:rate=0.5\"\n\
         workload:\n  keys: 4\n  read_ratio: 0.7\n  arrival: {kind: open, rate: 300}\n  clients: 12\n  duration: 3s\n  warmup: 500ms\n  cooldown: 300ms\n\
         sweep:\n  protocol_config:\n    - {n: 3, r: 2, w: 2, read_repair: false}\n    - {n: 3, r: 1, w: 1, read_repair: false}\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "qlab run failed:\n{}", text(&o));

    let summary = read_csv(&out.join("summary.csv"));
    assert_eq!(summary.len(), 2, "{summary:?}");
    for row in &summary {
        assert_eq!(row["protocol"], "dynamo");
        assert!(num(row, "completed") > 300.0, "{row:?}");
        assert_eq!(num(row, "errors"), 0.0, "{row:?}");
        assert_eq!(num(row, "timeouts"), 0.0, "{row:?}");
        assert!(num(row, "p50_us") > 0.0, "{row:?}");
    }
    let provenance = std::fs::read_to_string(out.join("provenance.yaml")).unwrap();
    assert!(provenance.contains("link_latency"), "{provenance}");

    // Every successful get records how many siblings it returned.
    let history = read_csv(&out.join("history.csv"));
    let gets: Vec<_> = history
        .iter()
        .filter(|r| r["op"] == "get" && r["outcome"] == "ok")
        .collect();
    assert!(gets.len() > 300, "{} gets", gets.len());
    for g in &gets {
        let n: usize = g["result_siblings"]
            .parse()
            .unwrap_or_else(|_| panic!("{g:?}"));
        if n >= 2 {
            assert_eq!(g["result_value"].split('|').count(), n, "{g:?}");
        }
    }

    let o = qlab()
        .args(["pbs", "--history"])
        .arg(&out)
        .args(["--t", "0,2,5,20", "--trials", "20000"])
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("model N=3 R=1 W=1"), "{t}");
    let rows = read_csv(&out.join("staleness.csv"));
    assert_eq!(rows.len(), 2 * 4, "{rows:?}");
    for row in &rows {
        assert_eq!(num(row, "unmatched_reads"), 0.0, "{row:?}");
        let reads = num(row, "bin_reads");
        if reads > 0.0 {
            let p = num(row, "p_consistent");
            let model = num(row, "model_p_consistent");
            assert!((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&model));
        }
        if row["point"] == STRICT {
            // R + W > N with strict quorums: nothing is stale, and the
            // model agrees.
            assert_eq!(num(row, "stale_reads"), 0.0, "{row:?}");
            assert_eq!(num(row, "model_p_at_t_ms"), 1.0, "{row:?}");
        } else {
            assert_eq!(row["point"], PARTIAL);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
