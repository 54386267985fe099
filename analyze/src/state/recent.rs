//! A small direct-mapped table of ids seen lately (pids, tgids) and the
//! number each maps to (a slot, an index entry): one entry per id modulo
//! the table's size, so that a hit costs one load and one compare. A miss
//! says nothing; the caller then looks the id up its slower way.

/// The value of an entry that holds none.
const EMPTY: u32 = u32::MAX;

/// Ids seen lately and their numbers, `N` entries (a power of two keeps
/// the modulo a mask).
#[derive(Debug, Clone)]
pub struct RecentIds<const N: usize> {
    entries: [(u32, u32); N],
}

impl<const N: usize> Default for RecentIds<N> {
    fn default() -> Self {
        RecentIds {
            entries: [(0, EMPTY); N],
        }
    }
}

impl<const N: usize> RecentIds<N> {
    /// The number `id` was last put with, unless another id took its entry
    /// since.
    #[inline]
    pub fn get(&self, id: u32) -> Option<u32> {
        let (seen, value) = self.entries[id as usize % N];
        (seen == id && value != EMPTY).then_some(value)
    }

    /// Remembers `value` for `id`, in place of the id that had its entry.
    #[inline]
    pub fn put(&mut self, id: u32, value: u32) {
        self.entries[id as usize % N] = (id, value);
    }

    /// Forgets `id`, if its entry still holds it.
    pub fn forget(&mut self, id: u32) {
        let entry = &mut self.entries[id as usize % N];
        if entry.0 == id {
            *entry = (0, EMPTY);
        }
    }

    /// Forgets every id.
    pub fn clear(&mut self) {
        self.entries.fill((0, EMPTY));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_ids_forget_on_clear_and_tell_ids_of_an_entry_apart() {
        const SIZE: usize = 1024;
        let mut recent = RecentIds::<SIZE>::default();
        recent.put(5, 1);
        assert_eq!(recent.get(5), Some(1));
        // Same entry, another id.
        assert_eq!(recent.get(5 + SIZE as u32), None);
        recent.put(5 + SIZE as u32, 2);
        assert_eq!(recent.get(5), None);
        recent.clear();
        assert_eq!(recent.get(5 + SIZE as u32), None);
        recent.put(7, 3);
        recent.forget(7 + SIZE as u32);
        assert_eq!(recent.get(7), Some(3));
        recent.forget(7);
        assert_eq!(recent.get(7), None);
    }
}
