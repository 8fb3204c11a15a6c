//! Key encoding: big-endian integers so that byte order is numeric order, and composite
//! keys built by concatenation (`UserId ++ SessionId`), so a user's rows are one range.

use crate::domain::Id;

pub fn id_key(id: Id) -> [u8; 8] {
    id.to_be_bytes()
}

pub fn pair_key(a: Id, b: Id) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&a.to_be_bytes());
    key[8..].copy_from_slice(&b.to_be_bytes());
    key
}

/// Reads an id back from the first 8 bytes of a key, or `None` if the key is short.
pub fn read_id(bytes: &[u8]) -> Option<Id> {
    let head: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(Id(u64::from_be_bytes(head)))
}

/// Reads the second id of a [`pair_key`].
pub fn read_pair(bytes: &[u8]) -> Option<(Id, Id)> {
    Some((read_id(bytes)?, read_id(bytes.get(8..)?)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn id_keys_round_trip_and_keep_order(a in any::<u64>(), b in any::<u64>()) {
            prop_assert_eq!(read_id(&id_key(Id(a))), Some(Id(a)));
            prop_assert_eq!(a.cmp(&b), id_key(Id(a)).cmp(&id_key(Id(b))));
        }

        #[test]
        fn pair_keys_round_trip_and_group_by_first(a in any::<u64>(), b in any::<u64>(), c in any::<u64>(), d in any::<u64>()) {
            prop_assert_eq!(read_pair(&pair_key(Id(a), Id(b))), Some((Id(a), Id(b))));
            prop_assert_eq!((a, b).cmp(&(c, d)), pair_key(Id(a), Id(b)).cmp(&pair_key(Id(c), Id(d))));
            prop_assert!(pair_key(Id(a), Id(b)).starts_with(&id_key(Id(a))));
        }
    }

    #[test]
    fn short_keys_are_none() {
        assert_eq!(read_id(&[1, 2, 3]), None);
        assert_eq!(read_pair(&[0; 12]), None);
    }
}
