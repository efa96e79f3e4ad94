use rookery::Status;

struct Secret {
    key: [u8; 32],
}

#[rookery::service]
trait Vault {
    async fn store(&self, name: String, secret: Secret) -> Result<(), Status>;
}

fn main() {}
