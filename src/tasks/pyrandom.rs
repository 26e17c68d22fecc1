//! CPython's `random.Random` as far as lm-evaluation-harness uses it to draw few-shot examples:
//! the Mersenne Twister seeded from an integer exactly as `random.Random(seed)` seeds it
//! (`init_by_array` over the seed's 32-bit words), `getrandbits`, `_randbelow` and `sample`
//! (both of its strategies, chosen by the same size rule). Written by hand because the draws
//! must be the harness's own, item by item, for its prompts to be reproduced byte for byte.

const N: usize = 624;
const M: usize = 397;

pub struct PyRandom {
    state: [u32; N],
    index: usize,
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative integer seed.
    pub fn new(seed: u64) -> PyRandom {
        // CPython seeds from the 32-bit words of |seed|, least significant first; 0 is one word.
        let mut key = vec![seed as u32];
        if seed >> 32 != 0 {
            key.push((seed >> 32) as u32);
        }
        let mut r = PyRandom { state: [0; N], index: N };
        r.init_genrand(19_650_218);
        r.init_by_array(&key);
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.state[0] = s;
        for i in 1..N {
            let prev = self.state[i - 1];
            self.state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        let mt = &mut self.state;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = mt[i - 1];
            mt[i] = (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1];
            mt[i] = (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        for k in 0..N {
            let y = (self.state[k] & UPPER) | (self.state[(k + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            self.state[k] = self.state[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// `getrandbits(k)` for 1 ≤ k ≤ 32.
    fn getrandbits(&mut self, k: u32) -> u32 {
        self.next_u32() >> (32 - k)
    }

    /// `_randbelow(n)` for 1 ≤ n < 2³²: rejection sampling on n's bit length.
    fn below(&mut self, n: usize) -> usize {
        let k = usize::BITS - n.leading_zeros();
        loop {
            let r = self.getrandbits(k) as usize;
            if r < n {
                return r;
            }
        }
    }

    /// `sample(range(n), k)`: k distinct indices below n, in draw order; None when k > n.
    pub fn sample(&mut self, n: usize, k: usize) -> Option<Vec<usize>> {
        if k > n {
            return None;
        }
        // CPython picks the pool strategy when a list of n costs no more than a set of k.
        let mut setsize = 21usize;
        if k > 5 {
            setsize += 4usize.pow(((k * 3) as f64).log(4.0).ceil() as u32);
        }
        let mut out = Vec::with_capacity(k);
        if n <= setsize {
            let mut pool: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = self.below(n - i);
                out.push(pool[j]);
                pool[j] = pool[n - i - 1];
            }
        } else {
            let mut selected = rustc_hash::FxHashSet::default();
            for _ in 0..k {
                let mut j = self.below(n);
                while selected.contains(&j) {
                    j = self.below(n);
                }
                selected.insert(j);
                out.push(j);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by CPython 3.11's `random.Random(seed)`.
    #[test]
    fn draws_equal_cpython() {
        let mut r = PyRandom::new(1234);
        assert_eq!([r.next_u32(), r.next_u32(), r.next_u32()], [4150886329, 3342196574, 1892932127]);
        let mut r = PyRandom::new(1234);
        assert_eq!(r.sample(10, 4).unwrap(), [7, 1, 0, 9]);
        assert_eq!(r.sample(1000, 7).unwrap(), [932, 965, 961, 826, 596, 35, 687]);
        assert_eq!(r.sample(30, 6).unwrap(), [22, 2, 3, 24, 11, 7]);
        assert_eq!(r.sample(3, 3).unwrap(), [0, 2, 1]);
        assert_eq!(r.sample(3, 4), None);
        assert_eq!(PyRandom::new((1 << 40) + 5).sample(50, 3).unwrap(), [32, 33, 17]);
        assert_eq!(PyRandom::new(0).sample(50, 3).unwrap(), [24, 48, 26]);
    }
}
