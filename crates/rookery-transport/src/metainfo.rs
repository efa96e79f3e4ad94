//! How request metadata is named in TTHeader's string info, as Kitex's (and Volo's) metainfo
//! names it, so that metadata crosses between rookery and Kitex services both ways:
//!
//! - A client sends each entry `k` of the context's [`metadata`](Context::metadata) as
//!   `RPC_TRANSIT_k`: Kitex's transient values, for one hop (a Kitex handler reads them with
//!   `metainfo.GetValue(ctx, k)`). Keys that already start with `RPC_`, rookery's own
//!   (`rookery-…`) and the keys TTHeader itself defines (`isn`, the IDL service name; `crrst`;
//!   `biz-status`…; see [`is_transport_key`]) are sent as they are.
//!   Each entry of the context's inherited [`Persistent`] values goes as `RPC_PERSIST_k`,
//!   Kitex's persistent values, which every service passes on to the next.
//! - A server takes `RPC_TRANSIT_k` and `RPC_PERSIST_k` into the call's metadata as `k` (a
//!   transient value wins over a persistent one of the same name); the persistent ones also go
//!   into the context's inherited [`Persistent`], so the calls a handler makes with
//!   [`cx.child()`](Context::child) carry them on, as a Kitex service would. Other keys
//!   arrive as they are.
//! - Response metadata travels as it is, both ways: Kitex's backward values
//!   (`metainfo.SendBackwardValue` on a Kitex server, `RecvBackwardValue` on its client).

use faststr::FastStr;
use rookery_core::{Context, Metadata};

/// The key prefix of a transient (one hop) value.
pub const TRANSIENT_PREFIX: &str = "RPC_TRANSIT_";
/// The key prefix of a persistent value (passed on by every service).
pub const PERSISTENT_PREFIX: &str = "RPC_PERSIST_";
/// The string info keys that TTHeader and Kitex define for the transport itself, which a
/// client sends as they are: the IDL service name, the remote address, the target cluster
/// and IDC, the timing marks, the drain notice, the processing time, the stream cancel
/// path, and the business status of a reply.
const TRANSPORT_KEYS: &[&str] = &[
    "isn",
    "rip",
    "tc",
    "ti",
    "pcs",
    "pce",
    "pss",
    "prs",
    "pre",
    "crrst",
    "K_ProcessAtTime",
    "ttscp",
    "biz-status",
    "biz-message",
    "biz-extra",
];

/// Whether a metadata key goes into TTHeader as it is, not as a transient value: a key
/// already in metainfo's form (`RPC_…`), one of rookery's own (`rookery-…`), or one TTHeader
/// defines for the transport (`isn`, `crrst`, `biz-status`, …).
pub fn is_transport_key(key: &str) -> bool {
    key.starts_with("RPC_") || key.starts_with("rookery-") || TRANSPORT_KEYS.contains(&key)
}

/// Values that travel with every call down a chain of services: a server puts those that
/// arrived here (in the context's [`inherited`](Context::inherited) values, which every
/// child context keeps), and a client sends them as Kitex's persistent metainfo.
///
/// ```
/// use rookery_core::Context;
/// use rookery_transport::metainfo::Persistent;
///
/// let mut cx = Context::new();
/// Persistent::insert(&mut cx, "tenant", "acme");
/// let downstream = cx.child();
/// assert_eq!(Persistent::get(&downstream, "tenant"), Some("acme"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Persistent(pub Metadata);

impl Persistent {
    /// Sets a persistent value on `cx`, for this call and every call made from it.
    pub fn insert(cx: &mut Context, key: impl Into<FastStr>, value: impl Into<FastStr>) {
        cx.inherited_mut()
            .get_or_insert_default::<Persistent>()
            .0
            .insert(key, value);
    }

    /// The persistent value `key` of `cx`, if there is one.
    pub fn get<'a>(cx: &'a Context, key: &str) -> Option<&'a str> {
        cx.inherited().get::<Persistent>()?.0.get(key)
    }
}

/// The string info keys of a business status: Kitex's way for a handler to fail with an
/// application's own code, which its clients receive as a `kerrors.BizStatusError`.
pub mod biz_key {
    /// The code, a non-zero i32 in decimal.
    pub const STATUS: &str = "biz-status";
    /// The message.
    pub const MESSAGE: &str = "biz-message";
    /// Extra fields, a JSON object of strings.
    pub const EXTRA: &str = "biz-extra";
}

/// A business status: a failure with the application's own code, as Kitex handlers return
/// it (`kerrors.NewBizStatusError(code, message)`). Over TTHeader it travels as a normal
/// reply with the [`biz_key`] entries in its header, and a Kitex client returns it as a
/// `BizStatusError`.
///
/// A handler fails with one by returning it as a [`Status`](rookery_core::Status) (`Status`
/// implements `From<BizStatus>`, with code `UNKNOWN` for code that knows nothing of it); a
/// client finds it in the status it gets back with [`BizStatus::of`].
///
/// ```
/// use rookery_core::{Code, Status};
/// use rookery_transport::metainfo::BizStatus;
///
/// let status: Status = BizStatus::new(1001, "no such order").into();
/// assert_eq!(status.code(), Code::Unknown);
/// assert_eq!(BizStatus::of(&status).unwrap().code, 1001);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BizStatus {
    /// The application's code (never 0: Kitex reads 0 as no error).
    pub code: i32,
    /// What went wrong.
    pub message: FastStr,
    /// Extra fields as Kitex encodes them: a JSON object of strings (`{"k":"v"}`), as it
    /// arrived.
    pub extra: Option<FastStr>,
}

