//! A Dynamo history with sibling reads, through `history.csv` and back into
//! the staleness analysis.

use analysis::history::{encode_siblings, read_history};
use analysis::staleness::{observe, summarize, Returned};
use protocols::check::Outcome;
use protocols::kv::{Response, Value};

const HEADER: &str = "point,repetition,client,op,key,value,expected_version,invoke_ns,\
return_ns,outcome,result_value,result_version,result_siblings";

const MS: u64 = 1_000_000;

fn put(client: u64, value: &str, invoke_ms: u64, ret_ms: u64) -> String {
    format!(
        "p,0,{client},put,1,{value},,{},{},ok,,1,",
        invoke_ms * MS,
        ret_ms * MS
    )
}

fn get(invoke_ms: u64, values: &[&str]) -> String {
    let values: Vec<Value> = values
        .iter()
        .map(|s| Value::from(s.as_bytes().to_vec()))
        .collect();
    format!(
        "p,0,9,get,1,,,{},{},ok,\"{}\",{},{}",
        invoke_ms * MS,
        invoke_ms * MS + MS,
        encode_siblings(&values),
        values.len(),
        values.len()
    )
}

#[test]
fn sibling_reads_survive_the_file_and_are_judged() {
    let rows = [
        put(1, "c1-1:", 0, 2),        // write #1
        put(2, "c2-1:", 1, 5),        // write #2, concurrent with #1: siblings
        put(3, "c3-1:", 20, 22),      // write #3, after both
        get(10, &["c1-1:", "c2-1:"]), // both siblings; #2 is the latest: fresh
        get(10, &["c1-1:"]),          // misses #2, which overlapped #1: fresh
        get(30, &["c1-1:", "c2-1:"]), // misses #3 (after both): k = 1
        get(30, &["c2-1:", "c3-1:"]), // has #3: fresh
        get(30, &["zz", "c3-1:"]),    // an unmatched sibling does not hide #3
        get(30, &[]),                 // absent: misses all three
    ];
    let dir = std::env::temp_dir().join(format!("qlab-siblings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.csv");
    std::fs::write(&path, format!("{HEADER}\n{}\n", rows.join("\n"))).unwrap();
    let histories = read_history(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let ops = &histories[&("p".to_string(), 0)];
    let Outcome::Ok(Response::Siblings { values, .. }) = &ops[3].outcome else {
        panic!("{:?}", ops[3].outcome);
    };
    assert_eq!(values.len(), 2);
    assert!(matches!(
        ops[4].outcome,
        Outcome::Ok(Response::Value { .. })
    ));

    let obs = observe(ops);
    let brief: Vec<_> = obs.iter().map(|o| (o.returned, o.k)).collect();
    use Returned::*;
    assert_eq!(
        brief,
        vec![
            (Acked(2), 0),
            (Acked(1), 0),
            (Acked(2), 1),
            (Acked(3), 0),
            (Acked(3), 0),
            (Initial, 3),
        ]
    );
    let s = summarize(&obs, &[0.0, 10.0]);
    assert_eq!((s.judged, s.unmatched, s.stale), (6, 0, 2));
    // Reads at 10 ms are 5 ms after #2's ack, reads at 30 ms 8 ms after #3's.
    assert_eq!(s.bins[0].reads, 6);
    assert_eq!(s.bins[0].consistent, 4);
}
