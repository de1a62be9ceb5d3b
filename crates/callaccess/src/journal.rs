//! The request journal (control-plane.md §4): every `/v2` request, kept in
//! a bounded ring for tests to list and count.
//!
//! [`Recording::start`] runs in `http::finish` before the router: it notes
//! the request line and the time, and tees the request body
//! ([`Capture`]) as the handler reads it, so the body limits, timeouts and
//! `body::watch` see the same body as before. [`Recording::record`] runs
//! once the answer (with its error envelope) is ready: it reads the
//! answer's body as it will be sent — every `/v2` answer is built whole in
//! memory — and stores one entry, under one lock. With capacity 0 neither
//! runs.
//!
//! ## How entries are kept
//!
//! The ring keeps no allocation of the request's: each entry's fixed part
//! goes into one queue, and its bytes (path and query, credential name,
//! fault id, both bodies) are copied one after the other onto the end of
//! one byte queue, which drops its oldest bytes with the oldest entry. A
//! request's own buffers are then freed as it ends, still warm, for the
//! next request to reuse; were the ring to hold them, every request would
//! allocate from memory last touched thousands of requests earlier, and
//! free the evicted entry's just as cold (docs/PERFORMANCE.md, "The request
//! journal on and off"). Readers get [`Entry`] values copied out of the
//! ring.
//!
//! An answer given before its body was read (401, 429, a fault) leaves the
//! rest of the body to `body::watch`, which reads it after the answer is
//! sent; such an entry holds its capture until then, and a reader of the
//! journal waits a moment ([`Journal::settle`]) for captures still coming,
//! so the body a client sent before it saw the answer is always there.
//!
//! Nothing secret is kept: no header is recorded, only the credential's
//! shown name (`apiKey:<accessKey>`, `token:<id>`).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::response::Response;
use callaccess_domain::{Clock, CompanyId};
use http_body_util::BodyExt as _;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use serde_json::Value;
use tokio::sync::Notify;

use crate::http::request_id::{CredentialId, RequestContext, RequestId};

/// Bytes of a request or response body an entry keeps; the rest is cut
/// and the entry says so.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Most time a reader of the journal waits for request bodies that are
/// still being read after their answer. A client that sent its body before
/// reading the answer has it in the server's socket by then, so this is
/// only reached by one that never sends it.
pub const SETTLE_WAIT: Duration = Duration::from_secs(1);

/// Whether requests to `path` are journaled: Gong's API, never the admin
/// API, health or metrics.
pub fn records(path: &str) -> bool {
    path == "/v2" || path.starts_with("/v2/")
}

/// The ring of recent `/v2` requests; capacity 0 keeps nothing.
#[derive(Debug)]
pub struct Journal {
    capacity: usize,
    ring: Mutex<Ring>,
}

/// The entries kept, oldest first (see the module's notes).
#[derive(Debug, Default, Clone)]
struct Ring {
    entries: VecDeque<Stored>,
    /// Every kept entry's bytes, in entry order, with nothing between.
    bytes: VecDeque<u8>,
    /// The position of `bytes[0]` among all bytes ever stored: positions
    /// only grow, so an entry's stays right while older bytes are dropped.
    base: u64,
}

/// Byte capacity the ring gives back once it uses under a quarter of it
/// (after a burst of large bodies), so it does not keep its peak for ever.
const SHRINK_ABOVE: usize = 256 * 1024;

impl Ring {
    fn end(&self) -> u64 {
        self.base + self.bytes.len() as u64
    }

    fn append(&mut self, data: &[u8]) -> usize {
        self.bytes.extend(data);
        data.len()
    }

    /// Drops the oldest entry and its bytes.
    fn drop_oldest(&mut self) -> Option<Stored> {
        let oldest = self.entries.pop_front()?;
        let keep_from = self.entries.front().map_or(self.end(), |next| next.start);
        // Below `end`, so it fits the queue's length.
        let gone = usize::try_from(keep_from - self.base).unwrap_or(self.bytes.len());
        self.bytes.drain(..gone);
        self.base = keep_from;
        if self.bytes.capacity() > SHRINK_ABOVE && self.bytes.capacity() / 4 > self.bytes.len() {
            self.bytes.shrink_to(self.bytes.len() * 2);
        }
        Some(oldest)
    }

    /// `len` bytes from position `at`, copied out.
    fn copy(&self, at: u64, len: usize) -> Vec<u8> {
        let from = usize::try_from(at - self.base).unwrap_or(0);
        let (front, back) = self.bytes.as_slices();
        let mut out = Vec::with_capacity(len);
        if from < front.len() {
            let take = len.min(front.len() - from);
            out.extend_from_slice(&front[from..from + take]);
            out.extend_from_slice(&back[..len - take]);
        } else {
            let from = from - front.len();
            out.extend_from_slice(&back[from..from + len]);
        }
        out
    }

    fn text(&self, at: u64, len: usize) -> String {
        // Only text that was a `str` is stored as text.
        String::from_utf8_lossy(&self.copy(at, len)).into_owned()
    }

