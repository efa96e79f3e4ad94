#[rookery::service]
struct Greeter;

fn main() {}
