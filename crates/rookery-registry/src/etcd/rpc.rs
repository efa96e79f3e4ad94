//! The few etcd v3 gRPC calls this backend makes, over tonic.
//!
//! The messages are written out here, with the field numbers of etcd's `rpc.proto` and
//! `kv.proto` (package `etcdserverpb` and `mvccpb`), and only the fields this backend uses:
//! protobuf skips the fields a reader does not know, so a subset reads etcd's replies as
//! they are. Generating them instead (as the `etcd-client` crate does in its build script)
//! needs `protoc` on every machine that builds rookery; these few messages do not justify
//! that.

use std::{future::Future, time::Duration};

use http::uri::PathAndQuery;
use tokio_stream::StreamExt as _;
use tonic::{
    Request, Status, Streaming, client::Grpc, metadata::MetadataValue, transport::Channel,
};
use tonic_prost::ProstCodec;

/// The largest reply read (a listing of many instances can be large; etcd's own client
/// allows much more than tonic's 4 MiB default).
const MAX_REPLY_BYTES: usize = 64 << 20;

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResponseHeader {
    #[prost(int64, tag = "3")]
    pub(crate) revision: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub(crate) value: Vec<u8>,
    #[prost(int64, tag = "6")]
    pub(crate) lease: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub(crate) limit: i64,
    #[prost(bool, tag = "9")]
    pub(crate) count_only: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RangeResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) kvs: Vec<KeyValue>,
    #[prost(bool, tag = "3")]
    pub(crate) more: bool,
    #[prost(int64, tag = "4")]
    pub(crate) count: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub(crate) lease: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct PutResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LeaseGrantRequest {
    #[prost(int64, tag = "1")]
    pub(crate) ttl: i64,
    /// 0: etcd picks the id.
    #[prost(int64, tag = "2")]
    pub(crate) id: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LeaseGrantResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub(crate) id: i64,
    #[prost(int64, tag = "3")]
    pub(crate) ttl: i64,
    #[prost(string, tag = "4")]
    pub(crate) error: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LeaseRevokeRequest {
    #[prost(int64, tag = "1")]
    pub(crate) id: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LeaseRevokeResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LeaseKeepAliveRequest {
    #[prost(int64, tag = "1")]
    pub(crate) id: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LeaseKeepAliveResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub(crate) id: i64,
    /// The TTL renewed to; 0 when etcd does not know the lease (it expired).
    #[prost(int64, tag = "3")]
    pub(crate) ttl: i64,
}

/// `WatchRequest` holds a oneof of create (1), cancel (2) and progress (3) requests; this
/// backend only creates, and a message field 1 is the same bytes on the wire.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchRequest {
    #[prost(message, optional, tag = "1")]
    pub(crate) create_request: Option<WatchCreateRequest>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchCreateRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub(crate) start_revision: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
    #[prost(int64, tag = "2")]
    pub(crate) watch_id: i64,
    #[prost(bool, tag = "3")]
    pub(crate) created: bool,
    #[prost(bool, tag = "4")]
    pub(crate) canceled: bool,
    /// Set when the watch was cancelled because its start revision was compacted away.
    #[prost(int64, tag = "5")]
    pub(crate) compact_revision: i64,
    #[prost(string, tag = "6")]
    pub(crate) cancel_reason: String,
    #[prost(message, repeated, tag = "11")]
    pub(crate) events: Vec<Event>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    /// [`Event::PUT`] or [`Event::DELETE`].
    #[prost(int32, tag = "1")]
    pub(crate) kind: i32,
    #[prost(message, optional, tag = "2")]
    pub(crate) kv: Option<KeyValue>,
}

impl Event {
    pub(crate) const PUT: i32 = 0;
    pub(crate) const DELETE: i32 = 1;
}

/// One etcd endpoint's gRPC channel. Cheap to clone; the channel connects lazily and
/// reconnects after a failure.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    channel: Channel,
    timeout: Duration,
}

/// An open watch: its replies, in order. Dropping it ends the watch.
pub(crate) struct WatchStream {
    replies: Streaming<WatchResponse>,
}

impl WatchStream {
    /// The next reply; `None` when etcd closed the stream.
    pub(crate) async fn next(&mut self) -> Result<Option<WatchResponse>, Status> {
        self.replies.message().await
    }
}

impl Client {
    /// A client of `channel`, whose calls (and the opening of a watch) fail after `timeout`.
    pub(crate) fn new(channel: Channel, timeout: Duration) -> Client {
        Client { channel, timeout }
    }

    fn grpc(&self) -> Grpc<Channel> {
        Grpc::new(self.channel.clone()).max_decoding_message_size(MAX_REPLY_BYTES)
    }