impl BizStatus {
    /// A business status of `code` (not 0) and `message`.
    pub fn new(code: i32, message: impl Into<FastStr>) -> BizStatus {
        BizStatus {
            code,
            message: message.into(),
            extra: None,
        }
    }

    /// With extra fields, a JSON object of strings.
    pub fn with_extra(mut self, json: impl Into<FastStr>) -> BizStatus {
        self.extra = Some(json.into());
        self
    }

    /// The business status `status` carries, if it carries one.
    pub fn of(status: &rookery_core::Status) -> Option<&BizStatus> {
        std::error::Error::source(status)?.downcast_ref::<BizStatus>()
    }

    /// The header entries that carry it; `code` is [`code`](BizStatus::code) in decimal.
    pub(crate) fn entries<'a>(&'a self, code: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        [(biz_key::STATUS, code), (biz_key::MESSAGE, &*self.message)]
            .into_iter()
            .chain(self.extra.as_deref().map(|e| (biz_key::EXTRA, e)))
    }

    /// The business status a reply's header carries: `biz-status` present and not 0.
    pub(crate) fn from_entries(
        status: Option<&str>,
        message: Option<FastStr>,
        extra: Option<FastStr>,
    ) -> Option<BizStatus> {
        let code = status?.trim().parse::<i32>().ok().filter(|c| *c != 0)?;
        Some(BizStatus {
            code,
            message: message.unwrap_or_default(),
            extra: extra.filter(|e| !e.is_empty()),
        })
    }
}

impl std::fmt::Display for BizStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "business status {}: {}", self.code, self.message)
    }
}

impl std::error::Error for BizStatus {}

impl From<BizStatus> for rookery_core::Status {
    fn from(biz: BizStatus) -> rookery_core::Status {
        rookery_core::Status::unknown(biz.to_string()).with_source(biz)
    }
}

/// The string info of a request from `cx`: `(prefix, key, value)` for each entry.
pub(crate) fn outgoing(cx: &Context) -> impl Iterator<Item = (&str, &str, &str)> {
    let transient = cx.metadata().iter().map(|(k, v)| {
        let prefix = if is_transport_key(k) {
            ""
        } else {
            TRANSIENT_PREFIX
        };
        (prefix, &**k, &**v)
    });
    let persistent = cx
        .inherited()
        .get::<Persistent>()
        .into_iter()
        .flat_map(|p| p.0.iter())
        .map(|(k, v)| (PERSISTENT_PREFIX, &**k, &**v));
    transient.chain(persistent)
}

/// Takes one string info entry of a request into `cx`.
pub(crate) fn incoming(cx: &mut Context, key: FastStr, value: FastStr) {
    if let Some(k) = key.strip_prefix(TRANSIENT_PREFIX).filter(|k| !k.is_empty()) {
        let k = key.slice_ref(k);
        cx.metadata_mut().insert(k, value);
    } else if let Some(k) = key
        .strip_prefix(PERSISTENT_PREFIX)
        .filter(|k| !k.is_empty())
    {
        let k = key.slice_ref(k);
        if !cx.metadata().contains_key(&k) {
            cx.metadata_mut().insert(k.clone(), value.clone());
        }
        Persistent::insert(cx, k, value);
    } else {
        cx.metadata_mut().insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(cx: &Context) -> Vec<String> {
        let mut all: Vec<String> = outgoing(cx)
            .map(|(p, k, v)| format!("{p}{k}={v}"))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn metadata_goes_out_as_transient_and_inherited_values_as_persistent() {
        let mut cx = Context::new();
        cx.metadata_mut().insert("tenant", "acme");
        cx.metadata_mut().insert("RPC_PERSIST_raw", "as is");
        cx.metadata_mut().insert("isn", "Second");
        cx.metadata_mut().insert("rookery-own", "1");
        Persistent::insert(&mut cx, "region", "eu");
        assert_eq!(
            entries(&cx),
            [
                "RPC_PERSIST_raw=as is",
                "RPC_PERSIST_region=eu",
                "RPC_TRANSIT_tenant=acme",
                "isn=Second",
                "rookery-own=1",
            ]
        );
    }

    #[test]
    fn prefixes_come_off_on_the_way_in_and_persistent_values_pass_to_children() {
        let mut cx = Context::new();
        for (k, v) in [
            ("RPC_PERSIST_both", "persistent"),
            ("RPC_TRANSIT_both", "transient"),
            ("RPC_TRANSIT_tenant", "acme"),
            ("RPC_PERSIST_region", "eu"),
            ("plain", "kept"),
            ("RPC_TRANSIT_", "no name"),
        ] {
            incoming(&mut cx, k.into(), v.into());
        }
        let md = cx.metadata();
        assert_eq!(md.get("tenant"), Some("acme"));
        assert_eq!(md.get("region"), Some("eu"));
        assert_eq!(md.get("both"), Some("transient"), "a transient value wins");
        assert_eq!(md.get("plain"), Some("kept"));
        assert_eq!(md.get("RPC_TRANSIT_"), Some("no name"));

        // A downstream call carries the persistent values on, not the transient ones.
        let child = cx.child();
        assert_eq!(
            entries(&child),
            ["RPC_PERSIST_both=persistent", "RPC_PERSIST_region=eu"]
        );
    }
}
