use rookery::Status;

#[rookery::service(nme = "greeter")]
trait Greeter {
    async fn hello(&self, name: String) -> Result<String, Status>;
}

#[rookery::service(name = "a:b")]
trait Other {
    async fn hello(&self, name: String) -> Result<String, Status>;
}

fn main() {}
