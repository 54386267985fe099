//! A process' fd table: what each open fd number refers to.
//!
//! Fd numbers are small and dense (the kernel hands out the lowest free
//! one), and every event that names an fd looks its number up, so numbers
//! below [`DENSE`] hold their entry in a plain array indexed by the
//! number, one load away; larger ones (and the odd negative one) go
//! through a hash map.
//!
//! Entries are shared like the processes that hold them: a copy of a table
//! (a process forking, a copy of the whole state) copies references, and
//! an entry is copied only when one side changes it.
//!
//! Every entry a table opens gets a new [`FdEntry::identity`], and so does
//! every entry it hands out to change ([`edit`]): an identity names one
//! content for good.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use super::FdEntry;

/// Fd numbers below this are found by position.
const DENSE: usize = 1024;

/// The next [`FdEntry::identity`]: shared by every state, so that an
/// identity names one content whichever state or copy of one holds it.
static NEXT_IDENTITY: AtomicU64 = AtomicU64::new(1);

fn new_identity() -> u64 {
    NEXT_IDENTITY.fetch_add(1, Ordering::Relaxed)
}

/// An entry to change: made its own (not shared with other fds, tables or
/// copies of the state) and given a new identity, since what it says is
/// about to change.
pub(super) fn edit(entry: &mut Arc<FdEntry>) -> &mut FdEntry {
    let entry = Arc::make_mut(entry);
    entry.identity = new_identity();
    entry
}

/// The open fds of one process. The array of small fds comes first
/// (`repr(C)`), where [`ProcEntry`](super::ProcEntry) puts the table.
#[derive(Debug, Clone, Default)]
#[repr(C)]
pub(super) struct FdTable {
    /// The entry of fd `n` below [`DENSE`] at `n`. Only as long as the
    /// largest such fd seen.
    dense: Vec<Option<Arc<FdEntry>>>,
    /// The other fds.
    far: FxHashMap<i64, Arc<FdEntry>>,
}

impl FdTable {
    /// Where `fd` is held: its index in `dense`, or `None` for `far`.
    #[inline]
    fn dense_index(fd: i64) -> Option<usize> {
        usize::try_from(fd).ok().filter(|&n| n < DENSE)
    }

    /// The entry of `fd`, if open.
    #[inline]
    pub(super) fn get(&self, fd: &i64) -> Option<&Arc<FdEntry>> {
        match Self::dense_index(*fd) {
            Some(n) => self.dense.get(n)?.as_ref(),
            None => self.far.get(fd),
        }
    }

    /// The entry of `fd`, if open, to change ([`edit`]).
    pub(super) fn get_mut(&mut self, fd: &i64) -> Option<&mut FdEntry> {
        let held = match Self::dense_index(*fd) {
            Some(n) => self.dense.get_mut(n)?.as_mut(),
            None => self.far.get_mut(fd),
        };
        held.map(edit)
    }

    /// The place of dense fd `n`, made if the array is shorter: its
    /// entry, or `None` when it is not open.
    fn dense_place(dense: &mut Vec<Option<Arc<FdEntry>>>, n: usize) -> &mut Option<Arc<FdEntry>> {
        if n >= dense.len() {
            dense.resize(n + 1, None);
        }
        &mut dense[n]
    }

    /// Makes `fd` refer to a new entry, `entry` with an identity of its
    /// own, replacing what it referred to.
    pub(super) fn open(&mut self, fd: i64, mut entry: FdEntry) {
        entry.identity = new_identity();
        self.insert(fd, Arc::new(entry));
    }

    /// Makes `fd` refer to `entry`, an entry of a table (shared, with its
    /// identity), replacing what it referred to.
    pub(super) fn insert(&mut self, fd: i64, entry: Arc<FdEntry>) {
        match Self::dense_index(fd) {
            Some(n) => *Self::dense_place(&mut self.dense, n) = Some(entry),
            None => {
                self.far.insert(fd, entry);
            }
        }
    }

