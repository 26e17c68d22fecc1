//! GGUF reader and dequantization: every supported type against the `gguf` Python package's
//! dequantize on real blocks (fixtures from scripts/gguf-fixtures.py), and malformed files —
//! bad magic, version, truncation, absurd counts, unknown types, random mutations — giving errors
//! that name the file and field, never panics.

use std::path::Path;

use lmgauge::models::neural::decoders;
use lmgauge::models::neural::gguf::{GgmlType, Gguf, SUPPORTED_TYPES, tokenizer};

use crate::common::{Gen, fixture};

fn blocks() -> Gguf {
    Gguf::open(&fixture("gguf/blocks.gguf")).expect("blocks.gguf parses")
}

#[test]
fn every_supported_type_dequantizes_like_gguf_py() {
    let blocks = blocks();
    let expected = Gguf::open(&fixture("gguf/expected.gguf")).expect("expected.gguf parses");
    let mut seen = Vec::new();
    for info in &blocks.tensors {
        let want = expected.tensor(&info.name).unwrap_or_else(|| panic!("{} in expected.gguf", info.name));
        assert_eq!(want.ggml_type, GgmlType::F32);
        assert_eq!(info.elements(), want.elements(), "{}", info.name);
        let (got, want) = (blocks.dequantize(info), expected.dequantize(want));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            // Same operations in the same order as ggml: bit-identical, not merely close.
            assert_eq!(g.to_bits(), w.to_bits(), "{} value {i}: {g} vs {w}", info.name);
        }
        assert!(blocks.get(&format!("source.{}", info.name)).is_some());
        seen.push(info.ggml_type);
    }
    for ty in SUPPORTED_TYPES {
        assert!(seen.contains(ty), "{} has no fixture", ty.name());
    }
}

#[test]
fn metadata_values_are_read() {
    let b = blocks();
    assert_eq!(b.version, 3);
    assert_eq!(b.get("general.architecture").and_then(|v| v.as_str()), Some("lmgauge-fixture"));
    assert!(b.get("source.q4_k").and_then(|v| v.as_str()).is_some_and(|s| s.starts_with("real:")));
}

fn parse(bytes: Vec<u8>) -> Result<Gguf, String> {
    Gguf::from_bytes(Path::new("crafted.gguf"), bytes).map_err(|e| e.to_string())
}

/// A minimal GGUF v3 file: no metadata, one tensor "t" of `n` values of type `ty`, followed by
/// the bytes of `n` f32 (at most 64).
fn minimal(n: u64, ty: u32) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(1u64.to_le_bytes()); // tensors
    b.extend(0u64.to_le_bytes()); // kv
    b.extend(1u64.to_le_bytes());
    b.push(b't');
    b.extend(1u32.to_le_bytes());
    b.extend(n.to_le_bytes());
    b.extend(ty.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.resize(b.len().div_ceil(32) * 32, 0);
    b.extend(std::iter::repeat_n(0u8, 4 * n.min(64) as usize));
    b
}

