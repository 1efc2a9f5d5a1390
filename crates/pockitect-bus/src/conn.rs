//! One connection type over a standalone Redis or a Redis Cluster, found from the one URL the
//! user gives: the rest of the bus sends its commands the same way to either. On a cluster every
//! command goes to the node that serves its key's slot (the bus's keys all share one, see
//! [`crate::Keys`]), following MOVED and ASK redirections when slots move.

use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

/// How long to wait for a TCP (and TLS) connection to a node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long to wait for an answer on the shared connection. Scan chunks can be megabytes;
/// leave room for a slow Redis.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts of a command that failed for want of a connection, and the longest pause between.
const RETRIES: u32 = 3;
const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);

/// A connection to a standalone Redis or to a cluster.
#[derive(Clone)]
pub(crate) enum Conn {
    /// Standalone, shared by every small command: reconnects by itself.
    Managed(ConnectionManager),
    /// Standalone, a blocking reader's own (no response timeout).
    Dedicated(MultiplexedConnection),
    /// A cluster: a connection to each node, commands routed by slot. Cloning shares it.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Managed(c) => c.req_packed_command(cmd),
            Conn::Dedicated(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Managed(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Dedicated(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Managed(c) => c.get_db(),
            Conn::Dedicated(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Where the bus connects, once it knows what kind of Redis is there.
pub(crate) struct Endpoint {
    /// The node the URL names: every connection on a standalone Redis, and pub/sub on a cluster
    /// too (a PUBLISH on any node of a cluster reaches the subscribers of every node).
    client: redis::Client,
    /// On a cluster, the client a blocking reader connects with: no response timeout, since a
    /// blocking read waits as long as it was told to.
    blocking_cluster: Option<ClusterClient>,
}

impl Endpoint {
    /// Connects to the Redis at `url`, telling a cluster from a standalone server by asking the
    /// node, and returns the shared connection to use.
    pub(crate) async fn connect(url: &str) -> Result<(Self, Conn), RedisError> {
        crate::ensure_tls_provider();
        let client = redis::Client::open(url)?;
        if !is_cluster(&client).await? {
            let cfg = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_number_of_retries(RETRIES as usize)
                .set_max_delay(MAX_RETRY_WAIT);
            let conn = client.get_connection_manager_with_config(cfg).await?;
            let endpoint = Self {
                client,
                blocking_cluster: None,
            };
            return Ok((endpoint, Conn::Managed(conn)));
        }
        // The URL is the one node the cluster client starts from; it learns the others (with
        // CLUSTER SLOTS) and takes the password and TLS (rediss://) from this URL for them all.
        let shared = cluster_client(url, Some(RESPONSE_TIMEOUT))?;
        let conn = shared.get_async_connection().await?;
        let endpoint = Self {
            client,
            blocking_cluster: Some(cluster_client(url, None)?),
        };
        Ok((endpoint, Conn::Cluster(conn)))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        self.blocking_cluster.is_some()
    }

    /// A connection of its own with no response timeout, for blocking reads: a blocking read
    /// on a shared connection would stall every other command behind it. On a cluster that is
    /// a cluster connection of its own (connections to every node).
    pub(crate) async fn dedicated(&self) -> Result<Conn, RedisError> {
        match &self.blocking_cluster {
            Some(cluster) => Ok(Conn::Cluster(cluster.get_async_connection().await?)),
            None => {
                let cfg = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(None);
                Ok(Conn::Dedicated(
                    self.client
                        .get_multiplexed_async_connection_with_config(&cfg)
                        .await?,
                ))
            }
        }
    }

    /// A pub/sub connection to the node the URL names.
    pub(crate) async fn pubsub(&self) -> Result<redis::aio::PubSub, RedisError> {
        self.client.get_async_pubsub().await
    }
}

/// A cluster client starting from `url`, with `response_timeout` per command (None: wait as
/// long as the command does).
fn cluster_client(
    url: &str,
    response_timeout: Option<Duration>,
) -> Result<ClusterClient, RedisError> {
    let mut builder = ClusterClient::builder([url])
        .connection_timeout(CONNECT_TIMEOUT)
        .retries(RETRIES)
        .min_retry_wait(100)
        .max_retry_wait(u64::try_from(MAX_RETRY_WAIT.as_millis()).unwrap_or(u64::MAX));
    if let Some(t) = response_timeout {
        builder = builder.response_timeout(t);
    }
    builder.build()
}

/// True when the node at `client` is part of a Redis Cluster. `HELLO` (without arguments: it
/// changes nothing) says so in its `mode` field, and is allowed to every user (ACL category
/// `@connection`), where `INFO` is `@dangerous`; `INFO cluster` is the fallback for a server
/// without `HELLO`. A server that refuses both is taken for a standalone one: a cluster would
/// answer its first keyed command with MOVED, which names the problem.
async fn is_cluster(client: &redis::Client) -> Result<bool, RedisError> {
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(CONNECT_TIMEOUT));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?;
    match redis::cmd("HELLO").query_async::<Value>(&mut conn).await {
        Ok(hello) => {
            if let Some(mode) = hello_mode(&hello) {
                return Ok(mode == "cluster");
            }
        }
        Err(e) if is_refusal(&e) => {}
        Err(e) => return Err(e),
    }
    match redis::cmd("INFO")
        .arg("cluster")
        .query_async::<String>(&mut conn)
        .await
    {
        Ok(info) => Ok(info.lines().any(|l| l.trim() == "cluster_enabled:1")),
        Err(e) if is_refusal(&e) => {
            tracing::debug!(error = %e, "neither HELLO nor INFO allowed: taking redis for a standalone server");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// An error the server answered with (unknown command, no permission), as opposed to a lost
/// connection.
fn is_refusal(e: &RedisError) -> bool {
    e.code().is_some()
}

/// The `mode` field of a `HELLO` reply: a map in RESP3, a flat list of names and values in RESP2.
fn hello_mode(reply: &Value) -> Option<String> {
    let text = |v: &Value| match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) | Value::VerbatimString { text: s, .. } => Some(s.clone()),
        _ => None,
    };
    match reply {
        Value::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| text(k).as_deref() == Some("mode"))
            .and_then(|(_, v)| text(v)),
        Value::Array(items) => items
            .chunks(2)
            .find(|pair| text(&pair[0]).as_deref() == Some("mode"))
            .and_then(|pair| pair.get(1).and_then(text)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn the_mode_is_read_from_either_protocols_hello() {
        let resp2 = Value::Array(vec![
            bulk("server"),
            bulk("redis"),
            bulk("proto"),
            Value::Int(2),
            bulk("mode"),
            bulk("cluster"),
            bulk("modules"),
            Value::Array(vec![]),
        ]);
        assert_eq!(hello_mode(&resp2).as_deref(), Some("cluster"));
        let resp3 = Value::Map(vec![
            (bulk("server"), bulk("valkey")),
            (bulk("mode"), bulk("standalone")),
        ]);
        assert_eq!(hello_mode(&resp3).as_deref(), Some("standalone"));
        assert_eq!(hello_mode(&Value::Array(vec![bulk("server")])), None);
        assert_eq!(hello_mode(&Value::Nil), None);
    }

    /// The cluster clients take TLS (and the password) from the one URL, and the blocking
    /// readers' client waits as long as a read blocks. Read from the client's own description:
    /// no TLS handshake can succeed in a test, as the bus trusts only certificates that chain
    /// to a public CA.
    #[test]
    fn the_cluster_clients_take_tls_from_the_url_and_the_blocking_one_never_times_out() {
        let url = "rediss://:hunter2@node1.example:6380";
        let shared = format!("{:?}", cluster_client(url, Some(RESPONSE_TIMEOUT)).unwrap());
        assert!(shared.contains("tls: Some(Secure)"), "{shared}");
        assert!(shared.contains("response_timeout: Some(30s)"), "{shared}");
        assert!(!shared.contains("hunter2"), "{shared}");
        let blocking = format!("{:?}", cluster_client(url, None).unwrap());
        assert!(blocking.contains("tls: Some(Secure)"), "{blocking}");
        assert!(blocking.contains(" response_timeout: None"), "{blocking}");
        assert!(
            blocking.contains("overall_response_timeout: None"),
            "{blocking}"
        );
        let plain = format!(
            "{:?}",
            cluster_client("redis://node1.example:6379", None).unwrap()
        );
        assert!(plain.contains("tls: None"), "{plain}");
    }
}
