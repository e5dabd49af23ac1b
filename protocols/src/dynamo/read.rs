//! The coordinator side of a get: ask the preference list, answer at R
//! replies with the reconciled siblings, and repair replicas that returned
//! stale versions (read repair).

use super::coordinator::{GetOp, Pending};
use super::messages::{DynamoMessage, DynamoTimer, OpId, Version};
use super::siblings::SiblingSet;
use super::{siblings_response, Dynamo};
use crate::client::ReplyBody;
use crate::core::Ctx;
use crate::kv::Key;
use crate::types::{NodeId, RequestId};
use std::collections::BTreeMap;

impl Dynamo {
    /// Starts a get of `key` for `request`: fetch from the preference list.
    pub(super) fn start_get(&mut self, ctx: &mut Ctx<'_, Self>, request: RequestId, key: Key) {
        let op = self.coord.next_op_id();
        let targets = self.owner_targets(key);
        let mut get = GetOp {
            client: request.client,
            request,
            key,
            targets,
            replies: BTreeMap::new(),
            answered: false,
            deadline: ctx.now().plus(self.config.request_timeout),
            repaired: BTreeMap::new(),
        };
        self.coord.by_request.insert(request, op);
        self.send_fetches(ctx, op, &mut get);
        self.settle_get(ctx, op, get, true);
    }

    /// Asks every target that has not replied; answers for itself at once.
    pub(super) fn send_fetches(&mut self, ctx: &mut Ctx<'_, Self>, op: OpId, get: &mut GetOp) {
        let targets: Vec<NodeId> = get
            .targets
            .keys()
            .filter(|n| !get.replies.contains_key(n))
            .copied()
            .collect();
        for node in targets {
            if node == self.id {
                get.replies.insert(node, self.local_versions(get.key));
            } else {
                ctx.send(node, DynamoMessage::Fetch { op, key: get.key });
            }
        }
    }

    /// Answers the get at R replies, repairs, and keeps it while replicas
    /// of the preference list are still to be heard from. `arm` sets the
    /// retry timer when it is kept.
    pub(super) fn settle_get(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        op: OpId,
        mut get: GetOp,
        arm: bool,
    ) {
        if !get.answered && get.replies.len() >= self.config.read_replies() {
            get.answered = true;
            let reconciled = SiblingSet::from_versions(get.replies.values().flatten());
            let response = siblings_response(&reconciled);
            self.coord.by_request.remove(&get.request);
            self.coord
                .sessions
                .insert(get.client, (get.request.seq, response.clone()));
            self.reply(ctx, get.client, get.request, ReplyBody::Done(response));
        }
        if get.answered && self.config.read_repair {
            self.repair(ctx, &mut get);
        }
        let all_heard = get.targets.keys().all(|n| get.replies.contains_key(n));
        if get.answered && (all_heard || !self.config.read_repair) {
            ctx.cancel_timer(DynamoTimer::Retry(op));
            return;
        }
        if arm {
            let after = if get.answered {
                self.config.retry_timeout
            } else {
                self.retry_after(ctx, get.deadline)
            };
            ctx.set_timer(DynamoTimer::Retry(op), after);
        }
        self.coord.ops.insert(op, Pending::Get(get));
    }

    /// Sends every replier of the preference list the reconciled versions
    /// it lacks (read repair).
    fn repair(&mut self, ctx: &mut Ctx<'_, Self>, get: &mut GetOp) {
        let reconciled = SiblingSet::from_versions(get.replies.values().flatten());
        for (&node, versions) in &get.replies {
            if get.targets.get(&node) != Some(&None) {
                continue; // a stand-in, not an owner of the key
            }
            let sent = get.repaired.entry(node).or_default();
            let known = SiblingSet::from_versions(versions.iter().chain(sent.iter()));
            let missing = reconciled.missing_from(&known);
            if missing.is_empty() {
                continue;
            }
            sent.extend(missing.iter().cloned());
            if node == self.id {
                for version in missing {
                    self.accept(ctx, get.key, version);
                }
            } else {
                let msg = DynamoMessage::Repair {
                    key: get.key,
                    versions: missing,
                };
                ctx.send(node, msg);
            }
        }
    }

    /// A replica answered a fetch.
    pub(super) fn on_fetched(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        op: OpId,
        key: Key,
        versions: Vec<Version>,
    ) {
        let Some(Pending::Get(get)) = self.coord.ops.get_mut(&op) else {
            return;
        };
        if get.key != key || !get.targets.contains_key(&from) || get.replies.contains_key(&from) {
            return;
        }
        get.replies.insert(from, versions);
        if let Some(Pending::Get(get)) = self.coord.ops.remove(&op) {
            self.settle_get(ctx, op, get, false);
        }
    }
}
