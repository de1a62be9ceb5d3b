//! Reading the server's `/metrics`, in the Prometheus text format, just
//! enough for the report: sample lines `name{label="value",…} value
//! [timestamp]`. Comments, blank lines and lines it cannot read are
//! skipped, so a metric the server does not export is simply absent and
//! the report shows "–" for what depends on it.

use std::collections::BTreeMap;

/// The writer's totals (SQLite's group commit).
const BATCH_COUNT: &str = "callaccess_store_batch_size_count";
const BATCH_SUM: &str = "callaccess_store_batch_size_sum";
const COMMIT_SECONDS: &str = "callaccess_store_commit_seconds_sum";
/// The PostgreSQL store's counters, labelled by `backend` and `operation`.
const ROUND_TRIPS: &str = "callaccess_store_round_trips_total";
const STATEMENTS: &str = "callaccess_store_statements_total";
/// Requests the server answered, labelled by `method`, `route`, `status`.
const HTTP_REQUESTS: &str = "callaccess_http_requests_total";
/// The benchmark's own reads of `/metrics`, not part of any scenario.
const METRICS_ROUTE: &str = "/metrics";

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample line of `text` that reads as one.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(inside) => parse_labels(inside)?,
        None => (Vec::new(), &line[name_end..]),
    };
    // The value, then an optional timestamp, which the report ignores.
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// The labels after a `{`, up to the closing `}`, and the rest of the
/// line. Values are quoted, with `\\`, `\"` and `\n` escaped.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Some((labels, rest));
        }
        let (key, rest) = s.split_once('=')?;
        let mut chars = rest.trim_start().strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (at, '"') => break at,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        let after = rest.trim_start();
        // `after` starts with the opening quote; skip it and the value.
        s = after[1 + end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// One reading of `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    samples: Vec<Sample>,
}

/// The writer's running totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterTotals {
    pub commits: f64,
    pub jobs: f64,
    pub commit_seconds: f64,
}

/// What a scenario cost the store, per request, from two snapshots.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreCost {
    /// All round trips to the database, over the requests the server
    /// answered; `None` when the server does not count them.
    pub round_trips: Option<f64>,
    /// All statements sent, likewise.
    pub statements: Option<f64>,
    /// Round trips per request of each store operation that made any.
    pub round_trips_by_operation: BTreeMap<String, f64>,
}

impl Snapshot {
    pub fn parse(text: &str) -> Self {
        Self {
            samples: parse(text),
        }
    }

    /// The sum of the samples named `name` that `keep` accepts; `None` when
    /// the server exports no sample of that name.
    pub fn sum(&self, name: &str, keep: impl Fn(&Sample) -> bool) -> Option<f64> {
        let mut named = self.samples.iter().filter(|s| s.name == name).peekable();
        named.peek()?;
        Some(named.filter(|s| keep(s)).map(|s| s.value).sum())
    }

    /// The samples named `name`, summed by the value of their label `key`.
    pub fn by_label(&self, name: &str, key: &str) -> BTreeMap<String, f64> {
        let mut sums = BTreeMap::new();
        for sample in self.samples.iter().filter(|s| s.name == name) {
            let value = sample.label(key).unwrap_or_default().to_owned();
            *sums.entry(value).or_insert(0.0) += sample.value;
        }
        sums
    }

    /// The writer's totals; zero where the server exports none.
    pub fn writer_totals(&self) -> WriterTotals {
        let total = |name| self.sum(name, |_| true).unwrap_or(0.0);
        WriterTotals {
            commits: total(BATCH_COUNT),
            jobs: total(BATCH_SUM),
            commit_seconds: total(COMMIT_SECONDS),
        }
    }

    /// Requests the server counted, other than those for `/metrics`.
    fn requests(&self) -> Option<f64> {
        self.sum(HTTP_REQUESTS, |s| s.label("route") != Some(METRICS_ROUTE))
    }
}

/// A counter's growth from `before` to `after`. Counters appear on first
/// use, so one absent before and present after grew from zero.
fn growth(before: &Snapshot, after: &Snapshot, name: &str) -> Option<f64> {
    let end = after.sum(name, |_| true)?;
    Some(end - before.sum(name, |_| true).unwrap_or(0.0))
}

