use rookery::Status;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
enum ShopError {
    SoldOut,
}

struct Receipt;

#[rookery::service]
trait Shop {
    // Not a Result.
    async fn price(&self, id: u64) -> u64;
    // A user error not wrapped in MethodError.
    async fn buy(&self, id: u64) -> Result<(), ShopError>;
    // A value that cannot travel.
    async fn receipt(&self, id: u64) -> Result<Receipt, Status>;
}

fn main() {}
