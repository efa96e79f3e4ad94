use rookery::Status;

#[rookery::service]
trait Clock {
    fn now(&self) -> Result<u64, Status>;
}

fn main() {}
