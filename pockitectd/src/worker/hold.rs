//! What a worker holds while a request is its own: the request's claim (its lease), the lock
//! of the project it writes, and the keep-alive task that renews both. One guard, [`Hold`],
//! owns all three, so no path out of the worker forgets one.
//!
//! Release is explicit and async on every normal path: [`Hold::finish`] (the terminal event,
//! atomically with dropping the lease), [`Hold::leave_pending`] (shutdown) and
//! [`Hold::abandon`] (the lease went to another consumer). `Drop` cannot await, so a guard
//! dropped without one of those (a panic, the worker's future dropped) does only what is safe
//! without knowing how far the request got: it stops the keep-alive and cancels the handler,
//! so the lease and lock lapse within one lease and the pending command is reclaimed; only
//! when nothing has run under the guard yet does it also release both at once, in a spawned
//! task. It never publishes anything, so a lost lease can never end a request.

use std::sync::Arc;
use std::time::Duration;

use pockitect_bus::{Claim, Delivery, Lock, Renewal};
use pockitect_proto::audit::AuditEntry;
use pockitect_proto::{Envelope, InFlight, RequestId};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Stop;
use crate::Daemon;

/// How far a [`Hold`] got, which decides what dropping it may release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Ours, and nothing has run under it: safe to release at once.
    Idle,
    /// A handler may be running under it: its lease must lapse rather than be released, or a
    /// second copy could start beside it.
    Running,
    /// Another consumer holds the lease now: neither the claim nor the lock (which belongs to
    /// the request id the new holder shares) is ours to release, and no end is ours to publish.
    Lost,
    /// Released by one of the explicit paths.
    Released,
}

/// A request's claim, its project's lock and their keep-alive; see the module docs.
pub(super) struct Hold {
    daemon: Arc<Daemon>,
    consumer: String,
    delivery_id: String,
    request_id: RequestId,
    /// The project this request has locked, once it has.
    project: Option<String>,
    /// The handler's token: the user's `cancel`, and the worker stopping the request here.
    cancel: CancellationToken,
    keeper: Option<JoinHandle<Stop>>,
    /// Whether the request is listed as in flight (in the daemon's heartbeat).
    in_flight: bool,
    state: State,
}

impl Hold {
    /// Takes the request's lease. None when it is not ours to run: a duplicate of a finished
    /// or running request (acknowledged), a lease not yet lapsed (left pending), or Redis
    /// trouble (left pending, to be reclaimed).
    pub(super) async fn claim(
        daemon: &Arc<Daemon>,
        consumer: &str,
        d: &Delivery,
        request_id: &RequestId,
    ) -> Option<Hold> {
        match daemon
            .bus
            .claim(request_id, consumer, daemon.settings.lease)
            .await
        {
            Ok(Claim::Taken) => Some(Hold {
                daemon: daemon.clone(),
                consumer: consumer.to_owned(),
                delivery_id: d.id.clone(),
                request_id: request_id.clone(),
                project: None,
                cancel: CancellationToken::new(),
                keeper: None,
                in_flight: false,
                state: State::Idle,
            }),
            Ok(Claim::AlreadyDone) => {
                tracing::info!(request_id = %request_id, "duplicate of a finished request; acknowledging");
                let _ = daemon.bus.ack(&d.id).await;
                None
            }
            Ok(Claim::HeldBy(other)) => {
                if d.reclaimed {
                    // The holder's lease has not expired yet: leave it pending; it is either
                    // finished by its holder or reclaimed again later.
                    tracing::debug!(request_id = %request_id, holder = %other, "lease still held; not taking over yet");
                } else {
                    tracing::info!(request_id = %request_id, holder = %other, "duplicate of a running request; acknowledging");
                    let _ = daemon.bus.ack(&d.id).await;
                }
                None
            }
            Err(e) => {
                // Redis trouble: leave the delivery pending; it will be reclaimed.
                tracing::warn!(request_id = %request_id, error = %e, "could not take the lease");
                None
            }
        }
    }

    /// Locks `project` for this request. Err(Some(holder)) when another request holds it;
    /// Err(None) when Redis could not be asked (the command stays pending and is reclaimed).
    pub(super) async fn lock(&mut self, project: &str) -> Result<(), Option<String>> {
        let bus = &self.daemon.bus;
        match bus
            .lock_project(project, &self.request_id, self.daemon.settings.lease)
            .await
        {
            Ok(Lock::Taken) => {
                self.project = Some(project.to_owned());
                Ok(())
            }
            Ok(Lock::HeldBy(holder)) => Err(Some(holder)),
            Err(e) => {
                tracing::warn!(request_id = %self.request_id, error = %e, "could not lock the project");
                Err(None)
            }
        }
    }

