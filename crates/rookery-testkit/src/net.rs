use std::{
    io,
    net::{Ipv4Addr, TcpListener},
};

/// A TCP port on `127.0.0.1` that nothing listens on now. Another process may take it
/// before the caller binds it: callers that start a server on it should retry with a new
/// port when the bind fails (as [`EtcdServer`](crate::EtcdServer) does).
pub fn free_port() -> io::Result<u16> {
    Ok(free_ports(1)?[0])
}

/// `n` distinct free ports on `127.0.0.1` (see [`free_port`]).
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    // Hold every listener until all are picked, so the ports differ.
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports = free_ports(3).unwrap();
        assert!(ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2]);
        // Free when picked; another process may take one before the bind (as the docs say),
        // so of a few picked in turn, one must bind.
        let bound =
            (0..5).any(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, free_port().unwrap())).is_ok());
        assert!(bound, "none of five free ports could be bound");
    }
}
