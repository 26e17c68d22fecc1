//! Few-shot examples drawn as lm-evaluation-harness 0.4 draws them: `num_fewshot: K` examples per
//! item from a `fewshot_split` file, or from the task's own data with the item left out. The
//! default sampler is the harness's: one `random.Random(fewshot_seed)` stream (seed 1234, the
//! harness's `--fewshot_random_seed` default) drawing `sample(pool, n)` for item after item in
//! file order, where n is K from a separate file and K + 1 from the task's own data, then
//! dropping any drawn example equal to the item and keeping the first K. `first_n` takes the
//! pool's first examples instead (the harness's sampler of that name, MMLU's). The same suite
//! therefore gives every item the same examples the harness would, run after run.

use std::path::PathBuf;

use serde::Deserialize;

use super::Check;
use super::pyrandom::PyRandom;
use crate::models::prompt::Delimiters;

/// The few-shot keys a task type that supports them adds to its options.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FewShotKeys {
    /// Examples before each item (default 0).
    #[serde(default)]
    pub num_fewshot: Option<usize>,
    /// A file (same fields as the dataset) the examples come from; default the dataset itself,
    /// the item excluded. Relative to the suite file.
    #[serde(default)]
    pub fewshot_split: Option<PathBuf>,
    /// Seeds the draw (default 1234, lm-evaluation-harness's).
    #[serde(default)]
    pub fewshot_seed: Option<u64>,
    /// `random` (default) or `first_n`.
    #[serde(default)]
    pub fewshot_sampler: Option<String>,
    /// After each example (default two newlines).
    #[serde(default)]
    pub fewshot_delimiter: Option<String>,
    /// Chat models: each example as a user turn and the assistant's answer (default false: all
    /// examples and the question in one user turn).
    #[serde(default)]
    pub fewshot_as_multiturn: Option<bool>,
}

/// The resolved few-shot settings of a task.
#[derive(Debug, Clone)]
pub struct FewShot {
    pub k: usize,
    /// The examples' file; None: the task's own data.
    pub split: Option<PathBuf>,
    pub seed: u64,
    pub first_n: bool,
    pub delimiters: Delimiters,
}

/// Harness default for `fewshot_random_seed`.
pub const HARNESS_SEED: u64 = 1234;

impl FewShot {
    /// Checks and resolves the keys; `target_delimiter` is the task's.
    pub fn resolve(keys: FewShotKeys, target_delimiter: String, check: &mut Check) -> FewShot {
        let k = keys.num_fewshot.unwrap_or(0);
        let first_n = match keys.fewshot_sampler.as_deref() {
            None | Some("random") => false,
            Some("first_n") => true,
            Some(other) => {
                check.problem("fewshot_sampler", format!("unknown sampler {other:?} (random, first_n)"));
                false
            }
        };
        let split = keys.fewshot_split.map(|p| check.base.join(p));
        if let Some(p) = &split
            && !p.exists()
        {
            check.problem("fewshot_split", format!("{} does not exist", p.display()));
        }
        if k == 0 {
            let given = [
                ("fewshot_split", split.is_some()),
                ("fewshot_seed", keys.fewshot_seed.is_some()),
                ("fewshot_sampler", keys.fewshot_sampler.is_some()),
                ("fewshot_delimiter", keys.fewshot_delimiter.is_some()),
                ("fewshot_as_multiturn", keys.fewshot_as_multiturn.is_some()),
            ];
            for (key, _) in given.iter().filter(|(_, g)| *g) {
                check.problem(key, format!("`{key}` needs `num_fewshot` of at least 1"));
            }
        }
        let delimiters = Delimiters {
            target: target_delimiter,
            fewshot: keys.fewshot_delimiter.unwrap_or_else(|| "\n\n".into()),
            multiturn: keys.fewshot_as_multiturn.unwrap_or(false),
        };
        FewShot { k, split, seed: keys.fewshot_seed.unwrap_or(HARNESS_SEED), first_n, delimiters }
    }

    /// Whether the harness draws each item's examples twice for a chat model and uses the second
    /// draw: 0.4.5's `get_chat_context` draws once, and without `fewshot_as_multiturn` hands over
    /// to `get_context`, which draws again. The stream, and so every later item's examples,
    /// depends on it; lmgauge follows it so that chat prompts stay the harness's.
    pub fn chat_draws_twice(&self) -> bool {
        self.k > 0 && !self.delimiters.multiturn
    }

    /// For each item in order, the indices of its examples in `pool`. `same` says the pool is
    /// the items' own file, so one more is drawn and the item itself dropped; `pool_name` names
    /// the pool in the error when it is too small; `chat` follows [`FewShot::chat_draws_twice`].
    pub fn draw<T: PartialEq>(
        &self,
        items: &[T],
        pool: &[T],
        same: bool,
        pool_name: &str,
        chat: bool,
    ) -> Result<Vec<Vec<usize>>, String> {
        if self.k == 0 {
            return Ok(vec![Vec::new(); items.len()]);
        }
        let n = if same { self.k + 1 } else { self.k };
        if n > pool.len() {
            let why =
                if same { format!(" ({} and the item itself, which is left out)", self.k) } else { String::new() };
            return Err(format!(
                "num_fewshot {} needs {n} examples{why}, but {pool_name} holds {}",
                self.k,
                pool.len()
            ));
        }
        let mut rng = PyRandom::new(self.seed);
        let first: Vec<usize> = (0..n).collect();
        let draws = if chat && self.chat_draws_twice() { 2 } else { 1 };
        Ok(items
            .iter()
            .map(|item| {
                let mut drawn = first.clone();
                if !self.first_n {
                    for _ in 0..draws {
                        drawn = rng.sample(pool.len(), n).unwrap_or_default();
                    }
                }
                drawn.into_iter().filter(|&j| pool[j] != *item).take(self.k).collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn few(k: usize, first_n: bool) -> FewShot {
        FewShot { k, split: None, seed: HARNESS_SEED, first_n, delimiters: Delimiters::default() }
    }

    #[test]
    fn draws_follow_the_harness_and_leave_the_item_out() {
        let pool: Vec<u32> = (0..10).collect();
        // random.Random(1234).sample(range(10), 4) is [7, 1, 0, 9]: item 0 loses its own draw.
        let shots = few(3, false).draw(&pool[..2], &pool, true, "the data", false).unwrap();
        assert_eq!(shots[0], [7, 1, 9]);
        assert_eq!(shots[1].len(), 3);
        assert!(!shots[1].contains(&1));
        // A chat model's examples in one turn come from every second draw: [9, 0, 1, 8].
        let twice = few(3, false).draw(&pool[..1], &pool, true, "the data", true).unwrap();
        assert_eq!(twice[0], [9, 1, 8]);
        assert_eq!(few(2, true).draw(&[5u32], &pool, false, "x", true).unwrap(), [[0, 1]]);
        let e = few(10, false).draw(&pool[..1], &pool, true, "q.jsonl", false).unwrap_err();
        assert_eq!(
            e,
            "num_fewshot 10 needs 11 examples (10 and the item itself, which is left out), but q.jsonl holds 10"
        );
    }
}
