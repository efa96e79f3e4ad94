//! `etcd` (feature `etcd`): instances kept in etcd under leases, found with a prefix watch.
//!
//! **Keys.** An instance is the key `{prefix}{name}/{id}` (the prefix is
//! [`Etcd::DEFAULT_PREFIX`], `/rookery/services/`, unless the builder sets another), whose
//! value is the [`Instance`] as JSON. A query with a service name reads the keys under
//! `{prefix}{name}/`, any other query reads the whole prefix; either way the instances are
//! then matched against the query.
//!
//! **Leases.** Registering grants an etcd lease with the TTL and puts the key under it; the
//! [`Lease`](crate::Lease)'s token is the etcd lease id. etcd TTLs are whole seconds, so the
//! TTL is rounded *up* to the next second (at least 1 s, see [`Etcd::ttl_seconds`]), and
//! etcd may raise it further to its own minimum (2 s with default settings): the lease
//! returned carries the TTL etcd granted, so [`Registration`](crate::Registration)
//! heartbeats at a third of the TTL actually in force. A heartbeat is one lease keepalive;
//! when etcd no longer knows the lease (it expired while this process was paused or cut
//! off) the heartbeat fails with [`RegistryErrorKind::LeaseLost`](crate::RegistryErrorKind)
//! and the registration registers again. Deregistering revokes the lease, which deletes its
//! key in the same step — and only if the key still belongs to that lease, so it never
//! removes a newer registration of the same id.
//!
//! **Watches.** A watch lists the prefix, publishes it, then follows an etcd watch from the
//! next revision, publishing after each batch of changes. When etcd cannot be reached, or
//! cancels the watch (after a compaction, say), the view keeps the last instances it had
//! (counted and logged by [`WatchSender::failed`](crate::WatchSender::failed)), and the
//! watch lists again and re-watches with backoff and jitter until etcd answers.
//!
//! **Bad entries.** A value that is not an instance's JSON, an instance that fails
//! [`Instance::validate`], or a second entry with an id already seen is skipped with a
//! logged reason, never served and never fatal.
//!
//! **Endpoints.** `Etcd::connect("HOST:PORT,HOST:PORT")` talks to one member at a time
//! and moves to the next after a call fails to reach it. Plain HTTP/2 only (no TLS, no
//! authentication yet).
//!
//! ```no_run
//! # async fn demo() -> Result<(), rookery_registry::RegistryError> {
//! use std::{sync::Arc, time::Duration};
//! use rookery_registry::{etcd::Etcd, Discover, Instance, Query, Registration, protocol};
//!
//! let etcd = Arc::new(Etcd::connect("127.0.0.1:2379").await?);
//! let me = Instance::new("greeter", "1.2.0".parse().unwrap())
//!     .with_address(protocol::THRIFT, "127.0.0.1:9090");
//! let registration = Registration::start(etcd.clone(), me, Duration::from_secs(10)).await?;
//! let mut watch = etcd.watch(&Query::service("greeter")).await?;
//! println!("{} instance(s)", watch.current().len());
//! registration.deregister().await?;
//! println!("now {}", watch.changed().await?.len());
//! # Ok(()) }
//! ```

mod register;
mod rpc;
mod watch;

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tonic::{Code, Status, transport::Endpoint};

use crate::{Instance, Query, RegistryError, WatchSender};

/// A registry and discovery backend on etcd (v3 API over gRPC). Clones share the
/// connections.
#[derive(Clone, Debug)]
pub struct Etcd {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    members: Vec<Member>,
    /// The member calls go to; moves on after a call fails to reach it.
    current: AtomicUsize,
    prefix: String,
    /// The key each lease granted here holds, so a heartbeat can check the key is still
    /// there and still its own.
    keys: std::sync::Mutex<std::collections::HashMap<i64, Vec<u8>>>,
}

#[derive(Debug)]
struct Member {
    address: String,
    client: rpc::Client,
}

