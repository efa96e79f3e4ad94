use rookery::Status;

#[rookery::service]
trait Shop {
    type Item;
    const LIMIT: usize;
    async fn buy(&self, id: u64) -> Result<(), Status>;
}

fn main() {}
