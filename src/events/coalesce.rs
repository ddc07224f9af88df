//! Bursts become one read: events for the same resource within a short window are handled
//! together by one read of the resource, made after the last of them could have changed it.
//!
//! A pure value: the caller passes the time. A resource being read is "in flight"; events for
//! it meanwhile open a new batch that waits for that read to finish, because the read in
//! flight may have started before their change and so missed it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Coalescer<K, T> {
    window: Duration,
    pending: BTreeMap<K, Batch<T>>,
    in_flight: BTreeSet<K>,
}

#[derive(Debug)]
struct Batch<T> {
    opened: Instant,
    items: Vec<T>,
}

/// What [`Coalescer::add`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The first event for its resource: a read is due when the window closes.
    Opened,
    /// Joined a batch already waiting: no read of its own.
    Joined,
}

impl<K: Ord + Clone, T> Coalescer<K, T> {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            pending: BTreeMap::new(),
            in_flight: BTreeSet::new(),
        }
    }

    pub fn add(&mut self, key: K, item: T, now: Instant) -> Added {
        match self.pending.get_mut(&key) {
            Some(batch) => {
                batch.items.push(item);
                Added::Joined
            }
            None => {
                self.pending.insert(
                    key,
                    Batch {
                        opened: now,
                        items: vec![item],
                    },
                );
                Added::Opened
            }
        }
    }

    /// The batches to read now: their window has closed and no read of the same resource is
    /// in flight. Each is in flight until [`Coalescer::finish`].
    pub fn take_due(&mut self, now: Instant) -> Vec<(K, Vec<T>)> {
        let due: Vec<K> = self
            .pending
            .iter()
            .filter(|(key, batch)| self.is_due(key, batch, now))
            .map(|(key, _)| key.clone())
            .collect();
        due.into_iter()
            .map(|key| {
                let batch = self.pending.remove(&key).expect("a due batch is pending");
                self.in_flight.insert(key.clone());
                (key, batch.items)
            })
            .collect()
    }

    /// The read of `key` is done (whatever its outcome).
    pub fn finish(&mut self, key: &K) {
        self.in_flight.remove(key);
    }

    /// When the next batch's window closes, if one waits and is not held by a read in flight
    /// (finishing that read makes it due).
    pub fn next_due(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter(|(key, _)| !self.in_flight.contains(*key))
            .map(|(_, batch)| batch.opened + self.window)
            .min()
    }

    /// Events waiting for a read.
    pub fn waiting(&self) -> usize {
        self.pending.values().map(|batch| batch.items.len()).sum()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn is_due(&self, key: &K, batch: &Batch<T>, now: Instant) -> bool {
        now >= batch.opened + self.window && !self.in_flight.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(500);

    fn ms(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    #[test]
    fn a_burst_for_one_resource_is_one_read_after_the_window() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        assert_eq!(coalescer.add("secret-a", 0, t0), Added::Opened);
        for i in 1..100 {
            assert_eq!(coalescer.add("secret-a", i, ms(t0, i)), Added::Joined);
        }
        assert_eq!(coalescer.waiting(), 100);
        assert!(
            coalescer.take_due(ms(t0, 499)).is_empty(),
            "window still open"
        );
        assert_eq!(coalescer.next_due(), Some(ms(t0, 500)));
        let due = coalescer.take_due(ms(t0, 500));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].0, "secret-a");
        assert_eq!(due[0].1, (0..100).collect::<Vec<_>>());
        assert_eq!(coalescer.waiting(), 0);
        assert_eq!(coalescer.in_flight(), 1);
    }

    #[test]
    fn resources_have_their_own_windows() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        coalescer.add("a", 1, t0);
        coalescer.add("b", 2, ms(t0, 300));
        let first = coalescer.take_due(ms(t0, 600));
        assert_eq!(first, vec![("a", vec![1])]);
        assert_eq!(coalescer.next_due(), Some(ms(t0, 800)));
        assert_eq!(coalescer.take_due(ms(t0, 800)), vec![("b", vec![2])]);
        assert_eq!(coalescer.next_due(), None);
    }

    #[test]
    fn an_event_during_a_read_waits_for_it_and_gets_a_read_of_its_own() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        coalescer.add("a", 1, t0);
        assert_eq!(coalescer.take_due(ms(t0, 500)).len(), 1);
        // The read may have started before this change: it must not swallow it.
        assert_eq!(coalescer.add("a", 2, ms(t0, 600)), Added::Opened);
        assert!(
            coalescer.take_due(ms(t0, 2_000)).is_empty(),
            "never two reads of one resource at once"
        );
        assert_eq!(coalescer.next_due(), None, "held by the read in flight");
        coalescer.finish(&"a");
        assert_eq!(coalescer.next_due(), Some(ms(t0, 1_100)));
        assert_eq!(coalescer.take_due(ms(t0, 2_000)), vec![("a", vec![2])]);
    }

    #[test]
    fn finishing_an_idle_resource_changes_nothing() {
        let t0 = Instant::now();
        let mut coalescer: Coalescer<&str, u8> = Coalescer::new(WINDOW);
        coalescer.finish(&"never-read");
        assert_eq!(coalescer.in_flight(), 0);
        assert!(coalescer.take_due(ms(t0, 10_000)).is_empty());
    }
}
