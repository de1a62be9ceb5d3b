//! The directory listings' filters and paging (directory.md §3).
//!
//! A listing is read in id order, one page of [`PAGE_SIZE`] records after
//! the last id the previous page returned (keyset paging). A record added
//! between two pages therefore lands after the cursor or before it, and
//! nothing is skipped or shown twice. `totalRecords` is counted once, for
//! the first page, and carried in the cursor, so later pages cost no count
//! and every page of one listing reports the same total.
//!
//! A [`Cursor`] is opaque to clients: its fields, then a checksum over them.
//! It names the company and the query it continues (a digest of the
//! listing's other inputs), so a cursor that was altered, or that is
//! replayed on another query or by another company, is refused. Everything
//! in it is checked against the request, so it needs no secret: a client
//! who forged one could only page through its own company's records.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::ids::{CallId, CompanyId, UserId, WorkspaceId};
use crate::model::Timestamp;

/// Records in one page, as Gong pages.
pub const PAGE_SIZE: usize = 100;

/// Which users a listing selects. `ids`: only these (unknown ones simply
/// match nothing). `created_from` inclusive, `created_to` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    pub ids: Option<Vec<UserId>>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
}

/// Which calls a listing selects, by `started`: `from` inclusive, `to`
/// exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub ids: Option<Vec<CallId>>,
    pub primary_users: Option<Vec<UserId>>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub workspace: Option<WorkspaceId>,
}

/// Where a page starts, and whether the listing's total is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageAfter {
    /// The last id of the previous page; `None` for the first page.
    pub after: Option<i64>,
    /// Records to return at most.
    pub limit: usize,
    /// Count every record the filter selects (the first page only).
    pub count: bool,
}

impl PageAfter {
    /// The first page of a listing.
    pub fn first() -> Self {
        Self {
            after: None,
            limit: PAGE_SIZE,
            count: true,
        }
    }

    /// The one record a lookup by id reads through a listing: no total.
    pub fn single() -> Self {
        Self {
            after: None,
            limit: 1,
            count: false,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether records follow this page.
    pub more: bool,
    /// Every record the filter selects, when asked for.
    pub total: Option<u64>,
}

/// Where the next page of one listing starts, for one company and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub company: CompanyId,
    /// [`query_digest`] of the listing's inputs other than the cursor.
    pub query: [u8; 16],
    /// The last id the previous page returned.
    pub after: i64,
    /// The number of the page this cursor leads to (the first page is 0).
    pub page: u32,
    /// The listing's total, counted for its first page.
    pub total: u64,
}

const VERSION: u8 = 1;
const BODY: usize = 1 + 8 + 16 + 8 + 4 + 8;
const CHECK: usize = 8;

/// What is wrong with a presented cursor; said in one message.
pub const BAD_CURSOR: &str =
    "cursor is not valid for this request: pass the cursor of the previous page unchanged, with the same other parameters";

/// The digest of a listing's inputs: the operation and each other input in
/// a fixed order, each length-prefixed so no two inputs read alike.
pub fn query_digest(operation: &str, inputs: &[&str]) -> [u8; 16] {
    let mut hash = Sha256::new();
    hash.update(b"callaccess listing\0");
    for part in std::iter::once(operation).chain(inputs.iter().copied()) {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut out = [0; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

fn checksum(body: &[u8]) -> [u8; CHECK] {
    let mut hash = Sha256::new();
    hash.update(b"callaccess cursor\0");
    hash.update(body);
    let digest = hash.finalize();
    let mut out = [0; CHECK];
    out.copy_from_slice(&digest[..CHECK]);
    out
}

impl Cursor {
    /// The text a client gets, and gives back for the next page.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(BODY + CHECK);
        bytes.push(VERSION);
        bytes.extend(self.company.get().to_be_bytes());
        bytes.extend(self.query);
        bytes.extend(self.after.to_be_bytes());
        bytes.extend(self.page.to_be_bytes());
        bytes.extend(self.total.to_be_bytes());
        let check = checksum(&bytes);
        bytes.extend(check);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The cursor in `text`, if it is one this service made, for this
    /// company and this query; else [`BAD_CURSOR`].
    pub fn decode(text: &str, company: CompanyId, query: [u8; 16]) -> Result<Self, &'static str> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| BAD_CURSOR)?;
        if bytes.len() != BODY + CHECK || bytes[0] != VERSION {
            return Err(BAD_CURSOR);
        }
        let (body, check) = bytes.split_at(BODY);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&checksum(body)[..], check)) {
            return Err(BAD_CURSOR);
        }
        let int = |range: std::ops::Range<usize>| {
            let mut buf = [0; 8];
            buf[8 - range.len()..].copy_from_slice(&body[range]);
            buf
        };
        let mut digest = [0; 16];
        digest.copy_from_slice(&body[9..25]);
        let cursor = Self {
            company: CompanyId::from_i64(i64::from_be_bytes(int(1..9))).ok_or(BAD_CURSOR)?,
            query: digest,
            after: i64::from_be_bytes(int(25..33)),
            page: u32::try_from(u64::from_be_bytes(int(33..37))).map_err(|_| BAD_CURSOR)?,
            total: u64::from_be_bytes(int(37..45)),
        };
        if cursor.company != company || cursor.query != query {
            return Err(BAD_CURSOR);
        }
        Ok(cursor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn company(n: i64) -> CompanyId {
        CompanyId::from_i64(n).unwrap()
    }

    fn cursor() -> Cursor {
        Cursor {
            company: company(7),
            query: query_digest("listUsers", &[""]),
            after: 234_599_484_848_423,
            page: 3,
            total: 1234,
        }
    }

    #[test]
    fn a_cursor_reads_back_for_its_own_company_and_query() {
        let c = cursor();
        let text = c.encode();
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(Cursor::decode(&text, c.company, c.query), Ok(c));
    }

    #[test]
    fn an_altered_or_misplaced_cursor_is_refused() {
        let c = cursor();
        let text = c.encode();
        // Every single-character change is caught.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for at in 0..text.len() {
            for &replacement in alphabet {
                let mut bytes = text.clone().into_bytes();
                if bytes[at] == replacement {
                    continue;
                }
                bytes[at] = replacement;
                let altered = String::from_utf8(bytes).unwrap();
                if URL_SAFE_NO_PAD.decode(&altered).ok() == URL_SAFE_NO_PAD.decode(&text).ok() {
                    // The last character's unused bits: the same bytes.
                    continue;
                }
                assert_eq!(
                    Cursor::decode(&altered, c.company, c.query),
                    Err(BAD_CURSOR),
                    "{altered}"
                );
            }
        }
        assert_eq!(Cursor::decode(&text, company(8), c.query), Err(BAD_CURSOR));
        let other = query_digest("listUsers", &["x"]);
        assert_eq!(Cursor::decode(&text, c.company, other), Err(BAD_CURSOR));
        assert_eq!(Cursor::decode("", c.company, c.query), Err(BAD_CURSOR));
        assert_eq!(
            Cursor::decode("not a cursor!", c.company, c.query),
            Err(BAD_CURSOR)
        );
    }

    #[test]
    fn digests_tell_inputs_apart() {
        assert_ne!(query_digest("a", &["bc"]), query_digest("a", &["b", "c"]));
        assert_ne!(query_digest("ab", &["c"]), query_digest("a", &["bc"]));
        assert_eq!(query_digest("a", &["b"]), query_digest("a", &["b"]));
    }
}
