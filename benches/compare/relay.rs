//! A TCP relay in front of each host that delays every byte by half a round
//! trip in each direction: loopback's ~0 RTT becomes a fleet's 20 or 80 ms.
//!
//! Each relay listens on its host's own address at another port and copies
//! both ways without limiting bandwidth: what it reads is stamped and
//! written once its time has come, so a large upload is delayed, not
//! slowed. The delay can change between runs (new connections see it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

pub struct Relays {
    /// Port of the relay in front of each host, in the order given.
    pub ports: Vec<u16>,
    /// Delay each way, in microseconds.
    delay: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl Relays {
    /// One relay per `(address, port)` of a host.
    pub fn start(hosts: &[(String, u16)]) -> Relays {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("relay runtime");
        let delay = Arc::new(AtomicU64::new(0));
        let ports = hosts
            .iter()
            .map(|(address, port)| {
                let upstream: SocketAddr = format!("{address}:{port}").parse().expect("address");
                let listener = runtime
                    .block_on(TcpListener::bind((address.as_str(), 0)))
                    .expect("bind a relay");
                let own = listener.local_addr().expect("relay address").port();
                runtime.spawn(serve(listener, upstream, delay.clone()));
                own
            })
            .collect();
        Relays {
            ports,
            delay,
            _runtime: runtime,
        }
    }

    pub fn set_rtt(&self, rtt: Duration) {
        self.delay
            .store(rtt.as_micros() as u64 / 2, Ordering::Relaxed);
    }
}

async fn serve(listener: TcpListener, upstream: SocketAddr, delay: Arc<AtomicU64>) {
    while let Ok((client, _)) = listener.accept().await {
        let delay = delay.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let wait = Duration::from_micros(delay.load(Ordering::Relaxed));
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                pipe(client_read, server_write, wait),
                pipe(server_read, client_write, wait)
            );
        });
    }
}

/// Copies `from` to `to`, each chunk `wait` after it was read.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    wait: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = tx.send((Instant::now() + wait, None));
                    break;
                }
                Ok(n) => {
                    if tx
                        .send((Instant::now() + wait, Some(buf[..n].to_vec())))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            match chunk {
                Some(bytes) => {
                    if to.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                None => {
                    let _ = to.shutdown().await;
                    break;
                }
            }
        }
    };
    tokio::join!(reader, writer);
}
