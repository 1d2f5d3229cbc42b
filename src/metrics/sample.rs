//! The vocabulary of one measurement: a [`Sample`] of a finished request,
//! the kinds of failure and drop, status classes and trend metrics, with
//! the stable snake_case names the summary and thresholds use.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
/// Why a request failed without a usable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    ConnectRefused,
    ConnectTimeout,
    /// The target's (or the proxy's) name does not resolve.
    Dns,
    Reset,
    Timeout,
    Protocol,
    Tls,
    /// Sent, but the run ended (schedule and drain over, or stopped)
    /// before the response was complete.
    Unfinished,
    Other,
}

/// Why a scheduled request was not sent (the schedule could not be kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Every allowed connection was busy (`--connections`).
    ConnectionCap,
    /// `--max-in-flight` requests were already outstanding.
    MaxInFlight,
    /// The generator fell behind the schedule (CPU saturated).
    GeneratorBehind,
    /// A request that uses a value a response produces (a created id)
    /// found none yet, where the recording always had one.
    NoProducedValue,
    /// Intended before this process started sending, which was after
    /// `--start-at`: the shard keeps the global clock rather than shift
    /// its schedule.
    LateStart,
}

macro_rules! names {
    ($ty:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];
            /// The stable snake_case name used in JSON and in reports.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<_> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} '{s}'; expected one of {}", stringify!($ty), names.join(", "))
                })
            }
        }
    };
}

names!(ErrorKind {
    ConnectRefused => "connect_refused",
    ConnectTimeout => "connect_timeout",
    Dns => "dns",
    Reset => "reset",
    Timeout => "timeout",
    Protocol => "protocol",
    Tls => "tls",
    Unfinished => "unfinished",
    Other => "other",
});

names!(DropReason {
    ConnectionCap => "connection_cap",
    MaxInFlight => "max_in_flight",
    GeneratorBehind => "generator_behind",
    NoProducedValue => "no_produced_value",
    LateStart => "late_start",
});

/// A response's status class, or `Error` when there was no usable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StatusClass {
    #[serde(rename = "1xx")]
    Informational,
    #[serde(rename = "2xx")]
    Success,
    #[serde(rename = "3xx")]
    Redirection,
    #[serde(rename = "4xx")]
    ClientError,
    #[serde(rename = "5xx")]
    ServerError,
    #[serde(rename = "error")]
    Error,
}

names!(StatusClass {
    Informational => "1xx",
    Success => "2xx",
    Redirection => "3xx",
    ClientError => "4xx",
    ServerError => "5xx",
    Error => "error",
});

impl StatusClass {
    /// The class of a status code; codes outside 100..=599 count as `Error`.
    pub fn of_status(status: u16) -> StatusClass {
        match status / 100 {
            1 => StatusClass::Informational,
            2 => StatusClass::Success,
            3 => StatusClass::Redirection,
            4 => StatusClass::ClientError,
            5 => StatusClass::ServerError,
            _ => StatusClass::Error,
        }
    }
}

/// The trend (distribution) metrics, with their k6 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TrendMetric {
    /// From the INTENDED send time to the end of the response
    /// (coordinated-omission corrected).
    #[serde(rename = "http_req_duration")]
    Duration,
    /// From the actual send to the end of the response (uncorrected).
    #[serde(rename = "http_req_service_time")]
    ServiceTime,
    /// Time to first byte: from the request written to the first byte of
    /// the response (k6's `http_req_waiting`).
    #[serde(rename = "http_req_waiting")]
    Waiting,
    /// TCP connection setup (and a proxy's CONNECT), for requests that
    /// opened a new connection.
    #[serde(rename = "http_req_connecting")]
    Connecting,
    /// Actual send − intended send.
    #[serde(rename = "schedule_lag")]
    ScheduleLag,
    /// Waiting for a connection: from the moment the schedule handed the
    /// request over to the moment a connection took it (k6's
    /// `http_req_blocked`; `--connections` caps show here).
    #[serde(rename = "http_req_blocked")]
    Blocked,
    /// Writing the request (k6's `http_req_sending`).
    #[serde(rename = "http_req_sending")]
    Sending,
    /// From the first byte of the response to its last (k6's
    /// `http_req_receiving`).
    #[serde(rename = "http_req_receiving")]
    Receiving,
    /// The TLS handshake, for requests that opened a new TLS connection.
    #[serde(rename = "http_req_tls_handshaking")]
    TlsHandshaking,
}

names!(TrendMetric {
    Duration => "http_req_duration",
    ServiceTime => "http_req_service_time",
    Waiting => "http_req_waiting",
    Connecting => "http_req_connecting",
    ScheduleLag => "schedule_lag",
    Blocked => "http_req_blocked",
    Sending => "http_req_sending",
    Receiving => "http_req_receiving",
    TlsHandshaking => "http_req_tls_handshaking",
});

/// Whether a response with this status counts as failed (k6's default
/// expected statuses are 200..=399): the one rule behind `http_req_failed`,
/// the recorded error share and `status_drift`.
pub fn failed_status(code: u16) -> bool {
    !(200..=399).contains(&code)
}

/// One finished or failed request, as the executor hands it over.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index into the model's endpoint list.
    pub endpoint: usize,
    /// Response status, when a response head arrived.
    pub status: Option<u16>,
    /// Why the request failed, when it did not complete normally.
    pub error: Option<ErrorKind>,
    /// Intended send time → end (coordinated-omission corrected).
    pub duration: Duration,
    /// Actual send → end.
    pub service_time: Duration,
    /// Request written → first response byte.
    pub waiting: Duration,
    /// TCP connection setup, when this request opened a new connection.
    pub connecting: Option<Duration>,
    /// TLS handshake, when this request opened a new TLS connection.
    pub tls_handshaking: Option<Duration>,
    /// Actual send − intended send.
    pub schedule_lag: Duration,
    /// Handed over by the schedule → taken by a connection.
    pub blocked: Duration,
    /// Writing the request.
    pub sending: Duration,
    /// First response byte → last.
    pub receiving: Duration,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// When the request ended, as an offset since the run started.
    pub at: Duration,
    /// Sent during `--warmup`: counted, not measured.
    pub warmup: bool,
}

impl Sample {
    /// The status class this sample is filed under: its status's class, or
    /// `Error` when it failed with an error or had no status.
    pub fn class(&self) -> StatusClass {
        match (self.error, self.status) {
            (None, Some(s)) => StatusClass::of_status(s),
            _ => StatusClass::Error,
        }
    }

    /// k6's `http_req_failed`: an error, or a status outside 200..=399.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.status.is_none_or(failed_status)
    }

    pub(super) fn trend(&self, metric: TrendMetric) -> Option<Duration> {
        match metric {
            TrendMetric::Duration => Some(self.duration),
            TrendMetric::ServiceTime => Some(self.service_time),
            TrendMetric::Waiting => Some(self.waiting),
            TrendMetric::Connecting => self.connecting,
            TrendMetric::ScheduleLag => Some(self.schedule_lag),
            TrendMetric::Blocked => Some(self.blocked),
            TrendMetric::Sending => Some(self.sending),
            TrendMetric::Receiving => Some(self.receiving),
            TrendMetric::TlsHandshaking => self.tls_handshaking,
        }
    }
}
