//! Every figure kind drawn from a synthetic results folder: the files
//! exist, the SVGs are well-formed XML with text and shapes, and the PNGs
//! decode and are not blank.

use analysis::plot::{render_all, PlotOptions};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn fixture(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qlab-plot-fixture-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("latency")).unwrap();
    let mut summary = String::from(
        "point,repetition,experiment,protocol,nodes,durability,backend,simulated,load,workload.arrival.rate,offered_ops_per_s,achieved_ops_per_s,p50_us,p99_us\n",
    );
    for protocol in ["raft", "multipaxos"] {
        for nodes in [3, 5] {
            for rate in [500, 1000, 2000] {
                for rep in 0..2 {
                    let p99 = 2000 + rate + 300 * nodes + 100 * rep;
                    let _ = writeln!(
                        summary,
                        "protocol={protocol};nodes={nodes};rate={rate},{rep},fx,{protocol},{nodes},memory,local,false,open,{rate},{rate},{},{}, {p99}",
                        rate - 3 * rep,
                        900 + rep * 50,
                    );
                }
            }
        }
    }
    // The stray space above is trimmed by the reader; keep a clean file.
    std::fs::write(dir.join("summary.csv"), summary.replace(", ", ",")).unwrap();
    let mut hgrm = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    for (v, q) in [
        (0.5, 0.0),
        (0.9, 0.5),
        (1.2, 0.9),
        (2.0, 0.99),
        (4.0, 0.999),
        (9.0, 0.9999),
    ] {
        let _ = writeln!(
            hgrm,
            "{v:>12.3} {q:>2.12} {:>10} {:>14.2}",
            10,
            1.0 / (1.0f64 - q)
        );
    }
    for name in [
        "protocol=raft_rate=500-r0",
        "protocol=multipaxos_rate=500-r0",
    ] {
        std::fs::write(dir.join("latency").join(format!("{name}.hgrm")), &hgrm).unwrap();
    }
    let mut ts = String::from("point,repetition,protocol,window_start_ms,window_ms,completed,errors,timeouts,p50_us,p99_us,max_us\n");
    for w in 0..60 {
        let done = if (20..26).contains(&w) { 0 } else { 100 };
        let _ = writeln!(
            ts,
            "crash,0,raft,{},100,{done},0,0,900,{},5000",
            w * 100,
            2000 + w * 10
        );
    }
    std::fs::write(dir.join("timeseries.csv"), ts).unwrap();
    std::fs::write(
        dir.join("events.csv"),
        "point,repetition,time_ms,node,kind,detail\ncrash,0,-50,0,leader_elected,1\ncrash,0,2000,0,fault_crash,SIGKILL\ncrash,0,2250,1,leader_elected,2\ncrash,0,3500,0,fault_restart,\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("recovery.csv"),
        "point,repetition,protocol,fault,fault_node,fault_ms,time_to_leader_ms,unavailable_ms,recovery_ms,baseline_ops_per_s,errors,timeouts\ncrash,0,raft,crash,0,2000,250,600,900,1000,0,3\ncrash,0,multipaxos,crash,0,2000,300,700,,1000,0,5\n",
    )
    .unwrap();
    let mut cdf = String::from("point,repetition,protocol,election_timeout_ms,time_without_leader_ms,cumulative_fraction\n");
    for (range, base) in [("150-300", 150.0), ("12-24", 12.0)] {
        for i in 0..20 {
            let _ = writeln!(
                cdf,
                "{range},0,raft,{range},{},{}",
                base + f64::from(i) * base / 10.0,
                f64::from(i + 1) / 20.0
            );
        }
    }
    std::fs::write(dir.join("trials_cdf.csv"), cdf).unwrap();
    dir
}

fn check_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc =
        roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let names: Vec<&str> = doc.descendants().map(|n| n.tag_name().name()).collect();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(
        names.iter().filter(|n| **n == "text").count() >= 5,
        "{}: too little text",
        path.display()
    );
    assert!(
        names
            .iter()
            .filter(|n| ["polyline", "path", "rect", "circle", "line"].contains(n))
            .count()
            >= 10,
        "{}: too few shapes",
        path.display()
    );
}

fn check_png(path: &Path) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (w, h) = img.dimensions();
    assert!(w >= 600 && h >= 400, "{}: {w}x{h}", path.display());
    let non_white = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    let share = non_white as f64 / f64::from(w * h);
    assert!(
        share > 0.01,
        "{}: {share:.4} of the pixels are drawn",
        path.display()
    );
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 8,
        "{}: only {} colours",
        path.display(),
        colours.len()
    );
}

#[test]
fn every_figure_kind_renders_as_svg_and_png() {
    let dir = fixture("plots");
    let files = render_all(&dir, PlotOptions { slo_ms: 10.0 }).unwrap();
    for stem in [
        "throughput-latency",
        "latency-spectrum-1",
        "scalability",
        "timeseries-crash",
        "recovery",
        "trials-cdf",
    ] {
        for ext in ["svg", "png"] {
            let f = dir.join("plots").join(format!("{stem}.{ext}"));
            assert!(
                files.contains(&f),
                "{} not drawn; drew {files:?}",
                f.display()
            );
        }
        check_svg(&dir.join("plots").join(format!("{stem}.svg")));
        check_png(&dir.join("plots").join(format!("{stem}.png")));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_folder_is_an_error_not_an_empty_plot() {
    let dir = std::env::temp_dir().join(format!("qlab-plot-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = render_all(&dir, PlotOptions::default()).unwrap_err();
    assert!(err.to_string().contains("no results to plot"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_report_inlines_figures_and_finds_the_saturation_point() {
    let dir = fixture("report");
    std::fs::write(
        dir.join("published.csv"),
        "source,where,metric,value,note\npaper,protocol=raft;nodes=3;workload.arrival.rate=1000,p99_us,4000,made up\n",
    )
    .unwrap();
    let path = analysis::report::write_report(&dir, PlotOptions { slo_ms: 4.0 }).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    for heading in [
        "<h2>Summary</h2>",
        "<h2>Saturation</h2>",
        "<h2>Published numbers and ours</h2>",
        "<h2>Figures</h2>",
        "<h2>Recovery</h2>",
    ] {
        assert!(html.contains(heading), "{heading}");
    }
    // p99 = 2000 + rate + 300 * nodes (+100 in repetition 1) us: under 4 ms
    // up to 1000 ops/s with 3 nodes, only at 500 ops/s with 5.
    assert!(
        html.contains("<tr><td>raft</td><td>3</td><td>1000</td>"),
        "{html:.2000}"
    );
    assert!(html.contains("<tr><td>raft</td><td>5</td><td>500</td>"));
    // Published p99 4000 us against the mean of the two repetitions of
    // raft, 3 nodes, 1000 ops/s: (3900 + 4000) / 2.
    assert!(
        html.contains("<td>4000.0</td><td>3950.0</td><td>0.99</td>"),
        "{html:.3000}"
    );
    assert!(html.matches("data:image/png;base64,").count() >= 6);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network fetches"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
