use rookery::Status;

#[rookery::service]
trait Greeter {
    async fn hello(&self, name: String) -> Result<String, Status> {
        Ok(format!("hello, {name}"))
    }
}

fn main() {}