    /// `f` bounded by the timeout; a channel that is not ready is unavailable.
    async fn timed<T>(
        &self,
        what: &str,
        f: impl Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(result) => result,
            Err(_) => Err(Status::deadline_exceeded(format!(
                "{what}: no answer in {:?}",
                self.timeout
            ))),
        }
    }

    async fn unary<Req, Resp>(&self, path: &'static str, request: Req) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.timed(path, async {
            let mut grpc = self.grpc();
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(format!("{path}: {e}")))?;
            let reply = grpc
                .unary(
                    Request::new(request),
                    PathAndQuery::from_static(path),
                    ProstCodec::default(),
                )
                .await?;
            Ok(reply.into_inner())
        })
        .await
    }

    pub(crate) async fn range(&self, request: RangeRequest) -> Result<RangeResponse, Status> {
        self.unary("/etcdserverpb.KV/Range", request).await
    }

    pub(crate) async fn put(&self, request: PutRequest) -> Result<PutResponse, Status> {
        self.unary("/etcdserverpb.KV/Put", request).await
    }

    pub(crate) async fn lease_grant(&self, ttl: i64) -> Result<LeaseGrantResponse, Status> {
        self.unary(
            "/etcdserverpb.Lease/LeaseGrant",
            LeaseGrantRequest { ttl, id: 0 },
        )
        .await
    }

    pub(crate) async fn lease_revoke(&self, id: i64) -> Result<LeaseRevokeResponse, Status> {
        self.unary("/etcdserverpb.Lease/LeaseRevoke", LeaseRevokeRequest { id })
            .await
    }

    /// One keepalive of lease `id`: a stream of one request, and its one reply.
    pub(crate) async fn lease_keep_alive(&self, id: i64) -> Result<LeaseKeepAliveResponse, Status> {
        const PATH: &str = "/etcdserverpb.Lease/LeaseKeepAlive";
        self.timed(PATH, async {
            let mut grpc = self.grpc();
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(format!("{PATH}: {e}")))?;
            let requests = tokio_stream::once(LeaseKeepAliveRequest { id });
            let mut replies = grpc
                .streaming(
                    Request::new(requests),
                    PathAndQuery::from_static(PATH),
                    ProstCodec::<LeaseKeepAliveRequest, LeaseKeepAliveResponse>::default(),
                )
                .await?
                .into_inner();
            replies
                .message()
                .await?
                .ok_or_else(|| Status::unavailable("etcd closed the keepalive without a reply"))
        })
        .await
    }

    /// Opens a watch and waits for etcd to confirm it (its first reply, returned too).
    pub(crate) async fn watch(
        &self,
        create: WatchCreateRequest,
    ) -> Result<(WatchStream, WatchResponse), Status> {
        const PATH: &str = "/etcdserverpb.Watch/Watch";
        self.timed(PATH, async {
            let mut grpc = self.grpc();
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(format!("{PATH}: {e}")))?;
            // The request side stays open for the life of the watch: a client that ends
            // it may see etcd end the watch.
            let requests = tokio_stream::once(WatchRequest {
                create_request: Some(create),
            })
            .chain(tokio_stream::pending());
            let mut request = Request::new(requests);
            // A member cut off from the cluster's leader then cancels the watch instead of
            // going quiet, so the watch moves on (as etcd's own clients ask).
            request
                .metadata_mut()
                .insert("hasleader", MetadataValue::from_static("true"));
            let replies = grpc
                .streaming(
                    request,
                    PathAndQuery::from_static(PATH),
                    ProstCodec::<WatchRequest, WatchResponse>::default(),
                )
                .await?
                .into_inner();
            let mut stream = WatchStream { replies };
            let first = stream
                .next()
                .await?
                .ok_or_else(|| Status::unavailable("etcd closed the watch before confirming it"))?;
            Ok((stream, first))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// The bytes etcd's generated Go code writes for a `WatchRequest` holding a
    /// `create_request` (oneof field 1) with key "/a" and start revision 7.
    #[test]
    fn a_watch_request_is_the_oneof_on_the_wire() {
        let bytes = WatchRequest {
            create_request: Some(WatchCreateRequest {
                key: b"/a".to_vec(),
                range_end: Vec::new(),
                start_revision: 7,
            }),
        }
        .encode_to_vec();
        assert_eq!(bytes, [0x0a, 0x06, 0x0a, 0x02, b'/', b'a', 0x18, 0x07]);
    }

    #[test]
    fn unknown_fields_of_a_reply_are_skipped() {
        // A ResponseHeader with cluster_id (1), member_id (2), revision (3), raft_term (4).
        let header = [0x08, 0x01, 0x10, 0x02, 0x18, 0x2a, 0x20, 0x03];
        assert_eq!(ResponseHeader::decode(&header[..]).unwrap().revision, 42);
    }
}
