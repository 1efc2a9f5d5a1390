//! A TCP forwarder that makes a fast emulator answer like a distant service: every HTTP request
//! pays a fixed delay before it reaches the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Forwards TCP from a loopback port to `target`, holding every client→server write for
/// `delay` first: each HTTP request (one write from the SDK; bytes of the same request that
/// arrive during the wait go with it) pays the delay once, answers flow back at once.
///
/// It runs on its own thread with its own tokio runtime, so sync tests, async tests and
/// benches can all use it. Dropping it stops the listener and cuts every open connection.
///
/// ```no_run
/// # use std::time::Duration;
/// # use pockitect_testkit::{DelayProxy, MotoServer};
/// let moto = MotoServer::start();
/// let slow = DelayProxy::start(moto.endpoint(), Duration::from_millis(150));
/// // give `slow.endpoint()` to the AWS clients; `slow.requests()` counts the calls.
/// ```
#[derive(Debug)]
pub struct DelayProxy {
    endpoint: String,
    requests: Arc<AtomicUsize>,
    arrived: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DelayProxy {
    /// Starts forwarding to `target_endpoint` (`http://host:port`, or `host:port`) with `delay`
    /// added to every request. Panics when it cannot bind a loopback port (a broken test host).
    pub fn start(target_endpoint: &str, delay: Duration) -> Self {
        let target = host_port(target_endpoint);
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .expect("the loopback interface must be available to tests");
        let addr: SocketAddr = listener.local_addr().expect("the proxy's bound address");
        let requests = Arc::new(AtomicUsize::new(0));
        let arrived = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = oneshot::channel::<()>();
        let counters = (requests.clone(), arrived.clone());
        let thread = std::thread::Builder::new()
            .name(format!("delay-proxy-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime for the proxy");
                rt.block_on(async move {
                    let listener =
                        TcpListener::from_std(listener).expect("a tokio listener for the proxy");
                    tokio::select! {
                        _ = stopped => {}
                        () = accept_loop(listener, target, delay, counters) => {}
                    }
                });
                // Dropping the runtime drops every connection task: open sockets close.
            })
            .expect("spawn the proxy thread");
        Self {
            endpoint: format!("http://{addr}"),
            requests,
            arrived,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The URL to give clients instead of the target's (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Client→server writes forwarded so far (with an HTTP client: requests, i.e. AWS calls).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Client→server writes that reached the proxy so far, including those still held for
    /// the delay: lets a test act while a call is known to be in the air.
    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `http://127.0.0.1:5000/` → `127.0.0.1:5000`.
fn host_port(endpoint: &str) -> String {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(endpoint);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

async fn accept_loop(
    listener: TcpListener,
    target: String,
    delay: Duration,
    (requests, arrived): (Arc<AtomicUsize>, Arc<AtomicUsize>),
) {
    while let Ok((client, _)) = listener.accept().await {
        let target = target.clone();
        let requests = requests.clone();
        let arrived = arrived.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(&target).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let up = async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Some(n) = read_delayed(&cr, &mut buf, delay, &arrived).await {
                    requests.fetch_add(1, Ordering::SeqCst);
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = sw.shutdown().await;
            };
            let down = async move {
                let _ = tokio::io::copy(&mut sr, &mut cw).await;
                let _ = cw.shutdown().await;
            };
            tokio::join!(up, down);
        });
    }
}

/// Waits for the next bytes from the client, holds them for `delay`, then takes whatever else
/// arrived meanwhile (the rest of the same request), so a request split over several segments
/// pays the delay once. None at end of stream or on error.
async fn read_delayed(
    reader: &OwnedReadHalf,
    buf: &mut Vec<u8>,
    delay: Duration,
    arrived: &AtomicUsize,
) -> Option<usize> {
    let mut n = loop {
        reader.readable().await.ok()?;
        match reader.try_read(buf) {
            Ok(0) => return None,
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return None,
        }
    };
    arrived.fetch_add(1, Ordering::SeqCst);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    loop {
        if n == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match reader.try_read(&mut buf[n..]) {
            Ok(0) => break, // end of stream: forward what we have; the next read sees it again
            Ok(m) => n += m,
            Err(_) => break, // WouldBlock: nothing more for now (errors show on the next read)
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Instant;

    use super::*;

    /// A one-connection echo server: replies with what it read, until the client closes.
    fn echo_server() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        format!("http://{addr}/")
    }

    #[test]
    fn every_write_pays_the_delay_once_and_is_counted() {
        let proxy = DelayProxy::start(&echo_server(), Duration::from_millis(100));
        let addr = proxy.endpoint().trim_start_matches("http://").to_owned();
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        for round in 1..=2 {
            let started = Instant::now();
            c.write_all(b"ping").unwrap();
            let mut reply = [0u8; 4];
            c.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"ping");
            assert!(started.elapsed() >= Duration::from_millis(100));
            assert_eq!(proxy.requests(), round);
            assert_eq!(proxy.arrived(), round);
        }
        drop(proxy);
        // Dropped: open connections are cut.
        let mut rest = Vec::new();
        assert!(matches!(c.read_to_end(&mut rest), Ok(0) | Err(_)));
    }
}
