//! Offset pagination, the arithmetic every List operation shares. Each service keeps its
//! own token format and limits (AWS's differ: Lambda's markers, Step Functions' and
//! CloudFormation's opaque tokens); this is only the slicing.

/// Items `start..start + size` of `items`, and the offset the next page starts at when
/// items remain after this one.
pub fn slice<T>(items: Vec<T>, start: usize, size: usize) -> (Vec<T>, Option<usize>) {
    let total = items.len();
    let end = start.saturating_add(size).min(total);
    let next = (end < total).then_some(end);
    (items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next)
}

#[cfg(test)]
mod tests {
    use super::slice;

    #[test]
    fn pages() {
        let items: Vec<u32> = (0..5).collect();
        assert_eq!(slice(items.clone(), 0, 2), (vec![0, 1], Some(2)));
        assert_eq!(slice(items.clone(), 2, 2), (vec![2, 3], Some(4)));
        assert_eq!(slice(items.clone(), 4, 2), (vec![4], None));
        assert_eq!(slice(items.clone(), 3, 2), (vec![3, 4], None));
        assert_eq!(slice(items, 9, 2), (vec![], None));
    }
}
