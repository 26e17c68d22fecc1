//! Which tokens each forward pass sees and which it scores, and how passes batch together.
//!
//! Causal models read text in windows no longer than their context. Two policies exist in the
//! ecosystem and give different numbers, so both are here, each exactly as its tool does it:
//! lm-evaluation-harness's `loglikelihood_rolling` (disjoint windows; the first token predicted
//! from the end-of-text token; later windows take their context from the tokens before them) and
//! the transformers guide's sliding window (one sequence, no prefix, windows advancing by
//! `stride`, each scoring only its new tokens, so the first token of the text is never scored).
//! Masked models read `[CLS] window [SEP]`; long texts slide the same way as the guide's loop.

use std::ops::Range;

/// One forward pass: its input and the text's tokens it scores. Position `first_pos + j`'s
/// next-token distribution scores token `targets.start + j` (causal); for masked passes the
/// caller knows which position it masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub input: Vec<i64>,
    pub first_pos: usize,
    pub targets: Range<usize>,
}

/// lm-evaluation-harness's `get_rolling_token_windows(prefix_token, max_seq_len, context_len=1)`
/// followed by `make_disjoint_window`, as `HFLM.loglikelihood_rolling` uses them.
pub fn rolling(ids: &[i64], prefix: i64, max_len: usize) -> Vec<Window> {
    let n = ids.len();
    if n == 0 || max_len == 0 {
        return Vec::new();
    }
    let first = max_len.min(n);
    let mut input = Vec::with_capacity(first);
    input.push(prefix);
    input.extend_from_slice(&ids[..first - 1]);
    let mut out = vec![Window { input, first_pos: 0, targets: 0..first }];
    let mut predicted = first;
    while predicted < n {
        let pred = (n - predicted).min(max_len);
        let end = predicted + pred;
        // end >= max_len + 1 here, because the first window predicted max_len tokens.
        let input = ids[end - max_len - 1..end - 1].to_vec();
        out.push(Window { input, first_pos: max_len - pred, targets: predicted..end });
        predicted = end;
    }
    out
}

/// The transformers perplexity guide's loop over one sequence: windows `[begin, begin+max_len)`
/// for `begin` in steps of `stride`, each scoring the tokens after the previous window's end.
pub fn sliding(ids: &[i64], max_len: usize, stride: usize) -> Vec<Window> {
    let n = ids.len();
    let mut out = Vec::new();
    if n == 0 || max_len == 0 || stride == 0 {
        return out;
    }
    let mut prev_end = 0;
    let mut begin = 0;
    while begin < n {
        let end = (begin + max_len).min(n);
        let first_target = (begin + 1).max(prev_end);
        if first_target < end {
            out.push(Window {
                input: ids[begin..end].to_vec(),
                first_pos: first_target - 1 - begin,
                targets: first_target..end,
            });
        }
        prev_end = end;
        if end == n {
            break;
        }
        begin += stride;
    }
    out
}

/// llama.cpp's `llama-perplexity`: the text's tokens (after the beginning-of-text token when its
/// tokenizer adds one) in disjoint chunks of `n_ctx`, the last partial chunk dropped; each chunk
/// starts with the beginning-of-text token in place of its first token when `bos` is given, and
/// scores only its second half after the first position of it (`n_ctx - n_ctx/2 - 1` tokens), so
/// every scored token has at least half a chunk of context.
pub fn llama_chunks(ids: &[i64], n_ctx: usize, bos: Option<i64>) -> Vec<Window> {
    if n_ctx < 2 {
        return Vec::new();
    }
    let first = n_ctx / 2;
    (0..ids.len() / n_ctx)
        .map(|i| {
            let start = i * n_ctx;
            let mut input = ids[start..start + n_ctx].to_vec();
            if let Some(bos) = bos {
                input[0] = bos;
            }
            Window { input, first_pos: first, targets: start + first + 1..start + n_ctx }
        })
        .collect()
}

/// Windows `(begin, end, first_scored)` of a masked LM over `n` content tokens: one window when
/// the text fits, else the sliding loop, each token scored in the first window that holds it.
pub fn masked_spans(n: usize, max_content: usize, stride: usize) -> Vec<(usize, usize, usize)> {
    if n <= max_content {
        return if n == 0 { Vec::new() } else { vec![(0, n, 0)] };
    }
    let stride = stride.max(1);
    let mut out = Vec::new();
    let (mut begin, mut prev_end) = (0, 0);
    while begin < n {
        let end = (begin + max_content).min(n);
        out.push((begin, end, prev_end));
        prev_end = end;
        if end == n {
            break;
        }
        begin += stride;
    }
    out
}

