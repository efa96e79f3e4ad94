//! What users share across tasks is `Send` and `Sync`, and a balanced client's calls are
//! `Send` futures (checked at compile time).

use rookery_balance::{
    Balance, BalancedClient, Endpoint, EndpointSet, InFlight, Picker, Selector, Tried,
};
use rookery_core::{Context, Service};
use rookery_transport::{Client, ThriftRequest};

fn send_sync<T: Send + Sync + 'static>() {}

fn send<T: Send>(_: &T) {}

#[test]
fn shared_types_are_send_and_sync() {
    send_sync::<BalancedClient>();
    send_sync::<Balance>();
    send_sync::<Endpoint>();
    send_sync::<EndpointSet>();
    send_sync::<InFlight>();
    send_sync::<Box<dyn Picker>>();
    send_sync::<Selector<Client>>();
    send_sync::<Tried>();
}

#[allow(dead_code)]
fn calls_are_send(client: &BalancedClient, cx: &mut Context, req: ThriftRequest) {
    send(&client.call(cx, req));
}
