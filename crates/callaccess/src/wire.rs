//! The bytes of a connection, under hyper: the answers hyper writes on its
//! own get the envelope and an `x-traceid` like every other error.
//!
//! When a request cannot be parsed as HTTP/1.1 (a junk request line, an
//! unknown version, a control character in a header, a malformed
//! `Content-Length`, too many or too large headers, an overlong target),
//! hyper answers 400, 431 or 414 itself and closes the connection; the
//! application never sees the request. hyper offers no hook for that
//! answer, so [`Wire`] wraps the socket and replaces it as it is written.
//!
//! hyper writes such an answer between messages, as a head of its own
//! making: the status line, then `connection: close`, `content-length: 0`
//! and `date`, and nothing else. The application's answers always start
//! with other headers and carry a body (see [`Wire`] for why none can be
//! mistaken for one). The replacement keeps hyper's status and `date`, adds
//! the envelope as the body, and is logged with its request id.
//!
//! HTTP/2 has no such answers: a malformed frame is a protocol error that
//! closes the stream or the connection, and there is no body to carry an
//! envelope.
//!
//! The same place carries out a fault rule's connection effects
//! (`crate::faults`): once the per-connection service arms the
//! connection's [`CutSwitch`] with a [`Cut`], the answer being written is
//! not sent whole. `reset` sets `SO_LINGER` to 0 and fails the write, so
//! hyper drops the socket and the kernel sends RST; `empty` fails the write,
//! so the socket closes with nothing sent; `truncate` lets the head and the
//! first bytes of the body through, then fails the next write, so the
//! client has a `Content-Length` it never gets in full. On HTTP/2 each of
//! them ends the whole connection (the bytes are frames, not a head and a
//! body).

use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::dto::ErrorResponse;
use crate::http::request_id::RequestId;

/// What every head hyper writes on its own starts with (its version is
/// always 1.1, whatever the request said).
const STATUS_LINE_START: &[u8] = b"HTTP/1.1 ";
/// The headers hyper puts after its status line, and nothing of ours does:
/// every answer of the application has a content type, a request id and a
/// body.
const HYPER_HEADERS: &[u8] = b"connection: close\r\ncontent-length: 0\r\n";

/// A socket whose outgoing bytes are watched for hyper's own answers.
///
/// The search is for a status line of 400, 414 or 431 directly followed by
/// [`HYPER_HEADERS`], with no `x-traceid` before the blank line. No answer
/// of the application has that shape (its heads start with the content
/// type, and the error middleware gives every error a body), and no body it
/// writes can contain it: JSON and the Prometheus text format never hold a
/// carriage return.
pub struct Wire<S> {
    inner: S,
    peer: SocketAddr,
    /// The replacement answer, and how much of it the socket has taken.
    out: Vec<u8>,
    sent: usize,
    /// Where a fault rule's connection effect arrives.
    switch: Option<Arc<CutSwitch>>,
    /// The effect being carried out on the answer being written.
    cutting: Option<Cutting>,
}

impl<S> Wire<S> {
    pub fn new(inner: S, peer: SocketAddr) -> Self {
        Self {
            inner,
            peer,
            out: Vec::new(),
            sent: 0,
            switch: None,
            cutting: None,
        }
    }

    /// Carries out the cuts armed on `switch`.
    #[must_use]
    pub fn with_switch(mut self, switch: Arc<CutSwitch>) -> Self {
        self.switch = Some(switch);
        self
    }

    /// Takes a cut just armed: from now on every write is cut.
    fn take_cut(&mut self) {
        if let Some(cut) = self.switch.as_deref().and_then(CutSwitch::take) {
            self.cutting = Some(Cutting::new(cut));
        }
    }
}

/// What a fault rule does to the answer being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// RST, nothing sent.
    Reset,
    /// Closed, nothing sent.
    Empty,
    /// The head and this many bytes of the body, then closed.
    Truncate { body: usize },
}

/// How the application hands a [`Cut`] to the connection's [`Wire`]: set
/// before the answer is handed to hyper, taken on its first write.
#[derive(Debug, Default)]
pub struct CutSwitch {
    /// Whether a cut waits, so that a write without one pays one load.
    armed: AtomicBool,
    cut: Mutex<Option<Cut>>,
}

impl CutSwitch {
    pub fn arm(&self, cut: Cut) {
        *self.cut.lock().unwrap_or_else(PoisonError::into_inner) = Some(cut);
        self.armed.store(true, Ordering::Release);
    }

