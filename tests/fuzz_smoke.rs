//! Fuzzing on the stable toolchain: every target in `starling::fuzzing` (the ones
//! `fuzz/` runs under libFuzzer) on seeded random inputs: arbitrary bytes, runs of
//! dictionary tokens, and mostly structured mutations of valid inputs (valid JSON and form
//! bodies with bytes changed, real tokens with bytes flipped or parts replaced, encoded
//! records flipped and truncated, seeds spliced together). A panic is a found bug:
//! proptest shrinks the input and the test fails printing it, with a command that
//! replays it.
//!
//! `FUZZ_CASES` sets the cases per target (default 3000), `FUZZ_SEED` the random seed
//! (default fixed, so runs repeat), `FUZZ_SECONDS` a time budget per target (rounds of
//! `FUZZ_CASES` with new seeds until it is spent). Executions per target are printed to
//! stderr (see them with `--nocapture`); `scripts/fuzz` runs this for a given time when
//! cargo-fuzz and nightly are not available.
//!
//! `FUZZ_REPLAY=<file or directory> cargo test --features fuzzing --test fuzz_smoke -- --exact fuzz_<target>`
//! runs a target on saved inputs instead (a libFuzzer crash artifact, a corpus).
//!
//! `FUZZ_CORPUS_DIR=fuzz cargo test --features fuzzing --test fuzz_smoke -- --ignored write_seed_corpus`
//! writes the seeds to `<dir>/corpus/<target>/` and the dictionaries to
//! `<dir>/dict/<target>.dict` for libFuzzer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use starling::fuzzing;

const DEFAULT_CASES: u32 = 3000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// One change to an input; positions are taken relative to its length when applied.
#[derive(Debug, Clone)]
enum Edit {
    FlipBit(Index, u8),
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
    /// Inserts a dictionary token.
    Word(Index, Index),
    /// Copies a slice of the input somewhere else in it.
    Duplicate(Index, Index, Index),
    /// Overwrites with an interesting byte (0, 0xff, quotes, separators, …).
    Special(Index, Index),
}

const SPECIAL: &[u8] = b"\x00\xff\x7f\x80\"'\\{}[]&=%+\n\r.:#@ ";

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => any::<Index>().prop_map(Edit::Remove),
        1 => any::<Index>().prop_map(Edit::Truncate),
        3 => (any::<Index>(), any::<Index>()).prop_map(|(i, w)| Edit::Word(i, w)),
        1 => (any::<Index>(), any::<Index>(), any::<Index>()).prop_map(|(a, b, c)| Edit::Duplicate(a, b, c)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, s)| Edit::Special(i, s)),
    ]
}

fn apply(mut input: Vec<u8>, edits: &[Edit], dict: &[&str]) -> Vec<u8> {
    for e in edits {
        let len = input.len();
        match e {
            Edit::FlipBit(i, bit) if len > 0 => input[i.index(len)] ^= 1 << bit,
            Edit::Set(i, b) if len > 0 => input[i.index(len)] = *b,
            Edit::Insert(i, b) => input.insert(i.index(len + 1), *b),
            Edit::Remove(i) if len > 0 => {
                input.remove(i.index(len));
            }
            Edit::Truncate(i) => input.truncate(i.index(len + 1)),
            Edit::Word(i, w) if !dict.is_empty() => {
                let at = i.index(len + 1);
                let word = dict[w.index(dict.len())].as_bytes();
                input.splice(at..at, word.iter().copied());
            }
            Edit::Duplicate(from, n, to) if len > 0 => {
                let start = from.index(len);
                let end = start + 1 + n.index((len - start).min(64));
                let piece = input[start..end.min(len)].to_vec();
                let at = to.index(len + 1);
                input.splice(at..at, piece);
            }
            Edit::Special(i, s) if len > 0 => input[i.index(len)] = SPECIAL[s.index(SPECIAL.len())],
            _ => {}
        }
    }
    input
}

/// Inputs for `target`: mostly mutated seeds, some crossovers, token runs and noise.
fn inputs(target: &str) -> BoxedStrategy<Vec<u8>> {
    let seeds = fuzzing::seeds(target);
    assert!(!seeds.is_empty(), "{target} has no seeds");
    let dict: Vec<&'static str> = fuzzing::dictionary(target);
    let words: Vec<String> =
        if dict.is_empty() { vec![String::new()] } else { dict.iter().map(|w| w.to_string()).collect() };
    let mutated = {
        let dict = dict.clone();
        (proptest::sample::select(seeds.clone()), proptest::collection::vec(edit(), 1..8))
            .prop_map(move |(seed, edits)| apply(seed, &edits, &dict))
    };
    let crossover = (
        proptest::sample::select(seeds.clone()),
        proptest::sample::select(seeds.clone()),
        any::<Index>(),
        any::<Index>(),
    )
        .prop_map(|(a, b, i, j)| {
            let mut out = a[..i.index(a.len() + 1)].to_vec();
            out.extend_from_slice(&b[j.index(b.len() + 1)..]);
            out
        });
    let first_bytes: Vec<u8> = seeds.iter().filter_map(|s| s.first().copied()).collect();
    let tokens =
        (proptest::sample::select(first_bytes), proptest::collection::vec(proptest::sample::select(words), 0..24))
            .prop_map(|(first, words)| {
                let mut out = vec![first];
                out.extend(words.concat().into_bytes());
                out
            });
    prop_oneof![
        1 => proptest::sample::select(seeds),
        10 => mutated,
        2 => crossover,
        2 => tokens,
        2 => proptest::collection::vec(any::<u8>(), 0..256),
    ]
    .boxed()
}

