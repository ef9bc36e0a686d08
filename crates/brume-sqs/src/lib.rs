//! Amazon SQS (awsJson 1.0, and awsQuery for older clients) for Brume: standard queues
//! whose messages are committed to storage before SendMessage answers, received under
//! visibility timeouts, long-polled without busy loops, and moved to a dead-letter queue
//! after the redrive policy's receive count.
//!
//! FIFO queues keep each message group in order with one batch of it in flight at a time,
//! deduplicate over five minutes, and replay receive attempts; dead-letter queues get
//! their messages back through message move tasks.

mod delivery;
mod error;
mod md5;
mod message;
mod queue;
mod redrive;
mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use brume_protocol::{Service, ServiceBuilder};
use brume_storage::Kv;
use tokio::sync::Notify;

pub use delivery::Delivery;
pub use table::KEYSPACE;

/// SQS's state: the store, the endpoint queue URLs are made from, and one wake-up per
/// queue for long polls.
pub struct Sqs {
    kv: Arc<dyn Kv>,
    endpoint: String,
    waiters: Mutex<HashMap<(String, String), Arc<Notify>>>,
    marks: Arc<table::Marks>,
}

impl Sqs {
    fn waiter(&self, queue: &table::Queue) -> Arc<Notify> {
        self.waiter_named(&queue.account, &queue.name)
    }

    fn waiter_named(&self, account: &str, name: &str) -> Arc<Notify> {
        let mut waiters = self.waiters.lock().unwrap_or_else(|e| e.into_inner());
        waiters.entry((account.to_string(), name.to_string())).or_default().clone()
    }

    /// Wakes the long polls waiting on `queue`.
    fn wake(&self, queue: &table::Queue) {
        self.wake_named(&queue.account, &queue.name);
    }

    fn wake_named(&self, account: &str, name: &str) {
        self.waiter_named(account, name).notify_waiters();
    }
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

impl Sqs {
    /// SQS's state over `kv`; queue URLs start with `endpoint` (`http://localhost:4566`).
    /// Cheap: nothing is read until a request or a delivery needs it.
    pub fn new(kv: Arc<dyn Kv>, endpoint: String) -> Arc<Sqs> {
        Arc::new(Sqs { kv, endpoint, waiters: Mutex::new(HashMap::new()), marks: Arc::default() })
    }
}

/// The SQS service, ready for the gateway.
pub fn service(state: Arc<Sqs>) -> Service {
    state.resume_moves();
    ServiceBuilder::new("sqs", state)
        .op("CreateQueue", Sqs::create_queue)
        .op("GetQueueUrl", Sqs::get_queue_url)
        .op("ListQueues", Sqs::list_queues)
        .op("DeleteQueue", Sqs::delete_queue)
        .op("PurgeQueue", Sqs::purge_queue)
        .op("GetQueueAttributes", Sqs::get_queue_attributes)
        .op("SetQueueAttributes", Sqs::set_queue_attributes)
        .op("AddPermission", Sqs::add_permission)
        .op("RemovePermission", Sqs::remove_permission)
        .op("TagQueue", Sqs::tag_queue)
        .op("UntagQueue", Sqs::untag_queue)
        .op("ListQueueTags", Sqs::list_queue_tags)
        .op("SendMessage", Sqs::send_message)
        .op("SendMessageBatch", Sqs::send_message_batch)
        .op("ReceiveMessage", Sqs::receive_message)
        .op("DeleteMessage", Sqs::delete_message)
        .op("DeleteMessageBatch", Sqs::delete_message_batch)
        .op("ChangeMessageVisibility", Sqs::change_message_visibility)
        .op("ChangeMessageVisibilityBatch", Sqs::change_message_visibility_batch)
        .op("ListDeadLetterSourceQueues", Sqs::list_dead_letter_source_queues)
        .op("StartMessageMoveTask", Sqs::start_message_move_task)
        .op("ListMessageMoveTasks", Sqs::list_message_move_tasks)
        .op("CancelMessageMoveTask", Sqs::cancel_message_move_task)
        .build()
}
