//! The one value codec: a format-version byte, then bincode 2 (standard config, with a
//! size limit so a corrupt length prefix cannot make us allocate gigabytes).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StorageError;

/// Bumped when a stored record's layout changes incompatibly.
pub const FORMAT_VERSION: u8 = 1;
const LIMIT: usize = 16 * 1024 * 1024;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    let mut out = vec![FORMAT_VERSION];
    bincode::serde::encode_into_std_write(value, &mut out, config())
        .map_err(|e| StorageError::Encode(e.to_string()))?;
    Ok(out)
}

/// Decodes a value read from `tree`. Anything unreadable is a `Corrupt` error that is
/// logged here once, with the tree and key, and never a panic.
pub fn decode<T: DeserializeOwned>(tree: &'static str, key: &[u8], bytes: &[u8]) -> Result<T, StorageError> {
    let corrupt = |reason: String| {
        tracing::error!(tree, key = %hex::encode(key), %reason, "corrupt value in storage");
        StorageError::Corrupt { tree, reason }
    };
    match bytes.split_first() {
        Some((&FORMAT_VERSION, body)) => {
            let (value, read) =
                bincode::serde::decode_from_slice(body, config()).map_err(|e| corrupt(e.to_string()))?;
            if read != body.len() {
                return Err(corrupt(format!("{} trailing bytes", body.len() - read)));
            }
            Ok(value)
        }
        Some((version, _)) => Err(corrupt(format!("unknown format version {version}"))),
        None => Err(corrupt("empty value".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Account, Id, Role};
    use proptest::prelude::*;

    fn account(id: u64, name: String, note: String, flags: (bool, bool), count: u64) -> Account {
        Account {
            id: Id(id),
            username: name.clone(),
            email: format!("{name}@example.com"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$abc$def".into(),
            display_name: name,
            note,
            locked: flags.0,
            bot: flags.1,
            discoverable: true,
            role: Role::Moderator,
            locale: "en".into(),
            created_at_ms: id as i64,
            followers_count: count,
            following_count: count / 2,
            statuses_count: 0,
        }
    }

    proptest! {
        #[test]
        fn accounts_round_trip(id in any::<u64>(), name in "\\PC{0,40}", note in "\\PC{0,200}",
                               flags in any::<(bool, bool)>(), count in any::<u64>()) {
            let a = account(id, name, note, flags, count);
            let bytes = encode(&a).unwrap();
            prop_assert_eq!(bytes[0], FORMAT_VERSION);
            let back: Account = decode("t", b"k", &bytes).unwrap();
            prop_assert_eq!(back, a);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode::<Account>("t", b"k", &bytes);
        }
    }

    #[test]
    fn corrupt_values_are_errors() {
        let mut bytes = encode(&account(1, "a".into(), String::new(), (false, false), 0)).unwrap();
        assert!(matches!(decode::<Account>("t", b"k", &[]), Err(StorageError::Corrupt { .. })));
        bytes[0] = 99;
        assert!(matches!(decode::<Account>("t", b"k", &bytes), Err(StorageError::Corrupt { .. })));
        bytes[0] = FORMAT_VERSION;
        bytes.truncate(5);
        assert!(matches!(decode::<Account>("t", b"k", &bytes), Err(StorageError::Corrupt { .. })));
    }
}