    /// The entry `stored` stands for, with its bytes copied out.
    fn entry(&self, stored: &Stored) -> Entry {
        let mut at = stored.start;
        let mut next = |len: usize| {
            let here = at;
            at += len as u64;
            here
        };
        let target = Target {
            text: self.text(next(stored.target_len), stored.target_len),
            path_len: stored.path_len,
        };
        let credential = stored.credential.map(|(kind, len)| {
            let name = self.text(next(len), len);
            match kind {
                CredentialKind::ApiKey => CredentialId::ApiKey(name),
                CredentialKind::Token => CredentialId::Token(name),
            }
        });
        let fault = stored.fault_len.map(|len| self.text(next(len), len));
        let request_body = match &stored.request {
            StoredBody::None => RequestBody::None,
            StoredBody::Read { len, truncated } => RequestBody::Read(Kept {
                bytes: Bytes::from(self.copy(next(*len), *len)),
                truncated: *truncated,
            }),
            StoredBody::Reading(capture) => RequestBody::Reading(Arc::clone(capture)),
        };
        let response_body = stored.response.map(|(len, truncated)| Kept {
            bytes: Bytes::from(self.copy(next(len), len)),
            truncated,
        });
        Entry {
            time_micros: stored.time_micros,
            id: stored.id,
            company: stored.company,
            credential,
            fault,
            method: stored.method.clone(),
            target,
            request_body,
            status: stored.status,
            response_body,
            latency: stored.latency,
        }
    }
}

/// An entry as the ring keeps it: the fixed part, and where its bytes are.
#[derive(Debug, Clone)]
struct Stored {
    time_micros: i64,
    id: RequestId,
    company: Option<CompanyId>,
    method: Method,
    status: u16,
    latency: Duration,
    /// The position of the entry's first byte; its bytes are, in order,
    /// the target, the credential's name, the fault id and the bodies.
    start: u64,
    target_len: usize,
    path_len: usize,
    credential: Option<(CredentialKind, usize)>,
    fault_len: Option<usize>,
    request: StoredBody,
    /// Its length, and whether it was cut.
    response: Option<(usize, bool)>,
}

#[derive(Debug, Clone, Copy)]
enum CredentialKind {
    ApiKey,
    Token,
}

#[derive(Debug, Clone)]
enum StoredBody {
    None,
    Read {
        len: usize,
        truncated: bool,
    },
    /// Still being read after the answer: the capture is kept, not copied.
    Reading(Arc<Capture>),
}

/// What [`Journal::store`] copies into the ring, borrowed from the request.
struct Parts<'a> {
    time_micros: i64,
    id: RequestId,
    company: Option<CompanyId>,
    credential: Option<&'a CredentialId>,
    fault: Option<&'a str>,
    method: &'a Method,
    target: &'a Target,
    request_body: &'a RequestBody,
    status: u16,
    response_body: Option<&'a Kept>,
    latency: Duration,
}

