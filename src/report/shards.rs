//! Which shards a set of summaries covers (`replay merge`): shards of one
//! run share the seed and N, each shard appears once, and all N are there
//! unless a partial merge is asked for.

use std::collections::BTreeMap;

use super::Summary;
use crate::shard::Shard;

/// The shards a merge covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// N, the run's shard count.
    pub count: u64,
    /// The shards present, by index.
    pub present: Vec<Shard>,
    /// The shards missing (empty unless the merge is partial).
    pub missing: Vec<Shard>,
}

/// Checks that `parts` (name, summary) are shards of one run: every part
/// names its shards (`--shard`), all share the seed and N, no shard is
/// given twice, and none is missing unless `allow_partial`. The error is
/// one sentence naming the files.
pub fn check(parts: &[(String, &Summary)], allow_partial: bool) -> Result<Coverage, String> {
    let (first_name, first) = parts
        .first()
        .ok_or("nothing to merge: name the shards' summary files")?;
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    let mut count = None;
    for (name, s) in parts {
        if s.shards.is_empty() {
            return Err(format!(
                "{name} is not a shard's summary (its run had no --shard); replay merge adds up the shards of one run"
            ));
        }
        if s.seed != first.seed {
            return Err(format!(
                "{name} has seed {} and {first_name} seed {}: the shards of one run share --seed",
                s.seed, first.seed
            ));
        }
        for text in &s.shards {
            let shard = Shard::parse(text).map_err(|e| format!("{name}: shard {text:?}: {e}"))?;
            match count {
                None => count = Some(shard.count),
                Some(n) if n != shard.count => {
                    return Err(format!(
                        "{name} is shard {shard} but earlier files are shards of {n}: the shards of one run share N"
                    ))
                }
                Some(_) => {}
            }
            if let Some(other) = seen.insert(shard.index, name) {
                return Err(format!("shard {shard} is given twice ({other} and {name})"));
            }
        }
    }
    let count = count.unwrap_or(1);
    let all = |i| Shard { index: i, count };
    let present: Vec<Shard> = seen.keys().map(|i| all(*i)).collect();
    let missing: Vec<Shard> = (0..count)
        .filter(|i| !seen.contains_key(i))
        .map(all)
        .collect();
    if !missing.is_empty() && !allow_partial {
        let names: Vec<String> = missing.iter().map(Shard::to_string).collect();
        return Err(format!(
            "shard{} {} of the run {} missing; give every shard's summary, or --allow-partial to merge what there is (the report then says what is missing)",
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            if names.len() == 1 { "is" } else { "are" },
        ));
    }
    Ok(Coverage {
        count,
        present,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(seed: u64, shards: &[&str]) -> Summary {
        let meta = crate::report::RunMeta {
            seed,
            duration_s: 1.0,
            planned_duration_s: 1.0,
            ended: Default::default(),
            intended_rate: 1.0,
            scale: Some(1.0),
            target: "http://127.0.0.1:1".into(),
            command: "replay".into(),
            mock: None,
            shards: shards.iter().map(|s| s.to_string()).collect(),
            endpoints: Vec::new(),
        };
        Summary::build(&crate::metrics::Recorder::new(), &meta, &[], &[])
    }

    #[test]
    fn shards_of_one_run_each_once_and_all_there() {
        let (a, b, c) = (part(7, &["1/3"]), part(7, &["2/3"]), part(7, &["3/3"]));
        fn named(v: Vec<&Summary>) -> Vec<(String, &Summary)> {
            v.into_iter()
                .enumerate()
                .map(|(i, s)| (format!("s{i}.json"), s))
                .collect()
        }
        let ok = check(&named(vec![&a, &b, &c]), false).unwrap();
        assert_eq!(ok.count, 3);
        assert!(ok.missing.is_empty());
        let e = check(&named(vec![&a, &b, &b]), false).unwrap_err();
        assert!(
            e.contains("shard 2/3 is given twice (s1.json and s2.json)"),
            "{e}"
        );
        let e = check(&named(vec![&a, &c]), false).unwrap_err();
        assert!(
            e.contains("shard 2/3 of the run is missing") && e.contains("--allow-partial"),
            "{e}"
        );
        let partial = check(&named(vec![&a, &c]), true).unwrap();
        assert_eq!(partial.missing, vec![Shard { index: 1, count: 3 }]);
        let other_seed = part(8, &["2/3"]);
        let e = check(&named(vec![&a, &other_seed]), false).unwrap_err();
        assert!(e.contains("seed 8") && e.contains("share --seed"), "{e}");
        let other_n = part(7, &["2/4"]);
        assert!(check(&named(vec![&a, &other_n]), false)
            .unwrap_err()
            .contains("share N"));
        let whole = part(7, &[]);
        assert!(check(&named(vec![&whole]), false)
            .unwrap_err()
            .contains("no --shard"));
    }
}
