//! Reading an Ansible inventory for the ansible backend. The inventory is
//! resolved by `ansible-inventory --list` (so every format and variable
//! precedence Ansible knows works). The hosts of its `nodes` group, in
//! inventory order, become agents `0, 1, ...`; the hosts of its optional
//! `drivers` group that are not also replica hosts follow them.

use anyhow::{bail, Context};
use serde_yaml::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

/// Default port of a host's `qlab agent`.
pub const DEFAULT_AGENT_PORT: u16 = 7000;
/// Default first port of a host's replicas (the next replica on the same
/// host takes the next port).
pub const DEFAULT_NODE_PORT: u16 = 7100;

/// One-way delay, jitter and loss from one host to another (the latency
/// matrix, `qlab_latency` of the sending host).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkDelay {
    /// Delay in milliseconds.
    pub delay_ms: f64,
    /// Uniform extra delay in milliseconds.
    pub jitter_ms: f64,
    /// Probability of losing a packet.
    pub loss: f64,
}

/// A host of the testbed (`nodes` or `drivers` group).
#[derive(Clone, Debug, PartialEq)]
pub struct HostSpec {
    /// Inventory host name.
    pub name: String,
    /// Address the agent and the replicas listen on (`qlab_listen`).
    pub listen: IpAddr,
    /// The agent's port (`qlab_agent_port`).
    pub agent_port: u16,
    /// The first replica port (`qlab_node_port`).
    pub node_port: u16,
    /// The host's qlab folder (`qlab_root`).
    pub root: String,
    /// Delays from this host to others, by host name (`qlab_latency`).
    pub latency: BTreeMap<String, LinkDelay>,
}

/// What the ansible backend needs from an inventory.
#[derive(Clone, Debug, PartialEq)]
pub struct Inventory {
    /// Every host with an agent (agent `i` is `hosts[i]`): the `nodes`
    /// group in order, then the driver hosts that are not in it.
    pub hosts: Vec<HostSpec>,
    /// How many of `hosts` (the first ones) run replicas.
    pub node_hosts: usize,
    /// The agents of the `drivers` group, in order (empty: the driver runs
    /// inside `qlab run` on the controller).
    pub drivers: Vec<u32>,
    /// The controller address the harness binds for its QUIC endpoints
    /// (`qlab_controller_bind`, default `0.0.0.0`).
    pub controller_bind: IpAddr,
}