    /// Lists the request as in flight and starts keeping the lease and lock alive. Returns the
    /// handler's cancellation token.
    pub(super) fn start(&mut self, in_flight: InFlight) -> CancellationToken {
        self.daemon.begin(in_flight);
        self.in_flight = true;
        self.state = State::Running;
        self.keeper = Some(tokio::spawn(keep_alive(
            self.daemon.clone(),
            self.consumer.clone(),
            self.delivery_id.clone(),
            self.request_id.clone(),
            self.project.clone(),
            self.cancel.clone(),
        )));
        self.cancel.clone()
    }

    /// Resolves when the request must stop here (lease or lock lost, Redis lost its state);
    /// never while all is well. Cancel-safe, for `select!`.
    pub(super) async fn stopped(&mut self) -> Stop {
        let Some(keeper) = self.keeper.as_mut() else {
            return std::future::pending().await;
        };
        let stop = keeper.await.unwrap_or(Stop::KeeperFailed);
        self.keeper = None;
        self.note(&stop);
        stop
    }

    /// Why the keep-alive stopped, if it already has (without waiting).
    pub(super) async fn stopped_meanwhile(&mut self) -> Option<Stop> {
        if self.keeper.as_ref().is_some_and(JoinHandle::is_finished) {
            Some(self.stopped().await)
        } else {
            None
        }
    }

    fn note(&mut self, stop: &Stop) {
        if matches!(stop, Stop::LeaseLost(_)) {
            self.state = State::Lost;
        }
    }

    /// Stops the keep-alive, learning first whether it found the lease lost.
    async fn stop_keeper(&mut self) {
        if self.stopped_meanwhile().await.is_none()
            && let Some(k) = self.keeper.take()
        {
            k.abort();
        }
    }