impl Journal {
    pub fn new(capacity: usize) -> Self {
        // A large journal grows as it fills rather than taking its memory
        // up front.
        let reserved = capacity.min(16 * 1024);
        Self {
            capacity,
            ring: Mutex::new(Ring {
                entries: VecDeque::with_capacity(reserved),
                ..Ring::default()
            }),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether anything is recorded at all.
    pub fn is_on(&self) -> bool {
        self.capacity > 0
    }

    fn ring(&self) -> MutexGuard<'_, Ring> {
        // Each change of the ring runs to its end without a call that can
        // panic between its steps, so a poisoned lock holds a whole ring.
        self.ring.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an entry, dropping the oldest one past the capacity: the tests'
    /// way in (a request goes through [`Recording::record`]).
    #[cfg(test)]
    fn push(&self, entry: Entry) {
        self.store(Parts {
            time_micros: entry.time_micros,
            id: entry.id,
            company: entry.company,
            credential: entry.credential.as_ref(),
            fault: entry.fault.as_deref(),
            method: &entry.method,
            target: &entry.target,
            request_body: &entry.request_body,
            status: entry.status,
            response_body: entry.response_body.as_ref(),
            latency: entry.latency,
        });
    }

    fn store(&self, parts: Parts<'_>) {
        if !self.is_on() {
            return;
        }
        let mut ring = self.ring();
        let start = ring.end();
        let target_len = ring.append(parts.target.text.as_bytes());
        let credential = parts.credential.map(|credential| match credential {
            CredentialId::ApiKey(key) => (CredentialKind::ApiKey, ring.append(key.as_bytes())),
            CredentialId::Token(id) => (CredentialKind::Token, ring.append(id.as_bytes())),
        });
        let fault_len = parts.fault.map(|fault| ring.append(fault.as_bytes()));
        let request = match parts.request_body {
            RequestBody::None => StoredBody::None,
            RequestBody::Read(kept) => StoredBody::Read {
                len: ring.append(&kept.bytes),
                truncated: kept.truncated,
            },
            RequestBody::Reading(capture) => StoredBody::Reading(Arc::clone(capture)),
        };
        let response = parts
            .response_body
            .map(|kept| (ring.append(&kept.bytes), kept.truncated));
        ring.entries.push_back(Stored {
            time_micros: parts.time_micros,
            id: parts.id,
            company: parts.company,
            method: parts.method.clone(),
            status: parts.status,
            latency: parts.latency,
            start,
            target_len,
            path_len: parts.target.path_len,
            credential,
            fault_len,
            request,
            response,
        });
        let dropped = if ring.entries.len() > self.capacity {
            ring.drop_oldest()
        } else {
            None
        };
        drop(ring);
        // Freed outside the lock (a capture still held, rarely anything).
        drop(dropped);
    }

    /// Every entry, oldest first, as of now. The ring is copied under the
    /// lock (two buffers) and the entries are made from the copy, so
    /// requests being recorded wait for a copy, not for the listing.
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        let ring = self.ring().clone();
        ring.entries
            .iter()
            .map(|stored| Arc::new(ring.entry(stored)))
            .collect()
    }

    /// The entries that match `filter`, newest first, at most `limit`.
    pub fn list(&self, filter: &Filter, limit: usize) -> Vec<Arc<Entry>> {
        self.entries()
            .into_iter()
            .rev()
            .filter(|entry| filter.matches(entry))
            .take(limit)
            .collect()
    }

    /// How many entries match `filter`.
    pub fn count(&self, filter: &Filter) -> usize {
        self.entries()
            .iter()
            .filter(|entry| filter.matches(entry))
            .count()
    }

    /// Removes every entry; how many there were.
    pub fn clear(&self) -> usize {
        let mut ring = self.ring();
        let taken = ring.entries.len();
        let end = ring.end();
        *ring = Ring {
            base: end,
            ..Ring::default()
        };
        taken
    }

    /// Waits, at most `wait`, until the request bodies still being read
    /// after their answers are in.
    pub async fn settle(&self, wait: Duration) {
        let pending: Vec<Arc<Capture>> = self
            .ring()
            .entries
            .iter()
            .filter_map(|entry| match &entry.request {
                StoredBody::Reading(capture) if !capture.is_done() => Some(Arc::clone(capture)),
                _ => None,
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        let all = async {
            for capture in &pending {
                capture.done().await;
            }
        };
        let _ = tokio::time::timeout(wait, all).await;
    }
}

/// One `/v2` request and its answer, as copied out of the ring.
#[derive(Debug)]
pub struct Entry {
    /// When it arrived, by the server's clock, in microseconds since the
    /// Unix epoch.
    pub time_micros: i64,
    // Read through `request_id()`, `company()`, `credential()`, `fault()`.
    id: RequestId,
    company: Option<CompanyId>,
    credential: Option<CredentialId>,
    fault: Option<String>,
    pub method: Method,
    /// The path and query as sent.
    pub target: Target,
    pub request_body: RequestBody,
    pub status: u16,
    /// `None` when the answer had no body of known size (none of the
    /// `/v2` answers today).
    pub response_body: Option<Kept>,
    /// From arrival to the answer being ready, as the log line says.
    pub latency: Duration,
}

impl Entry {
    pub fn request_id(&self) -> RequestId {
        self.id
    }

    pub fn path(&self) -> &str {
        self.target.path()
    }

    /// The query string as sent (without `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.query()
    }

    /// The authenticated company, if authentication got that far.
    pub fn company(&self) -> Option<CompanyId> {
        self.company
    }

    /// The credential's shown name, never its secret.
    pub fn credential(&self) -> Option<&CredentialId> {
        self.credential.as_ref()
    }

    /// The fault rule that applied, by id.
    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }
}

/// A request's path and query in one allocation.
#[derive(Debug, Clone)]
pub struct Target {
    text: String,
    /// Where the path ends (and `?query` starts, if there is one).
    path_len: usize,
}

impl Target {
    pub fn of(uri: &Uri) -> Self {
        let path = uri.path();
        let mut text = String::with_capacity(path.len() + uri.query().map_or(0, |q| q.len() + 1));
        text.push_str(path);
        if let Some(query) = uri.query() {
            text.push('?');
            text.push_str(query);
        }
        Self {
            text,
            path_len: path.len(),
        }
    }

    pub fn path(&self) -> &str {
        &self.text[..self.path_len]
    }

    pub fn query(&self) -> Option<&str> {
        self.text.get(self.path_len + 1..)
    }
}

/// What an entry keeps of a request body.
#[derive(Debug)]
pub enum RequestBody {
    /// The request had no body.
    None,
    /// Read before the answer.
    Read(Kept),
    /// Still being read after the answer (see the module's docs).
    Reading(Arc<Capture>),
}

impl RequestBody {
    /// The body as kept so far; `None` for a request without one.
    pub fn kept(&self) -> Option<Kept> {
        match self {
            Self::None => None,
            Self::Read(kept) => Some(kept.clone()),
            Self::Reading(capture) => Some(capture.kept()),
        }
    }
}

/// The first [`BODY_LIMIT`] bytes of a body.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub bytes: Bytes,
    /// Part of the body is missing: it was longer than the limit, or it
    /// was never read to its end.
    pub truncated: bool,
}