/// Configures an [`Etcd`] before connecting: made by [`Etcd::builder`].
#[derive(Clone, Debug)]
pub struct EtcdBuilder {
    endpoints: String,
    prefix: String,
    request_timeout: Duration,
}

impl EtcdBuilder {
    /// The key prefix every instance is kept under ([`Etcd::DEFAULT_PREFIX`] unless set);
    /// a `/` is added at the end if it has none. Services and their clients must use the
    /// same prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        if !self.prefix.ends_with('/') {
            self.prefix.push('/');
        }
        self
    }

    /// How long one call (and connecting) may take before it fails as unavailable (5 s
    /// unless set).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Connects, and checks that some member answers (fails with
    /// [`RegistryErrorKind::Unavailable`](crate::RegistryErrorKind) if none does).
    pub async fn connect(self) -> Result<Etcd, RegistryError> {
        if self.prefix == "/" {
            tracing::warn!("etcd prefix is the root: every key in etcd is read as an instance");
        }
        let mut members = Vec::new();
        for address in self
            .endpoints
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            members.push(Member {
                address: address.to_owned(),
                client: rpc::Client::new(
                    channel(address, self.request_timeout)?,
                    self.request_timeout,
                ),
            });
        }
        if members.is_empty() {
            return Err(RegistryError::invalid(
                "etcd: no endpoint given (expected HOST:PORT[,HOST:PORT...])",
            ));
        }
        let etcd = Etcd {
            inner: Arc::new(Inner {
                members,
                current: AtomicUsize::new(0),
                prefix: self.prefix,
                keys: Default::default(),
            }),
        };
        etcd.check().await?;
        Ok(etcd)
    }
}

/// A lazily connected channel to `address` (`HOST:PORT`, or `http://HOST:PORT`).
fn channel(address: &str, timeout: Duration) -> Result<tonic::transport::Channel, RegistryError> {
    let url = match address.split_once("://") {
        None => format!("http://{address}"),
        Some(("http", _)) => address.to_owned(),
        Some((scheme, _)) => {
            return Err(RegistryError::unsupported(format!(
                "etcd endpoint {address:?}: {scheme} is not supported (plain http only)"
            )));
        }
    };
    let endpoint = Endpoint::from_shared(url)
        .map_err(|e| RegistryError::invalid(format!("etcd endpoint {address:?}: {e}")))?;
    if endpoint.uri().port_u16().is_none() {
        return Err(RegistryError::invalid(format!(
            "etcd endpoint {address:?}: expected HOST:PORT"
        )));
    }
    Ok(endpoint
        .connect_timeout(timeout)
        // Finds a member that stopped answering while a watch is open. Not more often:
        // etcd drops clients that ping more than once per 5 s, and it only allows pings
        // while a call is open.
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(false)
        .connect_lazy())
}

impl Etcd {
    /// The key prefix used unless the builder sets another.
    pub const DEFAULT_PREFIX: &'static str = "/rookery/services/";

