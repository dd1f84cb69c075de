//! Only the owner's programs reach the console: a TCP connection from
//! another local user is dropped before a byte is read, as on the agent's
//! socket.
//!
//! Loopback TCP carries no peer credentials, so the connecting socket's
//! owner is looked up in the kernel's socket table (`/proc/net/tcp` and
//! `tcp6`): the entry whose local address is the peer's and whose remote
//! address is ours. No entry, or another uid, and the connection is
//! dropped. This is what keeps a stolen session cookie useless to another
//! user: browsers send a cookie for `127.0.0.1` to every port, so a page
//! served by someone else on this machine could learn it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::serve::Listener;

/// The uid owning the TCP socket at `peer` connected to `local`, from the
/// kernel's tables; `None` when not found.
pub async fn owner_of(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    let table = match peer.ip() {
        IpAddr::V4(_) => "/proc/net/tcp",
        IpAddr::V6(_) => "/proc/net/tcp6",
    };
    // Read off the runtime's threads (a long table takes a moment).
    let text = tokio::fs::read_to_string(table).await.ok()?;
    find_owner(&text, peer, local)
}

/// The uid of the line in a `/proc/net/tcp`-style `text` whose local
/// address is `peer` and remote address `local`.
fn find_owner(text: &str, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            return None;
        }
        (parse_addr(f[1])? == peer && parse_addr(f[2])? == local)
            .then(|| f[7].parse().ok())
            .flatten()
    })
}

/// An address as the kernel prints it: the IP as 32-bit words in the
/// machine's byte order, then the port, all in hex.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |h: &str| u32::from_str_radix(h, 16).ok().map(u32::to_ne_bytes);
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(ip)?)),
        32 => {
            let mut b = [0u8; 16];
            for (i, chunk) in b.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(ip.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// A listener that hands on only connections from this process's uid.
pub struct OwnerOnly {
    inner: tokio::net::TcpListener,
    uid: u32,
}

impl OwnerOnly {
    /// Accept on `inner`, for the current user.
    pub fn new(inner: tokio::net::TcpListener) -> Self {
        OwnerOnly {
            inner,
            uid: nix::unistd::getuid().as_raw(),
        }
    }
}

impl Listener for OwnerOnly {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = Listener::accept(&mut self.inner).await;
            let local = match stream.local_addr() {
                Ok(a) => a,
                Err(_) => continue,
            };
            match owner_of(peer, local).await {
                Some(uid) if uid == self.uid => {
                    let _ = stream.set_nodelay(true);
                    return (stream, peer);
                }
                other => {
                    tracing::warn!(
                        %peer,
                        uid = ?other,
                        "console: dropped a connection from another user"
                    );
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernel_table() {
        // Two ends of one loopback connection, as the kernel prints them
        // (x86: words little-endian).
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n\
   1: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0\n";
        if cfg!(target_endian = "little") {
            let server: SocketAddr = "127.0.0.1:8080".parse().unwrap();
            let client: SocketAddr = "127.0.0.1:54321".parse().unwrap();
            assert_eq!(find_owner(text, client, server), Some(1000));
            assert_eq!(find_owner(text, server, client), Some(0));
            let other: SocketAddr = "127.0.0.1:1".parse().unwrap();
            assert_eq!(find_owner(text, other, server), None);
        }
        assert_eq!(parse_addr("zz"), None);
        assert_eq!(parse_addr("0100007F:zz"), None);
    }

    #[tokio::test]
    async fn finds_its_own_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(server).unwrap();
        let peer = client.local_addr().unwrap();
        let _accepted = listener.accept().unwrap();
        assert!(
            std::path::Path::new("/proc/net/tcp").exists(),
            "the console needs the kernel's socket table"
        );
        assert_eq!(
            owner_of(peer, server).await,
            Some(nix::unistd::getuid().as_raw())
        );
    }
}