impl Kept {
    /// What to keep of a whole body. A body within the limit is shared,
    /// not copied; a longer one is copied in part, so the entry does not
    /// hold all of it.
    pub fn of(bytes: &Bytes) -> Self {
        if bytes.len() <= BODY_LIMIT {
            Self {
                bytes: bytes.clone(),
                truncated: false,
            }
        } else {
            Self {
                bytes: Bytes::copy_from_slice(&bytes[..BODY_LIMIT]),
                truncated: true,
            }
        }
    }

    /// The body as JSON when it is whole JSON; else `None`.
    pub fn json(&self) -> Option<Value> {
        if self.truncated {
            return None;
        }
        serde_json::from_slice(&self.bytes).ok()
    }

    /// The body to show: JSON as JSON, anything else as text (bytes that
    /// are not UTF-8 replaced).
    pub fn shown(&self) -> Value {
        self.json()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&self.bytes).into_owned()))
    }
}

/// A request body as the handler (or `body::watch` after it) reads it.
#[derive(Debug)]
pub struct Capture {
    state: Mutex<Teed>,
    finished: Notify,
}

#[derive(Debug, Default)]
struct Teed {
    bytes: Vec<u8>,
    truncated: bool,
    /// Nothing more will be kept: the body ended, broke, passed the limit
    /// or was dropped.
    done: bool,
}

impl Capture {
    fn new(expected: usize) -> Self {
        Self {
            state: Mutex::new(Teed {
                bytes: Vec::with_capacity(expected.min(BODY_LIMIT)),
                ..Teed::default()
            }),
            finished: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, Teed> {
        // Each change leaves the buffer consistent; a panic cannot tear it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, data: &[u8]) {
        let mut state = self.state();
        if state.done {
            return;
        }
        let room = BODY_LIMIT - state.bytes.len();
        if data.len() > room {
            state.bytes.extend_from_slice(&data[..room]);
            state.truncated = true;
            state.done = true;
            drop(state);
            self.finished.notify_waiters();
        } else {
            state.bytes.extend_from_slice(data);
        }
    }

    /// No more bytes come; `whole`: the body was read to its end.
    fn finish(&self, whole: bool) {
        let mut state = self.state();
        if state.done {
            return;
        }
        state.done = true;
        state.truncated |= !whole;
        drop(state);
        self.finished.notify_waiters();
    }

    fn is_done(&self) -> bool {
        self.state().done
    }

    async fn done(&self) {
        let notified = self.finished.notified();
        tokio::pin!(notified);
        // Registered before the check, so a finish in between is not missed.
        notified.as_mut().enable();
        if self.is_done() {
            return;
        }
        notified.await;
    }

    /// What is kept so far.
    pub fn kept(&self) -> Kept {
        let state = self.state();
        Kept {
            bytes: Bytes::copy_from_slice(&state.bytes),
            truncated: state.truncated || !state.done,
        }
    }

    /// The kept bytes, taken out, once nothing more comes.
    fn take(&self) -> Option<Kept> {
        let mut state = self.state();
        state.done.then(|| Kept {
            bytes: Bytes::from(std::mem::take(&mut state.bytes)),
            truncated: state.truncated,
        })
    }
}

/// The request body with a [`Capture`] on the side; it reports exactly
/// what its inner body does, so nothing downstream sees a difference.
struct Tee {
    inner: Body,
    capture: Arc<Capture>,
}

impl HttpBody for Tee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.capture.push(data);
                }
                if this.inner.is_end_stream() {
                    this.capture.finish(true);
                }
            }
            Poll::Ready(None) => this.capture.finish(true),
            Poll::Ready(Some(Err(_))) => this.capture.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        // Dropped at its end (already finished), or before: then cut.
        self.capture.finish(self.inner.is_end_stream());
    }
}

/// A body that fails at once with the error the answer's own body gave,
/// so a failure the journal saw still reaches the connection.
struct Broken(Option<axum::Error>);

impl HttpBody for Broken {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Poll::Ready(self.get_mut().0.take().map(Err))
    }
}

/// A `/v2` request on its way through the router.
pub struct Recording {
    time_micros: i64,
    method: Method,
    target: Target,
    capture: Option<Arc<Capture>>,
}

impl Recording {
    /// Notes the request and tees its body; `request` goes on as before.
    pub fn start(request: Request, clock: &Clock) -> (Request, Self) {
        let mut recording = Self {
            time_micros: clock.now_micros(),
            method: request.method().clone(),
            target: Target::of(request.uri()),
            capture: None,
        };
        if request.body().is_end_stream() {
            return (request, recording);
        }
        let expected = request
            .body()
            .size_hint()
            .exact()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0);
        let capture = Arc::new(Capture::new(expected));
        recording.capture = Some(Arc::clone(&capture));
        let request = request.map(|inner| Body::new(Tee { inner, capture }));
        (request, recording)
    }

    /// Records the request with its answer, which it hands back unchanged.
    pub async fn record(
        self,
        journal: &Journal,
        context: &Arc<RequestContext>,
        response: Response,
        latency: Duration,
    ) -> Response {
        let (parts, body) = response.into_parts();
        // Every /v2 answer is a body built whole in memory (exact size): its
        // one frame is there at the first poll and is shared, not copied. A
        // body of unknown size would be a stream, passed on untouched.
        let (response_body, body) = if body.size_hint().exact().is_some() {
            whole(body).await
        } else {
            (None, body)
        };
        let request_body = match self.capture {
            None => RequestBody::None,
            Some(capture) => match capture.take() {
                Some(kept) => RequestBody::Read(kept),
                None => RequestBody::Reading(capture),
            },
        };
        journal.store(Parts {
            time_micros: self.time_micros,
            id: context.id,
            company: context.company.get().copied(),
            credential: context.credential.get(),
            fault: context.fault.get().map(String::as_str),
            method: &self.method,
            target: &self.target,
            request_body: &request_body,
            status: parts.status.as_u16(),
            response_body: response_body.as_ref(),
            latency,
        });
        Response::from_parts(parts, body)
    }
}

