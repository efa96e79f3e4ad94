//! Without the `etcd` feature, `etcd://` says how to get the backend.

#![cfg(not(feature = "etcd"))]

use rookery_registry::{RegistryErrorKind, from_url};

#[tokio::test]
async fn etcd_urls_name_the_feature() {
    let Err(err) = from_url("etcd://127.0.0.1:2379").await else {
        panic!("etcd:// gave a registry without the etcd feature");
    };
    assert_eq!(err.kind(), RegistryErrorKind::Unsupported);
    assert!(err.to_string().contains("`etcd` feature"), "{err}");
}