    fn take(&self) -> Option<Cut> {
        if !self.armed.swap(false, Ordering::AcqRel) {
            return None;
        }
        self.cut
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// A socket that can be made to reset rather than close.
pub trait Abort {
    /// Makes closing the socket send RST (`SO_LINGER` 0).
    fn abort(&self);
}

impl Abort for tokio::net::TcpStream {
    fn abort(&self) {
        if let Err(e) = self.set_zero_linger() {
            tracing::debug!(error = %e, "cannot set SO_LINGER to reset the connection");
        }
    }
}

/// A cut in progress.
#[derive(Debug)]
struct Cutting {
    cut: Cut,
    /// Bytes of the head's end (`\r\n\r\n`) seen at the end of what was
    /// written; 4 once the head is through.
    head_end: usize,
    /// Body bytes still let through.
    body_left: usize,
}

const HEAD_END: &[u8; 4] = b"\r\n\r\n";

impl Cutting {
    fn new(cut: Cut) -> Self {
        Self {
            cut,
            head_end: 0,
            body_left: match cut {
                Cut::Truncate { body } => body,
                Cut::Reset | Cut::Empty => 0,
            },
        }
    }

    /// How far matching the head's end has got after `byte`.
    fn step(matched: usize, byte: u8) -> usize {
        if byte == HEAD_END[matched] {
            matched + 1
        } else if byte == b'\r' {
            1
        } else {
            0
        }
    }

    /// How many bytes of `buf` may be sent: up to the end of the head, then
    /// what is left of the body's share.
    fn allowed(&self, buf: &[u8]) -> usize {
        if !matches!(self.cut, Cut::Truncate { .. }) {
            return 0;
        }
        let mut matched = self.head_end;
        if matched == HEAD_END.len() {
            return buf.len().min(self.body_left);
        }
        for (i, &byte) in buf.iter().enumerate() {
            matched = Self::step(matched, byte);
            if matched == HEAD_END.len() {
                return i + 1 + (buf.len() - i - 1).min(self.body_left);
            }
        }
        buf.len()
    }

    /// Counts `written`, a prefix of what [`Self::allowed`] let through.
    fn advance(&mut self, written: &[u8]) {
        for (i, &byte) in written.iter().enumerate() {
            if self.head_end == HEAD_END.len() {
                self.body_left -= (written.len() - i).min(self.body_left);
                return;
            }
            self.head_end = Self::step(self.head_end, byte);
        }
    }
}

impl<S: AsyncWrite + Abort + Unpin> Wire<S> {
    /// A write while a cut is in progress.
    fn poll_cut(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let Some(cutting) = self.cutting.as_mut() else {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        };
        let allowed = cutting.allowed(buf);
        if allowed == 0 && !buf.is_empty() {
            // Failing the write makes hyper drop the connection, and the
            // socket with it.
            let (kind, what) = match cutting.cut {
                Cut::Reset => {
                    self.inner.abort();
                    (io::ErrorKind::ConnectionReset, "reset")
                }
                Cut::Empty => (io::ErrorKind::BrokenPipe, "closed without an answer"),
                Cut::Truncate { .. } => (io::ErrorKind::BrokenPipe, "cut short"),
            };
            return Poll::Ready(Err(io::Error::new(
                kind,
                format!("the connection was {what} by a fault rule"),
            )));
        }
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..allowed]))?;
        cutting.advance(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    /// Writes what is left of a replacement answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.out.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Takes hyper's answer at the start of `buf` (its whole head, which
    /// hyper hands over in one piece) and queues the replacement; returns
    /// how many bytes of `buf` it stands for.
    fn replace(&mut self, cx: &mut Context<'_>, head: &[u8]) -> Poll<io::Result<usize>> {
        let (len, answer) = envelope(head, self.peer);
        self.out = answer;
        self.sent = 0;
        // Start writing now; what the socket does not take yet goes with
        // the next write, flush or shutdown.
        if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(len))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Abort + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        this.take_cut();
        if this.cutting.is_some() {
            return this.poll_cut(cx, buf);
        }
        match find_hyper_answer(buf) {
            Some(0) => this.replace(cx, buf),
            // The end of an earlier answer first.
            Some(start) => Pin::new(&mut this.inner).poll_write(cx, &buf[..start]),
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        this.take_cut();
        if this.cutting.is_some() {
            // One slice at a time: a write may always take less than given.
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return this.poll_cut(cx, first);
        }
        // hyper queues a head as a slice of its own, so an answer of its own
        // starts a slice.
        let found = bufs
            .iter()
            .enumerate()
            .find_map(|(i, buf)| find_hyper_answer(buf).map(|start| (i, start)));
        match found {
            None => Pin::new(&mut this.inner).poll_write_vectored(cx, bufs),
            Some((i, start)) if bufs[..i].iter().all(|b| b.is_empty()) && start == 0 => {
                this.replace(cx, &bufs[i])
            }
            Some((i, start)) => {
                let mut before: Vec<IoSlice<'_>> = bufs[..i].to_vec();
                before.push(IoSlice::new(&bufs[i][..start]));
                Pin::new(&mut this.inner).poll_write_vectored(cx, &before)
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Where in `buf` an answer of hyper's own starts, if one does.
fn find_hyper_answer(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&buf[from..], STATUS_LINE_START) {
        let start = from + at;
        if is_hyper_answer(&buf[start..]) {
            return Some(start);
        }
        from = start + 1;
    }
    None
}

/// Whether `head` starts with a whole head of hyper's own making.
fn is_hyper_answer(head: &[u8]) -> bool {
    let Some(rest) = head.strip_prefix(STATUS_LINE_START) else {
        return false;
    };
    if status_of(rest).is_none() {
        return false;
    }
    let Some(line_end) = memchr::memmem::find(rest, b"\r\n") else {
        return false;
    };
    let headers = &rest[line_end + 2..];
    let Some(end) = memchr::memmem::find(headers, b"\r\n\r\n") else {
        return false;
    };
    headers.starts_with(HYPER_HEADERS)
        && memchr::memmem::find(&headers[..end], b"x-traceid").is_none()
}

/// The status of a status line's rest (`"400 Bad Request…"`), if it is one
/// hyper answers parse errors with.
fn status_of(rest: &[u8]) -> Option<u16> {
    match rest.get(..4)? {
        b"400 " => Some(400),
        b"414 " => Some(414),
        b"431 " => Some(431),
        _ => None,
    }
}

/// The replacement for the hyper answer at the start of `head`: how many
/// bytes that answer takes, and the bytes to send instead.
fn envelope(head: &[u8], peer: SocketAddr) -> (usize, Vec<u8>) {
    let rest = &head[STATUS_LINE_START.len()..];
    let status = status_of(rest).unwrap_or(400);
    // `is_hyper_answer` found both ends already.
    let line_end = memchr::memmem::find(rest, b"\r\n").unwrap_or(0);
    let headers_at = STATUS_LINE_START.len() + line_end + 2;
    let len = memchr::memmem::find(&head[headers_at..], b"\r\n\r\n")
        .map_or(head.len(), |end| headers_at + end + 4);
    let status_line = &head[..headers_at];
    // hyper's own headers, `date` among them, minus the empty body's length.
    let kept: Vec<&[u8]> = head[headers_at..len - 2]
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty() && !line.starts_with(b"content-length:"))
        .collect();

    let id = RequestId::generate();
    let message = message(status);
    tracing::info!(
        request_id = %id,
        status,
        peer = %peer,
        "refused a request that could not be parsed: {message}"
    );
    let body = serde_json::to_vec(&ErrorResponse {
        request_id: id.to_string(),
        errors: vec![message.to_owned()],
    })
    // Two strings always serialise.
    .unwrap_or_default();

    let mut out = Vec::with_capacity(len + body.len() + 96);
    out.extend_from_slice(status_line);
    out.extend_from_slice(b"content-type: application/json\r\n");
    out.extend_from_slice(format!("x-traceid: {id}\r\n").as_bytes());
    for line in kept {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(&body);
    (len, out)
}

/// What the client is told, by status.
fn message(status: u16) -> &'static str {
    match status {
        431 => {
            "the request's headers are too large: send at most 100 header fields, and \
             under 400 KiB of request line and headers in all"
        }
        414 => "the request target is too long: send at most 65,534 bytes of path and query",
        _ => {
            "the request is not valid HTTP/1.1: check its request line (method, target, \
             and HTTP/1.0 or HTTP/1.1), that header values hold no control characters, \
             and that Content-Length is one non-negative number"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    impl Abort for Vec<u8> {
        fn abort(&self) {}
    }

    const HYPER_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 00:52:13 GMT\r\n\r\n";
    const OURS_400: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-traceid: 01rix0a1l3c9yuwjxhh\r\ncontent-length: 20\r\n\r\n{\"errors\":[\"x\"]}  ";
    const OURS_413: &[u8] = b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-type: application/json\r\nx-traceid: 01rix0a1l3c9yuwjxhh\r\ncontent-length: 2\r\n\r\n{}";

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    async fn through(chunks: &[&[u8]]) -> Vec<u8> {
        let mut wire = Wire::new(Vec::new(), peer());
        for chunk in chunks {
            wire.write_all(chunk)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        wire.flush().await.unwrap_or_else(|e| panic!("{e}"));
        wire.inner
    }

    fn split(answer: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8_lossy(answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        (head.to_owned(), body)
    }

    #[tokio::test]
    async fn hyper_answers_get_the_envelope_and_a_request_id() {
        let out = through(&[HYPER_400]).await;
        let (head, body) = split(&out);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        assert!(
            head.contains("\r\ndate: Wed, 02 Dec 2026 00:52:13 GMT"),
            "{head}"
        );
        assert!(
            head.contains("\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        let id = body["requestId"].as_str().unwrap_or_default();
        assert_eq!(id.len(), 19);
        assert!(head.contains(&format!("\r\nx-traceid: {id}")), "{head}");
        assert!(body["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("not valid HTTP/1.1"));
        let length = out.len() - head.len() - 4;
        assert!(
            head.contains(&format!("content-length: {length}")),
            "{head}"
        );
    }

    #[tokio::test]
    async fn each_status_has_its_message() {
        for (status, reason, words) in [
            (
                "431",
                "Request Header Fields Too Large",
                "headers are too large",
            ),
            ("414", "URI Too Long", "target is too long"),
        ] {
            let hyper = format!(
                "HTTP/1.1 {status} {reason}\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n"
            );
            let (head, body) = split(&through(&[hyper.as_bytes()]).await);
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status} {reason}")),
                "{head}"
            );
            assert!(body["errors"][0]
                .as_str()
                .unwrap_or_default()
                .contains(words));
        }
    }

    #[tokio::test]
    async fn the_applications_answers_pass_unchanged() {
        for answer in [OURS_400, OURS_413] {
            assert_eq!(through(&[answer]).await, answer);
        }
        // Any other status hyper might write is left alone too.
        let other =
            b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(through(&[other]).await, other);
    }

    #[tokio::test]
    async fn an_answer_after_an_earlier_one_is_replaced_and_the_earlier_kept() {
        let both = [OURS_400, HYPER_400].concat();
        let out = through(&[&both]).await;
        assert!(out.starts_with(OURS_400));
        let (head, body) = split(&out[OURS_400.len()..]);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request"));
        assert!(body["requestId"].is_string());
    }

    #[tokio::test]
    async fn vectored_writes_are_watched_alike() {
        let mut wire = Wire::new(Vec::new(), peer());
        let (head, body) = OURS_413.split_at(OURS_413.len() - 2);
        let mut bufs = [
            IoSlice::new(head),
            IoSlice::new(body),
            IoSlice::new(HYPER_400),
        ];
        let mut slices = &mut bufs[..];
        while !slices.is_empty() {
            let n = wire
                .write_vectored(slices)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            IoSlice::advance_slices(&mut slices, n);
        }
        wire.flush().await.unwrap_or_else(|e| panic!("{e}"));
        assert!(wire.inner.starts_with(OURS_413));
        let (head, body) = split(&wire.inner[OURS_413.len()..]);
        assert!(head.starts_with("HTTP/1.1 400 Bad Request"), "{head}");
        assert!(body["requestId"].is_string());
    }

    /// Writes `chunks` through a wire whose switch was armed with `cut`:
    /// what reached the socket, and the first error.
    async fn cut(cut: Cut, chunks: &[&[u8]]) -> (Vec<u8>, Option<io::ErrorKind>) {
        let switch = Arc::new(CutSwitch::default());
        let mut wire = Wire::new(Vec::new(), peer()).with_switch(Arc::clone(&switch));
        // An answer before the cut passes whole.
        wire.write_all(OURS_413)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        switch.arm(cut);
        let mut failed = None;
        for chunk in chunks {
            if let Err(e) = wire.write_all(chunk).await {
                failed = Some(e.kind());
                break;
            }
        }
        (wire.inner[OURS_413.len()..].to_vec(), failed)
    }

    #[tokio::test]
    async fn a_truncated_answer_keeps_its_head_and_part_of_its_body() {
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n";
        let body = b"0123456789";
        let (sent, failed) = cut(Cut::Truncate { body: 5 }, &[head, body]).await;
        assert_eq!(sent, [&head[..], b"01234"].concat());
        assert_eq!(failed, Some(io::ErrorKind::BrokenPipe));
        // In one piece, with the head's end split oddly, alike.
        let whole = [&head[..], body].concat();
        let (sent, failed) = cut(Cut::Truncate { body: 3 }, &[&whole[..20], &whole[20..]]).await;
        assert_eq!(sent, [&head[..], b"012"].concat());
        assert!(failed.is_some());
    }

    #[tokio::test]
    async fn reset_and_empty_send_nothing() {
        for (which, kind) in [
            (Cut::Reset, io::ErrorKind::ConnectionReset),
            (Cut::Empty, io::ErrorKind::BrokenPipe),
        ] {
            let (sent, failed) = cut(which, &[OURS_400]).await;
            assert!(sent.is_empty(), "{which:?}");
            assert_eq!(failed, Some(kind));
        }
    }

    #[test]
    fn only_whole_heads_of_hyper_match() {
        assert_eq!(find_hyper_answer(HYPER_400), Some(0));
        assert_eq!(find_hyper_answer(&HYPER_400[..40]), None);
        assert_eq!(find_hyper_answer(OURS_400), None);
        assert_eq!(find_hyper_answer(OURS_413), None);
        let with_id = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\nx-traceid: a\r\n\r\n";
        assert_eq!(find_hyper_answer(with_id), None);
    }
}
