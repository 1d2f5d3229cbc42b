//! The HAR reader on arbitrary bytes; whatever it accepts is modelled, and
//! the model written must load back (a recorded model is always loadable).
#![no_main]
use libfuzzer_sys::fuzz_target;
use replay::model::{BuildOptions, ModelBuilder};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let mut builder = ModelBuilder::new(BuildOptions { scrub: true });
    let path = Path::new("fuzz.har");
    if replay::ingest::har::read_har(path, data, &mut |x| builder.observe(x)).is_ok() {
        let model = builder.finish();
        let bytes = replay::model::file::to_bytes(&model);
        if let Err(e) = replay::model::file::from_reader(Path::new("m.gz"), &bytes[..]) {
            panic!("a model recorded from a HAR does not load back: {e}");
        }
    }
});
