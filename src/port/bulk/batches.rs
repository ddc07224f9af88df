//! Splitting a bulk upsert into requests Port accepts: at most 20 entities and under 1 MiB of
//! body each.

pub(crate) const MAX_ENTITIES_PER_REQUEST: usize = 20;
pub(crate) const MAX_REQUEST_BYTES: usize = 1024 * 1024;

const PREFIX: &[u8] = b"{\"entities\":[";
const SUFFIX: &[u8] = b"]}";

/// The body `{"entities":[...]}` from already serialized entities; its length is exactly
/// [`request_size`] of their lengths.
pub(crate) fn request_body<'a>(entities: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = PREFIX.to_vec();
    for (i, entity) in entities.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(entity);
    }
    body.extend_from_slice(SUFFIX);
    body
}

pub(crate) fn request_size(entity_sizes: &[usize]) -> usize {
    PREFIX.len()
        + SUFFIX.len()
        + entity_sizes.iter().sum::<usize>()
        + entity_sizes.len().saturating_sub(1)
}

/// Groups entities (given by serialized size, in order) into requests of at most `max_count`
/// entities and fewer than `max_bytes` bytes. Returns the groups as indices, and the entities
/// too large to be sent even alone.
pub(crate) fn plan_batches(
    sizes: &[usize],
    max_count: usize,
    max_bytes: usize,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut batches = Vec::new();
    let mut too_large = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut current_sizes: Vec<usize> = Vec::new();
    for (index, &size) in sizes.iter().enumerate() {
        if request_size(&[size]) >= max_bytes {
            too_large.push(index);
            continue;
        }
        current_sizes.push(size);
        if current.len() == max_count || request_size(&current_sizes) >= max_bytes {
            batches.push(std::mem::take(&mut current));
            current_sizes = vec![size];
        }
        current.push(index);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    (batches, too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_length_matches_the_computed_size() {
        let entities: Vec<&[u8]> = vec![b"{\"a\":1}", b"{}", b"{\"bb\":22}"];
        let body = request_body(entities.iter().copied());
        assert_eq!(body, b"{\"entities\":[{\"a\":1},{},{\"bb\":22}]}");
        let sizes: Vec<usize> = entities.iter().map(|e| e.len()).collect();
        assert_eq!(body.len(), request_size(&sizes));
        assert_eq!(request_body(std::iter::empty()).len(), request_size(&[]));
    }

    #[test]
    fn splits_by_count() {
        let (batches, too_large) = plan_batches(&[10; 45], 20, MAX_REQUEST_BYTES);
        let lens: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(lens, [20, 20, 5]);
        assert!(too_large.is_empty());
        let flat: Vec<usize> = batches.concat();
        assert_eq!(
            flat,
            (0..45).collect::<Vec<_>>(),
            "order kept, nothing lost"
        );
    }

    #[test]
    fn splits_by_size_and_sets_aside_what_cannot_fit() {
        // Each entity takes 40 bytes; with 15 bytes of envelope and commas, two fit under 100.
        let (batches, too_large) = plan_batches(&[40, 40, 40, 200, 40], 20, 100);
        assert_eq!(batches, vec![vec![0, 1], vec![2, 4]]);
        assert_eq!(too_large, vec![3]);
        for b in &batches {
            let sizes: Vec<usize> = b.iter().map(|_| 40).collect();
            assert!(request_size(&sizes) < 100);
        }
        // 15 + 42 + 42 + 1 = 100 is not under the limit: each goes alone.
        let (batches, _) = plan_batches(&[42, 42], 20, 100);
        assert_eq!(batches, vec![vec![0], vec![1]]);
    }
}
