//! A process' fd table: what each open fd number refers to.
//!
//! Fd numbers are small and dense (the kernel hands out the lowest free
//! one), and every event that names an fd looks its number up, so numbers
//! below [`DENSE`] find their entry through a plain array of positions;
//! larger ones (and the odd negative one) go through a hash map.
//!
//! Entries are shared like the processes that hold them: a copy of a table
//! (a process forking, a copy of the whole state) copies references, and
//! an entry is copied only when one side changes it.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::FdEntry;

/// Fd numbers below this are found by position.
const DENSE: usize = 1024;

/// The open fds of one process.
#[derive(Debug, Clone, Default)]
pub(super) struct FdTable {
    /// For fd `n` below [`DENSE`]: its position in `entries` plus one, or
    /// 0 when it is not open. Only as long as the largest such fd seen.
    dense: Vec<u32>,
    /// Positions of the other fds.
    far: FxHashMap<i64, u32>,
    /// The entries, in no particular order.
    entries: Vec<(i64, Arc<FdEntry>)>,
}

impl FdTable {
    fn position(&self, fd: i64) -> Option<usize> {
        match usize::try_from(fd) {
            Ok(n) if n < DENSE => match self.dense.get(n) {
                Some(&slot) if slot != 0 => Some(slot as usize - 1),
                _ => None,
            },
            _ => self.far.get(&fd).map(|&p| p as usize),
        }
    }

    fn set_position(&mut self, fd: i64, position: Option<usize>) {
        let slot = position.map_or(0, |p| p as u32 + 1);
        match usize::try_from(fd) {
            Ok(n) if n < DENSE => {
                if n >= self.dense.len() {
                    if slot == 0 {
                        return;
                    }
                    self.dense.resize(n + 1, 0);
                }
                self.dense[n] = slot;
            }
            _ => match position {
                Some(p) => {
                    self.far.insert(fd, p as u32);
                }
                None => {
                    self.far.remove(&fd);
                }
            },
        }
    }

    /// The entry of `fd`, if open.
    #[inline]
    pub(super) fn get(&self, fd: &i64) -> Option<&Arc<FdEntry>> {
        let position = self.position(*fd)?;
        self.entries.get(position).map(|(_, entry)| entry)
    }

    /// The entry of `fd`, if open, to change or replace (`Arc::make_mut`
    /// gives it a copy of its own first).
    pub(super) fn get_mut(&mut self, fd: &i64) -> Option<&mut Arc<FdEntry>> {
        let position = self.position(*fd)?;
        self.entries.get_mut(position).map(|(_, entry)| entry)
    }

    /// Makes `fd` refer to `entry`, replacing what it referred to.
    pub(super) fn insert(&mut self, fd: i64, entry: Arc<FdEntry>) {
        match self.position(fd) {
            Some(position) => self.entries[position].1 = entry,
            None => {
                self.entries.push((fd, entry));
                self.set_position(fd, Some(self.entries.len() - 1));
            }
        }
    }

    /// The entry of `fd`, made with `entry` if it is not open.
    pub(super) fn get_or_insert(&mut self, fd: i64, entry: FdEntry) -> &mut FdEntry {
        let position = match self.position(fd) {
            Some(position) => position,
            None => {
                self.entries.push((fd, Arc::new(entry)));
                let position = self.entries.len() - 1;
                self.set_position(fd, Some(position));
                position
            }
        };
        Arc::make_mut(&mut self.entries[position].1)
    }

    /// Closes `fd`.
    pub(super) fn remove(&mut self, fd: &i64) {
        let Some(position) = self.position(*fd) else {
            return;
        };
        self.set_position(*fd, None);
        self.entries.swap_remove(position);
        if let Some(&(moved, _)) = self.entries.get(position) {
            self.set_position(moved, Some(position));
        }
    }

    /// Keeps the fds for which `keep` holds.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&i64, &Arc<FdEntry>) -> bool) {
        self.entries.retain_mut(|(fd, entry)| keep(fd, entry));
        self.dense.clear();
        self.far.clear();
        for position in 0..self.entries.len() {
            self.set_position(self.entries[position].0, Some(position));
        }
    }

    /// Every open fd, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&i64, &Arc<FdEntry>)> {
        self.entries.iter().map(|(fd, entry)| (fd, entry))
    }

    /// Every open fd, to change, in no particular order.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (&i64, &mut Arc<FdEntry>)> {
        self.entries.iter_mut().map(|(fd, entry)| (&*fd, entry))
    }

    /// How many fds are open.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> FdEntry {
        FdEntry {
            name: name.as_bytes().to_vec(),
            ..FdEntry::default()
        }
    }

    fn name(table: &FdTable, fd: i64) -> Option<String> {
        table
            .get(&fd)
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
    }

    #[test]
    fn fds_near_and_far_are_found_replaced_and_closed() {
        let mut table = FdTable::default();
        for fd in [0, 1, 2, 7, 1023, 1024, 70_000, -5] {
            table.insert(fd, Arc::new(named(&format!("f{fd}"))));
        }
        assert_eq!(table.len(), 8);
        for fd in [0, 1, 2, 7, 1023, 1024, 70_000, -5] {
            assert_eq!(name(&table, fd), Some(format!("f{fd}")));
        }
        assert_eq!(name(&table, 3), None);
        assert_eq!(name(&table, 5000), None);
        table.insert(7, Arc::new(named("again")));
        assert_eq!(name(&table, 7).as_deref(), Some("again"));
        assert_eq!(table.len(), 8);
        // Closing moves the last entry into the hole: it must stay found.
        table.remove(&0);
        table.remove(&1024);
        table.remove(&3);
        assert_eq!(table.len(), 6);
        assert_eq!(name(&table, 0), None);
        assert_eq!(name(&table, 1024), None);
        for fd in [1, 2, 1023, 70_000, -5] {
            assert_eq!(name(&table, fd), Some(format!("f{fd}")));
        }
        table.retain(|&fd, _| fd > 1);
        let mut left: Vec<i64> = table.iter().map(|(&fd, _)| fd).collect();
        left.sort_unstable();
        assert_eq!(left, [2, 7, 1023, 70_000]);
        assert_eq!(name(&table, 70_000).as_deref(), Some("f70000"));
        table.get_or_insert(9, named("nine")).flags = 1;
        table.get_or_insert(9, named("ignored")).flags |= 2;
        assert_eq!(table.get(&9).map(|e| e.flags), Some(3));
        assert_eq!(name(&table, 9).as_deref(), Some("nine"));
    }
}
