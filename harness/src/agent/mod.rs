//! The agent of a testbed host (`qlab agent`) and the harness' client of
//! it: the timing-sensitive half of the ansible backend (Ansible deploys;
//! the agent starts, kills, pauses and restarts nodes on the harness' word).

pub mod client;
pub mod proto;
pub mod server;

#[cfg(test)]
mod tests {
    use super::client::Agents;
    use super::proto::{AgentReply, AgentRequest};
    use super::server::{serve, AgentArgs};
    use crate::testbed::credentials;
    use std::time::Duration;

    /// The harness greets an agent over loopback, and an agent refuses
    /// paths outside its root.
    #[tokio::test(flavor = "current_thread")]
    async fn hello_and_bad_requests_over_the_channel() {
        let dir = std::env::temp_dir().join(format!("qlab-agent-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let creds = credentials::ensure(&dir.join("creds"), &["h".to_string()], 1, &[0]).unwrap();
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("work")).unwrap();
        let port = crate::local::cluster::free_addrs(1).unwrap()[0];
        std::fs::rename(creds.hosts.join("h"), root.join("cluster")).unwrap();
        let server = tokio::spawn(serve(AgentArgs {
            listen: port,
            id: 0,
            root: root.clone(),
            pidfile: None,
        }));
        let agents =
            Agents::connect("127.0.0.1:0".parse().unwrap(), &creds.controller, &[port]).unwrap();
        assert!(agents.wait_connected(0, Duration::from_secs(5)).await);
        let limit = Duration::from_secs(10);
        match agents.call(0, AgentRequest::Hello, limit).await.unwrap() {
            AgentReply::Hello(h) => {
                assert_eq!(h.agent, 0);
                assert_eq!(h.shaping, "none");
            }
            other => panic!("{other:?}"),
        }
        let e = agents
            .call(
                0,
                AgentRequest::Fetch {
                    point: "..".into(),
                    file: "x".into(),
                    max_bytes: 10,
                },
                limit,
            )
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("bad point"), "{e:#}");
        let e = agents
            .call(0, AgentRequest::Crash(3), limit)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("not started"), "{e:#}");
        let e = agents
            .call(0, AgentRequest::DriverState(1), limit)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("not started"), "{e:#}");
        // Large files come back in pieces, from any offset.
        std::fs::create_dir_all(root.join("work/p")).unwrap();
        std::fs::write(root.join("work/p/d.bin"), b"0123456789").unwrap();
        let read = |offset, max_bytes| AgentRequest::ReadAt {
            point: "p".into(),
            file: "d.bin".into(),
            offset,
            max_bytes,
        };
        for (offset, max, want) in [(4, 3, &b"456"[..]), (8, 5, b"89"), (12, 5, b"")] {
            match agents.call(0, read(offset, max), limit).await.unwrap() {
                AgentReply::File(b) => assert_eq!(b, want, "offset {offset}"),
                other => panic!("{other:?}"),
            }
        }
        server.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
