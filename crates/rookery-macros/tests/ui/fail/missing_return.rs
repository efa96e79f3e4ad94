#[rookery::service]
trait Door {
    async fn open(&self);
}

fn main() {}
