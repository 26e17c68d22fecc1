//! Text generation shared by every model family: the parameters (`max_new_tokens`, greedy or
//! sampling with `temperature`, `top_k`, `top_p`, `stop` sequences, `seed`), the choice of the next
//! token from a row of scores, and where a generated text ends.
//!
//! Sampling follows transformers' logits processors in their order (temperature, then top-k,
//! then top-p, each on the scores the previous one left); the random stream is lmgauge's seeded
//! ChaCha8, one stream per prompt (derived from the seed and the prompt's position), so the same
//! seed gives the same text whatever the batch size. Greedy decoding takes the first maximum, as
//! `torch.argmax` does.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    #[default]
    Greedy,
    Sample,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "greedy" => Ok(Strategy::Greedy),
            "sample" => Ok(Strategy::Sample),
            _ => Err(format!("unknown strategy {s:?} (greedy or sample)")),
        }
    }
}

/// The longest continuation a suite or command may ask for.
pub const MAX_NEW_TOKENS: usize = 1 << 16;

/// How to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenParams {
    /// Tokens to add at most (words for n-gram models).
    pub max_new_tokens: usize,
    /// The end-of-text token is not allowed before this many tokens (transformers'
    /// `min_new_tokens`): a model that would end at once writes something first.
    pub min_new_tokens: usize,
    pub strategy: Strategy,
    pub temperature: f64,
    /// Keep only the k most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    pub top_p: f64,
    /// The text ends before the first of these strings (the string itself is not kept).
    pub stop: Vec<String>,
    pub seed: u64,
    /// Neural models keep each position's keys and values between steps (default). Off, every
    /// step reruns the whole sequence so far: only for measuring what the cache saves
    /// (`lmgauge generate --no-kv-cache`); the text is the same.
    pub kv_cache: bool,
    /// The position of the first prompt of this call among all the prompts of the job: each
    /// prompt's random stream follows its position in the job, so a job's prompts give the same
    /// texts whether they are generated in one call or in several (progress is reported per call).
    pub first_index: usize,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            max_new_tokens: 32,
            min_new_tokens: 0,
            strategy: Strategy::Greedy,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            stop: Vec::new(),
            seed: 0,
            kv_cache: true,
            first_index: 0,
        }
    }
}

impl GenParams {
    pub fn check(&self) -> Result<(), String> {
        if !(1..=MAX_NEW_TOKENS).contains(&self.max_new_tokens) {
            return Err(format!("max_new_tokens must be between 1 and {MAX_NEW_TOKENS}, not {}", self.max_new_tokens));
        }
        if self.min_new_tokens > self.max_new_tokens {
            return Err(format!(
                "min_new_tokens {} exceeds max_new_tokens {}",
                self.min_new_tokens, self.max_new_tokens
            ));
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(format!("temperature must be positive, not {}", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top_p must be in (0, 1], not {}", self.top_p));
        }
        if self.stop.iter().any(String::is_empty) {
            return Err("a stop sequence is empty".into());
        }
        Ok(())
    }

    /// The random stream of prompt number `index`.
    pub fn rng(&self, index: usize) -> ChaCha8Rng {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&((self.first_index + index) as u64).to_le_bytes());
        seed[16..24].copy_from_slice(b"generate");
        ChaCha8Rng::from_seed(seed)
    }
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The model produced its end-of-text token (end of sentence for n-gram models).
    EndOfText,
    /// A stop sequence appeared.
    Stop,
    /// `max_new_tokens` were generated.
    Length,
}

/// One generated continuation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Generation {
    pub text: String,
    /// The generated token ids (word ids for n-gram models), a final end-of-text token included.
    pub token_ids: Vec<u32>,
    /// Tokens generated (including a final end-of-text token, excluding nothing else).
    pub tokens: usize,
    pub finish: Finish,
}

/// The next token from natural-log-scale scores (logits or log-probabilities): the first
/// maximum when greedy; else a draw after temperature, top-k and top-p.
pub fn choose(scores: &[f32], params: &GenParams, rng: &mut ChaCha8Rng) -> usize {
    let argmax = || {
        scores.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &s)| if s > best.1 { (i, s) } else { best }).0
    };
    if params.strategy == Strategy::Greedy {
        return argmax();
    }
    let t = params.temperature as f32;
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| scores[i].is_finite()).collect();
    if order.is_empty() {
        return argmax();
    }
    // Most likely first; ties keep the lower index first (a stable sort).
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    if params.top_k > 0 && params.top_k < order.len() {
        // transformers keeps every token tied with the k-th score.
        let kth = scores[order[params.top_k - 1]];
        order.retain(|&i| scores[i] >= kth);
    }
    let max = scores[order[0]] / t;
    let weights: Vec<f64> = order.iter().map(|&i| ((scores[i] / t - max) as f64).exp()).collect();
    let total: f64 = weights.iter().sum();
    let mut keep = order.len();
    if params.top_p < 1.0 {
        // The smallest prefix whose mass reaches top_p (at least one token).
        let mut mass = 0.0;
        for (j, w) in weights.iter().enumerate() {
            mass += w / total;
            if mass >= params.top_p {
                keep = j + 1;
                break;
            }
        }
    }
    let kept_total: f64 = weights[..keep].iter().sum();
    let mut u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * kept_total;
    for (j, w) in weights[..keep].iter().enumerate() {
        if u < *w {
            return order[j];
        }
        u -= w;
    }
    order[keep - 1]
}

/// Where `text` (the continuation so far) must end because of a stop sequence: the byte offset
/// of the earliest stop string, if any.
pub fn stop_at(text: &str, stop: &[String]) -> Option<usize> {
    stop.iter().filter_map(|s| text.find(s.as_str())).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum_and_sampling_is_seeded() {
        let p = GenParams::default();
        assert_eq!(choose(&[0.0, 3.0, 3.0, -1.0], &p, &mut p.rng(0)), 1);
        let s = GenParams { strategy: Strategy::Sample, seed: 7, ..GenParams::default() };
        let scores = [0.1f32, 0.5, 0.2, 2.0, -1.0];
        let a: Vec<usize> = {
            let mut r = s.rng(3);
            (0..50).map(|_| choose(&scores, &s, &mut r)).collect()
        };
        let b: Vec<usize> = {
            let mut r = s.rng(3);
            (0..50).map(|_| choose(&scores, &s, &mut r)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().any(|&x| x != 3), "sampling explores");
        let k1 = GenParams { top_k: 1, ..s.clone() };
        assert!((0..20).all(|_| choose(&scores, &k1, &mut k1.rng(1)) == 3));
        // top_p small keeps only the most likely token.
        let p1 = GenParams { top_p: 0.01, ..s.clone() };
        assert!((0..20).all(|i| choose(&scores, &p1, &mut p1.rng(i)) == 3));
    }

    #[test]
    fn sampling_follows_the_distribution() {
        let s = GenParams { strategy: Strategy::Sample, seed: 1, ..GenParams::default() };
        let scores = [0f32, (3f32).ln()]; // probabilities 1/4, 3/4
        let mut r = s.rng(0);
        let ones = (0..20_000).filter(|_| choose(&scores, &s, &mut r) == 1).count() as f64 / 20_000.0;
        assert!((ones - 0.75).abs() < 0.015, "{ones}");
    }

    #[test]
    fn stop_sequences_cut_at_the_earliest() {
        let stop = vec![" .".to_string(), "\n".to_string()];
        assert_eq!(stop_at("a b . c", &stop), Some(3));
        assert_eq!(stop_at("a\nb .", &stop), Some(1));
        assert_eq!(stop_at("abc", &stop), None);
    }
}
