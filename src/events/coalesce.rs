//! Bursts become few reads: at most one read of a resource starts per window. The first
//! event of a quiet resource is read at once (its change has happened when its event
//! arrives); the events that follow within the window wait for its end and make one read
//! together, made after the last of them could have changed it.
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
    /// When the last read of each resource started, while its window lasts.
    last_read: BTreeMap<K, Instant>,
}

#[derive(Debug)]
struct Batch<T> {
    due: Instant,
    items: Vec<T>,
}

/// What [`Coalescer::add`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// The first event for its resource: a read is due (at once, or when the window of the
    /// resource's last read closes).
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
            last_read: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, key: K, item: T, now: Instant) -> Added {
        if let Some(batch) = self.pending.get_mut(&key) {
            batch.items.push(item);
            return Added::Joined;
        }
        let due = match self.last_read.get(&key) {
            Some(started) if *started + self.window > now => *started + self.window,
            _ => now,
        };
        self.pending.insert(
            key,
            Batch {
                due,
                items: vec![item],
            },
        );
        Added::Opened
    }

    /// The batches to read now: they are due and no read of the same resource is in flight.
    /// Each is in flight until [`Coalescer::finish`].
    pub fn take_due(&mut self, now: Instant) -> Vec<(K, Vec<T>)> {
        let window = self.window;
        self.last_read.retain(|_, started| *started + window > now);
        let due: Vec<K> = self
            .pending
            .iter()
            .filter(|(key, batch)| now >= batch.due && !self.in_flight.contains(*key))
            .map(|(key, _)| key.clone())
            .collect();
        due.into_iter()
            .map(|key| {
                let batch = self.pending.remove(&key).expect("a due batch is pending");
                self.in_flight.insert(key.clone());
                self.last_read.insert(key.clone(), now);
                (key, batch.items)
            })
            .collect()
    }

    /// The read of `key` is done (whatever its outcome).
    pub fn finish(&mut self, key: &K) {
        self.in_flight.remove(key);
    }

    /// When the next batch is due, if one waits and is not held by a read in flight
    /// (finishing that read makes it due).
    pub fn next_due(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter(|(key, _)| !self.in_flight.contains(*key))
            .map(|(_, batch)| batch.due)
            .min()
    }

    /// Events waiting for a read.
    pub fn waiting(&self) -> usize {
        self.pending.values().map(|batch| batch.items.len()).sum()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
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
    fn a_quiet_resource_is_read_at_once() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        assert_eq!(coalescer.add("secret-a", 0, t0), Added::Opened);
        assert_eq!(coalescer.next_due(), Some(t0));
        assert_eq!(coalescer.take_due(t0), vec![("secret-a", vec![0])]);
        assert_eq!(coalescer.in_flight(), 1);
    }

    #[test]
    fn a_burst_for_one_resource_is_one_read_then_one_more_after_the_window() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        coalescer.add("secret-a", 0, t0);
        assert_eq!(coalescer.take_due(t0).len(), 1, "the first event, at once");
        coalescer.finish(&"secret-a");
        assert_eq!(coalescer.add("secret-a", 1, ms(t0, 1)), Added::Opened);
        for i in 2..100 {
            assert_eq!(coalescer.add("secret-a", i, ms(t0, i)), Added::Joined);
        }
        assert_eq!(coalescer.waiting(), 99);
        assert!(
            coalescer.take_due(ms(t0, 499)).is_empty(),
            "one read per window"
        );
        assert_eq!(coalescer.next_due(), Some(ms(t0, 500)));
        let due = coalescer.take_due(ms(t0, 500));
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].1, (1..100).collect::<Vec<_>>());
        assert_eq!(coalescer.waiting(), 0);
    }

    #[test]
    fn resources_have_their_own_windows() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        coalescer.add("a", 1, t0);
        coalescer.add("b", 2, ms(t0, 300));
        assert_eq!(coalescer.take_due(t0), vec![("a", vec![1])]);
        coalescer.finish(&"a");
        coalescer.add("a", 3, ms(t0, 300));
        assert_eq!(
            coalescer.take_due(ms(t0, 300)),
            vec![("b", vec![2])],
            "b is quiet, a read 300 ms ago"
        );
        assert_eq!(coalescer.next_due(), Some(ms(t0, 500)));
        assert_eq!(coalescer.take_due(ms(t0, 500)), vec![("a", vec![3])]);
        assert_eq!(coalescer.next_due(), None);
    }

    #[test]
    fn a_resource_quiet_for_a_window_is_read_at_once_again() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        coalescer.add("a", 1, t0);
        coalescer.take_due(t0);
        coalescer.finish(&"a");
        coalescer.add("a", 2, ms(t0, 700));
        assert_eq!(coalescer.take_due(ms(t0, 700)), vec![("a", vec![2])]);
    }

    #[test]
    fn an_event_during_a_read_waits_for_it_and_gets_a_read_of_its_own() {
        let t0 = Instant::now();
        let mut coalescer = Coalescer::new(WINDOW);
        coalescer.add("a", 1, t0);
        assert_eq!(coalescer.take_due(t0).len(), 1);
        // The read may have started before this change: it must not swallow it.
        assert_eq!(coalescer.add("a", 2, ms(t0, 600)), Added::Opened);
        assert!(
            coalescer.take_due(ms(t0, 2_000)).is_empty(),
            "never two reads of one resource at once"
        );
        assert_eq!(coalescer.next_due(), None, "held by the read in flight");
        coalescer.finish(&"a");
        assert_eq!(coalescer.next_due(), Some(ms(t0, 600)));
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
