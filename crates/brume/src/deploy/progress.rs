//! The progress of a stack operation: on a terminal, a table of the resources redrawn in
//! place with each one's latest status; otherwise (or with `--no-progress`) one line per
//! event, which logs and tests can read.

use std::io::{IsTerminal, Write};

use brume_protocol::codec::xml_read::Element;

use super::client::text;

/// One stack event.
#[derive(Clone)]
pub struct Event {
    pub id: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl Event {
    pub fn from_xml(event: &Element) -> Event {
        let field = |name| text(event, &[name]).unwrap_or_default().to_string();
        Event {
            id: field("EventId"),
            logical_id: field("LogicalResourceId"),
            resource_type: field("ResourceType"),
            status: field("ResourceStatus"),
            reason: field("ResourceStatusReason"),
        }
    }
}

pub struct Progress {
    live: bool,
    /// Each resource's latest event, in the order they first appeared.
    latest: Vec<Event>,
    /// Every failure, in order.
    failures: Vec<Event>,
    /// Lines of the table last drawn.
    drawn: usize,
}

impl Progress {
    pub fn new(no_progress: bool) -> Progress {
        Progress {
            live: !no_progress && std::io::stdout().is_terminal(),
            latest: Vec::new(),
            failures: Vec::new(),
            drawn: 0,
        }
    }

    pub fn event(&mut self, event: Event) {
        if !self.live {
            println!("{}", line(&event));
        }
        if event.status.ends_with("_FAILED") && !event.reason.is_empty() {
            self.failures.push(event.clone());
        }
        match self.latest.iter_mut().find(|e| e.logical_id == event.logical_id) {
            Some(row) => *row = event,
            None => self.latest.push(event),
        }
        if self.live {
            self.draw();
        }
    }

    /// Leaves the table as last drawn.
    pub fn finish(&mut self) {
        self.drawn = 0;
    }

    /// The first resource that failed with a reason of its own (a resource cancelled because
    /// another failed names no cause), else the stack's own failure.
    pub fn first_failure(&self, stack: &str) -> Option<&Event> {
        let own = |e: &&Event| e.logical_id != stack && !e.reason.contains("cancelled");
        self.failures.iter().find(own).or_else(|| self.failures.first())
    }

    fn draw(&mut self) {
        let mut out = std::io::stdout().lock();
        if self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        for event in &self.latest {
            let color = if event.status.ends_with("_FAILED") || event.status.contains("ROLLBACK") {
                "31"
            } else if event.status.ends_with("_IN_PROGRESS") {
                "33"
            } else {
                "32"
            };
            let _ = writeln!(out, "\x1b[2K\x1b[{color}m{}\x1b[0m", line(event));
        }
        let _ = out.flush();
        self.drawn = self.latest.len();
    }
}

fn line(event: &Event) -> String {
    let reason = if event.reason.is_empty() { String::new() } else { format!("  {}", event.reason) };
    format!("  {:<30} {:<36} {}{reason}", event.status, event.resource_type, event.logical_id)
}
