use rookery::Status;

#[rookery::service]
trait Factory {
    async fn new(&self, kind: String) -> Result<u64, Status>;
}

fn main() {}
