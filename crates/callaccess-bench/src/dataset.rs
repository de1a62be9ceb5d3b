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
//!
//! The users form an org chart ([`Chart`]): user `i > 0` reports to user
//! `(i - 1) / FANOUT`, so 100,000 users make a tree ten levels deep.
//! Profiles follow the levels: the top three levels hold `report-to-them`,
//! the next three `managers-team` (their manager's team), the rest `own`;
//! the deepest level alternates `own` and `report-to-them`. Those deepest
//! users have nobody below them, so a PUT for one of them with
//! `report-to-them` walks the call owner's whole chain to the top before
//! it records the grant: the hierarchy's worst case. The same PUT for one
//! with `own` is the flat case. Two pools of pairs ([`Pool`]) name just
//! those users.

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
/// The one workspace of the benchmark company.
const WORKSPACE_ID: u64 = 6_234_572_765_843_340_001;
/// Reports per manager in the org chart.
pub const FANOUT: u64 = 4;

/// The benchmark's profiles, one per kind of user: id, name, level.
const PROFILES: [(u64, &str, &str); 3] = [
    (3_843_152_912_968_920_001, "Leaders", "report-to-them"),
    (3_843_152_912_968_920_002, "Team leads", "managers-team"),
    (3_843_152_912_968_920_003, "Reps", "own"),
];

/// The org chart of `users` users (see the module's docs).
#[derive(Debug, Clone, Copy)]
pub struct Chart {
    pub users: u64,
}

impl Chart {
    pub fn manager(&self, user: u64) -> Option<u64> {
        (user > 0).then(|| (user - 1) / FANOUT)
    }

    /// Levels above the user (the top user is at depth 0).
    pub fn depth(&self, mut user: u64) -> u32 {
        let mut depth = 0;
        while let Some(manager) = self.manager(user) {
            user = manager;
            depth += 1;
        }
        depth
    }

    /// The deepest level, and its first user.
    pub fn deepest(&self) -> (u32, u64) {
        let deepest = self.depth(self.users.saturating_sub(1));
        let mut first = 0;
        let mut width = 1;
        for _ in 0..deepest {
            first += width;
            width *= FANOUT;
        }
        (deepest, first)
    }

    /// Index into [`PROFILES`] of the user's profile.
    fn profile(&self, user: u64) -> usize {
        let (deepest, _) = self.deepest();
        match self.depth(user) {
            d if d == deepest && deepest > 0 && user % 2 == 1 => 0,
            d if d == deepest && deepest > 0 => 2,
            0..=2 => 0,
            3..=5 => 1,
            _ => 2,
        }
    }
}

/// Users of the deepest level with one profile: `report-to-them` (the
/// hierarchy's worst case) or `own` (flat). Pair numbers map onto them as
/// they do onto all users in [`World`].
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// Pairs over (calls × the pool's users).
    pub world: World,
    /// The pool's first user, and the step between its users.
    first: u64,
    step: u64,
}

impl Pool {
    /// The deepest level's users with `report-to-them` (`hierarchy`) or
    /// `own`; `None` when the level has fewer than [`BLOCK`] of them.
    pub fn new(chart: Chart, calls: u64, hierarchy: bool) -> Option<Self> {
        let (_, first_leaf) = chart.deepest();
        // Odd users of the level have report-to-them, even ones own.
        let first = if (first_leaf % 2 == 1) == hierarchy {
            first_leaf
        } else {
            first_leaf + 1
        };
        let size = chart.users.saturating_sub(first).div_ceil(2);
        let world = World::new(size, calls).ok()?;
        Some(Self {
            world,
            first,
            step: 2,
        })
    }

