//! The PBS model a run's own settings imply, for `qlab pbs --history` to
//! put beside what it measured: per point of a Dynamo run with a
//! `link_latency`, N, R and W as the store ran them (N capped at the
//! cluster size), that latency on all four WARS legs (every replica link
//! draws it, both ways), and coordinators that are replicas with
//! probability N / nodes (any node coordinates; see `analysis::pbs`).

use crate::experiment::load::parse_plan;
use crate::experiment::schema::protocol_config;
use crate::provenance::Provenance;
use crate::target::Target;
use analysis::pbs::{Latency, PbsModel, Wars};
use anyhow::Context;
use protocols::dynamo::Dynamo;
use protocols::registry::ProtocolKind;
use std::collections::BTreeMap;
use std::path::Path;

/// The model of one point and the latency text it came from.
#[derive(Clone, Debug)]
pub struct PointModel {
    /// The WARS model.
    pub model: PbsModel,
    /// The point's `link_latency`, as written.
    pub latency: String,
}

/// Models by point label, rebuilt from `RESULTS/provenance.yaml` (the
/// resolved experiment and its sweep). Points that are not Dynamo or have
/// no `link_latency` are left out; so is everything for results written
/// before provenance kept the sweep, when the sweep cannot be rebuilt.
pub fn point_models(results: &Path) -> anyhow::Result<BTreeMap<String, PointModel>> {
    let mut out = BTreeMap::new();
    let Some(provenance) = Provenance::read(results)? else {
        return Ok(out);
    };
    let mut doc = provenance.experiment.clone();
    if let (Some(sweep), Some(map)) = (&provenance.sweep, doc.as_mapping_mut()) {
        map.insert("sweep".into(), sweep.clone());
    }
    let text = serde_yaml::to_string(&doc).context("encoding the provenance experiment")?;
    let plan = parse_plan(&text, "provenance.yaml")?;
    for point in plan.points {
        let exp = &point.experiment;
        let (Target::Native(ProtocolKind::Dynamo), Some(spec)) = (exp.protocol, &exp.link_latency)
        else {
            continue;
        };
        let latency = Latency::parse(spec)?;
        let config = protocol_config::<Dynamo>(&exp.protocol_config)
            .map_err(anyhow::Error::msg)?
            .effective(exp.nodes);
        let model = PbsModel {
            n: config.n,
            r: config.r,
            w: config.w,
            latencies: Wars::uniform(latency),
            write_interval_ms: None,
            max_versions: 1,
            local_replica: (config.n as f64 / f64::from(exp.nodes)).min(1.0),
        };
        out.insert(
            point.label,
            PointModel {
                model,
                latency: spec.clone(),
            },
        );
    }
    Ok(out)
}