/// Store round trips and statements per request between two snapshots.
///
/// The requests divided by are the server's own count over the same two
/// readings (warm-up included, `/metrics` excluded), so requests in flight
/// at either end count on both sides; `fallback_requests` (the benchmark's
/// count) is used when the server does not count requests.
pub fn store_cost(before: &Snapshot, after: &Snapshot, fallback_requests: u64) -> StoreCost {
    let requests = match (before.requests(), after.requests()) {
        (Some(start), Some(end)) if end > start => end - start,
        _ => fallback_requests as f64,
    };
    if requests <= 0.0 {
        return StoreCost::default();
    }
    let per_request = |name| growth(before, after, name).map(|n| n / requests);
    let start = before.by_label(ROUND_TRIPS, "operation");
    let round_trips_by_operation = after
        .by_label(ROUND_TRIPS, "operation")
        .into_iter()
        .map(|(operation, end)| {
            let grew = end - start.get(&operation).copied().unwrap_or(0.0);
            (operation, grew / requests)
        })
        .filter(|(_, per)| *per > 0.0)
        .collect();
    StoreCost {
        round_trips: per_request(ROUND_TRIPS),
        statements: per_request(STATEMENTS),
        round_trips_by_operation,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn reads_names_labels_and_values() {
        let samples = parse(
            "# HELP callaccess_store_round_trips_total Round trips\n\
             # TYPE callaccess_store_round_trips_total counter\n\
             callaccess_store_round_trips_total{backend=\"postgres\",operation=\"grant_access\"} 12\n\
             \n\
             up 1 1700000000000\n\
             odd{path=\"a\\\"b,c}\\\\d\\n\", x = \"y\" ,} 2.5e3\n\
             inf{le=\"+Inf\"} +Inf\n",
        );
        assert_eq!(samples.len(), 4);
        assert_eq!(samples[0].name, "callaccess_store_round_trips_total");
        assert_eq!(samples[0].label("backend"), Some("postgres"));
        assert_eq!(samples[0].label("operation"), Some("grant_access"));
        assert_eq!(samples[0].value, 12.0);
        assert_eq!(samples[1].name, "up");
        assert!(samples[1].labels.is_empty());
        assert_eq!(samples[1].value, 1.0);
        assert_eq!(samples[2].label("path"), Some("a\"b,c}\\d\n"));
        assert_eq!(samples[2].label("x"), Some("y"));
        assert_eq!(samples[2].value, 2500.0);
        assert_eq!(samples[3].value, f64::INFINITY);
    }

    #[test]
    fn skips_lines_it_cannot_read() {
        let samples = parse(
            "no_value\n\
             bad_value{a=\"b\"} twelve\n\
             unclosed{a=\"b} 1\n\
             unquoted{a=b} 1\n\
             {a=\"b\"} 1\n\
             fine 3\n",
        );
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].name, "fine");
    }

    #[test]
    fn absent_metrics_are_none_not_zero() {
        let snapshot = Snapshot::parse("callaccess_http_requests_total{route=\"/healthz\"} 4\n");
        assert_eq!(snapshot.sum(ROUND_TRIPS, |_| true), None);
        assert_eq!(snapshot.sum(HTTP_REQUESTS, |_| true), Some(4.0));
        assert_eq!(
            snapshot.writer_totals(),
            WriterTotals {
                commits: 0.0,
                jobs: 0.0,
                commit_seconds: 0.0
            }
        );
    }

    fn postgres_text(requests: u64, grants: u64, keys: u64, statements: u64) -> String {
        format!(
            "callaccess_http_requests_total{{method=\"PUT\",route=\"/v2/calls/users-access\",status=\"200\"}} {requests}\n\
             callaccess_http_requests_total{{method=\"GET\",route=\"/metrics\",status=\"200\"}} 1000\n\
             callaccess_store_round_trips_total{{backend=\"postgres\",operation=\"grant_access\"}} {grants}\n\
             callaccess_store_round_trips_total{{backend=\"postgres\",operation=\"api_key\"}} {keys}\n\
             callaccess_store_statements_total{{backend=\"postgres\",operation=\"grant_access\"}} {statements}\n"
        )
    }

    #[test]
    fn store_cost_divides_counter_growth_by_the_servers_requests() {
        let before = Snapshot::parse(&postgres_text(100, 100, 7, 300));
        let after = Snapshot::parse(&postgres_text(300, 500, 7, 900));
        let cost = store_cost(&before, &after, 1);
        assert_eq!(cost.round_trips, Some(2.0));
        assert_eq!(cost.statements, Some(3.0));
        // api_key made none: every request was authenticated from a cache.
        assert_eq!(
            cost.round_trips_by_operation,
            BTreeMap::from([("grant_access".to_owned(), 2.0)])
        );
    }

    #[test]
    fn a_counter_first_seen_after_grew_from_zero() {
        let before = Snapshot::parse("callaccess_http_requests_total{route=\"/x\"} 10\n");
        let after = Snapshot::parse(
            "callaccess_http_requests_total{route=\"/x\"} 20\n\
             callaccess_store_round_trips_total{operation=\"ping\"} 5\n",
        );
        let cost = store_cost(&before, &after, 1);
        assert_eq!(cost.round_trips, Some(0.5));
        assert_eq!(cost.statements, None);
    }

    #[test]
    fn without_store_counters_the_cost_is_unknown() {
        // SQLite: requests, but no round trips.
        let before = Snapshot::parse("callaccess_http_requests_total{route=\"/x\"} 10\n");
        let after = Snapshot::parse("callaccess_http_requests_total{route=\"/x\"} 20\n");
        let cost = store_cost(&before, &after, 10);
        assert_eq!(cost, StoreCost::default());
    }

    #[test]
    fn without_a_request_count_the_benchmarks_own_is_used() {
        let before = Snapshot::parse("callaccess_store_round_trips_total{operation=\"token\"} 0\n");
        let after = Snapshot::parse("callaccess_store_round_trips_total{operation=\"token\"} 30\n");
        assert_eq!(store_cost(&before, &after, 10).round_trips, Some(3.0));
        assert_eq!(store_cost(&before, &after, 0), StoreCost::default());
    }
}
