//! A private service with a custom name, a oneway method, no context anywhere, and the
//! generated types used as a user would.

use rookery::{Status, rpc::Codec};

#[rookery::service(name = "acme.Counter")]
trait Counter {
    /// Adds `by`.
    async fn add(&self, by: u32) -> Result<u32, Status>;
    #[oneway]
    async fn clear(&self);
    async fn r#type(&self) -> Result<String, Status>;
}

struct Zero;

impl Counter for Zero {
    async fn add(&self, by: u32) -> Result<u32, Status> {
        Ok(by)
    }
    async fn clear(&self) {}
    async fn r#type(&self) -> Result<String, Status> {
        Ok("zero".into())
    }
}

fn main() {
    use rookery::NamedService;
    assert_eq!(<CounterServer<Zero> as NamedService>::NAME, "acme.Counter");
    assert_eq!(<CounterServer<Zero> as NamedService>::METHODS, ["add", "clear", "type"]);
    let _server = CounterServer::new(Zero).codecs(Codec::Json).max_depth(16);
    let client = CounterClient::new(rookery::Client::builder("127.0.0.1:1".parse().unwrap()).build());
    let _client = client.with_codec(Codec::Json).with_max_depth(8);
}
