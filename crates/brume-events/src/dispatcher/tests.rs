//! Dispatcher behaviour on tokio's paused clock: sleeps end as soon as nothing else can
//! run, so back-off schedules of minutes take no real time.

use std::sync::atomic::AtomicU32;

use brume_storage::{Durability, KeyRange, Storage};
use serde_json::json;
use tokio::sync::mpsc;

use super::*;
use crate::enqueue;

/// Time as tokio sees it (paused in these tests), from an arbitrary epoch.
struct TokioClock(tokio::time::Instant);

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        1_000_000 + self.0.elapsed().as_millis() as u64
    }
}

/// Reports every delivery (with the time it happened) and answers with `failure`, if any,
/// for the first `failures` attempts.
struct Recorder {
    seen: mpsc::UnboundedSender<(Event, u64)>,
    clock: Arc<dyn Clock>,
    failure: Option<DeliveryError>,
    failures: u32,
    calls: AtomicU32,
}

#[async_trait]
impl Handler for Recorder {
    async fn deliver(&self, event: &Event) -> Result<(), DeliveryError> {
        let _ = self.seen.send((event.clone(), self.clock.now_ms()));
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.failure {
            Some(failure) if call < self.failures => Err(failure.clone()),
            _ => Ok(()),
        }
    }
}

fn recorder(
    clock: &Arc<dyn Clock>,
    failure: Option<DeliveryError>,
    failures: u32,
) -> (Arc<Recorder>, mpsc::UnboundedReceiver<(Event, u64)>) {
    let (seen, rx) = mpsc::unbounded_channel();
    (Arc::new(Recorder { seen, clock: Arc::clone(clock), failure, failures, calls: AtomicU32::new(0) }), rx)
}

fn config() -> DispatcherConfig {
    DispatcherConfig {
        base_delay: Duration::from_secs(2),
        max_delay: Duration::from_secs(60),
        batch_size: 4,
        error_pause: Duration::from_secs(1),
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock(tokio::time::Instant::now()))
}

async fn enqueue_all(kv: &Arc<dyn Kv>, events: Vec<Event>) {
    kv.transact(move |txn: &mut dyn Txn| events.iter().try_for_each(|e| enqueue(txn, e))).await.unwrap();
}

