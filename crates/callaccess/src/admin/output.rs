//! How the admin commands show what they did: JSON with `--json`, else a
//! table or a sentence; and the few ways values are written in them.

use std::io::Write as _;

use anyhow::anyhow;
use serde::Serialize;

use callaccess_domain::{Limit, Scope, Timestamp, UserId};

use crate::cli::OutputArgs;

pub(super) fn render<T: Serialize + ?Sized>(
    output: &OutputArgs,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    if output.json {
        Ok(serde_json::to_string_pretty(value)? + "\n")
    } else {
        Ok(text())
    }
}

/// A listing: the items as JSON, or one row of a table each.
pub(super) fn listing<T: Serialize>(
    output: &OutputArgs,
    items: &[T],
    headers: &[&str],
    empty: &str,
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<String> {
    render(output, items, || {
        table(headers, items.iter().map(row), empty)
    })
}

/// Writes the output; a closed pipe (`| head`) ends the command quietly
/// instead of panicking the way `print!` would.
pub fn emit(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow!("cannot write the output: {}", io_reason(&e)))
        }
        _ => Ok(()),
    }
}

/// An I/O error in the house style: lowercase, without the OS error number.
pub(super) fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        std::io::ErrorKind::InvalidData => "the file is not UTF-8 text".to_owned(),
        _ => {
            let text = error.to_string();
            let text = match text.find(" (os error") {
                Some(cut) => &text[..cut],
                None => text.as_str(),
            };
            let mut chars = text.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
    }
}

/// Left-aligned columns two spaces apart; the last column is not padded, so
/// free text (names, titles) can sit there without trailing blanks.
pub(super) fn table(
    headers: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
    empty: &str,
) -> String {
    let rows: Vec<Vec<String>> = rows.into_iter().collect();
    if rows.is_empty() {
        return format!("{empty}\n");
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let last = row.len().saturating_sub(1);
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                text.push_str(cell);
            } else {
                let pad = width - cell.chars().count();
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad + 2));
            }
        }
        text.push('\n');
    }
    text
}

pub(super) fn limit(limit: Limit) -> String {
    match limit {
        Limit::Default => "default".to_owned(),
        Limit::Off => "off".to_owned(),
        Limit::Max(n) => n.to_string(),
    }
}

pub(super) fn scope_list(scopes: Option<&[Scope]>) -> String {
    match scopes {
        None => "all".to_owned(),
        Some(scopes) => scopes
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(","),
    }
}

pub(super) fn expiry(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "never".to_owned(), |t| t.to_string())
}

/// Free text, or `-` for none.
pub(super) fn or_dash(text: Option<&str>) -> String {
    text.unwrap_or("-").to_owned()
}

pub(super) fn id_list(ids: &[UserId]) -> String {
    if ids.is_empty() {
        return "-".to_owned();
    }
    ids.iter()
        .map(UserId::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_the_last_unpadded() {
        let text = table(
            &["ID", "NAME"],
            vec![
                vec!["1".to_owned(), "Acme".to_owned()],
                vec!["1000".to_owned(), "B".to_owned()],
            ],
            "none",
        );
        assert_eq!(text, "ID    NAME\n1     Acme\n1000  B\n");
        assert_eq!(table(&["ID"], Vec::new(), "no rows"), "no rows\n");
    }
}
