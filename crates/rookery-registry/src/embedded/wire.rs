//! The messages of `idl/registry.thrift`, as the generator will produce them (written by hand
//! until code generation lands), and their conversions to and from the registry's own types.
//!
//! Decoding only checks the Thrift encoding; what the fields mean (a version that is semver, a
//! weight in range, an address that parses) is checked by the conversions, which return a
//! [`RegistryError`] saying which field of which instance is wrong, so that one bad entry can
//! be skipped without losing the rest.

use std::collections::{BTreeMap, BTreeSet};

use rookery_codec::{
    DecodeError, DecodeErrorKind,
    thrift::{ProtocolRead, ProtocolWrite, TType, ThriftDecode, ThriftEncode},
};

use crate::RegistryError;

/// The service name of the IDL, which calls name to be routed to it.
pub const SERVICE: &str = "Registry";

/// The methods of the service.
pub mod method {
    /// `Lease register(1: Instance instance, 2: i64 ttl_ms)`
    pub const REGISTER: &str = "register";
    /// `void heartbeat(1: Lease lease)`
    pub const HEARTBEAT: &str = "heartbeat";
    /// `void deregister(1: Lease lease)`
    pub const DEREGISTER: &str = "deregister";
    /// `InstanceSet resolve(1: Query query)`
    pub const RESOLVE: &str = "resolve";
    /// `InstanceSet watch(1: Query query, 2: i64 known_revision, 3: i64 wait_ms)`
    pub const WATCH: &str = "watch";
    /// All of them.
    pub const ALL: &[&str] = &[REGISTER, HEARTBEAT, DEREGISTER, RESOLVE, WATCH];
}

fn invalid(message: String) -> DecodeError {
    DecodeError::new(DecodeErrorKind::InvalidData, message)
}

fn write_string_map<W: ProtocolWrite>(w: &mut W, map: &BTreeMap<String, String>) {
    w.write_map_begin(TType::Binary, TType::Binary, map.len());
    for (k, v) in map {
        w.write_string(k);
        w.write_string(v);
    }
}

fn read_string_map<R: ProtocolRead>(
    r: &mut R,
    what: &str,
) -> Result<BTreeMap<String, String>, DecodeError> {
    let (k, v, len) = r.read_map_begin()?;
    if len > 0 && (k != TType::Binary || v != TType::Binary) {
        return Err(invalid(format!(
            "{what}: expected map<string, string>, got map<{k:?}, {v:?}>"
        )));
    }
    let mut map = BTreeMap::new();
    for _ in 0..len {
        let key = r.read_string()?;
        let value = r.read_string()?;
        map.insert(key.to_string(), value.to_string());
    }
    r.read_map_end();
    Ok(map)
}

fn write_string_set<W: ProtocolWrite>(w: &mut W, set: &BTreeSet<String>) {
    w.write_set_begin(TType::Binary, set.len());
    for s in set {
        w.write_string(s);
    }
}

fn read_string_set<R: ProtocolRead>(
    r: &mut R,
    what: &str,
) -> Result<BTreeSet<String>, DecodeError> {
    let (elem, len) = r.read_set_begin()?;
    if len > 0 && elem != TType::Binary {
        return Err(invalid(format!(
            "{what}: expected set<string>, got set<{elem:?}>"
        )));
    }
    let mut set = BTreeSet::new();
    for _ in 0..len {
        set.insert(r.read_string()?.to_string());
    }
    r.read_set_end();
    Ok(set)
}

/// `struct Instance`: an instance as it travels, its fields not yet checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instance {
    /// Field 1.
    pub name: String,
    /// Field 2: semver.
    pub version: String,
    /// Field 3.
    pub environment: String,
    /// Field 4.
    pub region: String,
    /// Field 5.
    pub hostname: String,
    /// Field 6.
    pub id: String,
    /// Field 7.
    pub addresses: BTreeMap<String, String>,
    /// Field 8.
    pub weight: i64,
    /// Field 9.
    pub tags: BTreeSet<String>,
    /// Field 10.
    pub metadata: BTreeMap<String, String>,
}

impl From<&crate::Instance> for Instance {
    fn from(i: &crate::Instance) -> Self {
        Instance {
            name: i.name.clone(),
            version: i.version.to_string(),
            environment: i.environment.clone(),
            region: i.region.clone(),
            hostname: i.hostname.clone(),
            id: i.id.clone(),
            addresses: i.addresses.clone(),
            weight: i.weight.into(),
            tags: i.tags.clone(),
            metadata: i.metadata.clone(),
        }
    }
}

