//! The background task that delivers due events, retries failures and dead-letters the
//! hopeless ones.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use brume_storage::{Direction, Kv, StorageError, Txn};
use rand::Rng;
use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use crate::event::{self, EVENTS_KEYSPACE, Event};

/// Where the dispatcher reads the time, so tests can run on tokio's paused clock.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

/// Why a delivery failed, which decides what happens to the event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (the target is unavailable, throttled, timed out).
    #[error("{0}")]
    Retryable(String),
    /// Will never succeed (the target no longer exists, the payload is refused): the event
    /// goes straight to the dead-letter handler.
    #[error("{0}")]
    Permanent(String),
}

/// Delivers events of one target. Also the shape of the dead-letter hook, which receives
/// the event with its attempt count and last error.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError>;
}

#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    /// The delay before the first retry; each further retry doubles it.
    pub base_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
    /// Due events delivered concurrently in one pass.
    pub batch_size: usize,
    /// How long to wait before trying again when the store itself fails.
    pub error_pause: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            batch_size: 64,
            error_pause: Duration::from_secs(1),
        }
    }
}

impl DispatcherConfig {
    /// The delay after the `attempts`-th failure: `base × 2^(attempts-1)`, capped, with
    /// "equal jitter" (a random point in its upper half) so that events that failed
    /// together do not all retry together. Never zero, so a failing event cannot spin.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        let full = self.base_delay.saturating_mul(1u32 << doublings).min(self.max_delay).as_millis() as u64;
        let half = full / 2;
        Duration::from_millis((full - half + rand::rng().random_range(0..=half)).max(1))
    }
}

/// The handle services use: register handlers, wake the dispatcher after enqueuing, stop it.
/// Cloning it is cheap; one dispatcher runs per store (two would deliver twice).
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    kv: Arc<dyn Kv>,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
    handlers: RwLock<HashMap<String, Arc<dyn Handler>>>,
    dead_letter: RwLock<Option<Arc<dyn Handler>>>,
    wake: Notify,
    stopping: AtomicBool,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts the dispatcher on the current tokio runtime. Events already pending (from
    /// before a restart) are delivered as soon as their target has a handler.
    pub fn start(kv: Arc<dyn Kv>, config: DispatcherConfig, clock: Arc<dyn Clock>) -> Self {
        let dispatcher = Dispatcher::new(kv, config, clock);
        dispatcher.run();
        dispatcher
    }

    /// A dispatcher that delivers nothing until [`Dispatcher::run`]: register the
    /// handlers first, so that events pending from before a restart find theirs on the
    /// first pass instead of waiting out the longest back-off.
    pub fn new(kv: Arc<dyn Kv>, config: DispatcherConfig, clock: Arc<dyn Clock>) -> Self {
        let inner = Arc::new(Inner {
            kv,
            clock,
            config,
            handlers: RwLock::default(),
            dead_letter: RwLock::default(),
            wake: Notify::new(),
            stopping: AtomicBool::new(false),
            task: Mutex::new(None),
        });
        Dispatcher { inner }
    }

    /// Starts delivering on the current tokio runtime (once; later calls do nothing).
    pub fn run(&self) {
        let mut task = lock(&self.inner.task);
        if task.is_none() && !self.inner.stopping.load(Ordering::SeqCst) {
            *task = Some(tokio::spawn(Arc::clone(&self.inner).run()));
        }
    }

    /// Routes events whose `target` is `target` to `handler` (replacing any previous one).
    pub fn register(&self, target: &str, handler: Arc<dyn Handler>) {
        self.inner.handlers.write().unwrap_or_else(|p| p.into_inner()).insert(target.to_string(), handler);
        self.notify();
    }

    /// Receives every event that failed permanently or ran out of attempts, just before it
    /// is removed. Without one, such events are logged and dropped.
    pub fn set_dead_letter(&self, handler: Arc<dyn Handler>) {
        *self.inner.dead_letter.write().unwrap_or_else(|p| p.into_inner()) = Some(handler);
    }

    /// Wakes the dispatcher: call after committing a transaction that enqueued events.
    pub fn notify(&self) {
        self.inner.wake.notify_one();
    }

    /// The dispatcher's clock, for [`Event::new`].
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// Stops after the deliveries in progress are settled; undelivered events stay stored.
    pub async fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.wake.notify_one();
        let task = lock(&self.inner.task).take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "event dispatcher task failed");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What settling one event does to the outbox.
enum Settled {
    /// Delivered, dead-lettered or undecodable: gone.
    Remove(Vec<u8>),
    /// To be tried again at its new due time.
    Reschedule(Vec<u8>, Event),
}

