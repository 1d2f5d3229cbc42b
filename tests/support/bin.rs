//! Runs the built `replay` binary: always with a deadline (a hang fails the
//! test with what the child printed, rather than stalling the suite), and
//! with stdout and stderr drained on threads from the start, so that a
//! chatty child never blocks on a full pipe.
//!
//! [`Replay::run`] runs to the end; [`Replay::spawn`] hands back a
//! [`Spawned`] child that a test can wait on (a line on stderr or stdout, a
//! file, any condition) and then signal, before [`Spawned::finish`].

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_replay");

/// The deadline of a run unless [`Replay::deadline`] says otherwise.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// The variables replay takes a proxy from (curl's).
pub const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// How often a polling wait looks again.
const POLL: Duration = Duration::from_millis(5);

/// A `replay` command line, to [`run`](Replay::run) or
/// [`spawn`](Replay::spawn).
pub struct Replay {
    cmd: Command,
    deadline: Duration,
}

impl Replay {
    /// `replay ARGS`, with `NO_COLOR=1` and no standard input.
    pub fn new<I, S>(args: I) -> Replay
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(BIN);
        cmd.args(args);
        Replay::of(cmd)
    }

    /// `replay ARGS` started by `sh -c` after `prefix` (`ulimit ...`); the
    /// shell execs into replay, so the child is replay itself.
    pub fn through_shell<I, S>(prefix: &str, args: I) -> Replay
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("{prefix}; exec \"$0\" \"$@\""))
            .arg(BIN)
            .args(args);
        Replay::of(cmd)
    }

    fn of(mut cmd: Command) -> Replay {
        // The machine's proxy settings are not the test's: a test that
        // wants a proxy sets one with `env`.
        for v in PROXY_VARIABLES {
            cmd.env_remove(v);
        }
        cmd.env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Replay {
            cmd,
            deadline: DEADLINE,
        }
    }

    pub fn current_dir(mut self, dir: &Path) -> Replay {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Replay {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Replay {
        self.cmd.env_remove(key);
        self
    }

    /// Standard output goes to `to` instead of being captured.
    pub fn stdout(mut self, to: Stdio) -> Replay {
        self.cmd.stdout(to);
        self
    }

    /// Standard error goes to `to` instead of being captured.
    pub fn stderr(mut self, to: Stdio) -> Replay {
        self.cmd.stderr(to);
        self
    }

    /// Killed, and the test failed, this long after the start.
    pub fn deadline(mut self, d: Duration) -> Replay {
        self.deadline = d;
        self
    }

    pub fn spawn(mut self) -> Spawned {
        let command = format!("{:?}", self.cmd);
        let started = Instant::now();
        let mut child = self.cmd.spawn().expect("start the replay binary");
        let stdout = Pipe::drain(child.stdout.take());
        let stderr = Pipe::drain(child.stderr.take());
        Spawned {
            command,
            child,
            status: None,
            started,
            limit: self.deadline,
            stdout,
            stderr,
            peak_rss_kib: 0,
        }
    }

    /// Runs to the end (or the deadline).
    pub fn run(self) -> Run {
        self.spawn().finish()
    }
}

/// `replay ARGS` to the end, within [`DEADLINE`].
pub fn replay<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Replay::new(args).run()
}

/// Runs `replay ARGS`, asserts it succeeded, returns stdout.
pub fn replay_ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let r = replay(args);
    assert_eq!(r.code, Some(0), "replay failed: {}", r.output());
    r.stdout
}

/// `replay inspect --json INPUT [extra...]` parsed.
pub fn inspect_json(input: &Path, extra: &[&str]) -> Value {
    let mut args: Vec<&OsStr> = vec![OsStr::new("inspect"), OsStr::new("--json")];
    args.push(input.as_os_str());
    args.extend(extra.iter().map(OsStr::new));
    serde_json::from_str(&replay_ok(args)).expect("inspect --json prints JSON")
}

/// A finished `replay` run: exit code, output, wall time and peak memory.
pub struct Run {
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From the start to the exit.
    pub elapsed: Duration,
    /// When the exit was seen.
    pub exited: Instant,
    /// Peak resident set size (VmHWM) seen while it ran, in KiB (Linux;
    /// 0 elsewhere).
    pub peak_rss_kib: u64,
}

impl Run {
    /// Everything about the run, for assertion messages.
    pub fn output(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }

