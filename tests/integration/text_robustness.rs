//! Random Unicode text through every tokenizer and text metric, and random bytes through the JSONL
//! reader: results stay in range and nothing panics. (fuzz/ has the coverage-guided version.)

use lmgauge::data::{FieldMap, parse_jsonl};
use lmgauge::metrics::bleu::{BleuConfig, Tokenizer};
use lmgauge::metrics::chrf::ChrfConfig;
use lmgauge::metrics::rouge::{RougeScorer, RougeType};

struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 16
    }
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "9",
            " ",
            "\t",
            "\n",
            ".",
            ",",
            "-",
            "'",
            "&amp;",
            "&quot;",
            "<skipped>",
            "-\n",
            "ß",
            "İ",
            "Σ",
            "中",
            "文",
            "、",
            "€",
            "😀",
            "\u{200b}",
            "\u{a0}",
            "\u{2028}",
            "\u{2001}",
            "\u{0301}",
            "\r",
            "\u{85}",
            "(",
            ")",
            "[",
            "]",
        ];
        let len = self.next() % 40;
        (0..len).map(|_| PIECES[(self.next() as usize) % PIECES.len()]).collect()
    }
}

#[test]
fn random_text_through_all_metrics() {
    let mut g = Gen(7);
    let rouge = RougeScorer { types: RougeType::ALL.to_vec(), stem: true };
    for _ in 0..3000 {
        let (h, r) = (g.text(), g.text());
        for tok in Tokenizer::ALL {
            let cfg = BleuConfig { tokenizer: *tok, effective_order: true, ..BleuConfig::default() };
            let s = cfg.score(&cfg.segment_stats(&h, &[&r]));
            assert!((0.0..=100.0 + 1e-9).contains(&s.score), "{tok:?} {h:?} {r:?}: {}", s.score);
        }
        for wo in [0, 2] {
            let c = ChrfConfig { word_order: wo, ..ChrfConfig::default() };
            let f = c.f_score(&c.segment_stats(&h, &[&r]));
            assert!((0.0..=100.0 + 1e-9).contains(&f), "{h:?} {r:?}");
        }
        for (_, s) in rouge.score(&r, &h) {
            assert!((0.0..=1.0).contains(&s.fmeasure), "{h:?} {r:?}");
        }
    }
}

#[test]
fn random_bytes_through_the_jsonl_reader() {
    let mut g = Gen(11);
    let base = b"{\"text\": \"hello\", \"id\": 3}\n{\"text\": \"x\\ny\"}\n".to_vec();
    for _ in 0..5000 {
        let mut data = base.clone();
        for _ in 0..1 + g.next() % 4 {
            let i = (g.next() as usize) % data.len();
            match g.next() % 3 {
                0 => data[i] = g.next() as u8,
                1 => data.truncate(i),
                _ => data.insert(i, b"{}[]\",:\n\\"[(g.next() as usize) % 9]),
            }
            if data.is_empty() {
                break;
            }
        }
        match parse_jsonl(std::path::Path::new("f.jsonl"), &data, &FieldMap::default()) {
            Ok(items) => assert!(items.iter().all(|i| i.line >= 1)),
            Err(e) => assert!(e.to_string().contains("f.jsonl"), "{e}"),
        }
    }
}