impl Instance {
    /// The registry's instance, if the fields have the types it needs: a semver version and
    /// a weight from 1 to 2³²−1. (What [`crate::Instance::validate`] checks is left to it.)
    pub fn to_instance(&self) -> Result<crate::Instance, RegistryError> {
        let version = self.version.parse::<semver::Version>().map_err(|e| {
            RegistryError::invalid(format!(
                "instance {:?}: version {:?}: {e}",
                self.id, self.version
            ))
        })?;
        let weight = u32::try_from(self.weight)
            .ok()
            .filter(|w| *w > 0)
            .ok_or_else(|| {
                RegistryError::invalid(format!(
                    "instance {:?}: weight {} is not from 1 to {}",
                    self.id,
                    self.weight,
                    u32::MAX
                ))
            })?;
        Ok(crate::Instance {
            name: self.name.clone(),
            version,
            environment: self.environment.clone(),
            region: self.region.clone(),
            hostname: self.hostname.clone(),
            id: self.id.clone(),
            addresses: self.addresses.clone(),
            weight,
            tags: self.tags.clone(),
            metadata: self.metadata.clone(),
        })
    }
}

impl ThriftEncode for Instance {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        for (id, s) in [
            (1, &self.name),
            (2, &self.version),
            (3, &self.environment),
            (4, &self.region),
            (5, &self.hostname),
            (6, &self.id),
        ] {
            w.write_field_begin(TType::Binary, id);
            w.write_string(s);
        }
        w.write_field_begin(TType::Map, 7);
        write_string_map(w, &self.addresses);
        w.write_field_begin(TType::I64, 8);
        w.write_i64(self.weight);
        w.write_field_begin(TType::Set, 9);
        write_string_set(w, &self.tags);
        w.write_field_begin(TType::Map, 10);
        write_string_map(w, &self.metadata);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Instance {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Instance::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 1) => out.name = r.read_string()?.to_string(),
                (TType::Binary, 2) => out.version = r.read_string()?.to_string(),
                (TType::Binary, 3) => out.environment = r.read_string()?.to_string(),
                (TType::Binary, 4) => out.region = r.read_string()?.to_string(),
                (TType::Binary, 5) => out.hostname = r.read_string()?.to_string(),
                (TType::Binary, 6) => out.id = r.read_string()?.to_string(),
                (TType::Map, 7) => out.addresses = read_string_map(r, "addresses")?,
                (TType::I64, 8) => out.weight = r.read_i64()?,
                (TType::Set, 9) => out.tags = read_string_set(r, "tags")?,
                (TType::Map, 10) => out.metadata = read_string_map(r, "metadata")?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// `struct Query`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Field 1.
    pub name: Option<String>,
    /// Field 2: a semver constraint.
    pub version: Option<String>,
    /// Field 3.
    pub environment: Option<String>,
    /// Field 4.
    pub region: Option<String>,
    /// Field 5.
    pub hostname: Option<String>,
    /// Field 6.
    pub id: Option<String>,
    /// Field 7.
    pub tags: BTreeSet<String>,
}

impl From<&crate::Query> for Query {
    fn from(q: &crate::Query) -> Self {
        Query {
            name: q.name.clone(),
            version: q.version.as_ref().map(ToString::to_string),
            environment: q.environment.clone(),
            region: q.region.clone(),
            hostname: q.hostname.clone(),
            id: q.id.clone(),
            tags: q.tags.clone(),
        }
    }
}

impl Query {
    /// The registry's query, if the version constraint parses.
    pub fn to_query(&self) -> Result<crate::Query, RegistryError> {
        let version = match &self.version {
            Some(v) => Some(v.parse::<semver::VersionReq>().map_err(|e| {
                RegistryError::invalid(format!("query: version constraint {v:?}: {e}"))
            })?),
            None => None,
        };
        Ok(crate::Query {
            name: self.name.clone(),
            version,
            environment: self.environment.clone(),
            region: self.region.clone(),
            hostname: self.hostname.clone(),
            id: self.id.clone(),
            tags: self.tags.clone(),
        })
    }
}

