use rookery::Status;

#[rookery::service]
trait Log {
    #[oneway]
    async fn write(&self, line: String) -> Result<(), Status>;
}

fn main() {}