/// Runs one target on every seed, then on `FUZZ_CASES` generated inputs (rounds of them
/// with fresh seeds until `FUZZ_SECONDS` have passed, when that is set); panics with the
/// shrunk input if the target panicked.
fn fuzz(target: &str) {
    let run = fuzzing::TARGETS.iter().find(|(name, _)| *name == target).map(|(_, f)| *f).expect("known target");
    let cases = env_u64("FUZZ_CASES").map_or(DEFAULT_CASES, |n| n.clamp(1, u64::from(u32::MAX)) as u32);
    let seed = env_u64("FUZZ_SEED").unwrap_or(0x5eed_f022);
    let deadline = env_u64("FUZZ_SECONDS").map(|s| Instant::now() + Duration::from_secs(s));
    if let Ok(path) = std::env::var("FUZZ_REPLAY") {
        return replay(target, run, std::path::Path::new(&path));
    }
    let started = Instant::now();
    let executions = AtomicU64::new(0);

    for input in fuzzing::seeds(target) {
        run(&input);
        executions.fetch_add(1, Ordering::Relaxed);
    }
    let strategy = inputs(target);
    let mut rounds = 0u64;
    loop {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&seed.wrapping_add(rounds).to_le_bytes());
        let name = &target.as_bytes()[..target.len().min(24)];
        key[8..8 + name.len()].copy_from_slice(name);
        let config = Config { cases, failure_persistence: None, max_shrink_iters: 4096, ..Config::default() };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &key));
        let result = runner.run(&strategy, |input| {
            executions.fetch_add(1, Ordering::Relaxed);
            run(&input);
            Ok(())
        });
        rounds += 1;
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, input)) => panic!(
                "fuzz target {target} failed: {reason}\ninput ({} bytes): {:?}\nhex: {}\n\
                 replay: echo {} | xxd -r -p > crash && cargo +nightly fuzz run {target} crash  (from fuzz/)",
                input.len(),
                String::from_utf8_lossy(&input),
                hex(&input),
                hex(&input),
            ),
            Err(e) => panic!("fuzz target {target}: {e}"),
        }
        if deadline.is_none_or(|d| Instant::now() >= d) {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let n = executions.load(Ordering::Relaxed);
    eprintln!(
        "fuzz_smoke {target}: {n} executions in {elapsed:.2} s ({:.0}/s; {rounds} round(s) of {cases} cases, seed {seed:#x})",
        n as f64 / elapsed.max(1e-9)
    );
}

/// Runs the target on one saved input, or on every file of a directory (a libFuzzer
/// artifact or corpus).
fn replay(target: &str, run: fuzzing::Target, path: &std::path::Path) {
    let files: Vec<std::path::PathBuf> = if path.is_dir() {
        std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect()
    } else {
        vec![path.to_path_buf()]
    };
    for file in &files {
        run(&std::fs::read(file).unwrap());
    }
    eprintln!("fuzz_smoke {target}: replayed {} input(s) from {}", files.len(), path.display());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn fixture_is_sound() {
    fuzzing::self_check().unwrap();
    for (name, _) in fuzzing::TARGETS {
        assert!(!fuzzing::seeds(name).is_empty(), "{name} has no seeds");
    }
}

#[test]
fn fuzz_request_body() {
    fuzz("request_body");
}

#[test]
fn fuzz_pagination() {
    fuzz("pagination");
}

#[test]
fn fuzz_token() {
    fuzz("token");
}

#[test]
fn fuzz_record_decode() {
    fuzz("record_decode");
}

#[test]
fn fuzz_ws_message() {
    fuzz("ws_message");
}

#[test]
fn fuzz_status_text() {
    fuzz("status_text");
}

/// Writes the seeds and dictionaries for libFuzzer (see the module comment).
#[test]
#[ignore]
fn write_seed_corpus() {
    let Ok(dir) = std::env::var("FUZZ_CORPUS_DIR") else { return };
    let dir = std::path::Path::new(&dir);
    for (name, _) in fuzzing::TARGETS {
        let corpus = dir.join("corpus").join(name);
        std::fs::create_dir_all(&corpus).unwrap();
        for (i, seed) in fuzzing::seeds(name).iter().enumerate() {
            std::fs::write(corpus.join(format!("seed-{i:03}")), seed).unwrap();
        }
        let words = fuzzing::dictionary(name);
        if !words.is_empty() {
            std::fs::create_dir_all(dir.join("dict")).unwrap();
            let escaped: String = words
                .iter()
                .map(|w| {
                    let body: String = w
                        .bytes()
                        .map(|b| match b {
                            b'"' | b'\\' => format!("\\{}", b as char),
                            0x20..=0x7e => (b as char).to_string(),
                            _ => format!("\\x{b:02X}"),
                        })
                        .collect();
                    format!("\"{body}\"\n")
                })
                .collect();
            std::fs::write(dir.join("dict").join(format!("{name}.dict")), escaped).unwrap();
        }
    }
}