impl ThriftEncode for Query {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        for (id, s) in [
            (1, &self.name),
            (2, &self.version),
            (3, &self.environment),
            (4, &self.region),
            (5, &self.hostname),
            (6, &self.id),
        ] {
            if let Some(s) = s {
                w.write_field_begin(TType::Binary, id);
                w.write_string(s);
            }
        }
        if !self.tags.is_empty() {
            w.write_field_begin(TType::Set, 7);
            write_string_set(w, &self.tags);
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Query {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Query::default();
        r.read_struct_begin()?;
        loop {
            let field = r.read_field_begin()?;
            let slot = match field {
                (TType::Stop, _) => break,
                (TType::Binary, 1) => &mut out.name,
                (TType::Binary, 2) => &mut out.version,
                (TType::Binary, 3) => &mut out.environment,
                (TType::Binary, 4) => &mut out.region,
                (TType::Binary, 5) => &mut out.hostname,
                (TType::Binary, 6) => &mut out.id,
                (TType::Set, 7) => {
                    out.tags = read_string_set(r, "tags")?;
                    continue;
                }
                (ty, _) => {
                    r.skip(ty)?;
                    continue;
                }
            };
            *slot = Some(r.read_string()?.to_string());
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// `struct Lease`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lease {
    /// Field 1.
    pub instance_id: String,
    /// Field 2.
    pub token: i64,
    /// Field 3.
    pub ttl_ms: i64,
}

fn millis(d: std::time::Duration) -> i64 {
    d.as_millis().min(i64::MAX as u128) as i64
}

impl From<&crate::Lease> for Lease {
    fn from(l: &crate::Lease) -> Self {
        Lease {
            instance_id: l.instance_id.clone(),
            token: l.token,
            ttl_ms: millis(l.ttl),
        }
    }
}

impl Lease {
    /// The registry's lease (a negative TTL reads as zero).
    pub fn to_lease(&self) -> crate::Lease {
        crate::Lease {
            instance_id: self.instance_id.clone(),
            token: self.token,
            ttl: std::time::Duration::from_millis(self.ttl_ms.max(0) as u64),
        }
    }
}

impl ThriftEncode for Lease {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Binary, 1);
        w.write_string(&self.instance_id);
        w.write_field_begin(TType::I64, 2);
        w.write_i64(self.token);
        w.write_field_begin(TType::I64, 3);
        w.write_i64(self.ttl_ms);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for Lease {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = Lease::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Binary, 1) => out.instance_id = r.read_string()?.to_string(),
                (TType::I64, 2) => out.token = r.read_i64()?,
                (TType::I64, 3) => out.ttl_ms = r.read_i64()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// `struct InstanceSet`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceSet {
    /// Field 1, in id order.
    pub instances: Vec<Instance>,
    /// Field 2: the fingerprint of the set (see the IDL); never 0.
    pub revision: i64,
}

impl InstanceSet {
    /// The set of `instances` (sorted by id here), with its revision.
    pub fn of(mut instances: Vec<Instance>) -> InstanceSet {
        instances.sort_by(|a, b| a.id.cmp(&b.id));
        let revision = fingerprint(&instances);
        InstanceSet {
            instances,
            revision,
        }
    }
}

/// The revision of a set: FNV-1a (64 bits) over its binary Thrift encoding, which is the same
/// for the same set in any process (fields in a fixed order, maps and sets sorted, instances
/// in id order). Never 0.
fn fingerprint(instances: &[Instance]) -> i64 {
    struct List<'a>(&'a [Instance]);
    impl ThriftEncode for List<'_> {
        fn encode<W: ProtocolWrite>(&self, w: &mut W) {
            w.write_list_begin(TType::Struct, self.0.len());
            for i in self.0 {
                i.encode(w);
            }
        }
    }
    let bytes = rookery_codec::thrift::Protocol::Binary.encode_to_bytes(&List(instances));
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes.iter() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    match hash as i64 {
        0 => 1,
        h => h,
    }
}

