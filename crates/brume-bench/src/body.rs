//! A request or response body served from memory in fixed-size frames, so that a large
//! body is streamed the way a file would be rather than handed to hyper as one buffer,
//! and nothing is generated or copied while the clock runs.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// The frame size of large bodies: what a client reading a file would typically send.
pub const FRAME: usize = 1 << 20;

/// `data` in frames of at most `frame` bytes; its exact length is known, so hyper sends
/// a `Content-Length` rather than chunked encoding.
pub struct Memory {
    data: Bytes,
    frame: usize,
}

impl Memory {
    pub fn new(data: Bytes, frame: usize) -> Memory {
        Memory { data, frame }
    }

    /// A small body sent in one frame.
    pub fn whole(data: Bytes) -> Memory {
        let frame = data.len().max(1);
        Memory { data, frame }
    }

    pub fn empty() -> Memory {
        Memory::whole(Bytes::new())
    }
}

impl Body for Memory {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.frame.min(self.data.len());
        Poll::Ready(Some(Ok(Frame::data(self.data.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}
