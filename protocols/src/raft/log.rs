//! The in-memory replicated log (1-based indexes; index 0 is the empty
//! prefix with term 0).

use super::messages::Entry;

/// The log.
#[derive(Clone, Debug, Default)]
pub struct Log {
    entries: Vec<Entry>,
}

impl Log {
    /// Index of the last entry (0 if empty).
    pub fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Term of the last entry (0 if empty).
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// Term of the entry at `index`; 0 for index 0, `None` past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return Some(0);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        let i = usize::try_from(index.checked_sub(1)?).ok()?;
        self.entries.get(i)
    }

    /// Up to `max` entries starting at `from`.
    pub fn slice(&self, from: u64, max: usize) -> Vec<Entry> {
        let Some(start) = from.checked_sub(1).and_then(|s| usize::try_from(s).ok()) else {
            return Vec::new();
        };
        if start >= self.entries.len() {
            return Vec::new();
        }
        let end = start.saturating_add(max).min(self.entries.len());
        self.entries[start..end].to_vec()
    }

    /// Replaces everything from `first_index` on with `entries`. Ignored if
    /// it would leave a gap.
    pub fn splice(&mut self, first_index: u64, entries: Vec<Entry>) -> bool {
        if first_index == 0 || first_index > self.last_index() + 1 {
            return false;
        }
        self.entries.truncate((first_index - 1) as usize);
        self.entries.extend(entries);
        true
    }

    /// First index holding an entry of `term` at or before `upto`, scanning
    /// back from `upto` (fast back-off hint).
    pub fn first_index_of_term(&self, term: u64, upto: u64) -> u64 {
        let mut i = upto.min(self.last_index());
        while i > 1 && self.term_at(i - 1) == Some(term) {
            i -= 1;
        }
        i
    }

    /// Last index holding an entry of `term`, if any.
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        self.entries
            .iter()
            .rposition(|e| e.term == term)
            .map(|p| p as u64 + 1)
    }
}
