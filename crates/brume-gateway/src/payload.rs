//! Streamed request bodies, checked against what their signature declared before a
//! service sees them.
//!
//! The service reads plain object bytes and never sees SigV4: a declared SHA-256 is checked
//! as the bytes pass, `aws-chunked` framing is decoded and its chunk signatures verified,
//! and its trailers (`x-amz-checksum-*`) arrive as an HTTP trailers frame at the end.
//! Failures surface from the body as a boxed [`AwsError`] carrying S3's answer, so the
//! service must treat an upload as complete only when the body ends without error.

mod aws_chunked;

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use sha2::{Digest as _, Sha256};

use brume_auth::PayloadSigning;
use brume_core::AwsError;
use brume_protocol::codec::{BoxError, RequestBody};

use aws_chunked::{Decoder, Framing, incomplete_body};

const DECODED_LENGTH: &str = "x-amz-decoded-content-length";

/// The body of a streamed upload as the service should read it.
pub(crate) fn verified_body(
    body: Incoming,
    headers: &HeaderMap,
    signing: PayloadSigning,
) -> Result<RequestBody, AwsError> {
    verify(body, headers, signing)
}

fn verify<B>(body: B, headers: &HeaderMap, signing: PayloadSigning) -> Result<RequestBody, AwsError>
where
    B: Body<Data = Bytes> + Send + Sync + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    Ok(match signing {
        // `Buffered` is only reported for a body the verifier hashed, never a streamed one.
        PayloadSigning::Unsigned | PayloadSigning::Buffered => body.map_err(transport_error).boxed(),
        PayloadSigning::Declared(declared) => {
            Hashed { inner: body, declared, hasher: Sha256::new(), done: false }.boxed()
        }
        PayloadSigning::StreamingSigned { signer, trailer } => {
            decoded(body, headers, Framing::Signed { signer, trailer })?.boxed()
        }
        PayloadSigning::StreamingUnsignedTrailer => decoded(body, headers, Framing::Unsigned)?.boxed(),
    })
}

/// A failure reading the connection: the client went away or broke HTTP framing.
fn transport_error(err: impl std::fmt::Display) -> BoxError {
    tracing::debug!(error = %err, "request body failed");
    Box::new(incomplete_body())
}

fn decoded<B>(inner: B, headers: &HeaderMap, framing: Framing) -> Result<Decoded<B>, AwsError> {
    let expected_length = match headers.get(DECODED_LENGTH) {
        None => None,
        Some(value) => Some(value.to_str().ok().and_then(|v| v.parse::<u64>().ok()).ok_or_else(|| {
            AwsError::new(400, "InvalidArgument", format!("Invalid value for header {DECODED_LENGTH}"))
                .with_field("ArgumentName", DECODED_LENGTH)
                .with_field("ArgumentValue", String::from_utf8_lossy(value.as_bytes()))
        })?),
    };
    Ok(Decoded {
        inner,
        decoder: Decoder::new(framing),
        pending: Bytes::new(),
        expected_length,
        length: 0,
        overrun: false,
        done: false,
    })
}

/// A body passed through unchanged while its SHA-256 is checked against
/// `x-amz-content-sha256`.
struct Hashed<B> {
    inner: B,
    declared: String,
    hasher: Sha256,
    done: bool,
}

