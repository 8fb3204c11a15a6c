//! Rendered forms of records (the JSON the HTTP layer builds from a status or an
//! account), kept in memory per record and checked against the record's current bytes on
//! every use. A write to the record makes its entry stale without any invalidation call,
//! and a deleted record has none, so the cache can never serve what sled no longer holds.
//! The storage layer only keeps the text; what it contains is the caller's business.

use std::sync::Arc;

use dashmap::DashMap;
use serde::de::DeserializeOwned;

use super::{StorageError, Store, codec, keys};
use crate::domain::{Account, Id, Status};

/// Past this many entries per kind a cache starts over (it is only a cache).
const RENDERED_MAX: usize = 20_000;

/// A record, decoded, with its rendering for one context (the base URL).
#[derive(Debug)]
pub struct Rendered<T> {
    raw: sled::IVec,
    context: String,
    pub record: T,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct RenderCache {
    statuses: DashMap<Id, Arc<Rendered<Status>>>,
    accounts: DashMap<Id, Arc<Rendered<Account>>>,
}

impl Store {
    /// The status `id` with `render`'s text for `context`; `render` runs only when the
    /// stored record changed since it was last rendered in that context. `None` when the
    /// status does not exist or `render` gives nothing (which is not cached).
    pub fn rendered_status(
        &self,
        id: Id,
        context: &str,
        render: impl FnOnce(&Status) -> Result<Option<String>, StorageError>,
    ) -> Result<Option<Arc<Rendered<Status>>>, StorageError> {
        cached(&self.trees.statusid_status, "statusid_status", &self.rendered.statuses, id, context, render)
    }

    /// The account `id` with `render`'s text for `context`, as [`Store::rendered_status`].
    pub fn rendered_account(
        &self,
        id: Id,
        context: &str,
        render: impl FnOnce(&Account) -> Result<Option<String>, StorageError>,
    ) -> Result<Option<Arc<Rendered<Account>>>, StorageError> {
        cached(&self.trees.userid_account, "userid_account", &self.rendered.accounts, id, context, render)
    }
}

fn cached<T: DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    map: &DashMap<Id, Arc<Rendered<T>>>,
    id: Id,
    context: &str,
    render: impl FnOnce(&T) -> Result<Option<String>, StorageError>,
) -> Result<Option<Arc<Rendered<T>>>, StorageError> {
    let key = keys::id_key(id);
    let Some(raw) = tree.get(key)? else { return Ok(None) };
    if let Some(entry) = map.get(&id)
        && entry.raw == raw
        && entry.context == context
    {
        return Ok(Some(entry.clone()));
    }
    let record: T = codec::decode(name, &key, &raw)?;
    let Some(text) = render(&record)? else { return Ok(None) };
    let entry = Arc::new(Rendered { raw, context: context.to_owned(), record, text });
    if map.len() >= RENDERED_MAX {
        map.clear();
    }
    map.insert(id, entry.clone());
    Ok(Some(entry))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn an_entry_is_rendered_again_after_its_record_changes_and_gone_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        let renders = Cell::new(0);
        let render = |a: &Account| {
            renders.set(renders.get() + 1);
            Ok(Some(format!("{}:{}", a.username, a.display_name)))
        };
        let account = crate::storage::accounts::tests::account(7, "ann");
        store.create_account(&account).await.unwrap();
        let first = store.rendered_account(account.id, "ctx", render).unwrap().unwrap();
        assert_eq!((first.text.as_str(), renders.get()), ("ann:", 1));
        store.rendered_account(account.id, "ctx", render).unwrap().unwrap();
        assert_eq!(renders.get(), 1, "unchanged record, same context: served from the cache");
        store.rendered_account(account.id, "other", render).unwrap().unwrap();
        assert_eq!(renders.get(), 2, "another context renders again");
        store.update_account(account.id, |a| a.display_name = "Ann".into()).await.unwrap();
        let changed = store.rendered_account(account.id, "other", render).unwrap().unwrap();
        assert_eq!((changed.text.as_str(), renders.get()), ("ann:Ann", 3));
        store.delete_account(&account).await.unwrap();
        assert!(store.rendered_account(account.id, "other", render).unwrap().is_none());
    }
}