/// Groups sequences (by length) into batches of at most `budget` padded tokens, longest first so
/// that each batch pads little; a sequence longer than the budget goes alone. Deterministic.
pub fn batches(lengths: &[usize], budget: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut width = 0;
    for i in order {
        let w = width.max(lengths[i]);
        if !current.is_empty() && w * (current.len() + 1) > budget {
            out.push(std::mem::take(&mut current));
            width = 0;
        }
        width = width.max(lengths[i]);
        current.push(i);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Packs windows of `lengths` into rows of at most `width` slots, longest first, each into the
/// fullest row it still fits (best fit decreasing; ties go to the earlier row), so that short
/// windows share rows instead of each being padded to the batch's longest. Deterministic: the
/// same lengths always give the same rows. Each row lists its windows in the order placed.
pub fn pack(lengths: &[usize], width: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by(|&a, &b| lengths[b].cmp(&lengths[a]).then(a.cmp(&b)));
    let mut rows: Vec<Vec<usize>> = Vec::new();
    // (room left, row) of rows that may take more.
    let mut open: std::collections::BTreeSet<(usize, usize)> = std::collections::BTreeSet::new();
    for i in order {
        let len = lengths[i];
        match open.range((len, 0)..).next().copied() {
            Some((room, row)) => {
                open.remove(&(room, row));
                rows[row].push(i);
                if room > len {
                    open.insert((room - len, row));
                }
            }
            None => {
                rows.push(vec![i]);
                if width > len {
                    open.insert((width - len, rows.len() - 1));
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every token scored exactly once, each predicted from the token just before it.
    fn check_causal(ids: &[i64], windows: &[Window], prefix: Option<i64>) {
        let mut next = if prefix.is_some() { 0 } else { 1 };
        for w in windows {
            assert_eq!(w.targets.start, next);
            for (j, t) in w.targets.clone().enumerate() {
                let p = w.first_pos + j;
                let before = if t == 0 { prefix.unwrap() } else { ids[t - 1] };
                assert_eq!(w.input[p], before, "position {p} of a window must hold the token before target {t}");
            }
            next = w.targets.end;
        }
        assert_eq!(next, ids.len().max(if prefix.is_some() { 0 } else { 1 }));
    }

    #[test]
    fn llama_chunks_score_the_second_half_of_each_whole_chunk() {
        let ids: Vec<i64> = (100..110).collect();
        // Chunks of 4: [100..104) and [104..108); the last two tokens fill no chunk.
        let w = llama_chunks(&ids, 4, None);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0], Window { input: vec![100, 101, 102, 103], first_pos: 2, targets: 3..4 });
        assert_eq!(w[1], Window { input: vec![104, 105, 106, 107], first_pos: 2, targets: 7..8 });
        // Position first_pos + j predicts target j: input[2] = 102 predicts ids[3] = 103.
        assert_eq!(w[0].input[w[0].first_pos] + 1, ids[w[0].targets.start]);
        let b = llama_chunks(&ids, 5, Some(1));
        assert_eq!(b.iter().map(|w| w.input[0]).collect::<Vec<_>>(), vec![1, 1]);
        assert_eq!(b[1].targets, 8..10);
        assert!(llama_chunks(&ids, 11, None).is_empty() && llama_chunks(&ids, 1, None).is_empty());
    }

    #[test]
    fn rolling_matches_harness_shapes() {
        let ids: Vec<i64> = (10..30).collect();
        let w = rolling(&ids, 0, 8);
        check_causal(&ids, &w, Some(0));
        assert_eq!(w.len(), 3);
        assert!(w.iter().all(|w| w.input.len() == 8));
        assert_eq!(w[2].targets, 16..20);
        assert_eq!(w[2].first_pos, 4);
        assert!(rolling(&[], 0, 8).is_empty());
        check_causal(&[5], &rolling(&[5], 0, 8), Some(0));
    }

    #[test]
    fn sliding_scores_each_token_once_but_the_first() {
        let ids: Vec<i64> = (0..50).collect();
        for (max_len, stride) in [(16, 4), (16, 15), (64, 8), (2, 1), (3, 2)] {
            let w = sliding(&ids, max_len, stride);
            check_causal(&ids, &w, None);
            assert!(w.iter().all(|w| w.input.len() <= max_len));
        }
        // stride == max_len: like the guide, each window's first token has no context and goes
        // unscored (the label shift), so 50 tokens in windows of 16 score 50 - 4.
        let w = sliding(&ids, 16, 16);
        assert_eq!(w.iter().map(|w| w.targets.len()).sum::<usize>(), 46);
        assert!(sliding(&[7], 16, 4).is_empty());
    }

    #[test]
    fn masked_spans_cover_every_token_once() {
        for (n, max, stride) in [(10, 20, 5), (100, 30, 15), (31, 30, 1), (0, 30, 15)] {
            let spans = masked_spans(n, max, stride);
            let mut next = 0;
            for &(b, e, f) in &spans {
                assert!(e - b <= max && b <= f && f == next);
                next = e;
            }
            assert_eq!(next, n);
        }
    }

    #[test]
    fn batches_respect_the_budget() {
        let lens = [5, 64, 3, 64, 10, 200, 7];
        let b = batches(&lens, 128);
        let mut seen: Vec<usize> = b.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for batch in &b {
            let width = batch.iter().map(|&i| lens[i]).max().unwrap();
            assert!(batch.len() == 1 || width * batch.len() <= 128);
        }
    }

    #[test]
    fn packing_places_every_window_once_within_the_width_and_fills_rows() {
        let lens = [292, 274, 18, 35, 31, 9, 9, 8, 292, 5, 1, 100, 190];
        let rows = pack(&lens, 292);
        let mut seen: Vec<usize> = rows.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lens.len()).collect::<Vec<_>>());
        for row in &rows {
            assert!(row.iter().map(|&i| lens[i]).sum::<usize>() <= 292, "{row:?}");
        }
        // 1,264 slots in rows of 292 need at least 5 rows; best fit decreasing reaches that.
        assert_eq!(rows.len(), 5, "{rows:?}");
        // Longest first, each into the fullest row that still takes it.
        assert_eq!(rows[0], vec![0]);
        assert_eq!(rows[2], vec![1, 2]);
        assert_eq!(pack(&lens, 292), rows, "deterministic");
        // A width below a window's length still places it, alone.
        assert_eq!(pack(&[10, 3], 4), vec![vec![0], vec![1]]);
    }
}
