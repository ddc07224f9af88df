//! Extraction with writes on the way. On a first resync nearly every entity is new, and
//! holding them all until AWS is read grows memory with the catalog: whole batches are
//! sent to Port as soon as they fill, while the next pages are read and mapped. Remainders
//! are written after extraction, as before, by `Resync::write`.
//!
//! Only when Port creates missing relation targets itself (`createMissingRelatedEntities`,
//! where every blueprint is written at once anyway): otherwise targets are written before
//! the entities that point at them, blueprint by blueprint, which needs extraction to end.

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use super::extract::{Extraction, PageMapper, fetch_list};
use super::plan::{Desired, Observed};
use super::report::ResyncReport;
use super::resync::{Resync, record_upserts};
use crate::aws::Kind;
use crate::port::MAX_ENTITIES_PER_REQUEST;

/// Batches being written while extraction goes on. A batch already spreads over
/// `PORT_MAX_IN_FLIGHT` requests; a second one keeps Port busy while the first finishes.
/// When Port is slower than AWS, further full batches wait in `Desired` (at worst as much
/// as without early writes): pages keep being read, so no AWS call is held up by Port.
const BATCHES_IN_FLIGHT: usize = 2;

impl Resync<'_> {
    /// Reads and maps every mapped kind into `desired`, writing whole batches of changed
    /// entities meanwhile (recorded in `report`). No batch starts once `cancel` fires.
    pub(super) async fn extract_and_write(
        &self,
        kinds: &[Kind],
        observed: &Observed,
        desired: &mut Desired,
        report: &mut ResyncReport,
        cancel: &CancellationToken,
    ) -> Extraction {
        let early = self.mapping.config.create_missing_related_entities;
        let batch = MAX_ENTITIES_PER_REQUEST * self.port.max_in_flight();
        let options = self.upsert_options();
        let options = &options;
        let mut mapper = PageMapper::new(self.mapping, kinds);
        let mut pages = self.sources.fetch_kinds(fetch_list(self.mapping, kinds));
        let mut writing = FuturesUnordered::new();
        let mut pages_done = false;
        loop {
            while early && !cancel.is_cancelled() && writing.len() < BATCHES_IN_FLIGHT {
                let Some((blueprint, entities)) = desired.take_full_batch(batch) else {
                    break;
                };
                writing.push(async move {
                    let outcome = self.port.bulk_upsert(&blueprint, &entities, options).await;
                    (blueprint, entities, outcome)
                });
            }
            tokio::select! {
                next = pages.next(), if !pages_done => match next {
                    Some(result) => mapper.take(result, &mut |entity| {
                        desired.offer(entity, observed, self.blueprints);
                    }),
                    None => pages_done = true,
                },
                Some((blueprint, entities, outcome)) = writing.next(), if !writing.is_empty() => {
                    record_upserts(report, &blueprint, &entities, outcome, None);
                }
                else => break,
            }
        }
        mapper.finish()
    }
}
