//! Order-preserving parallel map over a slice, for the fleet: ten thousand allocations
//! are parsed, checked and rendered independently of each other, and the machine has
//! more than one core. Results come back in input order, so output stays deterministic.

use std::num::NonZeroUsize;

/// How many threads share the work: the cores the process may use, at most 8.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(8)
}

/// `f` applied to every item, in input order. Small inputs stay on this thread: a
/// thread costs more than a few items of work.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = workers();
    if workers == 1 || items.len() < 64 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(workers);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(results) => results,
                // A worker only panics on a bug; carry it to the caller's thread.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_input_order() {
        let items: Vec<u32> = (0..10_000).collect();
        let doubled = super::map(&items, |i| i * 2);
        assert_eq!(doubled, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(super::map(&[1, 2, 3], |i| i + 1), vec![2, 3, 4]);
    }
}
