use rookery::{Context, Status};

#[rookery::service]
trait Store<T> {
    async fn get(&self, cx: &mut Context, key: String) -> Result<T, Status>;
}

fn main() {}
