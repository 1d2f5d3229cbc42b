//! The model loader. The first byte chooses: odd = the rest is the JSON
//! document (gzipped here, so the fuzzer explores the JSON and the
//! validation rather than gzip CRCs); even = the rest is the raw file.
//! A model that loads must be usable: inspect it and draw requests.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode & 1 == 1 {
        replay::model::file::gzip(rest)
    } else {
        rest.to_vec()
    };
    if let Ok(model) = replay::model::file::from_reader(Path::new("fuzz.model.gz"), &bytes[..]) {
        let _ = model.arrival.duration_s();
        let _ = model.arrival.mean_rate();
        if model.requests() > 0 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(mode));
            for _ in 0..4 {
                let _ = replay::generate::generate(&model, &mut rng);
            }
        }
    }
});
