use rookery::{Context, Status};

#[rookery::service]
trait Search {
    async fn find(&self, query: &str) -> Result<Vec<String>, Status>;
    async fn near(&self, point: impl Into<(f64, f64)>) -> Result<Vec<String>, Status>;
    async fn late(&self, limit: u32, cx: &mut Context) -> Result<Vec<String>, Status>;
}

fn main() {}
