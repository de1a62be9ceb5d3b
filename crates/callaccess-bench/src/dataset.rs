//! The benchmark's world: one company with numbered users and calls, the
//! seed file that creates it, and the (call, user) pairs that requests name.
//!
//! Pairs are numbered: pair `k` is a fixed (call, user) for each `k` below
//! `calls × users`, and no two numbers give the same pair. Writers take
//! fresh numbers from a shared counter, so every PUT records grants that do
//! not exist yet, and deleters take numbers below what was granted, so
//! every DELETE removes grants that do exist: requests do real work rather
//! than hitting no-ops. Ten consecutive numbers share one call (with ten
//! different users), so a 1,000-pair request names 100 calls × 10 users,
//! and consecutive blocks land on calls far apart in the key space.

use std::fmt::Write as _;
use std::path::Path;

use rand::Rng;

/// Pairs per call in one run of consecutive pair numbers.
pub const BLOCK: u64 = 10;

/// The company every request acts for.
pub const COMPANY_ID: u64 = 9_100_000_000_000_000_001;
/// User `i` has id `USER_BASE + i`.
const USER_BASE: u64 = 234_599_000_000_000;
/// Call `c` has id `CALL_BASE + c`.
const CALL_BASE: u64 = 7_782_342_000_000_000_000;
/// The access key the generated seed creates.
pub const ACCESS_KEY: &str = "CALLACCESSBENCHKEY";

/// The size of the world and the mapping from pair numbers to pairs.
#[derive(Debug, Clone, Copy)]
pub struct World {
    pub users: u64,
    pub calls: u64,
    /// Spreads consecutive blocks over the calls (coprime with `calls`).
    call_step: u64,
    /// Spreads a call's users over the users (coprime with `users`).
    user_step: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The first number from `start` up that shares no factor with `n`.
fn coprime_from(start: u64, n: u64) -> u64 {
    (start..).find(|&m| gcd(m, n) == 1).unwrap_or(1)
}

impl World {
    /// `users` must be at least [`BLOCK`] so a block's users are distinct.
    pub fn new(users: u64, calls: u64) -> anyhow::Result<Self> {
        anyhow::ensure!(
            users >= BLOCK && calls >= 1,
            "the world needs at least {BLOCK} users and 1 call"
        );
        Ok(Self {
            users,
            calls,
            call_step: coprime_from(48_271, calls),
            user_step: coprime_from(997, users),
        })
    }

    /// How many distinct pairs numbers reach (all pairs when `users` is a
    /// multiple of [`BLOCK`]); pair numbers wrap around at this.
    pub fn capacity(&self) -> u64 {
        self.calls * (self.users / BLOCK * BLOCK)
    }

    /// Pair number `k` as (call index, user index).
    ///
    /// Block `b = k / BLOCK` picks the call `b × call_step mod calls`; blocks
    /// that pick the same call differ in `b / calls`, which selects a
    /// different run of [`BLOCK`] slots `j`, and `j × user_step mod users`
    /// is one-to-one for `j < users`. So distinct `k` give distinct pairs.
    pub fn pair(&self, k: u64) -> (u64, u64) {
        let k = k % self.capacity();
        let block = k / BLOCK;
        let call = (block % self.calls) * self.call_step % self.calls;
        let slot = (block / self.calls) * BLOCK + k % BLOCK;
        let user = (slot * self.user_step + call * 13) % self.users;
        (call, user)
    }

    pub fn call_id(&self, call: u64) -> u64 {
        CALL_BASE + call
    }

    pub fn user_id(&self, user: u64) -> u64 {
        USER_BASE + user
    }

    /// A PUT or DELETE body naming pairs `first .. first + count`, with the
    /// pairs of one call gathered into one item.
    pub fn change_body(&self, first: u64, count: u64) -> Vec<u8> {
        let mut body = String::with_capacity(40 + count as usize * 22);
        body.push_str("{\"callAccessList\":[");
        let mut current: Option<u64> = None;
        for k in first..first + count {
            let (call, user) = self.pair(k);
            if current != Some(call) {
                if current.is_some() {
                    body.push_str("]},");
                }
                let _ = write!(
                    body,
                    "{{\"callId\":\"{}\",\"userIds\":[",
                    self.call_id(call)
                );
                current = Some(call);
            } else {
                body.push(',');
            }
            let _ = write!(body, "\"{}\"", self.user_id(user));
        }
        if current.is_some() {
            body.push_str("]}");
        }
        body.push_str("]}");
        body.into_bytes()
    }

    /// A POST body listing one random call.
    pub fn list_body(&self, rng: &mut impl Rng) -> Vec<u8> {
        let call = rng.random_range(0..self.calls);
        format!(
            "{{\"filter\":{{\"callIds\":[\"{}\"]}}}}",
            self.call_id(call)
        )
        .into_bytes()
    }

    /// Writes the seed file (docs/SEED.md) that creates the company, its
    /// users (profile `none`, so every PUT records a grant), its calls and
    /// one full-access key with `secret`.
    pub fn write_seed(&self, path: &Path, secret: &str) -> anyhow::Result<()> {
        let mut text = String::with_capacity((self.users + self.calls) as usize * 90);
        let _ = write!(
            text,
            "{{\"companies\":[{{\"id\":\"{COMPANY_ID}\",\"name\":\"Bench\",\
             \"apiKeys\":[{{\"accessKey\":\"{ACCESS_KEY}\",\"accessKeySecret\":\"{secret}\"}}],\
             \"users\":["
        );
        for user in 0..self.users {
            if user > 0 {
                text.push(',');
            }
            let id = self.user_id(user);
            let _ = write!(
                text,
                "{{\"id\":\"{id}\",\"emailAddress\":\"u{user}@bench.test\",\"callsAccess\":\"none\"}}"
            );
        }
        text.push_str("],\"calls\":[");
        for call in 0..self.calls {
            if call > 0 {
                text.push(',');
            }
            let _ = write!(
                text,
                "{{\"id\":\"{}\",\"primaryUserId\":\"{}\"}}",
                self.call_id(call),
                self.user_id(call % self.users)
            );
        }
        text.push_str("]}]}");
        std::fs::write(path, text)?;
        Ok(())
    }
}

/// A fresh secret for the generated key: 40 characters of [0-9a-z].
pub fn random_secret() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pair_numbers_name_distinct_pairs() {
        for (users, calls) in [(10, 1), (200, 200), (1000, 37), (64, 1000)] {
            let world = World::new(users, calls).unwrap();
            let pairs: HashSet<_> = (0..world.capacity()).map(|k| world.pair(k)).collect();
            assert_eq!(pairs.len() as u64, world.capacity(), "{users} × {calls}");
        }
    }

    #[test]
    fn a_thousand_pairs_are_a_hundred_calls_of_ten_users() {
        let world = World::new(100_000, 100_000).unwrap();
        let body: serde_json::Value =
            serde_json::from_slice(&world.change_body(12_340, 1000)).unwrap();
        let items = body["callAccessList"].as_array().unwrap();
        assert_eq!(items.len(), 100);
        assert!(items
            .iter()
            .all(|item| item["userIds"].as_array().unwrap().len() == 10));
    }
}