    /// Ends the request with its terminal event `env`: frees the project, then publishes the
    /// event, records the request as done, drops the lease and acknowledges the command in one
    /// step (retried while Redis is away). Publishes nothing when the lease turned out lost.
    pub(super) async fn finish(
        mut self,
        env: &Envelope,
        is_query: bool,
        audit: Option<&AuditEntry>,
    ) -> bool {
        self.stop_keeper().await;
        if self.state == State::Lost {
            tracing::warn!(request_id = %self.request_id, "lease lost before the end was published: this copy ends without a terminal event");
            return false;
        }
        // The project is free before the terminal event is out: a client that sends its next
        // command on this project as soon as it sees the end (a dry run, then the real thing)
        // must not find it still locked.
        if let Some(p) = &self.project {
            let _ = self.daemon.bus.unlock_project(p, &self.request_id).await;
        }
        let mut delay = Duration::from_millis(200);
        let mut published = false;
        for attempt in 0..10 {
            match self.publish_end(env, is_query, audit).await {
                Ok(p) => {
                    published = p;
                    break;
                }
                Err(e) => {
                    tracing::warn!(request_id = %self.request_id, attempt, error = %e, "could not publish the terminal event; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.state = State::Released;
        if self.in_flight {
            self.in_flight = false;
            self.daemon.end(&self.request_id, true);
        }
        published
    }

    /// Publishes the terminal event. A query's answer goes only to the client that asked (a
    /// reply key); everybody else sees a summary (see `pockitect_bus::Bus::finish_query`).
    async fn publish_end(
        &self,
        env: &Envelope,
        is_query: bool,
        audit: Option<&AuditEntry>,
    ) -> Result<bool, pockitect_bus::BusError> {
        let bus = &self.daemon.bus;
        let delivery = Some(self.delivery_id.as_str());
        if is_query {
            bus.finish_query(env, &self.consumer, delivery).await
        } else {
            bus.finish_audited(env, &self.consumer, delivery, audit)
                .await
        }
    }

    /// Leaves the request pending for another daemon (shutdown). When the handler reached a
    /// safe point the lease and lock are released so whoever reclaims it starts at once;
    /// otherwise (it was aborted mid-step) they lapse on their own.
    pub(super) async fn leave_pending(mut self, at_safe_point: bool) {
        self.stop_keeper().await;
        if at_safe_point && self.state != State::Lost {
            let bus = &self.daemon.bus;
            let _ = bus.release_claim(&self.request_id, &self.consumer).await;
            if let Some(p) = &self.project {
                let _ = bus.unlock_project(p, &self.request_id).await;
            }
        }
        self.state = State::Released;
    }

    /// Lets go of a request whose lease another consumer holds now: it, and only it, ends the
    /// request, with the project lock the request id they share.
    pub(super) fn abandon(mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
        self.state = State::Released;
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(k) = self.keeper.take() {
            k.abort();
        }
        if self.in_flight {
            self.daemon.end(&self.request_id, false);
        }
        // Harmless when the handler already ended; stops it at its next safe point otherwise.
        self.cancel.cancel();
        match self.state {
            State::Running => {
                // The lease and lock, no longer renewed, lapse within one lease and the
                // pending command is reclaimed.
                tracing::warn!(request_id = %self.request_id, "request dropped while running; its lease lapses and it is reclaimed");
            }
            State::Idle => {
                // Nothing ran: release both now rather than make a reclaimer wait a lease.
                // Both releases compare the owner, so a late one can free nobody else's.
                let Ok(rt) = tokio::runtime::Handle::try_current() else {
                    return;
                };
                let bus = self.daemon.bus.clone();
                let (id, consumer, project) = (
                    self.request_id.clone(),
                    self.consumer.clone(),
                    self.project.take(),
                );
                rt.spawn(async move {
                    let _ = bus.release_claim(&id, &consumer).await;
                    if let Some(p) = project {
                        let _ = bus.unlock_project(&p, &id).await;
                    }
                });
            }
            State::Lost | State::Released => {}
        }
    }
}

/// Renews the lease, the stream entry's idle time and the project lock every third of a lease,
/// and turns a `cancel` request into the handler's cancellation. Returns only when the request
/// must stop here: the lease went to another consumer, vanished with Redis's data, or the
/// project lock was lost.
async fn keep_alive(
    daemon: Arc<Daemon>,
    consumer: String,
    delivery_id: String,
    request_id: RequestId,
    project: Option<String>,
    cancel: CancellationToken,
) -> Stop {
    let lease = daemon.settings.lease;
    let every = (lease / 3).max(Duration::from_millis(50));
    let cancel_poll = every.min(Duration::from_millis(500));
    let mut last_renew = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cancel_poll).await;
        if !cancel.is_cancelled()
            && daemon
                .bus
                .is_cancel_requested(&request_id)
                .await
                .unwrap_or(false)
        {
            tracing::info!(request_id = %request_id, "cancel requested");
            cancel.cancel();
        }
        if last_renew.elapsed() < every {
            continue;
        }
        last_renew = tokio::time::Instant::now();
        let bus = &daemon.bus;
        let _ = bus.touch_delivery(&consumer, &delivery_id).await;
        match bus.renew_claim(&request_id, &consumer, lease).await {
            Ok(Renewal::Renewed) => {}
            Ok(Renewal::HeldBy(other)) => return Stop::LeaseLost(other),
            Ok(Renewal::Missing) => {
                if let Some(stop) =
                    lease_vanished(&daemon, &consumer, &delivery_id, &request_id).await
                {
                    return stop;
                }
            }
            Err(e) => {
                // Redis unreachable (restarting, say): keep working and retry; a lease that
                // expires meanwhile is judged when Redis answers again.
                tracing::warn!(request_id = %request_id, error = %e, "could not renew the lease");
            }
        }
        if let Some(p) = &project {
            match bus.renew_project_lock(p, &request_id, lease).await {
                Ok(Renewal::Renewed) => {}
                Ok(Renewal::Missing) => {
                    return Stop::LockLost {
                        project: p.clone(),
                        holder: None,
                    };
                }
                Ok(Renewal::HeldBy(h)) => {
                    return Stop::LockLost {
                        project: p.clone(),
                        holder: Some(h),
                    };
                }
                Err(e) => {
                    tracing::warn!(request_id = %request_id, project = %p, error = %e, "could not renew the project lock")
                }
            }
        }
    }
}

/// The claim key is gone. When the command is still pending with us, Redis kept its data and
/// the lease merely expired (a long Redis outage, a stalled daemon): take it again if nobody
/// else did. When the command is gone too, Redis lost its state. None: carry on.
async fn lease_vanished(
    daemon: &Daemon,
    consumer: &str,
    delivery_id: &str,
    request_id: &RequestId,
) -> Option<Stop> {
    let bus = &daemon.bus;
    match bus.is_pending(delivery_id).await {
        Ok(true) => match bus.claim(request_id, consumer, daemon.settings.lease).await {
            Ok(Claim::Taken) => {
                tracing::warn!(request_id = %request_id, "the lease had expired unrenewed; taken again");
                None
            }
            Ok(Claim::HeldBy(other)) => Some(Stop::LeaseLost(other)),
            // Finished elsewhere meanwhile: that end stands; this copy must not add one.
            Ok(Claim::AlreadyDone) => Some(Stop::LeaseLost("a finished run".to_owned())),
            Err(e) => {
                tracing::warn!(request_id = %request_id, error = %e, "could not take the lease again");
                None
            }
        },
        Ok(false) => {
            tracing::error!(request_id = %request_id, "redis lost this request's state (claim and command gone); stopping it");
            Some(Stop::StateLost)
        }
        Err(e) => {
            tracing::warn!(request_id = %request_id, error = %e, "could not check the command stream");
            None
        }
    }
}
