//! Naming a failed request's error the way the summary counts it: I/O
//! errors, hyper's errors and HTTP/2 errors to an [`ErrorKind`].
//!
//! Kept apart from the connections that meet these errors (`conn` for
//! hyper's, `h1` for the lean client's) so that both can use them without
//! importing each other.

use crate::metrics::ErrorKind;

/// Names an I/O error the way the summary counts it.
pub fn classify_io(e: &std::io::Error, connecting: bool) -> ErrorKind {
    use std::io::ErrorKind as K;
    // TLS failing after the handshake: a TLS 1.3 server refusing a
    // missing client certificate, an alert, a bad record.
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        return ErrorKind::Tls;
    }
    match e.kind() {
        K::ConnectionRefused => ErrorKind::ConnectRefused,
        K::TimedOut if connecting => ErrorKind::ConnectTimeout,
        K::TimedOut => ErrorKind::Timeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => ErrorKind::Reset,
        // The peer ended the stream inside a message: a body shorter than
        // its Content-Length, a chunked body without its last chunk (hyper's
        // body decoder), TLS without close_notify. A framing fault, not a
        // reset: nothing reset the connection.
        K::UnexpectedEof | K::InvalidData => ErrorKind::Protocol,
        _ if connecting => ErrorKind::ConnectRefused,
        _ => ErrorKind::Other,
    }
}

/// Names a hyper error the way the summary counts it.
pub fn classify_hyper(e: &hyper::Error) -> ErrorKind {
    if e.is_parse() || e.is_parse_status() || e.is_user() {
        return ErrorKind::Protocol;
    }
    if e.is_timeout() {
        return ErrorKind::Timeout;
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return ErrorKind::Reset;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return classify_io(io, false);
        }
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            return classify_h2(h2);
        }
        source = s.source();
    }
    ErrorKind::Other
}

/// Names an HTTP/2 error: the peer broke the protocol (h2 detected it, or
/// the peer says so), or it reset the stream or went away.
fn classify_h2(e: &h2::Error) -> ErrorKind {
    use h2::Reason as R;
    if let Some(io) = e.get_io() {
        return classify_io(io, false);
    }
    match e.reason() {
        // Detected here: what came in is not valid HTTP/2 (an HTTP/1.1-only
        // server answering --http2 gets FRAME_SIZE_ERROR).
        Some(_) if e.is_library() => ErrorKind::Protocol,
        // The server refused, cancelled or gave up on the stream, or closed
        // the connection.
        Some(
            R::NO_ERROR | R::REFUSED_STREAM | R::CANCEL | R::INTERNAL_ERROR | R::ENHANCE_YOUR_CALM,
        ) => ErrorKind::Reset,
        Some(R::INADEQUATE_SECURITY) => ErrorKind::Tls,
        Some(_) => ErrorKind::Protocol,
        None => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind as K};

    #[test]
    fn io_errors_are_named() {
        let kind = |k: K, connecting| classify_io(&Error::from(k), connecting);
        assert_eq!(kind(K::ConnectionRefused, true), ErrorKind::ConnectRefused);
        assert_eq!(kind(K::TimedOut, true), ErrorKind::ConnectTimeout);
        assert_eq!(kind(K::TimedOut, false), ErrorKind::Timeout);
        assert_eq!(kind(K::ConnectionReset, false), ErrorKind::Reset);
        assert_eq!(kind(K::BrokenPipe, false), ErrorKind::Reset);
        // hyper's body decoder: the stream ended before Content-Length.
        assert_eq!(kind(K::UnexpectedEof, false), ErrorKind::Protocol);
        assert_eq!(kind(K::InvalidData, false), ErrorKind::Protocol);
        assert_eq!(kind(K::PermissionDenied, true), ErrorKind::ConnectRefused);
        assert_eq!(kind(K::PermissionDenied, false), ErrorKind::Other);
    }

    #[test]
    fn http2_errors_are_named() {
        use h2::Reason as R;
        assert_eq!(classify_h2(&R::PROTOCOL_ERROR.into()), ErrorKind::Protocol);
        assert_eq!(
            classify_h2(&R::FRAME_SIZE_ERROR.into()),
            ErrorKind::Protocol
        );
        assert_eq!(classify_h2(&R::REFUSED_STREAM.into()), ErrorKind::Reset);
        assert_eq!(classify_h2(&R::CANCEL.into()), ErrorKind::Reset);
        assert_eq!(classify_h2(&R::INADEQUATE_SECURITY.into()), ErrorKind::Tls);
    }
}
