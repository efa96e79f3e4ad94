use rookery::Status;

#[rookery::service]
trait Clock {
    async fn now() -> Result<u64, Status>;
}

fn main() {}
