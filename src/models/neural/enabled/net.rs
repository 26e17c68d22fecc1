//! What every causal network is to the code that drives it: the [`CausalNet`] trait, the
//! key/value cache its layers extend, and the `causal_net!` macro a network file invokes once to
//! implement the trait. A leaf: the network files (`gpt2`, `llama`, `gpt_neo`, …) import it, and
//! scoring (`causal`) and decoding (`decode`) drive a `dyn CausalNet` without naming any network.

use tch::Tensor;

use super::attention::Attend;
use crate::models::neural::NeuralError;

/// Keys and values of the positions seen so far, per layer.
#[derive(Default)]
pub struct KvCache {
    layers: Vec<(Tensor, Tensor)>,
    /// Positions held (padding included).
    pub len: usize,
}

impl KvCache {
    /// Appends this step's keys and values `[b, heads, t, d]` of `layer`; returns all of them.
    pub fn extend(&mut self, layer: usize, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        let (k, v) = match self.layers.get(layer) {
            Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2), Tensor::cat(&[pv, &v], 2)),
            None => (k, v),
        };
        let entry = (k.shallow_clone(), v.shallow_clone());
        if layer < self.layers.len() {
            self.layers[layer] = entry;
        } else {
            self.layers.push(entry);
        }
        (k, v)
    }
}

/// A causal network: final hidden states for token ids at given positions under a mask, with
/// or without a key/value cache, and the output matrix applied to chosen rows.
pub trait CausalNet: Send {
    /// Final hidden states `[batch, seq, d]` (see `Gpt2::forward`, `Llama::forward`).
    fn forward_cached(
        &self,
        input: &Tensor,
        positions: &Tensor,
        attend: &Attend,
        cache: &mut KvCache,
    ) -> Result<Tensor, NeuralError>;
    /// Logits `[…, vocab]` of final hidden states `[…, d]`.
    fn head(&self, hidden: &Tensor) -> Tensor;
    /// Log-probabilities `[n]` of `targets` `[n]` predicted at the flat positions `rows` (`[n]`,
    /// indices into batch × seq) of `input` `[batch, seq]` at `positions`, attending as `attend`
    /// says. The output matrix is applied to those rows only, a slice of rows at a time, so the
    /// logits of a large batch never sit in memory whole.
    fn scored_logprobs(
        &self,
        input: &Tensor,
        positions: &Tensor,
        attend: &Attend,
        rows: &Tensor,
        targets: &Tensor,
    ) -> Result<Tensor, NeuralError>;
    /// Positions the model was trained on.
    fn context(&self) -> usize;
    /// The position at which a sequence's rotary embeddings change (Phi-3's longrope switches
    /// factors beyond its original context): a decode step that reaches it recomputes the
    /// cached keys, as transformers' `generate` does.
    fn recompute_cache_at(&self) -> Option<i64> {
        None
    }
    fn vocab(&self) -> usize;
    fn summary(&self) -> &str;
}

/// The networks have the same entry points; the trait forwards to them.
macro_rules! causal_net {
    ($ty:ty, recompute) => {
        causal_net!($ty, fn recompute_cache_at(&self) -> Option<i64> {
            <$ty>::recompute_cache_at(self)
        });
    };
    ($ty:ty $(, $extra:item)?) => {
        impl super::net::CausalNet for $ty {
            $($extra)?
            fn forward_cached(
                &self,
                input: &tch::Tensor,
                positions: &tch::Tensor,
                attend: &super::attention::Attend,
                cache: &mut super::net::KvCache,
            ) -> Result<tch::Tensor, crate::models::neural::NeuralError> {
                <$ty>::forward(self, input, positions, attend, Some(cache))
            }
            fn head(&self, hidden: &tch::Tensor) -> tch::Tensor {
                <$ty>::head(self, hidden)
            }
            fn scored_logprobs(
                &self,
                input: &tch::Tensor,
                positions: &tch::Tensor,
                attend: &super::attention::Attend,
                rows: &tch::Tensor,
                targets: &tch::Tensor,
            ) -> Result<tch::Tensor, crate::models::neural::NeuralError> {
                let states = <$ty>::forward(self, input, positions, attend, None)?;
                let width = states.size()[2];
                let states = states.view([-1, width]).index_select(0, rows);
                let n = states.size()[0];
                let parts: Vec<tch::Tensor> = (0..n)
                    .step_by(super::net::HEAD_ROWS)
                    .map(|start| {
                        let len = super::net::HEAD_ROWS.min((n - start) as usize) as i64;
                        super::target_logprobs(
                            &self.head(&states.narrow(0, start, len)),
                            &targets.narrow(0, start, len),
                        )
                    })
                    .collect();
                Ok(if parts.is_empty() {
                    tch::Tensor::zeros([0], (tch::Kind::Float, input.device()))
                } else {
                    tch::Tensor::cat(&parts, 0)
                })
            }
            fn context(&self) -> usize {
                self.context
            }
            fn vocab(&self) -> usize {
                self.vocab
            }
            fn summary(&self) -> &str {
                &self.summary
            }
        }
    };
}
pub(crate) use causal_net;

/// Rows of logits computed at a time: 512 × a 49k vocabulary is 100 MB in f32.
pub const HEAD_ROWS: usize = 512;
