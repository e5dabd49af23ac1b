//! `qlab node` and `qlab drive` on their own, as a testbed backend would
//! start them on separate hosts.

mod common;

use common::{qlab, scratch};
use net::{ClusterCa, PeerIdentity};

#[test]
fn a_standalone_driver_measures_a_standalone_cluster() {
    let dir = scratch("drive");
    let ca = ClusterCa::generate("drive-test").unwrap();
    for id in [
        PeerIdentity::Node(0),
        PeerIdentity::Node(1),
        PeerIdentity::Node(2),
        PeerIdentity::Driver(0),
    ] {
        ca.issue(id).unwrap().save(&dir).unwrap();
    }
    let addrs: Vec<String> = (0..3)
        .map(|_| {
            std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .to_string()
        })
        .collect();
    let peers = addrs.join(",");
    let mut nodes: Vec<std::process::Child> = (0..3)
        .map(|i| {
            qlab()
                .args([
                    "node",
                    "--protocol",
                    "multipaxos",
                    "--id",
                    &i.to_string(),
                    "--peers",
                    &peers,
                ])
                .arg("--cluster-dir")
                .arg(&dir)
                .arg("--data-dir")
                .arg(dir.join(format!("data-{i}")))
                .arg("--events")
                .arg(dir.join(format!("events-{i}.csv")))
                .spawn()
                .unwrap()
        })
        .collect();
    let workload = dir.join("w.yaml");
    std::fs::write(
        &workload,
        "arrival: {kind: open, rate: 200}\nclients: 8\nduration: 4s\nwarmup: 2s\ncooldown: 500ms\n",
    )
    .unwrap();
    let out = dir.join("out");
    let o = qlab()
        .args(["drive", "--protocol", "multipaxos", "--nodes", &peers])
        .arg("--cluster-dir")
        .arg(&dir)
        .arg("--workload")
        .arg(&workload)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    for n in &mut nodes {
        let _ = n.kill();
        let _ = n.wait();
    }
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = std::fs::read_to_string(out.join("summary.yaml")).unwrap();
    let get = |k: &str| -> f64 {
        summary
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .unwrap_or_else(|| panic!("{k} missing in {summary}"))
            .parse()
            .unwrap()
    };
    assert!(get("achieved_ops_per_s") > 150.0, "{summary}");
    assert_eq!(get("timeouts"), 0.0, "{summary}");
    assert!(get("p50_us") > 0.0 && get("p50_us") <= get("p99_us"));
    assert!(
        std::fs::read_to_string(out.join("timeseries.csv"))
            .unwrap()
            .lines()
            .count()
            > 30
    );
    let _ = std::fs::remove_dir_all(&dir);
}