fn pending(kv: &Arc<dyn Kv>) -> usize {
    kv.scan(EVENTS_KEYSPACE, &KeyRange::all(), Direction::Forward, usize::MAX).unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn each_event_is_delivered_once() {
    let storage = Storage::in_memory();
    let clock = clock();
    let dispatcher = Dispatcher::start(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (sqs, mut seen) = recorder(&clock, None, 0);
    dispatcher.register("sqs", sqs);
    // More than one batch.
    let events: Vec<_> = (0..10).map(|i| Event::new("sqs", "send", json!({ "n": i }), dispatcher.now_ms())).collect();
    enqueue_all(&storage.kv, events.clone()).await;
    dispatcher.notify();
    let mut delivered = Vec::new();
    for _ in 0..10 {
        delivered.push(seen.recv().await.unwrap().0.id);
    }
    dispatcher.shutdown().await;
    delivered.sort();
    let mut expected: Vec<_> = events.into_iter().map(|e| e.id).collect();
    expected.sort();
    assert_eq!(delivered, expected);
    assert!(seen.try_recv().is_err());
    assert_eq!(pending(&storage.kv), 0);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_then_dead_letter() {
    let storage = Storage::in_memory();
    let clock = clock();
    let dispatcher = Dispatcher::start(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (flaky, mut attempts) = recorder(&clock, Some(DeliveryError::Retryable("busy".into())), u32::MAX);
    let (dlq, mut dead) = recorder(&clock, None, 0);
    dispatcher.register("lambda", flaky);
    dispatcher.set_dead_letter(dlq);
    let event = Event::new("lambda", "invoke", json!("x"), dispatcher.now_ms()).with_max_attempts(4);
    enqueue_all(&storage.kv, vec![event.clone()]).await;
    dispatcher.notify();

    let (dead, _) = dead.recv().await.unwrap();
    dispatcher.shutdown().await;
    assert_eq!((dead.id.as_str(), dead.attempts, dead.last_error.as_deref()), (event.id.as_str(), 4, Some("busy")));
    let mut tries = Vec::new();
    while let Ok(attempt) = attempts.try_recv() {
        tries.push(attempt);
    }
    assert_eq!(tries.len(), 4);
    for (n, pair) in tries.windows(2).enumerate() {
        let ((before, _), (after, delivered_at)) = (&pair[0], &pair[1]);
        assert_eq!(after.attempts, n as u32 + 1);
        assert!(*delivered_at >= after.due_ms, "never delivered early");
        // Equal jitter: at least half of base × 2^n, at most all of it.
        let full = 2000u64 << n;
        let gap = after.due_ms - before.due_ms;
        assert!((full / 2..=full).contains(&gap), "retry {n}: gap {gap} ms, full back-off {full} ms");
    }
    assert_eq!(pending(&storage.kv), 0);
}

#[tokio::test(start_paused = true)]
async fn permanent_failures_are_dead_lettered_and_unhandled_targets_wait() {
    let storage = Storage::in_memory();
    let clock = clock();
    let dispatcher = Dispatcher::start(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (gone, _attempts) = recorder(&clock, Some(DeliveryError::Permanent("no such queue".into())), u32::MAX);
    let (dlq, mut dead) = recorder(&clock, None, 0);
    dispatcher.register("sqs", gone);
    dispatcher.set_dead_letter(dlq);
    let now = dispatcher.now_ms();
    enqueue_all(
        &storage.kv,
        vec![
            Event::new("sqs", "send", json!(1), now),
            Event::new("nowhere", "send", json!(2), now).with_max_attempts(2),
        ],
    )
    .await;
    dispatcher.notify();
    let failed = dead.recv().await.unwrap().0;
    assert_eq!(
        (failed.target.as_str(), failed.attempts, failed.last_error.as_deref()),
        ("sqs", 1, Some("no such queue"))
    );
    // An event for a target no service delivers to yet is kept, its attempts untouched.
    tokio::time::sleep(Duration::from_secs(1)).await;
    dispatcher.shutdown().await;
    let left = brume_storage_pending(&storage);
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].target.as_str(), left[0].attempts), ("nowhere", 0));
    assert!(dead.try_recv().is_err());
}

fn brume_storage_pending(storage: &Storage) -> Vec<Event> {
    crate::pending(storage.kv.as_ref(), 10).unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_aborted_transaction_delivers_nothing() {
    let storage = Storage::in_memory();
    let clock = clock();
    let dispatcher = Dispatcher::start(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (sns, mut seen) = recorder(&clock, None, 0);
    dispatcher.register("sns", sns);
    let aborted = Event::new("sns", "publish", json!("aborted"), dispatcher.now_ms());
    let result: Result<(), StorageError> = storage
        .kv
        .transact(move |txn: &mut dyn Txn| {
            enqueue(txn, &aborted)?;
            Err(StorageError::Closed)
        })
        .await;
    assert!(result.is_err());
    let committed = Event::new("sns", "publish", json!("committed"), dispatcher.now_ms());
    enqueue_all(&storage.kv, vec![committed.clone()]).await;
    dispatcher.notify();
    assert_eq!(seen.recv().await.unwrap().0.id, committed.id);
    dispatcher.shutdown().await;
    assert!(seen.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn delayed_events_wait_for_their_time() {
    let storage = Storage::in_memory();
    let clock = clock();
    let dispatcher = Dispatcher::start(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (sqs, mut seen) = recorder(&clock, None, 0);
    dispatcher.register("sqs", sqs);
    let due = dispatcher.now_ms() + 30_000;
    enqueue_all(&storage.kv, vec![Event::new("sqs", "send", json!(null), dispatcher.now_ms()).with_due_ms(due)]).await;
    dispatcher.notify();
    let (_, delivered_at) = seen.recv().await.unwrap();
    dispatcher.shutdown().await;
    assert!(delivered_at >= due);
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_events_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = {
        let storage = brume_storage::open(dir.path(), Durability::Default).unwrap();
        let events: Vec<_> = (0..3).map(|i| Event::new("sqs", "send", json!(i), SystemClock.now_ms())).collect();
        enqueue_all(&storage.kv, events.clone()).await;
        events.into_iter().map(|e| e.id).collect()
    };
    let storage = brume_storage::open(dir.path(), Durability::Default).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let dispatcher = Dispatcher::start(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (sqs, mut seen) = recorder(&clock, None, 0);
    dispatcher.register("sqs", sqs);
    let mut delivered: Vec<String> = Vec::new();
    for _ in 0..3 {
        delivered.push(seen.recv().await.unwrap().0.id);
    }
    dispatcher.shutdown().await;
    delivered.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(delivered, ids);
    assert_eq!(pending(&storage.kv), 0);
}

/// On the real clock: the move happens in storage transactions, which a paused clock would
/// not wait for.
#[tokio::test(flavor = "multi_thread")]
async fn events_kept_under_the_earlier_key_layout_are_delivered() {
    let storage = Storage::in_memory();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let event = Event::new("sqs", "send", json!("old"), clock.now_ms());
    let earlier = brume_storage::key::encode(&[event.due_ms.into(), event.id.as_str().into()]);
    let stored = crate::event::encode(&event);
    storage.kv.transact(move |txn: &mut dyn Txn| txn.put(EVENTS_KEYSPACE, &earlier, &stored)).await.unwrap();
    let dispatcher = Dispatcher::new(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (sqs, mut seen) = recorder(&clock, None, 0);
    dispatcher.register("sqs", sqs);
    dispatcher.run();
    let delivered = tokio::time::timeout(Duration::from_secs(30), seen.recv()).await.expect("never delivered");
    assert_eq!(delivered.unwrap().0.id, event.id);
    dispatcher.shutdown().await;
    assert_eq!(pending(&storage.kv), 0);
}

/// Events pending at start (from before a restart) go out on the first pass when the
/// handlers are registered before the dispatcher runs, not after the longest back-off.
#[tokio::test(start_paused = true)]
async fn pending_events_go_out_at_once_when_handlers_come_first() {
    let storage = Storage::in_memory();
    let clock = clock();
    let event = Event::new("sqs", "send", json!("waiting"), clock.now_ms());
    enqueue_all(&storage.kv, vec![event.clone()]).await;
    let dispatcher = Dispatcher::new(Arc::clone(&storage.kv), config(), Arc::clone(&clock));
    let (sqs, mut seen) = recorder(&clock, None, 0);
    dispatcher.register("sqs", sqs);
    let started = clock.now_ms();
    dispatcher.run();
    let (delivered, at) = seen.recv().await.unwrap();
    assert_eq!(delivered.id, event.id);
    // Tokio's paused clock: no back-off was waited out (nothing else advances it).
    assert!(at - started < config().max_delay.as_millis() as u64, "put off {} ms", at - started);
    dispatcher.shutdown().await;
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let config = config();
    for (attempts, full) in [(1, 2_000), (2, 4_000), (3, 8_000), (6, 60_000), (40, 60_000)] {
        let delay = config.backoff(attempts).as_millis() as u64;
        assert!((full / 2..=full).contains(&delay), "attempt {attempts}: {delay} ms");
    }
}