#[test]
fn malformed_files_give_errors_naming_the_field() {
    assert!(parse(minimal(4, 0)).is_ok());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GGML\x03\0\0\0".to_vec(), "not a GGUF file"),
        (
            {
                let mut b = minimal(4, 0);
                b[4] = 1;
                b
            },
            "version 1 is not supported",
        ),
        (
            {
                let mut b = minimal(4, 0);
                b.truncate(b.len() - 1);
                b
            },
            "runs past the end of the file",
        ),
        (
            {
                let mut b = minimal(4, 0);
                b[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
                b
            },
            "tensor_count",
        ),
        (
            {
                let mut b = minimal(4, 0);
                b[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
                b
            },
            "kv_count",
        ),
        (minimal(4, 99), "tensor type 99 is not supported"),
        (minimal(4, 2), "not a multiple of Q4_0's block of 32"),
        (
            {
                let mut b = minimal(4, 0);
                b[24..32].copy_from_slice(&(1u64 << 50).to_le_bytes());
                b
            },
            "tensor #0 name",
        ),
        (minimal(1 << 40, 0), "runs past the end"),
        (minimal(u64::MAX / 2, 0), "byte size overflows"),
        (b"GGUF\x03\0\0".to_vec(), "truncated"),
    ];
    for (bytes, want) in cases {
        let err = parse(bytes).err().unwrap_or_else(|| panic!("expected an error containing {want:?}"));
        assert!(err.contains(want), "{err:?} should mention {want:?}");
        assert!(err.starts_with("crafted.gguf"), "{err:?} names the file");
    }
}

#[test]
fn crafted_metadata_cannot_recurse_or_allocate_without_bytes() {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(0u64.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.extend(1u64.to_le_bytes());
    b.push(b'k');
    // Arrays of arrays of ... each claiming one item.
    b.extend(9u32.to_le_bytes());
    for _ in 0..10 {
        b.extend(9u32.to_le_bytes());
        b.extend(1u64.to_le_bytes());
    }
    let err = parse(b.clone()).unwrap_err();
    assert!(err.contains("nested"), "{err}");
    // An array of a billion strings in a few bytes.
    b.truncate(29);
    b.extend(8u32.to_le_bytes());
    b.extend(1_000_000_000u64.to_le_bytes());
    let err = parse(b).unwrap_err();
    assert!(err.contains("cannot fit"), "{err}");
}

/// tiny-llama.gguf (scripts/fuzz-seed.py) is a whole Llama file: configuration, SmolLM2's
/// tokenizer cut to 320 tokens, F32 and F16 weights. It loads, tokenizes like SmolLM2 on text
/// its vocabulary covers, and mutations of it (metadata and tokenizer included) never panic.
#[test]
fn a_complete_llama_file_loads_and_its_mutations_never_panic() {
    let path = fixture("gguf/tiny-llama.gguf");
    let file = Gguf::open(&path).unwrap();
    let config = decoders::llama::from_gguf(&file).unwrap();
    assert_eq!((config.layers, config.hidden, config.heads, config.kv_heads, config.vocab), (2, 16, 4, 2, 320));
    let tok = tokenizer::from_gguf(&file).unwrap();
    let enc = tok.encode("the 42").unwrap();
    assert_eq!(tok.decode(&enc.ids.iter().map(|&i| i as u32).collect::<Vec<_>>()).unwrap(), "the 42");
    // Digits split one by one before byte-level BPE (tokenizer.ggml.pre smollm).
    assert!(enc.ids.len() >= 3, "{:?}", enc.ids);

    // Half the byte changes in the header, metadata and tokenizer, which come first.
    for bytes in mutants(&std::fs::read(&path).unwrap(), 0x5eed_7a11, 1000, Some(12_000)) {
        if let Ok(file) = parse(bytes) {
            let _ = decoders::llama::from_gguf(&file);
            if let Ok(tok) = tokenizer::from_gguf(&file) {
                let _ = tok.encode("Fuzzed text, 123.");
            }
            for t in &file.tensors {
                assert_eq!(file.dequantize(t).len() as u64, t.elements());
            }
        }
    }
}

/// Mutations of the SentencePiece, Llama 3 BPE and Qwen2 GGUF tokenizers and of the Gemma 3 and
/// Qwen2 configurations (tests/fixtures/tokenizers, tests/fixtures/gguf-twins) never panic: the
/// tokenizer either refuses the file or tokenizes and decodes, and the readers give an error.
#[test]
fn mutated_tokenizers_and_decoder_configs_never_panic() {
    let files = [
        ("tokenizers/spm.gguf", 0x5eed_0001),
        ("tokenizers/spm-no-prefix.gguf", 0x5eed_0002),
        ("tokenizers/bpe-llama-bpe.gguf", 0x5eed_0003),
        ("tokenizers/bpe-qwen2.gguf", 0x5eed_0004),
        ("gguf-twins/gemma3-local-global.Q8_0.gguf", 0x5eed_0005),
        ("gguf-twins/qwen2-untied.Q8_0.gguf", 0x5eed_0006),
        ("gguf-twins/gemma2-softcap.Q8_0.gguf", 0x5eed_0007),
        ("gguf-twins/llama3-rope.Q8_0.gguf", 0x5eed_0008),
    ];
    for (name, seed) in files {
        let original = std::fs::read(fixture(name)).unwrap();
        for bytes in mutants(&original, seed, 300, Some(original.len().min(40_000))) {
            if let Ok(file) = parse(bytes) {
                let _ = decoders::from_gguf(&file);
                if let Ok(tok) = tokenizer::from_gguf(&file)
                    && let Ok(enc) = tok.encode("Fuzzed text, 123.\n\n  <b>x</b> 🙂 ⅷ")
                {
                    let _ = tok.decode(&enc.ids.iter().map(|&i| i as u32).collect::<Vec<_>>());
                }
            }
        }
    }
}

/// `rounds` seeded mutants of `original`: every fifth truncated, the others with 1–8 bytes
/// changed, half of them (when `head` is given) within its first `head` bytes.
fn mutants(original: &[u8], seed: u64, rounds: usize, head: Option<usize>) -> impl Iterator<Item = Vec<u8>> + '_ {
    let mut g = Gen(seed);
    (0..rounds).map(move |round| {
        let mut bytes = original.to_vec();
        if round % 5 == 0 {
            bytes.truncate(g.below(bytes.len()));
        } else {
            for _ in 0..1 + g.below(8) {
                let span = match head {
                    Some(h) if g.below(2) == 0 => h.min(bytes.len()),
                    _ => bytes.len(),
                };
                let at = g.below(span);
                bytes[at] = g.next() as u8;
            }
        }
        bytes
    })
}

#[test]
fn mutated_files_never_panic() {
    for bytes in mutants(&std::fs::read(fixture("gguf/blocks.gguf")).unwrap(), 0x5eed_6a6f, 2000, None) {
        if let Ok(file) = parse(bytes) {
            for t in &file.tensors {
                assert_eq!(file.dequantize(t).len() as u64, t.elements());
            }
        }
    }
}
