//! The daemon driven in-process through `run`, against a real redis-server and moto_server.

mod robustness;
mod watcher;

use std::time::Duration;

use pockitect_bus::{Bus, BusConfig};
use pockitect_testkit::{MotoServer, RedisServer, unique};
use pockitectd::Settings;
use tokio_util::sync::CancellationToken;

pub struct Harness {
    pub redis: RedisServer,
    pub _moto: MotoServer,
    pub bus: Bus,
    pub token: CancellationToken,
    pub handle: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start(workers: usize) -> Self {
        let redis = RedisServer::start();
        let moto = MotoServer::start();
        let dir = tempfile::tempdir().unwrap();
        let prefix = unique("t");
        let mut s = Settings::defaults();
        s.redis_url = redis.url().to_owned();
        s.prefix = prefix.clone();
        s.workers = workers;
        s.projects_dir = dir.path().join("projects");
        s.cache_dir = dir.path().join("cache");
        s.aws_endpoint_url = Some(moto.endpoint().to_owned());
        s.aws_home_region = Some("us-east-1".into());
        s.aws_static_credentials = Some(pockitect_aws::StaticCredentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
        });
        s.lease = Duration::from_secs(3);
        s.heartbeat = Duration::from_millis(300);
        s.grace = Duration::from_secs(2);
        s.log_dir = None;
        s.daemon_id = unique("d");
        let token = CancellationToken::new();
        let handle = tokio::spawn(pockitectd::run(s, token.clone()));
        let bus = Bus::connect(BusConfig::new(redis.url(), prefix))
            .await
            .unwrap();
        pockitect_testkit::eventually("the daemon's heartbeat", Duration::from_secs(20), || {
            let bus = bus.clone();
            async move { (!bus.daemons().await.ok()?.is_empty()).then_some(()) }
        })
        .await;
        Self {
            redis,
            _moto: moto,
            bus,
            token,
            handle,
            _dir: dir,
        }
    }
}