/// A body of known size read whole, what to keep of it, and a body to
/// send in its place with the same bytes (or the same failure).
async fn whole(mut body: Body) -> (Option<Kept>, Body) {
    let first = match body.frame().await {
        None => return (Some(Kept::default()), Body::empty()),
        Some(Err(e)) => return (None, Body::new(Broken(Some(e)))),
        Some(Ok(frame)) => frame,
    };
    match first.into_data() {
        // One frame, the whole body: the common case, with nothing copied.
        Ok(bytes) if body.is_end_stream() => (Some(Kept::of(&bytes)), Body::from(bytes)),
        first => {
            let mut bytes = first.map(Vec::from).unwrap_or_default();
            while let Some(frame) = body.frame().await {
                match frame.map(Frame::into_data) {
                    Ok(Ok(data)) => bytes.extend_from_slice(&data),
                    // Trailers: none of the /v2 answers has them.
                    Ok(Err(_)) => {}
                    Err(e) => return (None, Body::new(Broken(Some(e)))),
                }
            }
            let bytes = Bytes::from(bytes);
            (Some(Kept::of(&bytes)), Body::from(bytes))
        }
    }
}

/// Which status codes a filter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    Exact(u16),
    /// `4xx`: every code of that hundred.
    Class(u16),
}

impl StatusMatch {
    /// `429` or `4xx` (1 to 5).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        match text.as_bytes() {
            [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Some(Self::Class(u16::from(d - b'0'))),
            _ => text
                .parse::<u16>()
                .ok()
                .filter(|n| (100..=599).contains(n))
                .map(Self::Exact),
        }
    }

    fn matches(self, status: u16) -> bool {
        match self {
            Self::Exact(n) => status == n,
            Self::Class(hundred) => status / 100 == hundred,
        }
    }
}

/// Which paths a filter takes: one path, or with a final `*` every path
/// that starts with what comes before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

impl PathMatch {
    pub fn parse(text: &str) -> Self {
        match text.strip_suffix('*') {
            Some(prefix) => Self::Prefix(prefix.to_owned()),
            None => Self::Exact(text.to_owned()),
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(p) => path == p,
            Self::Prefix(p) => path.starts_with(p.as_str()),
        }
    }
}

/// What a listing or count selects; every part given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub method: Option<Method>,
    pub path: Option<PathMatch>,
    pub status: Option<StatusMatch>,
    pub company: Option<CompanyId>,
    /// Entries at or after this time (microseconds since the epoch).
    pub since_micros: Option<i64>,
    /// The request body, as JSON, includes this (see [`includes`]).
    pub body_includes: Option<Value>,
}

impl Filter {
    pub fn matches(&self, entry: &Entry) -> bool {
        self.method.as_ref().is_none_or(|m| *m == entry.method)
            && self.path.as_ref().is_none_or(|p| p.matches(entry.path()))
            && self.status.is_none_or(|s| s.matches(entry.status))
            && self.company.is_none_or(|c| entry.company() == Some(c))
            && self.since_micros.is_none_or(|t| entry.time_micros >= t)
            && self.body_includes.as_ref().is_none_or(|pattern| {
                entry
                    .request_body
                    .kept()
                    .and_then(|kept| kept.json())
                    .is_some_and(|body| includes(&body, pattern))
            })
    }
}

/// Whether `actual` includes `pattern`: an object every key of the
/// pattern's with a value that includes the pattern's; an array with, for
/// each of the pattern's elements, one that includes it (order and other
/// elements do not matter); any other value equal (numbers by value, so
/// `1` and `1.0` are equal, but `"1"` is not `1`).
pub fn includes(actual: &Value, pattern: &Value) -> bool {
    match (actual, pattern) {
        (Value::Object(actual), Value::Object(pattern)) => pattern
            .iter()
            .all(|(key, want)| actual.get(key).is_some_and(|got| includes(got, want))),
        (Value::Array(actual), Value::Array(pattern)) => pattern
            .iter()
            .all(|want| actual.iter().any(|got| includes(got, want))),
        (Value::Number(a), Value::Number(b)) => {
            a == b || matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if x == y)
        }
        (actual, pattern) => actual == pattern,
    }
}

/// Microseconds since the epoch as RFC 3339 in UTC, to the microsecond.
pub fn format_micros(micros: i64) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{micros}us"))
}

