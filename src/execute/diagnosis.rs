//! [`Diagnosis`]: the first detailed message of each error kind and how
//! many requests failed with it, warmup included — what a report shows
//! beside the bare counts, and what `--no-fail-fast`'s default stops on.
//!
//! Written only on the failure path (a set-once slot and a relaxed counter
//! per kind); a successful request never touches it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::human;
use crate::metrics::ErrorKind;

/// Per error kind: the first message and the count of failed requests.
#[derive(Debug)]
pub struct Diagnosis {
    first: Vec<OnceLock<String>>,
    counts: Vec<AtomicU64>,
}

impl Default for Diagnosis {
    fn default() -> Diagnosis {
        Diagnosis {
            first: ErrorKind::ALL.iter().map(|_| OnceLock::new()).collect(),
            counts: ErrorKind::ALL.iter().map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Diagnosis {
    pub fn new() -> Diagnosis {
        Diagnosis::default()
    }

    /// Keeps `message` as the first of `kind`, unless one is kept already
    /// (`message` is only called then).
    pub fn note(&self, kind: ErrorKind, message: impl FnOnce() -> String) {
        let slot = &self.first[kind as usize];
        if slot.get().is_none() {
            let _ = slot.set(message());
        }
    }

    /// Counts a request that failed with `kind`.
    pub fn count(&self, kind: ErrorKind) {
        self.counts[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The first message of `kind`.
    pub fn first(&self, kind: ErrorKind) -> Option<&str> {
        self.first[kind as usize].get().map(String::as_str)
    }

    /// Every kind's first message.
    pub fn messages(&self) -> BTreeMap<ErrorKind, String> {
        ErrorKind::ALL
            .iter()
            .filter_map(|&k| Some((k, self.first(k)?.to_string())))
            .collect()
    }

    /// The one kind every failure so far had, with its count; `None`
    /// when none failed or they failed in more than one way.
    pub fn only_kind(&self) -> Option<(ErrorKind, u64)> {
        let mut seen = ErrorKind::ALL
            .iter()
            .map(|&k| (k, self.counts[k as usize].load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0);
        let one = seen.next()?;
        seen.next().is_none().then_some(one)
    }
}

/// What a kind means when nothing more precise was noted (failures after
/// the connection was made: the timeout, a reset, a malformed response).
pub fn generic(kind: ErrorKind, target: &str, timeout: Duration) -> String {
    match kind {
        ErrorKind::Timeout => format!(
            "no complete response from {target} within --timeout {}",
            human::seconds(timeout.as_secs_f64())
        ),
        ErrorKind::ConnectTimeout => format!(
            "no connection to {target} within the connect timeout: a firewall or a wrong address? (check --target, --resolve, or the proxy variables)"
        ),
        ErrorKind::Reset => format!(
            "{target} closed or reset the connection before the response was complete"
        ),
        ErrorKind::Protocol => format!(
            "{target} answered with something that is not a valid HTTP response (check the scheme of --target, and --http2)"
        ),
        ErrorKind::Tls => format!("the TLS session with {target} failed"),
        ErrorKind::Unfinished => {
            "sent, but the run ended before the response was complete".to_string()
        }
        ErrorKind::ConnectRefused => format!("cannot connect to {target}"),
        ErrorKind::Dns => format!("the name of {target} does not resolve"),
        ErrorKind::Other => format!("the request to {target} failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_message_and_names_the_only_kind() {
        let d = Diagnosis::new();
        assert_eq!(d.only_kind(), None);
        d.note(ErrorKind::Tls, || "first".into());
        d.note(ErrorKind::Tls, || unreachable!("a message is kept already"));
        d.count(ErrorKind::Tls);
        d.count(ErrorKind::Tls);
        assert_eq!(d.only_kind(), Some((ErrorKind::Tls, 2)));
        assert_eq!(d.first(ErrorKind::Tls), Some("first"));
        d.count(ErrorKind::Reset);
        assert_eq!(d.only_kind(), None);
        assert_eq!(d.messages().len(), 1);
    }
}
