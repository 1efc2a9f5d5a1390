//! A proxy that answers like a distant AWS without the emulator's own speed in the way: every
//! HTTP request pays a fixed delay, and a request it has seen before (same method, path,
//! signing key id, region, service, target and body) is answered from its cache instead of
//! the emulator. Benchmarks use it to time the daemons alone: moto answers only about a hundred
//! calls a second on a small machine, far fewer than a scan of many accounts makes.
//!
//! One request per connection (it asks the emulator to close, and closes after answering):
//! simple, and the clients reconnect on loopback at no cost worth measuring.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

type Cache = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

/// See the module docs. Dropping it stops the listener.
#[derive(Debug)]
pub struct ReplayProxy {
    endpoint: String,
    requests: Arc<AtomicUsize>,
    forwarded: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ReplayProxy {
    pub fn start(target_endpoint: &str, delay: Duration) -> Self {
        let target = target_endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let requests = Arc::new(AtomicUsize::new(0));
        let forwarded = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (req, fwd) = (requests.clone(), forwarded.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = ready_tx.send(listener.local_addr().expect("addr"));
                let cache: Cache = Arc::default();
                let serve = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        let (target, cache, req, fwd) =
                            (target.clone(), cache.clone(), req.clone(), fwd.clone());
                        tokio::spawn(async move {
                            let _ = one(client, &target, delay, &cache, &req, &fwd).await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = rx => {}
                }
            });
        });
        let addr = ready_rx.recv().expect("proxy started");
        Self {
            endpoint: format!("http://{addr}"),
            requests,
            forwarded,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests that went to the emulator (the others came from the cache).
    pub fn forwarded(&self) -> usize {
        self.forwarded.load(Ordering::Relaxed)
    }
}

impl Drop for ReplayProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request, waits the delay, answers it from the cache or the emulator, closes.
async fn one(
    mut client: TcpStream,
    target: &str,
    delay: Duration,
    cache: &Cache,
    requests: &AtomicUsize,
    forwarded: &AtomicUsize,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = &buf[head_end..buf.len().min(head_end + length)];
    // The signing scope without its date: key id, region, service.
    let scope = header("authorization")
        .and_then(|a| {
            let c = a.split("Credential=").nth(1)?.split(',').next()?.to_owned();
            let parts: Vec<&str> = c.split('/').collect();
            Some(format!(
                "{}/{}/{}",
                parts.first()?,
                parts.get(2)?,
                parts.get(3)?
            ))
        })
        .unwrap_or_default();
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut key = format!(
        "{request_line}\n{scope}\n{}\n",
        header("x-amz-target").unwrap_or_default()
    )
    .into_bytes();
    key.extend_from_slice(body);

    requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(delay).await;
    let cached = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned();
    let answer = match cached {
        Some(a) => a,
        None => {
            forwarded.fetch_add(1, Ordering::Relaxed);
            // The same request, asking the emulator to close after answering.
            let mut out: Vec<u8> = Vec::with_capacity(buf.len() + 20);
            for line in head[..head_end - 2].split_inclusive("\r\n") {
                if !line.to_ascii_lowercase().starts_with("connection:") {
                    out.extend_from_slice(line.as_bytes());
                }
            }
            out.extend_from_slice(b"Connection: close\r\n\r\n");
            out.extend_from_slice(body);
            let mut upstream = TcpStream::connect(target).await?;
            upstream.write_all(&out).await?;
            let mut answer = Vec::new();
            upstream.read_to_end(&mut answer).await?;
            // Errors (throttling, a missing resource) are passed on but not kept.
            if answer.starts_with(b"HTTP/1.1 200") || answer.starts_with(b"HTTP/1.0 200") {
                cache
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key, answer.clone());
            }
            answer
        }
    };
    client.write_all(&answer).await?;
    client.shutdown().await
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;
    use crate::MotoServer;

    fn post(endpoint: &str, body: &str) -> String {
        let addr = endpoint.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn a_call_seen_before_is_answered_from_the_cache_and_others_reach_the_emulator() {
        let moto = MotoServer::start();
        let proxy = ReplayProxy::start(moto.endpoint(), Duration::from_millis(10));
        let regions = "Action=DescribeRegions&Version=2016-11-15";
        let first = post(&proxy.endpoint(), regions);
        assert!(first.starts_with("HTTP/1.1 200"), "{first}");
        assert!(first.contains("eu-west-1"), "{first}");
        let again = post(&proxy.endpoint(), regions);
        assert_eq!(again, first, "replayed byte for byte");
        assert_eq!((proxy.requests(), proxy.forwarded()), (2, 1));
        let vpcs = post(&proxy.endpoint(), "Action=DescribeVpcs&Version=2016-11-15");
        assert!(vpcs.contains("DescribeVpcsResponse"), "{vpcs}");
        assert_eq!((proxy.requests(), proxy.forwarded()), (3, 2));
    }
}
