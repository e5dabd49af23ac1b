//! `qlab check` through the binary: a real run's history passes; the same
//! history doctored (a read of a value never written, a stale read) fails
//! with the violating key printed; a folder without history is refused.

mod common;

use common::{qlab, run_experiment, scratch};
use std::path::Path;
use std::process::Output;

fn check(dir: &Path, extra: &[&str]) -> Output {
    qlab().arg("check").arg(dir).args(extra).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Copies `src/history.csv` to `dst/history.csv` after `edit` changed rows.
fn doctor(src: &Path, dst: &Path, edit: impl FnOnce(&[String], &mut Vec<Vec<String>>)) {
    std::fs::create_dir_all(dst).unwrap();
    let mut r = csv::Reader::from_path(src.join("history.csv")).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    edit(&headers, &mut rows);
    let mut w = csv::Writer::from_path(dst.join("history.csv")).unwrap();
    w.write_record(&headers).unwrap();
    for row in &rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
}

fn col(headers: &[String], name: &str) -> usize {
    headers.iter().position(|h| h == name).unwrap()
}

#[test]
fn check_passes_a_real_history_and_catches_doctored_ones() {
    let dir = scratch("check");
    let file = dir.join("hist.yaml");
    std::fs::write(
        &file,
        "name: hist\nprotocol: raft\nnodes: 3\nhistory: true\n\
         workload:\n  keys: 4\n  arrival: {kind: open, rate: 200}\n  clients: 8\n  duration: 3s\n  warmup: 500ms\n  cooldown: 300ms\n",
    )
    .unwrap();
    let out = dir.join("results");
    let o = run_experiment(&file, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // (a) The real history is linearizable and has no stale reads.
    let o = check(&out, &[]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("linearizable"), "{t}");
    assert!(t.contains(" 0 stale reads"), "{t}");
    assert!(t.contains("4 keys"), "{t}");
    let o = check(&out, &["--point", "base"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = check(&out, &["--point", "nope"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("no history for point"), "{}", text(&o));

    // (b) A successful read of a value nobody wrote.
    let bad = dir.join("never-written");
    let mut key = String::new();
    doctor(&out, &bad, |h, rows| {
        let (op, outcome, version) = (col(h, "op"), col(h, "outcome"), col(h, "result_version"));
        let row = rows
            .iter_mut()
            .find(|r| {
                r[op] == "get" && r[outcome] == "ok" && r[version].parse::<u64>().unwrap() > 0
            })
            .expect("no successful read of a written key");
        row[col(h, "result_value")] = "doctored-never-written".into();
        key = row[col(h, "key")].clone();
    });
    let o = check(&bad, &[]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains("NOT LINEARIZABLE"), "{t}");
    assert!(t.contains(&format!("key {key}: minimal violating")), "{t}");
    assert!(t.contains("doctored-never-written"), "{t}");
    assert!(t.contains("not linearizable"), "{t}");

    // (c) A read invoked after a later write was acknowledged returns the
    // value of an older write: stale, and a violation.
    let stale = dir.join("stale");
    let mut stale_key = String::new();
    doctor(&out, &stale, |h, rows| {
        let c = |n| col(h, n);
        let num = |s: &str| s.parse::<u64>().unwrap_or(0);
        let puts: Vec<Vec<String>> = rows
            .iter()
            .filter(|r| r[c("op")] == "put" && r[c("outcome")] == "ok")
            .cloned()
            .collect();
        let target = rows.iter_mut().find_map(|r| {
            if r[c("op")] != "get" || r[c("outcome")] != "ok" {
                return None;
            }
            let v = num(&r[c("result_version")]);
            // An earlier write of this key whose version is below the one
            // acknowledged before this read was invoked.
            let newest = puts
                .iter()
                .filter(|p| p[c("key")] == r[c("key")])
                .filter(|p| num(&p[c("return_ns")]) < num(&r[c("invoke_ns")]))
                .map(|p| num(&p[c("result_version")]))
                .max()?;
            let older = puts.iter().find(|p| {
                p[c("key")] == r[c("key")] && num(&p[c("result_version")]) + 1 == newest
            })?;
            (v >= newest && newest >= 2).then(|| (r, older.clone()))
        });
        let (row, older) = target.expect("no read after two acknowledged writes");
        row[c("result_value")] = older[c("value")].clone();
        row[c("result_version")] = older[c("result_version")].clone();
        stale_key = row[c("key")].clone();
    });
    let o = check(&stale, &[]);
    let t = text(&o);
    assert!(!o.status.success(), "{t}");
    assert!(t.contains(" 1 stale reads"), "{t}");
    assert!(
        t.contains(&format!("key {stale_key}: minimal violating")),
        "{t}"
    );

    // No history recorded: a clear message.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = check(&empty, &[]);
    assert!(!o.status.success());
    assert!(text(&o).contains("history: true"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
