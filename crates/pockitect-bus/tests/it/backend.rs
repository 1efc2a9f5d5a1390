//! Every test of the bus runs on both kinds of Redis it supports: a standalone server and a
//! three-master Redis Cluster.

use pockitect_testkit::{RedisCluster, RedisServer};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// Makes `standalone` and `cluster` tests, in a module named after it, of each `async fn(&Redis)`
/// given: `name::standalone` runs it on a standalone server of its own, `name::cluster` on the
/// cluster shared by the test process (each test uses a key prefix of its own).
macro_rules! on_each_redis {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn standalone() {
                super::$name(&$crate::backend::Redis::standalone()).await
            }

            #[tokio::test]
            async fn cluster() {
                super::$name(&$crate::backend::Redis::cluster()).await
            }
        }
    )+};
}
pub(crate) use on_each_redis;

/// The Redis a test runs on.
pub enum Redis {
    Standalone(RedisServer),
    Cluster(&'static RedisCluster),
}

impl Redis {
    pub fn standalone() -> Self {
        Self::Standalone(RedisServer::start())
    }

    pub fn cluster() -> Self {
        Self::Cluster(RedisCluster::shared())
    }

    /// The one URL a user would give: the server's, or one node's of the cluster.
    pub fn url(&self) -> &str {
        match self {
            Self::Standalone(r) => r.url(),
            Self::Cluster(c) => c.url(),
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// A plain connection for what a test checks behind the bus's back (TTLs, raw keys):
    /// routed by slot on the cluster, like the bus's own.
    pub async fn raw(&self) -> Raw {
        match self {
            Self::Standalone(r) => Raw::One(
                redis::Client::open(r.url())
                    .unwrap()
                    .get_multiplexed_async_connection()
                    .await
                    .unwrap(),
            ),
            Self::Cluster(c) => Raw::Cluster(
                redis::cluster::ClusterClient::new([c.url()])
                    .unwrap()
                    .get_async_connection()
                    .await
                    .unwrap(),
            ),
        }
    }
}

/// See [`Redis::raw`].
#[derive(Clone)]
pub enum Raw {
    One(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Raw {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Raw::One(c) => c.req_packed_command(cmd),
            Raw::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Raw::One(c) => c.req_packed_commands(pipeline, offset, count),
            Raw::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Raw::One(c) => c.get_db(),
            Raw::Cluster(c) => c.get_db(),
        }
    }
}