    /// Pair number `k` as (call index, user index of the whole company).
    pub fn pair(&self, k: u64) -> (u64, u64) {
        let (call, user) = self.world.pair(k);
        (call, self.first + user * self.step)
    }
}

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
        self.body_of(first, count, |k| self.pair(k))
    }

    /// A PUT body naming pairs `first .. first + count` of `pool`.
    pub fn pool_body(&self, pool: &Pool, first: u64, count: u64) -> Vec<u8> {
        self.body_of(first, count, |k| pool.pair(k))
    }

    /// A `POST /v2/calls/extensive` body naming `count` random calls.
    pub fn extensive_body(&self, rng: &mut impl Rng, count: u64) -> Vec<u8> {
        let mut body = String::from("{\"filter\":{\"callIds\":[");
        for i in 0..count {
            if i > 0 {
                body.push(',');
            }
            let call = rng.random_range(0..self.calls);
            let _ = write!(body, "\"{}\"", self.call_id(call));
        }
        body.push_str("]}}");
        body.into_bytes()
    }

    fn body_of(&self, first: u64, count: u64, pair: impl Fn(u64) -> (u64, u64)) -> Vec<u8> {
        let mut body = String::with_capacity(40 + count as usize * 22);
        body.push_str("{\"callAccessList\":[");
        let mut current: Option<u64> = None;
        for k in first..first + count {
            let (call, user) = pair(k);
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
    /// workspace and profiles, its users in the org chart (see the
    /// module's docs), its calls and one full-access key with `secret`.
    pub fn write_seed(&self, path: &Path, secret: &str) -> anyhow::Result<()> {
        let chart = Chart { users: self.users };
        let mut text = String::with_capacity((self.users + self.calls) as usize * 150);
        let _ = write!(
            text,
            "{{\"companies\":[{{\"id\":\"{COMPANY_ID}\",\"name\":\"Bench\",\
             \"apiKeys\":[{{\"accessKey\":\"{ACCESS_KEY}\",\"accessKeySecret\":\"{secret}\"}}],\
             \"workspaces\":[{{\"id\":\"{WORKSPACE_ID}\",\"name\":\"Bench\"}}],\
             \"profiles\":["
        );
        for (index, (id, name, level)) in PROFILES.iter().enumerate() {
            if index > 0 {
                text.push(',');
            }
            let _ = write!(
                text,
                "{{\"id\":\"{id}\",\"workspaceId\":\"{WORKSPACE_ID}\",\"name\":\"{name}\",\
                 \"callsAccess\":{{\"permissionLevel\":\"{level}\",\"teamLeadIds\":[]}}}}"
            );
        }
        text.push_str("],\"users\":[");
        for user in 0..self.users {
            if user > 0 {
                text.push(',');
            }
            let id = self.user_id(user);
            let profile = PROFILES[chart.profile(user)].0;
            let _ = write!(
                text,
                "{{\"id\":\"{id}\",\"emailAddress\":\"u{user}@bench.test\",\"profileIds\":[\"{profile}\"]"
            );
            if let Some(manager) = chart.manager(user) {
                let _ = write!(text, ",\"managerId\":\"{}\"", self.user_id(manager));
            }
            text.push('}');
        }
        text.push_str("],\"calls\":[");
        for call in 0..self.calls {
            if call > 0 {
                text.push(',');
            }
            let _ = write!(
                text,
                "{{\"id\":\"{}\",\"primaryUserId\":\"{}\",\"started\":\"2026-11-02T15:00:00Z\"}}",
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
    fn the_chart_is_ten_levels_deep_and_the_pools_are_its_deepest_users() {
        let chart = Chart { users: 100_000 };
        assert_eq!(chart.deepest().0, 9, "levels 0 to 9");
        let (deepest, _) = chart.deepest();
        for hierarchy in [true, false] {
            let pool = Pool::new(chart, 1000, hierarchy).unwrap();
            let users: HashSet<u64> = (0..pool.world.capacity()).map(|k| pool.pair(k).1).collect();
            assert!(users.len() > 6000, "{}", users.len());
            for &user in &users {
                assert!(user < chart.users);
                assert_eq!(chart.depth(user), deepest);
                assert_eq!(chart.profile(user), if hierarchy { 0 } else { 2 });
            }
        }
        // Profiles are spread over the levels.
        assert_eq!(chart.profile(0), 0);
        assert_eq!(chart.profile(30), 1);
        assert_eq!(chart.profile(5000), 2);
    }

    #[test]
    fn the_seed_names_every_manager_and_profile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        let world = World::new(200, 20).unwrap();
        world.write_seed(&path, "s3cret-0123456789").unwrap();
        let seed: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let users = seed["companies"][0]["users"].as_array().unwrap();
        assert_eq!(users.len(), 200);
        assert!(users[0].get("managerId").is_none());
        assert_eq!(users[5]["managerId"], world.user_id(1).to_string());
        assert_eq!(
            seed["companies"][0]["profiles"].as_array().unwrap().len(),
            3
        );
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