    /// A builder for the members at `endpoints` (`HOST:PORT[,HOST:PORT...]`).
    pub fn builder(endpoints: &str) -> EtcdBuilder {
        EtcdBuilder {
            endpoints: endpoints.to_owned(),
            prefix: Etcd::DEFAULT_PREFIX.to_owned(),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// Connects to the members at `endpoints` (`HOST:PORT[,HOST:PORT...]`) with the default
    /// prefix, and checks that one answers.
    pub async fn connect(endpoints: &str) -> Result<Etcd, RegistryError> {
        Etcd::builder(endpoints).connect().await
    }

    /// The key prefix (ends with `/`).
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The key `instance` is registered under: `{prefix}{name}/{id}`.
    pub fn key(&self, instance: &Instance) -> String {
        format!("{}{}/{}", self.inner.prefix, instance.name, instance.id)
    }

    /// The etcd TTL (whole seconds) for `ttl`: rounded up, at least 1.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rookery_registry::etcd::Etcd;
    ///
    /// assert_eq!(Etcd::ttl_seconds(Duration::from_millis(1)), 1);
    /// assert_eq!(Etcd::ttl_seconds(Duration::from_secs(2)), 2);
    /// assert_eq!(Etcd::ttl_seconds(Duration::from_millis(2500)), 3);
    /// ```
    pub fn ttl_seconds(ttl: Duration) -> i64 {
        let seconds = ttl
            .as_secs()
            .saturating_add(u64::from(ttl.subsec_nanos() > 0));
        i64::try_from(seconds).unwrap_or(i64::MAX).max(1)
    }

    /// The keys a query reads: one service's, or every one.
    fn query_prefix(&self, query: &Query) -> Vec<u8> {
        match &query.name {
            Some(name) => format!("{}{name}/", self.inner.prefix).into_bytes(),
            None => self.inner.prefix.clone().into_bytes(),
        }
    }

    /// Runs `call` on the current member; after a failure to reach it, the next call goes
    /// to the next member.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, Status>
    where
        F: FnOnce(rpc::Client) -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let members = &self.inner.members;
        let index = self.inner.current.load(Ordering::Relaxed) % members.len();
        let result = call(members[index].client.clone()).await;
        if let Err(status) = &result
            && is_unreachable(status)
            && members.len() > 1
        {
            let next = (index + 1) % members.len();
            // Only the first caller to see this member fail moves on.
            if self
                .inner
                .current
                .compare_exchange(index, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                tracing::info!(
                    failed = %members[index].address,
                    next = %members[next].address,
                    "etcd member unreachable; trying the next"
                );
            }
        }
        result
    }

    /// The address of the member calls go to now.
    fn current_address(&self) -> &str {
        let members = &self.inner.members;
        &members[self.inner.current.load(Ordering::Relaxed) % members.len()].address
    }

    /// Checks that some member answers, trying each once.
    async fn check(&self) -> Result<(), RegistryError> {
        let mut last = None;
        for _ in 0..self.inner.members.len() {
            let address = self.current_address().to_owned();
            let request = rpc::RangeRequest {
                key: self.inner.prefix.clone().into_bytes(),
                range_end: prefix_end(self.inner.prefix.as_bytes()),
                limit: 1,
                count_only: true,
            };
            match self.call(|c| async move { c.range(request).await }).await {
                Ok(_) => return Ok(()),
                Err(status) => last = Some(status_error(&format!("etcd {address}"), &status)),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::unavailable("etcd: no member answered")))
    }

    /// Every key under `prefix`, and the revision they were read at.
    async fn list(&self, prefix: &[u8]) -> Result<(Vec<rpc::KeyValue>, i64), RegistryError> {
        let request = rpc::RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            limit: 0,
            count_only: false,
        };
        let reply = self
            .call(|c| async move { c.range(request).await })
            .await
            .map_err(|s| status_error("etcd range", &s))?;
        let revision = reply.header.map(|h| h.revision).unwrap_or(0);
        Ok((reply.kvs, revision))
    }
}

/// The end of the key range of every key that starts with `prefix` (etcd's `range_end`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff, or empty: to the end of the key space.
    vec![0]
}

/// Reads one entry, or says why it is not an instance. An instance is only believed at the key
/// rookery writes for it (`{prefix}{name}/{id}`): an entry elsewhere that claims a live
/// instance's id must not take its place.
fn decode(prefix: &str, kv: &rpc::KeyValue) -> Result<Instance, String> {
    let key = String::from_utf8_lossy(&kv.key);
    let instance = serde_json::from_slice::<Instance>(&kv.value)
        .map_err(|e| format!("etcd key {key}: not an instance: {e}"))?;
    let expected = format!("{prefix}{}/{}", instance.name, instance.id);
    if kv.key != expected.as_bytes() {
        return Err(format!(
            "etcd key {key}: holds instance {} of {}, whose key is {expected}",
            instance.id, instance.name
        ));
    }
    Ok(instance)
}

