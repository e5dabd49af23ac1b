//! The history format the checkers read: one entry per client operation with
//! its invocation and return times (Jepsen/Porcupine style).

use crate::kv::{Command, Response};
use crate::types::{ClientId, Time};
use serde::{Deserialize, Serialize};

/// How an operation ended, in Jepsen's vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// `ok`: the operation took effect and returned this response.
    Ok(Response),
    /// `fail`: the operation certainly did not take effect (e.g. rejected
    /// before execution). Checkers drop it.
    Fail,
    /// `info`: unknown (timed out, connection lost): it may or may not have
    /// taken effect, at any time after its invocation.
    Unknown,
}

/// One client operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryOp {
    /// The logical client that issued it.
    pub client: ClientId,
    /// What it asked for.
    pub command: Command,
    /// When the client invoked it.
    pub invoke: Time,
    /// When the client saw the final answer (ignored for `Unknown`).
    pub ret: Time,
    /// How it ended.
    pub outcome: Outcome,
}
