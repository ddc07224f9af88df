//! Resyncs Port asks for while one is running: exactly one more is queued, never a second
//! one in parallel, and further requests fold into the queued one.

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Default)]
pub struct OneQueued(AtomicBool);

impl OneQueued {
    /// A request arrived while a resync runs: true when it is now queued, false when one was
    /// already queued (the queued resync will serve it too).
    pub fn queue(&self) -> bool {
        !self.0.swap(true, Ordering::SeqCst)
    }

    /// A resync finished: true when one was queued (and is now taken).
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_during_a_resync_queue_one() {
        let q = OneQueued::default();
        assert!(!q.take(), "nothing queued yet");
        assert!(q.queue());
        assert!(!q.queue(), "a second request folds into the queued one");
        assert!(q.take());
        assert!(!q.take(), "taken once");
    }
}
