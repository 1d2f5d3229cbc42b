//! The k6 threshold-expression parser on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Err(e) = replay::threshold::parse(&s) {
        let _ = e.to_string();
        let _ = e.caret();
    }
});
