//! A `qlab node` answers only clients holding a certificate of its
//! cluster's CA.

mod common;

use common::{qlab, scratch};
use net::{ClusterCa, Endpoint, EndpointConfig, PeerIdentity};
use protocols::raft::RaftMessage;
use protocols::wire::{ControlReply, ControlRequest, Wire};
use std::time::Duration;

type Msg = Wire<RaftMessage>;

async fn ask_status(identity: &net::Identity, node: std::net::SocketAddr) -> Option<ControlReply> {
    let (ep, mut inbox) = Endpoint::<Msg>::bind(
        "127.0.0.1:0".parse().unwrap(),
        identity,
        EndpointConfig::default(),
    )
    .unwrap();
    ep.add_peer(PeerIdentity::Node(0), node);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < deadline {
        let _ = ep.try_send(
            PeerIdentity::Node(0),
            &Wire::Control(ControlRequest::Status),
        );
        if let Ok(Some((_, Wire::ControlReply(r)))) =
            tokio::time::timeout(Duration::from_millis(300), inbox.recv()).await
        {
            return Some(r);
        }
    }
    None
}

#[test]
fn a_node_refuses_clients_of_another_cluster() {
    let dir = scratch("mtls");
    let ours = ClusterCa::generate("ours").unwrap();
    ours.issue(PeerIdentity::Node(0))
        .unwrap()
        .save(&dir)
        .unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut node = qlab()
        .args(["node", "--protocol", "raft", "--id", "0", "--peers"])
        .arg(port.to_string())
        .arg("--cluster-dir")
        .arg(&dir)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--events")
        .arg(dir.join("events.csv"))
        .spawn()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (foreign, own) = runtime.block_on(async {
        let theirs = ClusterCa::generate("theirs").unwrap();
        let foreign = ask_status(&theirs.issue(PeerIdentity::Control).unwrap(), port).await;
        let own = ask_status(&ours.issue(PeerIdentity::Control).unwrap(), port).await;
        (foreign, own)
    });
    node.kill().unwrap();
    node.wait().unwrap();
    assert_eq!(foreign, None, "a certificate from another CA got an answer");
    assert!(matches!(own, Some(ControlReply::Status(_))), "{own:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