/// Runs `ansible-inventory --list` on `path` and reads the result.
pub fn load(path: &Path) -> anyhow::Result<Inventory> {
    if !path.exists() {
        bail!("inventory {} does not exist", path.display());
    }
    let out = Command::new("ansible-inventory")
        .arg("-i")
        .arg(path)
        .arg("--list")
        .output()
        .context("running ansible-inventory (is ansible-core installed and on PATH?)")?;
    if !out.status.success() {
        bail!(
            "ansible-inventory -i {} --list failed:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse(&text).with_context(|| format!("inventory {}", path.display()))
}

/// The hosts of `group` (and of its child groups), in order, once each.
fn group_hosts(doc: &Value, group: &str, out: &mut Vec<String>, depth: u32) {
    if depth > 16 {
        return;
    }
    let Some(g) = doc.get(group) else { return };
    if let Some(hosts) = g.get("hosts").and_then(Value::as_sequence) {
        for h in hosts.iter().filter_map(Value::as_str) {
            if !out.iter().any(|x| x == h) {
                out.push(h.to_string());
            }
        }
    }
    if let Some(children) = g.get("children").and_then(Value::as_sequence) {
        for c in children.iter().filter_map(Value::as_str) {
            group_hosts(doc, c, out, depth + 1);
        }
    }
}

fn port(vars: &Value, key: &str, default: u16, host: &str) -> anyhow::Result<u16> {
    match vars.get(key) {
        None => Ok(default),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .and_then(|p| u16::try_from(p).ok())
            .filter(|&p| p > 0)
            .with_context(|| format!("host {host}: {key} must be a port number, not {v:?}")),
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn latency(vars: &Value, host: &str) -> anyhow::Result<BTreeMap<String, LinkDelay>> {
    let mut out = BTreeMap::new();
    let Some(m) = vars.get("qlab_latency") else {
        return Ok(out);
    };
    let m = m
        .as_mapping()
        .with_context(|| format!("host {host}: qlab_latency must map host names to delays"))?;
    for (to, d) in m {
        let to = to
            .as_str()
            .with_context(|| format!("host {host}: qlab_latency keys are host names"))?;
        let field = |k: &str| -> anyhow::Result<f64> {
            match d.get(k) {
                None => Ok(0.0),
                Some(v) => number(v).with_context(|| {
                    format!("host {host}: qlab_latency.{to}.{k} must be a number, not {v:?}")
                }),
            }
        };
        if let Some(extra) = d.as_mapping().and_then(|m| {
            m.keys()
                .filter_map(Value::as_str)
                .find(|k| !["delay_ms", "jitter_ms", "loss"].contains(k))
                .map(str::to_string)
        }) {
            bail!("host {host}: qlab_latency.{to}.{extra} is unknown (delay_ms, jitter_ms, loss)");
        }
        let d = LinkDelay {
            delay_ms: field("delay_ms")?,
            jitter_ms: field("jitter_ms")?,
            loss: field("loss")?,
        };
        if d.delay_ms < 0.0 || d.jitter_ms < 0.0 || !(0.0..=1.0).contains(&d.loss) {
            bail!("host {host}: qlab_latency.{to} has a negative delay or a loss outside 0..1");
        }
        out.insert(to.to_string(), d);
    }
    Ok(out)
}

/// Reads the JSON printed by `ansible-inventory --list`.
pub fn parse(json: &str) -> anyhow::Result<Inventory> {
    let doc: Value = serde_yaml::from_str(json).context("ansible-inventory output is not JSON")?;
    let mut names = Vec::new();
    group_hosts(&doc, "nodes", &mut names, 0);
    if names.is_empty() {
        bail!("the inventory has no hosts in group `nodes`");
    }
    let node_hosts = names.len();
    let mut driver_names = Vec::new();
    group_hosts(&doc, "drivers", &mut driver_names, 0);
    let mut drivers = Vec::new();
    for d in &driver_names {
        let agent = match names.iter().position(|n| n == d) {
            Some(i) => i,
            None => {
                names.push(d.clone());
                names.len() - 1
            }
        };
        drivers.push(agent as u32);
    }
    let empty = Value::Mapping(Default::default());
    let hostvars = doc
        .get("_meta")
        .and_then(|m| m.get("hostvars"))
        .unwrap_or(&empty);
    let mut hosts = Vec::new();
    let mut controller_bind: IpAddr = [0, 0, 0, 0].into();
    for name in &names {
        let vars = hostvars.get(name.as_str()).unwrap_or(&empty);
        let listen = vars
            .get("qlab_listen")
            .and_then(Value::as_str)
            .with_context(|| {
                format!("host {name}: qlab_listen (the address replicas listen on) is missing")
            })?;
        let listen: IpAddr = listen
            .parse()
            .with_context(|| format!("host {name}: qlab_listen {listen:?} is not an IP address"))?;
        if let Some(b) = vars.get("qlab_controller_bind").and_then(Value::as_str) {
            controller_bind = b
                .parse()
                .with_context(|| format!("qlab_controller_bind {b:?} is not an IP address"))?;
        }
        let root = vars
            .get("qlab_root")
            .and_then(Value::as_str)
            .unwrap_or("/opt/qlab")
            .to_string();
        if !root.starts_with('/') {
            bail!("host {name}: qlab_root {root:?} must be an absolute path");
        }
        hosts.push(HostSpec {
            name: name.clone(),
            listen,
            agent_port: port(vars, "qlab_agent_port", DEFAULT_AGENT_PORT, name)?,
            node_port: port(vars, "qlab_node_port", DEFAULT_NODE_PORT, name)?,
            root,
            latency: latency(vars, name)?,
        });
    }
    for h in &hosts {
        for to in h.latency.keys() {
            if !names[..node_hosts].contains(to) {
                bail!(
                    "host {}: qlab_latency names {to}, which is not in group `nodes`",
                    h.name
                );
            }
        }
    }
    Ok(Inventory {
        hosts,
        node_hosts,
        drivers,
        controller_bind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &str = r#"{
      "_meta": {"hostvars": {
        "h1": {"qlab_listen": "198.19.61.11", "qlab_root": "/srv/h1",
               "qlab_latency": {"h2": {"delay_ms": 2, "jitter_ms": 0.5}}},
        "h2": {"qlab_listen": "198.19.61.12", "qlab_agent_port": "7001"},
        "d1": {"qlab_listen": "198.19.61.20"}
      }},
      "all": {"children": ["ungrouped", "testbed"]},
      "testbed": {"children": ["nodes", "drivers"]},
      "nodes": {"hosts": ["h1", "h2"]},
      "drivers": {"hosts": ["d1"]}
    }"#;

    #[test]
    fn reads_nodes_in_order_with_defaults() {
        let inv = parse(LISTED).unwrap();
        let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["h1", "h2", "d1"]);
        assert_eq!(inv.node_hosts, 2);
        assert_eq!(inv.drivers, [2]);
        assert_eq!(inv.hosts[0].root, "/srv/h1");
        assert_eq!(inv.hosts[1].root, "/opt/qlab");
        assert_eq!(inv.hosts[1].agent_port, 7001);
        assert_eq!(inv.hosts[0].node_port, DEFAULT_NODE_PORT);
        assert_eq!(inv.hosts[0].latency["h2"].delay_ms, 2.0);
        assert_eq!(inv.controller_bind, IpAddr::from([0, 0, 0, 0]));
    }

    #[test]
    fn a_replica_host_can_drive_too() {
        let both = LISTED.replace(
            "\"drivers\": {\"hosts\": [\"d1\"]}",
            "\"drivers\": {\"hosts\": [\"h2\"]}",
        );
        let inv = parse(&both).unwrap();
        assert_eq!(inv.hosts.len(), 2);
        assert_eq!((inv.node_hosts, inv.drivers.clone()), (2, vec![1]));
        let none = LISTED
            .replace(", \"drivers\"]", "]")
            .replace(",\n      \"drivers\": {\"hosts\": [\"d1\"]}", "");
        let inv = parse(&none).unwrap();
        assert!(inv.drivers.is_empty(), "{none}");
    }

    #[test]
    fn names_what_is_wrong() {
        let no_listen = LISTED.replace("\"qlab_listen\": \"198.19.61.12\", ", "");
        let e = format!("{:#}", parse(&no_listen).unwrap_err());
        assert!(e.contains("h2: qlab_listen"), "{e}");
        let bad_ip = LISTED.replace("198.19.61.12", "not-an-ip");
        assert!(format!("{:#}", parse(&bad_ip).unwrap_err()).contains("not an IP"));
        let no_group = LISTED.replace("\"nodes\": {\"hosts\"", "\"other\": {\"hosts\"");
        assert!(format!("{:#}", parse(&no_group).unwrap_err()).contains("group `nodes`"));
        let stranger = LISTED.replace("{\"h2\": {\"delay_ms\"", "{\"h9\": {\"delay_ms\"");
        assert!(format!("{:#}", parse(&stranger).unwrap_err()).contains("h9"));
        let unknown = LISTED.replace("\"jitter_ms\"", "\"jitter\"");
        assert!(format!("{:#}", parse(&unknown).unwrap_err()).contains("jitter is unknown"));
    }
}