    /// The entry of `fd` to change ([`edit`]), made with `entry` if it is
    /// not open.
    pub(super) fn get_or_insert(&mut self, fd: i64, entry: FdEntry) -> &mut FdEntry {
        let opened = || Arc::new(entry);
        let held = match Self::dense_index(fd) {
            Some(n) => Self::dense_place(&mut self.dense, n).get_or_insert_with(opened),
            None => self.far.entry(fd).or_insert_with(opened),
        };
        edit(held)
    }

    /// Closes `fd`.
    pub(super) fn remove(&mut self, fd: &i64) {
        match Self::dense_index(*fd) {
            Some(n) => {
                if let Some(place) = self.dense.get_mut(n) {
                    *place = None;
                }
            }
            None => {
                self.far.remove(fd);
            }
        }
    }

    /// Keeps the fds for which `keep` holds.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&i64, &Arc<FdEntry>) -> bool) {
        for (n, place) in self.dense.iter_mut().enumerate() {
            if place
                .as_ref()
                .is_some_and(|entry| !keep(&(n as i64), entry))
            {
                *place = None;
            }
        }
        self.far.retain(|fd, entry| keep(fd, entry));
    }

    /// Every open fd, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (i64, &Arc<FdEntry>)> {
        let dense = self.dense.iter().enumerate();
        dense
            .filter_map(|(n, place)| Some((n as i64, place.as_ref()?)))
            .chain(self.far.iter().map(|(&fd, entry)| (fd, entry)))
    }

    /// Every open fd, to change, in no particular order.
    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (i64, &mut Arc<FdEntry>)> {
        let dense = self.dense.iter_mut().enumerate();
        dense
            .filter_map(|(n, place)| Some((n as i64, place.as_mut()?)))
            .chain(self.far.iter_mut().map(|(&fd, entry)| (fd, entry)))
    }

    /// How many fds are open (counted: only statistics ask).
    pub(super) fn len(&self) -> usize {
        self.dense.iter().flatten().count() + self.far.len()
    }
}

#[cfg(test)]
mod tests {
    use scry_format::FdKind;

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
        let mut left: Vec<i64> = table.iter().map(|(fd, _)| fd).collect();
        left.sort_unstable();
        assert_eq!(left, [2, 7, 1023, 70_000]);
        assert_eq!(name(&table, 70_000).as_deref(), Some("f70000"));
        table.open(9, named("nine"));
        table.get_or_insert(9, named("ignored")).flags = 1;
        table.get_or_insert(9, named("ignored")).flags |= 2;
        assert_eq!(table.get(&9).map(|e| e.flags), Some(3));
        assert_eq!(name(&table, 9).as_deref(), Some("nine"));
    }

    /// An identity names one content: copies of an entry share it, an
    /// entry changed or opened anew gets another.
    #[test]
    fn entries_change_identity_with_what_they_say() {
        let identity = |table: &FdTable, fd: i64| table.get(&fd).and_then(|e| e.identity());
        let mut table = FdTable::default();
        table.open(3, named("a"));
        table.open(4, named("a"));
        let first = identity(&table, 3).expect("an opened entry has one");
        assert_ne!(identity(&table, 4), Some(first));
        // A dup, a fork: the same entry.
        let shared = Arc::clone(table.get(&3).expect("fd 3"));
        table.insert(5, shared);
        let copy = table.clone();
        assert_eq!(identity(&table, 5), Some(first));
        assert_eq!(identity(&copy, 3), Some(first));
        // Changed in one place: another identity there, the copies keep
        // theirs and what they say.
        table.get_mut(&3).expect("fd 3").name = b"b".to_vec();
        let changed = identity(&table, 3).expect("fd 3");
        assert_ne!(changed, first);
        assert_eq!(identity(&table, 5), Some(first));
        assert_eq!(name(&table, 5).as_deref(), Some("a"));
        assert_eq!(identity(&copy, 3), Some(first));
        table.get_or_insert(5, named("ignored")).kind = FdKind::Ipv4;
        assert!(![Some(first), Some(changed)].contains(&identity(&table, 5)));
        let mut edited = Arc::clone(table.get(&4).expect("fd 4"));
        let before = edited.identity();
        edit(&mut edited).cloexec = true;
        assert_ne!(edited.identity(), before);
        assert_eq!(FdEntry::default().identity(), None);
    }
}