impl ThriftEncode for InstanceSet {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::List, 1);
        w.write_list_begin(TType::Struct, self.instances.len());
        for i in &self.instances {
            i.encode(w);
        }
        w.write_field_begin(TType::I64, 2);
        w.write_i64(self.revision);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for InstanceSet {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = InstanceSet::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::List, 1) => {
                    let (elem, len) = r.read_list_begin()?;
                    if len > 0 && elem != TType::Struct {
                        return Err(invalid(format!(
                            "instances: expected list<Instance>, got list<{elem:?}>"
                        )));
                    }
                    // The reader bounds `len` by the bytes present; bound the allocation too.
                    let mut instances = Vec::with_capacity(len.min(1024));
                    for _ in 0..len {
                        instances.push(Instance::decode(r)?);
                    }
                    r.read_list_end();
                    out.instances = instances;
                }
                (TType::I64, 2) => out.revision = r.read_i64()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The arguments of `register`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegisterArgs {
    /// Field 1.
    pub instance: Option<Instance>,
    /// Field 2.
    pub ttl_ms: i64,
}

impl ThriftEncode for RegisterArgs {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        if let Some(i) = &self.instance {
            w.write_field_begin(TType::Struct, 1);
            i.encode(w);
        }
        w.write_field_begin(TType::I64, 2);
        w.write_i64(self.ttl_ms);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for RegisterArgs {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = RegisterArgs::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Struct, 1) => out.instance = Some(Instance::decode(r)?),
                (TType::I64, 2) => out.ttl_ms = r.read_i64()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The arguments of `heartbeat` and `deregister`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseArgs {
    /// Field 1.
    pub lease: Option<Lease>,
}

impl ThriftEncode for LeaseArgs {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        if let Some(l) = &self.lease {
            w.write_field_begin(TType::Struct, 1);
            l.encode(w);
        }
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for LeaseArgs {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = LeaseArgs::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Struct, 1) => out.lease = Some(Lease::decode(r)?),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The arguments of `resolve`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolveArgs {
    /// Field 1 (a missing query matches everything).
    pub query: Query,
}

impl ThriftEncode for ResolveArgs {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Struct, 1);
        self.query.encode(w);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for ResolveArgs {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = ResolveArgs::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Struct, 1) => out.query = Query::decode(r)?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The arguments of `watch`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchArgs {
    /// Field 1 (a missing query matches everything).
    pub query: Query,
    /// Field 2: the revision the caller has; 0 for none.
    pub known_revision: i64,
    /// Field 3: how long to wait for a change.
    pub wait_ms: i64,
}

impl ThriftEncode for WatchArgs {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Struct, 1);
        self.query.encode(w);
        w.write_field_begin(TType::I64, 2);
        w.write_i64(self.known_revision);
        w.write_field_begin(TType::I64, 3);
        w.write_i64(self.wait_ms);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for WatchArgs {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = WatchArgs::default();
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Struct, 1) => out.query = Query::decode(r)?,
                (TType::I64, 2) => out.known_revision = r.read_i64()?,
                (TType::I64, 3) => out.wait_ms = r.read_i64()?,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(out)
    }
}

/// The result struct of a method returning a struct `T`: field 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply<T>(pub T);

impl<T: ThriftEncode> ThriftEncode for Reply<T> {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_begin(TType::Struct, 0);
        self.0.encode(w);
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl<T: ThriftDecode> ThriftDecode for Reply<T> {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        let mut out = None;
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (TType::Struct, 0) => out = Some(T::decode(r)?),
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        out.map(Reply)
            .ok_or_else(|| invalid("result has no value".into()))
    }
}

/// The result struct of a `void` method: empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VoidReply;

impl ThriftEncode for VoidReply {
    fn encode<W: ProtocolWrite>(&self, w: &mut W) {
        w.write_struct_begin();
        w.write_field_stop();
        w.write_struct_end();
    }
}

impl ThriftDecode for VoidReply {
    fn decode<R: ProtocolRead>(r: &mut R) -> Result<Self, DecodeError> {
        r.read_struct_begin()?;
        loop {
            match r.read_field_begin()? {
                (TType::Stop, _) => break,
                (ty, _) => r.skip(ty)?,
            }
        }
        r.read_struct_end();
        Ok(VoidReply)
    }
}

#[cfg(test)]
mod tests {
    use rookery_codec::thrift::Protocol;

    use super::*;
    use crate::protocol;

    fn sample() -> crate::Instance {
        let mut i = crate::Instance::new("greeter", "1.2.3-beta.1".parse().unwrap())
            .with_address(protocol::THRIFT, "127.0.0.1:9090")
            .with_address(protocol::GRPC, "127.0.0.1:9091");
        i.environment = "production".into();
        i.region = "eu".into();
        i.hostname = "h1".into();
        i.weight = u32::MAX;
        i.tags.insert("canary".into());
        i.metadata.insert("k".into(), "v".into());
        i
    }

