//! The etcd harness against a real etcd: it starts ready, reads and writes keys, and a
//! restart keeps the data on the same ports.

use rookery_testkit::EtcdServer;

#[test]
fn starts_serves_and_restarts_with_its_data() {
    let Some(mut etcd) = EtcdServer::start_or_skip() else {
        return;
    };
    let endpoint = etcd.endpoint();
    assert!(etcd.is_running());
    etcd.put("/t/a", "1").unwrap();
    etcd.put("/t/b", "2").unwrap();
    etcd.put("/u", "3").unwrap();
    let kvs = etcd.get_prefix("/t/").unwrap();
    assert_eq!(
        kvs.iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str(), kv.lease))
            .collect::<Vec<_>>(),
        [("/t/a", "1", 0), ("/t/b", "2", 0)]
    );

    etcd.stop().unwrap();
    assert!(!etcd.is_running());
    assert!(etcd.get_prefix("/t/").is_err(), "stopped etcd answered");
    etcd.restart().unwrap();
    assert_eq!(etcd.endpoint(), endpoint);
    assert_eq!(etcd.get_prefix("/t/").unwrap().len(), 2, "data kept");

    assert_eq!(etcd.delete_prefix("/t/").unwrap(), 2);
    assert!(etcd.get_prefix("/t/").unwrap().is_empty());
    assert_eq!(etcd.lease_granted_ttl(12345).unwrap(), None);

    let data = etcd.data_dir();
    assert!(data.exists());
    drop(etcd);
    assert!(!data.exists(), "data removed on drop");
}