impl<B> Body for Hashed<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.hasher.update(data);
                }
                Some(Ok(frame))
            }
            Some(Err(err)) => {
                this.done = true;
                Some(Err(transport_error(err)))
            }
            None => {
                this.done = true;
                let computed = brume_core::hex(&std::mem::take(&mut this.hasher).finalize());
                (!computed.eq_ignore_ascii_case(&this.declared)).then(|| {
                    Err(Box::new(
                        AwsError::new(
                            400,
                            "XAmzContentSHA256Mismatch",
                            "The provided 'x-amz-content-sha256' header does not match what was computed.",
                        )
                        .with_field("ClientComputedContentSHA256", &this.declared)
                        .with_field("S3ComputedContentSHA256", computed),
                    ) as BoxError)
                })
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An `aws-chunked` body decoded to the object bytes, its trailers as a trailers frame.
struct Decoded<B> {
    inner: B,
    decoder: Decoder,
    /// Received bytes not yet decoded.
    pending: Bytes,
    /// `x-amz-decoded-content-length`, which the object bytes must add up to.
    expected_length: Option<u64>,
    length: u64,
    /// More bytes than declared arrived: the rest is counted, not passed on, so the error
    /// can tell how many there were.
    overrun: bool,
    done: bool,
}

impl<B> Decoded<B> {
    fn fail(&mut self, err: AwsError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.done = true;
        Poll::Ready(Some(Err(Box::new(err))))
    }

    fn length_mismatch(&self, expected: u64) -> AwsError {
        AwsError::new(
            400,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        )
        .with_field("NumberBytesExpected", expected.to_string())
        .with_field("NumberBytesProvided", self.length.to_string())
    }
}

impl<B> Body for Decoded<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if !this.pending.is_empty() {
                match this.decoder.decode(&mut this.pending) {
                    Ok(Some(data)) => {
                        this.length += data.len() as u64;
                        this.overrun |= this.expected_length.is_some_and(|expected| this.length > expected);
                        if !this.overrun {
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                    }
                    Ok(None) => {}
                    Err(err) => return this.fail(err),
                }
                continue;
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                // HTTP-level trailers carry nothing here: aws-chunked has its own.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        this.pending = data;
                    }
                }
                Some(Err(err)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(transport_error(err))));
                }
                None => {
                    let trailers = match this.decoder.finish() {
                        Ok(trailers) => trailers,
                        Err(err) => return this.fail(err),
                    };
                    if let Some(expected) = this.expected_length
                        && this.length != expected
                    {
                        return this.fail(this.length_mismatch(expected));
                    }
                    this.done = true;
                    return Poll::Ready((!trailers.is_empty()).then(|| Ok(Frame::trailers(trailers))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        match self.expected_length {
            Some(expected) => SizeHint::with_exact(expected.saturating_sub(self.length)),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::FutureExt as _;
    use http_body_util::StreamBody;

    use super::*;

    /// A request body arriving as these frames.
    fn frames(pieces: Vec<&'static [u8]>) -> impl Body<Data = Bytes, Error = Infallible> + Send + Sync + Unpin {
        let frames = pieces.into_iter().map(|p| Ok::<_, Infallible>(Frame::data(Bytes::from_static(p))));
        StreamBody::new(futures_util::stream::iter(frames))
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(n, v)| (http::HeaderName::from_static(n), v.parse().unwrap())).collect()
    }

    /// Reads the whole body (every frame is ready, so no runtime is needed).
    fn read(body: RequestBody) -> Result<(Vec<u8>, HeaderMap), AwsError> {
        match body.collect().now_or_never().expect("frames are ready") {
            Ok(collected) => {
                let trailers = collected.trailers().cloned().unwrap_or_default();
                Ok((collected.to_bytes().to_vec(), trailers))
            }
            Err(err) => Err(*err.downcast::<AwsError>().expect("body errors are AwsErrors")),
        }
    }

    fn run(
        pieces: Vec<&'static [u8]>,
        header_pairs: &[(&'static str, &str)],
        signing: PayloadSigning,
    ) -> Result<(Vec<u8>, HeaderMap), AwsError> {
        read(verify(frames(pieces), &headers(header_pairs), signing).unwrap())
    }

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn a_declared_hash_is_checked_at_the_end() {
        let (data, _) = run(vec![b"he", b"llo"], &[], PayloadSigning::Declared(HELLO_SHA256.into())).unwrap();
        assert_eq!(data, b"hello");
        let err = run(vec![b"he", b"llO"], &[], PayloadSigning::Declared(HELLO_SHA256.into())).unwrap_err();
        assert_eq!((err.status, err.code.as_ref()), (400, "XAmzContentSHA256Mismatch"));
        assert_eq!(err.message, "The provided 'x-amz-content-sha256' header does not match what was computed.");
        assert_eq!(err.fields[0], ("ClientComputedContentSHA256".to_owned(), HELLO_SHA256.to_owned()));
        assert_eq!(err.fields[1].0, "S3ComputedContentSHA256");
    }

    #[test]
    fn an_unsigned_body_passes_through() {
        let (data, trailers) = run(vec![b"5\r\n", b"hello"], &[], PayloadSigning::Unsigned).unwrap();
        assert_eq!(data, b"5\r\nhello");
        assert!(trailers.is_empty());
    }

    #[test]
    fn aws_chunked_trailers_arrive_as_a_trailers_frame() {
        let body = vec![&b"5\r\nhel"[..], b"lo\r\n0\r\nx-amz-checksum-crc32:Nh", b"Cmhg==\r\n", b"\r\n"];
        let (data, trailers) = run(body, &[(DECODED_LENGTH, "5")], PayloadSigning::StreamingUnsignedTrailer).unwrap();
        assert_eq!(data, b"hello");
        assert_eq!(trailers["x-amz-checksum-crc32"], "NhCmhg==");
    }

    #[test]
    fn the_decoded_length_must_match_its_header() {
        let body = || vec![&b"5\r\nhello\r\n0\r\n\r\n"[..]];
        for (declared, provided) in [("3", "5"), ("6", "5")] {
            let err = run(body(), &[(DECODED_LENGTH, declared)], PayloadSigning::StreamingUnsignedTrailer).unwrap_err();
            assert_eq!((err.status, err.code.as_ref()), (400, "IncompleteBody"));
            assert_eq!(
                err.message,
                "You did not provide the number of bytes specified by the Content-Length HTTP header"
            );
            assert_eq!(
                err.fields,
                [
                    ("NumberBytesExpected".to_owned(), declared.to_owned()),
                    ("NumberBytesProvided".to_owned(), provided.to_owned())
                ]
            );
        }
        // Bytes beyond the declared length never reach the service.
        let mut body =
            verify(frames(body()), &headers(&[(DECODED_LENGTH, "3")]), PayloadSigning::StreamingUnsignedTrailer)
                .unwrap();
        let first = body.frame().now_or_never().unwrap().unwrap();
        assert!(first.is_err());
        let invalid = verify(frames(empty_chunked()), &headers(&[(DECODED_LENGTH, "x")]), PayloadSigning::Unsigned);
        assert!(invalid.is_ok(), "only aws-chunked bodies read the decoded length");
        let err = verify(
            frames(empty_chunked()),
            &headers(&[(DECODED_LENGTH, "x")]),
            PayloadSigning::StreamingUnsignedTrailer,
        )
        .err()
        .unwrap();
        assert_eq!((err.status, err.code.as_ref()), (400, "InvalidArgument"));
    }

    fn empty_chunked() -> Vec<&'static [u8]> {
        vec![b"0\r\n\r\n"]
    }

    #[test]
    fn a_truncated_chunked_body_is_an_incomplete_body() {
        let err =
            run(vec![b"5\r\nhel"], &[(DECODED_LENGTH, "5")], PayloadSigning::StreamingUnsignedTrailer).unwrap_err();
        assert_eq!(
            (err.status, err.code.as_ref(), err.message.as_str()),
            (400, "IncompleteBody", "The request body terminated unexpectedly")
        );
    }

    #[test]
    fn signed_chunks_are_decoded_through_the_body() {
        let signing = PayloadSigning::StreamingSigned { signer: None, trailer: false };
        let body = vec![
            &b"5;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\nhello\r\n"[..],
            b"0;chunk-signature=0000000000000000000000000000000000000000000000000000000000000000\r\n\r\n",
        ];
        let (data, trailers) = run(body, &[(DECODED_LENGTH, "5")], signing).unwrap();
        assert_eq!(data, b"hello");
        assert!(trailers.is_empty());
    }
}
