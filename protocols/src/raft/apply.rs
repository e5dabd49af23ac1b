//! Applying committed entries to the key-value state machine.

use super::{Payload, Raft};
use crate::client::{ClientReply, ReplyBody};
use crate::core::{Ctx, Role};
use crate::kv::{request_digest, ApplyOutcome};

impl Raft {
    /// Applies every committed entry not yet applied; the leader answers
    /// the clients whose commands they were.
    pub(super) fn apply(&mut self, ctx: &mut Ctx<'_, Self>) {
        let upto = self.commit.min(self.log.last_index());
        while self.applied < upto {
            let index = self.applied + 1;
            let Some(entry) = self.log.get(index) else {
                break;
            };
            self.applied = index;
            match &entry.payload {
                Payload::Noop => ctx.applied(index, None, 0),
                Payload::Command(request) => {
                    let outcome = self.kv.apply(request.id, &request.command);
                    ctx.applied(
                        index,
                        Some(request.id),
                        request_digest(request.id, &request.command),
                    );
                    if self.role == Role::Leader {
                        if let ApplyOutcome::Executed(r) | ApplyOutcome::Duplicate(r) = outcome {
                            ctx.reply(
                                request.id.client,
                                ClientReply {
                                    id: request.id,
                                    from: self.id,
                                    body: ReplyBody::Done(r),
                                },
                            );
                        }
                    }
                }
            }
        }
        self.serve_applied_reads(ctx);
    }
}