    /// How long after `t` (a signal, say) it exited.
    pub fn exited_after(&self, t: Instant) -> Duration {
        self.exited.saturating_duration_since(t)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Signal {
    /// SIGINT, as Ctrl-C sends.
    Int,
    /// SIGTERM, as CI and process managers send.
    Term,
}

/// A running `replay`. Dropped before [`finish`](Spawned::finish) (a test
/// that failed half-way), it is killed.
pub struct Spawned {
    /// The command line, for failure messages.
    command: String,
    child: Child,
    /// Set once the exit has been seen (the pid is then no longer ours to
    /// signal).
    status: Option<(ExitStatus, Instant)>,
    started: Instant,
    limit: Duration,
    stdout: Pipe,
    stderr: Pipe,
    peak_rss_kib: u64,
}

impl Spawned {
    /// Waits until a line of standard error contains `text`; returns the
    /// line. Fails the test if the child ends first or the deadline passes.
    pub fn wait_for_stderr(&mut self, text: &str) -> String {
        let found = self.stderr.wait_for_line(text, self.deadline());
        self.found(found, &format!("{text:?} on stderr"))
    }

    /// Waits until `n` lines of standard error contain `text`; returns
    /// them. Fails the test if the child ends first or the deadline passes.
    pub fn wait_for_stderr_lines(&mut self, text: &str, n: usize) -> Vec<String> {
        let found = self.stderr.wait_for_lines(text, n, self.deadline());
        match found {
            Ok(lines) => lines,
            Err(Ended::Closed) => self.fail(&format!(
                "the pipe closed before {n} lines with {text:?} on stderr"
            )),
            Err(Ended::Deadline) => self.fail(&format!(
                "no {n} lines with {text:?} on stderr within {:?}",
                self.limit
            )),
        }
    }

    /// As [`wait_for_stderr`](Spawned::wait_for_stderr), on standard output.
    pub fn wait_for_stdout(&mut self, text: &str) -> String {
        let found = self.stdout.wait_for_line(text, self.deadline());
        self.found(found, &format!("{text:?} on stdout"))
    }

    fn found(&mut self, found: Result<String, Ended>, what: &str) -> String {
        match found {
            Ok(line) => line,
            Err(Ended::Closed) => self.fail(&format!("the pipe closed before {what}")),
            Err(Ended::Deadline) => self.fail(&format!("no {what} within {:?}", self.limit)),
        }
    }

    /// Waits until `path` exists.
    pub fn wait_for_file(&mut self, path: &Path) {
        self.wait_until(&format!("{} to appear", path.display()), || path.exists());
    }

    /// Waits until `done()` holds, looking every few milliseconds. Fails
    /// the test if the child exits first or the deadline passes.
    pub fn wait_until(&mut self, what: &str, mut done: impl FnMut() -> bool) {
        loop {
            if done() {
                return;
            }
            if self.poll() {
                // What it did just before exiting counts.
                if done() {
                    return;
                }
                self.fail(&format!("exited while waiting for {what}"));
            }
            if Instant::now() > self.deadline() {
                self.fail(&format!("no {what} within {:?}", self.limit));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Fails the test, with the child's output, unless `happened` (the
    /// outcome of a wait on something the child should cause).
    pub fn ensure(&mut self, happened: bool, what: &str) {
        if !happened {
            self.fail(&format!("no {what}"));
        }
    }

    /// Sends `signal`. Fails the test if the child has already exited.
    pub fn signal(&mut self, signal: Signal) {
        if self.poll() {
            self.fail(&format!("exited before {signal:?} could be sent"));
        }
        send(self.child.id(), signal);
    }

    /// Waits for the exit (killing the child at the deadline) and collects
    /// its output.
    pub fn finish(mut self) -> Run {
        let (status, exited) = loop {
            if self.poll() {
                break self.status.unwrap();
            }
            if Instant::now() > self.deadline() {
                self.fail(&format!("did not finish within {:?} (killed)", self.limit));
            }
            std::thread::sleep(POLL);
        };
        Run {
            code: status.code(),
            stdout: self.stdout.join(),
            stderr: self.stderr.join(),
            elapsed: exited - self.started,
            exited,
            peak_rss_kib: self.peak_rss_kib,
        }
    }

    fn deadline(&self) -> Instant {
        self.started + self.limit
    }

    /// Samples the peak RSS, and notes the exit; true once exited.
    fn poll(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        if let Some(kib) = peak_rss_kib(self.child.id()) {
            self.peak_rss_kib = self.peak_rss_kib.max(kib);
        }
        if let Some(s) = self.child.try_wait().expect("wait for replay") {
            self.status = Some((s, Instant::now()));
        }
        self.status.is_some()
    }

    /// Kills the child and fails the test with `why` and the output.
    fn fail(&mut self, why: &str) -> ! {
        if !self.poll() {
            let _ = self.child.kill();
            let s = self.child.wait().expect("wait for replay");
            self.status = Some((s, Instant::now()));
        }
        let (status, _) = self.status.unwrap();
        panic!(
            "{} (pid {}) {why}\nexit {status} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.command,
            self.child.id(),
            self.started.elapsed(),
            self.stdout.join(),
            self.stderr.join()
        );
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends `signal` to the process `pid` (a child of this test).
fn send(pid: u32, signal: Signal) {
    #[cfg(target_os = "linux")]
    {
        let sig = match signal {
            Signal::Int => libc::SIGINT,
            Signal::Term => libc::SIGTERM,
        };
        let pid = libc::pid_t::try_from(pid).expect("a pid");
        // SAFETY: kill(2) takes plain integers; `pid` is our own child,
        // not yet reaped (checked by the caller), so it is not reused.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {signal:?}): {}",
            std::io::Error::last_os_error()
        );
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        // libc is a dependency on Linux only.
        let name = match signal {
            Signal::Int => "-INT",
            Signal::Term => "-TERM",
        };
        let ok = Command::new("kill")
            .args([name, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill {name} {pid}");
    }
    #[cfg(not(unix))]
    panic!("cannot send {signal:?} to {pid}: no signals here");
}

/// A pipe whose reading end is already closed: every write to it fails
/// with EPIPE (`2>&1 | head -1` once `head` has gone). Linux only.
pub fn closed_pipe() -> Stdio {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::FromRawFd;
        let mut fds = [0; 2];
        // SAFETY: plain syscall filling two descriptors that are owned below.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors from pipe(2), each owned once.
        let (read, write) = unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        drop(read);
        Stdio::from(write)
    }
    #[cfg(not(target_os = "linux"))]
    panic!("closed_pipe is for Linux")
}

/// `VmHWM` of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Why a wait on a pipe ended without the text.
enum Ended {
    Closed,
    Deadline,
}

/// One of the child's output pipes, read to the end on a thread into a
/// buffer that a test can wait on.
struct Pipe {
    shared: Arc<(Mutex<Captured>, Condvar)>,
    reader: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    closed: bool,
}

impl Pipe {
    /// Starts reading `pipe`; `None` (not captured) reads as empty.
    fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> Pipe {
        let shared = Arc::new((Mutex::new(Captured::default()), Condvar::new()));
        let Some(mut pipe) = pipe else {
            shared.0.lock().unwrap().closed = true;
            return Pipe {
                shared,
                reader: None,
            };
        };
        let s = shared.clone();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                let n = pipe.read(&mut chunk).unwrap_or(0);
                let mut c = s.0.lock().unwrap();
                if n == 0 {
                    c.closed = true;
                } else {
                    c.bytes.extend_from_slice(&chunk[..n]);
                }
                s.1.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        Pipe {
            shared,
            reader: Some(reader),
        }
    }

    /// The first complete line containing `text` (or the unterminated
    /// last one, once the pipe is closed).
    fn wait_for_line(&self, text: &str, deadline: Instant) -> Result<String, Ended> {
        self.wait_for_lines(text, 1, deadline)
            .map(|mut l| l.swap_remove(0))
    }

    /// The first `n` complete lines containing `text` (the unterminated
    /// last one counts once the pipe is closed).
    fn wait_for_lines(
        &self,
        text: &str,
        n: usize,
        deadline: Instant,
    ) -> Result<Vec<String>, Ended> {
        let (lock, changed) = &*self.shared;
        let mut c = lock.lock().unwrap();
        loop {
            let all = String::from_utf8_lossy(&c.bytes);
            let complete = if c.closed {
                &all[..]
            } else {
                all.rfind('\n').map_or("", |i| &all[..i])
            };
            let found: Vec<String> = complete
                .lines()
                .filter(|l| l.contains(text))
                .take(n)
                .map(str::to_string)
                .collect();
            if found.len() >= n.max(1) {
                return Ok(found);
            }
            if c.closed {
                return Err(Ended::Closed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Ended::Deadline);
            }
            c = changed.wait_timeout(c, left).unwrap().0;
        }
    }

    /// Everything read, once the pipe has closed (the child has exited).
    fn join(&mut self) -> String {
        if let Some(r) = self.reader.take() {
            r.join().expect("the pipe reader");
        }
        String::from_utf8_lossy(&self.shared.0.lock().unwrap().bytes).into_owned()
    }
}
