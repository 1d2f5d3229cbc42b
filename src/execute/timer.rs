//! A precise timer for the send schedule.
//!
//! tokio's timers have millisecond granularity (deadlines are rounded up to
//! the next millisecond tick, and `epoll_wait` takes its timeout in
//! milliseconds), which alone would put up to 1 ms of `schedule_lag` on
//! every request. On Linux the schedule sleeps on a `timerfd` registered
//! with the runtime's reactor instead: the kernel's high-resolution timer
//! wakes `epoll_wait` within microseconds of the intended instant, and the
//! load generator's single thread keeps serving connections while it
//! waits. Elsewhere it falls back to tokio's sleep.
//!
//! A busy-polling timer ([`Timer::busy_poll`]) does not sleep through a
//! wait shorter than [`BUSY_WAIT`]: it polls the reactor without blocking
//! until the instant, so the thread never parks between requests at high
//! rates. A parked thread must be woken for every response that arrives;
//! a target on the same machine pays for those wake-ups (nginx on
//! loopback: 10.1 µs of CPU per request at 100,000 req/s against 9.0
//! when the load thread polls), and falls behind sooner.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A long wait is cut into slices this long so a stop request is seen
/// promptly even when the next send is minutes away.
const STOP_CHECK: Duration = Duration::from_millis(50);

/// A busy-polling timer polls through waits shorter than this and sleeps
/// through longer ones (a quiet stretch of the schedule).
pub const BUSY_WAIT: Duration = Duration::from_millis(1);

pub struct Timer {
    #[cfg(target_os = "linux")]
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
    busy: bool,
}

impl Timer {
    /// Must be called inside a runtime with I/O enabled.
    #[cfg(target_os = "linux")]
    pub fn new() -> io::Result<Timer> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        // SAFETY: the AsyncFd owns the OwnedFd, which stays open and the
        // same descriptor until the AsyncFd is dropped.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)?
        };
        Ok(Timer { fd, busy: false })
    }

    #[cfg(not(target_os = "linux"))]
    pub fn new() -> io::Result<Timer> {
        Ok(Timer { busy: false })
    }

    /// Poll instead of sleeping through waits shorter than [`BUSY_WAIT`]:
    /// the thread stays on its core, serving connections as their data
    /// arrives, and is never woken.
    pub fn busy_poll(mut self, on: bool) -> Timer {
        self.busy = on;
        self
    }

    /// Waits until `deadline`; returns `false` early when `stop` is set.
    pub async fn sleep_until(&mut self, deadline: Instant, stop: &AtomicBool) -> io::Result<bool> {
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(false);
            }
            let now = Instant::now();
            if deadline <= now {
                return Ok(true);
            }
            let wait = (deadline - now).min(STOP_CHECK);
            if self.busy && wait < BUSY_WAIT {
                // Back to the runtime, which polls the reactor without
                // blocking when a task yielded, then runs the
                // connections it woke.
                tokio::task::yield_now().await;
                continue;
            }
            self.sleep(wait).await?;
        }
    }

    #[cfg(target_os = "linux")]
    async fn sleep(&mut self, wait: Duration) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            // A zero it_value would disarm the timer: wait at least 1 ns.
            it_value: libc::timespec {
                tv_sec: wait.as_secs() as libc::time_t,
                tv_nsec: wait.subsec_nanos().max(u32::from(wait.as_secs() == 0)) as libc::c_long,
            },
        };
        // SAFETY: valid descriptor, valid pointer to a local, no old value.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // Arming the timer resets its expiration count, and the reactor
        // registers it edge-triggered: each expiry wakes `epoll_wait`
        // whether or not the count was read. So the count is never read
        // (a `read` per request saved); the readiness is forgotten here,
        // and `sleep_until` checks the clock, so a stale wake-up only
        // costs one more turn of its loop.
        let mut guard = self.fd.readable().await?;
        guard.clear_ready();
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    async fn sleep(&mut self, wait: Duration) -> io::Result<()> {
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn wakes_at_the_deadline_not_a_millisecond_later() {
        let rt = runtime();
        let stop = AtomicBool::new(false);
        rt.block_on(async {
            let mut t = Timer::new().unwrap();
            let mut lags = Vec::new();
            for _ in 0..50 {
                let deadline = Instant::now() + Duration::from_micros(300);
                assert!(t.sleep_until(deadline, &stop).await.unwrap());
                let now = Instant::now();
                assert!(now >= deadline, "woke early");
                lags.push(now - deadline);
            }
            lags.sort();
            // The median, not the tail: a loaded CI machine may preempt
            // the thread now and then. tokio's own timer would be ~0.7 ms.
            let median = lags[lags.len() / 2];
            if cfg!(target_os = "linux") {
                assert!(median < Duration::from_micros(500), "median lag {median:?}");
            }
        });
    }

    #[test]
    fn a_busy_polling_timer_reaches_the_deadline_and_lets_other_tasks_run() {
        let rt = runtime();
        let stop = AtomicBool::new(false);
        rt.block_on(async {
            // A task woken by the reactor meanwhile (a connection's data)
            // runs while the timer polls: the timer does not hog the thread.
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let other = tokio::task::spawn(async move {
                tokio::time::sleep(Duration::from_micros(100)).await;
                tx.send(()).ok();
            });
            let mut t = Timer::new().unwrap().busy_poll(true);
            let deadline = Instant::now() + Duration::from_millis(20);
            assert!(t.sleep_until(deadline, &stop).await.unwrap());
            assert!(Instant::now() >= deadline, "woke early");
            // The other task finished during the wait (its 100 µs sleep
            // rounds up to tokio's 1 ms tick, well within the 20 ms).
            assert!(other.is_finished(), "the polling starved the other task");
            rx.await.unwrap();
        });
    }

    #[test]
    fn a_stop_request_ends_a_long_wait() {
        let rt = runtime();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            s2.store(true, Ordering::Relaxed);
        });
        rt.block_on(async {
            let mut t = Timer::new().unwrap();
            let started = Instant::now();
            let reached = t
                .sleep_until(Instant::now() + Duration::from_secs(60), &stop)
                .await
                .unwrap();
            assert!(!reached);
            assert!(started.elapsed() < Duration::from_secs(10));
        });
    }
}
