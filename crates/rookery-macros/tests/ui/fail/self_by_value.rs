use rookery::Status;

#[rookery::service]
trait Clock {
    async fn now(self) -> Result<u64, Status>;
    async fn reset(&mut self) -> Result<(), Status>;
}

fn main() {}