impl Inner {
    async fn run(self: Arc<Self>) {
        if let Err(e) = self.adopt_earlier_layout().await {
            tracing::error!(error = %e, "event dispatcher cannot move events of the earlier outbox layout");
        }
        // The last ready-queue key settled: later passes read the ready queue after it.
        let mut cursor = None;
        while !self.stopping.load(Ordering::SeqCst) {
            let wait = match self.pass(&mut cursor).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "event dispatcher cannot read or update the outbox");
                    Some(self.config.error_pause)
                }
            };
            // `Notify` keeps a permit when nobody waits, so a `notify` that raced with the
            // pass still wakes this wait at once.
            match wait {
                Some(Duration::ZERO) => {}
                Some(delay) => {
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }

    /// Re-queues, in the current layout, the events a data directory kept under the earlier
    /// `(due time, id)` keys, so that none is stranded by the change of layout.
    async fn adopt_earlier_layout(&self) -> Result<(), StorageError> {
        loop {
            let found = self.kv.scan(EVENTS_KEYSPACE, &event::earlier_layout(), Direction::Forward, 256)?;
            if found.is_empty() {
                return Ok(());
            }
            self.kv
                .transact(move |txn: &mut dyn Txn| {
                    found.iter().try_for_each(|(key, value)| {
                        txn.delete(EVENTS_KEYSPACE, key)?;
                        match event::decode(value) {
                            Ok(event) => event::enqueue(txn, &event),
                            Err(e) => {
                                tracing::error!(error = %e, "dropping an undecodable outbox record");
                                Ok(())
                            }
                        }
                    })
                })
                .await?;
        }
    }

    fn handler(&self, target: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.read().unwrap_or_else(|p| p.into_inner()).get(target).cloned()
    }

    /// Delivers one batch of due events and settles them in one transaction, or, when none
    /// is due, says how long to sleep (`None`: until notified, nothing is scheduled).
    async fn pass(&self, cursor: &mut Option<Vec<u8>>) -> Result<Option<Duration>, StorageError> {
        let now = self.clock.now_ms();
        let batch = self.config.batch_size;
        let mut due =
            self.kv.scan(EVENTS_KEYSPACE, &event::ready_after(cursor.as_deref()), Direction::Forward, batch)?;
        let last_ready = due.last().map(|(key, _)| key.clone());
        if due.len() < batch {
            due.extend(self.kv.scan(
                EVENTS_KEYSPACE,
                &event::scheduled_until(now),
                Direction::Forward,
                batch - due.len(),
            )?);
        }
        if due.is_empty() {
            let first = self.kv.scan(EVENTS_KEYSPACE, &event::scheduled_until(u64::MAX), Direction::Forward, 1)?;
            return Ok(first
                .first()
                .and_then(|(key, _)| event::due_of(key))
                .map(|due| Duration::from_millis(due.saturating_sub(now).max(1))));
        }
        let mut settled = Vec::with_capacity(due.len());
        let mut deliveries = JoinSet::new();
        let mut in_flight = HashMap::new();
        for (key, value) in due {
            let mut event = match event::decode(&value) {
                Ok(event) => event,
                Err(e) => {
                    tracing::error!(error = %e, "dropping an undecodable outbox record");
                    settled.push(Settled::Remove(key));
                    continue;
                }
            };
            let Some(handler) = self.handler(&event.target) else {
                // No service delivers to this target yet: the event stays pending, looked
                // at again after the longest back-off, and loses no attempt.
                event.due_ms = now.saturating_add(self.config.max_delay.as_millis() as u64);
                settled.push(Settled::Reschedule(key, event));
                continue;
            };
            let delivered = event.clone();
            let task = deliveries.spawn(async move { handler.deliver(&delivered).await });
            in_flight.insert(task.id(), (key, event));
        }
        while let Some(joined) = deliveries.join_next_with_id().await {
            let (id, outcome) = match joined {
                Ok((id, outcome)) => (id, outcome),
                Err(e) => (e.id(), Err(DeliveryError::Retryable(format!("delivery handler failed: {e}")))),
            };
            if let Some((key, event)) = in_flight.remove(&id) {
                settled.push(self.settle(key, event, outcome).await);
            }
        }
        self.kv
            .transact(move |txn: &mut dyn Txn| {
                settled.iter().try_for_each(|s| match s {
                    Settled::Remove(key) => txn.delete(EVENTS_KEYSPACE, key),
                    Settled::Reschedule(key, event) => {
                        txn.delete(EVENTS_KEYSPACE, key)?;
                        event::enqueue(txn, event)
                    }
                })
            })
            .await?;
        if last_ready.is_some() {
            *cursor = last_ready;
        }
        // Rescan at once: more may be due.
        Ok(Some(Duration::ZERO))
    }

    /// What becomes of a delivered event: removed, or rescheduled after a back-off; the
    /// hopeless ones go to the dead-letter handler first.
    async fn settle(&self, key: Vec<u8>, mut event: Event, outcome: Result<(), DeliveryError>) -> Settled {
        let error = match outcome {
            Ok(()) => return Settled::Remove(key),
            Err(error) => error,
        };
        event.attempts += 1;
        event.last_error = Some(error.to_string());
        let permanent = matches!(error, DeliveryError::Permanent(_));
        if permanent || event.attempts >= event.max_attempts {
            self.dead_letter(&event).await;
            return Settled::Remove(key);
        }
        tracing::debug!(id = %event.id, target = %event.target, attempts = event.attempts, %error, "event delivery failed; will retry");
        event.due_ms = self.clock.now_ms().saturating_add(self.config.backoff(event.attempts).as_millis() as u64);
        Settled::Reschedule(key, event)
    }

    async fn dead_letter(&self, event: &Event) {
        let handler = self.dead_letter.read().unwrap_or_else(|p| p.into_inner()).clone();
        let outcome = match handler {
            Some(handler) => handler.deliver(event).await,
            None => Err(DeliveryError::Permanent("no dead-letter handler".into())),
        };
        // Keeping an event the dead-letter hook refuses would retry it forever.
        if let Err(e) = outcome {
            tracing::warn!(id = %event.id, target = %event.target, kind = %event.kind, last_error = ?event.last_error, error = %e, "dropping an undeliverable event");
        }
    }
}

#[cfg(test)]
mod tests;