/// An RFC 3339 date-time, fractions kept, as microseconds since the epoch.
pub fn parse_micros(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1000)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(n: u16, body: Option<&str>) -> Entry {
        Entry {
            time_micros: i64::from(n) * 1_000_000,
            id: RequestContext::new().id,
            company: CompanyId::from_i64(1),
            credential: None,
            fault: None,
            method: Method::PUT,
            target: Target::of(&Uri::from_static("/v2/calls/users-access")),
            request_body: body.map_or(RequestBody::None, |b| {
                RequestBody::Read(Kept::of(&Bytes::copy_from_slice(b.as_bytes())))
            }),
            status: 200 + n,
            response_body: None,
            latency: Duration::ZERO,
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_lists_them_first() {
        let journal = Journal::new(3);
        for n in 0..5 {
            journal.push(entry(n, None));
        }
        let listed: Vec<u16> = journal
            .list(&Filter::default(), 10)
            .iter()
            .map(|e| e.status)
            .collect();
        assert_eq!(listed, [204, 203, 202]);
        assert_eq!(journal.list(&Filter::default(), 2).len(), 2);
        assert_eq!(journal.count(&Filter::default()), 3);
        assert_eq!(journal.clear(), 3);
        assert_eq!(journal.count(&Filter::default()), 0);
    }

    /// Entries of every shape, well past the capacity: each kept one reads
    /// back byte for byte, the ring holds the bytes of the kept entries
    /// and no more, and after a burst of large bodies it gives the memory
    /// back.
    #[test]
    fn the_ring_keeps_each_entrys_bytes_and_only_the_kept_ones() {
        let journal = Journal::new(7);
        let made = |n: usize| {
            let mut entry = entry(u16::try_from(n % 300).unwrap(), None);
            let body = format!("{{\"n\":{n},\"pad\":\"{}\"}}", "p".repeat(n % 13));
            entry.request_body = if n.is_multiple_of(5) {
                RequestBody::None
            } else {
                RequestBody::Read(Kept {
                    bytes: Bytes::from(body),
                    truncated: n.is_multiple_of(3),
                })
            };
            entry.response_body = (!n.is_multiple_of(4)).then(|| Kept {
                bytes: Bytes::from(format!("answer {n}")),
                truncated: false,
            });
            entry.credential = match n % 3 {
                0 => None,
                1 => Some(CredentialId::ApiKey(format!("KEY{n}"))),
                _ => Some(CredentialId::Token(format!("tok-{n}"))),
            };
            entry.fault = n.is_multiple_of(7).then(|| format!("rule-{n}"));
            entry.target = Target::of(&format!("/v2/calls/{n}?page={n}").parse::<Uri>().unwrap());
            entry
        };
        let same = |a: &Entry, b: &Entry| {
            assert_eq!(a.time_micros, b.time_micros);
            assert_eq!(a.status, b.status);
            assert_eq!(a.company, b.company);
            assert_eq!(a.credential, b.credential);
            assert_eq!(a.fault, b.fault);
            assert_eq!(a.target.text, b.target.text);
            assert_eq!(a.path(), b.path());
            let bodies = |e: &Entry| {
                (
                    e.request_body.kept().map(|k| (k.bytes, k.truncated)),
                    e.response_body.clone().map(|k| (k.bytes, k.truncated)),
                )
            };
            assert_eq!(bodies(a), bodies(b));
        };
        for n in 0..100 {
            journal.push(made(n));
            let kept = journal.entries();
            let first = (n + 1).saturating_sub(7);
            assert_eq!(kept.len(), n + 1 - first);
            for (entry, n) in kept.iter().zip(first..) {
                same(entry, &made(n));
            }
            let ring = journal.ring();
            let held: usize = kept
                .iter()
                .map(|e| {
                    e.target.text.len()
                        + e.credential.as_ref().map_or(0, |c| match c {
                            CredentialId::ApiKey(k) | CredentialId::Token(k) => k.len(),
                        })
                        + e.fault.as_ref().map_or(0, String::len)
                        + e.request_body.kept().map_or(0, |k| k.bytes.len())
                        + e.response_body.as_ref().map_or(0, |k| k.bytes.len())
                })
                .sum();
            assert_eq!(ring.bytes.len(), held);
        }

        // A burst of large bodies, then small ones again.
        for n in 0..7 {
            let mut big = made(n);
            big.request_body = RequestBody::Read(Kept::of(&Bytes::from(vec![b'b'; BODY_LIMIT])));
            journal.push(big);
        }
        assert!(journal.ring().bytes.capacity() >= 7 * BODY_LIMIT);
        for n in 0..7 {
            journal.push(made(n));
        }
        assert!(journal.ring().bytes.capacity() < 7 * BODY_LIMIT);
        assert_eq!(journal.entries().len(), 7);
        assert_eq!(journal.clear(), 7);
        assert!(journal.entries().is_empty());
        journal.push(made(1));
        same(&journal.entries()[0], &made(1));
    }

    #[test]
    fn capacity_zero_keeps_nothing() {
        let journal = Journal::new(0);
        assert!(!journal.is_on());
        journal.push(entry(0, None));
        assert!(journal.entries().is_empty());
    }

    #[test]
    fn filters_must_all_hold() {
        let journal = Journal::new(10);
        for n in 0..5 {
            journal.push(entry(n, None));
        }
        let count = |filter: Filter| journal.count(&filter);
        assert_eq!(
            count(Filter {
                status: StatusMatch::parse("2xx"),
                ..Filter::default()
            }),
            5
        );
        assert_eq!(
            count(Filter {
                status: StatusMatch::parse("203"),
                ..Filter::default()
            }),
            1
        );
        assert_eq!(
            count(Filter {
                since_micros: Some(3_000_000),
                ..Filter::default()
            }),
            2
        );
        assert_eq!(
            count(Filter {
                since_micros: Some(3_000_000),
                method: Some(Method::DELETE),
                ..Filter::default()
            }),
            0
        );
        assert_eq!(
            count(Filter {
                path: Some(PathMatch::parse("/v2/calls/*")),
                company: CompanyId::from_i64(1),
                ..Filter::default()
            }),
            5
        );
        assert_eq!(
            count(Filter {
                path: Some(PathMatch::parse("/v2/calls")),
                ..Filter::default()
            }),
            0
        );
        assert_eq!(
            count(Filter {
                company: CompanyId::from_i64(2),
                ..Filter::default()
            }),
            0
        );
    }

    #[test]
    fn status_patterns() {
        assert_eq!(StatusMatch::parse("429"), Some(StatusMatch::Exact(429)));
        assert_eq!(StatusMatch::parse("4xx"), Some(StatusMatch::Class(4)));
        assert_eq!(StatusMatch::parse("5XX"), Some(StatusMatch::Class(5)));
        assert_eq!(StatusMatch::parse("6xx"), None);
        assert_eq!(StatusMatch::parse("42"), None);
        assert_eq!(StatusMatch::parse("abc"), None);
        assert!(!StatusMatch::Class(4).matches(500));
    }

    #[test]
    fn includes_objects_by_subset_arrays_by_containment_scalars_by_value() {
        let body = json!({
            "callAccessList": [
                {"callId": "1", "userIds": ["10", "11"]},
                {"callId": "2", "userIds": ["12"]}
            ],
            "n": 1
        });
        assert!(includes(&body, &json!({})));
        assert!(includes(&body, &json!({"callAccessList": []})));
        assert!(includes(
            &body,
            &json!({"callAccessList": [{"callId": "2"}, {"userIds": ["11"]}]})
        ));
        assert!(includes(
            &body,
            &json!({"callAccessList": [{"callId": "1", "userIds": ["11", "10"]}]})
        ));
        assert!(includes(&body, &json!({"n": 1.0})));
        // A user of another call, a missing key, a string for a number, an
        // object for an array: none of them.
        assert!(!includes(
            &body,
            &json!({"callAccessList": [{"callId": "2", "userIds": ["10"]}]})
        ));
        assert!(!includes(&body, &json!({"other": 1})));
        assert!(!includes(&body, &json!({"n": "1"})));
        assert!(!includes(
            &body,
            &json!({"callAccessList": {"callId": "1"}})
        ));
        assert!(!includes(&json!([1, 2]), &json!(1)));
        assert!(includes(&json!("x"), &json!("x")));
        assert!(includes(&json!(null), &json!(null)));
    }

    #[test]
    fn body_includes_needs_a_whole_json_body() {
        let journal = Journal::new(10);
        journal.push(entry(0, Some(r#"{"a":{"b":[1,2,3]}}"#)));
        journal.push(entry(1, Some("not json")));
        journal.push(entry(2, None));
        let filter = |pattern: Value| Filter {
            body_includes: Some(pattern),
            ..Filter::default()
        };
        assert_eq!(journal.count(&filter(json!({"a": {"b": [3]}}))), 1);
        assert_eq!(journal.count(&filter(json!({}))), 1);
        assert_eq!(journal.count(&filter(json!({"a": {"b": [4]}}))), 0);
    }

    #[test]
    fn bodies_are_kept_up_to_the_limit() {
        let small = Bytes::from_static(b"{\"a\":1}");
        let kept = Kept::of(&small);
        assert!(!kept.truncated);
        assert_eq!(kept.shown(), json!({"a": 1}));
        // Shared, not copied.
        assert_eq!(kept.bytes.as_ptr(), small.as_ptr());

        let large = Bytes::from(vec![b'x'; BODY_LIMIT + 10]);
        let kept = Kept::of(&large);
        assert!(kept.truncated);
        assert_eq!(kept.bytes.len(), BODY_LIMIT);
        assert_eq!(kept.json(), None);
        assert_eq!(kept.shown(), Value::String("x".repeat(BODY_LIMIT)));

        let text = Kept::of(&Bytes::from_static(b"caf\xc3\xa9 \xff"));
        assert_eq!(text.shown(), Value::String("café \u{fffd}".to_owned()));
    }

    #[test]
    fn a_capture_keeps_what_was_read_and_says_when_it_was_cut() {
        let capture = Capture::new(10);
        capture.push(b"{\"a\":");
        assert!(!capture.is_done());
        assert!(capture.take().is_none());
        assert!(capture.kept().truncated);
        capture.push(b"1}");
        capture.finish(true);
        // Later bytes (a drain after the cut) are ignored.
        capture.push(b"more");
        let kept = capture.take().unwrap();
        assert_eq!(kept.shown(), json!({"a": 1}));
        assert!(!kept.truncated);

        let dropped = Capture::new(0);
        dropped.push(b"{\"a\"");
        dropped.finish(false);
        let kept = dropped.take().unwrap();
        assert!(kept.truncated);
        assert_eq!(kept.shown(), Value::String("{\"a\"".to_owned()));

        let long = Capture::new(0);
        long.push(&vec![b'y'; BODY_LIMIT - 1]);
        long.push(b"zz");
        assert!(long.is_done());
        let kept = long.take().unwrap();
        assert!(kept.truncated);
        assert_eq!(kept.bytes.len(), BODY_LIMIT);
        assert_eq!(kept.bytes[BODY_LIMIT - 1], b'z');
    }

    #[tokio::test]
    async fn the_tee_passes_the_body_on_unchanged_and_keeps_it() {
        let clock = Clock::manual();
        let request = Request::builder()
            .method(Method::PUT)
            .uri("/v2/calls/users-access?x=1")
            .body(Body::from("{\"k\":[1,2]}"))
            .unwrap();
        let (request, recording) = Recording::start(request, &clock);
        assert_eq!(recording.target.query(), Some("x=1"));
        assert_eq!(recording.target.path(), "/v2/calls/users-access");
        assert_eq!(recording.time_micros, clock.now_micros());
        let body = request.into_body();
        assert_eq!(body.size_hint().exact(), Some(11));
        let read = body.collect().await.unwrap().to_bytes();
        assert_eq!(&read[..], b"{\"k\":[1,2]}");

        let journal = Journal::new(4);
        let context = Arc::new(RequestContext::new());
        let answer = Response::new(Body::from("{\"ok\":true}"));
        let answer = recording
            .record(&journal, &context, answer, Duration::from_millis(3))
            .await;
        let sent = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&sent[..], b"{\"ok\":true}");
        let entries = journal.entries();
        let entry = &entries[0];
        assert_eq!(entry.request_id(), context.id);
        assert_eq!(entry.path(), "/v2/calls/users-access");
        assert_eq!(entry.query(), Some("x=1"));
        assert_eq!(
            entry.request_body.kept().unwrap().shown(),
            json!({"k": [1, 2]})
        );
        assert_eq!(
            entry.response_body.as_ref().unwrap().shown(),
            json!({"ok": true})
        );
        assert_eq!(entry.latency, Duration::from_millis(3));
    }

    #[tokio::test]
    async fn a_body_read_after_the_answer_is_waited_for() {
        let clock = Clock::manual();
        let request = Request::builder()
            .method(Method::PUT)
            .uri("/v2/calls/users-access")
            .body(Body::from("{\"late\":1}"))
            .unwrap();
        let (request, recording) = Recording::start(request, &clock);
        let journal = Journal::new(4);
        let context = Arc::new(RequestContext::new());
        let answer = recording
            .record(
                &journal,
                &context,
                Response::new(Body::empty()),
                Duration::ZERO,
            )
            .await;
        drop(answer);
        assert!(journal.entries()[0].request_body.kept().unwrap().truncated);
        // The body is read after the answer, as body::watch does.
        let reader = tokio::spawn(async move {
            tokio::task::yield_now().await;
            request.into_body().collect().await.unwrap()
        });
        journal.settle(Duration::from_secs(30)).await;
        let kept = journal.entries()[0].request_body.kept().unwrap();
        assert_eq!(kept.shown(), json!({"late": 1}));
        assert!(!kept.truncated);
        reader.await.unwrap();
    }

    #[test]
    fn times_keep_microseconds() {
        let text = format_micros(1_893_456_000_123_456);
        assert_eq!(text, "2030-01-01T00:00:00.123456Z");
        assert_eq!(parse_micros(&text), Some(1_893_456_000_123_456));
        assert_eq!(
            parse_micros("2030-01-01T00:00:00Z"),
            Some(1_893_456_000_000_000)
        );
        assert_eq!(parse_micros("yesterday"), None);
    }

    #[test]
    fn a_target_splits_path_and_query() {
        let plain = Target::of(&Uri::from_static("/v2/users"));
        assert_eq!((plain.path(), plain.query()), ("/v2/users", None));
        let asked = Target::of(&Uri::from_static("/v2/users?cursor=a%3Fb&x="));
        assert_eq!(
            (asked.path(), asked.query()),
            ("/v2/users", Some("cursor=a%3Fb&x="))
        );
        let empty = Target::of(&Uri::from_static("/v2/users?"));
        assert_eq!(empty.query(), Some(""));
    }

    #[test]
    fn only_gong_paths_are_recorded() {
        assert!(records("/v2/calls/users-access"));
        assert!(records("/v2/nothing-here"));
        assert!(!records("/v2x"));
        assert!(!records("/admin/v1/requests"));
        assert!(!records("/healthz"));
    }
}
