//! The transport to etcd members: one HTTP/2 connection per member shared
//! by every logical client, one gRPC call per attempt (each its own task,
//! answering through a channel, so the driver loop never blocks on one).
//!
//! Routing: logical client `i` starts on member `i mod n` (etcd followers
//! forward puts to the leader and serve linearizable reads through it), so
//! the load spreads over the members. A request that never reached its
//! member (connection refused or closed) is sent at once to the next
//! member, and the client stays there; after every member refused, it
//! waits [`RETRY_PAUSE`] and tries again, until the request timeout. Gets
//! are also resent to the next member after a server error or an
//! unanswered attempt (reads are idempotent). Puts that reached a member
//! are never resent, since etcd cannot tell a resend from a new write: a
//! server error ends them as an error of unknown effect (`unknown` in the
//! history), and an unanswered attempt only moves the client's next
//! operation to the next member.

use super::core::{home, Step, Transport};
use crate::etcd::{self, CallError, Channel};
use protocols::client::ClientRequest;
use protocols::kv::{Command, Response};
use protocols::types::{ClientId, RequestId};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};
use tokio::task::AbortHandle;

/// Pause before trying every member again.
pub(super) const RETRY_PAUSE: Duration = Duration::from_millis(20);

/// One member and its (lazily made) connection.
struct Member {
    addr: SocketAddr,
    channel: Mutex<Option<Channel>>,
}

impl Member {
    /// The live connection, connecting first if there is none.
    async fn channel(&self, limit: Duration) -> Result<Channel, CallError> {
        let mut slot = self.channel.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.is_alive()) {
            return Ok(c.clone());
        }
        *slot = None;
        let c = Channel::connect(self.addr, limit).await?;
        *slot = Some(c.clone());
        Ok(c)
    }
}

/// A finished call.
pub(super) struct Reply {
    id: RequestId,
    member: u32,
    result: Result<Response, CallError>,
}

/// A logical client: the member it talks to, and its call in progress.
pub(super) struct Client {
    member: u32,
    /// Members that refused the current request in a row.
    refused: u32,
    task: Option<AbortHandle>,
}

/// gRPC to etcd members.
pub(super) struct Etcd {
    members: Arc<Vec<Member>>,
    tx: mpsc::UnboundedSender<Reply>,
    rx: mpsc::UnboundedReceiver<Reply>,
    connect_limit: Duration,
}

impl Etcd {
    pub(super) fn new(members: &[SocketAddr], connect_limit: Duration) -> Etcd {
        let (tx, rx) = mpsc::unbounded_channel();
        Etcd {
            members: Arc::new(
                members
                    .iter()
                    .map(|&addr| Member {
                        addr,
                        channel: Mutex::new(None),
                    })
                    .collect(),
            ),
            tx,
            rx,
            connect_limit,
        }
    }

    fn size(&self) -> u32 {
        self.members.len().max(1) as u32
    }

    fn next_member(&self, client: &mut Client, after: u32) {
        client.member = (after + 1) % self.size();
    }

    /// Starts one attempt of `request` on the client's member.
    fn call(&self, client: &mut Client, request: &ClientRequest) {
        if let Some(t) = client.task.take() {
            t.abort();
        }
        let members = self.members.clone();
        let member = client.member;
        let tx = self.tx.clone();
        let id = request.id;
        let command = request.command.clone();
        let limit = self.connect_limit;
        let task = tokio::spawn(async move {
            let result = async {
                let m = members
                    .get(member as usize)
                    .ok_or_else(|| CallError::NotSent(format!("no member {member}")))?;
                let channel = m.channel(limit).await?;
                match &command {
                    Command::Get { key } => etcd::get(&channel, *key).await,
                    Command::Put { key, value } => etcd::put(&channel, *key, value).await,
                    Command::Cas { .. } => Err(CallError::NotSent(
                        "compare-and-set is not issued to etcd".into(),
                    )),
                }
            }
            .await;
            let _ = tx.send(Reply { id, member, result });
        });
        client.task = Some(task.abort_handle());
    }
}

impl Transport for Etcd {
    type Client = Client;
    type Reply = Reply;

    fn client(&mut self, index: usize, _id: ClientId) -> Client {
        Client {
            member: home(index, self.size()),
            refused: 0,
            task: None,
        }
    }

    async fn start(&mut self, _c: usize, client: &mut Client, request: &mut ClientRequest) -> Step {
        if matches!(request.command, Command::Cas { .. }) {
            return Step::Rejected;
        }
        client.refused = 0;
        self.call(client, request);
        Step::Wait
    }

    async fn attempt_timeout(
        &mut self,
        _c: usize,
        client: &mut Client,
        request: &ClientRequest,
    ) -> Step {
        self.next_member(client, client.member);
        match request.command {
            Command::Get { .. } => {
                self.call(client, request);
                Step::Sent
            }
            // A put may still take effect: wait for it (or the deadline).
            _ => Step::Wait,
        }
    }

    async fn resend(&mut self, _c: usize, client: &mut Client, request: &ClientRequest) -> Step {
        self.call(client, request);
        Step::Sent
    }

    async fn recv(&mut self) -> Option<Vec<Reply>> {
        let first = self.rx.recv().await?;
        let mut batch = vec![first];
        while batch.len() < 256 {
            match self.rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        Some(batch)
    }

    fn addressee(reply: &Reply) -> RequestId {
        reply.id
    }

    async fn on_reply(
        &mut self,
        _c: usize,
        client: &mut Client,
        request: &ClientRequest,
        reply: Reply,
    ) -> Step {
        client.task = None;
        let is_get = matches!(request.command, Command::Get { .. });
        match reply.result {
            Ok(response) => Step::Done(response),
            Err(CallError::NotSent(_)) => {
                self.next_member(client, reply.member);
                client.refused += 1;
                if client.refused < self.size() {
                    self.call(client, request);
                    Step::Sent
                } else {
                    client.refused = 0;
                    Step::RetryAfter(RETRY_PAUSE)
                }
            }
            Err(_) if is_get => {
                self.next_member(client, reply.member);
                Step::RetryAfter(RETRY_PAUSE)
            }
            Err(_) => {
                self.next_member(client, reply.member);
                Step::Failed
            }
        }
    }

    fn finish(&mut self, client: &mut Client, _id: RequestId) {
        if let Some(t) = client.task.take() {
            t.abort();
        }
    }
}
