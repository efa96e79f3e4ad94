// The standalone embedded registry, served over rookery's native protocol (TTHeader, or
// Thrift framed/buffered; binary or compact) by rookery_registry::embedded::EmbeddedServer and
// called by rookery_registry::embedded::RemoteRegistry (`registry://HOST:PORT`).
//
// Errors are not declared exceptions: they travel as rookery statuses (TTHeader carries the
// exact code; other framings get an application exception):
//   INVALID_ARGUMENT  a malformed instance, query, TTL or lease (bad version, no address, ...)
//   NOT_FOUND         the lease is not known (expired, deregistered, replaced): register again
//   UNAVAILABLE       the registry is stopping: try again later
//   UNIMPLEMENTED     an unknown method

namespace rs rookery_registry.embedded.wire

// One running copy of a service, as Kite identifies it.
struct Instance {
  1: string name                       // the service name clients find it by
  2: string version                    // semver: "1.2.3"
  3: string environment                // "" if none
  4: string region                     // "" if none
  5: string hostname
  6: string id                         // unique among all instances; no '/'
  7: map<string, string> addresses     // protocol ("thrift", "grpc", "http") -> "HOST:PORT"
  8: i64 weight                        // 1 .. 2^32-1; relative share of the load
  9: set<string> tags
  10: map<string, string> metadata
}

// Which instances to find: every field that is set must match.
struct Query {
  1: optional string name
  2: optional string version           // a semver constraint: ">=1.2, <2", "~1.4"
  3: optional string environment
  4: optional string region
  5: optional string hostname
  6: optional string id
  7: optional set<string> tags         // all must be present
}

// A registration's handle: renew it before ttl_ms runs out.
struct Lease {
  1: string instance_id
  2: i64 token                         // stable across registry restarts (saved with the state)
  3: i64 ttl_ms
}

// The instances matching a query, in id order, and the revision of that set: an opaque
// fingerprint of its content (0 is never used; it means "nothing known"). Equal sets have equal
// revisions, on any server and across restarts, so a watcher that reconnects after a restart
// is only woken if the set actually differs from the one it has.
struct InstanceSet {
  1: list<Instance> instances
  2: i64 revision
}

service Registry {
  // Adds the instance (replacing one with the same id), alive for ttl_ms (1 ms .. 24 h)
  // unless renewed.
  Lease register(1: Instance instance, 2: i64 ttl_ms)

  // Renews the lease for the TTL it was registered with. NOT_FOUND when it is gone.
  void heartbeat(1: Lease lease)

  // Removes the instance now. Removing what is gone is not an error.
  void deregister(1: Lease lease)

  // The instances matching the query now.
  InstanceSet resolve(1: Query query)

  // Long poll: returns as soon as the matching set's revision differs from known_revision
  // (at once if it already does; pass 0 to get the set now), or after wait_ms with the set
  // unchanged. Waits at most 60 s, and ends before the call's deadline.
  InstanceSet watch(1: Query query, 2: i64 known_revision, 3: i64 wait_ms)
}
