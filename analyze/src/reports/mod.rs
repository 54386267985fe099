//! The responder's reports beyond tables, after sysdig's chisels: the
//! commands interactive users ran ([`users`], `spy_users`), the bytes moved
//! on chosen fds ([`echo`], `echo_fds`), the process tree of a capture
//! ([`tree`]) and the slowest calls ([`slow`], `fileslower`). Each is fed
//! one event at a time by the same scan as every other query.

pub mod echo;
pub mod slow;
pub mod tree;
pub mod users;

use scry_format::EventTable;

/// Per event type id, whether its name is one of `names`.
fn types_named(table: &EventTable, names: &[&str]) -> Vec<bool> {
    let mut found = vec![false; table.id_bound()];
    for entry in table.entries() {
        if names.contains(&entry.name.as_str()) {
            found[usize::from(entry.id)] = true;
        }
    }
    found
}

#[inline]
fn is_type(types: &[bool], id: u16) -> bool {
    types.get(usize::from(id)).copied().unwrap_or(false)
}

/// The filter that selects everything that touched `path`: events on an fd
/// named so, and calls naming it as their path or target (unlink, rename,
/// chmod…).
pub fn path_filter(path: &str) -> String {
    let path = crate::filter::quote_value(path);
    format!("fd.name={path} or fs.path.name={path} or fs.path.target={path}")
}