impl Etcd {
    /// Reads one entry, or says why it is not an instance; see [`decode`].
    fn decode(&self, kv: &rpc::KeyValue) -> Result<Instance, String> {
        decode(&self.inner.prefix, kv)
    }

    /// The entries that read as instances, by key; the others are skipped with their reason.
    fn decode_all(&self, kvs: &[rpc::KeyValue], tx: &WatchSender) -> BTreeMap<Vec<u8>, Instance> {
        let mut entries = BTreeMap::new();
        for kv in kvs {
            match self.decode(kv) {
                Ok(instance) => {
                    entries.insert(kv.key.clone(), instance);
                }
                Err(reason) => tx.skip(&reason),
            }
        }
        entries
    }
}

/// Whether a call failed because the member could not be reached (rather than refusing).
fn is_unreachable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown | Code::Cancelled
    )
}

/// A registry error for a failed call.
fn status_error(what: &str, status: &Status) -> RegistryError {
    let message = format!("{what}: {} ({:?})", status.message(), status.code());
    match status.code() {
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            RegistryError::invalid(message)
        }
        Code::Unauthenticated | Code::PermissionDenied => RegistryError::unsupported(format!(
            "{message}: this etcd asks for credentials, which the backend does not send yet"
        )),
        _ => RegistryError::unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_seconds() {
        assert_eq!(Etcd::ttl_seconds(Duration::from_nanos(1)), 1);
        assert_eq!(Etcd::ttl_seconds(Duration::from_secs(1)), 1);
        assert_eq!(Etcd::ttl_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(Etcd::ttl_seconds(Duration::from_secs(30)), 30);
        assert_eq!(Etcd::ttl_seconds(Duration::MAX), i64::MAX);
    }

    #[test]
    fn prefixes_end_where_their_keys_end() {
        assert_eq!(prefix_end(b"/rookery/services/"), b"/rookery/services0");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b""), b"\0");
    }

    #[test]
    fn entries_that_are_not_instances_say_why() {
        let kv = |value: &str| rpc::KeyValue {
            key: b"/p/s/x".to_vec(),
            value: value.as_bytes().to_vec(),
            ..rpc::KeyValue::default()
        };
        let err = decode("/p/", &kv("not json")).unwrap_err();
        assert!(
            err.contains("/p/s/x") && err.contains("not an instance"),
            "{err}"
        );
        let err = decode("/p/", &kv(r#"{"name":"s","version":"1.0.0"}"#)).unwrap_err();
        assert!(err.contains("missing field"), "{err}");
        let ok = decode(
            "/p/",
            &kv(r#"{"name":"s","version":"1.0.0","id":"x","addresses":{"thrift":"127.0.0.1:1"}}"#),
        )
        .unwrap();
        assert_eq!(ok.id, "x");
        // An instance at a key that is not its own is not believed.
        let err = decode(
            "/p/",
            &kv(r#"{"name":"s","version":"1.0.0","id":"y","addresses":{"thrift":"127.0.0.1:1"}}"#),
        )
        .unwrap_err();
        assert!(err.contains("whose key is /p/s/y"), "{err}");
    }

    #[tokio::test]
    async fn endpoints_are_checked() {
        let err = Etcd::connect("").await.unwrap_err();
        assert_eq!(err.kind(), crate::RegistryErrorKind::Invalid);
        let err = Etcd::connect("https://127.0.0.1:2379").await.unwrap_err();
        assert_eq!(err.kind(), crate::RegistryErrorKind::Unsupported);
        let err = Etcd::connect("localhost").await.unwrap_err();
        assert_eq!(err.kind(), crate::RegistryErrorKind::Invalid, "{err}");
    }

    #[tokio::test]
    async fn a_member_that_does_not_answer_is_unavailable() {
        // Bound, then closed: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = Etcd::builder(&format!("127.0.0.1:{port}"))
            .request_timeout(Duration::from_secs(2))
            .connect()
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }
}
