//! `NextToken` pagination over a generated list: the items of a region are the indices
//! `0..total`, a token is the index the next page starts at.

/// Tokens look opaque enough that nobody builds one by hand, and say whose they are.
const TOKEN_PREFIX: &str = "aws-synthetic:";

/// The token of a page starting at `index`.
pub fn token(index: usize) -> String {
    format!("{TOKEN_PREFIX}{index}")
}

/// The index a token names, when this server gave it out for a list of `total` items.
pub fn start_of(token: &str, total: usize) -> Option<usize> {
    let index: usize = token.strip_prefix(TOKEN_PREFIX)?.parse().ok()?;
    (index < total).then_some(index)
}

/// One page: the indices of its items, and the token of the next page if any index is left.
#[derive(Debug, PartialEq)]
pub struct Page {
    pub indices: Vec<usize>,
    pub next_token: Option<String>,
}

/// The page from `start` of at most `limit` indices of `0..total` that `keep` accepts.
/// Indices `keep` refuses are skipped, as a filter in the request skips items, so a filtered
/// page may end before `total` with more to come.
pub fn page(start: usize, limit: usize, total: usize, keep: impl Fn(usize) -> bool) -> Page {
    let mut indices = Vec::with_capacity(limit.min(total.saturating_sub(start)));
    let mut next = start;
    while next < total && indices.len() < limit {
        if keep(next) {
            indices.push(next);
        }
        next += 1;
    }
    Page {
        indices,
        next_token: (next < total).then(|| token(next)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every page of a list, following the tokens as the SDK's paginator does.
    fn all_pages(limit: usize, total: usize, keep: impl Fn(usize) -> bool + Copy) -> Vec<Page> {
        let mut pages = vec![page(0, limit, total, keep)];
        while let Some(token) = &pages.last().unwrap().next_token {
            let start = start_of(token, total).expect("a token this server gave out");
            pages.push(page(start, limit, total, keep));
        }
        pages
    }

    #[test]
    fn pages_cover_every_index_once_in_order() {
        let pages = all_pages(100, 250, |_| true);
        let sizes: Vec<usize> = pages.iter().map(|p| p.indices.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        let flat: Vec<usize> = pages.into_iter().flat_map(|p| p.indices).collect();
        assert_eq!(flat, (0..250).collect::<Vec<_>>());
    }

    #[test]
    fn an_exact_multiple_ends_without_a_token_and_an_empty_list_is_one_page() {
        let pages = all_pages(100, 200, |_| true);
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[1].next_token, None);
        assert_eq!(
            all_pages(100, 0, |_| true),
            [Page {
                indices: vec![],
                next_token: None
            }]
        );
    }

    #[test]
    fn a_filter_skips_indices_and_pages_stay_full() {
        let pages = all_pages(10, 100, |i| i % 3 == 0);
        let flat: Vec<usize> = pages.iter().flat_map(|p| p.indices.clone()).collect();
        assert_eq!(flat, (0..100).filter(|i| i % 3 == 0).collect::<Vec<_>>());
        assert!(
            pages[..pages.len() - 1]
                .iter()
                .all(|p| p.indices.len() == 10)
        );
    }

    #[test]
    fn foreign_or_stale_tokens_are_refused() {
        assert_eq!(start_of(&token(42), 100), Some(42));
        assert_eq!(start_of(&token(100), 100), None, "past the end");
        assert_eq!(start_of("42", 100), None, "not ours");
        assert_eq!(start_of("aws-synthetic:x", 100), None);
    }
}
