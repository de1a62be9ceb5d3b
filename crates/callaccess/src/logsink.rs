//! Log lines written in batches by a thread of their own.
//!
//! A request formats its log line and appends it to a shared buffer; that
//! is all it does. A thread takes the whole buffer every
//! [`FLUSH_INTERVAL`] (sooner once [`WAKE_AT`] bytes wait) and writes it
//! with one system call. Requests never wake the thread for an ordinary
//! line: under load a wake-up per line, or a thread that polls for lines,
//! cost more than the lines themselves (docs/PERFORMANCE.md), while a
//! timer costs one wake-up per interval whatever the rate.
//!
//! A line therefore reaches stderr at most [`FLUSH_INTERVAL`] after it was
//! logged. Nothing is dropped: when [`MAX_PENDING`] bytes are waiting (the
//! output is blocked), the request that logs waits for room. Dropping the
//! [`LogGuard`] writes what is left; lines logged after that are written
//! directly. Lines still in the buffer when the process is killed with
//! `kill -9` are lost with it.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(10);

/// Bytes waiting at which the line that crosses it wakes the thread early.
pub const WAKE_AT: usize = 256 * 1024;

/// Bytes of log lines allowed to wait for the thread before a request that
/// logs waits for room.
pub const MAX_PENDING: usize = 1024 * 1024;

type Output = Box<dyn Write + Send>;

struct State {
    pending: Vec<u8>,
    /// The thread is waiting for its timer (a burst may wake it early).
    asleep: bool,
    /// The guard was dropped: the thread writes what is left and stops.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// [`WAKE_AT`] bytes are waiting, or the sink closed.
    filled: Condvar,
    /// The thread took the buffer: there is room again.
    drained: Condvar,
    /// The output, used by the thread, and directly once closed.
    output: Mutex<Output>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only bytes in a buffer.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_out(&self, bytes: &[u8]) {
        let mut output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        // There is nowhere left to report a failure to write the log.
        let _ = output.write_all(bytes);
        let _ = output.flush();
    }

    fn append(&self, line: &[u8]) {
        let mut state = self.lock();
        while state.pending.len() >= MAX_PENDING && !state.closed {
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        // Closed, before or while this line waited for room: the thread is
        // gone or about to be, so the line is written here.
        if state.closed {
            drop(state);
            self.write_out(line);
            return;
        }
        let before = state.pending.len();
        state.pending.extend_from_slice(line);
        let wake = state.asleep && before < WAKE_AT && state.pending.len() >= WAKE_AT;
        drop(state);
        if wake {
            self.filled.notify_one();
        }
    }

    /// The thread's loop: wait for the timer (or a burst), take everything
    /// waiting, write it, repeat.
    fn run(&self) {
        let mut batch = Vec::new();
        loop {
            let mut state = self.lock();
            if state.pending.len() < WAKE_AT && !state.closed {
                state.asleep = true;
                state = self
                    .filled
                    .wait_timeout(state, FLUSH_INTERVAL)
                    .map_or_else(|e| e.into_inner().0, |(state, _)| state);
                state.asleep = false;
            }
            if state.pending.is_empty() {
                if state.closed {
                    return;
                }
                continue;
            }
            std::mem::swap(&mut batch, &mut state.pending);
            drop(state);
            self.drained.notify_all();
            self.write_out(&batch);
            batch.clear();
        }
    }
}

/// The writer handed to the log subscriber; cheap to clone.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

/// Stops the sink's thread after it has written every line; hold it until
/// the process ends.
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogSink {
    /// Starts the thread that writes to `output`.
    pub fn start(output: impl Write + Send + 'static) -> std::io::Result<(Self, LogGuard)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                pending: Vec::with_capacity(64 * 1024),
                asleep: false,
                closed: false,
            }),
            filled: Condvar::new(),
            drained: Condvar::new(),
            output: Mutex::new(Box::new(output)),
        });
        let running = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("callaccess-log".to_owned())
            .spawn(move || running.run())?;
        Ok((
            Self {
                shared: Arc::clone(&shared),
            },
            LogGuard {
                shared,
                thread: Some(thread),
            },
        ))
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.filled.notify_one();
        self.shared.drained.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.shared.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LogSink;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use super::*;

    /// An output that keeps what it is given and counts the writes.
    #[derive(Clone, Default)]
    struct Recorder {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes.lock().unwrap().extend_from_slice(buf);
            *self.writes.lock().unwrap() += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_and_in_each_threads_order() {
        let recorder = Recorder::default();
        let (sink, guard) = LogSink::start(recorder.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        sink.write_all(format!("t{t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);

        let text = String::from_utf8(recorder.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        for t in 0..4 {
            let own: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("t{t} ")))
                .collect();
            let expected: Vec<String> = (0..5_000).map(|i| format!("t{t} line {i}")).collect();
            assert_eq!(own, expected);
        }
    }

    /// An output whose first write waits until the test lets it go.
    struct Gate {
        inner: Recorder,
        open: Option<std::sync::mpsc::Receiver<()>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Some(open) = self.open.take() {
                open.recv().unwrap();
            }
            self.inner.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_that_arrive_during_a_write_go_out_together_in_the_next_one() {
        let recorder = Recorder::default();
        let (release, open) = std::sync::mpsc::channel();
        let gate = Gate {
            inner: recorder.clone(),
            open: Some(open),
        };
        let (mut sink, guard) = LogSink::start(gate).unwrap();
        sink.write_all(b"first\n").unwrap();
        // Wait until the thread has taken the first line and is stuck in
        // its write, so the next lines can only queue behind it.
        while !sink.shared.lock().pending.is_empty() {
            std::thread::yield_now();
        }
        for i in 0..100 {
            sink.write_all(format!("queued {i}\n").as_bytes()).unwrap();
        }
        release.send(()).unwrap();
        drop(guard);
        assert_eq!(
            *recorder.writes.lock().unwrap(),
            2,
            "one write, then one for all 100"
        );
        let text = String::from_utf8(recorder.bytes.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 101);
    }

    #[test]
    fn a_line_logged_while_idle_is_written_without_waiting_for_more() {
        let recorder = Recorder::default();
        let (mut sink, _guard) = LogSink::start(recorder.clone()).unwrap();
        sink.write_all(b"alone\n").unwrap();
        // Poll (no timed assertion): the line must appear with no further
        // line and no flush to push it out; the timer writes it.
        while recorder.bytes.lock().unwrap().as_slice() != b"alone\n" {
            std::thread::yield_now();
        }
    }

    #[test]
    fn lines_after_the_guard_is_dropped_are_written_directly() {
        let recorder = Recorder::default();
        let (mut sink, guard) = LogSink::start(recorder.clone()).unwrap();
        sink.write_all(b"before\n").unwrap();
        drop(guard);
        sink.write_all(b"after\n").unwrap();
        assert_eq!(
            recorder.bytes.lock().unwrap().as_slice(),
            b"before\nafter\n"
        );
    }
}
