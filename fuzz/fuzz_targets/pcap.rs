//! The pcap/pcapng reader, TCP reassembly and HTTP/1.x framing on
//! arbitrary bytes; the model built from what it accepts must load back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use replay::model::{BuildOptions, ModelBuilder};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let mut builder = ModelBuilder::new(BuildOptions { scrub: true });
    let path = Path::new("fuzz.pcap");
    if replay::ingest::pcap::read_pcap_from(path, data, &mut |x| builder.observe(x)).is_ok() {
        let model = builder.finish();
        let bytes = replay::model::file::to_bytes(&model);
        if let Err(e) = replay::model::file::from_reader(Path::new("m.gz"), &bytes[..]) {
            panic!("a model recorded from a pcap does not load back: {e}");
        }
    }
});