    #[test]
    fn messages_round_trip_in_both_protocols() {
        for protocol in [Protocol::Binary, Protocol::Compact] {
            let i = sample();
            let args = RegisterArgs {
                instance: Some(Instance::from(&i)),
                ttl_ms: 3000,
            };
            let back: RegisterArgs = protocol.decode(protocol.encode_to_bytes(&args)).unwrap();
            assert_eq!(back, args);
            assert_eq!(back.instance.unwrap().to_instance().unwrap(), i);

            let q = crate::Query::service("greeter")
                .version(">=1.2, <2")
                .unwrap()
                .tag("canary");
            let args = WatchArgs {
                query: Query::from(&q),
                known_revision: -5,
                wait_ms: 100,
            };
            let back: WatchArgs = protocol.decode(protocol.encode_to_bytes(&args)).unwrap();
            assert_eq!(back, args);
            assert_eq!(back.query.to_query().unwrap(), q);

            let set = InstanceSet::of(vec![Instance::from(&sample()), Instance::from(&i)]);
            let back: Reply<InstanceSet> = protocol
                .decode(protocol.encode_to_bytes(&Reply(set.clone())))
                .unwrap();
            assert_eq!(back.0, set);
            let _: VoidReply = protocol
                .decode(protocol.encode_to_bytes(&VoidReply))
                .unwrap();
            // A void reply is not a struct reply.
            assert!(
                protocol
                    .decode::<Reply<Lease>>(protocol.encode_to_bytes(&VoidReply))
                    .is_err()
            );
        }
    }

    #[test]
    fn revisions_are_fingerprints_of_the_set() {
        let (a, b) = (Instance::from(&sample()), Instance::from(&sample()));
        let one = InstanceSet::of(vec![a.clone(), b.clone()]);
        let other_order = InstanceSet::of(vec![b.clone(), a.clone()]);
        assert_eq!(one.revision, other_order.revision);
        assert_ne!(one.revision, InstanceSet::of(vec![a.clone()]).revision);
        let mut changed = a.clone();
        changed.weight = 5;
        assert_ne!(
            one.revision,
            InstanceSet::of(vec![changed, b.clone()]).revision
        );
        assert_ne!(InstanceSet::of(vec![]).revision, 0);
    }

    #[test]
    fn garbage_fields_are_clear_errors() {
        let mut w = Instance::from(&sample());
        w.version = "one point two".into();
        let e = w.to_instance().unwrap_err();
        assert!(e.to_string().contains("version \"one point two\""), "{e}");
        for weight in [0, -1, i64::from(u32::MAX) + 1] {
            let mut w = Instance::from(&sample());
            w.weight = weight;
            let e = w.to_instance().unwrap_err();
            assert!(e.to_string().contains("weight"), "{e}");
        }
        let q = Query {
            version: Some("> banana".into()),
            ..Query::default()
        };
        assert!(q.to_query().unwrap_err().to_string().contains("banana"));
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        let good = Protocol::Binary
            .encode_to_bytes(&Reply(InstanceSet::of(vec![Instance::from(&sample())])));
        // Every truncation, and every single-byte corruption, decodes to an error or a value.
        for cut in 0..good.len() {
            assert!(
                Protocol::Binary
                    .decode::<Reply<InstanceSet>>(good.slice(..cut))
                    .is_err()
            );
        }
        for at in 0..good.len() {
            for byte in [0x00, 0x7f, 0xff] {
                let mut bad = good.to_vec();
                bad[at] = byte;
                let _ = Protocol::Binary.decode::<Reply<InstanceSet>>(bad.into());
            }
        }
        // A map of the wrong types is named.
        struct WrongMap;
        impl ThriftEncode for WrongMap {
            fn encode<W: ProtocolWrite>(&self, w: &mut W) {
                w.write_struct_begin();
                w.write_field_begin(TType::Map, 7);
                w.write_map_begin(TType::I32, TType::I32, 1);
                w.write_i32(1);
                w.write_i32(2);
                w.write_field_stop();
                w.write_struct_end();
            }
        }
        let e = Protocol::Compact
            .decode::<Instance>(Protocol::Compact.encode_to_bytes(&WrongMap))
            .unwrap_err();
        assert!(e.to_string().contains("addresses"), "{e}");
    }
}
