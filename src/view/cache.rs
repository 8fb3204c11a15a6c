//! The render cache: for each status and account, what its entity holds that depends
//! neither on the viewer nor on counts, computed once per record version and base URL.
//! Every use reads the record's current bytes and compares them with those the entry
//! was made from, so a write makes an entry stale without any invalidation call, and a
//! deleted record has none: the cache can never serve what sled no longer holds.

use std::sync::Arc;

use dashmap::DashMap;

use crate::domain::Id;
use crate::storage::StorageError;

/// Past this many entries a cache starts over (it is only a cache).
const RENDERED_MAX: usize = 20_000;

/// A record as decoded, with what was rendered from it for one base URL.
#[derive(Debug)]
pub struct Rendered<R, P> {
    raw: sled::IVec,
    base_url: String,
    pub record: R,
    pub parts: P,
}

/// Records of one kind (statuses, accounts) with their rendered parts, by id.
pub struct RenderCache<R, P> {
    map: DashMap<Id, Arc<Rendered<R, P>>>,
}

impl<R, P> Default for RenderCache<R, P> {
    fn default() -> Self {
        Self { map: DashMap::new() }
    }
}

impl<R, P> RenderCache<R, P> {
    /// Record `id` (its stored bytes `raw`, `None` when it does not exist) with its parts
    /// for `base_url`. `decode` and `render` run only when the bytes changed since the
    /// entry was made, or for another base URL. `None` when the record does not exist or
    /// `render` gives nothing (not cached).
    pub fn get(
        &self,
        id: Id,
        raw: Option<sled::IVec>,
        base_url: &str,
        decode: impl FnOnce(&[u8]) -> Result<R, StorageError>,
        render: impl FnOnce(&R) -> Result<Option<P>, StorageError>,
    ) -> Result<Option<Arc<Rendered<R, P>>>, StorageError> {
        let Some(raw) = raw else { return Ok(None) };
        if let Some(entry) = self.map.get(&id)
            && entry.raw == raw
            && entry.base_url == base_url
        {
            return Ok(Some(entry.clone()));
        }
        let record = decode(&raw)?;
        let Some(parts) = render(&record)? else { return Ok(None) };
        let entry = Arc::new(Rendered { raw, base_url: base_url.to_owned(), record, parts });
        if self.map.len() >= RENDERED_MAX {
            self.map.clear();
        }
        self.map.insert(id, entry.clone());
        Ok(Some(entry))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::domain::Account;
    use crate::storage::Store;

    #[tokio::test]
    async fn an_entry_is_rendered_again_after_its_record_changes_and_gone_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let cache = RenderCache::<Account, String>::default();
        let renders = Cell::new(0);
        let render = |a: &Account| {
            renders.set(renders.get() + 1);
            Ok(Some(a.display_name.clone()))
        };
        let account = crate::storage::accounts::tests::account(7, "ann");
        store.create_account(&account).await.unwrap();
        let get = |base: &str, render: &dyn Fn(&Account) -> Result<Option<String>, StorageError>| {
            let raw = store.account_bytes(account.id).unwrap();
            cache.get(account.id, raw, base, |b| store.decode_account(account.id, b), render).unwrap()
        };
        let first = get("ctx", &render).unwrap();
        assert_eq!((first.parts.as_str(), renders.get()), ("", 1));
        get("ctx", &render).unwrap();
        assert_eq!(renders.get(), 1, "unchanged record, same base URL: served from the cache");
        get("other", &render).unwrap();
        assert_eq!(renders.get(), 2, "another base URL renders again");
        store.update_account(account.id, |a| a.display_name = "Ann".into()).await.unwrap();
        let changed = get("other", &render).unwrap();
        assert_eq!((changed.parts.as_str(), renders.get()), ("Ann", 3));
        store.delete_account(&account).await.unwrap();
        assert!(get("other", &render).is_none());
    }
}
