//! Durable at-least-once delivery between services: a transactional outbox and the
//! dispatcher that drains it.
//!
//! A service that must notify another (an S3 notification, an SNS delivery, an async Lambda
//! invoke) calls [`enqueue`] inside the same [`brume_storage::Kv`] transaction as its state
//! change, so the event exists if and only if the change does, then calls
//! [`Dispatcher::notify`] once the transaction has committed.
//!
//! The [`Dispatcher`] is one background task per store. It delivers due events to the
//! [`Handler`] registered for their target, deletes them on success, reschedules them with
//! exponential back-off and jitter on a retryable failure, and hands them to the dead-letter
//! handler when they fail permanently or run out of attempts; each batch is settled in one
//! transaction. Events live in the `events` keyspace: those due at once in a ready queue in
//! commit order, the others in a schedule keyed by due time (see [`enqueue`]), so a restart
//! loses nothing: what was pending is delivered after reopen. Delivery is at least once:
//! a crash between a delivery and its settling delivers the event again.

mod dispatcher;
mod event;

pub use dispatcher::{Clock, DeliveryError, Dispatcher, DispatcherConfig, Handler, SystemClock};
pub use event::{DEFAULT_MAX_ATTEMPTS, EVENTS_KEYSPACE, Event, enqueue, enqueued, pending};
